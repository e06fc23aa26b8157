"""Every write to the catalog and its lists. Views and API handlers call these and nothing else writes."""

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from govshare.audit import services as audit
from govshare.calendar.policy import profile_value, work_calendar
from govshare.errors import DomainError, IllegalTransition, NotFound, PermissionDenied, ValidationFailed
from govshare.notifications.services import notify_departments
from govshare.orgs.models import Department, Role
from govshare.orgs.selectors import platform_authority
from govshare.supervision import services as duties

from . import rules
from .models import (
    Classification,
    Demand,
    InfoItem,
    NarrowingRecord,
    NegativeListEntry,
    NegativeStatus,
    Resource,
    ResourceRevision,
    ResourceStatus,
    ResourceVersion,
    Responsibility,
    ReviewComment,
    RevisionStatus,
    ShareType,
    SupplyLink,
)
from .search import reindex_resource, unindex_resource

log = logging.getLogger(__name__)


def rule_context() -> rules.RuleContext:
    return rules.RuleContext(
        open_implies_unconditional_share=bool(profile_value("open_implies_unconditional_share"))
    )


# --- permissions -------------------------------------------------------------------------------------------


def _require_officer(user, department: Department):
    """R-ORG-03: only an active officer of a department that has one may act for it."""
    if not user.has_role(Role.PROVIDER) or user.department_id != department.id:
        raise PermissionDenied("not_maintainer", f"只有{department.name}的数据专员可以编制和提交该目录")
    if not department.is_active or not department.active_officers().exists():
        raise PermissionDenied(
            "no_active_officer", f"{department.name}没有在岗的数据专员，不能提交或审批（R-ORG-03）"
        )


def _require_authority(user):
    if not user.has_role(Role.AUTHORITY):
        raise PermissionDenied("authority_only", "只有数据主管部门可以审核目录")
    _officer_department_ok(user)


def _officer_department_ok(user):
    dept = user.department
    if dept is None or not dept.active_officers().exists():
        raise PermissionDenied("no_active_officer", "所在部门没有在岗的数据专员，不能提交或审批（R-ORG-03）")


def _maintainer_for_payload(p: dict) -> Department:
    dept_id = (
        p["lead_department"]
        if p.get("catalog_kind") in ("base", "theme") and p.get("lead_department")
        else p.get("provider")
    )
    try:
        return Department.objects.get(pk=dept_id)
    except (Department.DoesNotExist, ValueError, TypeError):
        raise ValidationFailed(
            [rules.error("provider", "required", "资源提供方为必填项（R-CAT-03）")]
        ) from None


# --- payloads ----------------------------------------------------------------------------------------------


def snapshot(resource: Resource) -> dict:
    """The published entry as a payload: the shape revisions, versions and diffs are made of."""
    p = {
        f: getattr(resource, f)
        for f in rules.RESOURCE_FIELDS
        if f not in ("classification", "provider", "lead_department")
    }
    p["classification"] = resource.classification_id
    p["provider"] = resource.provider_id
    p["lead_department"] = resource.lead_department_id
    p["items"] = [
        {f: getattr(it, f) for f in (*rules.ITEM_FIELDS, "position")}
        for it in resource.items.all().order_by("position")
    ]
    return p


def _prepare(payload: dict) -> dict:
    p = rules.normalise(payload, rule_context())
    if p.get("classification"):
        cls = Classification.objects.filter(pk=p["classification"]).first()
        if cls is None:
            raise ValidationFailed(
                [rules.error("classification", "invalid_choice", f"资源分类“{p['classification']}”不存在")]
            )
        p["catalog_kind"] = cls.kind
        if cls.kind in ("base", "theme") and not p.get("lead_department") and cls.lead_department_id:
            p["lead_department"] = cls.lead_department_id
    for f in ("provider", "lead_department"):
        if p.get(f) in ("", None):
            p[f] = None
        else:
            try:
                p[f] = int(p[f])
            except (TypeError, ValueError):
                raise ValidationFailed([rules.error(f, "invalid_choice", f"{rules.LABELS[f]}无效")]) from None
            if not Department.objects.filter(pk=p[f], is_active=True).exists():
                raise ValidationFailed([rules.error(f, "invalid_choice", f"{rules.LABELS[f]}不存在或已停用")])
    errors = rules.draft_errors(p)
    if errors:
        raise ValidationFailed(errors)
    return p


