"""Data quality per resource (R-COL-01), per department for the authority (R-COL-12), and the duty to
refresh data within the declared update cycle (R-CAT-17).

A `QualitySnapshot` is a measurement, not a decision: it is recomputed from the records and batches
(themselves audited when written) and kept once per resource per day. Freshness is always judged
against today from `Series.last_loaded_at`, so a page never shows "fresh" for a resource that went
stale since its snapshot was taken.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from dataclasses import dataclass

from django.db import DatabaseError, connection, transaction
from django.db.models import Max, Sum
from django.utils import timezone

from govshare.calendar.policy import work_calendar
from govshare.catalog.models import MountKind, Resource, ResourceStatus, UpdateCycle
from govshare.errors import NotFound, PermissionDenied
from govshare.orgs.models import Department, Role

from . import store
from .models import Batch, BatchError, BatchStatus, QualitySnapshot, Record, Series

log = logging.getLogger(__name__)

# R-CAT-17 (NX 17, 72; CS 8; CZ 9): every resource declares its 更新周期 and is flagged when not refreshed
# within it. The one table from a declared cycle to the period after the last load; a period ending on a
# rest day ends on the next working day (《民法典》第二百零三条), months per 第二百零二条. A cycle not listed
# here (不定期, blank) creates no duty.
CYCLE_INTERVALS: dict[str, tuple[str, int]] = {
    UpdateCycle.REALTIME: ("days", 1),
    UpdateCycle.DAILY: ("days", 1),
    UpdateCycle.WEEKLY: ("days", 7),
    UpdateCycle.MONTHLY: ("months", 1),
    UpdateCycle.QUARTERLY: ("months", 3),
    UpdateCycle.HALF_YEARLY: ("months", 6),
    UpdateCycle.YEARLY: ("months", 12),
}

VALIDITY_WINDOW_DAYS = 30  # validity and duplicates are measured over the batches of this many days
AFTER_LOAD_MAX_RECORDS = 200_000  # above this, a load leaves the recount to the scheduler tick
REFRESH_DUTY = "collect.refresh"
REFRESH_PARAMETER = "data_update_cadence"  # R-CAT-17; a text parameter, so due dates come from the cycle

LIVE = (ResourceStatus.PUBLISHED, ResourceStatus.RETIRING)
VIEW_ALL_ROLES = (Role.AUTHORITY, Role.AUDITOR, Role.EVALUATOR)
# batches whose rows were all validated; running ones are incomplete, failed ones never reached validation
MEASURED_STATUSES = (BatchStatus.COMMITTED, BatchStatus.PARTIAL, BatchStatus.REJECTED)


class Freshness:
    FRESH = "fresh"
    STALE = "stale"
    NEVER = "never"
    NO_CYCLE = "no_cycle"
    LABELS = {FRESH: "按期更新", STALE: "逾期未更新", NEVER: "尚未归集", NO_CYCLE: "不定期更新"}


# --- the update cycle ---------------------------------------------------------------------------------


def cycle_due(cycle: str, last_loaded_on: dt.date | None, calendar=None) -> dt.date | None:
    """The last day by which a resource loaded on `last_loaded_on` must be loaded again; None without a
    cycle. Pass `calendar` when computing many (one holiday-table lookup instead of one per call)."""
    interval = CYCLE_INTERVALS.get(cycle or "")
    if interval is None or last_loaded_on is None:
        return None
    cal = calendar or work_calendar()
    unit, n = interval
    if unit == "months":
        return cal.add_months(last_loaded_on, n).due
    return cal.add_working_days(last_loaded_on + dt.timedelta(days=n), 0).due


def cycle_label(cycle: str) -> str:
    return UpdateCycle(cycle).label if cycle in UpdateCycle.values else "未声明"


def _local_date(moment: dt.datetime | None) -> dt.date | None:
    return timezone.localdate(moment) if moment is not None else None


def freshness_of(resource: Resource, last_loaded_at, today: dt.date, calendar=None):
    """(freshness, due_by) judged today. A never-loaded resource is due one cycle after publication."""
    cycle = resource.update_cycle
    if last_loaded_at is None:
        return Freshness.NEVER, cycle_due(cycle, resource.publish_date, calendar)
    due = cycle_due(cycle, _local_date(last_loaded_at), calendar)
    if due is None:
        return Freshness.NO_CYCLE, None
    return (Freshness.STALE if today > due else Freshness.FRESH), due


# --- measuring ------------------------------------------------------------------------------------------


def _completeness_sql(codes: list[str]) -> tuple[str, list]:
    """One pass over the resource's live records counting, per item, the values that are present
    (not JSON null, not missing, not blank). Paths/keys are bound parameters, never spliced in."""
    trim = "BTRIM" if connection.vendor == "postgresql" else "TRIM"
    cols, params = [], []
    for code in codes:
        expr, p = store.value_sql(code)
        cols.append(f"COUNT(NULLIF({trim}({expr}), ''))")
        params += p
    table = connection.ops.quote_name(Record._meta.db_table)
    false = "FALSE" if connection.vendor == "postgresql" else "0"
    sql = f"SELECT COUNT(*){', ' if cols else ''}{', '.join(cols)} FROM {table} WHERE resource_id = %s AND deleted = {false}"
    return sql, params


def completeness_counts(resource: Resource, codes: list[str]) -> tuple[int, dict[str, int]]:
    """(live records, {item code: records with a value}) in one aggregate query."""
    # SQLite's path syntax has no escape for '"': such a code cannot be addressed and counts as absent.
    usable = [c for c in codes if connection.vendor == "postgresql" or '"' not in c]
    with connection.cursor() as cur:
        sql, params = _completeness_sql(usable)
        cur.execute(sql, [*params, resource.pk])
        total, *present = cur.fetchone()
    counts = dict.fromkeys(codes, 0)
    counts.update(zip(usable, present, strict=True))
    return int(total or 0), {c: int(v or 0) for c, v in counts.items()}


def _validity(resource: Resource, since: dt.datetime) -> dict:
    batches = Batch.objects.filter(resource=resource, created_at__gte=since, status__in=MEASURED_STATUSES)
    sums = batches.aggregate(total=Sum("rows_total"), valid=Sum("rows_valid"), rejected=Sum("rows_rejected"))
    submitted = sums["total"] or 0
    duplicates = BatchError.objects.filter(batch__in=batches, code="duplicate_key").count()
    return {
        "rows_submitted": submitted,
        "rows_rejected": sums["rejected"] or 0,
        "duplicates_rejected": duplicates,
        "validity_rate": round((sums["valid"] or 0) / submitted, 4) if submitted else None,
    }


def _last_loaded_at(resource: Resource):
    series = Series.objects.filter(resource=resource).values_list("last_loaded_at", flat=True).first()
    if series is not None:
        return series
    # a load that has not (yet) touched the series still counts as the provider's refresh
    return (
        Batch.objects.filter(resource=resource, status__in=(BatchStatus.COMMITTED, BatchStatus.PARTIAL))
        .aggregate(m=Max("finished_at"))
        .get("m")
    )


def compute_snapshot(resource: Resource, now: dt.datetime | None = None) -> QualitySnapshot:
    """Measure one resource now and keep it as today's snapshot (replacing an earlier one of today)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    codes = list(resource.items.order_by("position").values_list("code", flat=True))
    total, present = completeness_counts(resource, codes)
    completeness = {c: round(present[c] / total, 4) for c in codes} if total else {}
    last_loaded_at = _last_loaded_at(resource)
    freshness, due_by = freshness_of(resource, last_loaded_at, today)
    values = {
        "computed_at": now,
        "records": total,
        "completeness": completeness,
        **_validity(resource, now - dt.timedelta(days=VALIDITY_WINDOW_DAYS)),
        "last_loaded_at": last_loaded_at,
        "freshness": freshness,
        "due_by": due_by,
    }
    start = timezone.make_aware(dt.datetime.combine(today, dt.time.min))
    with transaction.atomic():
        snap = (
            QualitySnapshot.objects.select_for_update()
            .filter(resource=resource, computed_at__gte=start, computed_at__lt=start + dt.timedelta(days=1))
            .order_by("-computed_at")
            .first()
        )
        if snap is None:
            return QualitySnapshot.objects.create(resource=resource, **values)
        for field, value in values.items():
            setattr(snap, field, value)
        snap.save()
        return snap


