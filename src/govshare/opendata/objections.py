"""What the public says back about open data: objections (CZ 28, R-OPEN-11), open-catalog correction
requests (NX 45, R-OPEN-10) and feedback (R-OPEN-12).

An objection suspends its dataset in the transaction that records it, so no download, preview or API
answer serves the disputed data once the objector has been told it was received. The provider's finding
(withdraw, restore, or reprocess under a new confidentiality review and reopen) settles every objection
waiting on that dataset together and tells each objector. No profile sets a period for verifying an
objection, so the duty is an Obligation without a due date under the profile's R-OPEN-11 parameter
(`objection_suspends_opening`, which carries CZ 28's article); no number is invented.

A correction request's reply period, extension ceiling and approver come from the profile
(`open_catalog_correction_*`); where the profile is silent the request is tracked without a deadline.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from govshare.audit import services as audit
from govshare.calendar.policy import active_profile
from govshare.corrections.services import check_evidence
from govshare.errors import DomainError, IllegalTransition, NotFound, PermissionDenied, ValidationFailed
from govshare.notifications.services import notify_departments, notify_user
from govshare.orgs.models import Department, DepartmentKind, Role
from govshare.sharing.services import authority_for
from govshare.supervision import services as duties

from . import identity, services
from .models import (
    CORRECTION_PARTS,
    CatalogCorrection,
    CorrectionStatus,
    DatasetStatus,
    Feedback,
    IdentityStatus,
    Objection,
    ObjectionEvidence,
    ObjectionStatus,
    OpenDataset,
    OpenVersion,
    VersionStatus,
)

DUTY_VERIFY = "open.objection_verify"
DUTY_REPLY = "open.catalog_correction_reply"
DATASET_SUBJECT = "opendata.opendataset"
CORRECTION_SUBJECT = "opendata.catalogcorrection"
TEXT_MAX = 2000
PART_LABELS = dict(CORRECTION_PARTS)


MAX_PENDING = 3  # objections of one account being verified at once: a platform setting


def _err(field: str, label: str, code: str, message: str) -> dict:
    return {"field": field, "label": label, "code": code, "message": message}


def _text(value) -> str:
    return (value or "").strip() if isinstance(value, str) else ""


def _required(value, field: str, label: str, message: str, errors: list[dict], limit: int = TEXT_MAX) -> str:
    text = _text(value)
    if not text:
        errors.append(_err(field, label, "required", message))
    elif len(text) > limit:
        errors.append(_err(field, label, "too_long", f"{label}不超过{limit}个字"))
    return text


def _who(user) -> str:
    return (getattr(user, "full_name", "") or getattr(user, "username", "")) if user else ""


def _signed_in(user, what: str) -> None:
    if not getattr(user, "is_authenticated", False):
        raise PermissionDenied("login_required", f"请先登录或注册账号后{what}")


def can_handle(user, dataset: OpenDataset) -> bool:
    """Whoever may review the dataset for opening (provider officer, or the authority answering for it)."""
    return getattr(user, "is_authenticated", False) and services.can_review(user, dataset.resource)


def _lock(dataset: OpenDataset) -> OpenDataset:
    return OpenDataset.objects.select_for_update().select_related("resource", "provider").get(pk=dataset.pk)


def dataset_link(dataset: OpenDataset) -> str:
    return f"/open/datasets/{dataset.name}/"


def objection_link(dataset: OpenDataset) -> str:
    return f"/open/manage/objections/{dataset.pk}/"


def correction_link(req: CatalogCorrection) -> str:
    return f"/open/manage/corrections/{req.pk}/"


# ---------------------------------------------------------------- objections (CZ 28, R-OPEN-11)


def pending(dataset: OpenDataset) -> QuerySet[Objection]:
    return dataset.objections.filter(status=ObjectionStatus.VERIFYING)


def _suspension_note(count: int) -> str:
    many = f"（共 {count} 件）" if count > 1 else ""
    return f"收到异议{many}，已中止开放，提供部门正在核实。"


@transaction.atomic
def lodge_objection(
    user,
    dataset: OpenDataset,
    *,
    reason: str,
    evidence,
    version_number: int | None = None,
    items=(),
) -> Objection:
    """Record the objection and suspend the dataset at once (CZ 28), in one transaction.

    Evidence is required (at least one PDF, image, xlsx or docx file of up to 10 MB). A second objection
    on a suspended dataset is recorded and waits for the same finding.
    """
    _signed_in(user, "提出异议")
    # An objection suspends a dataset for everyone: it needs a checked identity, and a few at a time.
    if identity.is_public_user(user) and identity.profile_of(user).identity_status != IdentityStatus.VERIFIED:
        raise PermissionDenied("identity_required", "提出异议须先通过身份认证（姓名和公民身份号码核验）")
    if Objection.objects.filter(objector=user, status=ObjectionStatus.VERIFYING).count() >= MAX_PENDING:
        raise DomainError(
            "too_many_pending", f"您已有 {MAX_PENDING} 件异议正在核实，请待核实结果后再提出", status=429
        )
    dataset = _lock(dataset)
    if dataset.status == DatasetStatus.WITHDRAWN:
        raise IllegalTransition("dataset_withdrawn", "该数据集已撤回，不再开放，无需提出异议")
    errors: list[dict] = []
    reason = _required(reason, "reason", "异议理由", "请说明异议的理由", errors)
    version = None
    if version_number not in (None, ""):
        version = OpenVersion.objects.filter(
            dataset=dataset, number=version_number, status=VersionStatus.READY
        ).first()
        if version is None:
            errors.append(_err("version", "涉及版本", "invalid", f"该数据集没有第{version_number}版"))
    shown = version or dataset.current
    published = {i["code"] for i in (shown.items if shown else [])}
    chosen = list(dict.fromkeys(str(i) for i in (items or []) if str(i).strip()))
    unknown = [c for c in chosen if c not in published]
    if unknown:
        errors.append(
            _err("items", "涉及信息项", "unknown_item", f"数据集没有开放信息项：{'、'.join(unknown)}")
        )
    files = check_evidence(evidence, errors)
    if not files and not any(e["field"] == "evidence" for e in errors):
        errors.append(_err("evidence", "证明材料", "required", "提出异议须附证明材料（至少一个文件）"))
    if errors:
        raise ValidationFailed(errors)

    objection = Objection.objects.create(
        dataset=dataset, version=version, items=chosen, reason=reason, objector=user
    )
    for f, name in files:
        ev = ObjectionEvidence(objection=objection, name=name, size=getattr(f, "size", 0) or 0)
        ev.file.save(name, f, save=False)
        ev.save()
    count = pending(dataset).count()
    first = dataset.status == DatasetStatus.OPEN
    if first:
        services._move(dataset, DatasetStatus.SUSPENDED)
    dataset.status_reason, dataset.updated_at = _suspension_note(count), timezone.now()
    dataset.save(update_fields=["status", "status_reason", "updated_at"])
    audit.record(
        "open.objection.lodge",
        actor=user,
        object=objection,
        detail={
            "dataset": dataset.name,
            "version": version.number if version else None,
            "items": ",".join(chosen),
            "evidence": len(files),
            "suspended": first,
        },
    )
    if first:
        audit.record("open.suspend", actor=user, object=dataset, detail={"objection": objection.pk})
    param = active_profile().param("objection_suspends_opening")
    duties.open_obligation(
        department=dataset.provider,
        duty=DUTY_VERIFY,
        title="核实开放数据异议",
        subject=dataset,
        subject_label=f"{dataset.title}（{dataset.name}）",
        parameter="objection_suspends_opening",
        link=objection_link(dataset),
    )
    notify_departments(
        [dataset.provider],
        "open.objection_received",
        f"开放数据集“{dataset.title}”收到异议，已中止开放，请核实",
        body=f"{reason[:200]}{'（' + param.article + '）' if param.article else ''}",
        link=objection_link(dataset),
    )
    return objection


def _open_pending(user, dataset: OpenDataset) -> OpenDataset:
    dataset = _lock(dataset)
    if not can_handle(user, dataset):
        raise PermissionDenied("reviewer_only", "只有提供部门数据专员或数据主管部门可以处理异议")
    if dataset.status != DatasetStatus.SUSPENDED or not pending(dataset).exists():
        raise IllegalTransition(
            "no_pending_objection",
            f"数据集当前为“{dataset.get_status_display()}”，没有待核实的异议",
            {"status": dataset.status},
        )
    return dataset


def settle(user, dataset: OpenDataset, outcome: str, note: str, version: OpenVersion | None = None) -> int:
    """Every objection waiting on the dataset gets the finding; each objector is told; the duty is done."""
    now = timezone.now()
    label = ObjectionStatus(outcome).label
    settled = 0
    for objection in pending(dataset).select_related("objector").select_for_update(of=("self",)):
        objection.status, objection.outcome_note = outcome, note
        objection.resolved_by, objection.resolved_at, objection.reopened_version = user, now, version
        objection.save()
        audit.record(
            "open.objection.resolve",
            actor=user,
            object=objection,
            detail={
                "dataset": dataset.name,
                "outcome": outcome,
                "version": version.number if version else None,
            },
        )
        notify_user(
            objection.objector,
            "open.objection_resolved",
            f"您对“{dataset.title}”提出的异议已办结：{label}",
            body=note[:500],
            link="/open/account/#my-objections",
        )
        settled += 1
    duties.fulfil(DATASET_SUBJECT, dataset.pk, DUTY_VERIFY, by=user, note=f"异议已办结：{label}")
    return settled


@transaction.atomic
def withdraw(user, dataset: OpenDataset, note: str) -> OpenDataset:
    """The objection holds: the dataset is withdrawn (services.withdraw_dataset settles the objections)."""
    dataset = _open_pending(user, dataset)
    return services.withdraw_dataset(user, dataset, note)  # settles the objections, retracts the versions


@transaction.atomic
def restore(user, dataset: OpenDataset, note: str) -> OpenDataset:
    """The objection does not hold: open again as it was, with the reason why told to the objector."""
    dataset = _open_pending(user, dataset)
    note = _text(note)
    if not note:
        raise ValidationFailed([_err("note", "核实结果说明", "required", "请说明异议不成立的理由")])
    services._move(dataset, DatasetStatus.OPEN)
    dataset.status_reason, dataset.updated_at = "", timezone.now()
    dataset.save(update_fields=["status", "status_reason", "updated_at"])
    audit.record("open.restore", actor=user, object=dataset, detail={"note": note[:300]})
    notify_departments(
        [dataset.provider],
        "open.status_changed",
        f"开放数据集“{dataset.title}”已恢复开放",
        body=note[:200],
        link=dataset_link(dataset),
    )
    settle(user, dataset, ObjectionStatus.RESTORED, note)
    return dataset


@transaction.atomic
def reopen(user, dataset: OpenDataset, note: str, **review) -> OpenDataset:
    """Reprocessed: a new confidentiality review with new rules publishes version n+1 and reopens it.

    `review` are services.review_and_open's keyword arguments (domain, rules, conclusion, ...).
    """
    dataset = _open_pending(user, dataset)
    note = _text(note)
    missing = [] if note else [_err("note", "处理说明", "required", "请说明对数据所作的处理")]
    if not missing:  # the disputed versions go; the new review writes version n+1
        services.retract_versions(user, dataset, note)
    try:
        dataset = services.review_and_open(user, dataset.resource, resolving_objection=True, **review)
    except ValidationFailed as exc:
        raise ValidationFailed(missing + exc.errors) from None
    if missing:
        raise ValidationFailed(missing)
    version = dataset.versions.order_by("-number").first()
    settle(user, dataset, ObjectionStatus.REOPENED, note, version)
    return dataset


def may_read_evidence(user, objection: Objection) -> bool:
    return getattr(user, "is_authenticated", False) and (
        user.pk == objection.objector_id or can_handle(user, objection.dataset)
    )


def read_evidence(user, objection_id: int, evidence_id: int) -> ObjectionEvidence:
    """A file for the objector or those who verify; each read is audited."""
    evidence = (
        ObjectionEvidence.objects.select_related("objection__dataset__resource")
        .filter(pk=evidence_id, objection_id=objection_id)
        .first()
    )
    if evidence is None or not may_read_evidence(user, evidence.objection):
        raise NotFound("evidence_not_found", "该证明材料不存在或无权查看")
    audit.record(
        "open.objection.evidence_download",
        actor=user,
        object=evidence.objection,
        detail={"evidence": evidence.pk, "name": evidence.name},
    )
    return evidence


# ---------------------------------------------------------------- open-catalog correction requests (NX 45)


def _extension_role() -> str:
    approver = active_profile().value("open_catalog_correction_extension_approver")
    return {"provider_head": Role.HEAD, "authority": Role.AUTHORITY}.get(approver, "")


def reply_obligation(req: CatalogCorrection):
    return duties.find_active(CORRECTION_SUBJECT, req.pk, DUTY_REPLY).first()


@transaction.atomic
def request_correction(
    user, dataset: OpenDataset, *, part: str, requested: str, reason: str = ""
) -> CatalogCorrection:
    """A member of the public asks to correct the open catalog; the provider's reply period starts today."""
    _signed_in(user, "申请更正开放目录")
    dataset = _lock(dataset)
    if dataset.status == DatasetStatus.WITHDRAWN:
        raise IllegalTransition("dataset_withdrawn", "该数据集已撤回，不再开放")
    errors: list[dict] = []
    if part not in PART_LABELS:
        errors.append(_err("part", "更正内容", "invalid_choice", "请选择需要更正的内容"))
    requested = _required(requested, "requested", "更正建议", "请填写应当如何更正", errors)
    reason = _text(reason)
    if len(reason) > TEXT_MAX:
        errors.append(_err("reason", "理由", "too_long", f"理由不超过{TEXT_MAX}个字"))
    if errors:
        raise ValidationFailed(errors)
    req = CatalogCorrection.objects.create(
        dataset=dataset, requester=user, part=part, requested=requested, reason=reason
    )
    audit.record(
        "open.catalog_correction.request",
        actor=user,
        object=req,
        detail={"dataset": dataset.name, "part": part},
    )
    duties.open_obligation(
        department=dataset.provider,
        duty=DUTY_REPLY,
        title="答复开放目录更正申请",
        subject=req,
        subject_label=f"{dataset.title}：{PART_LABELS[part]}",
        parameter="open_catalog_correction_reply_working_days",
        link=correction_link(req),
        extension_parameter="open_catalog_correction_extension_max_working_days",
        extension_approver_role=_extension_role(),
    )
    notify_departments(
        [dataset.provider],
        "open.catalog_correction_requested",
        f"开放数据集“{dataset.title}”收到目录更正申请",
        body=requested[:200],
        link=correction_link(req),
    )
    return req


