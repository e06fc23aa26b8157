"""Data quality per resource and per department, and the duty to refresh data within the declared
update cycle (R-COL-01, R-COL-12, R-CAT-17)."""

import datetime as dt
import hashlib
import json
import re

import pytest
from django.test import Client
from django.utils import timezone

from govshare.calendar.policy import work_calendar
from govshare.collect import quality
from govshare.collect.models import Batch, BatchError, QualitySnapshot, Record, Series
from govshare.orgs.models import Role
from govshare.supervision import services as supervision
from govshare.supervision.models import Obligation

pytestmark = pytest.mark.django_db

ITEMS = [
    {"code": "tyshxydm", "name": "统一社会信用代码", "data_type": "C", "length": 18, "is_primary": True},
    {"code": "qymc", "name": "企业名称", "data_type": "C", "length": 200, "is_required": True},
    {"code": "fddbr", "name": "法定代表人", "data_type": "C", "length": 50},
    {"code": "zczb", "name": "注册资本", "data_type": "N"},
    # a code that is not a plain identifier: it must be addressed as one key, not as a nested path
    {"code": "reg.no", "name": "注册号", "data_type": "C", "length": 30},
]


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def load(resource, rows: dict, when: dt.datetime | None = None, deleted=(), **counts) -> Batch:
    """What a committed load leaves behind: the batch, one record per key, the series' freshness."""
    when = when or timezone.now()
    batch = Batch.objects.create(
        resource=resource,
        department=resource.provider,
        source="api",
        status=counts.pop("status", "committed"),
        rows_total=counts.get("rows_total", len(rows)),
        rows_valid=counts.get("rows_valid", len(rows)),
        rows_rejected=counts.get("rows_rejected", 0),
        inserted=len(rows),
        finished_at=when,
    )
    series, _ = Series.objects.get_or_create(resource=resource)
    for key, data in rows.items():
        series.last_seq += 1
        Record.objects.update_or_create(
            resource=resource,
            key=key,
            defaults={
                "data": data,
                "digest": hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest(),
                "seq": series.last_seq,
                "deleted": key in deleted,
                "batch": batch,
                "updated_at": when,
            },
        )
    series.live_count = Record.objects.filter(resource=resource, deleted=False).count()
    if batch.wrote_data:
        series.last_loaded_at = series.last_changed_at = when
    series.save()
    return batch


@pytest.fixture
def table(published):
    return lambda **kw: published(items=ITEMS, **kw)


# --- R-COL-01: completeness ---------------------------------------------------------------------------


def test_completeness_counts_missing_null_and_blank_values_as_absent(table):  # R-COL-01
    r = table()
    load(
        r,
        {
            "A": {"tyshxydm": "A", "qymc": "甲公司", "fddbr": "张三", "zczb": 0, "reg.no": "R1"},
            "B": {"tyshxydm": "B", "qymc": "乙公司", "fddbr": None, "zczb": 100},
            "C": {"tyshxydm": "C", "qymc": "", "fddbr": "   ", "reg": {"no": "nested, not the item"}},
            "D": {"tyshxydm": "D", "qymc": "丁公司", "reg.no": "R4"},
            # a deleted record counts nowhere, however complete it was
            "X": {"tyshxydm": "X", "qymc": "撤销", "fddbr": "某", "zczb": 1, "reg.no": "R9"},
        },
        deleted={"X"},
    )
    snap = quality.compute_snapshot(r)
    assert snap.records == 4
    assert snap.completeness == {"tyshxydm": 1.0, "qymc": 0.75, "fddbr": 0.25, "zczb": 0.5, "reg.no": 0.5}


def test_resource_without_records_has_no_completeness(table):  # R-COL-01
    snap = quality.compute_snapshot(table())
    assert snap.records == 0 and snap.completeness == {}
    assert snap.freshness == quality.Freshness.NEVER


