from django.apps import AppConfig


class CorrectionsConfig(AppConfig):
    name = "govshare.corrections"
    verbose_name = "疑义与纠错"