# --- registration and revisions ----------------------------------------------------------------------------


def _next_sequence(classification: Classification) -> int:
    top = Resource.objects.filter(classification=classification).aggregate(m=Max("sequence"))["m"] or 0
    return top + 1


@transaction.atomic
def create_resource(user, payload: dict, reason: str = "新编目录") -> ResourceRevision:
    """Register a new entry: the code is fixed now, the content stays a draft until published."""
    p = _prepare(payload)
    if not p.get("classification"):
        raise ValidationFailed([rules.error("classification", "required", "资源分类为必填项（R-CAT-03）")])
    _require_officer(user, _maintainer_for_payload(p))
    cls = Classification.objects.get(pk=p["classification"])
    for _attempt in range(5):
        seq = _next_sequence(cls)
        try:
            with transaction.atomic():
                resource = Resource.objects.create(
                    code=f"{cls.code}/{seq:06d}",
                    classification=cls,
                    sequence=seq,
                    catalog_kind=cls.kind,
                    name=p["name"],
                    provider_id=p["provider"],
                    lead_department_id=p["lead_department"],
                    created_by=user,
                )
            break
        except IntegrityError:
            continue
    else:  # pragma: no cover - five concurrent registrations in one classification
        raise DomainError("code_conflict", "资源代码分配冲突，请重试", status=409)
    revision = ResourceRevision.objects.create(resource=resource, payload=p, reason=reason, author=user)
    audit.record("catalog.resource.create", actor=user, object=resource, detail={"code": resource.code})
    return revision


def open_revision(resource: Resource) -> ResourceRevision | None:
    return resource.revisions.filter(
        status__in=[
            RevisionStatus.DRAFT,
            RevisionStatus.SUBMITTED,
            RevisionStatus.RETURNED,
            RevisionStatus.SCHEDULED,
        ]
    ).first()


@transaction.atomic
def start_revision(user, resource: Resource, reason: str) -> ResourceRevision:
    """Propose a change to a published entry; the live entry stays as it is until the change is published."""
    resource = Resource.objects.select_for_update().get(pk=resource.pk)
    if resource.status != ResourceStatus.PUBLISHED:
        raise IllegalTransition("not_published", "只有已发布的目录可以发起变更")
    _require_officer(user, resource.maintainer())
    if open_revision(resource):
        raise IllegalTransition("revision_open", "该目录已有一个进行中的变更，请先处理")
    if not reason.strip():
        raise ValidationFailed([rules.error("reason", "required", "变更原因必须填写", "变更原因")])
    revision = ResourceRevision.objects.create(
        resource=resource,
        payload=snapshot(resource),
        reason=reason.strip(),
        author=user,
        base_version=resource.version,
    )
    audit.record("catalog.revision.start", actor=user, object=revision, detail={"resource": resource.code})
    return revision


def _lock_revision(revision: ResourceRevision) -> ResourceRevision:
    return ResourceRevision.objects.select_for_update().select_related("resource").get(pk=revision.pk)


@transaction.atomic
def update_revision(
    user, revision: ResourceRevision, payload: dict, reason: str | None = None
) -> ResourceRevision:
    revision = _lock_revision(revision)
    if revision.status not in (RevisionStatus.DRAFT, RevisionStatus.RETURNED):
        raise IllegalTransition("not_editable", f"{revision.get_status_display()}状态的目录不能修改")
    p = _prepare(payload)
    resource = revision.resource
    if p.get("classification") != resource.classification_id:
        raise ValidationFailed(
            [
                rules.error(
                    "classification",
                    "immutable",
                    "资源分类决定资源代码，登记后不能修改；如需更换请撤回后新编目录",
                )
            ]
        )
    # The department that maintains the entry now decides, and a draft cannot be handed to another one.
    _require_officer(user, resource.maintainer())
    if not resource.version:
        _require_officer(user, _maintainer_for_payload(p))
    revision.payload = p
    if reason is not None and reason.strip():
        revision.reason = reason.strip()
    revision.save()
    if not resource.version:
        Resource.objects.filter(pk=resource.pk).update(
            name=p["name"],
            provider_id=p["provider"] or resource.provider_id,
            lead_department_id=p["lead_department"],
        )
    audit.record("catalog.revision.update", actor=user, object=revision, detail={"resource": resource.code})
    return revision