def test_one_snapshot_per_resource_per_day(table):  # R-COL-01
    r = table()
    first = quality.compute_snapshot(r, now=at(dt.date(2026, 10, 9), 9))
    load(r, {"A": {"tyshxydm": "A", "qymc": "甲"}})
    again = quality.compute_snapshot(r, now=at(dt.date(2026, 10, 9), 15))
    assert again.pk == first.pk and again.records == 1
    quality.compute_snapshot(r, now=at(dt.date(2026, 10, 10), 9))
    assert QualitySnapshot.objects.filter(resource=r).count() == 2
    assert quality.latest_snapshot(r).computed_at == at(dt.date(2026, 10, 10), 9)


# --- R-COL-01: validity over the recent batches --------------------------------------------------------


def test_validity_rate_and_duplicates_from_recent_batches(table):  # R-COL-01
    r = table()
    assert quality.compute_snapshot(r).validity_rate is None  # nothing submitted: no rate, not 0 %
    load(r, {"A": {"tyshxydm": "A"}}, rows_total=100, rows_valid=90, rows_rejected=10)
    partial = load(r, {}, status="partial", rows_total=50, rows_valid=45, rows_rejected=5)
    for row in (3, 7, 9):
        BatchError.objects.create(batch=partial, row=row, code="duplicate_key", message="主键重复")
    BatchError.objects.create(batch=partial, row=4, code="required", message="必填")
    refused = load(r, {}, status="rejected", rows_total=10, rows_valid=0, rows_rejected=10)
    BatchError.objects.create(batch=refused, row=2, code="duplicate_key", message="主键重复")
    load(r, {}, status="running", rows_total=1000, rows_valid=0)  # still counting: not measured
    old = load(r, {}, rows_total=500, rows_valid=0, rows_rejected=500)
    Batch.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(days=quality.VALIDITY_WINDOW_DAYS + 1)
    )
    BatchError.objects.create(batch=old, row=1, code="duplicate_key", message="主键重复")
    snap = quality.compute_snapshot(r)
    assert (snap.rows_submitted, snap.rows_rejected, snap.duplicates_rejected) == (160, 25, 4)
    assert snap.validity_rate == pytest.approx(135 / 160, abs=1e-4)


# --- R-CAT-17: the update cycle -----------------------------------------------------------------------


def test_cycle_due_follows_the_working_day_calendar():  # R-CAT-17
    cal = work_calendar()
    # 2026-09-29 is a Tuesday: tomorrow is a working day
    assert quality.cycle_due("daily", dt.date(2026, 9, 29)) == dt.date(2026, 9, 30)
    # the eve of National Day: the next day is a holiday (10-1..10-7), so the period ends on 10-8
    assert not cal.is_working_day(dt.date(2026, 10, 1))
    assert quality.cycle_due("daily", dt.date(2026, 9, 30)) == dt.date(2026, 10, 8)
    assert quality.cycle_due("realtime", dt.date(2026, 9, 30)) == dt.date(2026, 10, 8)
    # a Friday's next day is a Saturday: rolls to Monday
    assert quality.cycle_due("daily", dt.date(2026, 11, 20)) == dt.date(2026, 11, 23)
    assert quality.cycle_due("weekly", dt.date(2026, 11, 13)) == dt.date(2026, 11, 20)
    assert quality.cycle_due("weekly", dt.date(2026, 9, 24)) == dt.date(2026, 10, 8)
    # months: the month's last day when it has no corresponding day; 2026-02-28 is a 调休 working Saturday
    assert cal.is_working_day(dt.date(2026, 2, 28))
    assert quality.cycle_due("monthly", dt.date(2026, 1, 31)) == dt.date(2026, 2, 28)
    assert quality.cycle_due("quarterly", dt.date(2026, 5, 31)) == dt.date(2026, 8, 31)
    assert quality.cycle_due("half_yearly", dt.date(2026, 3, 31)) == dt.date(2026, 9, 30)
    assert quality.cycle_due("yearly", dt.date(2025, 10, 1)) == dt.date(2026, 10, 8)
    assert quality.cycle_due("irregular", dt.date(2026, 9, 29)) is None
    assert quality.cycle_due("", dt.date(2026, 9, 29)) is None


