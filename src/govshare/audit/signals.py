"""Login success and failure are audit events too."""

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from govshare.audit import services


@receiver(user_logged_in, dispatch_uid="govshare.audit.login")
def _logged_in(sender, request, user, **kwargs):
    services.record("auth.login", actor=user, object_type="user", object_id=str(user.pk), request=request)


@receiver(user_login_failed, dispatch_uid="govshare.audit.login_failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    username = str((credentials or {}).get("username", ""))[:150]
    services.record(
        "auth.login",
        result="denied",
        object_type="user",
        object_id=username,
        detail={"username": username},
        request=request,
    )