@transaction.atomic
def submit_revision(user, revision: ResourceRevision) -> ResourceRevision:
    revision = _lock_revision(revision)
    if revision.status not in (RevisionStatus.DRAFT, RevisionStatus.RETURNED):
        raise IllegalTransition("not_submittable", f"{revision.get_status_display()}状态的目录不能提交")
    p = _prepare(revision.payload)
    resource = revision.resource
    _require_officer(user, resource.maintainer() if resource.version else _maintainer_for_payload(p))
    errors = rules.publish_errors(p)
    if errors:
        raise ValidationFailed(errors, message=f"目录不完整，不能提交：{errors[0]['message']}")
    old = snapshot(resource) if resource.version else None
    revision.payload = p
    revision.narrows_unconditional = bool(rules.narrowing(old, p))
    revision.status = RevisionStatus.SUBMITTED
    revision.submitted_at = timezone.now()
    revision.save()
    ReviewComment.objects.create(
        revision=revision, author=user, action="submit", body=revision.reason or "提交审核"
    )
    # Submitting the update discharges a running R-CAT-13 duty on this entry or on the department.
    duties.fulfil("catalog.resource", resource.pk, "catalog.update", by=user, note="已提交目录更新")
    duties.fulfil("orgs.department", user.department_id, "catalog.update", by=user, note="已提交目录更新")
    authority = platform_authority()
    if authority is not None:
        notify_departments(
            [authority],
            "catalog.submitted",
            f"目录待审核：{p['name']}",
            link=f"/catalog/revisions/{revision.pk}/",
        )
        duties.open_obligation(
            department=authority,
            duty="catalog.review",
            title="审核目录更新申请",
            subject=revision,
            subject_label=f"{p['name']}（{resource.code}）",
            parameter="catalog_update_review_working_days",
            skip_if_unset=True,
            link=f"/catalog/revisions/{revision.pk}/",
        )
    audit.record("catalog.revision.submit", actor=user, object=revision, detail={"resource": resource.code})
    return revision


@transaction.atomic
def return_revision(user, revision: ResourceRevision, comment: str) -> ResourceRevision:
    revision = _lock_revision(revision)
    _require_authority(user)
    if revision.status != RevisionStatus.SUBMITTED:
        raise IllegalTransition("not_submitted", f"{revision.get_status_display()}状态的目录不能退回")
    if not comment.strip():
        raise ValidationFailed([rules.error("comment", "required", "退回时必须填写审核意见", "审核意见")])
    revision.status = RevisionStatus.RETURNED
    revision.decided_by, revision.decided_at = user, timezone.now()
    revision.save()
    duties.fulfil("catalog.resourcerevision", revision.pk, "catalog.review", by=user, note="已退回")
    ReviewComment.objects.create(revision=revision, author=user, action="return", body=comment.strip())
    notify_departments(
        [revision.resource.maintainer()],
        "catalog.returned",
        f"目录被退回：{revision.payload.get('name')}",
        body=comment.strip(),
        link=f"/catalog/revisions/{revision.pk}/",
    )
    audit.record("catalog.revision.return", actor=user, object=revision)
    return revision


@transaction.atomic
def withdraw_revision(user, revision: ResourceRevision) -> ResourceRevision:
    revision = _lock_revision(revision)
    if revision.status not in (RevisionStatus.DRAFT, RevisionStatus.SUBMITTED, RevisionStatus.RETURNED):
        raise IllegalTransition("not_withdrawable", f"{revision.get_status_display()}状态的目录不能撤回")
    _require_officer(user, revision.resource.maintainer())
    revision.status = RevisionStatus.WITHDRAWN
    revision.save()
    for ob in duties.find_active("catalog.resourcerevision", revision.pk, "catalog.review"):
        duties.cancel_obligation(ob, user, "编制部门已撤回")
    audit.record("catalog.revision.withdraw", actor=user, object=revision)
    return revision


def _users_of(resource: Resource) -> set[Department]:
    """Departments that rely on an entry: those whose demands it answers (grants join them later)."""
    depts = set(Department.objects.filter(demands__supplies__resource=resource).distinct())
    depts.discard(resource.provider)
    return depts


def _open_notice(user, duty: str, title: str, subject, resource: Resource, effective_on, link: str) -> None:
    """Track a notice period (R-CAT-15) on the approving department until the change takes effect."""
    if user.department is not None:
        duties.open_obligation(
            department=user.department,
            duty=duty,
            title=title,
            subject=subject,
            subject_label=f"{resource.name}（{resource.code}）",
            parameter="catalog_change_notice_months",
            due_on=effective_on,
            link=link,
        )