@pytest.mark.parametrize(
    ("cycle", "loaded", "today", "expected"),
    [
        ("daily", dt.date(2026, 9, 29), dt.date(2026, 9, 30), "fresh"),
        ("daily", dt.date(2026, 9, 29), dt.date(2026, 10, 1), "stale"),
        ("daily", dt.date(2026, 9, 30), dt.date(2026, 10, 8), "fresh"),  # holidays do not count
        ("weekly", dt.date(2026, 11, 13), dt.date(2026, 11, 20), "fresh"),
        ("weekly", dt.date(2026, 11, 13), dt.date(2026, 11, 21), "stale"),
        ("monthly", dt.date(2026, 1, 31), dt.date(2026, 3, 1), "stale"),
        ("irregular", dt.date(2020, 1, 1), dt.date(2026, 11, 21), "no_cycle"),
        ("daily", None, dt.date(2026, 11, 21), "never"),
    ],
)
def test_freshness_per_cycle(table, cycle, loaded, today, expected):  # R-CAT-17
    r = table(update_cycle=cycle)
    if loaded:
        load(r, {"A": {"tyshxydm": "A"}}, when=at(loaded))
    snap = quality.compute_snapshot(r, now=at(today, 12))
    assert snap.freshness == expected
    if loaded and cycle != "irregular":
        assert snap.due_by == quality.cycle_due(cycle, loaded)


def test_stale_resource_opens_one_obligation_and_a_load_fulfils_it(table, city):  # R-CAT-17
    r = table()
    loaded = dt.date(2026, 9, 29)
    load(r, {"A": {"tyshxydm": "A", "qymc": "甲"}}, when=at(loaded))
    due = quality.cycle_due("daily", loaded)
    assert quality.check_freshness(today=due)["opened"] == 0  # due today: not yet late
    assert quality.check_freshness(today=due + dt.timedelta(days=1))["opened"] == 1
    assert quality.check_freshness(today=due + dt.timedelta(days=2))["opened"] == 0
    obs = Obligation.objects.filter(duty=quality.REFRESH_DUTY)
    assert obs.count() == 1
    ob = obs.get()
    assert ob.department == city.market and ob.due_on == due == dt.date(2026, 9, 30)
    assert ob.title == "「企业营业执照信息」未按更新周期（每日）更新数据"
    assert ob.link == f"/collect/{r.code}/" and ob.requirement == "R-CAT-17"
    assert ob.status == "open" and ob.subject_id == str(r.pk)

    refused = load(r, {}, status="rejected", rows_total=3, rows_valid=0, rows_rejected=3)
    quality.after_load(r, refused)  # a refused load wrote nothing: still not refreshed
    ob.refresh_from_db()
    assert ob.status == "open"
    batch = load(r, {"B": {"tyshxydm": "B", "qymc": "乙"}})
    quality.after_load(r, batch)
    ob.refresh_from_db()
    assert ob.status == "fulfilled"
    assert quality.latest_snapshot(r).records == 2
    # refreshed today: nothing is late any more
    assert quality.check_freshness()["opened"] == 0


def test_cancelled_refresh_duty_is_not_reopened_for_the_same_period(table, city):  # R-CAT-17
    r = table(update_cycle="weekly")
    load(r, {"A": {"tyshxydm": "A"}}, when=at(dt.date(2026, 11, 2)))
    late = quality.cycle_due("weekly", dt.date(2026, 11, 2)) + dt.timedelta(days=1)
    quality.check_freshness(today=late)
    ob = Obligation.objects.get(duty=quality.REFRESH_DUTY)
    supervision.cancel_obligation(ob, city.reviewer, "系统迁移期间暂停更新")
    assert quality.check_freshness(today=late + dt.timedelta(days=3))["opened"] == 0
    # the next stale period is a new duty
    load(r, {"B": {"tyshxydm": "B"}}, when=at(late))
    again = quality.cycle_due("weekly", late) + dt.timedelta(days=1)
    assert quality.check_freshness(today=again)["opened"] == 1
    assert Obligation.objects.filter(duty=quality.REFRESH_DUTY, status="open").count() == 1


