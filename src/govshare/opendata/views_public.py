"""Public accounts, identity check, terms of use and downloads of the open portal. Thin over identity.py and
gate.py: every write goes through them; a refused download shows its Chinese message and code (pages) or
{"code","message","detail"} (Accept: application/json)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied as Forbidden
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from govshare.errors import DomainError, ValidationFailed

from . import gate, identity, objections
from .models import Download, IdentityStatus

ACCOUNT = "/open/account/"
IDENTITY = "/open/account/identity/"
TERMS = "/open/terms/"


def _next(request, default: str = ACCOUNT) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _with_next(url: str, target: str) -> str:
    return f"{url}?{urlencode({'next': target})}" if target and target != ACCOUNT else url


def _errors(exc: DomainError) -> list[dict]:
    if isinstance(exc, ValidationFailed):
        return exc.errors
    return [{"field": "", "label": "", "code": exc.code, "message": exc.message}]


def _wants_json(request) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _after_identity(request, target: str):
    """Guide a new account through the steps a download needs: identity, then terms, then back."""
    if identity.accepted_terms(request.user) is None:
        return redirect(_with_next(TERMS, target))
    return redirect(target)


# ---------------------------------------------------------------- accounts


@never_cache
def register(request):
    target = _next(request)
    if request.user.is_authenticated:
        return redirect(target)
    form, errors = {}, []
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in ("username", "full_name", "phone")}
        try:
            user = identity.register(
                username=form["username"],
                password1=request.POST.get("password1", ""),
                password2=request.POST.get("password2", ""),
                full_name=form["full_name"],
                phone=form["phone"],
            )
        except DomainError as exc:
            errors = _errors(exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "注册成功。下载开放数据前，请完成身份认证并接受使用条款。")
            if identity.identity_required():
                return redirect(_with_next(IDENTITY, target))
            return _after_identity(request, target)
    return render(
        request,
        "opendata/account/register.html",
        {"form": form, "errors": errors, "next": target},
        status=422 if errors else 200,
    )


@login_required
def account(request):
    user = request.user
    profile = identity.profile_of(user)
    downloads = Download.objects.filter(user=user).select_related("dataset", "version")[:100]
    return render(
        request,
        "opendata/account/account.html",
        {
            "profile": profile,
            "terms": identity.accepted_terms(user),
            "terms_version": identity.TERMS_VERSION,
            "identity_required": identity.identity_required(),
            "downloads": downloads,
            **objections.mine(user),  # my objections, correction requests, feedback and notices
        },
    )


@never_cache
@login_required
def identity_check(request):
    user = request.user
    target = _next(request)
    profile = identity.profile_of(user)
    form, errors = {"full_name": profile.id_name or user.full_name}, []
    status = 200
    if request.method == "POST":
        form = {"full_name": request.POST.get("full_name", "")}
        try:
            profile = identity.submit_identity(user, form["full_name"], request.POST.get("id_number", ""))
        except DomainError as exc:
            errors, status = _errors(exc), exc.status
        else:
            if profile.identity_status == IdentityStatus.VERIFIED:
                messages.success(request, "身份认证已通过")
                return _after_identity(request, target)
            if profile.identity_status == IdentityStatus.PENDING:
                messages.info(request, "已提交人工核验，平台运维人员确认后即可下载开放数据")
                return redirect(ACCOUNT)
            errors, status = (
                [{"field": "", "label": "", "code": "identity_mismatch", "message": profile.identity_note}],
                422,
            )
    left = max(0, identity.MAX_ATTEMPTS_PER_DAY - identity.attempts_today(profile))
    return render(
        request,
        "opendata/account/identity.html",
        {
            "profile": profile,
            "form": form,
            "errors": errors,
            "next": target,
            "left": left,
            "limit": identity.MAX_ATTEMPTS_PER_DAY,
            "automatic": identity.population_gate() is not None,
        },
        status=status,
    )


@never_cache
def terms(request):
    target = _next(request)
    errors = []
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.POST.get("agree"):
            errors = [
                {"field": "agree", "label": "", "code": "required", "message": "请勾选“我已阅读并同意”"}
            ]
        else:
            try:
                identity.accept_terms(request.user, request.POST.get("version", ""))
            except DomainError as exc:
                errors = _errors(exc)
            else:
                messages.success(request, "已接受《数据使用条款》")
                return redirect(target)
    return render(
        request,
        "opendata/account/terms.html",
        {
            "terms": identity.TERMS,
            "version": identity.TERMS_VERSION,
            "accepted": identity.accepted_terms(request.user),
            "errors": errors,
            "next": target,
        },
        status=422 if errors else 200,
    )


# ---------------------------------------------------------------- downloads


@require_GET
def download(request, name: str, number: int, fmt: str):
    try:
        dataset, version = gate.check(request.user, name, number, fmt)
    except gate.LoginRequired as exc:
        if _wants_json(request):
            return JsonResponse(exc.as_dict(), status=exc.status)
        return redirect_to_login(request.get_full_path())
    except DomainError as exc:
        if _wants_json(request):
            return JsonResponse(exc.as_dict(), status=exc.status)
        here = request.get_full_path()
        return render(
            request,
            "opendata/account/refused.html",
            {
                "error": exc,
                "name": name,
                "identity_url": _with_next(IDENTITY, here),
                "terms_url": _with_next(TERMS, here),
            },
            status=exc.status,
        )
    gate.record(request.user, dataset, version, fmt)
    return gate.response(dataset, version, fmt)


# ---------------------------------------------------------------- the operator's manual identity check


@login_required
def manage_identity(request):
    user = request.user
    if not identity.can_check_by_hand(user):
        raise Forbidden("只有平台运维/技术服务人员可以人工核验身份")
    errors = []
    if request.method == "POST":
        pid = request.POST.get("profile", "")
        confirm = request.POST.get("decision") == "confirm"
        try:
            profile = identity.decide_identity(
                user, int(pid) if pid.isdecimal() else 0, confirm=confirm, note=request.POST.get("note", "")
            )
        except DomainError as exc:
            errors = _errors(exc)
        else:
            who = profile.user.full_name or profile.user.username
            messages.success(request, f"已{'确认' if confirm else '驳回'}“{who}”的身份认证")
            return redirect("/open/manage-identity/")
    decided = identity.manual_decisions()[:50]
    return render(
        request,
        "opendata/account/manage_identity.html",
        {"pending": identity.pending_profiles()[:200], "decided": decided, "errors": errors},
        status=422 if errors else 200,
    )