def _notice_months() -> int | None:
    value = profile_value("catalog_change_notice_months")
    return int(value) if value else None


@transaction.atomic
def publish_revision(
    user,
    revision: ResourceRevision,
    comment: str = "",
    confirm_narrowing: bool = False,
    narrowing_reason: str = "",
) -> ResourceRevision:
    """Approve and publish. A change to a live entry waits out the profile's notice period (R-CAT-15)."""
    revision = _lock_revision(revision)
    _require_authority(user)
    if revision.status != RevisionStatus.SUBMITTED:
        raise IllegalTransition("not_submitted", f"{revision.get_status_display()}状态的目录不能发布")
    resource = Resource.objects.select_for_update().get(pk=revision.resource_id)
    if resource.version and resource.status != ResourceStatus.PUBLISHED:
        raise IllegalTransition("not_published", f"{resource.get_status_display()}状态的目录不能再发布变更")
    if resource.version != revision.base_version:
        raise IllegalTransition("stale_revision", "该变更基于旧版本，目录已被他人更新，请退回后重新编制")
    p = _prepare(revision.payload)
    errors = rules.publish_errors(p)
    if errors:
        raise ValidationFailed(errors, message=f"目录不完整，不能发布：{errors[0]['message']}")
    old = snapshot(resource) if resource.version else None
    narrowed = rules.narrowing(old, p)
    if narrowed and not (confirm_narrowing and narrowing_reason.strip()):
        raise DomainError(
            "narrowing_needs_confirmation",
            "该变更缩小了无条件共享范围，须由主管部门确认并说明理由后才能发布（R-CAT-11）",
            {"narrowing": narrowed},
            status=409,
        )
    now = timezone.now()
    revision.payload = p
    revision.decided_by, revision.decided_at = user, now
    duties.fulfil("catalog.resourcerevision", revision.pk, "catalog.review", by=user, note="已审核通过")
    ReviewComment.objects.create(
        revision=revision, author=user, action="publish", body=comment.strip() or "审核通过"
    )
    if narrowed:
        audit.record(
            "catalog.revision.narrowing_confirm",
            actor=user,
            object=revision,
            detail={"resource": resource.code, "reason": narrowing_reason.strip()[:500]},
        )
        NarrowingRecord.objects.create(
            resource=resource,
            revision=revision,
            description="；".join(narrowed),
            reason=narrowing_reason.strip(),
            approved_by=user,
            approved_at=now,
        )
    months = _notice_months() if resource.version else None
    if months:
        due = work_calendar().add_months(timezone.localdate(), months)
        revision.status = RevisionStatus.SCHEDULED
        revision.effective_on = due.due
        revision.save()
        _open_notice(
            user,
            "catalog.change_notice",
            "目录变更提前通知期满后生效",
            revision,
            resource,
            due.due,
            f"/catalog/revisions/{revision.pk}/",
        )
        notify_departments(
            _users_of(resource),
            "catalog.change_announced",
            f"目录变更预告：{resource.name} 将于 {due.due:%Y-%m-%d} 生效",
            body=revision.reason,
            link=f"/catalog/resources/{resource.code}/",
        )
        audit.record(
            "catalog.revision.publish",
            actor=user,
            object=revision,
            detail={"resource": resource.code, "scheduled": True, "narrowed": bool(narrowed)},
        )
        return revision
    _apply(revision, resource, old, p, approved_by=user, when=now)
    audit.record(
        "catalog.revision.publish",
        actor=user,
        object=revision,
        detail={"resource": resource.code, "scheduled": False, "narrowed": bool(narrowed)},
    )
    return revision


def _sensitivity(payload: dict | None) -> set[tuple[str, bool, bool]]:
    """The sealed items, and whether each is the key or a lookup item: what the stored rows depend on."""
    return {
        (it["code"], bool(it.get("is_primary")), bool(it.get("is_indexed")))
        for it in (payload or {}).get("items", [])
        if it.get("is_sensitive")
    }


