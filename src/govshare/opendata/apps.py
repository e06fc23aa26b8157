from django.apps import AppConfig


class OpendataConfig(AppConfig):
    name = "govshare.opendata"
    verbose_name = "数据开放"
