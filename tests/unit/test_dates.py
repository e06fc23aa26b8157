"""One reading of typed dates for every form, filter and command (govshare.dates)."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govshare import dates


@given(st.dates())
def test_every_real_date_reads_back_from_its_iso_text(day):
    assert dates.parse_day(f"  {day.isoformat()}\n") == day
    assert dates.parse_day(day) == day


@pytest.mark.parametrize("raw", ["2026-02-30", "2026-13-01", "2026/01/31", "31.01.2026", "明天", "2026-1-5"])
def test_unreadable_dates_are_named_with_the_format(raw):
    errors: list[dict] = []
    assert dates.field_day(raw, "since", "起始日期", errors) is None
    assert errors == [
        {
            "field": "since",
            "label": "起始日期",
            "code": "invalid",
            "message": f"起始日期“{raw}”无效（格式 2025-01-31）",
        }
    ]


def test_blank_is_none_unless_required():
    problems: list[str] = []
    assert dates.text_day("  ", problems) is None and problems == []
    errors: list[dict] = []
    assert dates.field_day(None, "until", "截止日期", errors, required=True) is None
    assert errors[0]["code"] == "required" and errors[0]["message"] == "请填写截止日期"


def test_a_datetime_is_not_taken_for_a_day_and_nul_is_dropped_from_the_message():
    with pytest.raises(dates.BadDay):
        dates.parse_day(dt.datetime(2026, 1, 1, 12, 0))
    with pytest.raises(dates.BadDay) as exc:
        dates.parse_day("20\x0026-99-01")
    assert exc.value.message == "日期“2026-99-01”无效（格式 2025-01-31）"