def _lock_pending(req: CatalogCorrection) -> CatalogCorrection:
    req = (
        CatalogCorrection.objects.select_for_update(of=("self",))
        .select_related("dataset__resource", "requester")
        .get(pk=req.pk)
    )
    if req.status != CorrectionStatus.PENDING:
        raise IllegalTransition("correction_replied", f"该更正申请已答复（{req.get_status_display()}）")
    return req


def can_extend(user, req: CatalogCorrection) -> bool:
    role = _extension_role()
    if not role or not getattr(user, "is_authenticated", False) or not user.has_role(role):
        return False
    return role != Role.HEAD or user.department_id == req.dataset.provider_id


@transaction.atomic
def extend_correction(approver, req: CatalogCorrection, working_days: int, reason: str):
    """Extension of the reply period, within the profile's ceiling, approved by the named head (NX 45)."""
    req = _lock_pending(req)
    ob = reply_obligation(req)
    if ob is None:
        raise IllegalTransition("not_extendable", "该申请没有进行中的答复时限")
    ext = duties.extend_obligation(ob, approver, working_days, _text(reason))
    audit.record(
        "open.catalog_correction.extend",
        actor=approver,
        object=req,
        detail={"working_days": working_days, "new_due_on": ext.new_due_on.isoformat()},
    )
    notify_user(
        req.requester,
        "open.catalog_correction_extended",
        f"您对“{req.dataset.title}”的目录更正申请答复期限延长至 {ext.new_due_on:%Y-%m-%d}",
        body=ext.reason[:300],
        link="/open/account/#my-corrections",
    )
    return ext


