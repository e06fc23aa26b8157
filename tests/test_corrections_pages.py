"""Correction pages for people: raise a doubt from a grant or the catalog, route it, verify, extend, fix and
close it, and see it in supervision (issue #8, R-CORR-01..09)."""

import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from tests.test_collect_load import A, B
from tests.test_sharing_gate import loaded, make_grant, systems  # noqa: F401 (fixtures)

from govshare.audit.models import AuditEvent
from govshare.calendar.policy import active_profile, work_calendar
from govshare.collect.services import load_rows
from govshare.corrections.models import CorrectionTicket, Evidence, ExtensionRequest, TicketStatus
from govshare.corrections.selectors import SUBJECT
from govshare.notifications.models import Notification
from govshare.orgs.models import Role
from govshare.supervision.models import Obligation, ObligationStatus

PDF = b"%PDF-1.4\n%evidence of the right name\n"


@pytest.fixture(autouse=True)
def media(media):  # every test here writes files: into the throwaway directory
    return media


@pytest.fixture
def cz(settings):
    settings.GOVSHARE_PROFILE = "chenzhou"


@pytest.fixture
def nx(settings):
    settings.GOVSHARE_PROFILE = "neixiang"


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def section(html: str, element_id: str, end: str = "</table>") -> str:
    """The text of one part of a page, so an assertion cannot be satisfied by another part of it."""
    start = html.index(f'id="{element_id}"')
    return html[start : html.index(end, start)]


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def grant(city, loaded, systems):
    """民政's grant on the police's 户籍人口: three items, the ID number masked."""
    return make_grant(
        city, loaded, systems["civil"], items=["sfzh", "xm", "csrq"], masks={"sfzh": "keep:6:4"}
    )


@pytest.fixture
def civil(city):
    return login(city.civil_officer)


@pytest.fixture
def police(city):
    return login(city.police_officer)


@pytest.fixture
def head(city):
    return city.person("police_head", city.police, Role.HEAD, full_name="公安局负责人")


def raise_doubt(client, grant, **overrides) -> CorrectionTicket:
    data = {
        "scope": "record",
        "record_key": A,
        "items": ["xm"],
        "description": "姓名应为“张三”，户籍登记有误",
    }
    data.update(overrides)
    r = client.post(f"/corrections/new/?grant={grant.pk}", data)
    assert r.status_code == 302, text(r)[:3000]
    return CorrectionTicket.objects.get(pk=int(r["Location"].rstrip("/").split("/")[-1]))


def due_after(start, param: str):
    return work_calendar().add_working_days(start, active_profile().value(param)).due


def obligation(ticket, duty: str) -> Obligation:
    return Obligation.objects.get(subject_type=SUBJECT, subject_id=str(ticket.pk), duty=duty)


def fix_at_source(city, resource):
    """The provider corrects the record at source and collection brings it in again (R-CORR-05)."""
    load_rows(
        resource,
        [{"sfzh": A, "xm": "张三", "xb": "男", "csrq": "1980-01-01", "sjhm": "13812345678"}],
        actor=city.police_officer,
    )


# ---------------------------------------------------------------- CZ: straight to the provider


def test_grant_page_offers_a_doubt_only_to_the_consumer(city, grant, civil, police):  # R-CORR-01
    assert f'href="/corrections/new/?grant={grant.pk}"' in text(civil.get(f"/sharing/grants/{grant.pk}/"))
    assert "/corrections/new/" not in text(police.get(f"/sharing/grants/{grant.pk}/"))
    form = text(civil.get(f"/corrections/new/?grant={grant.pk}"))
    offered = set(re.findall(r'name="items" value="(\w+)"', form))
    assert offered == {"sfzh", "xm", "csrq"}  # only granted items; 手机号码 is not in the grant
    assert "公民身份号码" in section(form, "raise-form", "</form>")


