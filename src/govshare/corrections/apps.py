from django.apps import AppConfig


class CorrectionsConfig(AppConfig):
    name = "govshare.corrections"
    verbose_name = "疑义与纠错"

    def ready(self):
        from govshare.collect.reseal import keys_changing

        from .services import follow_rekeyed_records

        keys_changing.connect(follow_rekeyed_records, dispatch_uid="corrections.follow_rekeyed_records")
