"""Working-day clock: official 2026 data, computed years, overrides, month periods, CLI, properties."""

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from chinese_calendar import constants as cc
from hypothesis import given, settings
from hypothesis import strategies as st
from lunardate import LunarDate

import govshare.calendar
from govshare.calendar.workdays import (
    BASIS_MONTHS_SHIFTED,
    Override,
    OverrideFileError,
    WorkCalendar,
    default_calendar,
    main_deadline,
    parse_override_file,
    qingming,
    statutory_holidays,
)

CAL = default_calendar()
D = date.fromisoformat


def cc_blocks(year):
    """chinese_calendar's holiday blocks of a year as (first, last) runs of consecutive days."""
    days = sorted(d for d in cc.holidays if d.year == year)
    blocks = [[days[0], days[0]]]
    for d in days[1:]:
        if d == blocks[-1][1] + timedelta(days=1):
            blocks[-1][1] = d
        else:
            blocks.append([d, d])
    return [tuple(b) for b in blocks]


# --- 2026, official -----------------------------------------------------------------------------------

BLOCKS_2026 = [
    ("2026-01-01", "2026-01-03"),  # 元旦
    ("2026-02-15", "2026-02-23"),  # 春节
    ("2026-04-04", "2026-04-06"),  # 清明
    ("2026-05-01", "2026-05-05"),  # 劳动节
    ("2026-06-19", "2026-06-21"),  # 端午
    ("2026-09-25", "2026-09-27"),  # 中秋
    ("2026-10-01", "2026-10-07"),  # 国庆
]
ADJUSTED_2026 = ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"]


def test_2026_blocks_match_chinese_calendar_data():
    assert cc_blocks(2026) == [(D(a), D(b)) for a, b in BLOCKS_2026]
    assert sorted(d for d in cc.workdays if d.year == 2026) == [D(x) for x in ADJUSTED_2026]
    assert CAL.year_source(2026) == "chinese_calendar"


@pytest.mark.parametrize(("first", "last"), BLOCKS_2026)
def test_2026_holiday_block_is_rest_and_bounded_by_work(first, last):
    first, last = D(first), D(last)
    d = first
    while d <= last:
        assert not CAL.is_working_day(d), d
        d += timedelta(days=1)
    assert CAL.is_working_day(last + timedelta(days=1)) or (last + timedelta(days=1)).weekday() >= 5
    # the first working day after the block is what a 1-working-day deadline started inside it gives
    nxt = CAL.add_working_days(first, 1).due
    assert nxt > last and CAL.is_working_day(nxt)


@pytest.mark.parametrize("day", ADJUSTED_2026)
def test_2026_adjusted_working_days_are_working(day):
    d = D(day)
    assert d.weekday() >= 5  # all are weekends made working (调休上班)
    assert CAL.is_working_day(d)
    assert "调休上班" in CAL.day_name(d)


def test_start_on_holiday_and_adjusted_saturday_counts():
    # National Day 2026: Oct 1–7 off, Oct 10 (Saturday) is a working day
    assert CAL.add_working_days(D("2026-10-01"), 1).due == D("2026-10-08")
    assert CAL.add_working_days(D("2026-10-01"), 3).due == D("2026-10-10")
    assert CAL.add_working_days(D("2026-10-01"), 4).due == D("2026-10-12")


def test_start_on_adjusted_saturday():
    assert CAL.add_working_days(D("2026-02-14"), 1).due == D("2026-02-24")  # Feb 15–23 off
    assert CAL.add_working_days(D("2026-02-28"), 1).due == D("2026-03-02")
    assert CAL.add_working_days(D("2026-02-28"), 0).due == D("2026-02-28")


def test_zero_working_days():
    assert CAL.add_working_days(D("2026-03-04"), 0).due == D("2026-03-04")  # Wednesday
    assert CAL.add_working_days(D("2026-10-01"), 0).due == D("2026-10-08")  # holiday → next working day
    assert CAL.add_working_days(D("2026-03-07"), 0).due == D("2026-03-09")  # Saturday → Monday
    assert CAL.add_working_days(D("2026-01-04"), 0).due == D("2026-01-04")  # adjusted Sunday


def test_ten_working_days_typical_reply():
    d = CAL.add_working_days(D("2026-09-24"), 10)  # across 中秋 and 国庆:
    # Sep 28, 29, 30, Oct 8, 9, 10 (adjusted Saturday), 12, 13, 14, 15
    assert d.due == D("2026-10-15")
    assert not d.provisional
    assert "第二百零一条" in d.basis


def test_negative_counts_backwards_for_reminders():
    assert CAL.add_working_days(D("2026-10-08"), -1).due == D("2026-09-30")
    assert CAL.add_working_days(D("2026-10-12"), -2).due == D("2026-10-09")


