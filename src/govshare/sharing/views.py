"""Pages for people: apply for, decide on, negotiate, manage and watch the use of shared data. Thin over services.

Every write goes through sharing.services (which checks who may act, opens and closes deadlines, audits
and notifies); every read of what a person may see goes through sharing.selectors, so another
department's application or grant is simply not found (404), never refused by name. A form that
fails is shown again with the service's field errors (422); a form that succeeds redirects.
"""

from __future__ import annotations

import datetime as dt
import os
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as Forbidden
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from govshare import dates
from govshare.audit import services as audit
from govshare.calendar.policy import active_profile
from govshare.catalog import selectors as catalog_selectors
from govshare.catalog.models import Delivery, ShareType
from govshare.clients.models import ClientStatus, ClientSystem
from govshare.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from govshare.orgs.models import Role
from govshare.supervision.models import ObligationStatus

from . import forms, masking, scope, selectors, services, usage
from .models import ApplicationStatus, CaseStatus, GrantStatus, ShareApplication

# R-SHARE-17: what the consumer accepts before it may use the data (CZ 19; CS 20; SR 18; NX 38, 62).
USAGE_TERMS = [
    "仅用于本次申明的履职用途，不得用于或变相用于其他目的",
    "不得直接或以改变数据形式等方式提供给第三方",
    "未经提供部门授权，不得擅自加工、转换或改作他用",
    "不得用于有偿服务或商业目的",
    "不得获取与本部门履职无关的数据",
    "每次调用均记录用途、应用系统与办件编号，提供部门与数据主管部门可查阅调用记录",
]
DELIVERY_LABELS = dict(Delivery.choices)
INTERACTIVE = {Delivery.QUERY, Delivery.VERIFY}


# ---------------------------------------------------------------- helpers


def _lookup(fn, *args):
    try:
        return fn(*args)
    except NotFound:
        raise Http404 from None
    except PermissionDenied as exc:
        raise Forbidden(exc.message) from None


def _errors(exc: DomainError) -> list[dict]:
    if isinstance(exc, ValidationFailed):
        return exc.errors
    return [{"field": "", "label": "", "code": exc.code, "message": exc.message}]


def _param(key: str):
    """A profile parameter (value + article) for the page; None when this profile does not have it."""
    try:
        return active_profile().param(key)
    except KeyError:
        return None


def _value(key: str):
    p = _param(key)
    return p.value if p is not None else None


def _today() -> dt.date:
    return timezone.localdate()


def _own_systems(department_id):
    return ClientSystem.objects.filter(department_id=department_id, status=ClientStatus.ACTIVE).order_by(
        "name"
    )


def _chosen(qs, post, field: str = "clients") -> list[ClientSystem]:
    ids = {int(v) for v in post.getlist(field) if v.isdecimal()}
    return [c for c in qs if c.pk in ids]


def _item_names(resource) -> dict[str, str]:
    return {it.code: it.name for it in resource.items.all()}


def _current_step(app: ShareApplication) -> dict | None:
    """The deadline the application is waiting on now, with its article (DESIGN idea 1)."""
    obligations = selectors.obligations_of(app)
    active = [o for o in obligations if o.status in (ObligationStatus.OPEN, ObligationStatus.OVERDUE)]
    if not active:
        return None
    ob = active[0]
    overdue = ob.status == ObligationStatus.OVERDUE or (ob.due_on is not None and ob.due_on < _today())
    return {"ob": ob, "overdue": overdue}


def _with_steps(apps) -> list[dict]:
    return [{"app": a, "step": _current_step(a) if a.is_open else None} for a in apps]


def _grant_view(grant) -> dict:
    """What a person reads about a grant: item names with their mask labels, rows in words."""
    names = _item_names(grant.resource)
    items = []
    for code in grant.items:
        try:
            label = masking.parse(grant.masks.get(code)).label
        except masking.RuleError:
            label = grant.masks.get(code)
        items.append({"code": code, "name": names.get(code, code), "mask": label})
    return {
        "g": grant,
        "items": items,
        "rows": scope.describe(grant.row_filter, names),
        "methods": [DELIVERY_LABELS.get(m, m) for m in grant.methods],
        "clients": list(grant.clients.all()),
    }