def test_never_loaded_resource_is_due_one_cycle_after_publication(table):  # R-CAT-17
    r = table(update_cycle="monthly")
    due = quality.cycle_due("monthly", r.publish_date)
    assert quality.check_freshness(today=due)["opened"] == 0
    assert quality.check_freshness(today=due + dt.timedelta(days=1))["opened"] == 1
    ob = Obligation.objects.get(duty=quality.REFRESH_DUTY)
    assert ob.due_on == due and ob.title == "「企业营业执照信息」未按更新周期（每月）更新数据"
    assert "尚未归集" in ob.subject_label
    panel = quality.resource_quality(r, today=due + dt.timedelta(days=1))
    assert panel.freshness == "never" and panel.late and panel.due_by == due


def test_irregular_and_non_table_resources_open_no_duty(table, published):  # R-CAT-17
    table(update_cycle="irregular", name="不定期资源")
    published(
        mount_kind="file",
        mount_ref="年度报告 PDF",
        name="文件资源",
        format_category="document",
        format_type="PDF",
    )
    far = timezone.localdate() + dt.timedelta(days=800)
    assert quality.check_freshness(today=far)["opened"] == 0


def test_tick_refreshes_snapshots_older_than_today(table):  # R-COL-01
    r = table()
    load(r, {"A": {"tyshxydm": "A"}})
    assert quality.check_freshness()["snapshots"] == 1
    assert quality.check_freshness()["snapshots"] == 0  # taken today already
    QualitySnapshot.objects.update(computed_at=timezone.now() - dt.timedelta(days=1))
    assert quality.check_freshness()["snapshots"] == 1
    assert QualitySnapshot.objects.filter(resource=r).count() == 2


def test_large_resource_leaves_the_recount_to_the_tick(table, monkeypatch):  # R-COL-01
    r = table()
    monkeypatch.setattr(quality, "AFTER_LOAD_MAX_RECORDS", 1)
    batch = load(r, {"A": {"tyshxydm": "A"}, "B": {"tyshxydm": "B"}})
    assert quality.after_load(r, batch) is None
    assert not QualitySnapshot.objects.filter(resource=r).exists()


# --- R-COL-12: the authority's table, the provider's panel ----------------------------------------------


