"""Pages for the correction workflow (疑义 · 纠错 · 校核, R-CORR-01..09). Thin over services.

Every write goes through corrections.services (which checks who may act, moves the ticket, opens and
closes the deadlines, audits and notifies); every read goes through selectors.visible_tickets, so a
ticket between other departments is simply not found (404). A refused action shows the ticket again
with the service's message at the form that failed, the state unchanged; an accepted one redirects.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as Forbidden
from django.db.models import F
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from govshare.calendar.policy import active_profile
from govshare.catalog import selectors as catalog_selectors
from govshare.catalog.models import Resource
from govshare.errors import DomainError, NotFound, ValidationFailed
from govshare.orgs.models import Role
from govshare.sharing.models import Grant, GrantStatus
from govshare.supervision.models import Obligation, ObligationStatus
from govshare.supervision.selectors import is_overdue, obligations_of

from . import forms, selectors, services
from .models import TRANSITIONS, CorrectionTicket, ExtensionStatus, TicketScope, TicketStatus

ACTIVE = (ObligationStatus.OPEN, ObligationStatus.OVERDUE)
TABS = {"mine": "我提出的", "todo": "待我核校", "queue": "待受理·待分发", "all": "全部"}
PROVIDER_INBOX = (TicketStatus.VERIFYING, TicketStatus.FIXING)


# ---------------------------------------------------------------- helpers


def _param(key: str):
    """A profile parameter (value + article) for the page; None when this profile does not have it."""
    try:
        return active_profile().param(key)
    except KeyError:
        return None


def _value(key: str):
    p = _param(key)
    return p.value if p is not None else None


def _errors(exc: DomainError) -> list[dict]:
    if isinstance(exc, ValidationFailed):
        return exc.errors
    field = "record_key" if exc.code == "record_not_found" else ""
    return [{"field": field, "label": "", "code": exc.code, "message": exc.message}]


def _ticket(user, pk) -> CorrectionTicket:
    ticket = (
        selectors.visible_tickets(user)
        .select_related("grant", "reporter", "reporter_client", "resource__provider")
        .filter(pk=pk)
        .first()
    )
    if ticket is None:
        raise Http404("该疑义不存在或无权查看")
    return ticket


def _obligations(ticket: CorrectionTicket) -> list[Obligation]:
    return obligations_of(ticket)


def _running(tickets) -> dict[int, Obligation]:
    """The deadline each open ticket waits on now, soonest first; one query for the page."""
    ids = [str(t.pk) for t in tickets if t.is_open]
    found: dict[int, Obligation] = {}
    obs = Obligation.objects.filter(subject_type=selectors.SUBJECT, subject_id__in=ids, status__in=ACTIVE)
    for ob in obs.order_by(F("due_on").asc(nulls_last=True), "id"):
        found.setdefault(int(ob.subject_id), ob)
    return found


def _step(ob: Obligation | None, today) -> dict | None:
    return {"ob": ob, "overdue": is_overdue(ob, today)} if ob is not None else None


def _approver_label() -> str:
    return (
        "数据主管部门"
        if _value("correction_verify_extension_approver") == "authority"
        else "本部门主要负责人"
    )


# ---------------------------------------------------------------- list


def _tabs(user) -> list[str]:
    tabs = []
    if user.department_id and user.has_role(Role.CONSUMER, Role.PROVIDER):
        tabs.append("mine")
    if user.department_id and user.has_role(Role.PROVIDER, Role.HEAD):
        tabs.append("todo")
    if user.has_role(Role.AUTHORITY, Role.OPERATOR):
        tabs.append("queue")
    if user.has_role(Role.AUTHORITY, Role.OPERATOR, Role.AUDITOR, Role.EVALUATOR):
        tabs.append("all")
    return tabs


def _default_tab(user, tabs: list[str]) -> str:
    if "queue" in tabs:
        return "queue"
    if (
        "todo" in tabs
        and CorrectionTicket.objects.filter(
            provider_id=user.department_id, status__in=PROVIDER_INBOX
        ).exists()
    ):
        return "todo"
    return tabs[0]


def _queue_statuses(user) -> list[str]:
    """The authority receives NX reports; the operator analyses and dispatches them (R-CORR-02)."""
    statuses = []
    if user.has_role(Role.AUTHORITY):
        statuses.append(TicketStatus.REPORTED)
    if user.has_role(Role.OPERATOR):
        statuses.append(TicketStatus.DISPATCHING)
    return statuses


@login_required
def tickets(request):
    user = request.user
    tabs = _tabs(user)
    if not tabs:
        raise Forbidden("只有部门数据专员、数据主管部门、技术服务单位和审计人员可以查看疑义纠错")
    tab = request.GET.get("tab", "")
    if tab not in tabs:
        tab = _default_tab(user, tabs)
    status = request.GET.get("status", "")
    if status not in TicketStatus.values:
        status = ""
    qs = selectors.visible_tickets(user)
    if tab == "mine":
        qs = qs.filter(reporter_department_id=user.department_id)
    elif tab == "todo":
        qs = qs.filter(provider_id=user.department_id)
        if not status:
            qs = qs.filter(status__in=PROVIDER_INBOX)
    elif tab == "queue" and not status:
        qs = qs.filter(status__in=_queue_statuses(user))
    if status:
        qs = qs.filter(status=status)
    rows = list(qs[:200])
    running = _running(rows)
    today = timezone.localdate()
    return render(
        request,
        "corrections/tickets.html",
        {
            "rows": [{"t": t, "step": _step(running.get(t.pk), today)} for t in rows],
            "tab": tab,
            "tabs": [(code, TABS[code]) for code in tabs],
            "status": status,
            "statuses": TicketStatus.choices,
        },
    )


# ---------------------------------------------------------------- raising (R-CORR-01/02/08)


def _raise_target(request) -> tuple[Resource, Grant | None]:
    """The resource in doubt and the reporter's grant on it (none: only the catalog can be disputed)."""
    user = request.user
    g, r = request.GET.get("grant", ""), request.GET.get("resource", "")
    if g.isdecimal():
        grant = (
            Grant.objects.select_related("resource", "resource__provider")
            .filter(pk=int(g), consumer_id=user.department_id)
            .first()
        )
        if grant is None:
            raise Http404("该授权不存在或不属于本部门")
        return grant.resource, grant
    if not r.isdecimal():
        raise Http404("请从授权页面或资源目录页面提出疑义")
    code = Resource.objects.filter(pk=int(r)).values_list("code", flat=True).first()
    try:
        resource = catalog_selectors.get_resource(user, code or "")
    except NotFound:
        raise Http404 from None
    grant = (
        Grant.objects.filter(consumer_id=user.department_id, resource=resource)
        .exclude(status=GrantStatus.TERMINATED)
        .order_by("-created_at", "-id")
        .first()
    )
    return resource, grant


