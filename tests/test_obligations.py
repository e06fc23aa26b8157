"""Obligations: deadlines from the profile and the working-day calendar, reminders, overdue,
extensions within the ceiling, recomputation, and the catalog duties wired to them (R-CAT-13/14/15,
R-FED-07, R-SUP-05)."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from govshare.catalog import services as catalog
from govshare.errors import PermissionDenied, ValidationFailed
from govshare.notifications.models import Notification
from govshare.supervision import services
from govshare.supervision.models import Filing, Obligation

pytestmark = pytest.mark.django_db


def law_revision(city, published, description="修订"):
    """A published entry and the R-CAT-13 duty a law revision on the eve of National Day 2026 opens."""
    resource = published()
    ob = services.record_catalog_trigger(
        city.market_officer,
        event="law_revision",
        description=description,
        occurred_on=dt.date(2026, 9, 30),
        resource=resource,
    )
    return resource, ob


def test_catalog_trigger_opens_deadline_from_profile_with_article(city, published):  # R-CAT-13
    resource = published()
    # 2026-09-30 is the eve of the National Day holiday (10-1..10-7); the 10-10 调休 Saturday counts.
    ob = services.record_catalog_trigger(
        city.market_officer,
        event="law_revision",
        description="条例修订",
        occurred_on=dt.date(2026, 9, 30),
        resource=resource,
    )
    assert ob.due_on == dt.date(2026, 10, 27)
    assert (
        ob.article == "郴政发〔2022〕2号 第十六条"
        and ob.requirement == "R-CAT-13"
        and ob.profile == "chenzhou"
    )
    assert not ob.provisional
    assert Notification.objects.filter(department=city.market, kind="obligation.opened").exists()
    rev = catalog.start_revision(city.market_officer, resource, "条例修订")
    catalog.submit_revision(city.market_officer, rev)
    ob.refresh_from_db()
    assert ob.status == "fulfilled"


def test_deadline_per_profile(city, published, settings):  # R-CAT-13
    resource = published()
    settings.GOVSHARE_PROFILE = "changshu"
    ob = services.record_catalog_trigger(
        city.market_officer,
        event="content_change",
        description="内容变化",
        occurred_on=dt.date(2026, 9, 30),
        resource=resource,
    )
    assert ob.due_on == dt.date(2026, 10, 13)  # 5 working days: 10-8, 10-9, 10-10 (调休), 10-12, 10-13
    assert "常政发〔2019〕21号" in ob.article
    ob.delete()
    settings.GOVSHARE_PROFILE = "shangrao"  # SR sets no number: tracked, but without a deadline
    ob = services.record_catalog_trigger(
        city.market_officer,
        event="law_revision",
        description="修订",
        occurred_on=dt.date(2026, 9, 30),
        resource=resource,
    )
    assert ob.due_on is None


def test_switching_profile_does_not_rewrite_running_deadlines(city, published, settings):
    _, ob = law_revision(city, published, "修订")
    settings.GOVSHARE_PROFILE = "changshu"
    services.check_due(dt.date(2026, 10, 1))
    services.recompute_provisional()
    ob.refresh_from_db()
    assert ob.due_on == dt.date(2026, 10, 27) and ob.profile == "chenzhou"


def test_reminder_then_overdue_each_once(city, published):
    _, ob = law_revision(city, published, "修订")
    assert services.check_due(dt.date(2026, 10, 22)) == {"reminded": 0, "overdue": 0}
    assert services.check_due(dt.date(2026, 10, 23)) == {"reminded": 1, "overdue": 0}  # 2 working days ahead
    assert services.check_due(dt.date(2026, 10, 26)) == {"reminded": 0, "overdue": 0}
    assert services.check_due(dt.date(2026, 10, 27)) == {
        "reminded": 0,
        "overdue": 0,
    }  # due day itself is fine
    assert services.check_due(dt.date(2026, 10, 28)) == {"reminded": 0, "overdue": 1}
    assert services.check_due(dt.date(2026, 10, 29)) == {"reminded": 0, "overdue": 0}
    ob.refresh_from_db()
    assert ob.status == "overdue"
    kinds = list(Notification.objects.filter(department=city.market).values_list("kind", flat=True))
    assert kinds.count("obligation.reminder") == 1 and kinds.count("obligation.overdue") == 1


def test_late_fulfilment_is_recorded(city, published):
    resource, ob = law_revision(city, published, "修订")
    services.check_due(dt.date(2026, 11, 2))
    rev = catalog.start_revision(city.market_officer, resource, "补更新")
    catalog.submit_revision(city.market_officer, rev)
    ob.refresh_from_db()
    assert ob.status == "fulfilled" and ob.fulfilled_late


def test_extension_bounded_by_profile_and_needs_the_head(city, published):
    resource = published()
    head = city.person("head", city.market, "head", full_name="市场监管局局长")
    ob = services.open_obligation(
        department=city.market,
        duty="test.verify",
        title="核实疑义数据",
        subject=resource,
        subject_label=resource.name,
        parameter="correction_verify_working_days",
        started_on=dt.date(2026, 11, 2),
        extension_parameter="correction_verify_extension_max_working_days",
    )
    assert ob.due_on == dt.date(2026, 11, 9) and ob.article.endswith("第二十四条")
    with pytest.raises(PermissionDenied):
        services.extend_obligation(ob, city.market_officer, 5, "数据量大")
    with pytest.raises(ValidationFailed) as exc:
        services.extend_obligation(ob, head, 16, "数据量大")
    assert exc.value.errors[0]["code"] == "extension_exceeds_limit" and "15" in exc.value.errors[0]["message"]
    ext = services.extend_obligation(ob, head, 10, "数据量大")
    assert ext.old_due_on == dt.date(2026, 11, 9) and ext.new_due_on == dt.date(2026, 11, 23)
    services.extend_obligation(ob, head, 5, "仍需核实")
    with pytest.raises(ValidationFailed):
        services.extend_obligation(ob, head, 1, "再延")  # cumulative ceiling of 15 reached


def test_provisional_deadline_recomputed_when_year_is_loaded(city, published):
    from govshare.calendar.models import HolidayOverride
    from govshare.calendar.policy import overrides_changed

    resource = published()
    ob = services.open_obligation(
        department=city.market,
        duty="catalog.update",
        title="更新目录",
        subject=resource,
        subject_label=resource.name,
        parameter="catalog_update_working_days",
        started_on=dt.date(2026, 12, 24),
    )
    assert ob.provisional  # runs into 2027, for which no official calendar exists yet
    before = ob.due_on
    # Load an official-looking 2027 table that makes every statutory day a holiday and adds one extra rest day
    from govshare.calendar.workdays import statutory_holidays

    for day in statutory_holidays(2027, substitutes=False):
        HolidayOverride.objects.create(date=day, kind="holiday", name="法定")
    HolidayOverride.objects.update_or_create(
        date=dt.date(2027, 1, 4), defaults={"kind": "holiday", "name": "调整"}
    )
    overrides_changed()
    assert services.recompute_provisional() == 1
    ob.refresh_from_db()
    assert not ob.provisional and ob.due_on > before


def test_half_yearly_maintenance_in_changshu(city, published, settings):  # R-CAT-14
    published()
    settings.GOVSHARE_PROFILE = "chenzhou"
    assert services.ensure_periodic()["opened"] == 0
    assert not Obligation.objects.filter(duty="catalog.maintenance").exists()
    settings.GOVSHARE_PROFILE = "changshu"
    services.ensure_periodic()
    ob = Obligation.objects.get(duty="catalog.maintenance", department=city.market)
    today = timezone.localdate()
    assert ob.due_on >= today + dt.timedelta(days=180) and "第十一条" in ob.article
    services.ensure_periodic()
    assert Obligation.objects.filter(duty="catalog.maintenance").count() == 1
    services.file_record(city.market_officer, Filing.Kind.MAINTENANCE, "已完成全面维护")
    ob.refresh_from_db()
    assert ob.status == "fulfilled"
    services.ensure_periodic()
    assert Obligation.objects.filter(duty="catalog.maintenance", status="open").count() == 1


def test_annual_report_due_end_of_january(city, settings):  # R-SUP-05
    settings.GOVSHARE_PROFILE = "chenzhou"
    services.ensure_periodic(dt.date(2027, 1, 5))
    ob = Obligation.objects.get(duty="supervision.annual_report", department=city.market)
    # 2027-01-31 is a Sunday: the period ends on the next working day (民法典 第二百零三条)
    assert ob.due_on == dt.date(2027, 2, 1)
    assert ob.subject_label.endswith("2026年度") and "第三十七条" in ob.article
    assert not Obligation.objects.filter(duty="supervision.annual_report", department=city.authority).exists()
    services.file_record(
        city.market_officer, Filing.Kind.ANNUAL_REPORT, "2026年度共享工作情况", period="2026"
    )
    ob.refresh_from_db()
    assert ob.status == "fulfilled"
    services.ensure_periodic(dt.date(2027, 1, 6))
    assert Obligation.objects.filter(duty="supervision.annual_report", department=city.market).count() == 1


def test_county_filing_in_neixiang(city, payload, settings):  # R-FED-07
    from govshare.orgs.models import Department, Region

    settings.GOVSHARE_PROFILE = "neixiang"
    county_region = Region.objects.create(code="431021", name="桂阳县", level="county", parent=city.region)
    county = Department.objects.create(
        name="桂阳县市场监督管理局",
        uscc="11431021MB0000001K"[:17] + "0",
        region=county_region,
        level="county",
        platform="郴州市平台",
    )
    from govshare.orgs.identifiers import uscc_check_char

    county.uscc = county.uscc[:17] + uscc_check_char(county.uscc[:17])
    county.save()
    officer = city.person("county", county, "provider")
    rev = catalog.create_resource(officer, payload(provider=county.pk, name="县级企业信息"))
    catalog.submit_revision(officer, rev)
    review = Obligation.objects.get(duty="catalog.review")  # NX: the authority reviews within 5 wd (NX 22)
    assert review.department == city.authority and "第二十二条" in review.article
    catalog.publish_revision(city.reviewer, rev)
    review.refresh_from_db()
    assert review.status == "fulfilled"
    filing = Obligation.objects.get(duty="federation.county_filing")
    assert filing.department == county and "第二十三条" in filing.article and filing.due_on
    services.file_record(officer, Filing.Kind.COUNTY_CHANGE, "县级企业信息目录已发布")
    filing.refresh_from_db()
    assert filing.status == "fulfilled"


def test_pages_show_deadlines_with_articles_and_overdue_in_red(city, published):
    _, ob = law_revision(city, published, "条例修订")
    services.check_due(dt.date(2026, 11, 20))
    c = Client()
    c.force_login(city.market_officer)
    page = c.get("/obligations/").content.decode()
    assert "更新政务信息资源目录" in page and "郴政发〔2022〕2号 第十六条" in page
    assert 'class="obligation is-overdue"' in page and "已逾期" in page
    authority = Client()
    authority.force_login(city.reviewer)
    page = authority.get("/obligations/all/", {"department": city.market.pk}).content.decode()
    assert "郴州市市场监督管理局" in page and "is-overdue" in page
    assert c.get("/obligations/all/").status_code == 403
    assert ob.subject_label in page


def test_extension_request_states_are_both_workflows_states():  # R-CORR-04, R-OPEN-08
    """decide_request and lock_pending_request write and compare these values on either model."""
    from govshare.corrections.models import ExtensionStatus
    from govshare.opendata.models import ReplyExtensionStatus

    ours = (services.REQUEST_PENDING, services.REQUEST_APPROVED, services.REQUEST_REFUSED)
    for states in (ExtensionStatus, ReplyExtensionStatus):
        assert (states.PENDING.value, states.APPROVED.value, states.REFUSED.value) == ours
