"""Sharing pages for people: apply, decide, grants, suspension, usage logs (R-SHARE-04..18, R-SEC-05/07)."""

import csv
import datetime as dt
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from conftest import PEOPLE_ITEMS
from govshare.audit import services as audit
from govshare.audit.models import AuditEvent
from govshare.clients import services as clients
from govshare.sharing.models import ApplicationStatus, Grant, GrantStatus, NegotiationCase, ShareApplication
from govshare.supervision.models import Obligation


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def section(html: str, table_id: str) -> str:
    """The text of one table of a page, so an assertion cannot be satisfied by another part of it."""
    start = html.index(f'id="{table_id}"')
    return html[start : html.index("</table>", start)]


@pytest.fixture
def conditional(city, published):
    """户籍人口 of the police, shared on conditions, by interface, verification and file."""
    return published(
        officer=city.police_officer,
        name="户籍人口基本信息",
        provider=city.police.pk,
        items=PEOPLE_ITEMS,
        share_type="conditional",
        share_condition="仅限履行社会救助、户籍核查职责的部门",
        share_methods=["query", "verify", "batch"],
        open_type="none",
        legal_basis="《中华人民共和国个人信息保护法》第三十四条",
    )


@pytest.fixture
def subsidy(city):
    return clients.register_client(city.civil_officer, "低保审核业务系统", "subsidy-check")


@pytest.fixture
def civil(city):
    return login(city.civil_officer)


@pytest.fixture
def police(city):
    return login(city.police_officer)


def apply_form(subsidy, **overrides) -> dict:
    today = timezone.localdate()
    data = {
        "purpose": "最低生活保障对象家庭经济状况核对",
        "duty_basis": "《社会救助暂行办法》第十一条",
        "clients": [str(subsidy.pk)],
        "items": ["sfzh", "xm", "csrq", "sjhm"],
        "methods": ["query"],
        "valid_from": today.isoformat(),
        "valid_until": (today + dt.timedelta(days=180)).isoformat(),
        "terms": "on",
    }
    data.update(overrides)
    return data


def submit(client, resource, data) -> ShareApplication:
    r = client.post(f"/sharing/apply/{resource.code}/", data)
    assert r.status_code == 302, r.content.decode()[:2000]
    return ShareApplication.objects.get(pk=int(r["Location"].rstrip("/").split("/")[-1]))


def approve_form(**overrides) -> dict:
    today = timezone.localdate()
    data = {
        "items": ["sfzh", "xm"],
        "mask-sfzh": "keep",
        "keep_first-sfzh": "6",
        "keep_last-sfzh": "4",
        "mask-xm": "hash",
        "methods": ["query"],
        "valid_from": today.isoformat(),
        "valid_until": (today + dt.timedelta(days=90)).isoformat(),
        "comment": "同意按核对需要提供身份号码（脱敏）与姓名。",
    }
    data.update(overrides)
    return data


@pytest.fixture
def grant(city, conditional, subsidy, civil, police) -> Grant:
    app = submit(civil, conditional, apply_form(subsidy))
    r = police.post(f"/sharing/applications/{app.pk}/decide/", approve_form())
    assert r.status_code == 302, r.content.decode()[:2000]
    return Grant.objects.get(application=app)


def test_catalog_page_offers_the_application_to_other_departments_only(city, conditional, civil, police):
    # R-SHARE-03
    page = civil.get(f"/catalog/resources/{conditional.code}/").content.decode()
    assert f'href="/sharing/apply/{conditional.code}/"' in page and "申请使用" in page
    assert "/sharing/apply/" not in police.get(f"/catalog/resources/{conditional.code}/").content.decode()