def _apply(revision: ResourceRevision, resource: Resource, old: dict | None, p: dict, approved_by, when):
    for f in rules.RESOURCE_FIELDS:
        if f in ("classification", "provider", "lead_department"):
            continue
        setattr(resource, f, p[f])
    resource.provider_id = p["provider"]
    resource.lead_department_id = p["lead_department"]
    resource.provider_code = Department.objects.get(pk=p["provider"]).uscc
    resource.version += 1
    resource.status = ResourceStatus.PUBLISHED
    if resource.publish_date is None:
        resource.publish_date = timezone.localdate(when)
    resource.save()
    resource.items.all().delete()
    InfoItem.objects.bulk_create(
        [
            InfoItem(resource=resource, **{f: it[f] for f in (*rules.ITEM_FIELDS, "position")})
            for it in p["items"]
        ]
    )
    ResourceVersion.objects.create(
        resource=resource,
        version=resource.version,
        snapshot=p,
        diff=rules.diff(old, p),
        reason=revision.reason,
        changed_by=revision.author,
        approved_by=approved_by,
        changed_at=when,
    )
    revision.status = RevisionStatus.PUBLISHED
    revision.save()
    if p["share_type"] == ShareType.NONE and not resource.negative_entries.filter(item__isnull=True).exists():
        # The authority has just reviewed the basis with the entry, so the negative-list row is in force.
        NegativeListEntry.objects.create(
            resource=resource,
            legal_basis=p["legal_basis"],
            status=NegativeStatus.CONFIRMED,
            proposed_by=revision.author,
            reviewed_by=approved_by,
            reviewed_at=when,
            review_comment="随目录审核确认",
        )
    refresh_responsibilities(resource, today=timezone.localdate(when))
    reindex_resource(resource)
    if _sensitivity(old) != _sensitivity(p):
        # Rows already loaded are rewritten to the new marks in the background; loads wait (R-SEC-04).
        from govshare.collect.reseal import mark_pending

        mark_pending(resource)
    duties.fulfil("catalog.resourcerevision", revision.pk, "catalog.change_notice", note="变更已生效")
    if resource.provider.level == "county":
        # A county's catalog change is filed with the city authority (NX 23, R-FED-07).
        duties.open_obligation(
            department=resource.provider,
            duty="federation.county_filing",
            title="县级目录变更向市级数据主管部门报备",
            subject=resource,
            subject_label=f"{resource.name}（第{resource.version}版）",
            parameter="county_filing_working_days",
            skip_if_unset=True,
            link="/obligations/filings/",
        )
    if old is not None:
        notify_departments(
            _users_of(resource),
            "catalog.changed",
            f"目录已更新：{resource.name}（第{resource.version}版）",
            body=revision.reason,
            link=f"/catalog/resources/{resource.code}/",
        )
    from govshare.collect.elements import bind_items  # lazy: collect imports the catalog (R-COL-02)

    bind_items(resource)


def may_retire(user, resource: Resource) -> bool:
    """The authority may retire any entry; its maintainer too, unless the profile reserves it (SR 9)."""
    if user.has_role(Role.AUTHORITY):
        return True
    if profile_value("catalog_change_needs_platform_approval"):
        return False
    return user.has_role(Role.PROVIDER) and user.department_id == resource.maintainer().pk


@transaction.atomic
def retire_resource(user, resource: Resource, reason: str) -> Resource:
    """Take an entry out of the catalog, after the profile's notice period where it sets one (R-CAT-15)."""
    resource = Resource.objects.select_for_update().get(pk=resource.pk)
    if resource.status != ResourceStatus.PUBLISHED:
        raise IllegalTransition("not_published", f"{resource.get_status_display()}状态的目录不能下线")
    if not may_retire(user, resource):
        if profile_value("catalog_change_needs_platform_approval"):
            raise PermissionDenied(
                "retire_not_allowed", "本地办法规定目录下线须经平台管理单位（数据主管部门）审核"
            )
        raise PermissionDenied("not_maintainer", "只有目录维护部门的数据专员或数据主管部门可以下线目录")
    if user.has_role(Role.AUTHORITY):
        _require_authority(user)
    else:
        _require_officer(user, resource.maintainer())
    if not reason.strip():
        raise ValidationFailed([rules.error("reason", "required", "下线原因必须填写", "下线原因")])
    if open_revision(resource):
        # Otherwise approving that change later would publish the entry again after it was retired.
        raise IllegalTransition("revision_open", "该目录有进行中的变更，请先撤回或审结后再下线")
    today = timezone.localdate()
    months = _notice_months()
    resource.retire_reason = reason.strip()
    resource.retire_announced_at = timezone.now()
    users = _users_of(resource)
    if months:
        resource.retire_effective_on = work_calendar().add_months(today, months).due
        resource.status = ResourceStatus.RETIRING
        resource.save()
        _open_notice(
            user,
            "catalog.retire_notice",
            "目录下线提前通知期满后生效",
            resource,
            resource,
            resource.retire_effective_on,
            f"/catalog/resources/{resource.code}/",
        )
        notify_departments(
            users,
            "catalog.retire_announced",
            f"目录下线预告：{resource.name} 将于 {resource.retire_effective_on:%Y-%m-%d} 下线",
            body=reason,
            link=f"/catalog/resources/{resource.code}/",
        )
        reindex_resource(resource)
        audit.record("catalog.resource.retire", actor=user, object=resource, detail={"scheduled": True})
        return resource
    resource.retire_effective_on = today
    _retire_now(resource)
    audit.record("catalog.resource.retire", actor=user, object=resource, detail={"scheduled": False})
    notify_departments(
        users,
        "catalog.retired",
        f"目录已下线：{resource.name}",
        body=reason,
        link=f"/catalog/resources/{resource.code}/",
    )
    return resource


