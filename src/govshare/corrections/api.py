"""The correction workflow for people over /api/v1/corrections (疑义 · 纠错 · 校核, R-CORR-01..09).

Handlers only translate: they find the ticket through `selectors.visible_tickets` (so a ticket a
person may not see is 404), call one service and render the result. Client systems raise their
doubts through the delivery API instead (POST /api/v1/share/{cls}/{seq}/corrections).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import CharField, OuterRef, Q, Subquery
from django.db.models.functions import Cast
from ninja import File, Form, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status

from govshare.apiauth import PersonSession
from govshare.catalog.selectors import get_resource
from govshare.errors import NotFound
from govshare.orgs.models import Role
from govshare.security.inputs import DbInt, Text, form_text
from govshare.sharing.models import Grant
from govshare.supervision.models import Obligation
from govshare.supervision.schemas import DeadlineOut, deadline_out
from govshare.supervision.selectors import obligations_of
from govshare.supervision.services import ACTIVE

from . import selectors, services
from .models import (
    TRANSITIONS,
    CorrectionTicket,
    ExtensionRequest,
    ExtensionStatus,
    TicketScope,
    TicketStatus,
)

router = Router(tags=["疑义纠错"], auth=PersonSession())
MAX_LIMIT = 500


# --- schemas -----------------------------------------------------------------------------------------------


class DispatchIn(Schema):
    analysis: Text = ""
    forward: bool = True


class DecideIn(Schema):
    correct: bool
    note: Text = ""


class CloseTicketIn(Schema):
    partly: bool = False
    note: Text = ""


class ExtensionIn(Schema):
    working_days: DbInt
    reason: Text = ""


class NoteIn(Schema):
    note: Text = ""


class ReasonIn(Schema):
    reason: Text = ""


class ErrorOut(Schema):
    code: str
    message: str
    detail: dict


class TicketOut(Schema):
    id: int
    number: str
    scope: str
    scope_label: str
    status: str
    status_label: str
    resource: str
    resource_name: str
    provider: str
    reporter_department: str
    reporter: str
    reporter_client: str
    record_label: str
    record_key: str | None  # the provider's own key value: only for the provider and the operator
    items: list[str]
    description: str
    suggestion: str
    grant: str | None
    case_id: str
    routing: str
    outcome: str
    outcome_label: str
    outcome_note: str
    created_at: dt.datetime
    decided_at: dt.datetime | None
    closed_at: dt.datetime | None
    due_on: dt.date | None  # of the running verification or fix, if the profile sets one


class StepOut(Schema):
    action: str
    label: str
    note: str
    actor: str
    department: str
    at: dt.datetime


class EvidenceOut(Schema):
    id: int
    name: str
    size: int
    uploaded_at: dt.datetime


class ExtensionOut(Schema):
    id: int
    working_days: int
    reason: str
    requested_by: str
    requested_at: dt.datetime
    status: str
    status_label: str
    decided_by: str
    decided_at: dt.datetime | None
    decision_note: str
    new_due_on: dt.date | None


class TicketDetailOut(TicketOut):
    analysis: str
    decision_note: str
    fix_arrived: bool | None  # while fixing: has the corrected record come in through collection
    steps: list[StepOut]
    evidence: list[EvidenceOut]
    extensions: list[ExtensionOut]
    obligations: list[DeadlineOut]  # the running ones
    can_accept: bool
    can_dispatch: bool
    can_decide: bool
    can_close: bool
    can_request_extension: bool
    can_decide_extension: bool
    can_withdraw: bool


# --- rendering ---------------------------------------------------------------------------------------------


def _person(user) -> str:
    return (user.full_name or user.username) if user else ""


def _sees_key(user, t: CorrectionTicket) -> bool:
    """The raw key may be a personal identifier the reporter only saw masked (R-SEC-04)."""
    return user.department_id == t.provider_id or user.has_role(Role.OPERATOR)


def _running(t: CorrectionTicket) -> list[Obligation]:
    return obligations_of(t, active_only=True)


def ticket_out(user, t: CorrectionTicket, due_on=None) -> dict:
    return dict(
        id=t.pk,
        number=t.number,
        scope=t.scope,
        scope_label=t.get_scope_display(),
        status=t.status,
        status_label=t.get_status_display(),
        resource=t.resource.code,
        resource_name=t.resource.name,
        provider=t.provider.name,
        reporter_department=t.reporter_department.name,
        reporter=_person(t.reporter),
        reporter_client=t.reporter_client.code if t.reporter_client_id else "",
        record_label=t.record_label,
        record_key=selectors.key_as_written(t) if _sees_key(user, t) else None,
        items=list(t.items or []),
        description=t.description,
        suggestion=t.suggestion,
        grant=t.grant.number if t.grant_id else None,
        case_id=t.case_id,
        routing=t.routing,
        outcome=t.outcome,
        outcome_label=t.get_outcome_display() if t.outcome else "",
        outcome_note=t.outcome_note,
        created_at=t.created_at,
        decided_at=t.decided_at,
        closed_at=t.closed_at,
        due_on=due_on if due_on is not None else getattr(t, "due_on", None),
    )


def ticket_detail(user, t: CorrectionTicket) -> dict:
    t = _fetch(user, t.pk)  # re-read: services lock and return a bare row
    running = _running(t)
    extensions = list(t.extension_requests.select_related("requested_by", "decided_by"))
    pending = any(e.status == ExtensionStatus.PENDING for e in extensions)
    provider_officer = services.is_provider_officer(user, t)
    out = ticket_out(user, t, due_on=next((o.due_on for o in running if o.due_on), None))
    out.update(
        analysis=t.analysis,
        decision_note=t.decision_note,
        fix_arrived=services.correction_arrived(t) if t.status == TicketStatus.FIXING else None,
        steps=[
            dict(
                action=s.action,
                label=s.label,
                note=s.note,
                actor=_person(s.actor),
                department=s.department.name,
                at=s.at,
            )
            for s in t.steps.select_related("actor", "department")
        ],
        evidence=[
            dict(id=e.pk, name=e.name, size=e.size, uploaded_at=e.uploaded_at)
            for e in t.evidence.order_by("id")
        ],
        extensions=[
            dict(
                id=e.pk,
                working_days=e.working_days,
                reason=e.reason,
                requested_by=_person(e.requested_by),
                requested_at=e.requested_at,
                status=e.status,
                status_label=e.get_status_display(),
                decided_by=_person(e.decided_by),
                decided_at=e.decided_at,
                decision_note=e.decision_note,
                new_due_on=e.new_due_on,
            )
            for e in extensions
        ],
        obligations=[deadline_out(o) for o in running],
        can_accept=t.status == TicketStatus.REPORTED and services.can_accept(user, t),
        can_dispatch=t.status == TicketStatus.DISPATCHING and services.can_dispatch(user, t),
        can_decide=t.status == TicketStatus.VERIFYING and provider_officer,
        can_close=t.status == TicketStatus.FIXING and provider_officer,
        can_request_extension=t.status == TicketStatus.VERIFYING and provider_officer and not pending,
        can_decide_extension=pending and services.can_decide_extension(user, t),
        can_withdraw=TicketStatus.WITHDRAWN in TRANSITIONS.get(t.status, set())
        and services.is_reporter(user, t),
    )
    return out


# --- lookups -----------------------------------------------------------------------------------------------


def _limit(limit: int) -> int:
    return max(1, min(limit, MAX_LIMIT))


def _tickets(user):
    return selectors.visible_tickets(user).select_related("reporter", "reporter_client", "grant")


def _fetch(user, pk) -> CorrectionTicket:
    t = _tickets(user).filter(pk=pk).first()
    if t is None:
        raise NotFound("ticket_not_found", "该疑义不存在或无权查看")
    return t


def _extension(t: CorrectionTicket, pk: int) -> ExtensionRequest:
    req = ExtensionRequest.objects.filter(ticket=t, pk=pk).first()
    if req is None:
        raise NotFound("extension_not_found", "该延期申请不存在")
    return req


def _with_due(qs):
    due = Obligation.objects.filter(
        subject_type=selectors.SUBJECT,
        subject_id=Cast(OuterRef("pk"), output_field=CharField()),
        status__in=ACTIVE,
        due_on__isnull=False,
    ).order_by("due_on")
    return qs.annotate(due_on=Subquery(due.values("due_on")[:1]))


def _inbox(user, qs):
    """What this person must act on now: accept (authority), dispatch (operator), verify or close
    (provider), decide an extension (the approver the profile names)."""
    dept = user.department_id
    q = Q(pk__in=[])
    if user.has_role(Role.AUTHORITY):
        q |= Q(status=TicketStatus.REPORTED)
    if user.has_role(Role.OPERATOR):
        q |= Q(status=TicketStatus.DISPATCHING)
    if user.has_role(Role.PROVIDER) and dept is not None:
        q |= Q(provider_id=dept, status__in=(TicketStatus.VERIFYING, TicketStatus.FIXING))
    approver = services.extension_approver_role()
    pending = Q(extension_requests__status=ExtensionStatus.PENDING)
    if approver == Role.HEAD and user.has_role(Role.HEAD) and dept is not None:
        q |= pending & Q(provider_id=dept)
    elif approver == Role.AUTHORITY and user.has_role(Role.AUTHORITY):
        q |= pending
    return qs.filter(pk__in=CorrectionTicket.objects.filter(q).values("pk"))


def _grant(user, number: str) -> Grant | None:
    number = (number or "").strip()
    if not number:
        return None
    grant = Grant.objects.filter(number=number, consumer_id=user.department_id).first()
    if grant is None:
        raise NotFound("grant_not_found", "该授权不存在或不属于本部门")
    return grant


# --- endpoints ---------------------------------------------------------------------------------------------


@router.get("", response=list[TicketOut], summary="疑义纠错（本部门提出的、向本部门提出的；主管部门看全部）")
def list_tickets(
    request, view: Text = "", status: Text = "", before: DbInt | None = None, limit: DbInt = 100
):
    """`view=mine`: raised by my department; `view=inbox`: waiting for me. Newest first (cursor `before`)."""
    user = request.auth
    qs = _tickets(user)
    if view == "mine":
        qs = qs.filter(reporter_department_id=user.department_id)
    elif view == "inbox":
        qs = _inbox(user, qs)
    if status:
        qs = qs.filter(status=status)
    if before is not None:
        qs = qs.filter(pk__lt=before)
    qs = _with_due(qs.order_by("-id"))
    return [ticket_out(user, t) for t in qs[: _limit(limit)]]


@router.post(
    "",
    response={201: TicketDetailOut},
    summary="提出数据疑义（multipart：resource 为目录代码，items 可重复，evidence 为佐证材料文件）",
)
def raise_ticket(
    request,
    resource: Form[Text],
    description: str = form_text(""),
    scope: str = form_text(TicketScope.RECORD),
    record_key: str = form_text(""),
    ref: str = form_text(""),
    grant: str = form_text(""),
    items: Form[list[Text]] = None,
    suggestion: str = form_text(""),
    evidence: File[list[UploadedFile]] = None,
):
    """A record is named by its key (`record_key`) or by the `ref` a delivery response gave for it."""
    user = request.auth
    res = get_resource(user, resource.strip())
    t = services.raise_ticket(
        user,
        resource=res,
        scope_=scope,
        description=description,
        items=items or [],
        suggestion=suggestion,
        record_key=record_key,
        record_ref=ref.strip() or None,
        grant=_grant(user, grant),
        evidence=evidence or [],
    )
    return Status(201, ticket_detail(user, t))


@router.get("/{ticket_id}", response=TicketDetailOut, summary="疑义详情：办理经过、佐证材料、延期与时限")
def get_ticket(request, ticket_id: DbInt):
    return ticket_detail(request.auth, _fetch(request.auth, ticket_id))


@router.post("/{ticket_id}/accept", response=TicketDetailOut, summary="主管部门受理（转技术服务单位分析）")
def accept_ticket(request, ticket_id: DbInt, body: NoteIn):
    t = _fetch(request.auth, ticket_id)
    return ticket_detail(request.auth, services.accept_ticket(request.auth, t, body.note))


@router.post(
    "/{ticket_id}/dispatch",
    response=TicketDetailOut,
    summary="技术服务单位分析：分发至数据生产部门（forward=true）或作非数据问题办结",
)
def dispatch_ticket(request, ticket_id: DbInt, body: DispatchIn):
    t = _fetch(request.auth, ticket_id)
    t = services.dispatch_ticket(request.auth, t, analysis=body.analysis, forward=body.forward)
    return ticket_detail(request.auth, t)


@router.post(
    "/{ticket_id}/decide",
    response=TicketDetailOut,
    summary="提供部门核校：确有错误将更正（correct=true）或数据无误",
)
def decide_ticket(request, ticket_id: DbInt, body: DecideIn):
    t = _fetch(request.auth, ticket_id)
    t = services.decide_ticket(request.auth, t, correct=body.correct, note=body.note)
    return ticket_detail(request.auth, t)


@router.post("/{ticket_id}/close", response=TicketDetailOut, summary="办结更正（更正后的记录须已汇聚到平台）")
def close_ticket(request, ticket_id: DbInt, body: CloseTicketIn):
    t = _fetch(request.auth, ticket_id)
    t = services.close_corrected(request.auth, t, partly=body.partly, note=body.note)
    return ticket_detail(request.auth, t)


@router.post(
    "/{ticket_id}/extensions", response={201: TicketDetailOut}, summary="申请延长核校期限（须负责人批准）"
)
def request_extension(request, ticket_id: DbInt, body: ExtensionIn):
    t = _fetch(request.auth, ticket_id)
    services.request_extension(request.auth, t, working_days=body.working_days, reason=body.reason)
    return Status(201, ticket_detail(request.auth, t))


@router.post("/{ticket_id}/extensions/{extension_id}/approve", response=TicketDetailOut, summary="批准延期")
def approve_extension(request, ticket_id: DbInt, extension_id: DbInt, body: NoteIn):
    t = _fetch(request.auth, ticket_id)
    services.approve_extension(request.auth, _extension(t, extension_id), body.note)
    return ticket_detail(request.auth, t)


@router.post(
    "/{ticket_id}/extensions/{extension_id}/refuse",
    response=TicketDetailOut,
    summary="不批准延期（须说明理由）",
)
def refuse_extension(request, ticket_id: DbInt, extension_id: DbInt, body: NoteIn):
    t = _fetch(request.auth, ticket_id)
    services.refuse_extension(request.auth, _extension(t, extension_id), body.note)
    return ticket_detail(request.auth, t)


@router.post("/{ticket_id}/withdraw", response=TicketDetailOut, summary="提出部门撤回疑义")
def withdraw_ticket(request, ticket_id: DbInt, body: ReasonIn):
    t = _fetch(request.auth, ticket_id)
    return ticket_detail(request.auth, services.withdraw_ticket(request.auth, t, body.reason))


@router.get(
    "/{ticket_id}/evidence/{evidence_id}",
    response={200: None, 403: ErrorOut, 404: ErrorOut},
    summary="下载佐证材料（仅当事部门、主管部门与技术服务单位；每次下载留痕）",
)
def evidence_file(request, ticket_id: DbInt, evidence_id: DbInt):
    user = request.auth
    t = _fetch(user, ticket_id)
    return services.evidence_response(services.read_evidence(user, t, evidence_id))
