from django.apps import AppConfig


class CollectConfig(AppConfig):
    name = "govshare.collect"
    label = "collect"
    verbose_name = "数据归集"