@transaction.atomic
def reply_correction(
    user, req: CatalogCorrection, *, agree: bool, reply: str = "", basis: str = ""
) -> CatalogCorrection:
    """Agree (the catalog is then changed through the catalog revision workflow) or refuse with reasons,
    and their basis where the profile requires it (NX 45)."""
    req = _lock_pending(req)
    dataset = req.dataset
    if not can_handle(user, dataset):
        raise PermissionDenied("reviewer_only", "只有提供部门数据专员或数据主管部门可以答复更正申请")
    reply, basis = _text(reply), _text(basis)
    errors: list[dict] = []
    if not agree:
        param = active_profile().param("open_refusal_basis_required")
        if not reply:
            errors.append(_err("reply", "不予更正的理由", "required", "不予更正须说明理由"))
        if param.value and not basis:
            cite = f"（{param.article}）" if param.article else ""
            errors.append(_err("basis", "依据", "required", f"不予更正须说明理由并提供依据{cite}"))
    for field, label, text in (("reply", "答复", reply), ("basis", "依据", basis)):
        if len(text) > TEXT_MAX:
            errors.append(_err(field, label, "too_long", f"{label}不超过{TEXT_MAX}个字"))
    if errors:
        raise ValidationFailed(errors)
    req.status = CorrectionStatus.AGREED if agree else CorrectionStatus.REFUSED
    req.reply, req.basis = reply, "" if agree else basis
    req.replied_by, req.replied_at = user, timezone.now()
    req.save()
    audit.record(
        "open.catalog_correction.agree" if agree else "open.catalog_correction.refuse",
        actor=user,
        object=req,
        detail={"dataset": dataset.name, "reply": reply[:300], "basis": basis[:300]},
    )
    duties.fulfil(CORRECTION_SUBJECT, req.pk, DUTY_REPLY, by=user, note=f"已答复：{req.get_status_display()}")
    notify_user(
        req.requester,
        "open.catalog_correction_replied",
        f"您对“{dataset.title}”的目录更正申请已答复：{req.get_status_display()}",
        body="；".join(t for t in (reply, f"依据：{basis}" if basis and not agree else "") if t)[:500],
        link="/open/account/#my-corrections",
    )
    if agree:
        authority = authority_for(dataset.provider)
        catalog = f"/catalog/resources/{dataset.resource.code}/"
        notify_departments(
            {d for d in (dataset.provider, authority) if d is not None},
            "open.catalog_correction_agreed",
            f"同意更正开放目录“{dataset.title}”的{req.get_part_display()}，请按目录修订流程更正",
            body=req.requested[:300],
            link=catalog,
        )
    return req


