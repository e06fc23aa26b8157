"""The working-day clock behind every legal deadline (时限). Pure Python, no Django.

Legal rules (see docs/calendar.md):

- 《中华人民共和国民法典》第二百零一条: the day of the triggering event is not counted; counting starts the
  next day. "Within N working days of X" therefore ends on the N-th working day after X. N = 0 is our
  convention: X itself if X is a working day, else the next working day.
- 第二百零二条: a period of N months ends on the corresponding day of the month N months later, or on that
  month's last day if it has no such day.
- 第二百零三条: if the last day is a 法定休假日 (weekends included), the period ends on the first working
  day after it.
- Working days follow the State Council's annual holiday notice (调休 per 放假办法 第七条 included: an
  adjusted Saturday is a working day). Per year the source is, in order: the ``chinese_calendar`` package (official notices,
  2004–2026); an override table that lists the whole year's notice; else the statutory days computed
  from 《全国年节及纪念日放假办法》(2024年修订, 国务院令第795号, 2025-01-01 起施行) 第二条 and 第六条
  (补假), which makes every date of that year *provisional*. Single override entries win over every
  source, day by day.

Speed: a contiguous span of years is kept as one sorted array of working-day ordinals, so every query
is a bisect plus an index lookup.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import json
import math
import re
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from chinese_calendar import constants as _cc
from lunardate import LunarDate

FIRST_YEAR, LAST_YEAR = 1900, 2099  # what lunardate can convert
HOLIDAY, WORKDAY = "holiday", "workday"

_CC_NAMES = {h.value: h.chinese for h in _cc.Holiday}
_CC_YEARS = frozenset(d.year for d in _cc.holidays)

BASIS_WORKING_DAYS = (
    "《中华人民共和国民法典》第二百零一条：开始的当日不计入，自下一日开始计算；"
    "工作日依国务院公布的节假日安排（含调休）与《全国年节及纪念日放假办法》计算"
)
BASIS_WORKING_DAYS_ZERO = (
    "期限为0个工作日：当日为工作日的为当日，否则为其后第一个工作日（平台约定）；"
    "工作日依国务院公布的节假日安排（含调休）与《全国年节及纪念日放假办法》计算"
)
BASIS_MONTHS = (
    "《中华人民共和国民法典》第二百零一条（开始的当日不计入）、第二百零二条（到期月的对应日为期间的最后一日，"
    "没有对应日的，月末日为最后一日）"
)
BASIS_MONTHS_SHIFTED = BASIS_MONTHS + "、第二百零三条（最后一日是法定休假日的，以休假日结束的次日为最后一日）"


@dataclass(frozen=True, slots=True)
class Deadline:
    """A computed legal deadline: the last day to act, whether it rests on computed (non-official) holiday
    data, and the legal rule applied."""

    due: date
    provisional: bool
    basis: str


@dataclass(frozen=True, slots=True)
class Override:
    """One day of an official holiday notice (or a local correction): holiday or adjusted working day."""

    date: date
    kind: str
    name: str = ""

    def __post_init__(self):
        if self.kind not in (HOLIDAY, WORKDAY):
            raise ValueError(f"未知的类型 unknown kind: {self.kind!r}（应为 holiday 或 workday）")


# --- statutory holidays (全国年节及纪念日放假办法, 2024年修订) -------------------------------------------

# Earth's heliocentric longitude, VSOP87 (Bretagnon & Francou 1988) truncated as in Meeus, Astronomical
# Algorithms ch. 32 / app. III, keeping terms ≥ 2e-6 rad in L0: about 1 arc-second, i.e. well under 2 minutes
# of time for the 清明 instant, checked against a full ephemeris for 1900–2100 in the tests.
_VSOP_L = (
    (
        (175347046, 0, 0),
        (3341656, 4.6692568, 6283.07585),
        (34894, 4.6261, 12566.1517),
        (3497, 2.7441, 5753.3849),
        (3418, 2.8289, 3.5231),
        (3136, 3.6277, 77713.7715),
        (2676, 4.4181, 7860.4194),
        (2343, 6.1352, 3930.2097),
        (1324, 0.7425, 11506.7698),
        (1273, 2.0371, 529.691),
        (1199, 1.1096, 1577.3435),
        (990, 5.233, 5884.927),
        (902, 2.045, 26.298),
        (857, 3.508, 398.149),
        (780, 1.179, 5223.694),
        (753, 2.533, 5507.553),
        (505, 4.583, 18849.228),
        (492, 4.205, 775.523),
        (357, 2.92, 0.067),
        (317, 5.849, 11790.629),
        (284, 1.899, 796.298),
        (271, 0.315, 10977.079),
        (243, 0.345, 5486.778),
        (206, 4.806, 2544.314),
        (205, 1.869, 5573.143),
        (202, 2.458, 6069.777),
    ),
    (
        (628331966747, 0, 0),
        (206059, 2.678235, 6283.07585),
        (4303, 2.6351, 12566.1517),
        (425, 1.59, 3.523),
        (119, 5.796, 26.298),
        (109, 2.966, 1577.344),
    ),
    ((52919, 0, 0), (8720, 1.0721, 6283.0758), (309, 0.867, 12566.152), (27, 0.05, 3.52)),
    ((289, 5.844, 6283.076), (35, 0, 0), (17, 5.49, 12566.15)),
    ((114, 3.142, 0),),
)
_JD_ORDINAL = 1721424.5  # Julian Day of 0001-01-01 00:00 UT is ordinal + this


def _sun_longitude(jde: float) -> float:
    """Apparent geocentric ecliptic longitude of the Sun, degrees, of date (Meeus ch. 25, 22)."""
    tau = (jde - 2451545.0) / 365250
    s = sum(sum(a * math.cos(b + c * tau) for a, b, c in series) * tau**k for k, series in enumerate(_VSOP_L))
    t = tau * 10
    om = math.radians(125.04452 - 1934.136261 * t)
    ls, lm = math.radians(280.4665 + 36000.7698 * t), math.radians(218.3165 + 481267.8813 * t)
    nutation = (
        -17.20 * math.sin(om) - 1.32 * math.sin(2 * ls) - 0.23 * math.sin(2 * lm) + 0.21 * math.sin(2 * om)
    )
    # +180°: heliocentric Earth → geocentric Sun; FK5 correction, nutation, aberration (arc-seconds)
    return (math.degrees(s / 1e8) + 180 + (-0.09033 + nutation - 20.4898) / 3600) % 360


@cache
def qingming(year: int) -> date:
    """清明 (the Sun reaches 15° ecliptic longitude), as a date in China Standard Time (UTC+8)."""
    jde = date(year, 4, 5).toordinal() + _JD_ORDINAL
    for _ in range(4):  # Newton: the Sun moves ≈0.9856°/day
        jde += ((15.0 - _sun_longitude(jde) + 180) % 360 - 180) / 0.9856
    delta_t = -20 + 32 * ((year - 1820) / 100) ** 2  # TT−UT, seconds (Morrison & Stephenson); ±1 min here
    return date.fromordinal(math.floor(jde - delta_t / 86400 + 8 / 24 - _JD_ORDINAL))


def _check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"年份 {year} 超出工作日历支持范围 year out of range ({FIRST_YEAR}–{LAST_YEAR})")


@cache
def _statutory_blocks(year: int) -> tuple[tuple[str, tuple[date, ...]], ...]:
    """全国年节及纪念日放假办法 第二条 (2024年修订) — the days off for all citizens, festival by festival."""
    _check_year(year)
    new_year = LunarDate(year, 1, 1).to_solar_date()
    return (
        ("元旦", (date(year, 1, 1),)),
        ("春节", tuple(new_year + timedelta(days=k) for k in range(-1, 3))),  # 除夕 … 正月初三
        ("清明节", (qingming(year),)),
        ("劳动节", (date(year, 5, 1), date(year, 5, 2))),
        ("端午节", (LunarDate(year, 5, 5).to_solar_date(),)),
        ("中秋节", (LunarDate(year, 8, 15).to_solar_date(),)),
        ("国庆节", (date(year, 10, 1), date(year, 10, 2), date(year, 10, 3))),
    )


def statutory_holidays(year: int, *, substitutes: bool = True) -> dict[date, str]:
    """Statutory days off of ``year`` by the 2024 rules, with 补假 (第六条: a statutory day that falls on a
    weekend is made up on a working day) placed, by convention, on the first free weekdays after the
    festival. The State Council's notice decides the real placement; these dates are provisional."""
    days: dict[date, str] = {}
    blocks = sorted(_statutory_blocks(year), key=lambda b: b[1][0])
    for name, block in blocks:
        days.update(dict.fromkeys(block, name))
    if substitutes:
        for name, block in blocks:
            d = block[-1]
            for _ in range(sum(x.weekday() >= 5 for x in block)):
                d += timedelta(days=1)
                while d.weekday() >= 5 or d in days:
                    d += timedelta(days=1)
                days[d] = f"{name}（补假）"
    return days


