from django.apps import AppConfig


class CalendarConfig(AppConfig):
    name = "govshare.calendar"
    label = "calendar"
    verbose_name = "工作日与政策配置"