def test_application_through_the_form_shows_in_my_applications_with_due_date_and_article(
    city, conditional, subsidy, civil
):  # R-SHARE-05, R-SHARE-07
    form = civil.get(f"/sharing/apply/{conditional.code}/").content.decode()
    assert (
        "提供给第三方" in form
        and "不得用于有偿服务或商业目的" in form
        and conditional.usage_requirements in form
    )
    assert 'name="methods" value="table_sync"' not in form  # only what the resource offers
    app = submit(civil, conditional, apply_form(subsidy))
    assert app.status == ApplicationStatus.PENDING and app.consumer == city.civil
    assert list(app.clients.all()) == [subsidy] and app.terms_accepted_at is not None
    reply = Obligation.objects.get(subject_type="sharing.shareapplication", subject_id=str(app.pk))
    assert reply.due_on is not None and reply.article
    rows = section(civil.get("/sharing/applications/?view=mine").content.decode(), "applications")
    assert app.number in rows and "待答复" in rows
    assert reply.due_on.strftime("%Y-%m-%d") in rows and reply.article in rows
    detail = civil.get(f"/sharing/applications/{app.pk}/").content.decode()
    assert "提交申请" in section(detail, "deadlines") or "提交申请" in detail
    assert reply.article in section(detail, "deadlines")


def test_application_without_terms_is_shown_again_with_the_error_and_not_saved(
    city, conditional, subsidy, civil
):  # R-SHARE-17
    data = apply_form(subsidy)
    del data["terms"]
    r = civil.post(f"/sharing/apply/{conditional.code}/", data)
    assert r.status_code == 422
    page = r.content.decode()
    assert "须承诺仅用于本部门履职用途" in page
    assert "最低生活保障对象家庭经济状况核对" in page  # what was typed is kept
    assert not ShareApplication.objects.exists()


def test_provider_approves_a_subset_with_masks_and_consumer_sees_exactly_that(
    city, conditional, subsidy, civil, police
):  # R-SHARE-07, R-SHARE-10, R-SHARE-16
    app = submit(civil, conditional, apply_form(subsidy))
    inbox = section(police.get("/sharing/inbox/").content.decode(), "inbox")
    assert app.number in inbox and civil_name(city) in inbox
    decide = police.get(f"/sharing/applications/{app.pk}/decide/").content.decode()
    assert "书面答复" in decide  # CZ: the reply must be written
    # the proposed mask for 公民身份号码 is "keep first 6, last 4"
    assert re.search(r'name="mask-sfzh"[^>]*>.*?<option value="keep" selected>', decide, re.S)
    r = police.post(f"/sharing/applications/{app.pk}/decide/", approve_form())
    assert r.status_code == 302
    grant = Grant.objects.get(application=app)
    assert grant.items == ["sfzh", "xm"] and grant.masks == {"sfzh": "keep:6:4", "xm": "hash"}
    rows = section(civil.get("/sharing/grants/").content.decode(), "received-grants")
    assert grant.number in rows and "低保审核业务系统" in rows
    assert "公民身份号码" in rows and "保留前6位、后4位" in rows
    assert "姓名" in rows and "加盐哈希" in rows
    assert "出生日期" not in rows and "手机号码" not in rows
    assert "有效" in rows and "全部记录" in rows
    assert app.number not in section(police.get("/sharing/inbox/").content.decode(), "inbox")


def civil_name(city) -> str:
    return city.civil.name


def test_row_filter_from_the_decision_form_is_described_to_the_consumer(
    city, conditional, subsidy, civil, police
):  # R-SHARE-10
    app = submit(civil, conditional, apply_form(subsidy))
    form = approve_form(
        **{"filter-item-0": "sfzh", "filter-op-0": "prefix", "filter-values-0": "431002，431003"}
    )
    r = police.post(f"/sharing/applications/{app.pk}/decide/", form)
    assert r.status_code == 302, re.findall(r"class=\"error\">([^<]*)", r.content.decode())
    grant = Grant.objects.get(application=app)
    assert grant.row_filter == [{"item": "sfzh", "op": "prefix", "values": ["431002", "431003"]}]
    assert "公民身份号码以“431002、431003”开头" in civil.get(f"/sharing/grants/{grant.pk}/").content.decode()


def test_add_condition_shows_another_row_and_saves_nothing(city, conditional, subsidy, civil, police):
    app = submit(civil, conditional, apply_form(subsidy))
    r = police.post(
        f"/sharing/applications/{app.pk}/decide/", approve_form(add_condition="1", **{"filter-item-0": "xb"})
    )
    assert r.status_code == 200
    page = r.content.decode()
    assert 'name="filter-item-1"' in page
    assert not Grant.objects.exists()