def _raise_context(resource, grant, scope, form, errors) -> dict:
    primary = resource.items.filter(is_primary=True).first()
    items = [it for it in resource.items.all() if scope == TicketScope.CATALOG or it.code in grant.items]
    return {
        "r": resource,
        "grant": grant,
        "scope": scope,
        "primary": primary,
        "key_granted": grant is not None and primary is not None and primary.code in grant.items,
        "items": items,
        "form": form,
        "errors": errors,
        "evidence_param": _param("correction_evidence_required"),
        "verify_param": _param("correction_verify_working_days"),
        "routing": _value("correction_routing") or services.ROUTE_PROVIDER,
        "dispatch": services.ROUTE_DISPATCH,
        "max_files": services.EVIDENCE_MAX_FILES,
    }


def _raised_message(ticket: CorrectionTicket) -> str:
    if ticket.status == TicketStatus.REPORTED:
        return f"疑义 {ticket.number} 已提交，待数据主管部门受理"
    ob = services.verify_obligation(ticket)
    due = f"，须于 {ob.due_on:%Y-%m-%d} 前核校（{ob.article}）" if ob is not None and ob.due_on else ""
    return f"疑义 {ticket.number} 已提交，已转{ticket.provider.name}核校{due}"


@login_required
def new(request):
    user = request.user
    if user.department_id is None or not user.has_role(Role.CONSUMER, Role.PROVIDER):
        raise Forbidden("只有部门数据专员可以提出数据疑义")
    resource, grant = _raise_target(request)
    if not resource.is_live:
        raise Http404("该目录未发布或已下线")
    if resource.provider_id == user.department_id:
        raise Forbidden("本部门提供的资源请直接在数据归集中更正")
    scope = request.POST.get("scope") or request.GET.get("scope") or ""
    if scope not in TicketScope.values:
        scope = TicketScope.RECORD if grant is not None else TicketScope.CATALOG
    if scope == TicketScope.RECORD and grant is None:
        scope = TicketScope.CATALOG  # no grant: the data was never shown to this department
    form = {"items": []}
    errors: list[dict] = []
    status = 200
    if request.method == "POST":
        form = forms.raise_form(request.POST, request.FILES)
        if form["scope"] not in TicketScope.values:
            form["scope"] = scope
        try:  # a record doubt without a grant is refused by the service, never saved as a catalog one
            ticket = services.raise_ticket(
                user,
                resource=resource,
                grant=grant if form["scope"] == TicketScope.RECORD else None,
                **forms.raise_kwargs(form),
            )
        except DomainError as exc:
            errors = _errors(exc)
            status = 422 if isinstance(exc, ValidationFailed | NotFound) else exc.status
        else:
            messages.success(request, _raised_message(ticket))
            return redirect(f"/corrections/{ticket.pk}/")
    return render(
        request,
        "corrections/new.html",
        _raise_context(resource, grant, scope, form, errors),
        status=status,
    )