def test_crossing_into_2027_is_provisional():
    d = CAL.add_working_days(D("2026-12-28"), 5)  # Dec 29, 30, 31, (Jan 1 元旦), Jan 4, Jan 5
    assert d.due == D("2027-01-05")
    assert d.provisional
    inside = CAL.add_working_days(D("2026-12-21"), 5)
    assert inside.due == D("2026-12-28") and not inside.provisional
    assert CAL.add_working_days(D("2026-12-30"), 1).provisional is False  # Dec 31 only
    assert CAL.add_working_days(D("2026-12-31"), 1).provisional is True


def test_working_days_between():
    assert CAL.working_days_between(D("2026-09-24"), D("2026-10-15")) == 10
    assert CAL.working_days_between(D("2026-10-15"), D("2026-09-24")) == -10
    assert CAL.working_days_between(D("2026-10-01"), D("2026-10-07")) == 0


# --- months -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "due", "shifted"),
    [
        ("2026-01-15", 1, "2026-02-24", True),  # Feb 15 is in the Spring Festival block
        ("2026-01-31", 1, "2026-02-28", False),  # no Feb 31 → month end; Feb 28 is an adjusted Saturday
        ("2026-03-31", 1, "2026-04-30", False),  # 30-day month
        ("2026-08-31", 1, "2026-09-30", False),
        ("2025-12-31", 1, "2026-02-02", True),  # Jan 31 2026 is a Saturday
        ("2026-09-03", 1, "2026-10-08", True),  # Oct 3 is National Day
        ("2026-02-07", 1, "2026-03-09", True),  # Mar 7 is a Saturday
        ("2024-02-29", 12, "2025-02-28", False),  # leap day → month end
        ("2026-05-31", 6, "2026-11-30", False),
        ("2026-03-04", 0, "2026-03-04", False),
    ],
)
def test_month_periods(start, months, due, shifted):
    d = CAL.add_months(D(start), months)
    assert d.due == D(due)
    assert (d.basis == BASIS_MONTHS_SHIFTED) is shifted
    assert not d.provisional


def test_month_period_into_computed_year():
    d = CAL.add_months(D("2027-12-31"), 2)  # Feb 29 2028, a Tuesday
    assert d.due == D("2028-02-29") and d.provisional
    assert CAL.add_months(D("2026-12-15"), 1).provisional  # 2027-01-15


def test_negative_months_refused():
    with pytest.raises(ValueError):
        CAL.add_months(D("2026-01-01"), -1)


# --- computed years ---------------------------------------------------------------------------------

# 清明 dates 1900–2100 (day of April, China Standard Time) from a full VSOP87 ephemeris (PyEphem 4.2.1),
# confirmed by lunar-python's 寿星 algorithm; generated once, offline.
QINGMING_1900_2100 = (
    "556655665566555655565556555655565556555655565555555555555555555555555555555545554555455545554555455545"
    "554555445544554455445544554455445544554445444544454445444544454445444544444444444444444444444444445"
)


def test_qingming_matches_ephemeris_1900_2100():
    assert len(QINGMING_1900_2100) == 201
    assert [qingming(y) for y in range(1900, 2101)] == [
        date(1900 + i, 4, int(c)) for i, c in enumerate(QINGMING_1900_2100)
    ]


@pytest.mark.parametrize("year", range(2008, 2027))
def test_single_day_festivals_agree_with_chinese_calendar(year):
    """清明, 端午, 中秋 are 1 day since 2008, 元旦 and 国庆 unchanged: each computed day is an official day off."""
    stat = statutory_holidays(year, substitutes=False)
    for d, name in stat.items():
        if name in ("元旦", "清明节", "端午节", "中秋节", "国庆节"):
            # chinese_calendar leaves some weekend days out of its blocks (e.g. 2012-06-23, 端午 on a Saturday)
            assert d in cc.holidays or d.weekday() >= 5, (d, name)
            assert d not in cc.in_lieu_days and d not in cc.workdays, (d, name)


@pytest.mark.parametrize("year", [2025, 2026])
def test_computed_statutory_days_agree_with_chinese_calendar_under_2024_rules(year):
    """Since 2025 (2024 amendment) every computed day off — statutory days and 补假 — is an official day off,
    and no statutory day is one of the extra bridge days (in lieu) or an adjusted working day."""
    stat = statutory_holidays(year, substitutes=False)
    assert len(stat) == 13  # 1 + 4 + 1 + 2 + 1 + 1 + 3 (中秋 never falls in 国庆 Oct 1–3 in these years)
    assert all(d in cc.holidays and d not in cc.in_lieu_days and d not in cc.workdays for d in stat)
    assert set(statutory_holidays(year)) <= set(cc.holidays)
    # a calendar that ignored chinese_calendar for the year would rest on every one of them
    official_rest = {d for d in cc.holidays if d.year == year}
    assert set(stat) <= official_rest


