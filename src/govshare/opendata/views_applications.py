"""Pages of conditional open applications (R-OPEN-08/09/15). Thin over opendata.applications.

The applicant's pages live under /open/ (portal layout); the provider's inbox and decide page under
/open/manage/applications/ (the platform's layout). Someone else's application is simply not found
(404). A refused action shows the page again with the service's message at the form that failed and
the status of the refusal (422 fields, 409 transition, 403 role); an accepted one redirects.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as Forbidden
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from govshare.errors import DomainError, NotFound, ValidationFailed
from govshare.supervision.selectors import is_overdue

from . import applications as apps
from . import identity
from .models import OpenDataset, ReplyExtensionStatus


def _errors(exc: DomainError) -> list[dict]:
    if isinstance(exc, ValidationFailed):
        return exc.errors
    return [{"field": "", "label": "", "code": exc.code, "message": exc.message}]


def _status(exc: DomainError) -> int:
    return 422 if isinstance(exc, ValidationFailed) else exc.status


def _post(request, field: str) -> str:
    return (request.POST.get(field) or "").strip()


def _with_next(url: str, target: str) -> str:
    return f"{url}?{urlencode({'next': target})}"


# ---------------------------------------------------------------- the applicant


def _apply_context(request, ds: OpenDataset, form: dict, errors: list[dict], blocked=None) -> dict:
    return {
        "d": ds,
        "r": ds.resource,
        "form": form,
        "errors": errors,
        "blocked": blocked,
        "required": apps.required_fields(),
        "reply": apps.param("open_reply_working_days"),
        "extension": apps.param("open_reply_extension_max_working_days"),
        "approver_label": apps.approver_label(),
        "agreement": apps.agreement_required(),
        "agreement_param": apps.param("open_use_agreement"),
        "attachments_param": apps.param("open_application_attachments"),
        "max_days": apps.max_use_days(),
        "today": timezone.localdate(),
        "terms": identity.TERMS,
    }


@never_cache
@login_required
def apply(request, name: str):
    ds = OpenDataset.objects.select_related("provider", "resource").filter(name=name).first()
    if ds is None:
        raise Http404("数据集不存在")
    here = request.get_full_path()
    problem = apps.application_problem(request.user, ds)
    # Guide the applicant through the steps first: identity, terms; an existing application opens.
    if problem is not None and problem.code == "identity_required":
        messages.info(request, problem.message)
        return redirect(_with_next("/open/account/identity/", here))
    if problem is not None and problem.code == "terms_not_accepted":
        messages.info(request, problem.message)
        return redirect(_with_next("/open/terms/", here))
    if problem is not None and problem.code == "application_exists":
        messages.info(request, problem.message)
        return redirect(problem.detail["action_url"])
    profile = identity.profile_of(request.user)
    form = {"contact_name": profile.id_name or request.user.full_name, "contact_phone": request.user.phone}
    if problem is not None:
        return render(
            request,
            "opendata/applications/apply.html",
            _apply_context(request, ds, form, _errors(problem), blocked=problem),
            status=problem.status,
        )
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in apps.FORM_FIELDS}
        try:
            app = apps.submit(request.user, ds, request.POST)
        except DomainError as exc:
            return render(
                request,
                "opendata/applications/apply.html",
                _apply_context(request, ds, form, _errors(exc)),
                status=_status(exc),
            )
        messages.success(request, f"申请已提交（编号 {app.number}），提供部门答复后将通知您")
        return redirect(f"/open/account/applications/{app.pk}/")
    return render(request, "opendata/applications/apply.html", _apply_context(request, ds, form, []))


def _mine(user, pk: int):
    try:
        return apps.get_for_applicant(user, pk)
    except NotFound:
        raise Http404("申请不存在") from None


def _mine_context(app, errors=None) -> dict:
    today = timezone.localdate()
    agreement = getattr(app, "agreement", None)
    state = apps.state_of(app, today)
    current = app.dataset.current if state["active"] else None
    return {
        "app": app,
        "d": app.dataset,
        "agreement": agreement,
        "state": state,
        "current": current,
        "obligations": apps.obligations_of(app),
        "errors": errors or [],
        "can_withdraw": app.status in ("pending", "agreement"),
        "can_reapply": app.dataset.status == "open"
        and (app.status in ("refused", "revoked") or (app.status == "approved" and today > app.use_until)),
    }


@never_cache
@login_required
def mine(request, pk: int):
    app = _mine(request.user, pk)
    return render(request, "opendata/applications/mine.html", _mine_context(app))


def _applicant_act(request, pk: int, fn, done: str):
    app = _mine(request.user, pk)
    try:
        fn(app)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise Http404(exc.message) from None
        app = _mine(request.user, pk)
        return render(
            request, "opendata/applications/mine.html", _mine_context(app, _errors(exc)), status=_status(exc)
        )
    messages.success(request, done)
    return redirect(f"/open/account/applications/{app.pk}/")


@login_required
@require_POST
def accept_agreement(request, pk: int):
    return _applicant_act(
        request,
        pk,
        lambda app: apps.accept_agreement(
            request.user, app, _post(request, "sha256"), agree=bool(request.POST.get("agree"))
        ),
        "已签署《数据利用协议》，可在使用期限内下载数据",
    )


@login_required
@require_POST
def withdraw(request, pk: int):
    return _applicant_act(request, pk, lambda app: apps.withdraw(request.user, app), "申请已撤回")


# ---------------------------------------------------------------- the provider


def _require_manager(user):
    if not apps.can_manage(user):
        raise Forbidden("只有数据提供部门或数据主管部门可以办理有条件开放申请")


@login_required
def inbox(request):
    _require_manager(request.user)
    return render(
        request,
        "opendata/applications/inbox.html",
        {**apps.inbox(request.user), "approver_label": apps.approver_label()},
    )


def _managed(user, pk: int):
    _require_manager(user)
    try:
        return apps.get_manageable(user, pk)
    except NotFound:
        raise Http404("申请不存在") from None


def _manage_context(request, app, errors: dict | None = None, form: dict | None = None) -> dict:
    user = request.user
    today = timezone.localdate()
    info = apps.extension_info(app)
    pending_ext = apps.pending_extension(app)
    officer = apps.is_provider_officer(user, app)
    head = user.has_role("head") and user.department_id == app.provider_id
    pending = app.status == "pending"
    errors = errors or {}
    can = {
        "approve": pending and officer,
        "refuse": pending and officer,
        "extend": pending and (officer or head) and info["extendable"] and pending_ext is None,
        "extension": pending and pending_ext is not None and apps.can_decide_extension(user, app),
        "revoke": app.status in ("agreement", "approved") and officer,
    }
    return {
        "app": app,
        "d": app.dataset,
        "state": apps.state_of(app, today),
        "agreement": getattr(app, "agreement", None),
        "obligations": apps.obligations_of(app),
        "running": info["ob"],
        "overdue": info["ob"] is not None and is_overdue(info["ob"], today),
        "info": info,
        "pending_ext": pending_ext,
        "extensions": list(app.extensions.select_related("requested_by", "decided_by")),
        "approver_label": apps.approver_label(),
        "basis_required": apps.basis_required(),
        "basis_param": apps.param("open_refusal_basis_required"),
        "agreement_required": apps.agreement_required(),
        "errors": errors,
        "orphan_errors": [e for action, errs in errors.items() if not can.get(action) for e in errs],
        "form": form or {},
        **{f"can_{k}": v for k, v in can.items()},
    }


@login_required
def manage(request, pk: int):
    app = _managed(request.user, pk)
    return render(request, "opendata/applications/manage.html", _manage_context(request, app))


def _manage_act(request, pk: int, action: str, fn, done):
    app = _managed(request.user, pk)
    try:
        result = fn(app)
    except DomainError as exc:
        app = _managed(request.user, pk)
        return render(
            request,
            "opendata/applications/manage.html",
            _manage_context(request, app, errors={action: _errors(exc)}, form={action: request.POST}),
            status=_status(exc),
        )
    messages.success(request, done(result) if callable(done) else done)
    return redirect(f"/open/manage/applications/{app.pk}/")


@login_required
@require_POST
def approve(request, pk: int):
    return _manage_act(
        request,
        pk,
        "approve",
        lambda app: apps.approve(request.user, app, conditions=_post(request, "conditions")),
        lambda app: (
            "已同意，已通知申请人签署《数据利用协议》"
            if app.status == "agreement"
            else "已同意，申请人可在使用期限内下载"
        ),
    )


@login_required
@require_POST
def refuse(request, pk: int):
    return _manage_act(
        request,
        pk,
        "refuse",
        lambda app: apps.refuse(request.user, app, _post(request, "reason"), _post(request, "basis")),
        "已答复不同意，理由已告知申请人",
    )


@login_required
@require_POST
def revoke(request, pk: int):
    return _manage_act(
        request,
        pk,
        "revoke",
        lambda app: apps.revoke(request.user, app, _post(request, "reason")),
        "已撤销授权，申请人即时不能再下载",
    )


def _days(raw: str):
    raw = (raw or "").strip()
    return int(raw) if raw.isdecimal() else None


@login_required
@require_POST
def extend(request, pk: int):
    return _manage_act(
        request,
        pk,
        "extend",
        lambda app: apps.request_extension(
            request.user, app, _days(request.POST.get("working_days", "")), _post(request, "reason")
        ),
        lambda ext: f"已申请延期 {ext.working_days} 个工作日，待{apps.approver_label()}审批",
    )


def _decide_extension(request, pk: int, rid: int, approve: bool):
    def run(app):
        ext = app.extensions.filter(pk=rid, status=ReplyExtensionStatus.PENDING).first()
        if ext is None:
            ext = app.extensions.filter(pk=rid).first()
        if ext is None:
            raise Http404("该延期申请不存在")
        if approve:
            return apps.approve_extension(request.user, ext, note=_post(request, "note"))
        return apps.refuse_extension(request.user, ext, note=_post(request, "note"))

    return _manage_act(
        request,
        pk,
        "extension",
        run,
        lambda ext: f"已批准延期，答复截止日延至 {ext.new_due_on:%Y-%m-%d}" if approve else "已不予批准延期",
    )


@login_required
@require_POST
def approve_extension(request, pk: int, rid: int):
    return _decide_extension(request, pk, rid, approve=True)


@login_required
@require_POST
def refuse_extension(request, pk: int, rid: int):
    return _decide_extension(request, pk, rid, approve=False)
