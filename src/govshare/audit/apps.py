from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "govshare.audit"
    label = "audit"
    verbose_name = "审计留痕"

    def ready(self):
        from govshare.audit import signals  # noqa: F401  (login success / failure events)