# --- the calendar -----------------------------------------------------------------------------------


def _as_override(entry) -> Override:
    if isinstance(entry, Override):
        return entry
    d, kind, *rest = entry
    return Override(date.fromisoformat(d) if isinstance(d, str) else d, kind, rest[0] if rest else "")


@dataclass(frozen=True, slots=True)
class _Year:
    source: str
    working: tuple[int, ...]  # ordinals
    names: dict[date, str]


class WorkCalendar:
    """Working days for one platform instance: official data + the caller's overrides (which win)."""

    def __init__(self, overrides: Iterable[Override | tuple] = ()):
        self._overrides: dict[date, Override] = {}
        for o in map(_as_override, overrides):
            seen = self._overrides.get(o.date)
            if seen and seen.kind != o.kind:
                raise ValueError(f"{o.date} 同时被标记为 holiday 和 workday conflicting overrides")
            _check_year(o.date.year)
            self._overrides.setdefault(o.date, o)
        self._years: dict[int, _Year] = {}
        self._lock = threading.Lock()
        self._state: tuple[int, int, list[int], frozenset[int]] | None = None  # y0, y1, ordinals, computed

    # year data

    def year_source(self, year: int) -> str:
        """Where the year's days come from: chinese_calendar (official, from the package), override (the
        override table lists every statutory day of that year, i.e. a transcribed notice) or computed
        (statutory days + 补假 by rule: provisional). Overrides patch every source day by day."""
        _check_year(year)
        if year in _CC_YEARS:
            return "chinese_calendar"
        mine = {d: o.kind for d, o in self._overrides.items() if d.year == year}
        statutory = (d for _, block in _statutory_blocks(year) for d in block)
        if mine and all(mine.get(d, HOLIDAY if d.weekday() >= 5 else None) == HOLIDAY for d in statutory):
            return "override"
        return "computed"

    def provisional_years(self, first: int = FIRST_YEAR, last: int = LAST_YEAR) -> list[int]:
        """Years in [first, last] whose working days are computed, not official."""
        return [y for y in range(first, last + 1) if self.year_source(y) == "computed"]

    def _year(self, year: int) -> _Year:
        found = self._years.get(year)
        if found:
            return found
        source = self.year_source(year)
        names: dict[date, str] = {}
        holidays: set[date] = set()
        workdays: set[date] = set()
        if source == "chinese_calendar":
            for table, target in ((_cc.holidays, holidays), (_cc.workdays, workdays)):
                for d, name in table.items():
                    if d.year == year:
                        target.add(d)
                        names[d] = _CC_NAMES.get(name, name) + ("（调休上班）" if target is workdays else "")
        elif source == "computed":
            names = statutory_holidays(year)
            holidays = set(names)
        for d, o in self._overrides.items():
            if d.year == year:
                (holidays if o.kind == HOLIDAY else workdays).add(d)
                (workdays if o.kind == HOLIDAY else holidays).discard(d)
                names[d] = o.name or ("放假" if o.kind == HOLIDAY else "调休上班")
        first = date(year, 1, 1)
        working = tuple(
            o
            for o in range(first.toordinal(), date(year, 12, 31).toordinal() + 1)
            if (d := date.fromordinal(o)) in workdays or (d.weekday() < 5 and d not in holidays)
        )
        built = _Year(source, working, names)
        self._years[year] = built
        return built

    def _span(self, lo: int, hi: int) -> tuple[int, int, list[int], frozenset[int]]:
        """The loaded span, grown (atomically, under a lock) to cover years lo..hi."""
        state = self._state
        if state and state[0] <= lo and hi <= state[1]:
            return state
        with self._lock:
            state = self._state
            y0, y1 = (min(lo, state[0]), max(hi, state[1])) if state else (lo, hi)
            _check_year(y0)
            _check_year(y1)
            years = [self._year(y) for y in range(y0, y1 + 1)]
            ordinals = [o for y in years for o in y.working]
            computed = frozenset(y0 + k for k, y in enumerate(years) if y.source == "computed")
            self._state = (y0, y1, ordinals, computed)
            return self._state

    @staticmethod
    def _touches(computed: frozenset[int], first: int, last: int) -> bool:
        return bool(computed) and any(y in computed for y in range(first, last + 1))

    # queries

    def is_working_day(self, d: date) -> bool:
        """True on Monday–Friday that are not holidays, and on adjusted working days (调休上班)."""
        arr = self._span(d.year, d.year)[2]
        o = d.toordinal()
        i = bisect.bisect_left(arr, o)
        return i < len(arr) and arr[i] == o

    def day_name(self, d: date) -> str | None:
        """The holiday or adjusted-working-day name of ``d``, if it has one (for display)."""
        return self._year(d.year).names.get(d)

    def add_working_days(self, start: date, n: int) -> Deadline:
        """Within n working days of ``start`` (民法典 第二百零一条): the n-th working day after it.
        n = 0: ``start`` if it is a working day, else the next one. n < 0: the |n|-th working day before
        ``start`` (for reminders)."""
        o = start.toordinal()
        lo = hi = start.year
        while True:
            y0, y1, arr, computed = self._span(lo, hi)
            if n > 0:
                j = bisect.bisect_right(arr, o) + n - 1
            elif n == 0:
                j = bisect.bisect_left(arr, o)
            else:
                j = bisect.bisect_left(arr, o) + n
            if j < 0:
                lo = y0 - 1 - (-j) // 240
            elif j >= len(arr):
                hi = y1 + 1 + (j - len(arr)) // 240
            else:
                break
        due = date.fromordinal(arr[j])
        # the days looked at: after start..due (n > 0), start..due (n = 0), due..before start (n < 0)
        if n > 0:
            first, last = date.fromordinal(o + 1), due
        else:
            first, last = (start, due) if n == 0 else (due, date.fromordinal(o - 1))
        provisional = self._touches(computed, first.year, last.year)
        return Deadline(due, provisional, BASIS_WORKING_DAYS if n else BASIS_WORKING_DAYS_ZERO)

    def add_months(self, start: date, n: int) -> Deadline:
        """A period of n months from ``start`` (民法典 第二百零一至二百零三条): the corresponding day n months
        later, or that month's last day; moved to the next working day if it is a rest day or holiday."""
        if n < 0:
            raise ValueError("月数不能为负 months must be ≥ 0")
        m = start.month - 1 + n
        year, month = start.year + m // 12, m % 12 + 1
        nominal = date(year, month, min(start.day, _month_length(year, month)))
        o = nominal.toordinal()
        hi = year
        while True:
            _, y1, arr, computed = self._span(year, hi)
            i = bisect.bisect_left(arr, o)
            if i < len(arr):
                break
            hi = y1 + 1
        due = date.fromordinal(arr[i])
        shifted = due != nominal
        return Deadline(
            due, self._touches(computed, year, due.year), BASIS_MONTHS_SHIFTED if shifted else BASIS_MONTHS
        )

    def working_days_between(self, a: date, b: date) -> int:
        """Working days d with a < d ≤ b (negative if b < a), so that
        ``working_days_between(x, add_working_days(x, n).due) == n`` for n ≥ 1."""
        arr = self._span(min(a, b).year, max(a, b).year)[2]
        return bisect.bisect_right(arr, b.toordinal()) - bisect.bisect_right(arr, a.toordinal())