def _cells(html: str, attr: str, value) -> list[str]:
    row = re.search(rf'<tr[^>]*{attr}="{value}"[^>]*>(.*?)</tr>', html, re.S)
    assert row, f"no row {attr}={value}"
    return [
        re.sub(r"<[^>]+>|\s+", " ", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    ]


def _city_with_data(city, table):
    """市场监管局: one resource with data (completeness 50 %/100 %…), one never loaded; 公安局: one stale."""
    good = table(name="企业登记信息")
    load(
        good,
        {
            "A": {"tyshxydm": "A", "qymc": "甲", "fddbr": "张", "zczb": 1, "reg.no": "1"},
            "B": {"tyshxydm": "B", "qymc": "乙"},
        },
        rows_total=10,
        rows_valid=8,
        rows_rejected=2,
    )
    quality.compute_snapshot(good)
    table(name="企业年报信息")  # never loaded, published today: not yet late
    stale = table(officer=city.police_officer, provider=city.police.pk, name="户籍人口信息")
    load(stale, {"P": {"tyshxydm": "P", "qymc": "户"}}, when=timezone.now() - dt.timedelta(days=30))
    quality.compute_snapshot(stale)
    return good, stale


def test_department_table_for_the_authority(city, table):  # R-COL-12
    _city_with_data(city, table)
    c = Client()
    c.force_login(city.reviewer)
    html = c.get("/quality/").content.decode()
    # 市场监管局: 1 of 2 with data, 2 records, completeness mean of (1, 1, .5, .5, .5) = 70 %, 8/10 valid
    assert _cells(html, "data-department", city.market.pk) == [
        "郴州市市场监督管理局",
        "1 / 2",
        "2",
        "70.0%",
        "80.0%",
        "0",
        "1",
    ]
    assert _cells(html, "data-department", city.police.pk)[5] == "1"  # one stale resource
    # worst first: the department with a stale resource and a never-loaded one comes before
    assert html.index(f'data-department="{city.police.pk}"') < html.index(
        f'data-department="{city.market.pk}"'
    )
    detail = c.get(f"/quality/departments/{city.police.pk}/").content.decode()
    assert "户籍人口信息" in detail and "逾期未更新" in detail


def test_department_table_sorts_by_column(city, table):  # R-COL-12
    _city_with_data(city, table)
    rows = quality.department_table(sort="records")
    assert [r["department_id"] for r in rows] == [city.market.pk, city.police.pk]


def test_department_table_is_refused_to_a_provider(city, table):  # R-COL-12
    _city_with_data(city, table)
    c = Client()
    c.force_login(city.market_officer)
    response = c.get("/quality/")
    assert response.status_code == 403 and "无权查看" in response.content.decode()
    assert c.get(f"/quality/departments/{city.police.pk}/").status_code == 403
    assert "企业年报信息" in c.get(f"/quality/departments/{city.market.pk}/").content.decode()  # its own
    api = c.get("/api/v1/quality/departments")
    assert api.status_code == 403 and api.json()["code"] == "quality_forbidden"


def test_auditor_and_evaluator_see_the_table(city, table):  # R-COL-12
    _city_with_data(city, table)
    for role in (Role.AUDITOR, Role.EVALUATOR):
        c = Client()
        c.force_login(city.person(f"{role}-1", city.authority, role))
        assert c.get("/quality/").status_code == 200
        rows = c.get("/api/v1/quality/departments").json()
        market = next(r for r in rows if r["department_id"] == city.market.pk)
        assert (market["records"], market["never_loaded"], market["validity_rate"]) == (2, 1, 0.8)


def test_provider_sees_its_resource_panel_and_not_others(city, table):  # R-COL-01, R-CAT-17
    good, stale = _city_with_data(city, table)
    market, police = Client(), Client()
    market.force_login(city.market_officer)
    police.force_login(city.police_officer)
    body = market.get(f"/api/v1/quality/resources/{good.code}").json()
    assert body["records"] == 2 and body["freshness"] == "fresh" and body["duplicates_rejected"] == 0
    assert {i["name"]: i["ratio"] for i in body["completeness"]}["法定代表人"] == 0.5
    assert market.get(f"/api/v1/quality/resources/{stale.code}").status_code == 403
    page = police.get(f"/quality/resources/{stale.code}/").content.decode()
    assert "逾期未更新" in page and "户籍人口信息" in page and "统一社会信用代码" in page
    due = quality.cycle_due("daily", timezone.localdate(stale.series.last_loaded_at))
    assert f"应于 {due:%Y-%m-%d} 前更新" in page
    fresh = market.get(f"/quality/resources/{good.code}/").content.decode()
    assert "逾期未更新" not in fresh and "<meter" in fresh and "法定代表人" in fresh


def test_api_resource_for_the_authority_and_unknown_codes(city, table):  # R-COL-12
    good, _ = _city_with_data(city, table)
    c = Client()
    c.force_login(city.reviewer)
    assert c.get(f"/api/v1/quality/resources/{good.code}").json()["validity_rate"] == 0.8
    missing = c.get("/api/v1/quality/resources/301/999999")
    assert missing.status_code == 404 and missing.json()["code"] == "resource_not_found"