# --- the refresh duty (R-CAT-17) -----------------------------------------------------------------------


def _subject_key(resource: Resource) -> tuple[str, str]:
    return "catalog.resource", str(resource.pk)


def after_load(resource: Resource, batch: Batch) -> QualitySnapshot | None:
    """Called after every load: a load that wrote data is the refresh the cycle asked for."""
    from govshare.supervision import services as supervision

    if batch.wrote_data:
        supervision.fulfil(
            *_subject_key(resource), REFRESH_DUTY, by=batch.actor, note=f"已归集数据（批次 {batch.pk}）"
        )
    live = Series.objects.filter(resource=resource).values_list("live_count", flat=True).first()
    if live is not None and live > AFTER_LOAD_MAX_RECORDS:
        return None  # the tick recounts it; a large recount must not hold up the loader
    return compute_snapshot(resource)


def _table_resources():
    return (
        Resource.objects.filter(status__in=LIVE, mount_kind=MountKind.TABLE)
        .select_related("provider", "series")
        .order_by("id")
    )


def _series_loaded_at(resource: Resource):
    try:
        return resource.series.last_loaded_at
    except Series.DoesNotExist:
        return None


def check_freshness(today: dt.date | None = None) -> dict:
    """Scheduler tick: open the refresh duty on every stale table resource (once per stale period) and
    refresh snapshots not yet taken today."""
    from govshare.supervision import services as supervision
    from govshare.supervision.models import Obligation

    today = today or timezone.localdate()
    cal = work_calendar()
    resources = list(_table_resources())
    stale = []  # (resource, period start, due date, loaded at all)
    for r in resources:
        if r.update_cycle not in CYCLE_INTERVALS:
            continue
        last = _series_loaded_at(r)
        start = _local_date(last) if last else r.publish_date
        if start is not None and today > (due := cycle_due(r.update_cycle, start, cal)):
            stale.append((r, start, due, last is not None))
    # a stale period is identified by its start (the last load, or publication): once its duty is closed
    # — fulfilled, or cancelled by the authority — it is not reopened until the resource is loaded again
    seen = set(
        Obligation.objects.filter(
            subject_type="catalog.resource",
            duty=REFRESH_DUTY,
            subject_id__in=[str(r.pk) for r, *_ in stale],
            started_on__in={start for _, start, *_ in stale},
        ).values_list("subject_id", "started_on")
    )
    opened = 0
    for r, start, due, last in stale:
        if (str(r.pk), start) in seen:
            continue
        label = cycle_label(r.update_cycle)
        state = f"最近归集 {start:%Y-%m-%d}" if last else f"{start:%Y-%m-%d} 发布以来尚未归集数据"
        supervision.open_obligation(
            department=r.provider,
            duty=REFRESH_DUTY,
            title=f"「{r.name}」未按更新周期（{label}）更新数据",
            subject=r,
            subject_key=_subject_key(r),
            subject_label=f"{r.code} {r.name} · {state}，应于 {due:%Y-%m-%d} 前更新",
            parameter=REFRESH_PARAMETER,
            started_on=start,
            due_on=due,
            link=f"/collect/{r.code}/",
        )
        opened += 1
    latest = dict(
        QualitySnapshot.objects.filter(resource__in=[r.pk for r in resources])
        .values_list("resource")
        .annotate(at=Max("computed_at"))
    )
    refreshed = failed = 0
    for r in resources:
        at = latest.get(r.pk)
        if at is None or timezone.localdate(at) < today:
            # no transaction around the count (on SQLite it would hold the write lock for seconds);
            # inside a caller's transaction, a savepoint lets PostgreSQL go on after a failure
            guard = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
            try:
                with guard:
                    compute_snapshot(r)
            except DatabaseError:  # one unreadable resource must not starve the others; retried next tick
                log.exception("quality snapshot of %s failed", r.code)
                failed += 1
            else:
                refreshed += 1
    return {"opened": opened, "snapshots": refreshed, "failed": failed}


