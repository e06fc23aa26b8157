from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "govshare.clients"
    label = "clients"
    verbose_name = "应用系统与凭证"
