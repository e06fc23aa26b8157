from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "govshare.catalog"
    label = "catalog"
    verbose_name = "资源目录"

    def ready(self):
        from . import search  # noqa: F401  (registers the backend-specific index on connection)