def test_computed_year_2027():
    assert CAL.year_source(2027) == "computed"
    assert 2027 in CAL.provisional_years(2020, 2030)
    assert 2026 not in CAL.provisional_years(2020, 2030)
    stat = statutory_holidays(2027, substitutes=False)
    assert [d for d, n in stat.items() if n == "春节"] == [
        D("2027-02-05") + timedelta(days=k) for k in range(4)
    ]
    assert not CAL.is_working_day(D("2027-02-05"))  # 除夕 (a Friday)
    assert not CAL.is_working_day(D("2027-02-09"))  # 补假 for Feb 6–7 falling on the weekend
    assert CAL.day_name(D("2027-02-09")) == "春节（补假）"
    assert CAL.is_working_day(D("2027-02-11"))


def test_new_year_eve_on_29th_day():
    """除夕 is the last day of the 12th lunar month, the 29th when that month is short (2026: Feb 16)."""
    eve = next(d for d, n in statutory_holidays(2026, substitutes=False).items() if n == "春节")
    assert eve == D("2026-02-16")
    lunar = LunarDate.from_solar_date(2026, 2, 16)
    assert (lunar.year, lunar.month, lunar.day) == (2025, 12, 29)


def test_years_out_of_range():
    with pytest.raises(ValueError):
        CAL.is_working_day(D("2100-03-01"))
    with pytest.raises(ValueError):
        CAL.year_source(1899)


# --- overrides --------------------------------------------------------------------------------------


def full_2027_file(extra=""):
    """A complete (test-only, invented) 2027 notice: every statutory day off plus one adjusted Saturday."""
    rows = [f"{d},holiday,{n}" for d, n in sorted(statutory_holidays(2027, substitutes=False).items())]
    return "date,kind,name\n" + "\n".join(rows) + "\n2027-02-20,workday,测试用调休上班\n" + extra


def test_override_file_turns_computed_year_official():
    cal = WorkCalendar(overrides=parse_override_file(full_2027_file()))
    assert cal.year_source(2027) == "override"
    assert 2027 not in cal.provisional_years(2027, 2027)
    d = cal.add_working_days(D("2026-12-28"), 5)
    assert d.due == D("2027-01-05") and not d.provisional
    assert cal.is_working_day(D("2027-02-20"))  # the file's adjusted Saturday
    assert cal.is_working_day(D("2027-02-09"))  # computed 补假 guesses are dropped: the notice decides


def test_incomplete_override_patches_but_stays_provisional():
    example = Path(govshare.calendar.__file__).parent / "data" / "holidays-2027.example.csv"
    entries = parse_override_file(example.read_text(encoding="utf-8"))
    assert {e.date.year for e in entries} == {2027}
    cal = WorkCalendar(overrides=[*entries, Override(D("2027-03-01"), "holiday", "测试")])
    assert cal.year_source(2027) == "computed"
    assert not cal.is_working_day(D("2027-03-01"))
    assert cal.add_working_days(D("2027-02-26"), 1).due == D("2027-03-02")
    assert cal.add_working_days(D("2027-02-26"), 1).provisional


def test_overrides_win_over_chinese_calendar():
    cal = WorkCalendar(overrides=[(D("2026-10-09"), "holiday", "测试"), ("2026-10-01", "workday")])
    assert cal.year_source(2026) == "chinese_calendar"
    assert not cal.is_working_day(D("2026-10-09"))
    assert cal.is_working_day(D("2026-10-01"))
    assert cal.add_working_days(D("2026-09-30"), 1).due == D("2026-10-01")
    assert CAL.is_working_day(D("2026-10-09"))  # other calendars unaffected


def test_conflicting_overrides_refused():
    with pytest.raises(ValueError):
        WorkCalendar(overrides=[(D("2027-01-04"), "holiday"), (D("2027-01-04"), "workday")])
    with pytest.raises(ValueError):
        Override(D("2027-01-04"), "rest")


def test_parse_override_file_accepts_comments_bom_and_repeats():
    text = "\ufeff# 注释\n\ndate,kind,name\n2027-01-01,holiday,元旦\n# 又一行注释\n2027-01-01,HOLIDAY,元旦\n2027-02-20,workday\n"
    assert parse_override_file(text) == [
        Override(D("2027-01-01"), "holiday", "元旦"),
        Override(D("2027-02-20"), "workday"),
    ]
    assert parse_override_file("date,kind,name\n") == []


