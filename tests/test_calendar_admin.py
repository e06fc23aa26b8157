"""Holiday override import (service, `govshare holidays`, /settings/calendar/) and the profile page."""

import sys
import types
from datetime import date

import django.db
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from govshare.calendar import policy, services
from govshare.calendar.models import HolidayOverride
from govshare.calendar.profiles import PARAMETERS, load_profile
from govshare.calendar.views import UNSET_PERIOD
from govshare.calendar.workdays import statutory_holidays
from govshare.errors import PermissionDenied, ValidationFailed
from govshare.orgs.models import Role

pytestmark = pytest.mark.django_db

SATURDAY = date(2027, 2, 20)  # a Saturday of a computed (provisional) year


def notice_2027() -> str:
    """A complete (made-up) 2027 notice: every statutory day off, plus one adjusted Saturday."""
    lines = ["# 测试用 2027 年安排（非官方）", "date,kind,name"]
    lines += [f"{d.isoformat()},holiday,{n}" for d, n in sorted(statutory_holidays(2027).items())]
    lines.append(f"{SATURDAY.isoformat()},workday,春节调休上班")
    return "\n".join(lines) + "\n"


BAD = (
    "# 第1行注释\n"
    "date,kind,name\n"
    "2027-02-30,holiday,不存在的日子\n"  # line 3: bad date
    "2027-01-01,holiday,元旦\n"
    "2027-02-20,rest,春节调休上班\n"  # line 5: unknown kind
)


@pytest.fixture(autouse=True)
def fresh_calendar():
    """The calendar is cached per process; rows roll back between tests, so rebuild around each test."""
    policy.overrides_changed()
    yield
    policy.overrides_changed()


@pytest.fixture
def recompute(monkeypatch):
    """Stand-in for govshare.supervision.services.recompute_provisional that counts its calls."""
    calls = []
    fake = types.ModuleType("govshare.supervision.services")
    fake.recompute_provisional = lambda: calls.append(1) or 7
    monkeypatch.setitem(sys.modules, "govshare.supervision.services", fake)
    return calls


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


# --- service -------------------------------------------------------------------------------------------


def test_import_service_upserts_and_recomputes(city, recompute):
    text = notice_2027()
    n = len(statutory_holidays(2027)) + 1
    result = services.import_overrides(text, "测试通知", user=city.reviewer)
    assert result == {"created": n, "updated": 0, "unchanged": 0, "years": [2027], "recomputed": 7}
    assert len(recompute) == 1
    again = services.import_overrides(text, "测试通知", user=city.reviewer)
    assert again == {"created": 0, "updated": 0, "unchanged": n, "years": [2027], "recomputed": 0}
    assert len(recompute) == 1  # nothing changed, nothing recomputed

    # a date in a new file replaces the stored kind and name; other stored dates stay
    fix = "date,kind,name\n2027-02-20,holiday,更正\n"
    assert services.import_overrides(fix, "更正", user=city.reviewer)["updated"] == 1
    row = HolidayOverride.objects.get(date=SATURDAY)
    assert (row.kind, row.name, row.source) == ("holiday", "更正", "更正")
    assert HolidayOverride.objects.count() == n
    assert not policy.work_calendar().is_working_day(SATURDAY)

    assert services.delete_year(2027) == {"deleted": n, "recomputed": 7}
    assert HolidayOverride.objects.count() == 0
    assert policy.work_calendar().year_source(2027) == "computed"


def test_import_service_refuses_with_line_errors(city):
    with pytest.raises(ValidationFailed) as e:
        services.import_overrides(BAD, "x")
    assert [(err["field"], err["label"], err["code"]) for err in e.value.errors] == [
        ("line 3", "第3行", "invalid_date"),
        ("line 5", "第5行", "unknown_kind"),
    ]
    assert "2027-02-30" in e.value.errors[0]["message"] and "rest" in e.value.errors[1]["message"]
    assert HolidayOverride.objects.count() == 0
    with pytest.raises(ValidationFailed):
        services.import_overrides("date,kind,name\n", "x")  # no dates at all
    with pytest.raises(PermissionDenied):
        services.import_overrides(notice_2027(), "x", user=city.market_officer)
    assert HolidayOverride.objects.count() == 0