def _mode(resource) -> str:
    """Which form a consumer gets for this resource: obtain, apply or negotiate (R-SHARE-04/05/11)."""
    if resource.share_type == ShareType.NONE:
        return "negotiate"
    if resource.share_type == ShareType.UNCONDITIONAL and _value("unconditional_access_precondition") != (
        "application"
    ):
        return "obtain"
    return "apply"


def _safe_next(request, default: str) -> str:
    nxt = request.POST.get("next", "")
    return nxt if nxt.startswith("/sharing/") and "//" not in nxt else default


# ---------------------------------------------------------------- consumer: apply / obtain / negotiate


@login_required
def index(request):
    user = request.user
    if user.has_role(Role.AUTHORITY, Role.PROVIDER):
        return redirect("/sharing/inbox/")
    if user.has_role(Role.CONSUMER):
        return redirect("/sharing/applications/")
    return redirect("/sharing/grants/")


def _apply_context(request, resource, mode, form, errors) -> dict:
    user = request.user
    methods = [(m, DELIVERY_LABELS.get(m, m)) for m in (resource.share_methods or [])]
    attachments = _value("share_application_attachments") or ()
    precondition = _param("unconditional_access_precondition")
    return {
        "r": resource,
        "mode": mode,
        "form": form,
        "errors": errors,
        "items": list(resource.items.all()),
        "methods": methods,
        "systems": list(_own_systems(user.department_id)),
        "terms": USAGE_TERMS,
        "letter_required": "sealed_letter" in attachments,
        "letter_param": _param("share_application_attachments"),
        "scenario_required": "scenario" in attachments,
        "precondition": precondition,
        "registration": precondition is not None and precondition.value == "registration",
        "reply_param": _param("share_reply_working_days"),
        "prereview_param": _param("share_prereview_working_days"),
        "authority_decides": bool(_value("authority_decides_share")),
        "batch_param": _param("batch_requires_justification"),
    }


def _default_apply_form() -> dict:
    today = _today()
    return {
        "items": [],  # nothing pre-ticked: the consumer asks only for what its duty needs
        "methods": [],
        "clients": [],
        "valid_from": today.isoformat(),
        "valid_until": (today + dt.timedelta(days=365)).isoformat(),
    }


def _apply_form_from_post(post) -> dict:
    form = {
        f: post.get(f, "") for f in ("purpose", "duty_basis", "scenario", "batch_justification", "subject")
    }
    form.update(
        {
            "items": post.getlist("items"),
            "methods": post.getlist("methods"),
            "clients": [int(v) for v in post.getlist("clients") if v.isdecimal()],
            "valid_from": post.get("valid_from", ""),
            "valid_until": post.get("valid_until", ""),
            "terms": post.get("terms") == "on",
        }
    )
    return form


@login_required
def apply(request, cls, seq):
    user = request.user
    resource = _lookup(catalog_selectors.get_resource, user, f"{cls}/{seq}")
    if not resource.is_live:
        raise Http404
    if not user.has_role(Role.CONSUMER) or user.department_id is None:
        raise Forbidden("只有使用部门数据专员可以申请使用共享数据")
    if user.department_id == resource.provider_id:
        raise Forbidden("本部门提供的资源无需申请")
    mode = _mode(resource)
    errors: list[dict] = []
    form = _default_apply_form()
    if mode == "obtain":
        form["valid_until"] = ""  # the service's default term unless the consumer names one
    if request.method == "POST":
        post = request.POST
        form = _apply_form_from_post(post)
        try:
            target = _submit(request, resource, mode, post)
        except DomainError as exc:
            errors = _errors(exc)
        else:
            return redirect(target)
    return render(
        request,
        "sharing/apply.html",
        _apply_context(request, resource, mode, form, errors),
        status=422 if errors else 200,
    )


