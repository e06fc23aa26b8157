from django.apps import AppConfig


class SupervisionConfig(AppConfig):
    name = "govshare.supervision"
    label = "supervision"
    verbose_name = "时限与督办"