def test_batch_is_not_pre_ticked_when_query_is_requested_too(city, conditional, subsidy, civil, police):
    # R-SHARE-14
    app = submit(
        civil,
        conditional,
        apply_form(subsidy, methods=["query", "batch"], batch_justification="每月全量比对在保对象"),
    )
    page = police.get(f"/sharing/applications/{app.pk}/decide/").content.decode()
    assert re.search(r'name="methods" value="query" checked', page)
    assert re.search(r'name="methods" value="batch" >', page)
    assert "每月全量比对在保对象" in page and "原则上不采用批量交换" in page


def test_refusal_without_reason_shows_the_error_and_saves_nothing(
    city, conditional, subsidy, civil, police
):  # R-SHARE-08
    app = submit(civil, conditional, apply_form(subsidy))
    r = police.post(f"/sharing/applications/{app.pk}/refuse/", {"reason": "  ", "basis": ""})
    assert r.status_code == 422
    assert "不同意共享须说明理由" in r.content.decode()
    app.refresh_from_db()
    assert app.status == ApplicationStatus.PENDING and app.decided_at is None
    assert not AuditEvent.objects.filter(action="sharing.application.refuse").exists()
    r = police.post(f"/sharing/applications/{app.pk}/refuse/", {"reason": "申请用途与所需信息项不相符"})
    assert r.status_code == 302
    page = civil.get(f"/sharing/applications/{app.pk}/").content.decode()
    assert "答复：不予共享" in page and "申请用途与所需信息项不相符" in page


def test_another_departments_officer_gets_404_on_the_application(city, conditional, subsidy, civil):
    app = submit(civil, conditional, apply_form(subsidy))
    market = login(city.market_officer)
    assert market.get(f"/sharing/applications/{app.pk}/").status_code == 404
    assert market.get(f"/sharing/applications/{app.pk}/decide/").status_code == 404
    assert market.post(f"/sharing/applications/{app.pk}/withdraw/").status_code == 404
    assert app.number not in market.get("/sharing/applications/?view=received").content.decode()


def test_consumer_cannot_open_the_decision_page(city, conditional, subsidy, civil):
    app = submit(civil, conditional, apply_form(subsidy))
    assert civil.get(f"/sharing/applications/{app.pk}/decide/").status_code == 403


def test_withdraw_from_the_application_page(city, conditional, subsidy, civil):
    app = submit(civil, conditional, apply_form(subsidy))
    assert "撤回申请" in civil.get(f"/sharing/applications/{app.pk}/").content.decode()
    civil.post(f"/sharing/applications/{app.pk}/withdraw/")
    app.refresh_from_db()
    assert app.status == ApplicationStatus.WITHDRAWN
    assert "申请人撤回" in civil.get(f"/sharing/applications/{app.pk}/").content.decode()


def test_suspend_from_the_grants_page_changes_the_state_the_consumer_sees(city, grant, civil, police):
    # R-SHARE-18
    provided = section(police.get("/sharing/grants/").content.decode(), "provided-grants")
    assert f"/sharing/grants/{grant.pk}/suspend/" in provided
    r = police.post(f"/sharing/grants/{grant.pk}/suspend/", {"reason": "", "next": "/sharing/grants/"})
    assert r.status_code == 302
    grant.refresh_from_db()
    assert grant.status == GrantStatus.ACTIVE  # no reason, no suspension
    assert "须说明原因" in police.get("/sharing/grants/").content.decode()
    police.post(
        f"/sharing/grants/{grant.pk}/suspend/", {"reason": "发现超范围调用", "next": "/sharing/grants/"}
    )
    grant.refresh_from_db()
    assert grant.status == GrantStatus.SUSPENDED
    rows = section(civil.get("/sharing/grants/").content.decode(), "received-grants")
    assert "已暂停" in rows
    assert "发现超范围调用" in civil.get(f"/sharing/grants/{grant.pk}/").content.decode()
    # the consumer has no suspend/resume buttons
    assert (
        f"/sharing/grants/{grant.pk}/resume/"
        not in civil.get(f"/sharing/grants/{grant.pk}/").content.decode()
    )
    police.post(f"/sharing/grants/{grant.pk}/resume/", {"reason": "已整改"})
    assert "有效" in section(civil.get("/sharing/grants/").content.decode(), "received-grants")