# --- reads shared by pages and the API ------------------------------------------------------------------


def percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.1f}%"


def latest_snapshot(resource: Resource) -> QualitySnapshot | None:
    return QualitySnapshot.objects.filter(resource=resource).order_by("-computed_at").first()


def can_view_all(user) -> bool:
    return user.has_role(*VIEW_ALL_ROLES)


def can_view_resource(user, resource: Resource) -> bool:
    return can_view_all(user) or (
        user.department_id is not None and user.department_id == resource.provider_id
    )


def require_view_all(user) -> None:
    if not can_view_all(user):
        raise PermissionDenied(
            "quality_forbidden", "只有数据主管部门、审计和第三方评估人员可以查看各部门数据质量"
        )


def get_table_resource(user, code: str) -> Resource:
    resource = Resource.objects.select_related("provider", "series").filter(code=code).first()
    if resource is None or resource.status not in LIVE or resource.mount_kind != MountKind.TABLE:
        raise NotFound("resource_not_found", f"库表资源“{code}”不存在或未发布")
    if not can_view_resource(user, resource):
        raise PermissionDenied("quality_forbidden", "只能查看本部门提供的资源的数据质量")
    return resource


@dataclass
class ResourceQuality:
    """One resource's latest measurement with freshness judged today — what the panel and the API show."""

    resource: Resource
    snapshot: QualitySnapshot | None
    freshness: str
    due_by: dt.date | None
    last_loaded_at: dt.datetime | None
    items: list[dict]
    today: dt.date

    @property
    def stale(self) -> bool:
        return self.freshness == Freshness.STALE

    @property
    def late(self) -> bool:
        """Past the due date: stale, or never loaded a cycle after publication."""
        return self.due_by is not None and self.today > self.due_by

    @property
    def freshness_label(self) -> str:
        return Freshness.LABELS[self.freshness]

    @property
    def cycle_label(self) -> str:
        return cycle_label(self.resource.update_cycle)

    @property
    def window_days(self) -> int:
        return VALIDITY_WINDOW_DAYS

    @property
    def completeness_pct(self) -> str:
        return percent(self.mean_completeness)

    @property
    def validity_pct(self) -> str:
        return percent(self.snapshot.validity_rate if self.snapshot else None)

    @property
    def records(self) -> int:
        return self.snapshot.records if self.snapshot else 0

    @property
    def mean_completeness(self) -> float | None:
        ratios = list((self.snapshot.completeness or {}).values()) if self.snapshot else []
        return sum(ratios) / len(ratios) if ratios else None

    def as_dict(self) -> dict:
        s = self.snapshot
        return {
            "code": self.resource.code,
            "name": self.resource.name,
            "department_id": self.resource.provider_id,
            "update_cycle": self.resource.update_cycle,
            "computed_at": s.computed_at if s else None,
            "records": self.records,
            "mean_completeness": self.mean_completeness,
            "completeness": self.items,
            "rows_submitted": s.rows_submitted if s else 0,
            "rows_rejected": s.rows_rejected if s else 0,
            "duplicates_rejected": s.duplicates_rejected if s else 0,
            "validity_rate": s.validity_rate if s else None,
            "last_loaded_at": self.last_loaded_at,
            "freshness": self.freshness,
            "due_by": self.due_by,
            "late": self.late,
        }


