from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "govshare.security"
    label = "security"
    verbose_name = "安全基线"
