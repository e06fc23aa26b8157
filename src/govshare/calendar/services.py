"""Loading the holiday override table (国务院办公厅部分节假日安排 / local corrections) into the database.

Used by the settings page (/settings/calendar/) and by ``govshare holidays import FILE``. A file is
parsed with :func:`govshare.calendar.workdays.parse_override_file`; any problem refuses the whole file
(nothing is written) with one error per offending line. A good file is upserted atomically, the
instance's working-day calendar is rebuilt, and open provisional obligations are recomputed.
"""

from __future__ import annotations

import logging
from datetime import date

from django.db import IntegrityError, transaction

from govshare.audit import services as audit
from govshare.errors import DomainError, PermissionDenied, ValidationFailed
from govshare.orgs.models import Role

from . import policy
from .models import HolidayOverride
from .workdays import FIRST_YEAR, LAST_YEAR, OverrideFileError, parse_override_file

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 1_000_000  # a year's notice is ~40 lines; this is far above any real file

# parse_override_file reports (line, Chinese message); these stable codes are derived from the message
_PROBLEM_CODES = (
    ("缺少表头", "missing_header"),
    ("文件为空", "empty_file"),
    ("应有3列", "column_count"),
    ("超出支持范围", "date_out_of_range"),
    ("无效", "invalid_date"),
    ("未知", "unknown_kind"),
    ("类型冲突", "conflicting_duplicate"),
)


def _problem_code(message: str) -> str:
    for needle, code in _PROBLEM_CODES:
        if needle in message:
            return code
    return "invalid_line"


def line_errors(problems: list[tuple[int, str]]) -> list[dict]:
    """ValidationFailed errors for an override file's problems: one per line, in line order."""
    return [
        {"field": f"line {n}", "label": f"第{n}行", "code": _problem_code(msg), "message": msg}
        for n, msg in sorted(problems, key=lambda p: p[0])
    ]


def _require_admin(user) -> None:
    if user is not None and not user.has_role(Role.AUTHORITY, Role.OPERATOR):
        raise PermissionDenied("calendar_admin_only", "只有数据主管部门或平台运维单位可以维护节假日安排")


