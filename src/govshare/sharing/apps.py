from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "govshare.sharing"
    verbose_name = "数据共享"