# ---------------------------------------------------------------- feedback (R-OPEN-12)


def _operators() -> list[Department]:
    return list(Department.objects.filter(kind=DepartmentKind.OPERATOR, is_active=True))


@transaction.atomic
def leave_feedback(
    user, *, dataset: OpenDataset | None = None, content: str, name: str = "", contact: str = ""
) -> Feedback:
    """Anyone may leave an opinion, signed in or not; contact details are optional."""
    errors: list[dict] = []
    content = _required(content, "content", "意见建议", "请填写意见建议", errors)
    name, contact = _text(name), _text(contact)
    if len(name) > 64:
        errors.append(_err("name", "称呼", "too_long", "称呼不超过64个字"))
    if len(contact) > 100:
        errors.append(_err("contact", "联系方式", "too_long", "联系方式不超过100个字"))
    if errors:
        raise ValidationFailed(errors)
    signed_in = getattr(user, "is_authenticated", False)
    fb = Feedback.objects.create(
        dataset=dataset,
        provider=dataset.provider if dataset else None,
        user=user if signed_in else None,
        name=name or (_who(user) if signed_in else ""),
        contact=contact,
        content=content,
    )
    audit.record(
        "open.feedback.leave",
        actor=user if signed_in else None,
        object=fb,
        detail={"dataset": dataset.name if dataset else "", "anonymous": not signed_in},
    )
    where = f"开放数据集“{dataset.title}”" if dataset else "开放平台"
    notify_departments(
        [dataset.provider] if dataset else _operators(),
        "open.feedback_received",
        f"{where}收到意见建议",
        body=content[:200],
        link="/open/manage/feedback/",
    )
    return fb