# ---------------------------------------------------------------- one ticket


def _context(request, ticket: CorrectionTicket, **extra) -> dict:
    user = request.user
    today = timezone.localdate()
    names = {it.code: it.name for it in ticket.resource.items.all()}
    obligations = _obligations(ticket)
    verify = next((o for o in obligations if o.duty == services.DUTY_VERIFY and o.is_active), None)
    requests = list(ticket.extension_requests.select_related("requested_by", "decided_by"))
    pending = next((r for r in requests if r.status == ExtensionStatus.PENDING), None)
    status = ticket.status
    provider_officer = services.is_provider_officer(user, ticket)
    ceiling = _param("correction_verify_extension_max_working_days")
    extendable = (
        ceiling is not None and ceiling.value is not None and verify is not None and verify.due_on is not None
    )
    can = {
        "accept": status == TicketStatus.REPORTED and services.can_accept(user, ticket),
        "dispatch": status == TicketStatus.DISPATCHING and services.can_dispatch(user, ticket),
        "decide": status == TicketStatus.VERIFYING and provider_officer,
        "close": status == TicketStatus.FIXING and provider_officer,
        "extend": status == TicketStatus.VERIFYING and provider_officer and extendable and pending is None,
        "extension": pending is not None
        and status == TicketStatus.VERIFYING
        and services.can_decide_extension(user, ticket),
        "withdraw": TicketStatus.WITHDRAWN in TRANSITIONS.get(status, set())
        and services.is_reporter(user, ticket),
    }
    errors = extra.pop("errors", {})
    return {
        "t": ticket,
        "items": [names.get(c, c) for c in ticket.items],
        "evidence": list(ticket.evidence.all()),
        "steps": list(ticket.steps.select_related("actor", "department")),
        "obligations": obligations,
        "running": [_step(o, today) for o in obligations if o.is_active],
        "requests": requests,
        "pending": pending,
        "ceiling": ceiling,
        "extension_used": sum(e.working_days for e in verify.extensions.all()) if verify else 0,
        "approver_label": _approver_label(),
        **{f"can_{action}": allowed for action, allowed in can.items()},
        "arrived": can["close"] and services.correction_arrived(ticket),
        "errors": errors,
        # a refusal of an action whose form this person does not get is shown at the top
        "orphan_errors": [e for action, errs in errors.items() if not can.get(action) for e in errs],
        "form": {},
        **extra,
    }