def _quality(resource, snapshot, today, cal, names=None) -> ResourceQuality:
    last = _series_loaded_at(resource)
    if last is None and snapshot is not None:
        last = snapshot.last_loaded_at
    freshness, due = freshness_of(resource, last, today, cal)
    items = []
    if snapshot is not None and names is not None:
        for code, name in names:
            ratio = (snapshot.completeness or {}).get(code)
            items.append({"code": code, "name": name, "ratio": ratio, "pct": percent(ratio)})
    return ResourceQuality(resource, snapshot, freshness, due, last, items, today)


def resource_quality(resource: Resource, today: dt.date | None = None) -> ResourceQuality:
    """The panel's context: `{% include "collect/_quality_panel.html" with quality=... %}`."""
    names = list(resource.items.order_by("position").values_list("code", "name"))
    return _quality(
        resource, latest_snapshot(resource), today or timezone.localdate(), work_calendar(), names
    )


def _latest_by_resource(resource_ids) -> dict[int, QualitySnapshot]:
    latest = (
        QualitySnapshot.objects.filter(resource_id__in=resource_ids)
        .values("resource_id")
        .annotate(at=Max("computed_at"))
        .values_list("resource_id", "at")
    )
    wanted = dict(latest)
    snaps = QualitySnapshot.objects.filter(resource_id__in=list(wanted), computed_at__in=set(wanted.values()))
    return {s.resource_id: s for s in snaps if wanted.get(s.resource_id) == s.computed_at}