def gate_event(grant, *, case_id: str, returned: int = 3, result: str = "ok", action: str = "share.records"):
    """An event as the delivery gate writes it for a call (contract, last paragraph)."""
    return audit.record(
        action,
        object_type="sharing.grant",
        object_id=grant.pk,
        result=result,
        purpose=grant.purpose,
        case_id=case_id,
        client_system="subsidy-check",
        detail={
            "resource": grant.resource.code,
            "method": "query",
            "items": "sfzh,xm",
            "returned": returned,
            "credential": "gs_ab12",
            **({"reason": "grant_suspended"} if result == "denied" else {}),
        },
    )


def test_usage_page_lists_gate_events_and_the_csv_holds_them(city, grant, civil, police):
    # R-SEC-05, R-SEC-07
    gate_event(grant, case_id="MZ-2025-0001", returned=3)
    gate_event(grant, case_id="MZ-2025-0002", returned=0, result="denied", action="share.verify")
    audit.record(
        "sharing.grant.other", object_type="sharing.grant", object_id=grant.pk + 1000, case_id="X-OTHER"
    )
    page = civil.get(f"/sharing/grants/{grant.pk}/usage/").content.decode()
    rows = section(page, "usage")
    assert "MZ-2025-0001" in rows and "MZ-2025-0002" in rows and "X-OTHER" not in rows
    assert "接口查询" in rows and "核验" in rows and "公民身份号码、姓名" in rows
    assert "subsidy-check" in rows and "拒绝" in rows and "grant_suspended" in rows
    assert rows.index("MZ-2025-0002") < rows.index("MZ-2025-0001")  # newest first
    # the provider department reads the same log; both reads are themselves audited
    assert "MZ-2025-0001" in police.get(f"/sharing/grants/{grant.pk}/usage/").content.decode()
    views = AuditEvent.objects.filter(action="sharing.usage.view", object_id=str(grant.pk))
    assert set(views.values_list("actor", flat=True)) == {"civil", "police"}

    r = civil.get(f"/sharing/grants/{grant.pk}/usage.csv")
    assert r.status_code == 200 and "attachment" in r["Content-Disposition"]
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert table[0][:4] == ["时间", "应用系统", "调用部门", "操作"]
    by_case = {row[8]: row for row in table[1:]}
    assert set(by_case) == {"MZ-2025-0001", "MZ-2025-0002"}
    assert by_case["MZ-2025-0001"][3] == "接口查询" and by_case["MZ-2025-0001"][5] == "3"
    assert by_case["MZ-2025-0002"][6] == "拒绝"
    assert views.filter(detail__format="csv").count() == 1

    xlsx = civil.get(f"/sharing/grants/{grant.pk}/usage.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_usage_date_range_limits_page_and_download(city, grant, civil):
    gate_event(grant, case_id="MZ-TODAY")
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    page = civil.get(f"/sharing/grants/{grant.pk}/usage/?until={yesterday}").content.decode()
    assert "MZ-TODAY" not in section(page, "usage") and "该期间没有调用记录" in page
    body = civil.get(f"/sharing/grants/{grant.pk}/usage.csv?until={yesterday}").content.decode("utf-8-sig")
    assert "MZ-TODAY" not in body
    today = timezone.localdate().isoformat()
    body = civil.get(f"/sharing/grants/{grant.pk}/usage.csv?since={today}&until={today}").content.decode(
        "utf-8-sig"
    )
    assert "MZ-TODAY" in body


def test_usage_page_pages_by_fifty(city, grant, civil):
    for i in range(52):
        gate_event(grant, case_id=f"MZ-{i:03d}")
    first = section(civil.get(f"/sharing/grants/{grant.pk}/usage/").content.decode(), "usage")
    assert "MZ-051" in first and "MZ-002" in first and "MZ-001" not in first
    page = civil.get(f"/sharing/grants/{grant.pk}/usage/").content.decode()
    cursor = re.search(r"before=(\d+)", page).group(1)
    second = section(
        civil.get(f"/sharing/grants/{grant.pk}/usage/?before={cursor}").content.decode(), "usage"
    )
    assert "MZ-001" in second and "MZ-000" in second and "MZ-002" not in second


def test_other_departments_cannot_read_a_grants_usage(city, grant):
    market = login(city.market_officer)
    assert market.get(f"/sharing/grants/{grant.pk}/usage/").status_code == 404
    assert market.get(f"/sharing/grants/{grant.pk}/usage.csv").status_code == 404
    assert not AuditEvent.objects.filter(action="sharing.usage.view").exists()


def test_sr_requires_the_sealed_letter_and_shows_it(city, conditional, subsidy, civil, settings):
    # R-SHARE-05 (SR 13, 14), R-SHARE-06
    settings.GOVSHARE_PROFILE = "shangrao"
    form = civil.get(f"/sharing/apply/{conditional.code}/").content.decode()
    assert 'type="file"' in form and 'name="letter"' in form and "加盖公章" in form
    r = civil.post(f"/sharing/apply/{conditional.code}/", apply_form(subsidy))
    assert r.status_code == 422 and "请上传加盖公章的信息资源使用申请函" in r.content.decode()
    assert not ShareApplication.objects.exists()
    letter = SimpleUploadedFile("申请函.pdf", b"%PDF-1.4\n%sealed\n", content_type="application/pdf")
    app = submit(civil, conditional, apply_form(subsidy, letter=letter))
    assert app.status == ApplicationStatus.PREREVIEW and app.letter
    assert "查看加盖公章的申请函" in civil.get(f"/sharing/applications/{app.pk}/").content.decode()
    opened = login(city.police_officer).get(f"/sharing/applications/{app.pk}/letter/")
    assert opened.status_code == 200 and b"".join(opened.streaming_content).startswith(b"%PDF-1.4")
    assert opened["Content-Type"] == "application/pdf"
    assert AuditEvent.objects.filter(action="sharing.application.letter_view", object_id=str(app.pk)).exists()
    assert login(city.market_officer).get(f"/sharing/applications/{app.pk}/letter/").status_code == 404
    # the platform unit pre-reviews it first and forwards it to the provider
    reviewer = login(city.reviewer)
    assert app.number in section(reviewer.get("/sharing/inbox/").content.decode(), "inbox")
    r = reviewer.post(
        f"/sharing/applications/{app.pk}/prereview/", {"decision": "forward", "comment": "材料齐全"}
    )
    assert r.status_code == 302
    app.refresh_from_db()
    assert app.status == ApplicationStatus.PENDING
    assert app.number in section(login(city.police_officer).get("/sharing/inbox/").content.decode(), "inbox")
    assert "平台初审：转提供部门" in civil.get(f"/sharing/applications/{app.pk}/").content.decode()


def test_unconditional_resource_is_obtained_from_its_page(city, published, subsidy, civil):  # R-SHARE-04
    resource = published()  # the market's 企业营业执照信息, unconditional
    page = civil.get(f"/catalog/resources/{resource.code}/").content.decode()
    assert "获取数据" in page
    form = civil.get(f"/sharing/apply/{resource.code}/").content.decode()
    assert "直接获取" in form and resource.usage_requirements in form
    r = civil.post(
        f"/sharing/apply/{resource.code}/",
        {
            "purpose": "核验申请救助对象名下企业",
            "clients": [str(subsidy.pk)],
            "methods": ["verify"],
            "terms": "on",
        },
    )
    assert r.status_code == 302
    grant = Grant.objects.get(consumer=city.civil, resource=resource)
    assert r["Location"] == f"/sharing/grants/{grant.pk}/"
    assert grant.methods == ["verify"]
    assert "企业名称" in civil.get(r["Location"]).content.decode()


def test_not_shared_resource_is_negotiated_and_the_provider_agrees_a_supply(
    city, published, subsidy, civil, police
):  # R-SHARE-11
    resource = published(
        officer=city.police_officer,
        name="违法犯罪人员信息",
        provider=city.police.pk,
        items=PEOPLE_ITEMS,
        share_type="none",
        share_methods=[],
        open_type="none",
        legal_basis="《中华人民共和国个人信息保护法》第三十四条",
    )
    assert "协商" in civil.get(f"/catalog/resources/{resource.code}/").content.decode()
    r = civil.post(f"/sharing/apply/{resource.code}/", {"subject": "核查低保申请人是否在押"})
    assert r.status_code == 302
    case = NegotiationCase.objects.get()
    police.post(f"/sharing/cases/{case.pk}/message/", {"body": "可以仅提供身份号码核验结果"})
    page = civil.get(f"/sharing/cases/{case.pk}/").content.decode()
    assert "可以仅提供身份号码核验结果" in page.split('id="thread"')[1]
    today = timezone.localdate()
    r = police.post(
        f"/sharing/cases/{case.pk}/agree/",
        {
            "purpose": "核查低保申请人是否在押",
            "clients": [str(subsidy.pk)],
            "items": ["sfzh"],
            "mask-sfzh": "hash",
            "methods": ["verify"],
            "valid_from": today.isoformat(),
            "valid_until": (today + dt.timedelta(days=30)).isoformat(),
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    grant = Grant.objects.get(resource=resource)
    assert grant.items == ["sfzh"] and grant.masks == {"sfzh": "hash"}
    rows = section(civil.get("/sharing/grants/").content.decode(), "received-grants")
    assert grant.number in rows and "加盐哈希" in rows
    # CZ 第二十一条第（三）项: the supply is filed with the authority before it may be used
    assert "待备案" in rows
    reviewer = login(city.reviewer)
    to_file = section(reviewer.get("/sharing/inbox/").content.decode(), "to-file")
    assert grant.number in to_file and f"/sharing/grants/{grant.pk}/file/" in to_file
    r = reviewer.post(f"/sharing/grants/{grant.pk}/file/", {"next": "/sharing/inbox/"})
    assert r["Location"] == "/sharing/inbox/"
    grant.refresh_from_db()
    assert grant.filed_at is not None
    assert grant.number not in section(reviewer.get("/sharing/inbox/").content.decode(), "to-file")
    assert "有效" in section(civil.get("/sharing/grants/").content.decode(), "received-grants")


def test_escalated_case_reaches_the_authority_which_can_close_it(city, published, civil, police):
    # R-SHARE-11, R-SHARE-12
    resource = published(
        officer=city.police_officer,
        name="违法犯罪人员信息",
        provider=city.police.pk,
        items=PEOPLE_ITEMS,
        share_type="none",
        share_methods=[],
        open_type="none",
        legal_basis="《中华人民共和国个人信息保护法》第三十四条",
    )
    civil.post(f"/sharing/apply/{resource.code}/", {"subject": "核查低保申请人是否在押"})
    case = NegotiationCase.objects.get()
    page = police.get(f"/sharing/cases/{case.pk}/").content.decode()
    assert "提请数据主管部门协调" in page and 'id="agree-form"' in page
    police.post(f"/sharing/cases/{case.pk}/escalate/", {"reason": "涉及个人敏感信息，无法协商一致"})
    reviewer = login(city.reviewer)
    escalated = section(reviewer.get("/sharing/inbox/").content.decode(), "escalated")
    assert case.number in escalated
    page = reviewer.get(f"/sharing/cases/{case.pk}/").content.decode()
    assert "涉及个人敏感信息，无法协商一致" in page and f'action="/sharing/cases/{case.pk}/close/"' in page
    reviewer.post(f"/sharing/cases/{case.pk}/close/", {"outcome": "经协调，改由公安机关出具核查结果"})
    case.refresh_from_db()
    assert case.status == "closed"
    page = civil.get(f"/sharing/cases/{case.pk}/").content.decode()
    assert "经协调，改由公安机关出具核查结果" in page and 'id="agree-form"' not in page


def test_sharing_pages_render_for_each_role(city, grant):
    for user in (city.civil_officer, city.police_officer, city.reviewer, city.market_officer):
        c = login(user)
        for url in ("/sharing/applications/", "/sharing/grants/", "/sharing/cases/"):
            assert c.get(url).status_code == 200, (user, url)
        assert c.get("/sharing/").status_code == 302
    assert login(city.reviewer).get(f"/sharing/grants/{grant.pk}/usage/").status_code == 200
    assert login(city.civil_officer).get("/sharing/inbox/").status_code == 200


def test_decided_application_no_longer_offers_the_decision_form(city, grant, police):
    r = police.get(f"/sharing/applications/{grant.application_id}/decide/")
    assert r.status_code == 302 and r["Location"] == f"/sharing/applications/{grant.application_id}/"
    page = police.get(r["Location"]).content.decode()
    assert "已同意" in page and f"/sharing/grants/{grant.pk}/" in page
