"""Sign-in with a second factor, and the pages to set it up or switch it off (R-SEC-01).

After a correct password, a person with a confirmed authenticator (or one who must enroll because
GOVSHARE_REQUIRE_TOTP is on) is *not* logged in: the session only remembers who passed the password
step, for `PENDING_SECONDS`, and the login happens when /security/totp/verify/ (or the enrollment page)
accepts a code.
"""

import time

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from govshare.errors import DomainError
from govshare.orgs.models import User

from . import services

PENDING = "govshare.security.pending"
SECOND_FACTOR = "govshare.security.second_factor"
PENDING_SECONDS = 300


class LoginView(auth_views.LoginView):
    """Django's login page, stopping after the password when a second factor is due."""

    def form_valid(self, form):
        user = form.get_user()
        stage = services.second_factor_stage(user)
        if stage is None:
            return super().form_valid(form)
        self.request.session.cycle_key()
        self.request.session[PENDING] = {
            "user": user.pk,
            "backend": user.backend,
            "since": int(time.time()),
            "next": self.get_success_url(),
            "stage": stage,
        }
        return redirect("security:totp_verify" if stage == "verify" else "security:totp_enroll")


def _pending(request, stage: str):
    data = request.session.get(PENDING)
    if not data or data.get("stage") != stage or time.time() - data.get("since", 0) > PENDING_SECONDS:
        return None, None
    user = User.objects.filter(pk=data["user"], is_active=True).first()
    return (user, data) if user is not None else (None, None)


def _complete_login(request, user, data, method: str):
    request.govshare_second_factor = method  # tells the login guard (signals.py) this path checked it
    auth_login(request, user, backend=data["backend"])
    request.session.pop(PENDING, None)
    request.session[SECOND_FACTOR] = method


@never_cache
def totp_verify(request):
    user, data = _pending(request, "verify")
    if user is None:
        messages.warning(request, "登录已超时，请重新输入用户名和密码")
        return redirect_to_login("/")
    error = None
    if request.method == "POST":
        try:
            method = services.verify(user, request.POST.get("code", ""), purpose="login", request=request)
        except DomainError as exc:
            error = exc
        else:
            _complete_login(request, user, data, method)
            if method == "recovery":
                left = services.recovery_codes_left(user)
                messages.warning(
                    request, f"已使用一个恢复码登录，剩余 {left} 个。如手机丢失，请停用后重新绑定。"
                )
            return redirect(data["next"])
    return render(request, "security/verify.html", {"pending_user": user, "error": error})


@never_cache  # the page shows the secret and, once, the recovery codes
def totp_enroll(request):
    """Set up an authenticator (signed in, or half-way through a login that requires it)."""
    data = None
    if request.user.is_authenticated:
        user = request.user
    else:
        user, data = _pending(request, "enroll")
        if user is None:
            return redirect_to_login(request.get_full_path())
    device = services.confirmed_device(user)
    if device is not None:
        return render(
            request,
            "security/manage.html",
            {
                "device": device,
                "left": services.recovery_codes_left(user),
                "required": services.totp_required(user),
            },
        )
    error = None
    if request.method == "POST":
        try:
            codes = services.confirm_enrollment(user, request.POST.get("code", ""), request=request)
        except DomainError as exc:
            error = exc
        else:
            next_url = "/security/totp/"
            if data is not None:
                _complete_login(request, user, data, "enrolled")
                next_url = data["next"]
            return render(request, "security/recovery_codes.html", {"codes": codes, "next_url": next_url})
    device = services.start_enrollment(user, request=request)
    return render(
        request,
        "security/enroll.html",
        {
            "prov": services.provisioning(device),
            "error": error,
            "required": services.totp_required(user),
            "pending": data is not None,
        },
    )


@require_POST
@login_required
def totp_disable(request):
    try:
        services.disable(request.user, request.POST.get("code", ""), request=request)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("security:totp_enroll")
    if services.totp_required(request.user):
        messages.warning(request, "已停用原动态口令。平台要求本账号使用动态口令，请立即绑定新的设备。")
    else:
        messages.success(request, "已停用动态口令，登录时将只需密码。")
    return redirect("security:totp_enroll")


def admin_login(request, extra_context=None):
    """The admin signs in through the platform's own login page, so the second factor applies there too."""
    return redirect_to_login(request.GET.get("next") or "/admin/")