def _month_length(year: int, month: int) -> int:
    return (date(year + month // 12, month % 12 + 1, 1) - date(year, month, 1)).days


@cache
def default_calendar() -> WorkCalendar:
    """A calendar without overrides, shared by callers that have none (the CLI, tests)."""
    return WorkCalendar()


# --- override files ---------------------------------------------------------------------------------


class OverrideFileError(ValueError):
    """A holiday file was refused; ``problems`` lists (line number, Chinese message)."""

    def __init__(self, problems: list[tuple[int, str]]):
        self.problems = problems
        lines = "\n".join(f"第{n}行：{msg}" for n, msg in problems)
        super().__init__(f"节假日文件有误，未导入 (holiday file rejected):\n{lines}")


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_HEADER = ["date", "kind", "name"]


def parse_override_file(text: str) -> list[Override]:
    """Parse a holiday file: UTF-8 CSV, header ``date,kind,name``, ``#`` comment lines, kind holiday or
    workday, name optional. Refuses the whole file on any problem (bad date, unknown kind, conflicting
    duplicate, missing header, wrong column count)."""
    problems: list[tuple[int, str]] = []
    seen: dict[date, tuple[int, Override]] = {}
    header_seen = False
    for lineno, line in enumerate(text.lstrip("\ufeff").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in next(csv.reader([line]))]
        if not header_seen:
            header_seen = True
            if [f.lower() for f in fields] == _HEADER:
                continue
            problems.append((lineno, "缺少表头，第一个非注释行应为 date,kind,name"))
        if len(fields) not in (2, 3):
            problems.append((lineno, f"应有3列（date,kind,name），实际{len(fields)}列"))
            continue
        raw_date, kind, name = (*fields, "")[:3]
        try:
            if not _ISO_DATE.fullmatch(raw_date):
                raise ValueError
            d = date.fromisoformat(raw_date)
        except ValueError:
            problems.append((lineno, f"日期“{raw_date}”无效，应为 YYYY-MM-DD 格式的真实日期"))
            continue
        if not FIRST_YEAR <= d.year <= LAST_YEAR:
            problems.append((lineno, f"日期“{raw_date}”超出支持范围（{FIRST_YEAR}–{LAST_YEAR}年）"))
            continue
        if kind.lower() not in (HOLIDAY, WORKDAY):
            problems.append((lineno, f"类型“{kind}”未知，应为 holiday（放假）或 workday（调休上班）"))
            continue
        entry = Override(d, kind.lower(), name)
        if d in seen:
            first_line, first = seen[d]
            if first.kind != entry.kind:
                problems.append(
                    (lineno, f"日期 {d} 与第{first_line}行重复且类型冲突（{first.kind} / {entry.kind}）")
                )
            continue
        seen[d] = (lineno, entry)
    if not header_seen:
        problems.append((1, "文件为空或缺少表头 date,kind,name"))
    if problems:
        raise OverrideFileError(problems)
    return [entry for _, entry in sorted(seen.values(), key=lambda v: v[1].date)]


# --- CLI: govshare deadline -------------------------------------------------------------------------


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(message)


def _iso_date(text: str) -> date:
    if not _ISO_DATE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"日期无效 invalid date: {text!r}（应为 YYYY-MM-DD）")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期无效 invalid date: {text!r}（应为 YYYY-MM-DD）") from None


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"应为非负整数 must be a non-negative integer: {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"不能为负数 must not be negative: {n}")
    return n


def main_deadline(argv: list[str], calendar: WorkCalendar | None = None) -> int:
    """``govshare deadline --start YYYY-MM-DD (--working-days N | --months N) [--json]``.
    Prints the due date first; returns 0, or 2 for bad arguments."""
    parser = _Parser(prog="govshare deadline", description="计算法定期限的到期日 (compute a legal deadline)")
    parser.add_argument("--start", type=_iso_date, help="起算事件发生日 YYYY-MM-DD（当日不计入）")
    parser.add_argument("--working-days", type=_count, metavar="N", help="N 个工作日内")
    parser.add_argument("--months", type=_count, metavar="N", help="N 个月内")
    parser.add_argument("--json", action="store_true", help="以 JSON 输出")
    try:
        args = parser.parse_args(argv)
        if args.start is None:
            raise _UsageError("缺少起算日期 --start YYYY-MM-DD (--start is required)")
        if (args.working_days is None) == (args.months is None):
            raise _UsageError("须且只能指定 --working-days 或 --months 之一 (give exactly one of them)")
        cal = calendar or default_calendar()
        if args.working_days is not None:
            result = cal.add_working_days(args.start, args.working_days)
        else:
            result = cal.add_months(args.start, args.months)
    except _UsageError as e:
        print(f"{parser.prog}: 错误 error: {e}", file=sys.stderr)
        parser.print_usage(sys.stderr)
        return 2
    except ValueError as e:
        print(f"{parser.prog}: 错误 error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # --help
        return int(e.code or 0)
    if args.json:
        out = {
            "start": args.start.isoformat(),
            "due": result.due.isoformat(),
            "provisional": result.provisional,
            "basis": result.basis,
        }
        out["working_days" if args.working_days is not None else "months"] = (
            args.working_days if args.working_days is not None else args.months
        )
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(result.due.isoformat())
    if result.provisional:
        print("暂定 provisional：所涉年份尚无官方节假日安排，按法定节假日推算，国务院公布安排后可能变化")
    print(f"依据 basis：{result.basis}")
    return 0