def test_parse_override_file_lists_every_problem_with_line_numbers():
    text = "\n".join(
        [
            "date,kind,name",  # 1
            "2027-02-30,holiday,不存在的日期",  # 2
            "2027/01/01,holiday,格式错",  # 3
            "2027-01-04,rest,未知类型",  # 4
            "2027-01-05,holiday,元旦",  # 5
            "2027-01-05,workday,冲突",  # 6
            "2027-01-06",  # 7
            "2150-01-01,holiday,超出范围",  # 8
        ]
    )
    with pytest.raises(OverrideFileError) as err:
        parse_override_file(text)
    lines = [n for n, _ in err.value.problems]
    assert lines == [2, 3, 4, 6, 7, 8]
    msg = str(err.value)
    assert "第2行" in msg and "日期" in msg and "类型“rest”未知" in msg and "与第5行重复且类型冲突" in msg


def test_parse_override_file_requires_header():
    with pytest.raises(OverrideFileError) as err:
        parse_override_file("2027-01-01,holiday,元旦\n")
    assert err.value.problems[0][0] == 1 and "表头" in err.value.problems[0][1]
    with pytest.raises(OverrideFileError):
        parse_override_file("# only a comment\n")


# --- CLI --------------------------------------------------------------------------------------------


def test_cli_plain(capsys):
    assert main_deadline(["--start", "2026-09-24", "--working-days", "10"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "2026-10-15"
    assert not any("provisional" in line for line in out)


def test_cli_plain_provisional(capsys):
    assert main_deadline(["--start", "2026-12-28", "--working-days", "5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "2027-01-05" and "provisional" in out[1]


def test_cli_json(capsys):
    assert main_deadline(["--start", "2026-01-31", "--months", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["due"] == "2026-02-28" and data["provisional"] is False
    assert data["start"] == "2026-01-31" and "第二百零二条" in data["basis"]


def test_cli_uses_given_calendar(capsys):
    cal = WorkCalendar(overrides=[(D("2026-09-28"), "holiday", "测试")])
    assert main_deadline(["--start", "2026-09-25", "--working-days", "1"], calendar=cal) == 0
    assert capsys.readouterr().out.splitlines()[0] == "2026-09-29"


@pytest.mark.parametrize(
    "argv",
    [
        ["--start", "2026-02-30", "--working-days", "1"],
        ["--start", "20260101", "--working-days", "1"],
        ["--start", "2026-01-01", "--working-days", "-1"],
        ["--start", "2026-01-01", "--months", "x"],
        ["--start", "2026-01-01"],
        ["--start", "2026-01-01", "--months", "1", "--working-days", "1"],
        ["--working-days", "1"],
        ["--start", "2150-01-01", "--working-days", "1"],
    ],
)
def test_cli_bad_arguments_exit_2(argv, capsys):
    assert main_deadline(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "错误" in captured.err


# --- properties -------------------------------------------------------------------------------------

starts = st.dates(min_value=date(2004, 1, 1), max_value=date(2040, 12, 31))
counts = st.integers(min_value=1, max_value=300)


@settings(max_examples=300, deadline=None)
@given(starts, counts)
def test_due_is_a_working_day_after_start(start, n):
    d = CAL.add_working_days(start, n)
    assert d.due > start and CAL.is_working_day(d.due)
    assert CAL.working_days_between(start, d.due) == n
    back = CAL.add_working_days(d.due, -n).due  # the inverse lands on start, or just before a rest day
    assert back <= start and CAL.is_working_day(back) and CAL.working_days_between(back, start) == 0


@settings(max_examples=300, deadline=None)
@given(starts, counts, st.integers(min_value=0, max_value=300))
def test_adding_composes(start, n, m):
    first = CAL.add_working_days(start, n).due
    assert CAL.add_working_days(first, m).due == CAL.add_working_days(start, n + m).due


@settings(max_examples=300, deadline=None)
@given(starts, st.integers(min_value=0, max_value=300), st.integers(min_value=0, max_value=30))
def test_monotonic_in_n_and_start(start, n, k):
    assert CAL.add_working_days(start, n).due <= CAL.add_working_days(start, n + k).due
    later = start + timedelta(days=k)
    assert CAL.add_working_days(start, n).due <= CAL.add_working_days(later, n).due


@settings(max_examples=200, deadline=None)
@given(starts, st.integers(min_value=0, max_value=24))
def test_month_period_due_is_working_and_not_early(start, n):
    d = CAL.add_months(start, n)
    assert CAL.is_working_day(d.due)
    m = start.month - 1 + n
    year, month = start.year + m // 12, m % 12 + 1
    assert d.due.year * 12 + d.due.month >= year * 12 + month
    assert (d.due - date(year, month, 1)).days < 40
