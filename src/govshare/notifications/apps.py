from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "govshare.notifications"
    label = "notifications"
    verbose_name = "通知"