def _retire_now(resource: Resource):
    resource.status = ResourceStatus.RETIRED
    resource.save()
    duties.fulfil("catalog.resource", resource.pk, "catalog.retire_notice", note="已下线")
    Responsibility.objects.filter(resource=resource, until__isnull=True).update(
        until=resource.retire_effective_on
    )
    unindex_resource(resource)


def apply_due_changes(today: dt.date | None = None) -> dict:
    """Run by the periodic tick: scheduled changes and retirements whose notice period has passed.

    Each change is its own transaction, so one that fails is logged and retried next tick without
    holding back the others.
    """
    today = today or timezone.localdate()
    applied = retired = failed = 0
    due = ResourceRevision.objects.filter(status=RevisionStatus.SCHEDULED, effective_on__lte=today)
    for revision_id in due.values_list("pk", flat=True):
        try:
            with transaction.atomic():
                revision = ResourceRevision.objects.select_for_update().get(pk=revision_id)
                resource = Resource.objects.select_for_update().get(pk=revision.resource_id)
                if revision.status != RevisionStatus.SCHEDULED:
                    continue
                if resource.status != ResourceStatus.PUBLISHED:
                    revision.status = RevisionStatus.WITHDRAWN
                    revision.save()
                    audit.record(
                        "catalog.revision.drop_due",
                        object=revision,
                        result="denied",
                        detail={"resource": resource.code, "status": resource.status},
                    )
                    continue
                _apply(
                    revision,
                    resource,
                    snapshot(resource),
                    revision.payload,
                    approved_by=revision.decided_by,
                    when=timezone.now(),
                )
                audit.record(
                    "catalog.revision.apply_due", object=revision, detail={"resource": resource.code}
                )
                applied += 1
        except Exception:  # logged and retried on the next tick; the others still go through
            log.exception("applying scheduled catalog change %s failed", revision_id)
            failed += 1
    due = Resource.objects.filter(status=ResourceStatus.RETIRING, retire_effective_on__lte=today)
    for resource_id in due.values_list("pk", flat=True):
        try:
            with transaction.atomic():
                resource = Resource.objects.select_for_update().get(pk=resource_id)
                if resource.status != ResourceStatus.RETIRING:
                    continue
                _retire_now(resource)
                notify_departments(
                    _users_of(resource),
                    "catalog.retired",
                    f"目录已下线：{resource.name}",
                    body=resource.retire_reason,
                    link=f"/catalog/resources/{resource.code}/",
                )
                audit.record("catalog.resource.retire_due", object=resource)
                retired += 1
        except Exception:  # as above
            log.exception("retiring catalog entry %s failed", resource_id)
            failed += 1
    return {"applied": applied, "retired": retired, "failed": failed}


# --- responsibility list (R-CAT-22) ------------------------------------------------------------------------