def can_reply_feedback(user, fb: Feedback) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if fb.dataset_id is None:
        return user.has_role(Role.OPERATOR)
    return services.can_review(user, fb.dataset.resource)


@transaction.atomic
def reply_feedback(user, fb: Feedback, reply: str) -> Feedback:
    fb = (
        Feedback.objects.select_for_update(of=("self",))
        .select_related("dataset__resource", "user")
        .get(pk=fb.pk)
    )
    if not can_reply_feedback(user, fb):
        raise PermissionDenied("feedback_reply_denied", "只有数据提供部门（平台意见由平台运维）可以答复")
    if fb.replied_at is not None:
        raise IllegalTransition("feedback_replied", "该意见建议已答复")
    errors: list[dict] = []
    reply = _required(reply, "reply", "答复", "请填写答复内容", errors)
    if errors:
        raise ValidationFailed(errors)
    fb.reply, fb.replied_by, fb.replied_at = reply, user, timezone.now()
    fb.save(update_fields=["reply", "replied_by", "replied_at"])
    audit.record("open.feedback.reply", actor=user, object=fb, detail={"reply": reply[:300]})
    if fb.user is not None:
        where = f"“{fb.dataset.title}”" if fb.dataset else "开放平台"
        notify_user(
            fb.user,
            "open.feedback_replied",
            f"您对{where}的意见建议已答复",
            body=reply[:500],
            link="/open/account/#my-feedback",
        )
    return fb