def test_import_works_without_supervision_recompute(city, monkeypatch):
    monkeypatch.setitem(
        sys.modules, "govshare.supervision.services", types.ModuleType("govshare.supervision.services")
    )
    assert services.import_overrides(notice_2027(), "x")["recomputed"] == 0


def test_import_makes_a_provisional_obligation_official(city):
    """With the real govshare.supervision: an open deadline running into 2027 is re-derived on import."""
    supervision = pytest.importorskip("govshare.supervision.services")
    if not hasattr(supervision, "recompute_provisional"):
        pytest.skip("govshare.supervision.services.recompute_provisional not there yet")
    from govshare.supervision.models import Obligation

    start = date(2027, 2, 18)
    guess = policy.work_calendar().add_working_days(start, 10)
    assert guess.provisional
    ob = Obligation.objects.create(
        department=city.market,
        duty="share_reply",
        title="答复共享申请",
        subject_type="test.subject",
        subject_id="1",
        subject_label="测试",
        requirement="R-SHARE-07",
        profile="chenzhou",
        parameter="share_reply_working_days",
        period_unit="working_days",
        period=10,
        started_on=start,
        due_on=guess.due,
        provisional=True,
    )
    result = services.import_overrides(notice_2027(), "测试通知")
    official = policy.work_calendar().add_working_days(start, 10)
    assert not official.provisional and official.due != guess.due  # the adjusted Saturday counts
    ob.refresh_from_db()
    assert (ob.due_on, ob.provisional) == (official.due, False)
    assert result["recomputed"] >= 1


# --- command -------------------------------------------------------------------------------------------


def test_command_imports_idempotently_and_changes_the_calendar(city, tmp_path, capsys):
    f = tmp_path / "holidays-2027.csv"
    f.write_text(notice_2027(), encoding="utf-8")
    cal = policy.work_calendar()
    assert cal.year_source(2027) == "computed" and not cal.is_working_day(SATURDAY)
    assert cal.add_working_days(date(2027, 3, 1), 5).provisional

    call_command("holidays", "import", str(f), "--source", "国办发明电〔2026〕X号")
    out = capsys.readouterr().out
    n = len(statutory_holidays(2027)) + 1
    assert f"新增 {n} 条" in out and "2027年（已导入（官方通知））" in out
    assert HolidayOverride.objects.count() == n
    assert set(HolidayOverride.objects.values_list("source", flat=True)) == {"国办发明电〔2026〕X号"}
    stamps = list(HolidayOverride.objects.values_list("loaded_at", flat=True))

    cal = policy.work_calendar()
    assert cal.year_source(2027) == "override"
    assert cal.is_working_day(SATURDAY)  # the adjusted Saturday is now a working day
    assert cal.day_name(SATURDAY) == "春节调休上班"
    deadline = cal.add_working_days(date(2027, 2, 18), 1)  # Thursday → Friday
    assert deadline.due == date(2027, 2, 19) and not deadline.provisional
    assert cal.add_working_days(date(2027, 2, 19), 1).due == SATURDAY

    call_command("holidays", "import", str(f), "--source", "国办发明电〔2026〕X号")
    assert f"未变 {n} 条" in capsys.readouterr().out
    assert HolidayOverride.objects.count() == n
    assert list(HolidayOverride.objects.values_list("loaded_at", flat=True)) == stamps

    call_command("holidays", "list", "--year", "2027")
    out = capsys.readouterr().out
    assert "2027年 · 数据来源：已导入（官方通知） · 已导入" in out and "2027-02-20 周六 workday" in out


