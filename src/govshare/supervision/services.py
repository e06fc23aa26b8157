"""Open, extend, fulfil and cancel obligations; the periodic check that reminds and marks overdue.

Every workflow opens its deadlines here, naming the profile parameter the number comes from, so
the number, the article and the working-day arithmetic live in one place (DESIGN §3).
"""

import datetime as dt

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from govshare.audit import services as audit
from govshare.calendar.policy import active_profile, work_calendar
from govshare.errors import IllegalTransition, PermissionDenied, ValidationFailed
from govshare.notifications.services import notify_departments
from govshare.orgs.models import Department, DepartmentKind, Role

from .models import CatalogTrigger, Extension, Filing, Obligation, ObligationStatus

ACTIVE = (ObligationStatus.OPEN, ObligationStatus.OVERDUE)


def _subject(obj) -> tuple[str, str]:
    return f"{obj._meta.app_label}.{obj._meta.model_name}", str(obj.pk)


def find_active(subject_type: str, subject_id, duty: str):
    return Obligation.objects.filter(
        subject_type=subject_type, subject_id=str(subject_id), duty=duty, status__in=ACTIVE
    )


def open_obligation(
    *,
    department: Department,
    duty: str,
    title: str,
    subject,
    subject_label: str,
    parameter: str,
    link: str = "",
    started_on: dt.date | None = None,
    due_on: dt.date | None = None,
    assignee=None,
    extension_parameter: str = "",
    extension_approver_role: str = "",
    subject_key: tuple[str, str] | None = None,
    skip_if_unset: bool = False,
) -> Obligation | None:
    """Open (or return the already open) obligation for a duty on a subject.

    The period comes from the active profile's `parameter`. When the regulation is silent the
    obligation is still tracked but has no due date — or is not opened at all with `skip_if_unset`,
    for duties that only exist where a regulation creates them.
    """
    subject_type, subject_id = subject_key or _subject(subject)
    existing = find_active(subject_type, subject_id, duty).first()
    if existing:
        return existing
    profile = active_profile()
    param = profile.param(parameter)
    if param.value is None and due_on is None and skip_if_unset:
        return None
    started_on = started_on or timezone.localdate()
    provisional = False
    period = None
    if due_on is None and param.value is not None and param.unit in ("working_days", "months"):
        period = int(param.value)
        cal = work_calendar()
        deadline = (
            cal.add_working_days(started_on, period)
            if param.unit == "working_days"
            else cal.add_months(started_on, period)
        )
        due_on, provisional = deadline.due, deadline.provisional
    elif due_on is not None:
        # A period whose last day is a rest day ends on the next working day (民法典 第二百零三条);
        # zero working days from a date is exactly that day or the next working one.
        deadline = work_calendar().add_working_days(due_on, 0)
        due_on, provisional = deadline.due, deadline.provisional
    ob = Obligation.objects.create(
        department=department,
        assignee=assignee,
        duty=duty,
        title=title,
        subject_type=subject_type,
        subject_id=subject_id,
        subject_label=subject_label[:200],
        link=link,
        requirement=param.requirement,
        article=param.article or "",
        profile=profile.code,
        parameter=parameter,
        period_unit=param.unit if period is not None else ("date" if due_on else ""),
        period=period,
        started_on=started_on,
        due_on=due_on,
        provisional=provisional,
        extension_parameter=extension_parameter,
        extension_approver_role=extension_approver_role,
    )
    audit.record(
        "supervision.obligation.open",
        object=ob,
        detail={"duty": duty, "subject": f"{subject_type}:{subject_id}", "department": department.pk},
    )
    due_text = f"，截止 {due_on:%Y-%m-%d}（{ob.article}）" if due_on else "（本地办法未规定时限）"
    notify_departments(
        [department],
        "obligation.opened",
        f"新的待办：{title}{due_text}",
        body=subject_label,
        link=link or "/obligations/",
    )
    return ob