def decode_file(data: bytes) -> str:
    """The text of an uploaded override file (UTF-8, BOM allowed), or ValidationFailed."""
    if len(data) > MAX_FILE_BYTES:
        raise ValidationFailed(
            [
                {
                    "field": "file",
                    "label": "文件",
                    "code": "too_large",
                    "message": f"文件过大（{len(data)} 字节，上限 {MAX_FILE_BYTES} 字节）",
                }
            ]
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ValidationFailed(
            [
                {
                    "field": f"line {line}",
                    "label": f"第{line}行",
                    "code": "not_utf8",
                    "message": "文件不是 UTF-8 编码（请以 UTF-8 另存为 CSV）",
                }
            ],
            message="文件不是 UTF-8 编码，未导入任何数据",
        ) from None


def _recompute_provisional() -> int:
    """Re-compute open provisional obligations (govshare.supervision), if that app provides it."""
    try:
        from govshare.supervision.services import recompute_provisional
    except ImportError as e:
        # only "the module or the function is not there (yet)"; a broken import inside it is a bug
        if getattr(e, "name", None) not in ("govshare.supervision", "govshare.supervision.services"):
            raise
        log.warning(
            "govshare.supervision.services.recompute_provisional unavailable; obligations not recomputed"
        )
        return 0
    return int(recompute_provisional() or 0)


def import_overrides(text: str, source: str, user=None) -> dict:
    """Load an override file (format: docs/calendar.md §3).

    Refuses the whole file on any problem — ``ValidationFailed`` whose errors name each line
    (``{"field": "line 3", "label": "第3行", "code", "message"}``) — and then writes nothing.
    Otherwise upserts one ``HolidayOverride`` per date of the file, atomically: a new date is created, a
    date whose kind or name differs is replaced (with the new source), an identical one is left alone,
    so re-importing a file changes nothing. Dates already stored but absent from the file are kept
    (use :func:`delete_year` to replace a year wholesale). Then the calendar is rebuilt and, if anything
    changed, open provisional obligations are recomputed.

    Returns ``{"created", "updated", "unchanged", "years", "recomputed"}``.
    """
    _require_admin(user)
    try:
        entries = parse_override_file(text)
    except OverrideFileError as e:
        errors = line_errors(e.problems)
        raise ValidationFailed(
            errors, message=f"节假日文件有误，未导入任何数据（{len(errors)} 处问题）"
        ) from None
    if not entries:
        raise ValidationFailed(
            [{"field": "file", "label": "文件", "code": "no_entries", "message": "文件中没有任何日期行"}],
            message="文件中没有任何日期行，未导入任何数据",
        )
    source = (source or "").strip()[: HolidayOverride._meta.get_field("source").max_length]
    name_max = HolidayOverride._meta.get_field("name").max_length
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    try:
        with transaction.atomic():
            stored = {
                o.date: o
                for o in HolidayOverride.objects.select_for_update().filter(
                    date__in=[e.date for e in entries]
                )
            }
            new = []
            for entry in entries:
                name = entry.name[:name_max]
                row = stored.get(entry.date)
                if row is None:
                    new.append(HolidayOverride(date=entry.date, kind=entry.kind, name=name, source=source))
                    counts["created"] += 1
                elif (row.kind, row.name) != (entry.kind, name):
                    row.kind, row.name, row.source = entry.kind, name, source
                    row.save(update_fields=["kind", "name", "source", "loaded_at"])
                    counts["updated"] += 1
                else:
                    counts["unchanged"] += 1
            HolidayOverride.objects.bulk_create(new)
            changed = counts["created"] + counts["updated"]
            if changed:
                policy.overrides_changed()
            recomputed = _recompute_provisional() if changed else 0
            audit.record(
                "calendar.overrides.import",
                actor=user,
                object_type="calendar.holidayoverride",
                detail={"source": source, **counts},
            )
    except IntegrityError:
        raise DomainError("concurrent_import", "另一次导入正在进行，请稍后重试") from None
    finally:
        # the calendar may have been built inside a transaction that did not commit: rebuild on next use
        policy.overrides_changed()
    return {**counts, "years": sorted({e.date.year for e in entries}), "recomputed": recomputed}


def delete_year(year: int, user=None) -> dict:
    """Remove every override of ``year`` (the year falls back to chinese_calendar or computed data).
    Returns ``{"deleted", "recomputed"}``."""
    _require_admin(user)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValidationFailed(
            [
                {
                    "field": "year",
                    "label": "年份",
                    "code": "year_out_of_range",
                    "message": f"年份应在 {FIRST_YEAR}–{LAST_YEAR} 之间",
                }
            ]
        )
    try:
        with transaction.atomic():
            deleted, _ = HolidayOverride.objects.filter(
                date__gte=date(year, 1, 1), date__lte=date(year, 12, 31)
            ).delete()
            if deleted:
                policy.overrides_changed()
            recomputed = _recompute_provisional() if deleted else 0
            audit.record(
                "calendar.overrides.delete_year",
                actor=user,
                object_type="calendar.holidayoverride",
                object_id=year,
                detail={"deleted": deleted},
            )
    finally:
        policy.overrides_changed()
    return {"deleted": deleted, "recomputed": recomputed}


def weekday(d: date) -> str:
    return "周" + "一二三四五六日"[d.weekday()]


SOURCE_LABELS = {
    "chinese_calendar": "官方数据（chinese_calendar）",
    "override": "已导入（官方通知）",
    "computed": "推算·临时",
}


def year_summary(year: int, calendar=None) -> dict:
    """What the instance's calendar says about ``year``, for the settings page and ``holidays list``:
    source, holiday blocks (runs of rest days that contain a named holiday), adjusted working days,
    and the overrides stored for it."""
    cal = calendar or policy.work_calendar()
    source = cal.year_source(year)
    stored = {
        o.date: o
        for o in HolidayOverride.objects.filter(date__gte=date(year, 1, 1), date__lte=date(year, 12, 31))
    }
    blocks: list[dict] = []
    workdays: list[dict] = []
    run: list[date] = []
    names: list[str] = []

    def close_run():
        if run and names:
            blocks.append(
                {
                    "start": run[0],
                    "end": run[-1],
                    "start_weekday": weekday(run[0]),
                    "end_weekday": weekday(run[-1]),
                    "days": len(run),
                    "names": "、".join(dict.fromkeys(names)),
                    "imported": any(d in stored for d in run),
                }
            )

    d = date(year, 1, 1)
    one = date.resolution
    while d.year == year:
        working = cal.is_working_day(d)
        name = cal.day_name(d)
        if working:
            close_run()
            run, names = [], []
            if d.weekday() >= 5 or (d in stored and stored[d].kind == HolidayOverride.Kind.WORKDAY):
                workdays.append(
                    {"date": d, "weekday": weekday(d), "name": name or "调休上班", "imported": d in stored}
                )
        else:
            run.append(d)
            if name:
                names.append(name.removesuffix("（补假）"))
        d += one
    close_run()
    return {
        "year": year,
        "source": source,
        "source_label": SOURCE_LABELS[source],
        "provisional": source == "computed",
        "blocks": blocks,
        "workdays": workdays,
        "overrides": list(stored.values()),
        "sources": sorted({o.source for o in stored.values() if o.source}),
    }