def _submit(request, resource, mode, post) -> str:
    """Calls the service for the chosen mode; returns where to go next."""
    user = request.user
    if mode == "negotiate":
        case = services.open_negotiation(user, resource, subject=post.get("subject", "").strip())
        messages.success(request, f"已向{resource.provider.name}发起协商（{case.number}）")
        return f"/sharing/cases/{case.pk}/"
    clients = _chosen(_own_systems(user.department_id), post)
    terms = post.get("terms") == "on"
    errors: list[dict] = []
    if mode == "obtain":
        until = None
        if post.get("valid_until"):
            until = forms.parse_date(post, "valid_until", "使用期限至", errors)
        forms.raise_if(errors)
        grant = services.obtain_unconditional(
            user,
            resource,
            purpose=post.get("purpose", "").strip(),
            clients=clients,
            items=post.getlist("items") or None,
            methods=post.getlist("methods"),
            valid_until=until,
            terms_accepted=terms,
        )
        messages.success(request, f"已登记使用“{resource.name}”，授权 {grant.number} 立即生效")
        return f"/sharing/grants/{grant.pk}/"
    valid_from = forms.parse_date(post, "valid_from", "使用期限自", errors)
    valid_until = forms.parse_date(post, "valid_until", "使用期限至", errors)
    forms.raise_if(errors)
    app = services.submit_application(
        user,
        resource,
        purpose=post.get("purpose", "").strip(),
        duty_basis=post.get("duty_basis", "").strip(),
        scenario=post.get("scenario", "").strip(),
        clients=clients,
        items=post.getlist("items"),
        methods=post.getlist("methods"),
        valid_from=valid_from,
        valid_until=valid_until,
        batch_justification=post.get("batch_justification", "").strip(),
        letter=request.FILES.get("letter"),
        terms_accepted=terms,
    )
    messages.success(request, f"共享申请 {app.number} 已提交")
    return f"/sharing/applications/{app.pk}/"


# ---------------------------------------------------------------- applications


@login_required
def applications(request):
    user = request.user
    qs = _lookup(selectors.applications_for, user).select_related(
        "resource", "consumer", "resource__provider"
    )
    view = request.GET.get("view") or ("mine" if user.has_role(Role.CONSUMER) else "received")
    if view == "mine":
        qs = qs.filter(consumer_id=user.department_id)
    elif not user.has_role(Role.AUTHORITY):
        qs = qs.exclude(consumer_id=user.department_id)
    status = request.GET.get("status", "")
    if status in ApplicationStatus.values:
        qs = qs.filter(status=status)
    return render(
        request,
        "sharing/applications.html",
        {
            "rows": _with_steps(qs[:200]),
            "view": view,
            "status": status,
            "statuses": ApplicationStatus.choices,
        },
    )


def _timeline(app: ShareApplication) -> list[dict]:
    steps = [
        {
            "title": "线下申请补录" if app.offplatform else "提交申请",
            "at": app.submitted_at,
            "who": f"{app.consumer.name} · {app.applicant}",
            "note": f"收到申请日期 {app.received_on:%Y-%m-%d}" if app.offplatform else "",
        }
    ]
    if app.prereviewed_at:
        steps.append(
            {
                "title": "平台初审：转提供部门" if app.forwarded_on else "平台初审：不予通过",
                "at": app.prereviewed_at,
                "who": str(app.prereviewed_by or ""),
                "note": app.prereview_comment,
            }
        )
    if app.decided_at:
        approved = app.status == ApplicationStatus.APPROVED
        note = app.decision_comment if approved else app.refusal_reason
        if not approved and app.refusal_basis:
            note = f"{note}（依据：{app.refusal_basis}）"
        steps.append(
            {
                "title": "答复：同意共享" if approved else "答复：不予共享",
                "at": app.decided_at,
                "who": str(app.decided_by or ""),
                "note": note,
            }
        )
    if app.withdrawn_at:
        steps.append({"title": "申请人撤回", "at": app.withdrawn_at, "who": "", "note": ""})
    return steps


@login_required
def application_page(request, pk):
    user = request.user
    app = _lookup(selectors.get_application, user, pk)
    return render(request, "sharing/application.html", _application_context(request, app))


@login_required
def application_letter(request, pk):
    """The sealed application letter, for whoever may see the application; each opening is audited."""
    app = _lookup(selectors.get_application, request.user, pk)
    if not app.letter:
        raise Http404("该申请没有申请函")
    ext = os.path.splitext(app.letter.name)[1].lower()
    audit.record(
        "sharing.application.letter_view", actor=request.user, object=app, detail={"number": app.number}
    )
    return FileResponse(
        app.letter.open("rb"),
        filename=f"{app.number}-申请函{ext}",
        content_type=LETTER_TYPES.get(ext, "application/octet-stream"),
    )