def _close(ob: Obligation, status: str, by, note: str) -> Obligation:
    ob = Obligation.objects.select_for_update().get(pk=ob.pk)
    if not ob.is_active:
        raise IllegalTransition("obligation_closed", f"该事项已{ob.get_status_display()}")
    today = timezone.localdate()
    ob.fulfilled_late = status == ObligationStatus.FULFILLED and ob.due_on is not None and today > ob.due_on
    ob.status, ob.closed_at, ob.closed_by, ob.close_note = status, timezone.now(), by, note[:300]
    ob.save()
    action = (
        "supervision.obligation.fulfil"
        if status == ObligationStatus.FULFILLED
        else "supervision.obligation.cancel"
    )
    audit.record(action, actor=by, object=ob, detail={"duty": ob.duty, "late": bool(ob.fulfilled_late)})
    return ob


@transaction.atomic
def fulfil_obligation(ob: Obligation, by=None, note: str = "") -> Obligation:
    return _close(ob, ObligationStatus.FULFILLED, by, note)


def fulfil(subject_type: str, subject_id, duty: str, by=None, note: str = "") -> int:
    """Fulfil whatever obligation of this duty is running on the subject; 0 when none is."""
    done = 0
    for ob in find_active(subject_type, subject_id, duty):
        fulfil_obligation(ob, by, note)
        done += 1
    return done


@transaction.atomic
def cancel_obligation(ob: Obligation, by, reason: str) -> Obligation:
    if not reason.strip():
        raise ValidationFailed(
            [{"field": "reason", "label": "撤销理由", "code": "required", "message": "撤销须说明理由"}]
        )
    return _close(ob, ObligationStatus.CANCELLED, by, reason.strip())


# ---- extension requests: a workflow's provider asks, the approver the profile names decides ----------
# Correction tickets (corrections.ExtensionRequest, CZ 24) and conditional open data applications
# (opendata.ReplyExtension, NX 46) keep their own request rows, permissions, steps and notices; the
# checks and the decision are these, so an extension reads and behaves the same in both.

REQUEST_PENDING, REQUEST_APPROVED, REQUEST_REFUSED = "pending", "approved", "refused"  # both models' values


def extension_problems(reason: str, working_days, used: int, ceiling) -> list[dict]:
    """What is wrong with asking for `working_days` more, `used` already granted, under the profile's
    `ceiling` parameter (its value and article are quoted to the user)."""
    errors = []
    if not (reason or "").strip():
        errors.append(
            {"field": "reason", "label": "延期理由", "code": "required", "message": "延期须说明理由"}
        )
    if not isinstance(working_days, int) or working_days < 1 or used + working_days > int(ceiling.value):
        errors.append(
            {
                "field": "working_days",
                "label": "延长工作日",
                "code": "extension_exceeds_limit",
                "message": f"延期累计不得超过 {ceiling.value} 个工作日（{ceiling.article}），已延期 {used} 个工作日",
            }
        )
    return errors


def lock_pending_request(model, pk: int, *related: str):
    """The extension request (with `related` rows), row-locked, if it still awaits a decision."""
    req = model.objects.select_for_update().select_related(*related).get(pk=pk)
    if req.status != REQUEST_PENDING:
        raise IllegalTransition("extension_decided", f"该延期申请{req.get_status_display()}")
    return req


def decide_request(req, approver, *, approve: bool, note: str, ob: Obligation | None = None):
    """Approve (the obligation `ob` is extended, which checks the approver and the ceiling again) or
    refuse (not without a reason) a locked pending request; the caller records its own step."""
    note = (note or "").strip()
    if approve:
        req.new_due_on = extend_obligation(ob, approver, req.working_days, req.reason).new_due_on
    elif not note:
        raise ValidationFailed(
            [{"field": "note", "label": "审批意见", "code": "required", "message": "不予批准须说明理由"}]
        )
    req.status = REQUEST_APPROVED if approve else REQUEST_REFUSED
    req.decided_by, req.decided_at, req.decision_note = approver, timezone.now(), note
    req.save()
    return req