def test_cz_doubt_goes_to_the_provider_verified_fixed_and_closed(cz, city, grant, civil, police):
    # R-CORR-01, R-CORR-03, R-CORR-05, R-CORR-06
    r = civil.post(
        f"/corrections/new/?grant={grant.pk}",
        {"scope": "record", "record_key": A, "items": ["xm"], "description": "姓名应为“张三”"},
        follow=True,
    )
    ticket = CorrectionTicket.objects.get()
    verify = obligation(ticket, "corrections.verify")
    expected = due_after(verify.started_on, "correction_verify_working_days")
    assert verify.due_on == expected and verify.department == city.police
    assert f"须于 {expected:%Y-%m-%d} 前核校" in text(r)  # the reporter is told when to expect an answer
    assert ticket.status == TicketStatus.VERIFYING and A not in ticket.record_label
    assert ticket.record_label.startswith(f"公民身份号码 {A[:6]}")

    todo = text(police.get("/corrections/?tab=todo"))
    row = section(todo, "tickets")
    assert ticket.number in row and ticket.record_label in row
    assert f"截止 {expected:%Y-%m-%d}" in row and "郴政发〔2022〕2号 第二十四条" in row
    assert ticket.number in section(text(civil.get("/corrections/?tab=mine")), "tickets")

    page = text(police.get(f"/corrections/{ticket.pk}/"))
    assert 'id="decide-form"' in page and 'id="extend-form"' in page
    assert 'id="decide-form"' not in text(civil.get(f"/corrections/{ticket.pk}/"))

    r = police.post(
        f"/corrections/{ticket.pk}/decide/", {"decision": "error", "note": "户籍档案核实，姓名录入错误"}
    )
    assert r.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.FIXING
    assert obligation(ticket, "corrections.verify").status == ObligationStatus.FULFILLED

    # Closing before the corrected record has arrived is refused, and says why.
    refused = police.post(f"/corrections/{ticket.pk}/close/", {"decision": "corrected", "note": "已更正"})
    assert refused.status_code == 409
    assert "更正后的记录尚未通过数据归集汇聚到平台" in section(text(refused), "close-form", "</form>")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.FIXING

    fix_at_source(city, grant.resource)
    r = police.post(f"/corrections/{ticket.pk}/close/", {"decision": "corrected", "note": "已从源头更正"})
    assert r.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.status, ticket.outcome) == (TicketStatus.CLOSED, "corrected")
    seen = text(civil.get(f"/corrections/{ticket.pk}/"))
    assert "已办结" in section(seen, "ticket-status", "</h1>") and "已更正" in section(
        seen, "outcome", "</dd>"
    )
    assert Notification.objects.filter(department=city.civil, kind="corrections.closed").exists()


def test_cz_extension_needs_the_provider_heads_approval_within_the_ceiling(
    cz, city, grant, civil, police, head
):  # R-CORR-04
    ticket = raise_doubt(civil, grant)
    old_due = obligation(ticket, "corrections.verify").due_on
    ceiling = active_profile().value("correction_verify_extension_max_working_days")

    too_long = police.post(
        f"/corrections/{ticket.pk}/extend/", {"working_days": str(ceiling + 1), "reason": "需调取档案"}
    )
    assert too_long.status_code == 422
    assert f"延期累计不得超过 {ceiling} 个工作日" in section(text(too_long), "extend-form", "</form>")
    assert not ExtensionRequest.objects.exists()

    r = police.post(
        f"/corrections/{ticket.pk}/extend/", {"working_days": "5", "reason": "需调取纸质户籍档案"}
    )
    assert r.status_code == 302
    req = ExtensionRequest.objects.get()
    assert 'id="extension-decision"' not in text(police.get(f"/corrections/{ticket.pk}/"))

    # The consumer cannot approve; the due date stays.
    refused = civil.post(f"/corrections/{ticket.pk}/extensions/{req.pk}/approve/")
    assert refused.status_code == 403 and "负责人" in text(refused)
    req.refresh_from_db()
    assert req.status == "pending" and obligation(ticket, "corrections.verify").due_on == old_due

    approver = login(head)
    assert 'id="extension-decision"' in text(approver.get(f"/corrections/{ticket.pk}/"))
    r = approver.post(f"/corrections/{ticket.pk}/extensions/{req.pk}/approve/", {"note": "同意"}, follow=True)
    new_due = work_calendar().add_working_days(old_due, 5).due
    assert obligation(ticket, "corrections.verify").due_on == new_due
    assert f"延至 {new_due:%Y-%m-%d}" in text(r)
    page = text(civil.get(f"/corrections/{ticket.pk}/"))
    assert f"截止 {new_due:%Y-%m-%d}" in section(page, "running", "办理过程")
    told = Notification.objects.get(department=city.civil, kind="corrections.extended")
    assert "延长" in told.title and f"{new_due:%Y-%m-%d}" in told.title


