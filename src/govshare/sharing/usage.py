"""A grant's usage log (调用记录, R-SEC-05, R-SEC-07): the delivery gate's audit events, as rows and as files.

The gate writes one audit event per call (object_type "sharing.grant", object_id = grant pk); this module
only reads them, so the page, the downloads and the API all show the same thing. Who may read a grant's
log is decided by selectors.get_grant; every read is itself audited by the caller ("sharing.usage.view").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.utils import timezone

from govshare import tables
from govshare.audit.models import AuditEvent

# Gate actions and how a person names them.
ACTIONS = {
    "share.records": "接口查询",
    "share.verify": "核验",
    "share.changes": "增量同步",
    "share.export": "批量导出",
    "share.download": "下载",
    "share.interface": "接口代理",
}
RESULTS = {"ok": "成功", "denied": "拒绝", "error": "错误"}
COLUMNS = [
    "时间",
    "应用系统",
    "调用部门",
    "操作",
    "信息项",
    "返回条数",
    "结果",
    "拒绝原因",
    "办件编号",
    "用途",
]
PAGE_SIZE = 50


@dataclass(frozen=True)
class UsageRow:
    seq: int
    occurred_at: dt.datetime
    client_system: str
    department: str
    action: str
    items: str
    returned: int | None
    result: str
    ok: bool
    reason: str
    case_id: str
    purpose: str

    def values(self) -> list:
        return [
            timezone.localtime(self.occurred_at).strftime("%Y-%m-%d %H:%M:%S"),
            self.client_system,
            self.department,
            self.action,
            self.items,
            "" if self.returned is None else self.returned,
            self.result,
            self.reason,
            self.case_id,
            self.purpose,
        ]


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def usage_events(grant, since: dt.date | None = None, until: dt.date | None = None):
    """The gate's events for this grant between two local dates (both inclusive), newest first."""
    qs = AuditEvent.objects.filter(object_type="sharing.grant", object_id=str(grant.pk), action__in=ACTIONS)
    if since:
        qs = qs.filter(occurred_at__gte=_day_start(since))
    if until:
        qs = qs.filter(occurred_at__lt=_day_start(until + dt.timedelta(days=1)))
    return qs.order_by("-seq")


def _item_names(grant) -> dict[str, str]:
    return dict(grant.resource.items.values_list("code", "name"))


def _row(event: AuditEvent, names: dict[str, str]) -> UsageRow:
    d = event.detail or {}
    codes = [c for c in str(d.get("items") or "").split(",") if c]
    returned = d.get("returned")
    return UsageRow(
        seq=event.seq,
        occurred_at=event.occurred_at,
        client_system=event.client_system,
        department=event.department_name,
        action=ACTIONS.get(event.action, event.action),
        items="、".join(names.get(c, c) for c in codes),
        returned=returned if isinstance(returned, int) and not isinstance(returned, bool) else None,
        result=RESULTS.get(event.result, event.result),
        ok=event.result == "ok",
        reason=str(d.get("reason") or ""),
        case_id=event.case_id,
        purpose=event.purpose,
    )


def usage_page(
    grant, since=None, until=None, before: int | None = None, size: int = PAGE_SIZE
) -> tuple[list[UsageRow], int | None]:
    """One page (keyset on seq) and the cursor of the next, None on the last page."""
    qs = usage_events(grant, since, until)
    if before is not None:
        qs = qs.filter(seq__lt=before)
    events = list(qs[: size + 1])
    names = _item_names(grant)
    rows = [_row(e, names) for e in events[:size]]
    return rows, (rows[-1].seq if len(events) > size else None)


def usage_rows(grant, since=None, until=None) -> Iterator[UsageRow]:
    names = _item_names(grant)
    for e in usage_events(grant, since, until).iterator(chunk_size=2000):
        yield _row(e, names)


def _safe(value) -> str | int:
    """Text that a spreadsheet would run as a formula is prefixed with an apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def usage_csv(grant, since=None, until=None) -> bytes:
    return tables.csv_bytes(
        COLUMNS, ([_safe(v) for v in row.values()] for row in usage_rows(grant, since, until))
    )


def usage_xlsx(grant, since=None, until=None) -> bytes:
    widths = [(0, 0, 20), (1, 3, 16), (4, 4, 36), (5, 7, 10), (8, 9, 24)]
    return tables.xlsx_bytes(
        "调用记录", COLUMNS, (row.values() for row in usage_rows(grant, since, until)), widths
    )