@transaction.atomic
def extend_obligation(ob: Obligation, approver, working_days: int, reason: str) -> Extension:
    """Extend within the profile's ceiling, approved by the role the regulation names (e.g. CZ 24)."""
    ob = Obligation.objects.select_for_update().get(pk=ob.pk)
    if not ob.is_active:
        raise IllegalTransition("obligation_closed", f"该事项已{ob.get_status_display()}，不能延期")
    if not ob.extension_parameter or ob.due_on is None:
        raise IllegalTransition("not_extendable", "本地办法未规定该事项的时限或延期")
    ceiling = active_profile().param(ob.extension_parameter)
    if ceiling.value is None:
        raise IllegalTransition("not_extendable", "本地办法未规定该事项可以延期")
    role = ob.extension_approver_role or Role.HEAD
    if not approver.has_role(role) or (role == Role.HEAD and approver.department_id != ob.department_id):
        raise PermissionDenied("extension_approver", "延期须由本地办法规定的负责人批准")
    used = ob.extensions.aggregate(s=Sum("working_days"))["s"] or 0
    errors = extension_problems(reason, working_days, used, ceiling)
    if errors:
        raise ValidationFailed(errors)
    deadline = work_calendar().add_working_days(ob.due_on, working_days)
    ext = Extension.objects.create(
        obligation=ob,
        working_days=working_days,
        reason=reason.strip()[:300],  # the column's length; a workflow keeps its full text on its own row
        old_due_on=ob.due_on,
        new_due_on=deadline.due,
        approver=approver,
    )
    ob.due_on, ob.provisional = deadline.due, ob.provisional or deadline.provisional
    if ob.status == ObligationStatus.OVERDUE and deadline.due >= timezone.localdate():
        ob.status = ObligationStatus.OPEN
    ob.reminded_at = None
    ob.save()
    notify_departments(
        [ob.department],
        "obligation.extended",
        f"已延期：{ob.title}，新的截止日 {deadline.due:%Y-%m-%d}",
        body=reason,
        link="/obligations/",
    )
    audit.record(
        "supervision.obligation.extend",
        actor=approver,
        object=ob,
        detail={"working_days": working_days, "new_due_on": deadline.due.isoformat()},
    )
    return ext


def check_due(today: dt.date | None = None) -> dict:
    """Remind before the due date and mark overdue after it; each happens once per obligation."""
    today = today or timezone.localdate()
    lead = active_profile().value("reminder_lead_working_days") or 0
    cal = work_calendar()
    reminded = overdue = 0
    for ob in Obligation.objects.filter(status=ObligationStatus.OPEN, due_on__lt=today).select_related(
        "department"
    ):
        marked = Obligation.objects.filter(pk=ob.pk, status=ObligationStatus.OPEN).update(
            status=ObligationStatus.OVERDUE, overdue_at=timezone.now()
        )
        if not marked:  # another tick got there first
            continue
        notify_departments(
            [ob.department],
            "obligation.overdue",
            f"已逾期：{ob.title}（截止 {ob.due_on:%Y-%m-%d}，{ob.article or '本地办法'}）",
            body=ob.subject_label,
            link="/obligations/",
        )
        overdue += 1
    for ob in Obligation.objects.filter(
        status=ObligationStatus.OPEN, reminded_at__isnull=True, due_on__isnull=False
    ).select_related("department"):
        remind_on = cal.add_working_days(ob.due_on, -int(lead)).due if lead else ob.due_on
        if today >= remind_on:
            Obligation.objects.filter(pk=ob.pk).update(reminded_at=timezone.now())
            notify_departments(
                [ob.department],
                "obligation.reminder",
                f"即将到期：{ob.title}，截止 {ob.due_on:%Y-%m-%d}",
                body=ob.subject_label,
                link="/obligations/",
            )
            reminded += 1
    return {"reminded": reminded, "overdue": overdue}


