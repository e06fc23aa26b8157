"""The audit log as people read it: one filter, keyset pages, CSV and xlsx files (R-SEC-05, R-SEC-07).

The page, its export, the inspection package and the API all narrow `selectors.events_for` (who may see
what) with the same `EventFilter`, so a row on the page is a row in the file. Files carry every field a
leaf commits to, the time also in the receipt's UTC form, so a line can be matched with its receipt.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from urllib.parse import urlencode

from django.utils import timezone

from govshare import dates
from govshare.audit import selectors, services
from govshare.audit.models import AuditLeaf
from govshare.security.inputs import MAX_DB_INT

PAGE_SIZE = 50
# Row caps stated on the page (xlsx is written cell by cell in Python, about five times slower than CSV);
# a longer period is what the inspection package is for.
CSV_MAX_ROWS = 100_000
XLSX_MAX_ROWS = 20_000
RESULTS = {"ok": "成功", "denied": "拒绝", "error": "错误"}
# Action prefixes offered in the filter (the field takes any prefix).
ACTION_PREFIXES = [
    ("auth.", "登录"),
    ("security.", "账号安全"),
    ("catalog.", "资源目录"),
    ("collect.", "数据归集"),
    ("clients.", "应用系统与凭证"),
    ("sharing.", "共享流程"),
    ("share.", "共享数据调用"),
    ("corrections.", "疑义纠错"),
    ("open.", "数据开放"),
    ("supervision.", "督办"),
    ("audit.", "审计日志查阅与导出"),
]
COLUMNS = [
    "序号",
    "时间",
    "时间（UTC，与回执一致）",
    "操作人",
    "操作人编号",
    "部门编号",
    "部门",
    "应用系统",
    "动作",
    "对象类型",
    "对象编号",
    "用途",
    "办件编号",
    "结果",
    "请求编号",
    "来源地址",
    "详情（JSON）",
    "封存",
]
WIDTHS = [(0, 0, 10), (1, 2, 22), (3, 3, 14), (4, 5, 8), (6, 7, 20), (8, 8, 28), (9, 15, 14), (16, 16, 48)]
_TEXT_FIELDS = ("action", "result", "actor", "client_system", "object_type", "object_id")


@dataclass(frozen=True)
class EventFilter:
    since: dt.date | None = None
    until: dt.date | None = None
    action: str = ""  # a prefix: "sharing." or "sharing.grant.suspend"
    result: str = ""
    actor: str = ""
    client_system: str = ""
    object_type: str = ""
    object_id: str = ""
    department: int | None = None  # events caused by it or on what it owns / is party to

    def params(self) -> dict[str, str]:
        out = {}
        for k, v in asdict(self).items():
            if v in (None, ""):
                continue
            out[k] = v.isoformat() if isinstance(v, dt.date) else str(v)
        return out

    def query(self) -> str:
        return urlencode(self.params())

    def detail(self) -> dict:
        """The filter as an audit event's flat detail."""
        return {f"filter_{k}": v for k, v in self.params().items()}


def _clean(value) -> str:
    return str(value or "").replace("\x00", "").strip()[:200]


def parse(params) -> tuple[EventFilter, list[str]]:
    """A filter from a query string; what cannot be read is named and left out, never guessed."""
    problems: list[str] = []

    since = dates.text_day(_clean(params.get("since")), problems)
    until = dates.text_day(_clean(params.get("until")), problems)
    if since and until and since > until:
        problems.append("起始日期晚于截止日期")
    text = {k: _clean(params.get(k)) for k in _TEXT_FIELDS}
    if text["result"] and text["result"] not in RESULTS:
        problems.append(f"结果“{text['result']}”无效（成功、拒绝或错误）")
        text["result"] = ""
    department = _clean(params.get("department"))
    dept_id = int(department) if department.isdecimal() and int(department) <= MAX_DB_INT else None
    if department and dept_id is None:
        problems.append(f"部门“{department}”无效")
    return EventFilter(since=since, until=until, department=dept_id, **text), problems


def parse_before(params) -> int | None:
    raw = _clean(params.get("before"))
    return int(raw) if raw.isdecimal() and int(raw) <= MAX_DB_INT else None


# Dates beyond these bound nothing real; clamping them keeps UTC conversion of year 1 or 9999 from overflowing.
MIN_DAY, MAX_DAY = dt.date(1900, 1, 1), dt.date(9998, 12, 31)


def day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(min(max(day, MIN_DAY), MAX_DAY), dt.time.min))


def day_end(day: dt.date) -> dt.datetime:
    """The first instant after this local day."""
    return day_start(min(day, MAX_DAY) + dt.timedelta(days=1))


def apply(qs, f: EventFilter):
    if f.since:
        qs = qs.filter(occurred_at__gte=day_start(f.since))
    if f.until:
        qs = qs.filter(occurred_at__lt=day_end(f.until))
    if f.action:
        qs = qs.filter(action__startswith=f.action)
    if f.result:
        qs = qs.filter(result=f.result)
    if f.actor:
        qs = qs.filter(actor=f.actor)
    if f.client_system:
        qs = qs.filter(client_system=f.client_system)
    if f.object_type:
        qs = qs.filter(object_type=f.object_type)
    if f.object_id:
        qs = qs.filter(object_id=f.object_id)
    if f.department is not None:
        qs = qs.filter(selectors.department_scope([f.department]))
    return qs