def department_resources(department: Department, today: dt.date | None = None) -> list[ResourceQuality]:
    resources = list(_table_resources().filter(provider=department))
    snaps = _latest_by_resource([r.pk for r in resources])
    today, cal = today or timezone.localdate(), work_calendar()
    rows = [_quality(r, snaps.get(r.pk), today, cal) for r in resources]
    order = {Freshness.STALE: 0, Freshness.NEVER: 1, Freshness.FRESH: 2, Freshness.NO_CYCLE: 3}
    rows.sort(key=lambda q: (order[q.freshness], _nulls_high(q.mean_completeness), q.resource.code))
    return rows


def _nulls_high(v):
    return 2.0 if v is None else v


SORTS = {
    # worst first: most overdue and never-loaded, then the lowest validity and completeness
    "worst": lambda d: (
        -d["stale"],
        -d["never_loaded"],
        _nulls_high(d["validity_rate"]),
        _nulls_high(d["mean_completeness"]),
        d["name"],
    ),
    "completeness": lambda d: (_nulls_high(d["mean_completeness"]), d["name"]),
    "validity": lambda d: (_nulls_high(d["validity_rate"]), d["name"]),
    "stale": lambda d: (-d["stale"], d["name"]),
    "never": lambda d: (-d["never_loaded"], d["name"]),
    "records": lambda d: (-d["records"], d["name"]),
    "name": lambda d: d["name"],
}


def department_table(today: dt.date | None = None, sort: str = "worst") -> list[dict]:
    """R-COL-12: one row per department that provides table resources, from each resource's latest
    snapshot. Completeness is the mean over resources with data of their mean item completeness;
    validity is weighted by the rows submitted."""
    today, cal = today or timezone.localdate(), work_calendar()
    resources = list(_table_resources())
    snaps = _latest_by_resource([r.pk for r in resources])
    by_dept: dict[int, dict] = {}
    for r in resources:
        q = _quality(r, snaps.get(r.pk), today, cal)
        d = by_dept.setdefault(
            r.provider_id,
            {
                "department_id": r.provider_id,
                "name": r.provider.name,
                "resources": 0,
                "with_data": 0,
                "records": 0,
                "_completeness": [],
                "_submitted": 0,
                "_valid": 0.0,
                "stale": 0,
                "never_loaded": 0,
            },
        )
        d["resources"] += 1
        if q.records:
            d["with_data"] += 1
            d["records"] += q.records
        if q.mean_completeness is not None:
            d["_completeness"].append(q.mean_completeness)
        s = q.snapshot
        if s is not None and s.rows_submitted and s.validity_rate is not None:
            d["_submitted"] += s.rows_submitted
            d["_valid"] += s.validity_rate * s.rows_submitted
        d["stale"] += q.freshness == Freshness.STALE
        d["never_loaded"] += q.freshness == Freshness.NEVER
    rows = []
    for d in by_dept.values():
        ratios, submitted = d.pop("_completeness"), d.pop("_submitted")
        valid = d.pop("_valid")
        d["mean_completeness"] = round(sum(ratios) / len(ratios), 4) if ratios else None
        d["validity_rate"] = round(valid / submitted, 4) if submitted else None
        rows.append(d)
    rows.sort(key=SORTS.get(sort, SORTS["worst"]))
    return rows
