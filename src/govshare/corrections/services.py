"""Every write of the correction workflow (R-CORR-01..09).

A consumer disputes a record it obtained through a grant, or a catalog entry; the profile decides
whether the ticket goes straight to the provider (CZ, CS, XX) or through the authority and the
operator's dispatch (NX). The provider's verification and, where the profile names one, its fix at
source run as `Obligation`s; a fix is closed only once the corrected record has arrived through
collection. The outcome goes to the reporter, to every department holding a grant on the resource
and, where the profile says so, to the authority.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from govshare.audit import services as audit
from govshare.calendar.policy import active_profile
from govshare.catalog.models import Resource, ResourceStatus
from govshare.collect.models import Record
from govshare.errors import DomainError, IllegalTransition, NotFound, PermissionDenied, ValidationFailed
from govshare.notifications.services import notify_departments
from govshare.numbering import save_numbered
from govshare.orgs.models import Department, DepartmentKind, Role
from govshare.security import fields
from govshare.sharing import masking, scope
from govshare.sharing.models import Grant, GrantStatus
from govshare.sharing.services import authority_for
from govshare.supervision import services as duties

from .models import (
    TRANSITIONS,
    CorrectionTicket,
    Evidence,
    ExtensionRequest,
    ExtensionStatus,
    Outcome,
    Step,
    TicketScope,
    TicketStatus,
)
from .selectors import SUBJECT

DUTY_VERIFY = "corrections.verify"
DUTY_FIX = "corrections.fix"
ROUTE_PROVIDER = "provider"
ROUTE_DISPATCH = "authority_dispatch"

# Evidence limits: platform settings, not regulatory numbers.
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
EVIDENCE_MAX_FILES = 5
EVIDENCE_TYPES = (
    (b"%PDF-", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"PK\x03\x04", ".zip"),  # xlsx / docx are zip containers; the name's extension is kept if it is one
)
OFFICE_EXTENSIONS = (".xlsx", ".docx", ".zip")
TEXT_MAX = 2000


# --- helpers --------------------------------------------------------------------------------------------


def _err(field: str, label: str, code: str, message: str) -> dict:
    return {"field": field, "label": label, "code": code, "message": message}


def _text(value) -> str:
    return (value or "").strip()


def _param(key: str):
    return active_profile().param(key)


def _link(ticket: CorrectionTicket) -> str:
    return f"/corrections/{ticket.pk}/"


def _label(ticket: CorrectionTicket) -> str:
    what = ticket.record_label if ticket.scope == TicketScope.RECORD else "目录"
    return f"{ticket.number} {ticket.resource.name} · {what}"[:200]


def _move(ticket: CorrectionTicket, target: str) -> None:
    if target not in TRANSITIONS.get(ticket.status, set()):
        raise IllegalTransition(
            "illegal_transition",
            f"该疑义当前为“{ticket.get_status_display()}”，不能执行该操作",
            {"status": ticket.status, "target": target},
        )
    ticket.status = target


def _lock(ticket: CorrectionTicket) -> CorrectionTicket:
    return (
        CorrectionTicket.objects.select_for_update().select_related("resource", "provider").get(pk=ticket.pk)
    )


def _step(ticket: CorrectionTicket, action: str, label: str, *, actor=None, department=None, note: str = ""):
    Step.objects.create(
        ticket=ticket,
        action=action,
        label=label,
        note=note,
        actor=actor,
        department=department or getattr(actor, "department", None) or ticket.reporter_department,
    )
    audit.record(
        f"corrections.{action}",
        actor=actor,
        object=ticket,
        department=department if actor is None else None,
        detail={"number": ticket.number, "resource": ticket.resource.code, "status": ticket.status},
    )


def _running(ticket: CorrectionTicket, duty: str):
    return duties.find_active(SUBJECT, ticket.pk, duty)


def verify_obligation(ticket: CorrectionTicket):
    return _running(ticket, DUTY_VERIFY).first()


def extension_approver_role() -> str:
    return (
        Role.AUTHORITY if _param("correction_verify_extension_approver").value == "authority" else Role.HEAD
    )


def _open_verify(ticket: CorrectionTicket) -> None:
    duties.open_obligation(
        department=ticket.provider,
        duty=DUTY_VERIFY,
        title="核校疑义数据",
        subject=ticket,
        subject_label=_label(ticket),
        parameter="correction_verify_working_days",
        link=_link(ticket),
        extension_parameter="correction_verify_extension_max_working_days",
        extension_approver_role=extension_approver_role(),
    )


def _authority(ticket: CorrectionTicket) -> Department:
    found = authority_for(ticket.provider)
    if found is None:
        raise DomainError("no_authority", "平台未设置数据主管部门，无法办理", status=409)
    return found


def _operators() -> list[Department]:
    return list(Department.objects.filter(kind=DepartmentKind.OPERATOR, is_active=True))


def grant_holders(resource: Resource) -> list[Department]:
    """Departments holding a live grant on the resource: they hear every correction outcome (R-CORR-06)."""
    ids = (
        Grant.objects.filter(resource=resource, status__in=(GrantStatus.ACTIVE, GrantStatus.SUSPENDED))
        .values_list("consumer_id", flat=True)
        .distinct()
    )
    return list(Department.objects.filter(pk__in=ids))


def _tell_outcome(ticket: CorrectionTicket) -> None:
    recipients = {ticket.reporter_department_id: ticket.reporter_department}
    for dept in grant_holders(ticket.resource):
        recipients.setdefault(dept.pk, dept)
    if ticket.routing == ROUTE_DISPATCH or _param("correction_result_recipients").value == "authority":
        dept = authority_for(ticket.provider)
        if dept is not None:
            recipients.setdefault(dept.pk, dept)
    recipients.pop(ticket.provider_id, None)
    note = f"：{ticket.outcome_note}" if ticket.outcome_note else ""
    notify_departments(
        list(recipients.values()),
        "corrections.closed",
        f"疑义{ticket.number}已办结：{ticket.get_outcome_display()}（{ticket.resource.name}）",
        body=f"{ticket.record_label or '目录'}{note}",
        link=_link(ticket),
    )


# --- raising ---------------------------------------------------------------------------------------------


def _reporter_grant(department: Department, resource: Resource, grant: Grant | None) -> Grant:
    if grant is not None:
        if grant.consumer_id != department.pk or grant.resource_id != resource.pk:
            raise PermissionDenied("no_grant", "该授权不属于本部门或不是该资源的授权")
        if grant.status == GrantStatus.TERMINATED:
            raise PermissionDenied("grant_terminated", f"授权{grant.number}已终止，不能据此提出数据疑义")
        return grant
    found = (
        Grant.objects.filter(consumer=department, resource=resource)
        .exclude(status=GrantStatus.TERMINATED)
        .order_by("-created_at", "-id")
        .first()
    )
    if found is None:
        raise PermissionDenied(
            "no_grant", f"{department.name}没有资源“{resource.name}”的授权，不能对其数据提出疑义"
        )
    return found


def _find_record(resource: Resource, grant: Grant, *, ref=None, key: str = "") -> Record:
    """The disputed record, located the way the reporter saw it: by its reference or its key, in scope."""
    query = Record.objects.filter(resource=resource, deleted=False)
    sealer = fields.sealer_for(resource)
    if ref not in (None, ""):
        try:
            record = query.filter(pk=int(ref)).first()
        except (TypeError, ValueError):
            record = None
    elif key:
        primary = resource.items.filter(is_primary=True).values_list("code", flat=True).first()
        if primary is None or primary not in grant.items:
            raise ValidationFailed(
                [
                    _err(
                        "record_key",
                        "记录",
                        "key_not_granted",
                        "主键信息项不在授权范围内，请用数据接口返回的记录编号（ref）提出",
                    )
                ]
            )
        record = query.filter(key=sealer.stored_key(key.strip())).first()
    else:
        raise ValidationFailed(
            [_err("record_key", "记录", "required", "请给出有疑义的记录：主键值或记录编号")]
        )
    if record is not None:
        record.data = sealer.open(record.key, record.data)  # the label and the scope read plain values
    if record is None or not scope.compile_filter(grant.row_filter)(record.data):
        # a record outside the grant looks the same as a missing one
        raise NotFound("record_not_found", "在授权范围内未找到该记录")
    return record


def _record_label(resource: Resource, grant: Grant, record: Record) -> str:
    primary = resource.items.filter(is_primary=True).first()
    if primary is None or primary.code not in grant.items:
        return f"记录 #{record.pk}"
    value = (record.data or {}).get(primary.code)
    fn = masking.compile_masks(grant.masks, grant.hash_salt).get(primary.code)
    if fn is None and primary.is_sensitive:
        # the label travels in notifications to every grant holder: a sensitive key is never shown whole
        rule = masking.default_rule(primary.name)
        fn = masking.compile_masks({primary.code: "keep:3:2" if rule == "plain" else rule}, "").get(
            primary.code
        )
    shown = fn(value) if fn is not None and value is not None else value
    return f"{primary.name} {shown}"[:300]


def check_evidence(files, errors: list[dict]) -> list[tuple[object, str]]:
    files = [f for f in (files or []) if f]
    if len(files) > EVIDENCE_MAX_FILES:
        errors.append(
            _err("evidence", "佐证材料", "too_many_files", f"佐证材料最多 {EVIDENCE_MAX_FILES} 个文件")
        )
        return []
    checked = []
    for f in files:
        name = (getattr(f, "name", "") or "佐证材料")[-200:]
        size = getattr(f, "size", None)
        if size is not None and size > EVIDENCE_MAX_BYTES:
            errors.append(_err("evidence", "佐证材料", "file_too_large", f"“{name}”超过 10 MB"))
            continue
        f.seek(0)
        head = f.read(8)
        f.seek(0)
        kind = next((ext for magic, ext in EVIDENCE_TYPES if head.startswith(magic)), None)
        if kind is None or (kind == ".zip" and not name.lower().endswith(OFFICE_EXTENSIONS)):
            errors.append(
                _err(
                    "evidence",
                    "佐证材料",
                    "invalid_file_type",
                    f"“{name}”须为 PDF、图片（PNG、JPEG）或 xlsx/docx 文件",
                )
            )
            continue
        checked.append((f, name))
    return checked


def _save_evidence(ticket: CorrectionTicket, files: list[tuple[object, str]], user) -> None:
    for f, name in files:
        ev = Evidence(ticket=ticket, name=name, size=getattr(f, "size", 0) or 0, uploaded_by=user)
        ev.file.save(name, f, save=False)
        ev.save()


@transaction.atomic
def raise_ticket(
    user=None,
    *,
    resource: Resource,
    scope_: str = TicketScope.RECORD,
    description: str,
    items=(),
    suggestion: str = "",
    record_key: str = "",
    record_ref=None,
    grant: Grant | None = None,
    evidence=(),
    client=None,
    case_id: str = "",
) -> CorrectionTicket:
    """Dispute a record (through the reporter's grant) or the catalog entry (R-CORR-01/02/08).

    A person raises it from the web, or a client system from a delivery response (`client`, with
    `grant` the one the gate chose).
    """
    if client is not None:
        department = client.department
    else:
        department = user.department if user is not None else None
        if department is None or not user.has_role(Role.CONSUMER, Role.PROVIDER):
            raise PermissionDenied("officer_only", "只有部门数据专员可以提出数据疑义")
    if not department.is_active:
        raise PermissionDenied("department_inactive", f"{department.name}已停用")
    if resource.provider_id == department.pk:
        raise DomainError("own_resource", "本部门提供的资源请直接在数据归集中更正", status=409)
    if resource.status not in (ResourceStatus.PUBLISHED, ResourceStatus.RETIRING):
        raise DomainError("resource_not_published", f"目录“{resource.code}”未发布或已下线", status=409)
    if scope_ not in TicketScope.values:
        raise ValidationFailed([_err("scope", "对象", "invalid", "疑义对象须为数据记录或目录")])

    errors: list[dict] = []
    description, suggestion = _text(description), _text(suggestion)
    if not description:
        errors.append(_err("description", "问题描述", "required", "请简要描述问题"))
    elif len(description) > TEXT_MAX:
        errors.append(_err("description", "问题描述", "too_long", f"问题描述不超过 {TEXT_MAX} 字"))
    if len(suggestion) > TEXT_MAX:
        errors.append(_err("suggestion", "更正建议", "too_long", f"更正建议不超过 {TEXT_MAX} 字"))
    codes = set(resource.items.values_list("code", flat=True))
    names = dict(resource.items.values_list("name", "code"))
    chosen = []
    for it in items or ():
        code = it if it in codes else names.get(it)
        if code is None:
            errors.append(_err("items", "信息项", "unknown_item", f"目录中没有信息项“{it}”"))
        elif code not in chosen:
            chosen.append(code)
    files = check_evidence(evidence, errors)
    required = _param("correction_evidence_required")
    if required.value and not files and not any(e["field"] == "evidence" for e in errors):
        errors.append(
            _err("evidence", "佐证材料", "required", f"反馈问题数据须附佐证材料（{required.article}）")
        )

    ticket = CorrectionTicket(
        scope=scope_,
        resource=resource,
        resource_version=resource.version,
        provider=resource.provider,
        items=chosen,
        description=description,
        suggestion=suggestion,
        reporter_department=department,
        reporter=user,
        reporter_client=client,
        case_id=_text(case_id)[:64],
        routing=_param("correction_routing").value or ROUTE_PROVIDER,
    )
    if scope_ == TicketScope.RECORD:
        grant = _reporter_grant(department, resource, grant)
        bad = [c for c in chosen if c not in grant.items]
        if bad:
            errors.append(_err("items", "信息项", "item_not_granted", "只能对授权范围内的信息项提出疑义"))
        if errors:
            raise ValidationFailed(errors)
        record = _find_record(resource, grant, ref=record_ref, key=record_key)
        ticket.grant, ticket.record_key, ticket.record_seq = grant, record.key, record.seq
        ticket.record_label = _record_label(resource, grant, record)
    elif errors:
        raise ValidationFailed(errors)

    if ticket.routing == ROUTE_DISPATCH:
        ticket.status = TicketStatus.REPORTED
    else:
        ticket.status = TicketStatus.VERIFYING
    save_numbered(ticket, "JC")
    _save_evidence(ticket, files, user)
    _step(ticket, "raise", "提出疑义", actor=user, department=department, note=description)

    if ticket.status == TicketStatus.REPORTED:
        notify_departments(
            [_authority(ticket)],
            "corrections.reported",
            f"数据疑义待受理：{ticket.resource.name}（{department.name}）",
            body=description[:200],
            link=_link(ticket),
        )
    else:
        _open_verify(ticket)
        notify_departments(
            [ticket.provider],
            "corrections.raised",
            f"数据疑义待核校：{ticket.resource.name}（{department.name}）",
            body=description[:200],
            link=_link(ticket),
        )
    return ticket


# --- the NX route: authority, then operator ------------------------------------------------------------


def can_accept(user, ticket: CorrectionTicket) -> bool:
    authority = authority_for(ticket.provider)
    return user.has_role(Role.AUTHORITY) and authority is not None and user.department_id == authority.pk


@transaction.atomic
def accept_ticket(user, ticket: CorrectionTicket, note: str = "") -> CorrectionTicket:
    """The authority receives the report and hands it to the operator for analysis (NX 64/65)."""
    ticket = _lock(ticket)
    if not can_accept(user, ticket):
        raise PermissionDenied("authority_only", "只有数据主管部门可以受理数据疑义")
    _move(ticket, TicketStatus.DISPATCHING)
    ticket.save(update_fields=["status"])
    _step(ticket, "accept", "主管部门受理", actor=user, note=_text(note))
    notify_departments(
        _operators() or [user.department],
        "corrections.accepted",
        f"数据疑义待分析分发：{ticket.resource.name}",
        body=ticket.description[:200],
        link=_link(ticket),
    )
    return ticket


def can_dispatch(user, ticket: CorrectionTicket) -> bool:
    return user.has_role(Role.OPERATOR)


@transaction.atomic
def dispatch_ticket(
    user, ticket: CorrectionTicket, *, analysis: str, forward: bool = True
) -> CorrectionTicket:
    """The operator analyses the problem and dispatches it to the producer, or closes it as no data error."""
    ticket = _lock(ticket)
    if not can_dispatch(user, ticket):
        raise PermissionDenied("operator_only", "只有技术服务单位可以分析分发数据疑义")
    analysis = _text(analysis)
    if not analysis:
        raise ValidationFailed([_err("analysis", "分析意见", "required", "请填写分析意见")])
    _move(ticket, TicketStatus.VERIFYING if forward else TicketStatus.CLOSED)
    ticket.analysis = analysis
    if forward:
        ticket.save(update_fields=["status", "analysis"])
        _step(ticket, "dispatch", "分发至数据生产部门", actor=user, note=analysis)
        _open_verify(ticket)
        notify_departments(
            [ticket.provider],
            "corrections.raised",
            f"数据疑义待核校：{ticket.resource.name}（{ticket.reporter_department.name}）",
            body=analysis[:200],
            link=_link(ticket),
        )
    else:
        ticket.outcome, ticket.outcome_note, ticket.closed_at = Outcome.NOT_ERROR, analysis, timezone.now()
        ticket.save(update_fields=["status", "analysis", "outcome", "outcome_note", "closed_at"])
        _step(ticket, "dismiss", "经分析非数据问题，办结", actor=user, note=analysis)
        _tell_outcome(ticket)
    return ticket


# --- the provider: verify, decide, fix -----------------------------------------------------------------


def is_provider_officer(user, ticket: CorrectionTicket) -> bool:
    return user.has_role(Role.PROVIDER) and user.department_id == ticket.provider_id


@transaction.atomic
def decide_ticket(user, ticket: CorrectionTicket, *, correct: bool, note: str) -> CorrectionTicket:
    """The verification's answer: an error to correct at source, or not an error (R-CORR-03)."""
    ticket = _lock(ticket)
    if not is_provider_officer(user, ticket):
        raise PermissionDenied("provider_only", "只有提供部门的数据专员可以核校")
    note = _text(note)
    if not note:
        raise ValidationFailed([_err("note", "核校意见", "required", "请填写核校意见")])
    _move(ticket, TicketStatus.FIXING if correct else TicketStatus.CLOSED)
    ticket.decision_note, ticket.decided_at = note, timezone.now()
    duties.fulfil(SUBJECT, ticket.pk, DUTY_VERIFY, by=user, note="已核校")
    for req in ticket.extension_requests.filter(status=ExtensionStatus.PENDING):
        req.status, req.decision_note, req.decided_at = (
            ExtensionStatus.REFUSED,
            "核校已完成，无需延期",
            timezone.now(),
        )
        req.save(update_fields=["status", "decision_note", "decided_at"])
    if correct:
        ticket.save(update_fields=["status", "decision_note", "decided_at"])
        _step(ticket, "decide", "核校：确有错误，将从源头更正", actor=user, note=note)
        duties.open_obligation(
            department=ticket.provider,
            duty=DUTY_FIX,
            title="从源头更正并重新汇聚",
            subject=ticket,
            subject_label=_label(ticket),
            parameter="correction_fix_working_days",
            link=_link(ticket),
        )
        if ticket.routing == ROUTE_DISPATCH or _param("correction_result_recipients").value == "authority":
            notify_departments(
                [_authority(ticket)],
                "corrections.decided",
                f"疑义{ticket.number}核校结果：确有错误，将更正",
                body=note[:200],
                link=_link(ticket),
            )
    else:
        ticket.outcome, ticket.outcome_note, ticket.closed_at = Outcome.NOT_ERROR, note, timezone.now()
        ticket.save(
            update_fields=["status", "decision_note", "decided_at", "outcome", "outcome_note", "closed_at"]
        )
        _step(ticket, "decide", "核校：数据无误", actor=user, note=note)
        _tell_outcome(ticket)
    return ticket


def correction_arrived(ticket: CorrectionTicket) -> bool:
    """Has the fix come in through collection? A record's change sequence moved on (changed or deleted
    at source), or for a catalog dispute the entry has a newer version (R-CORR-05)."""
    if ticket.scope == TicketScope.CATALOG:
        return Resource.objects.filter(pk=ticket.resource_id, version__gt=ticket.resource_version).exists()
    current = (
        Record.objects.filter(resource_id=ticket.resource_id, key=ticket.record_key)
        .values_list("seq", flat=True)
        .first()
    )
    return current is not None and ticket.record_seq is not None and current > ticket.record_seq


@transaction.atomic
def close_corrected(
    user, ticket: CorrectionTicket, *, partly: bool = False, note: str = ""
) -> CorrectionTicket:
    """Close a fix, only after the corrected data arrived; then tell everyone who uses it (R-CORR-05/06)."""
    ticket = _lock(ticket)
    if not is_provider_officer(user, ticket):
        raise PermissionDenied("provider_only", "只有提供部门的数据专员可以办结更正")
    if ticket.status != TicketStatus.FIXING:
        # not _move(CLOSED): verifying → closed is legal (数据无误), so it would not refuse here
        raise IllegalTransition(
            "illegal_transition",
            f"该疑义当前为“{ticket.get_status_display()}”，不能执行该操作",
            {"status": ticket.status, "target": TicketStatus.CLOSED},
        )
    if not correction_arrived(ticket):
        what = (
            "目录尚未更新（修订后重新发布）"
            if ticket.scope == TicketScope.CATALOG
            else "更正后的记录尚未通过数据归集汇聚到平台"
        )
        raise DomainError("correction_not_arrived", f"{what}，请完成更正后再办结", status=409)
    _move(ticket, TicketStatus.CLOSED)
    ticket.outcome = Outcome.PARTLY if partly else Outcome.CORRECTED
    ticket.outcome_note, ticket.closed_at = _text(note), timezone.now()
    ticket.save(update_fields=["status", "outcome", "outcome_note", "closed_at"])
    duties.fulfil(SUBJECT, ticket.pk, DUTY_FIX, by=user, note="更正数据已汇聚")
    _step(ticket, "close", f"办结：{ticket.get_outcome_display()}", actor=user, note=ticket.outcome_note)
    _tell_outcome(ticket)
    return ticket


# --- extension (CZ 24: head's approval, at most 15 wd, the user is told) ----------------------------------


@transaction.atomic
def request_extension(user, ticket: CorrectionTicket, *, working_days: int, reason: str) -> ExtensionRequest:
    ticket = _lock(ticket)
    if not is_provider_officer(user, ticket):
        raise PermissionDenied("provider_only", "只有提供部门的数据专员可以申请延期")
    if ticket.status != TicketStatus.VERIFYING:
        raise IllegalTransition("illegal_transition", "只有核校中的疑义可以申请延期")
    ob = verify_obligation(ticket)
    ceiling = _param("correction_verify_extension_max_working_days")
    if ob is None or ob.due_on is None or ceiling.value is None:
        raise IllegalTransition("not_extendable", "本地办法未规定校核时限的延期")
    if ticket.extension_requests.filter(status=ExtensionStatus.PENDING).exists():
        raise IllegalTransition("extension_pending", "已有待审批的延期申请")
    reason = _text(reason)
    used = sum(ob.extensions.values_list("working_days", flat=True))
    errors = duties.extension_problems(reason, working_days, used, ceiling)
    if errors:
        raise ValidationFailed(errors)
    req = ExtensionRequest.objects.create(
        ticket=ticket, working_days=working_days, reason=reason, requested_by=user
    )
    _step(ticket, "extension_request", f"申请延期 {working_days} 个工作日", actor=user, note=reason)
    notify_departments(
        [ticket.provider if extension_approver_role() == Role.HEAD else _authority(ticket)],
        "corrections.extension_requested",
        f"疑义核校延期待审批：{ticket.number}（{working_days} 个工作日）",
        body=reason[:200],
        link=_link(ticket),
    )
    return req


def can_decide_extension(user, ticket: CorrectionTicket) -> bool:
    role = extension_approver_role()
    if role == Role.HEAD:
        return user.has_role(Role.HEAD) and user.department_id == ticket.provider_id
    authority = authority_for(ticket.provider)
    return user.has_role(Role.AUTHORITY) and authority is not None and user.department_id == authority.pk


def _lock_request(req: ExtensionRequest) -> ExtensionRequest:
    return duties.lock_pending_request(ExtensionRequest, req.pk, "ticket")


@transaction.atomic
def approve_extension(user, req: ExtensionRequest, note: str = "") -> ExtensionRequest:
    req = _lock_request(req)
    ticket = _lock(req.ticket)
    if not can_decide_extension(user, ticket):
        raise PermissionDenied("extension_approver", "延期须由本地办法规定的负责人批准")
    ob = verify_obligation(ticket)
    if ob is None or ticket.status != TicketStatus.VERIFYING:
        raise IllegalTransition("illegal_transition", "该疑义已不在核校中，无需延期")
    req = duties.decide_request(req, user, approve=True, note=note, ob=ob)
    _step(
        ticket,
        "extension_approve",
        f"负责人批准延期至 {req.new_due_on:%Y-%m-%d}",
        actor=user,
        note=req.decision_note,
    )
    if _param("correction_verify_extension_notify_consumer").value is not False:
        notify_departments(
            [ticket.reporter_department],
            "corrections.extended",
            f"疑义{ticket.number}的核校期限延长至 {req.new_due_on:%Y-%m-%d}",
            body=req.reason[:200],
            link=_link(ticket),
        )
    return req


@transaction.atomic
def refuse_extension(user, req: ExtensionRequest, note: str) -> ExtensionRequest:
    req = _lock_request(req)
    ticket = _lock(req.ticket)
    if not can_decide_extension(user, ticket):
        raise PermissionDenied("extension_approver", "延期须由本地办法规定的负责人审批")
    req = duties.decide_request(req, user, approve=False, note=note)
    _step(ticket, "extension_refuse", "负责人未批准延期", actor=user, note=req.decision_note)
    notify_departments(
        [ticket.provider],
        "corrections.extension_refused",
        f"疑义{ticket.number}的延期申请未获批准",
        body=req.decision_note[:200],
        link=_link(ticket),
    )
    return req


# --- withdrawing ----------------------------------------------------------------------------------------


def is_reporter(user, ticket: CorrectionTicket) -> bool:
    return user.department_id == ticket.reporter_department_id and user.has_role(Role.CONSUMER, Role.PROVIDER)


@transaction.atomic
def withdraw_ticket(user, ticket: CorrectionTicket, reason: str = "") -> CorrectionTicket:
    ticket = _lock(ticket)
    if not is_reporter(user, ticket):
        raise PermissionDenied("reporter_only", "只有提出部门可以撤回疑义")
    _move(ticket, TicketStatus.WITHDRAWN)
    ticket.closed_at = timezone.now()
    ticket.save(update_fields=["status", "closed_at"])
    for ob in duties.find_active(SUBJECT, ticket.pk, DUTY_VERIFY):
        duties.cancel_obligation(ob, user, "提出部门已撤回疑义")
    ExtensionRequest.objects.filter(ticket=ticket, status=ExtensionStatus.PENDING).update(
        status=ExtensionStatus.REFUSED, decision_note="疑义已撤回", decided_at=timezone.now()
    )
    _step(ticket, "withdraw", "提出部门撤回", actor=user, note=_text(reason))
    party = ticket.provider if ticket.routing == ROUTE_PROVIDER else _authority(ticket)
    notify_departments(
        [party], "corrections.withdrawn", f"疑义{ticket.number}已被提出部门撤回", link=_link(ticket)
    )
    return ticket


# --- evidence ---------------------------------------------------------------------------------------------


def may_read_evidence(user, ticket: CorrectionTicket) -> bool:
    """Evidence (e.g. a 户口簿 scan) goes to the parties only: the reporter's and the provider's officers and
    head, the authority answering for the provider, and the operator where it dispatched the ticket."""
    if user.department_id in (ticket.reporter_department_id, ticket.provider_id):
        return user.has_role(Role.CONSUMER, Role.PROVIDER, Role.HEAD)
    if can_accept(user, ticket):
        return True
    return ticket.routing == ROUTE_DISPATCH and user.has_role(Role.OPERATOR)


def read_evidence(user, ticket: CorrectionTicket, evidence_id: int) -> Evidence:
    """The file a party asked for; every read is an audit event (the ticket itself was found visible)."""
    evidence = ticket.evidence.filter(pk=evidence_id).first()
    if evidence is None:
        raise NotFound("evidence_not_found", "该佐证材料不存在")
    if not may_read_evidence(user, ticket):
        raise PermissionDenied("evidence_parties_only", "佐证材料仅向疑义当事部门提供")
    audit.record(
        "corrections.evidence_download",
        actor=user,
        object=ticket,
        detail={"number": ticket.number, "evidence": evidence.pk, "name": evidence.name},
    )
    return evidence


def evidence_response(evidence: Evidence):
    from django.http import FileResponse

    response = FileResponse(evidence.file.open("rb"), as_attachment=True, filename=evidence.name)
    response["Cache-Control"] = "private, no-store"
    return response


def follow_rekeyed_records(sender, resource, rekey, **kwargs) -> None:
    """A 敏感 mark on the primary item changed how the resource's keys are stored: tickets follow, so
    closing still finds the record and the 核校中 flag stays on it (R-CORR-05, R-CORR-07)."""
    for ticket in CorrectionTicket.objects.filter(resource=resource, scope=TicketScope.RECORD).exclude(
        record_key=""
    ):
        new = rekey(ticket.record_key)
        if new != ticket.record_key:
            CorrectionTicket.objects.filter(pk=ticket.pk).update(record_key=new)