def visible(user, f: EventFilter):
    """What this person may see, narrowed by the filter, newest first."""
    return apply(selectors.events_for(user), f)


def sealed_seqs(seqs: Iterable[int]) -> set[int]:
    """Which of these events are already in the signed tree (a receipt can be had)."""
    return set(AuditLeaf.objects.filter(seq__in=list(seqs)).values_list("seq", flat=True))


@dataclass(frozen=True)
class Row:
    event: object
    sealed: bool
    detail_text: str


def page(qs, before: int | None = None, size: int | None = None) -> tuple[list[Row], int | None]:
    """One page (keyset on seq, newest first) and the cursor of the next, None on the last page."""
    size = size or PAGE_SIZE
    if before is not None:
        qs = qs.filter(seq__lt=before)
    events = list(qs[: size + 1])
    sealed = sealed_seqs(e.seq for e in events[:size])
    rows = [
        Row(e, e.seq in sealed, json.dumps(e.detail, ensure_ascii=False, sort_keys=True) if e.detail else "")
        for e in events[:size]
    ]
    return rows, (rows[-1].event.seq if len(events) > size else None)


# ---------------------------------------------------------------- files


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    """Text a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _values(row, sealed: bool, tz) -> list:
    d = services.event_dict(row)
    when = row[1]
    local = when.astimezone(tz).isoformat(" ", "seconds")[:19] if isinstance(when, dt.datetime) else str(when)
    detail = d["detail"]
    return [
        d["seq"],
        local,
        d["occurred_at"],
        d["actor"],
        "" if d["actor_id"] is None else d["actor_id"],
        "" if d["department_id"] is None else d["department_id"],
        d["department_name"],
        d["client_system"],
        d["action"],
        d["object_type"],
        d["object_id"],
        d["purpose"],
        d["case_id"],
        RESULTS.get(d["result"], d["result"]),
        d["request_id"],
        d["source_ip"],
        json.dumps(detail, ensure_ascii=False, sort_keys=True, separators=(",", ":")) if detail else "",
        "已封存" if sealed else "未封存",
    ]


def iter_values(qs, limit: int | None = None, chunk: int = 1000) -> Iterator[list]:
    """Rows for a file, in the queryset's order; sealing is looked up once per chunk."""
    rows = qs.values_list(*services.FIELDS)
    if limit is not None:
        rows = rows[:limit]
    batch: list = []
    for r in rows.iterator(chunk_size=chunk):
        batch.append(r)
        if len(batch) == chunk:
            yield from _with_seal(batch)
            batch = []
    yield from _with_seal(batch)


def _with_seal(batch: list) -> Iterator[list]:
    if not batch:
        return
    sealed = sealed_seqs(r[0] for r in batch)
    tz = timezone.get_current_timezone()
    for r in batch:
        yield _values(r, r[0] in sealed, tz)


def write_csv(sink, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """UTF-8 with a BOM (Excel on a Chinese desktop), written to a binary sink in pieces; returns rows."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(columns)
    sink.write(("\ufeff" + buf.getvalue()).encode("utf-8"))
    buf.seek(0)
    buf.truncate()
    n = 0
    for row in rows:
        w.writerow([_cell(v) for v in row])
        n += 1
        if buf.tell() > 1 << 16:
            sink.write(buf.getvalue().encode("utf-8"))
            buf.seek(0)
            buf.truncate()
    sink.write(buf.getvalue().encode("utf-8"))
    return n


def write_xlsx(sink, sheet: str, columns: Sequence[str], rows: Iterable[Sequence], widths) -> int:
    """Row by row (xlsxwriter's constant-memory mode); integers are numbers, everything else text."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(sink, {"constant_memory": True, "strings_to_numbers": False})
    ws = wb.add_worksheet(sheet)
    bold = wb.add_format({"bold": True, "bg_color": "#F2F2F2"})
    for first, last, width in widths:
        ws.set_column(first, last, width)
    ws.freeze_panes(1, 0)
    ws.write_row(0, 0, columns, bold)
    n = 0
    number, string = ws.write_number, ws.write_string  # never ws.write: it would turn "=…" into a formula
    for n, values in enumerate(rows, start=1):
        for c, v in enumerate(values):
            if type(v) is int:
                number(n, c, v)
            elif v != "":
                string(n, c, str(v))
    wb.close()
    return n


def max_rows(fmt: str) -> int:
    return CSV_MAX_ROWS if fmt == "csv" else XLSX_MAX_ROWS


def export(qs, fmt: str, limit: int | None = None) -> tuple[object, int, bool]:
    """The filtered list as a temporary file (rewound), its row count and whether it was cut at `limit`."""
    limit = limit or max_rows(fmt)
    truncated = qs[limit : limit + 1].exists()
    fh = tempfile.TemporaryFile()
    values = iter_values(qs, limit)
    if fmt == "csv":
        n = write_csv(fh, COLUMNS, values)
    else:
        n = write_xlsx(fh, "审计日志", COLUMNS, values, WIDTHS)
    fh.seek(0)
    return fh, n, truncated