def recompute_provisional() -> int:
    """After a year's holiday data is loaded, re-derive every running deadline that was a guess."""
    cal = work_calendar()
    changed = 0
    for ob in Obligation.objects.filter(status__in=ACTIVE, provisional=True):
        extra = ob.extensions.aggregate(s=Sum("working_days"))["s"] or 0
        if ob.period_unit == "working_days" and ob.period is not None:
            d = cal.add_working_days(ob.started_on, ob.period + extra)
        elif ob.period_unit == "months" and ob.period is not None:
            d = cal.add_months(ob.started_on, ob.period)
            if extra:
                d = cal.add_working_days(d.due, extra)
        else:
            continue
        if (d.due, d.provisional) != (ob.due_on, ob.provisional):
            ob.due_on, ob.provisional = d.due, d.provisional
            if ob.status == ObligationStatus.OVERDUE and d.due >= timezone.localdate():
                ob.status = ObligationStatus.OPEN
            ob.save(update_fields=["due_on", "provisional", "status"])
            changed += 1
    return changed


# --- duties the regulations create outside a single workflow -------------------------------------------------


@transaction.atomic
def record_catalog_trigger(
    user, *, event: str, description: str, occurred_on: dt.date, resource=None
) -> Obligation:
    """A law revision or function change obliges the department to update its catalog (R-CAT-13)."""
    dept = user.department
    if dept is None or not user.has_role(Role.PROVIDER):
        raise PermissionDenied("officer_only", "只有部门数据专员可以登记目录更新事由")
    if event not in CatalogTrigger.Event.values:
        raise ValidationFailed(
            [{"field": "event", "label": "事由", "code": "invalid_choice", "message": "事由无效"}]
        )
    if not description.strip():
        raise ValidationFailed(
            [
                {
                    "field": "description",
                    "label": "情况说明",
                    "code": "required",
                    "message": "请说明法规修订或职能调整的情况",
                }
            ]
        )
    if occurred_on > timezone.localdate():
        raise ValidationFailed(
            [
                {
                    "field": "occurred_on",
                    "label": "发生日期",
                    "code": "future_date",
                    "message": "发生日期不能晚于今天",
                }
            ]
        )
    if resource is not None and resource.maintainer().pk != dept.pk:
        raise PermissionDenied("not_maintainer", "只能为本部门维护的目录登记更新事由")
    trigger = CatalogTrigger.objects.create(
        department=dept,
        resource=resource,
        event=event,
        description=description.strip(),
        occurred_on=occurred_on,
        recorded_by=user,
    )
    audit.record("supervision.catalog_trigger.record", actor=user, object=trigger, detail={"event": event})
    label = f"{trigger.get_event_display()}：{description.strip()}"
    subject = resource if resource is not None else dept
    return open_obligation(
        department=dept,
        duty="catalog.update",
        title="更新政务信息资源目录",
        subject=subject,
        subject_label=f"{resource.name if resource else dept.name} · {label}",
        parameter="catalog_update_working_days",
        started_on=occurred_on,
        link=f"/catalog/resources/{resource.code}/" if resource else "/catalog/new/",
    )


def file_record(user, kind: str, summary: str, period: str = "") -> Filing:
    """File a report or confirmation with the authority; it fulfils the matching running obligation."""
    dept = user.department
    if dept is None or not user.has_role(Role.PROVIDER, Role.CONSUMER, Role.AUTHORITY, Role.HEAD):
        raise PermissionDenied("officer_only", "只有部门数据专员或负责人可以报送")
    if kind not in Filing.Kind.values:
        raise ValidationFailed(
            [{"field": "kind", "label": "报送类型", "code": "invalid_choice", "message": "报送类型无效"}]
        )
    if not summary.strip():
        raise ValidationFailed(
            [{"field": "summary", "label": "内容", "code": "required", "message": "报送内容不能为空"}]
        )
    yearly = kind in (Filing.Kind.ANNUAL_REPORT, Filing.Kind.COUNTY_ANNUAL_REPORT)
    if yearly and not (period.isdigit() and len(period) == 4):
        raise ValidationFailed(
            [
                {
                    "field": "period",
                    "label": "所属期",
                    "code": "required",
                    "message": "年度报告须填写所属年度，如 2026",
                }
            ]
        )
    with transaction.atomic():
        filing = Filing.objects.create(
            department=dept, kind=kind, period=period, summary=summary.strip(), filed_by=user
        )
        audit.record(
            "supervision.filing.file", actor=user, object=filing, detail={"kind": kind, "period": period}
        )
        duty = {
            "county_change": "federation.county_filing",
            "annual_report": "supervision.annual_report",
            "county_annual_report": "supervision.county_annual_report",
            "maintenance": "catalog.maintenance",
        }[kind]
        for ob in Obligation.objects.filter(department=dept, duty=duty, status__in=ACTIVE):
            if not yearly or ob.subject_id.endswith(f":{period}"):
                fulfil_obligation(ob, user, f"已报送：{filing.get_kind_display()}")
    return filing


