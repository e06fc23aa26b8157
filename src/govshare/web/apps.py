from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "govshare.web"
    label = "web"
    verbose_name = "门户"
