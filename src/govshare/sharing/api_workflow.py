"""The sharing workflow for people over /api/v1/sharing/: applications, grants and negotiation cases.

Handlers only translate: they find the object through the selectors (so anything a person may not
see is 404), call one service and render the result. Every refusal is a DomainError rendered as
{code, message, detail}. Resources are named by their catalog code ("301/000001") in the body.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ninja import File, Form, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status
from pydantic import ValidationError as PydanticValidationError

from govshare.apiauth import PersonSession
from govshare.catalog.selectors import get_resource
from govshare.clients.models import ClientSystem
from govshare.errors import ValidationFailed
from govshare.security.inputs import DbInt, JsonObject, Text
from govshare.supervision.schemas import DeadlineOut, deadline_out

from . import selectors, services
from .models import ApplicationStatus, Grant, NegotiationCase, ShareApplication

router = Router(tags=["共享申请与授权"], auth=PersonSession())
MAX_LIMIT = 500


# --- schemas -----------------------------------------------------------------------------------------------


class ApplicationIn(Schema):
    resource: Text
    purpose: Text = ""
    duty_basis: Text = ""
    scenario: Text = ""
    clients: list[Text] = []
    items: list[Text] = []
    methods: list[Text] = []
    valid_from: dt.date
    valid_until: dt.date
    batch_justification: Text = ""
    terms_accepted: bool = False
    offplatform: bool = False
    received_on: dt.date | None = None


class UnconditionalIn(Schema):
    resource: Text
    purpose: Text = ""
    clients: list[Text] = []
    items: list[Text] | None = None
    methods: list[Text] = []
    valid_until: dt.date | None = None
    terms_accepted: bool = False


class PrereviewIn(Schema):
    forward: bool
    comment: Text = ""
    basis: Text = ""


class ApproveIn(Schema):
    items: list[Text] = []
    masks: dict[Text, Text] = {}
    row_filter: list[JsonObject] = []
    methods: list[Text] = []
    valid_from: dt.date
    valid_until: dt.date
    daily_quota: DbInt | None = None
    comment: Text = ""


class RefuseIn(Schema):
    reason: Text = ""
    basis: Text = ""


class ReasonIn(Schema):
    reason: Text = ""


class CaseIn(Schema):
    resource: Text = ""
    subject: Text = ""
    application: DbInt | None = None


class MessageIn(Schema):
    body: Text = ""


class AgreeIn(Schema):
    clients: list[Text] = []
    purpose: Text = ""
    items: list[Text] = []
    masks: dict[Text, Text] = {}
    row_filter: list[JsonObject] = []
    methods: list[Text] = []
    valid_from: dt.date
    valid_until: dt.date


class CloseCaseIn(Schema):
    outcome: Text = ""


class ApplicationOut(Schema):
    id: int
    number: str
    kind: str
    kind_label: str
    status: str
    status_label: str
    resource: str
    resource_name: str
    provider: str
    consumer: str
    applicant: str
    purpose: str
    duty_basis: str
    scenario: str
    clients: list[str]
    items: list[str]
    methods: list[str]
    valid_from: dt.date
    valid_until: dt.date
    batch_justification: str
    has_letter: bool
    offplatform: bool
    received_on: dt.date
    decider: str
    submitted_at: dt.datetime
    prereview_comment: str
    forwarded_on: dt.date | None
    decided_at: dt.datetime | None
    decision_comment: str
    refusal_reason: str
    refusal_basis: str
    withdrawn_at: dt.datetime | None
    grant: str | None
    grant_id: int | None


class ApplicationDetailOut(ApplicationOut):
    deadlines: list[DeadlineOut]
    can_prereview: bool
    can_decide: bool
    can_withdraw: bool


class GrantOut(Schema):
    id: int
    number: str
    status: str
    state_label: str
    resource: str
    resource_name: str
    provider: str
    consumer: str
    application: str
    clients: list[str]
    purpose: str
    items: list[str]
    masks: dict[str, str]
    row_filter: list[dict[str, Any]]
    methods: list[str]
    valid_from: dt.date
    valid_until: dt.date
    daily_quota: int | None
    status_reason: str
    filing_required: bool
    filed_at: dt.datetime | None
    created_at: dt.datetime
    can_manage: bool


class MessageOut(Schema):
    author: str
    department: str
    body: str
    created_at: dt.datetime


class CaseOut(Schema):
    id: int
    number: str
    status: str
    status_label: str
    resource: str
    resource_name: str
    consumer: str
    provider: str
    application: str | None
    subject: str
    outcome: str
    opened_at: dt.datetime
    escalated_at: dt.datetime | None
    closed_at: dt.datetime | None
    grant: str | None


class CaseDetailOut(CaseOut):
    messages: list[MessageOut]
    deadlines: list[DeadlineOut]
    party: str


# --- rendering ---------------------------------------------------------------------------------------------


def _person(user) -> str:
    return (user.full_name or user.username) if user else ""


def _deadlines(obj) -> list[dict]:
    return [deadline_out(o) for o in selectors.obligations_of(obj)]


def application_out(app: ShareApplication) -> dict:
    grant = Grant.objects.filter(application=app).only("id", "number").first()
    return dict(
        id=app.pk,
        number=app.number,
        kind=app.kind,
        kind_label=app.get_kind_display(),
        status=app.status,
        status_label=app.get_status_display(),
        resource=app.resource.code,
        resource_name=app.resource.name,
        provider=app.resource.provider.name,
        consumer=app.consumer.name,
        applicant=_person(app.applicant),
        purpose=app.purpose,
        duty_basis=app.duty_basis,
        scenario=app.scenario,
        clients=[c.code for c in app.clients.all()],
        items=list(app.items),
        methods=list(app.methods),
        valid_from=app.valid_from,
        valid_until=app.valid_until,
        batch_justification=app.batch_justification,
        has_letter=bool(app.letter),
        offplatform=app.offplatform,
        received_on=app.received_on,
        decider=app.decider,
        submitted_at=app.submitted_at,
        prereview_comment=app.prereview_comment,
        forwarded_on=app.forwarded_on,
        decided_at=app.decided_at,
        decision_comment=app.decision_comment,
        refusal_reason=app.refusal_reason,
        refusal_basis=app.refusal_basis,
        withdrawn_at=app.withdrawn_at,
        grant=grant.number if grant else None,
        grant_id=grant.pk if grant else None,
    )


def application_detail(user, app: ShareApplication) -> dict:
    out = application_out(app)
    out.update(
        deadlines=_deadlines(app),
        can_prereview=selectors.can_prereview(user, app),
        can_decide=app.status == ApplicationStatus.PENDING and selectors.can_decide(user, app),
        can_withdraw=app.is_open and user.department_id == app.consumer_id,
    )
    return out


def grant_out(user, g: Grant) -> dict:
    return dict(
        id=g.pk,
        number=g.number,
        status=g.status,
        state_label=g.state_label,
        resource=g.resource.code,
        resource_name=g.resource.name,
        provider=g.resource.provider.name,
        consumer=g.consumer.name,
        application=g.application.number,
        clients=[c.code for c in g.clients.all()],
        purpose=g.purpose,
        items=list(g.items),
        masks=dict(g.masks or {}),
        row_filter=list(g.row_filter or []),
        methods=list(g.methods),
        valid_from=g.valid_from,
        valid_until=g.valid_until,
        daily_quota=g.daily_quota,
        status_reason=g.status_reason,
        filing_required=g.filing_required,
        filed_at=g.filed_at,
        created_at=g.created_at,
        can_manage=selectors.can_manage_grant(user, g),
    )


def case_out(c: NegotiationCase) -> dict:
    return dict(
        id=c.pk,
        number=c.number,
        status=c.status,
        status_label=c.get_status_display(),
        resource=c.resource.code,
        resource_name=c.resource.name,
        consumer=c.consumer.name,
        provider=c.provider.name,
        application=c.application.number if c.application_id else None,
        subject=c.subject,
        outcome=c.outcome,
        opened_at=c.opened_at,
        escalated_at=c.escalated_at,
        closed_at=c.closed_at,
        grant=c.grant.number if c.grant_id else None,
    )


def case_detail(user, c: NegotiationCase) -> dict:
    out = case_out(c)
    out.update(
        messages=[
            dict(
                author=_person(m.author),
                department=m.author.department.name if m.author.department_id else "",
                body=m.body,
                created_at=m.created_at,
            )
            for m in c.messages.select_related("author__department")
        ],
        deadlines=_deadlines(c),
        party=services.case_party(user, c),
    )
    return out


# --- input helpers -----------------------------------------------------------------------------------------


def _clients(codes: list[str]) -> list[ClientSystem]:
    wanted = list(dict.fromkeys(codes))
    found = {c.code: c for c in ClientSystem.objects.filter(code__in=wanted)}
    missing = [c for c in wanted if c not in found]
    if missing:
        raise ValidationFailed(
            [
                {
                    "field": "clients",
                    "label": "应用系统",
                    "code": "invalid_choice",
                    "message": f"应用系统“{'、'.join(missing)}”不存在",
                }
            ]
        )
    return [found[c] for c in wanted]


def _limit(limit: int) -> int:
    return max(1, min(limit, MAX_LIMIT))


def _submit(request, body: ApplicationIn, letter=None) -> ShareApplication:
    resource = get_resource(request.auth, body.resource)
    return services.submit_application(
        request.auth,
        resource,
        purpose=body.purpose,
        duty_basis=body.duty_basis,
        scenario=body.scenario,
        clients=_clients(body.clients),
        items=body.items,
        methods=body.methods,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        batch_justification=body.batch_justification,
        letter=letter,
        terms_accepted=body.terms_accepted,
        offplatform=body.offplatform,
        received_on=body.received_on,
    )


# --- applications ------------------------------------------------------------------------------------------


@router.get(
    "/applications", response=list[ApplicationOut], summary="共享申请（本部门提出的、向本部门提出的）"
)
def list_applications(
    request, box: Text = "", status: Text = "", before: DbInt | None = None, limit: DbInt = 100
):
    """`box=inbox`: what I must act on now, oldest deadline first; otherwise newest first (cursor `before`)."""
    user = request.auth
    if box == "inbox":
        qs = selectors.inbox_for(user)
    else:
        qs = selectors.applications_for(user).order_by("-id")
        if before is not None:
            qs = qs.filter(pk__lt=before)
    if status:
        qs = qs.filter(status=status)
    return [application_out(a) for a in qs.prefetch_related("clients")[: _limit(limit)]]


@router.post("/applications", response={201: ApplicationDetailOut}, summary="提交共享申请")
def submit_application(request, body: ApplicationIn):
    app = _submit(request, body)
    return Status(201, application_detail(request.auth, app))


@router.post(
    "/applications/with-letter",
    response={201: ApplicationDetailOut},
    summary="提交共享申请并上传加盖公章的申请函（multipart：payload 为申请 JSON，letter 为 PDF/PNG/JPEG）",
)
def submit_application_with_letter(request, payload: Form[Text], letter: File[UploadedFile]):
    try:
        body = ApplicationIn.model_validate(json.loads(payload))
    except (ValueError, PydanticValidationError) as exc:
        raise ValidationFailed(
            [
                {
                    "field": "payload",
                    "label": "申请内容",
                    "code": "invalid",
                    "message": "申请内容须为有效的 JSON",
                }
            ],
        ) from exc
    app = _submit(request, body, letter=letter)
    return Status(201, application_detail(request.auth, app))


@router.get("/applications/{app_id}", response=ApplicationDetailOut, summary="共享申请详情与办理时限")
def get_application(request, app_id: DbInt):
    return application_detail(request.auth, selectors.get_application(request.auth, app_id))


@router.post("/applications/{app_id}/withdraw", response=ApplicationDetailOut, summary="撤回共享申请")
def withdraw_application(request, app_id: DbInt):
    app = selectors.get_application(request.auth, app_id)
    return application_detail(request.auth, services.withdraw_application(request.auth, app))


@router.post(
    "/applications/{app_id}/prereview", response=ApplicationDetailOut, summary="初审（转提供部门或不予通过）"
)
def prereview_application(request, app_id: DbInt, body: PrereviewIn):
    app = selectors.get_application(request.auth, app_id)
    app = services.prereview_application(
        request.auth, app, forward=body.forward, comment=body.comment, basis=body.basis
    )
    return application_detail(request.auth, app)


@router.post(
    "/applications/{app_id}/approve", response=GrantOut, summary="同意共享（可缩小信息项、设脱敏与行范围）"
)
def approve_application(request, app_id: DbInt, body: ApproveIn):
    app = selectors.get_application(request.auth, app_id)
    grant = services.approve_application(
        request.auth,
        app,
        items=body.items,
        masks=body.masks,
        row_filter=body.row_filter,
        methods=body.methods,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        daily_quota=body.daily_quota,
        comment=body.comment,
    )
    return grant_out(request.auth, grant)


@router.post(
    "/applications/{app_id}/refuse", response=ApplicationDetailOut, summary="不同意共享（须说明理由）"
)
def refuse_application(request, app_id: DbInt, body: RefuseIn):
    app = selectors.get_application(request.auth, app_id)
    app = services.refuse_application(request.auth, app, reason=body.reason, basis=body.basis)
    return application_detail(request.auth, app)


@router.post("/unconditional", response={201: GrantOut}, summary="无条件共享资源：登记使用或直接获取")
def obtain_unconditional(request, body: UnconditionalIn):
    resource = get_resource(request.auth, body.resource)
    grant = services.obtain_unconditional(
        request.auth,
        resource,
        purpose=body.purpose,
        clients=_clients(body.clients),
        items=body.items,
        methods=body.methods,
        valid_until=body.valid_until,
        terms_accepted=body.terms_accepted,
    )
    return Status(201, grant_out(request.auth, grant))


@router.get(
    "/resources/{cls}/{seq}/default-masks", response=dict[str, str], summary="按信息项名称建议的脱敏规则"
)
def default_masks(request, cls: Text, seq: Text, items: Text = ""):
    resource = get_resource(request.auth, f"{cls}/{seq}")
    codes = [c.strip() for c in items.split(",") if c.strip()] or [i.code for i in resource.items.all()]
    return services.default_masks(resource, codes)


# --- grants ------------------------------------------------------------------------------------------------


@router.get("/grants", response=list[GrantOut], summary="授权（本部门获得的、本部门资源的）")
def list_grants(request, status: Text = "", before: DbInt | None = None, limit: DbInt = 100):
    qs = selectors.grants_for(request.auth).order_by("-id").prefetch_related("clients")
    if status:
        qs = qs.filter(status=status)
    if before is not None:
        qs = qs.filter(pk__lt=before)
    return [grant_out(request.auth, g) for g in qs[: _limit(limit)]]


@router.get("/grants/{grant_id}", response=GrantOut, summary="授权详情")
def get_grant(request, grant_id: DbInt):
    return grant_out(request.auth, selectors.get_grant(request.auth, grant_id))


@router.post("/grants/{grant_id}/suspend", response=GrantOut, summary="暂停授权（须说明原因）")
def suspend_grant(request, grant_id: DbInt, body: ReasonIn):
    grant = selectors.get_grant(request.auth, grant_id)
    return grant_out(request.auth, services.suspend_grant(request.auth, grant, body.reason))


@router.post("/grants/{grant_id}/resume", response=GrantOut, summary="恢复授权（须说明原因）")
def resume_grant(request, grant_id: DbInt, body: ReasonIn):
    grant = selectors.get_grant(request.auth, grant_id)
    return grant_out(request.auth, services.resume_grant(request.auth, grant, body.reason))


@router.post("/grants/{grant_id}/terminate", response=GrantOut, summary="终止授权（须说明原因）")
def terminate_grant(request, grant_id: DbInt, body: ReasonIn):
    grant = selectors.get_grant(request.auth, grant_id)
    return grant_out(request.auth, services.terminate_grant(request.auth, grant, body.reason))


@router.post("/grants/{grant_id}/file", response=GrantOut, summary="主管部门备案（协商提供不予共享资源）")
def file_grant(request, grant_id: DbInt):
    grant = selectors.get_grant(request.auth, grant_id)
    return grant_out(request.auth, services.file_grant(request.auth, grant))


# --- negotiation -------------------------------------------------------------------------------------------


@router.get("/cases", response=list[CaseOut], summary="共享协商")
def list_cases(request, status: Text = "", before: DbInt | None = None, limit: DbInt = 100):
    qs = selectors.cases_for(request.auth).order_by("-id")
    if status:
        qs = qs.filter(status=status)
    if before is not None:
        qs = qs.filter(pk__lt=before)
    return [case_out(c) for c in qs[: _limit(limit)]]


@router.post(
    "/cases", response={201: CaseDetailOut}, summary="发起共享协商（不予共享资源，或未获同意的申请）"
)
def open_case(request, body: CaseIn):
    user = request.auth
    application = selectors.get_application(user, body.application) if body.application is not None else None
    code = body.resource or (application.resource.code if application else "")
    if not code:
        raise ValidationFailed(
            [{"field": "resource", "label": "资源", "code": "required", "message": "请指明协商的资源"}]
        )
    resource = get_resource(user, code)
    case = services.open_negotiation(user, resource, subject=body.subject, application=application)
    return Status(201, case_detail(user, case))


@router.get("/cases/{case_id}", response=CaseDetailOut, summary="协商详情")
def get_case(request, case_id: DbInt):
    return case_detail(request.auth, selectors.get_case(request.auth, case_id))


@router.post("/cases/{case_id}/messages", response={201: CaseDetailOut}, summary="发表协商意见")
def post_message(request, case_id: DbInt, body: MessageIn):
    case = selectors.get_case(request.auth, case_id)
    services.post_case_message(request.auth, case, body.body)
    return Status(201, case_detail(request.auth, case))


@router.post("/cases/{case_id}/escalate", response=CaseDetailOut, summary="提请主管部门协调")
def escalate_case(request, case_id: DbInt, body: ReasonIn):
    case = selectors.get_case(request.auth, case_id)
    return case_detail(request.auth, services.escalate_negotiation(request.auth, case, reason=body.reason))


@router.post("/cases/{case_id}/agree", response=GrantOut, summary="同意供给（生成授权）")
def agree_supply(request, case_id: DbInt, body: AgreeIn):
    case = selectors.get_case(request.auth, case_id)
    grant = services.agree_supply(
        request.auth,
        case,
        clients=_clients(body.clients),
        purpose=body.purpose,
        items=body.items,
        masks=body.masks,
        row_filter=body.row_filter,
        methods=body.methods,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
    )
    return grant_out(request.auth, grant)


@router.post("/cases/{case_id}/close", response=CaseDetailOut, summary="办结协商（不供给）")
def close_case(request, case_id: DbInt, body: CloseCaseIn):
    case = selectors.get_case(request.auth, case_id)
    return case_detail(request.auth, services.close_negotiation(request.auth, case, outcome=body.outcome))
