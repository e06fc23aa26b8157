"""Reads of the record store for the provider's own pages and API (other departments read via the gate)."""

from __future__ import annotations

import csv
import io

from django.db.models import QuerySet

from govshare.catalog.models import Resource
from govshare.collect.models import Batch, BatchError, Record, RecordHistory, Series
from govshare.errors import NotFound, PermissionDenied

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


def changes(resource: Resource, after: int = 0, limit: int = 100) -> list[Record]:
    """Records changed after sequence `after`, tombstones included, oldest change first."""
    return list(Record.objects.filter(resource=resource, seq__gt=after).order_by("seq")[:limit])


def record(resource: Resource, key: str) -> Record:
    rec = Record.objects.filter(resource=resource, key=key).first()
    if rec is None:
        raise NotFound("record_not_found", "没有这条记录")
    return rec


def history(resource: Resource, key: str) -> list[RecordHistory]:
    return list(RecordHistory.objects.filter(resource=resource, key=key).order_by("-seq"))


def latest_records(resource: Resource, limit: int = 20) -> list[Record]:
    return list(Record.objects.filter(resource=resource, deleted=False).order_by("-seq")[:limit])


def _report_rows(batch: Batch):
    for e in BatchError.objects.filter(batch=batch).order_by("row", "id").iterator(chunk_size=2000):
        yield (e.row, e.item_name, e.item_code, e.value, e.code, e.message)


def report_csv(batch: Batch) -> bytes:
    """UTF-8 with BOM so Excel on a Chinese Windows desktop opens it without garbling."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(REPORT_COLUMNS)
    w.writerows(_report_rows(batch))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def report_xlsx(batch: Batch) -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False})
    ws = wb.add_worksheet("问题明细")
    bold = wb.add_format({"bold": True, "bg_color": "#F2F2F2"})
    text = wb.add_format({"num_format": "@"})
    ws.write_row(0, 0, REPORT_COLUMNS, bold)
    for r, values in enumerate(_report_rows(batch), start=1):
        ws.write_number(r, 0, values[0])
        for c, v in enumerate(values[1:], start=1):
            ws.write_string(r, c, str(v), text)
    ws.set_column(0, 0, 8)
    ws.set_column(1, 2, 16)
    ws.set_column(3, 3, 24)
    ws.set_column(4, 4, 14)
    ws.set_column(5, 5, 60)
    ws.freeze_panes(1, 0)
    wb.close()
    return buf.getvalue()
