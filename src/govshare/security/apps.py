from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "govshare.security"
    label = "security"
    verbose_name = "安全基线"

    def ready(self):
        from django.contrib import admin

        from govshare.security import checks, signals  # noqa: F401  (deploy checks, second-factor guard)
        from govshare.security.views import admin_login

        # The admin's own login form would skip the second factor: send it to the platform's login page.
        admin.site.login = admin_login