def test_head_refuses_an_extension_with_a_reason(cz, city, grant, civil, police, head):  # R-CORR-04
    ticket = raise_doubt(civil, grant)
    due = obligation(ticket, "corrections.verify").due_on
    typo = police.post(f"/corrections/{ticket.pk}/extend/", {"working_days": "五", "reason": "档案"})
    assert typo.status_code == 422 and "延长工作日须为正整数" in text(typo)
    police.post(f"/corrections/{ticket.pk}/extend/", {"working_days": "3", "reason": "需调取档案"})
    req = ExtensionRequest.objects.get()
    approver = login(head)
    bare = approver.post(f"/corrections/{ticket.pk}/extensions/{req.pk}/refuse/", {"note": ""})
    assert bare.status_code == 422 and "不予批准须说明理由" in section(
        text(bare), "extension-decision", "</form>"
    )
    r = approver.post(f"/corrections/{ticket.pk}/extensions/{req.pk}/refuse/", {"note": "期限内可以完成"})
    assert r.status_code == 302
    req.refresh_from_db()
    assert req.status == "refused" and obligation(ticket, "corrections.verify").due_on == due
    assert Notification.objects.filter(department=city.police, kind="corrections.extension_refused").exists()
    assert 'id="extend-form"' in text(police.get(f"/corrections/{ticket.pk}/"))  # it may ask again


def test_changshu_sets_no_deadline_and_offers_no_extension(settings, city, grant, civil, police):  # R-CORR-03
    settings.GOVSHARE_PROFILE = "changshu"
    ticket = raise_doubt(civil, grant)
    assert obligation(ticket, "corrections.verify").due_on is None
    assert "本地办法未规定时限" in section(text(police.get("/corrections/?tab=todo")), "tickets")
    page = text(police.get(f"/corrections/{ticket.pk}/"))
    assert 'id="decide-form"' in page and 'id="extend-form"' not in page


# ---------------------------------------------------------------- NX: authority, operator, provider