# ---------------------------------------------------------------- reads for the pages


def handled_providers(user) -> list[int]:
    """Departments whose datasets this officer answers for (its own, or those its authority covers)."""
    from .selectors import _reviewable_providers

    if not getattr(user, "is_authenticated", False):
        return []
    ids = _reviewable_providers(user)
    if user.has_role(Role.HEAD) and user.department_id and user.department_id not in ids:
        ids.append(user.department_id)  # the head approves extensions of its department's replies
    return ids


def manage_objections(user) -> list[dict]:
    """Datasets of these providers with objections: those waiting for a finding first."""
    ids = handled_providers(user)
    datasets = (
        OpenDataset.objects.filter(provider_id__in=ids, objections__isnull=False)
        .annotate(
            waiting=Count("objections", filter=Q(objections__status=ObjectionStatus.VERIFYING)),
            total=Count("objections"),
        )
        .select_related("provider")
        .order_by("-waiting", "-updated_at")
    )
    return list(datasets[:200])


def manage_corrections(user) -> QuerySet[CatalogCorrection]:
    return (
        CatalogCorrection.objects.filter(dataset__provider_id__in=handled_providers(user))
        .select_related("dataset__provider", "requester")
        .order_by("status", "-created_at")
    )


def manage_feedback(user) -> QuerySet[Feedback]:
    q = Q(provider_id__in=handled_providers(user))
    if user.has_role(Role.OPERATOR):
        q |= Q(dataset__isnull=True, provider__isnull=True)
    return Feedback.objects.filter(q).select_related("dataset", "provider", "user", "replied_by")


def can_see_summary(user) -> bool:
    return getattr(user, "is_authenticated", False) and user.has_role(Role.AUTHORITY, Role.OPERATOR)


def feedback_summary(year: int) -> dict:
    """Counts of feedback per month, per provider and per dataset in a year (the periodic analysis, CZ 29)."""
    start = dt.date(year, 1, 1)
    qs = Feedback.objects.filter(created_at__date__gte=start, created_at__date__lt=dt.date(year + 1, 1, 1))
    months = {
        m["month"].month if hasattr(m["month"], "month") else m["month"]: m
        for m in qs.annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(n=Count("id"), replied=Count("replied_at"))
        .order_by("month")
    }
    by_month = [
        {"month": i, "n": months.get(i, {}).get("n", 0), "replied": months.get(i, {}).get("replied", 0)}
        for i in range(1, 13)
    ]
    by_provider = list(
        qs.values("provider__name")
        .annotate(n=Count("id"), replied=Count("replied_at"))
        .order_by("-n", "provider__name")
    )
    by_dataset_month = list(
        qs.annotate(month=TruncMonth("created_at"))
        .values("month", "dataset__title", "dataset__name", "provider__name")
        .annotate(n=Count("id"), replied=Count("replied_at"))
        .order_by("month", "-n", "dataset__title")
    )
    objections = Objection.objects.filter(
        created_at__date__gte=start, created_at__date__lt=dt.date(year + 1, 1, 1)
    )
    corrections = CatalogCorrection.objects.filter(
        created_at__date__gte=start, created_at__date__lt=dt.date(year + 1, 1, 1)
    )
    return {
        "year": year,
        "total": sum(m["n"] for m in by_month),
        "by_month": by_month,
        "by_provider": by_provider,
        "by_dataset_month": by_dataset_month,
        "objections": objections.count(),
        "corrections": corrections.count(),
    }


def mine(user) -> dict:
    """The account page's lists: my objections, correction requests, feedback, and the notices telling
    me their outcomes (a public account has no access to the officers' inbox)."""
    from govshare.notifications.services import inbox

    return {
        "notices": list(inbox(user)[:20]),
        "objections": list(
            Objection.objects.filter(objector=user).select_related("dataset", "version", "reopened_version")[
                :100
            ]
        ),
        "corrections": list(CatalogCorrection.objects.filter(requester=user).select_related("dataset")[:100]),
        "feedback": list(Feedback.objects.filter(user=user).select_related("dataset")[:100]),
    }