def test_command_source_defaults_to_file_name(city, tmp_path):
    f = tmp_path / "notice.csv"
    f.write_text("\ufeffdate,kind,name\n2027-02-20,workday,\n", encoding="utf-8")
    call_command("holidays", "import", str(f))
    row = HolidayOverride.objects.get()
    assert (row.kind, row.name, row.source) == ("workday", "", "notice.csv")
    # one entry does not make the year official: it patches it, the rest stays provisional
    assert policy.work_calendar().year_source(2027) == "computed"
    assert policy.work_calendar().is_working_day(SATURDAY)


def test_command_refuses_malformed_file(city, tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text(BAD, encoding="utf-8")
    with pytest.raises(CommandError) as e:
        call_command("holidays", "import", str(f))
    assert e.value.returncode == 2
    message = str(e.value)
    assert "第3行" in message and "第5行" in message and "未导入任何数据" in message
    assert "第4行" not in message
    assert HolidayOverride.objects.count() == 0


def test_govshare_cli_exits_2_on_malformed_file(city, tmp_path, capsys, monkeypatch):
    from govshare.cli import main

    monkeypatch.setattr(django.db.connections, "close_all", lambda: None)  # keep the test's transaction
    f = tmp_path / "bad.csv"
    f.write_text(BAD, encoding="utf-8")
    with pytest.raises(SystemExit) as e:
        main(["holidays", "import", str(f)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "第3行：日期“2027-02-30”无效" in err and "第5行：类型“rest”未知" in err
    assert HolidayOverride.objects.count() == 0
    with pytest.raises(SystemExit) as e:
        main(["holidays", "import", str(tmp_path / "missing.csv")])
    assert e.value.code == 2


def test_command_rejects_non_utf8(city, tmp_path):
    f = tmp_path / "gbk.csv"
    f.write_bytes("date,kind,name\n2027-02-20,workday,调休\n".encode("gbk"))
    with pytest.raises(CommandError) as e:
        call_command("holidays", "import", str(f))
    assert e.value.returncode == 2 and "UTF-8" in str(e.value)
    assert HolidayOverride.objects.count() == 0


# --- calendar page -------------------------------------------------------------------------------------


def test_calendar_page_shows_years_and_sources(city):
    c = login(city.reviewer)
    r = c.get("/settings/calendar/")
    assert r.status_code == 200
    html = r.content.decode()
    this = date.today().year
    for y in range(this - 1, this + 3):
        assert f'id="year-{y}"' in html
    assert "官方数据（chinese_calendar）" in html and "推算·临时" in html
    assert "date,kind,name" in html  # the format is explained on the page


def test_calendar_page_upload(city):
    c = login(city.reviewer)
    upload = SimpleUploadedFile("notice-2027.csv", notice_2027().encode("utf-8"), content_type="text/csv")
    r = c.post("/settings/calendar/", {"file": upload, "source": "国办发明电"})
    assert r.status_code == 302
    n = len(statutory_holidays(2027)) + 1
    assert HolidayOverride.objects.count() == n
    assert policy.work_calendar().is_working_day(SATURDAY)
    page = c.get("/settings/calendar/").content.decode()
    assert f"新增 {n} 条" in page
    if date.today().year - 1 <= 2027 <= date.today().year + 2:
        assert "2月20日（周六）" in page and "春节调休上班" in page

    upload = SimpleUploadedFile("notice-2027.csv", notice_2027().encode("utf-8"), content_type="text/csv")
    r = c.post("/settings/calendar/", {"file": upload}, follow=True)
    assert f"未变 {n} 条" in r.content.decode()
    assert HolidayOverride.objects.count() == n

    r = c.post("/settings/calendar/2027/delete/", follow=True)
    assert "已删除 2027 年的" in r.content.decode()
    assert HolidayOverride.objects.count() == 0


def test_calendar_page_refuses_malformed_file(city):
    c = login(city.reviewer)
    upload = SimpleUploadedFile("bad.csv", BAD.encode("utf-8"), content_type="text/csv")
    r = c.post("/settings/calendar/", {"file": upload})
    assert r.status_code == 422
    html = r.content.decode()
    assert "第3行" in html and "第5行" in html and "第4行" not in html
    assert "2027-02-30" in html and "rest" in html
    assert HolidayOverride.objects.count() == 0
    # pasted text goes through the same checks
    r = c.post("/settings/calendar/", {"text": BAD})
    assert r.status_code == 422 and "第5行" in r.content.decode()
    assert HolidayOverride.objects.count() == 0


def test_settings_pages_are_for_authority_and_operator_only(city):
    for url in ("/settings/calendar/", "/settings/profile/"):
        r = Client().get(url)
        assert r.status_code == 302 and r["Location"].startswith("/login/")
    provider = login(city.market_officer)
    for url in ("/settings/calendar/", "/settings/profile/"):
        r = provider.get(url)
        assert r.status_code == 403 and "无权访问" in r.content.decode()
    upload = SimpleUploadedFile("notice.csv", notice_2027().encode("utf-8"), content_type="text/csv")
    assert provider.post("/settings/calendar/", {"file": upload}).status_code == 403
    HolidayOverride.objects.create(date=SATURDAY, kind="workday", name="x")
    assert provider.post("/settings/calendar/2027/delete/").status_code == 403
    assert HolidayOverride.objects.count() == 1

    assert 'href="/settings/calendar/"' not in provider.get("/").content.decode()
    assert 'href="/settings/calendar/"' in login(city.reviewer).get("/").content.decode()

    operator = login(city.person("ops", city.authority, Role.OPERATOR))
    assert operator.get("/settings/calendar/").status_code == 200
    assert operator.get("/settings/profile/").status_code == 200


# --- profile page --------------------------------------------------------------------------------------


def test_profile_page_lists_every_parameter_with_article(city, settings):
    settings.GOVSHARE_PROFILE = "chenzhou"
    r = login(city.reviewer).get("/settings/profile/")
    assert r.status_code == 200
    html = r.content.decode()
    profile = load_profile("chenzhou")
    assert profile.name in html and "郴政发〔2022〕2号" in html and "2022年1月7日" in html
    assert "GOVSHARE_PROFILE" in html and "当前生效" in html
    for key in PARAMETERS:
        p = profile.param(key)
        assert f'id="param-{key}"' in html
        row = html.split(f'id="param-{key}"', 1)[1].split("</tr>", 1)[0]
        assert p.label in row and p.requirement in row
        if p.article:
            assert p.article in row
    row = html.split('id="param-log_retention_months"', 1)[1].split("</tr>", 1)[0]
    assert UNSET_PERIOD in row and "本地办法未规定（该环节不设时限）" in row
    row = html.split('id="param-share_reply_working_days"', 1)[1].split("</tr>", 1)[0]
    assert "10 个工作日" in row and "第二十一条第（二）项" in row
    row = html.split('id="param-share_reply_written"', 1)[1].split("</tr>", 1)[0]
    assert "是" in row
    row = html.split('id="param-annual_report_due"', 1)[1].split("</tr>", 1)[0]
    assert "每年1月底前" in row
    row = html.split('id="param-reminder_lead_working_days"', 1)[1].split("</tr>", 1)[0]
    assert "2 个工作日" in row and "平台设置" in row
    # the other profiles are offered for comparison
    for code in ("changshu", "shangrao", "neixiang", "template"):
        assert f'value="{code}"' in html


def test_profile_page_compares_another_profile_read_only(city, settings):
    settings.GOVSHARE_PROFILE = "chenzhou"
    c = login(city.reviewer)
    html = c.get("/settings/profile/?code=neixiang").content.decode()
    assert "仅供对比，未生效" in html and load_profile("neixiang").name in html
    row = html.split('id="param-open_reply_extension_max_working_days"', 1)[1].split("</tr>", 1)[0]
    assert "10 个工作日" in row and "第四十六条" in row
    row = html.split('id="param-share_delivery_methods"', 1)[1].split("</tr>", 1)[0]
    assert "接口查询、核验、文件（批量）" in row
    assert policy.active_profile().code == "chenzhou"  # viewing does not switch
    r = c.get("/settings/profile/?code=nowhere", follow=True)
    assert r.status_code == 200 and "没有名为“nowhere”的政策配置" in r.content.decode()