def test_nx_report_needs_evidence_then_authority_operator_provider(
    nx, city, grant, civil, police, operator
):  # R-CORR-02, R-CORR-03, R-CORR-05
    form = text(civil.get(f"/corrections/new/?grant={grant.pk}"))
    assert "必须上传佐证材料" in form and "第六十四条" in form

    data = {"scope": "record", "record_key": A, "items": ["xm"], "description": "姓名与户口簿不一致"}
    missing = civil.post(f"/corrections/new/?grant={grant.pk}", data)
    assert missing.status_code == 422 and "反馈问题数据须附佐证材料" in text(missing)
    assert not CorrectionTicket.objects.exists()

    ticket = raise_doubt(
        civil, grant, evidence=[SimpleUploadedFile("户口簿.pdf", PDF, content_type="application/pdf")]
    )
    assert ticket.status == TicketStatus.REPORTED and ticket.evidence.count() == 1
    assert not Obligation.objects.filter(subject_type=SUBJECT).exists()  # no clock before dispatch

    authority = login(city.reviewer)
    assert ticket.number in section(text(authority.get("/corrections/?tab=queue")), "tickets")
    assert 'id="decide-form"' not in text(authority.get(f"/corrections/{ticket.pk}/"))
    assert authority.post(f"/corrections/{ticket.pk}/accept/", {"note": "转技术服务单位"}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.DISPATCHING

    ops = login(operator)
    assert ticket.number in section(text(ops.get("/corrections/?tab=queue")), "tickets")
    no_analysis = ops.post(f"/corrections/{ticket.pk}/dispatch/", {"decision": "forward", "analysis": " "})
    assert no_analysis.status_code == 422 and "请填写分析意见" in text(no_analysis)
    r = ops.post(
        f"/corrections/{ticket.pk}/dispatch/", {"decision": "forward", "analysis": "源数据问题，转公安局"}
    )
    assert r.status_code == 302
    ticket.refresh_from_db()
    verify = obligation(ticket, "corrections.verify")
    assert ticket.status == TicketStatus.VERIFYING
    assert verify.due_on == due_after(verify.started_on, "correction_verify_working_days")

    page = text(police.get(f"/corrections/{ticket.pk}/"))
    assert 'id="extend-form"' not in page  # NX sets no extension
    police.post(f"/corrections/{ticket.pk}/decide/", {"decision": "error", "note": "确有错误"})
    fix = obligation(ticket, "corrections.fix")
    assert fix.due_on == due_after(fix.started_on, "correction_fix_working_days")
    page = text(police.get(f"/corrections/{ticket.pk}/"))
    assert f"截止 {fix.due_on:%Y-%m-%d}" in section(page, "running", "办理过程") and "第六十五条" in page
    assert Notification.objects.filter(department=city.authority, kind="corrections.decided").exists()

    fix_at_source(city, grant.resource)
    police.post(f"/corrections/{ticket.pk}/close/", {"decision": "partly", "note": "姓名已更正，其余待核"})
    ticket.refresh_from_db()
    assert (ticket.status, ticket.outcome) == (TicketStatus.CLOSED, "partly")
    assert "部分更正" in text(civil.get(f"/corrections/{ticket.pk}/"))


def test_nx_operator_can_dismiss_as_no_data_error(nx, city, grant, civil, operator):  # R-CORR-02
    ticket = raise_doubt(civil, grant, evidence=[SimpleUploadedFile("a.pdf", PDF)])
    login(city.reviewer).post(f"/corrections/{ticket.pk}/accept/")
    login(operator).post(
        f"/corrections/{ticket.pk}/dispatch/", {"decision": "dismiss", "analysis": "系统显示问题"}
    )
    ticket.refresh_from_db()
    assert (ticket.status, ticket.outcome) == (TicketStatus.CLOSED, "not_error")
    assert "经核实无误" in text(civil.get(f"/corrections/{ticket.pk}/"))


# ---------------------------------------------------------------- who may see and do what


def test_another_department_cannot_see_a_ticket(cz, city, grant, civil):  # R-CORR-01, R-SEC-03
    ticket = raise_doubt(civil, grant)
    market = login(city.market_officer)
    assert market.get(f"/corrections/{ticket.pk}/").status_code == 404
    assert market.post(f"/corrections/{ticket.pk}/withdraw/").status_code == 404
    assert ticket.number not in text(market.get("/corrections/?tab=mine"))
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.VERIFYING


def test_consumer_cannot_decide_its_own_doubt(cz, city, grant, civil):  # R-CORR-03
    ticket = raise_doubt(civil, grant)
    r = civil.post(f"/corrections/{ticket.pk}/decide/", {"decision": "no_error", "note": "无误"})
    assert r.status_code == 403 and "只有提供部门的数据专员可以核校" in text(r)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.VERIFYING and ticket.outcome == ""


def test_reporter_withdraws_and_the_clock_stops(cz, city, grant, civil, police):  # R-CORR-01
    ticket = raise_doubt(civil, grant)
    assert 'id="withdraw-form"' not in text(police.get(f"/corrections/{ticket.pk}/"))
    r = civil.post(f"/corrections/{ticket.pk}/withdraw/", {"reason": "已核实，是本部门录入问题"}, follow=True)
    assert "疑义已撤回" in text(r)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.WITHDRAWN
    assert obligation(ticket, "corrections.verify").status == ObligationStatus.CANCELLED
    again = civil.post(f"/corrections/{ticket.pk}/withdraw/")
    assert again.status_code == 409 and "已撤回" in text(again)


def test_evidence_download_is_audited_and_refused_to_outsiders(cz, city, grant, civil, police):
    # R-CORR-02, R-SEC-05
    ticket = raise_doubt(civil, grant, evidence=[SimpleUploadedFile("户口簿.pdf", PDF)])
    ev = Evidence.objects.get(ticket=ticket)
    link = f"/corrections/{ticket.pk}/evidence/{ev.pk}/"
    assert link in text(police.get(f"/corrections/{ticket.pk}/"))
    r = police.get(link)
    assert r.status_code == 200 and b"".join(r.streaming_content) == PDF
    assert r["Content-Disposition"].startswith("attachment")
    event = AuditEvent.objects.get(action="corrections.evidence_download")
    assert (event.actor, event.department_id, event.detail["number"]) == (
        "police",
        city.police.pk,
        ticket.number,
    )

    assert login(city.market_officer).get(link).status_code == 404
    assert civil.get(f"/corrections/{ticket.pk}/evidence/{ev.pk + 1}/").status_code == 404
    assert AuditEvent.objects.filter(action="corrections.evidence_download").count() == 1


def test_invalid_form_shows_chinese_errors_and_saves_nothing(cz, city, grant, civil):  # R-CORR-01
    r = civil.post(
        f"/corrections/new/?grant={grant.pk}",
        {"scope": "record", "record_key": A, "items": ["xm"], "description": "  ", "suggestion": "改为张三"},
    )
    assert r.status_code == 422 and "请简要描述问题" in text(r)
    assert "改为张三" in text(r)  # what was typed is kept
    unknown = civil.post(
        f"/corrections/new/?grant={grant.pk}",
        {"scope": "record", "record_key": "430000000000000000", "items": ["xm"], "description": "错"},
    )
    assert unknown.status_code == 422 and "在授权范围内未找到该记录" in text(unknown)
    bad_file = civil.post(
        f"/corrections/new/?grant={grant.pk}",
        {
            "scope": "record",
            "record_key": B,
            "description": "错",
            "evidence": [SimpleUploadedFile("x.exe", b"MZ\x90\x00")],
        },
    )
    assert bad_file.status_code == 422 and "须为 PDF、图片" in text(bad_file)
    assert not CorrectionTicket.objects.exists() and not Evidence.objects.exists()


def test_another_departments_grant_is_not_found(cz, city, grant):  # R-CORR-01
    assert login(city.market_officer).get(f"/corrections/new/?grant={grant.pk}").status_code == 404


# ---------------------------------------------------------------- catalog doubts and supervision


def test_catalog_doubt_from_the_catalog_page(cz, city, loaded):  # R-CORR-08
    market = login(city.market_officer)
    page = text(market.get(f"/catalog/resources/{loaded.code}/"))
    link = f"/corrections/new/?resource={loaded.pk}&amp;scope=catalog"
    assert link in page and "目录疑义" in page
    assert "/corrections/new/" not in text(
        login(city.police_officer).get(f"/catalog/resources/{loaded.code}/")
    )

    form = text(market.get(f"/corrections/new/?resource={loaded.pk}&scope=catalog"))
    assert set(re.findall(r'name="items" value="(\w+)"', form)) == {"sfzh", "xm", "xb", "csrq", "sjhm"}
    r = market.post(
        f"/corrections/new/?resource={loaded.pk}&scope=catalog",
        {"scope": "catalog", "items": ["sjhm"], "description": "手机号码应标注为敏感信息项"},
    )
    assert r.status_code == 302
    ticket = CorrectionTicket.objects.get()
    assert (ticket.scope, ticket.provider, ticket.items) == ("catalog", city.police, ["sjhm"])
    row = section(text(login(city.police_officer).get("/corrections/?tab=todo")), "tickets")
    assert ticket.number in row and "目录" in row

    # Without a grant there is no record to dispute: a forged record doubt is refused, not filed as a catalog one.
    forged = market.post(
        f"/corrections/new/?resource={loaded.pk}",
        {"scope": "record", "record_key": A, "description": "姓名有误"},
    )
    assert forged.status_code == 403 and "没有资源“户籍人口基本信息”的授权" in text(forged)
    assert CorrectionTicket.objects.count() == 1


def test_supervision_counts_corrections_per_provider(cz, city, grant, civil, police):  # R-CORR-09
    ticket = raise_doubt(civil, grant)
    police.post(f"/corrections/{ticket.pk}/decide/", {"decision": "error", "note": "确有错误"})
    fix_at_source(city, grant.resource)
    police.post(f"/corrections/{ticket.pk}/close/", {"decision": "corrected"})
    raise_doubt(civil, grant, record_key=B)
    table = section(text(login(city.reviewer).get("/obligations/all/")), "correction-counts")
    cells = re.findall(r"<td[^>]*>(.*?)</td>", table.split(city.police.name, 1)[1].split("</tr>", 1)[0])
    assert cells == ["2", "1", "0", "1", "0"]  # received, open, overdue, corrected, not an error


def test_overdue_verification_shows_red_in_the_list(cz, city, grant, civil, police):  # R-CORR-03, R-CORR-09
    ticket = raise_doubt(civil, grant)
    ob = obligation(ticket, "corrections.verify")
    Obligation.objects.filter(pk=ob.pk).update(due_on=dt.date(2020, 1, 6))
    row = section(text(police.get("/corrections/?tab=todo")), "tickets")
    assert "is-overdue" in row and "已逾期" in row and "第二十四条" in row