@login_required
def ticket_page(request, pk):
    ticket = _ticket(request.user, pk)
    return render(request, "corrections/ticket.html", _context(request, ticket))


def _act(request, pk, action: str, fn, done):
    """Run one service on the ticket; a refusal re-shows the page with the reason at the form."""
    ticket = _ticket(request.user, pk)
    try:
        result = fn(ticket)
    except DomainError as exc:
        return render(
            request,
            "corrections/ticket.html",
            _context(request, ticket, errors={action: _errors(exc)}, form={action: request.POST}),
            status=422 if isinstance(exc, ValidationFailed) else exc.status,
        )
    messages.success(request, done(result) if callable(done) else done)
    return redirect(f"/corrections/{ticket.pk}/")


def _text(request, field: str) -> str:
    return (request.POST.get(field) or "").strip()


@login_required
@require_POST
def accept(request, pk):
    return _act(
        request,
        pk,
        "accept",
        lambda t: services.accept_ticket(request.user, t, note=_text(request, "note")),
        "已受理，转技术服务单位分析分发",
    )


@login_required
@require_POST
def dispatch(request, pk):
    forward = request.POST.get("decision") != "dismiss"
    return _act(
        request,
        pk,
        "dispatch",
        lambda t: services.dispatch_ticket(
            request.user, t, analysis=_text(request, "analysis"), forward=forward
        ),
        lambda t: f"已分发至{t.provider.name}核校" if forward else "经分析非数据问题，已办结并告知提出部门",
    )


@login_required
@require_POST
def decide(request, pk):
    correct = request.POST.get("decision") == "error"
    return _act(
        request,
        pk,
        "decide",
        lambda t: services.decide_ticket(request.user, t, correct=correct, note=_text(request, "note")),
        "核校结果已记录：确有错误，请从源头更正并重新汇聚后办结"
        if correct
        else "核校结果已记录：数据无误，已办结并告知使用部门",
    )


@login_required
@require_POST
def close(request, pk):
    partly = request.POST.get("decision") == "partly"
    return _act(
        request,
        pk,
        "close",
        lambda t: services.close_corrected(request.user, t, partly=partly, note=_text(request, "note")),
        lambda t: f"已办结：{t.get_outcome_display()}，已告知使用部门",
    )


@login_required
@require_POST
def extend(request, pk):
    def run(t):
        days = forms.parse_days(request.POST, "working_days", "延长工作日")
        return services.request_extension(request.user, t, working_days=days, reason=_text(request, "reason"))

    return _act(
        request,
        pk,
        "extend",
        run,
        lambda req: f"已申请延期 {req.working_days} 个工作日，待{_approver_label()}审批",
    )


def _decide_extension(request, pk, rid, approve: bool):
    def run(t):
        req = t.extension_requests.filter(pk=rid).first()
        if req is None:
            raise Http404("该延期申请不存在")
        if approve:
            return services.approve_extension(request.user, req, note=_text(request, "note"))
        return services.refuse_extension(request.user, req, note=_text(request, "note"))

    return _act(
        request,
        pk,
        "extension",
        run,
        lambda req: f"已批准延期，核校截止日延至 {req.new_due_on:%Y-%m-%d}" if approve else "已不予批准延期",
    )


@login_required
@require_POST
def approve_extension(request, pk, rid):
    return _decide_extension(request, pk, rid, approve=True)


@login_required
@require_POST
def refuse_extension(request, pk, rid):
    return _decide_extension(request, pk, rid, approve=False)


@login_required
@require_POST
def withdraw(request, pk):
    return _act(
        request,
        pk,
        "withdraw",
        lambda t: services.withdraw_ticket(request.user, t, reason=_text(request, "reason")),
        "疑义已撤回",
    )


@login_required
def evidence_download(request, pk, eid):
    """A supporting file, only to the parties (services.read_evidence); every download is audited."""
    ticket = _ticket(request.user, pk)
    try:
        evidence = services.read_evidence(request.user, ticket, eid)
    except NotFound:
        raise Http404("该佐证材料不存在") from None
    except DomainError as exc:
        raise Forbidden(exc.message) from None
    return services.evidence_response(evidence)