LETTER_TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def _application_context(request, app, **extra) -> dict:
    user = request.user
    names = _item_names(app.resource)
    mine = user.department_id == app.consumer_id and user.has_role(Role.CONSUMER)
    grant = getattr(app, "grant", None) if app.status == ApplicationStatus.APPROVED else None
    return {
        "app": app,
        "items": [names.get(c, c) for c in app.items],
        "methods": [DELIVERY_LABELS.get(m, m) for m in app.methods],
        "clients": list(app.clients.all()),
        "timeline": _timeline(app),
        "obligations": selectors.obligations_of(app),
        "today": _today(),
        "mine": mine,
        "can_withdraw": mine and app.is_open,
        "can_prereview": app.status == ApplicationStatus.PREREVIEW and selectors.can_prereview(user, app),
        "can_decide": app.status == ApplicationStatus.PENDING and selectors.can_decide(user, app),
        "can_negotiate": mine and app.status == ApplicationStatus.REFUSED,
        "grant": grant,
        "basis_required": bool(_value("share_refusal_basis_required")),
        **extra,
    }


@login_required
@require_POST
def withdraw(request, pk):
    app = _lookup(selectors.get_application, request.user, pk)
    try:
        services.withdraw_application(request.user, app)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"申请 {app.number} 已撤回")
    return redirect(f"/sharing/applications/{app.pk}/")


@login_required
@require_POST
def prereview(request, pk):
    user = request.user
    app = _lookup(selectors.get_application, user, pk)
    forward = request.POST.get("decision") == "forward"
    try:
        services.prereview_application(
            user,
            app,
            forward=forward,
            comment=request.POST.get("comment", "").strip(),
            basis=request.POST.get("basis", "").strip(),
        )
    except DomainError as exc:
        return render(
            request,
            "sharing/application.html",
            _application_context(request, app, prereview_errors=_errors(exc), form=request.POST),
            status=exc.status if exc.status in (403, 409, 422) else 422,
        )
    messages.success(request, "初审完成，已转提供部门答复" if forward else "初审未通过，已通知申请部门")
    return redirect(f"/sharing/applications/{app.pk}/")


