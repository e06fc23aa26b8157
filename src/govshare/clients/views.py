"""Pages for people: register client systems, issue, rotate and revoke their tokens. Thin over services.

A new token is rendered in the response to the POST that created it (never redirected to, never put in
the session), marked `no-store`: it appears exactly once, and reloading cannot show it again.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as Forbidden
from django.http import Http404, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from govshare.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from govshare.orgs.models import Role

from . import selectors, services
from .models import ClientSystem

FORBIDDEN = "只有部门数据专员和数据主管部门可以查看应用系统"


def _system(request, system_id) -> ClientSystem:
    try:
        return selectors.get_system(request.user, system_id)
    except NotFound:
        raise Http404 from None
    except PermissionDenied as exc:
        raise Forbidden(exc.message) from None


def _credential(request, credential_id):
    try:
        return selectors.get_credential(request.user, credential_id)
    except NotFound:
        raise Http404 from None
    except PermissionDenied as exc:
        raise Forbidden(exc.message) from None


def _detail_url(client_id) -> str:
    return f"/clients/{client_id}/"


@login_required
def system_list(request):
    user = request.user
    try:
        qs = selectors.systems_for(user)
    except PermissionDenied:
        return HttpResponseForbidden(FORBIDDEN)
    errors, form = [], {}
    if request.method == "POST":
        form = {f: request.POST.get(f, "") for f in ("name", "code", "description")}
        try:
            client = services.register_client(user, form["name"], form["code"], form["description"])
        except ValidationFailed as exc:
            errors = exc.errors
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"应用系统“{client.name}”已登记，现在可以为它签发凭证")
            return redirect(_detail_url(client.pk))
    return render(
        request,
        "clients/list.html",
        {
            "systems": selectors.with_counts(qs),
            "all_departments": selectors.may_view_all(user),
            "can_register": user.has_role(Role.PROVIDER, Role.CONSUMER) and user.department_id is not None,
            "errors": errors,
            "form": form,
        },
        status=422 if errors else 200,
    )


def _detail_context(request, client: ClientSystem, **extra) -> dict:
    user = request.user
    return {
        "s": client,
        "credentials": list(selectors.credentials_of(client)),
        "can_manage": services.can_manage(user, client),
        "can_disable": client.is_active and services.can_disable(user, client),
        "can_enable": not client.is_active and services.can_enable(user, client),
        "can_revoke": services.can_disable(user, client),
        "default_valid_days": services.DEFAULT_VALID_DAYS,
        "max_valid_days": services.MAX_VALID_DAYS,
        "max_overlap_hours": services.MAX_OVERLAP_HOURS,
        **extra,
    }


@login_required
def system_page(request, system_id):
    client = _system(request, system_id)
    return render(request, "clients/detail.html", _detail_context(request, client))


def _act(request, fn, success: str, client_id):
    try:
        fn()
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return redirect(_detail_url(client_id))


@login_required
@require_POST
def system_disable(request, system_id):
    client = _system(request, system_id)
    reason = request.POST.get("reason", "")
    return _act(
        request,
        lambda: services.disable_client(request.user, client, reason),
        "应用系统已停用，其全部凭证暂不可用",
        client.pk,
    )


@login_required
@require_POST
def system_enable(request, system_id):
    client = _system(request, system_id)
    return _act(
        request, lambda: services.enable_client(request.user, client), "应用系统已重新启用", client.pk
    )


def _show_token(request, client, credential, token, rotated=None):
    response = render(
        request,
        "clients/token.html",
        {"s": client, "credential": credential, "token": token, "rotated": rotated},
        status=201,
    )
    response["Cache-Control"] = "no-store"
    return response


def _form_error(request, client, exc: DomainError):
    if isinstance(exc, ValidationFailed):
        for e in exc.errors:
            messages.error(request, e["message"])
    else:
        messages.error(request, exc.message)
    return redirect(_detail_url(client.pk))


@login_required
@require_POST
def credential_issue(request, system_id):
    client = _system(request, system_id)
    try:
        credential, token = services.issue_credential(
            request.user, client, request.POST.get("label", ""), request.POST.get("valid_days") or None
        )
    except DomainError as exc:
        return _form_error(request, client, exc)
    return _show_token(request, client, credential, token)


@login_required
@require_POST
def credential_rotate(request, credential_id):
    old = _credential(request, credential_id)
    try:
        credential, token = services.rotate_credential(
            request.user, old, request.POST.get("overlap_hours") or 0, request.POST.get("valid_days") or None
        )
    except DomainError as exc:
        return _form_error(request, old.client, exc)
    old.refresh_from_db(fields=["expires_at"])
    return _show_token(request, old.client, credential, token, rotated=old)


@login_required
@require_POST
def credential_revoke(request, credential_id):
    credential = _credential(request, credential_id)
    reason = request.POST.get("reason", "")
    try:
        services.revoke_credential(request.user, credential, reason)
    except DomainError as exc:
        return _form_error(request, credential.client, exc)
    messages.success(request, f"凭证 {credential.display_prefix} 已吊销，立即失效")
    return redirect(_detail_url(credential.client_id))
