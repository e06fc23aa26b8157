"""Fail closed: a login that skipped the second factor is undone.

Our login page and TOTP views set `request.govshare_second_factor` before logging in. Any other path that
logs in a person who has a confirmed authenticator, or who must enroll one (a future view, a third-party
login page), is logged straight out again and the attempt is audited.
"""

from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from govshare.audit import services as audit

from . import services


@receiver(user_logged_in, dispatch_uid="govshare.security.second_factor_guard")
def _second_factor_guard(sender, request, user, **kwargs):
    if request is None or getattr(request, "govshare_second_factor", None):
        return
    stage = services.second_factor_stage(user)
    if stage is None:
        return
    audit.record(
        "security.totp.bypass_refused",
        actor=user,
        object_type="user",
        object_id=str(user.pk),
        result="denied",
        detail={"stage": stage, "path": request.path[:200]},
        request=request,
    )
    logout(request)