@login_required
@require_POST
def negotiate_refused(request, pk):
    user = request.user
    app = _lookup(selectors.get_application, user, pk)
    try:
        case = services.open_negotiation(
            user, app.resource, subject=request.POST.get("subject", "").strip(), application=app
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(f"/sharing/applications/{app.pk}/")
    messages.success(request, f"已发起协商（{case.number}）")
    return redirect(f"/sharing/cases/{case.pk}/")


# ---------------------------------------------------------------- provider / authority: decide


def _item_rows(resource, offered: list[str] | None, checked, masks: dict[str, str], post=None) -> list[dict]:
    """Rows of the supply form: each offered item, whether it is ticked, and its mask rule."""
    rows = []
    for it in resource.items.all():
        if offered is not None and it.code not in offered:
            continue
        if post is not None:
            kind = post.get(f"mask-{it.code}") or "plain"
            first = post.get(f"keep_first-{it.code}", "")
            last = post.get(f"keep_last-{it.code}", "")
            m = {"kind": kind, "first": first, "last": last}
        else:
            m = forms.mask_fields(masks.get(it.code))
            if m["kind"] != "keep":
                m["first"], m["last"] = "", ""
        rows.append({"code": it.code, "name": it.name, "checked": it.code in checked, **m})
    return rows


def _filter_rows(post=None, add: bool = False) -> list[dict]:
    rows = forms.filter_rows_from_post(post) if post is not None else []
    if not rows or add:
        rows.append({"item": "", "op": "eq", "values": ""})
    return [{**r, "i": i} for i, r in enumerate(rows)]


def _default_methods(requested: list[str]) -> list[str]:
    """R-SHARE-14: batch is not proposed when an interface or verification was asked for too."""
    if Delivery.BATCH in requested and INTERACTIVE.intersection(requested):
        return [m for m in requested if m != Delivery.BATCH]
    return list(requested)


def _decide_context(request, app, post=None, add=False, **extra) -> dict:
    resource = app.resource
    if post is not None:
        checked, methods_checked = post.getlist("items"), post.getlist("methods")
        form = post
        masks = {}
    else:
        checked, methods_checked = list(app.items), _default_methods(app.methods)
        form = {
            "valid_from": app.valid_from.isoformat(),
            "valid_until": app.valid_until.isoformat(),
        }
        masks = services.default_masks(resource, list(app.items))
    names = _item_names(resource)
    return {
        "app": app,
        "r": resource,
        "item_rows": _item_rows(resource, list(app.items), checked, masks, post),
        "filter_rows": _filter_rows(post, add),
        "all_items": list(resource.items.all()),
        "method_rows": [
            {"code": m, "label": DELIVERY_LABELS.get(m, m), "checked": m in methods_checked}
            for m in app.methods
        ],
        "batch_with_interactive": Delivery.BATCH in app.methods
        and bool(INTERACTIVE.intersection(app.methods)),
        "requested_items": [names.get(c, c) for c in app.items],
        "clients": list(app.clients.all()),
        "mask_kinds": forms.MASK_KINDS,
        "ops": forms.FILTER_OPS,
        "form": form,
        "written": _param("share_reply_written"),
        "basis_param": _param("share_refusal_basis_required"),
        "step": _current_step(app),
        "show_quota": True,
        **extra,
    }


def _decidable(request, pk) -> ShareApplication:
    app = _lookup(selectors.get_application, request.user, pk)
    if not selectors.can_decide(request.user, app):
        raise Forbidden("您无权答复该申请")
    return app


def _parse_supply(post, resource, errors: list[dict]) -> dict:
    names = _item_names(resource)
    items = post.getlist("items")
    return {
        "items": items,
        "masks": forms.parse_masks(post, items, names, errors),
        "row_filter": forms.parse_row_filter(post),
        "methods": post.getlist("methods"),
        "valid_from": forms.parse_date(post, "valid_from", "有效期自", errors),
        "valid_until": forms.parse_date(post, "valid_until", "有效期至", errors),
    }


def _not_pending(request, app):
    messages.info(request, f"申请 {app.number} {app.get_status_display()}，无需答复")
    return redirect(f"/sharing/applications/{app.pk}/")


@login_required
def decide(request, pk):
    app = _decidable(request, pk)
    if app.status != ApplicationStatus.PENDING:
        return _not_pending(request, app)
    if request.method != "POST":
        return render(request, "sharing/decide.html", _decide_context(request, app))
    post = request.POST
    if "add_condition" in post:  # plain "add a condition row": re-show the form, save nothing
        return render(request, "sharing/decide.html", _decide_context(request, app, post, add=True))
    errors: list[dict] = []
    try:
        supply = _parse_supply(post, app.resource, errors)
        quota = forms.parse_int(post, "daily_quota", "每日调用上限", errors)
        forms.raise_if(errors)
        grant = services.approve_application(
            request.user, app, daily_quota=quota, comment=post.get("comment", "").strip(), **supply
        )
    except DomainError as exc:
        return render(
            request,
            "sharing/decide.html",
            _decide_context(request, app, post, approve_errors=_errors(exc)),
            status=422,
        )
    messages.success(request, f"已同意共享，授权 {grant.number} 已生成并通知申请部门")
    return redirect(f"/sharing/grants/{grant.pk}/")


@login_required
@require_POST
def refuse(request, pk):
    app = _decidable(request, pk)
    if app.status != ApplicationStatus.PENDING:
        return _not_pending(request, app)
    try:
        services.refuse_application(
            request.user,
            app,
            reason=request.POST.get("reason", "").strip(),
            basis=request.POST.get("basis", "").strip(),
        )
    except DomainError as exc:
        return render(
            request,
            "sharing/decide.html",
            _decide_context(request, app, refuse_errors=_errors(exc), refuse_form=request.POST),
            status=422,
        )
    messages.success(request, f"已答复不予共享，申请 {app.number} 办结")
    return redirect(f"/sharing/applications/{app.pk}/")


@login_required
def inbox(request):
    user = request.user
    rows = _with_steps(_lookup(selectors.inbox_for, user).select_related("resource", "consumer"))
    ctx = {"rows": rows, "is_authority": user.has_role(Role.AUTHORITY)}
    if ctx["is_authority"]:
        ctx["escalated"] = _lookup(selectors.cases_for, user).filter(status=CaseStatus.ESCALATED)
        ctx["to_file"] = (
            _lookup(selectors.grants_for, user)
            .filter(filing_required=True, filed_at__isnull=True)
            .exclude(status=GrantStatus.TERMINATED)
            .select_related("resource", "consumer")
        )
    return render(request, "sharing/inbox.html", ctx)


# ---------------------------------------------------------------- grants


@login_required
def grants(request):
    user = request.user
    qs = (
        _lookup(selectors.grants_for, user)
        .select_related("resource", "consumer", "resource__provider")
        .prefetch_related("clients", "resource__items")
    )
    received = [_grant_view(g) for g in qs.filter(consumer_id=user.department_id)[:200]]
    provided = [
        {**_grant_view(g), "can_manage": selectors.can_manage_grant(user, g)}
        for g in qs.exclude(consumer_id=user.department_id)[:200]
    ]
    return render(
        request,
        "sharing/grants.html",
        {
            "received": received,
            "provided": provided,
            "show_received": user.has_role(Role.CONSUMER),
            "show_provided": user.has_role(Role.PROVIDER, Role.AUTHORITY, Role.AUDITOR),
        },
    )


@login_required
def grant_page(request, pk):
    user = request.user
    grant = _lookup(selectors.get_grant, user, pk)
    return render(
        request,
        "sharing/grant.html",
        {
            **_grant_view(grant),
            "can_manage": selectors.can_manage_grant(user, grant),
            "can_file": user.has_role(Role.AUTHORITY) and grant.filing_required and grant.filed_at is None,
            "quota_today": grant.usage.filter(day=_today()).values_list("calls", flat=True).first(),
        },
    )


GRANT_ACTIONS = {
    "suspend": (services.suspend_grant, "授权已暂停，使用部门的调用将被拒绝"),
    "resume": (services.resume_grant, "授权已恢复"),
    "terminate": (services.terminate_grant, "授权已终止"),
}


@login_required
@require_POST
def grant_action(request, pk, action):
    user = request.user
    grant = _lookup(selectors.get_grant, user, pk)
    back = _safe_next(request, f"/sharing/grants/{grant.pk}/")
    try:
        if action == "file":
            services.file_grant(user, grant)
            done = "已备案，授权可以使用"
        else:
            fn, done = GRANT_ACTIONS[action]
            fn(user, grant, request.POST.get("reason", "").strip())
    except KeyError:
        raise Http404 from None
    except DomainError as exc:
        for e in _errors(exc):
            messages.error(request, e["message"])
    else:
        messages.success(request, f"{grant.number}：{done}")
    return redirect(back)


# ---------------------------------------------------------------- usage (R-SEC-05, R-SEC-07)


def _usage_range(request) -> tuple[dt.date | None, dt.date | None, list[str]]:
    problems: list[str] = []
    since = dates.text_day(request.GET.get("since"), problems)
    return since, dates.text_day(request.GET.get("until"), problems), problems


def _log_view(request, grant, fmt: str, since, until) -> None:
    """Reading a usage log is itself logged: officers' and auditors' reads are traceable too."""
    audit.record(
        "sharing.usage.view",
        actor=request.user,
        object_type="sharing.grant",
        object_id=grant.pk,
        detail={
            "format": fmt,
            "since": since.isoformat() if since else "",
            "until": until.isoformat() if until else "",
        },
        request=request,
    )


@login_required
def usage_page(request, pk):
    grant = _lookup(selectors.get_grant, request.user, pk)
    since, until, problems = _usage_range(request)
    before = request.GET.get("before", "")
    rows, next_before = usage.usage_page(grant, since, until, int(before) if before.isdecimal() else None)
    _log_view(request, grant, "html", since, until)
    query = "&".join(f"{k}={v.isoformat()}" for k, v in (("since", since), ("until", until)) if v)
    return render(
        request,
        "sharing/usage.html",
        {
            "g": grant,
            "rows": rows,
            "next_before": next_before,
            "first_page": not before,
            "since": since,
            "until": until,
            "problems": problems,
            "query": query,
        },
    )


@login_required
def usage_download(request, pk, fmt):
    grant = _lookup(selectors.get_grant, request.user, pk)
    since, until, _ = _usage_range(request)
    _log_view(request, grant, fmt, since, until)
    name = f"调用记录-{grant.number}"
    if fmt == "csv":
        response = HttpResponse(usage.usage_csv(grant, since, until), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(
            usage.usage_xlsx(grant, since, until),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}.{fmt}"
    response["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------- negotiation cases (R-SHARE-11/12)


@login_required
def cases(request):
    qs = _lookup(selectors.cases_for, request.user).select_related("resource", "consumer", "provider")
    return render(request, "sharing/cases.html", {"cases": qs[:200]})


def _case_context(request, case, post=None, add=False, **extra) -> dict:
    user = request.user
    resource = case.resource
    party = selectors.case_party(user, case)
    open_ = case.status in (CaseStatus.OPEN, CaseStatus.ESCALATED)
    offered = resource.share_methods or list(_value("share_delivery_methods") or Delivery.values)
    methods_checked = post.getlist("methods") if post is not None else []
    checked = post.getlist("items") if post is not None else []
    masks = (
        {} if post is not None else services.default_masks(resource, [it.code for it in resource.items.all()])
    )
    today = _today()
    agree_form = post or {
        "valid_from": today.isoformat(),
        "valid_until": (today + dt.timedelta(days=365)).isoformat(),
        "purpose": case.subject,
    }
    return {
        "case": case,
        "r": resource,
        "thread": list(case.messages.select_related("author", "author__department")),
        "can_post": open_ and bool(party),
        "can_escalate": case.status == CaseStatus.OPEN and party in ("consumer", "provider"),
        "can_agree": open_
        and (
            (party == "provider" and user.has_role(Role.PROVIDER))
            or (party == "authority" and case.status == CaseStatus.ESCALATED)
        ),
        "can_close": open_ and party in ("consumer", "authority"),
        "item_rows": _item_rows(resource, None, checked, masks, post),
        "filter_rows": _filter_rows(post, add),
        "all_items": list(resource.items.all()),
        "method_rows": [
            {"code": m, "label": DELIVERY_LABELS.get(m, m), "checked": m in methods_checked} for m in offered
        ],
        "consumer_systems": list(_own_systems(case.consumer_id)),
        "chosen_systems": [int(v) for v in post.getlist("clients") if v.isdecimal()]
        if post is not None
        else [],
        "mask_kinds": forms.MASK_KINDS,
        "ops": forms.FILTER_OPS,
        "form": agree_form,
        "obligations": selectors.obligations_of(case),
        "show_quota": False,
        "filing_param": _param("nonshare_supply_filing_required"),
        **extra,
    }


@login_required
def case_page(request, pk):
    case = _lookup(selectors.get_case, request.user, pk)
    return render(request, "sharing/case.html", _case_context(request, case))


def _case_act(request, pk, fn, done: str):
    case = _lookup(selectors.get_case, request.user, pk)
    try:
        fn(case)
    except DomainError as exc:
        for e in _errors(exc):
            messages.error(request, e["message"])
    else:
        messages.success(request, done)
    return redirect(f"/sharing/cases/{case.pk}/")


@login_required
@require_POST
def case_message(request, pk):
    body = request.POST.get("body", "").strip()
    return _case_act(request, pk, lambda c: services.post_case_message(request.user, c, body), "意见已发送")


@login_required
@require_POST
def case_escalate(request, pk):
    reason = request.POST.get("reason", "").strip()
    return _case_act(
        request,
        pk,
        lambda c: services.escalate_negotiation(request.user, c, reason=reason),
        "已提请数据主管部门协调",
    )


@login_required
@require_POST
def case_close(request, pk):
    outcome = request.POST.get("outcome", "").strip()
    return _case_act(
        request, pk, lambda c: services.close_negotiation(request.user, c, outcome=outcome), "协商已办结"
    )


@login_required
@require_POST
def case_agree(request, pk):
    user = request.user
    case = _lookup(selectors.get_case, user, pk)
    post = request.POST
    if "add_condition" in post:
        return render(request, "sharing/case.html", _case_context(request, case, post, add=True))
    errors: list[dict] = []
    try:
        supply = _parse_supply(post, case.resource, errors)
        forms.raise_if(errors)
        grant = services.agree_supply(
            user,
            case,
            clients=_chosen(_own_systems(case.consumer_id), post),
            purpose=post.get("purpose", "").strip(),
            **supply,
        )
    except DomainError as exc:
        return render(
            request,
            "sharing/case.html",
            _case_context(request, case, post, agree_errors=_errors(exc)),
            status=422,
        )
    messages.success(request, f"已达成供给，授权 {grant.number} 已生成")
    return redirect(f"/sharing/grants/{grant.pk}/")