def refresh_responsibilities(resource: Resource, today: dt.date) -> None:
    """Keep the derived 责任清单 in step with the published entry, closing rows that no longer hold."""
    wanted = {
        (
            resource.provider_id,
            Responsibility.Duty.PROVIDE,
        ): f"按{resource.get_update_cycle_display()}更新数据"
    }
    if resource.share_type in (ShareType.UNCONDITIONAL, ShareType.CONDITIONAL):
        wanted[(resource.provider_id, Responsibility.Duty.SHARE)] = resource.get_share_type_display()
    if resource.open_type in ("unconditional", "conditional"):
        wanted[(resource.provider_id, Responsibility.Duty.OPEN)] = resource.get_open_type_display()
    current = {(r.department_id, r.duty): r for r in resource.responsibilities.filter(until__isnull=True)}
    for key, row in current.items():
        if key not in wanted or wanted[key] != row.detail:
            row.until = today
            row.save(update_fields=["until"])
    for key, detail in wanted.items():
        row = current.get(key)
        if row is None or row.detail != detail:
            Responsibility.objects.create(
                department_id=key[0], resource=resource, duty=key[1], detail=detail, since=today
            )


# --- demand, supply and negative lists ---------------------------------------------------------------------


@transaction.atomic
def create_demand(
    user,
    *,
    service_item: str,
    data_name: str,
    item_names=(),
    source_department=None,
    service_item_code: str = "",
    note: str = "",
) -> Demand:
    if not user.has_role(Role.PROVIDER, Role.CONSUMER) or user.department_id is None:
        raise PermissionDenied("officer_only", "只有部门数据专员可以登记需求清单")
    errors = []
    if not service_item.strip():
        errors.append(rules.error("service_item", "required", "事项名称不能为空", "事项名称"))
    if not data_name.strip():
        errors.append(rules.error("data_name", "required", "所需数据不能为空", "所需数据"))
    if errors:
        raise ValidationFailed(errors)
    demand = Demand.objects.create(
        department=user.department,
        service_item=service_item.strip(),
        service_item_code=service_item_code.strip(),
        data_name=data_name.strip(),
        item_names=[n.strip() for n in item_names if n and n.strip()],
        source_department=source_department,
        note=note.strip(),
        created_by=user,
    )
    audit.record("catalog.demand.create", actor=user, object=demand)
    return demand


@transaction.atomic
def link_supply(user, demand: Demand, resource: Resource) -> SupplyLink:
    """The provider confirms its published entry answers a demand (R-CAT-19)."""
    if not resource.is_live:
        raise IllegalTransition("not_published", "只有已发布的目录可以列入供给清单")
    _require_officer(user, resource.provider)
    link, created = SupplyLink.objects.get_or_create(
        demand=demand, resource=resource, defaults={"confirmed_by": user}
    )
    if created:
        audit.record("catalog.supply.link", actor=user, object=link, detail={"demand": demand.pk})
    return link


@transaction.atomic
def propose_negative(
    user, resource: Resource, legal_basis: str, item: InfoItem | None = None
) -> NegativeListEntry:
    _require_officer(user, resource.provider)
    if not legal_basis.strip():
        raise ValidationFailed(
            [
                rules.error(
                    "legal_basis",
                    "legal_basis_required",
                    "列入负面清单必须提供法律法规或政策依据（R-CAT-20）",
                )
            ]
        )
    if item is not None and item.resource_id != resource.id:
        raise NotFound("item_not_found", "信息项不属于该目录")
    entry = NegativeListEntry.objects.create(
        resource=resource,
        item=item,
        item_name=item.name if item else "",
        legal_basis=legal_basis.strip(),
        proposed_by=user,
    )
    audit.record("catalog.negative.propose", actor=user, object=entry, detail={"resource": resource.code})
    return entry


@transaction.atomic
def review_negative(user, entry: NegativeListEntry, approve: bool, comment: str = "") -> NegativeListEntry:
    _require_authority(user)
    entry = NegativeListEntry.objects.select_for_update().get(pk=entry.pk)
    if entry.status != NegativeStatus.PROPOSED:
        raise IllegalTransition("already_reviewed", "该负面清单条目已审核")
    if not approve and not comment.strip():
        raise ValidationFailed([rules.error("comment", "required", "不予确认时必须说明理由", "审核意见")])
    entry.status = NegativeStatus.CONFIRMED if approve else NegativeStatus.REJECTED
    entry.reviewed_by, entry.reviewed_at, entry.review_comment = user, timezone.now(), comment.strip()
    entry.save()
    audit.record("catalog.negative.review", actor=user, object=entry, detail={"approve": bool(approve)})
    return entry