def ensure_periodic(today: dt.date | None = None) -> dict:
    """Open the recurring duties the profile creates: half-yearly maintenance (R-CAT-14) and annual
    reports (R-SUP-05). Each is opened once per period, never again after it was closed."""
    from govshare.catalog.models import Resource, ResourceStatus

    today = today or timezone.localdate()
    profile = active_profile()
    opened = 0
    if profile.value("catalog_maintenance_months"):
        providers = Department.objects.filter(
            is_active=True, resources__status__in=[ResourceStatus.PUBLISHED, ResourceStatus.RETIRING]
        ).distinct()
        for dept in providers:
            if find_active("orgs.department", dept.pk, "catalog.maintenance").exists():
                continue
            last = Filing.objects.filter(department=dept, kind=Filing.Kind.MAINTENANCE).first()
            first_publish = (
                Resource.objects.filter(provider=dept)
                .exclude(publish_date=None)
                .order_by("publish_date")
                .values_list("publish_date", flat=True)
                .first()
            )
            start = timezone.localdate(last.filed_at) if last else first_publish or today
            if open_obligation(
                department=dept,
                duty="catalog.maintenance",
                title="目录全面维护（每半年至少一次）",
                subject=dept,
                subject_label=dept.name,
                parameter="catalog_maintenance_months",
                started_on=start,
                link="/obligations/filings/",
            ):
                opened += 1
    for key, duty, kinds, title in (
        ("annual_report_due", "supervision.annual_report", None, "报送上一年度政务信息资源共享情况"),
        (
            "county_annual_report_due",
            "supervision.county_annual_report",
            "county_authority",
            "向市政府报送县级年度报告",
        ),
    ):
        due = profile.value(key)
        if due is None:
            continue
        year = today.year
        if today > due.on(year):
            # The yearly window has closed: a platform started later in the year does not invent a duty
            # that was already overdue before it existed. Next January opens the next one.
            continue
        period = str(year - 1)
        depts = Department.objects.filter(is_active=True)
        if kinds == "county_authority":
            depts = depts.filter(kind=DepartmentKind.AUTHORITY, level="county")
        else:
            depts = depts.exclude(kind__in=[DepartmentKind.AUTHORITY])
            if "platform_unit" not in (profile.value("annual_report_submitters") or ()):
                depts = depts.exclude(kind=DepartmentKind.OPERATOR)
        for dept in depts:
            subject_key = ("orgs.department", f"{dept.pk}:{period}")
            if Obligation.objects.filter(
                subject_type=subject_key[0], subject_id=subject_key[1], duty=duty
            ).exists():
                continue
            open_obligation(
                department=dept,
                duty=duty,
                title=f"{title}（{period}年度）",
                subject=dept,
                subject_key=subject_key,
                subject_label=f"{dept.name} {period}年度",
                parameter=key,
                started_on=dt.date(year, 1, 1),
                due_on=due.on(year),
                link="/obligations/filings/",
            )
            opened += 1
    return {"opened": opened}


def for_department(dept_id: int, user=None):
    q = Q(department_id=dept_id)
    if user is not None:
        q |= Q(assignee=user)
    return Obligation.objects.filter(q).select_related("department", "assignee")
