"""Reads of the record store for the provider's own pages and API (other departments read via the gate)."""

from __future__ import annotations

from django.db.models import QuerySet

from govshare import tables
from govshare.catalog.models import Resource
from govshare.collect.models import Batch, BatchError, Record, RecordHistory, Series
from govshare.errors import NotFound, PermissionDenied
from govshare.security import fields

REPORT_COLUMNS = ("行号", "信息项", "信息项代码", "值", "问题代码", "原因")


def may_read_own(user, resource: Resource) -> bool:
    """The provider department and the platform authority see what was loaded."""
    return bool(
        user is not None
        and user.is_authenticated
        and (user.department_id == resource.provider_id or user.has_role("authority"))
    )


def require_own(user, resource: Resource) -> None:
    if not may_read_own(user, resource):
        raise PermissionDenied("not_provider", "只有资源提供部门和主管部门可以查看归集的数据")


def series(resource: Resource) -> Series | None:
    return Series.objects.filter(resource=resource).first()


def batches_for(resource: Resource) -> QuerySet[Batch]:
    return Batch.objects.filter(resource=resource).select_related("actor").order_by("-id")


def opened(resource: Resource, recs: list) -> list:
    """The provider's own records with sensitive items opened and the key as written (R-SEC-04).

    Records and history rows come back with `data` opened and `key` the primary item's value; a
    tombstone of a blinded key keeps the stored index (it has no data to read the value from)."""
    sealer = fields.sealer_for(resource)
    if not sealer:
        return recs
    for r in recs:
        stored = r.key
        r.data = sealer.open(stored, r.data)
        if sealer.primary_sealed and r.data:
            r.key = str(r.data.get(sealer.primary, stored))
    return recs


def changes(resource: Resource, after: int = 0, limit: int = 100) -> list[Record]:
    """Records changed after sequence `after`, tombstones included, oldest change first."""
    return opened(
        resource, list(Record.objects.filter(resource=resource, seq__gt=after).order_by("seq")[:limit])
    )


def record(resource: Resource, key: str) -> Record:
    stored = fields.sealer_for(resource).stored_key(key)
    rec = Record.objects.filter(resource=resource, key=stored).first()
    if rec is None:
        raise NotFound("record_not_found", "没有这条记录")
    return opened(resource, [rec])[0]


def history(resource: Resource, key: str) -> list[RecordHistory]:
    stored = fields.sealer_for(resource).stored_key(key)
    return opened(
        resource, list(RecordHistory.objects.filter(resource=resource, key=stored).order_by("-seq"))
    )


def latest_records(resource: Resource, limit: int = 20) -> list[Record]:
    return opened(
        resource, list(Record.objects.filter(resource=resource, deleted=False).order_by("-seq")[:limit])
    )


def _report_rows(batch: Batch):
    for e in BatchError.objects.filter(batch=batch).order_by("row", "id").iterator(chunk_size=2000):
        yield (e.row, e.item_name, e.item_code, e.value, e.code, e.message)


def report_csv(batch: Batch) -> bytes:
    return tables.csv_bytes(REPORT_COLUMNS, _report_rows(batch))


def report_xlsx(batch: Batch) -> bytes:
    widths = [(0, 0, 8), (1, 2, 16), (3, 3, 24), (4, 4, 14), (5, 5, 60)]
    return tables.xlsx_bytes("问题明细", REPORT_COLUMNS, _report_rows(batch), widths)
