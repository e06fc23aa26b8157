"""The correction workflow (疑义 · 纠错 · 校核, issue #8) over the machine API: people through
/api/v1/corrections with their session, client systems through the delivery API with their token."""

import datetime as dt
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from tests.test_collect_load import A, B
from tests.test_sharing_gate import call, loaded, make_grant, systems, url  # noqa: F401  (fixtures)
from tests.test_sharing_workflow import media  # noqa: F401  (fixture: uploads go to a temporary folder)

from govshare.audit.models import AuditEvent
from govshare.calendar.policy import active_profile, work_calendar
from govshare.collect.services import load_rows
from govshare.notifications.models import Notification
from govshare.orgs.models import Role

pytestmark = pytest.mark.django_db

API = "/api/v1/corrections"
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"
ROW_B = {"sfzh": B, "xm": "李四", "xb": "女", "csrq": "1990-02-15", "sjhm": "13912345678"}


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def post(client, path, body=None):
    return client.post(f"{API}{path}", json.dumps(body or {}), content_type="application/json")


def pdf(name="户籍证明.pdf"):
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def raise_on(client, resource, *, evidence=True, **fields):
    data = {
        "resource": resource.code,
        "record_key": A,
        "items": ["xm", "csrq"],
        "description": "姓名与户籍证明不一致",
        "suggestion": "按户籍证明更正为“张三峰”",
    }
    data.update(fields)
    if evidence:
        data["evidence"] = [pdf()]
    return client.post(API, data)


def codes(response) -> list[str]:
    return [e["code"] for e in response.json()["detail"]["errors"]]


def lookup(token, resource, key):
    r = call(token, "get", url(resource, "records"), data={"sfzh": key})
    assert r.status_code == 200, r.content
    return r.json()


@pytest.fixture
def chenzhou(settings):
    settings.GOVSHARE_PROFILE = "chenzhou"


def test_chenzhou_raise_verify_correct_and_tell_every_user(
    city, chenzhou, loaded, systems
):  # R-CORR-01, R-CORR-03, R-CORR-05, R-CORR-06, R-CORR-07
    make_grant(city, loaded, systems["civil"], masks={"sfzh": "keep:6:4"})
    make_grant(city, loaded, systems["market"], items=["sfzh", "xm"])  # another user department
    civil, police = login(city.civil_officer), login(city.police_officer)

    # A person raises a doubt from the portal session, with evidence; it goes straight to the provider.
    r = raise_on(civil, loaded)
    assert r.status_code == 201, r.content
    mine = r.json()
    verify_days = active_profile().param("correction_verify_working_days")
    assert mine["status"] == "verifying" and mine["provider"] == city.police.name
    assert (
        mine["due_on"]
        == work_calendar().add_working_days(timezone.localdate(), verify_days.value).due.isoformat()
    )
    assert verify_days.value == 5 and mine["obligations"][0]["article"] == verify_days.article
    assert [e["name"] for e in mine["evidence"]] == ["户籍证明.pdf"]
    assert mine["items"] == ["xm", "csrq"] and mine["record_key"] is None  # the reporter saw it masked
    assert A not in r.content.decode() and A[:6] in mine["record_label"]
    assert Notification.objects.filter(kind="corrections.raised", department=city.police).exists()

    # The provider reads the evidence; the download is audited.
    seen = police.get(f"{API}/{mine['id']}")
    assert seen.json()["record_key"] == A and seen.json()["can_decide"] is True
    ev = police.get(f"{API}/{mine['id']}/evidence/{mine['evidence'][0]['id']}")
    assert ev.status_code == 200 and b"".join(ev.streaming_content) == PDF
    assert AuditEvent.objects.filter(action="corrections.evidence_download", actor="police").exists()

    # A client system raises one on the record a /records response gave it (by `ref`), with a case id.
    first = lookup(systems["civil_token"], loaded, B)
    assert first["record_info"][0]["under_verification"] is False
    r = Client().post(
        url(loaded, "corrections"),
        {
            "ref": first["record_info"][0]["ref"],
            "items": ["csrq"],
            "description": "出生日期与出生医学证明不符",
            "evidence": [pdf("出生医学证明.pdf")],
        },
        headers={"Authorization": f"Bearer {systems['civil_token']}", "X-Case-Id": "BJ-2026-009"},
    )
    assert r.status_code == 201, r.content
    raised = r.json()
    assert raised["status"] == "verifying" and raised["status_label"] == "核校中"
    assert raised["due_on"] is not None and raised["resource"] == loaded.code

    # Business continues: the record is still served, flagged 核校中, on lookup and on verification.
    flagged = lookup(systems["civil_token"], loaded, B)
    assert flagged["records"][0]["xm"] == "李四"
    assert flagged["record_info"][0] == {
        "ref": first["record_info"][0]["ref"],
        "under_verification": True,
        "ticket": raised["number"],
    }
    v = call(systems["civil_token"], "post", url(loaded, "verify"), data={"items": {"sfzh": B, "xm": "李四"}})
    assert v.json()["match"] is True and v.json()["under_verification"] is True

    # The provider finds the error; closing before the corrected record arrives is refused.
    [ticket] = [t for t in police.get(API, {"view": "inbox"}).json() if t["number"] == raised["number"]]
    assert ticket["case_id"] == "BJ-2026-009" and ticket["reporter_client"] == "dibao"
    r = post(police, f"/{ticket['id']}/decide", {"correct": True, "note": "出生日期录入错误"})
    assert r.status_code == 200 and r.json()["status"] == "fixing" and r.json()["fix_arrived"] is False
    r = post(police, f"/{ticket['id']}/close", {"note": "已更正"})
    assert r.status_code == 409 and r.json()["code"] == "correction_not_arrived"

    load_rows(loaded, [{**ROW_B, "csrq": "1990-02-16"}], actor=city.police_officer)
    r = post(police, f"/{ticket['id']}/close", {"note": "已按出生医学证明更正"})
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "closed" and r.json()["outcome"] == "corrected"
    told = set(
        Notification.objects.filter(
            kind="corrections.closed", link=f"/corrections/{ticket['id']}/"
        ).values_list("department_id", flat=True)
    )
    assert told == {city.civil.pk, city.market.pk}  # the reporter and every department holding a grant

    inbox = police.get(API, {"view": "inbox"}).json()
    assert [x["number"] for x in inbox] == [mine["number"]]  # the closed one left the provider's inbox
    assert civil.get(API, {"view": "inbox"}).json() == []

    after = lookup(systems["civil_token"], loaded, B)
    assert (
        after["record_info"][0]["under_verification"] is False and after["record_info"][0]["ticket"] is None
    )
    assert after["records"][0]["csrq"] == "1990-02-16"
    # the person's ticket on the other record is still open, and still flags only that record
    assert lookup(systems["civil_token"], loaded, A)["record_info"][0]["ticket"] == mine["number"]


def test_client_system_needs_a_grant_and_names_a_record(city, chenzhou, loaded, systems):  # R-CORR-01
    make_grant(city, loaded, systems["civil"], items=["xm", "csrq"])
    bearer = {"Authorization": f"Bearer {systems['civil_token']}"}
    r = Client().post(url(loaded, "corrections"), {"key": A, "description": "姓名有误"}, headers=bearer)
    assert r.status_code == 422 and codes(r) == ["key_not_granted"]  # the key item is not in its grant
    r = Client().post(url(loaded, "corrections"), {"ref": "0", "description": "姓名有误"}, headers=bearer)
    assert r.status_code == 404 and r.json()["code"] == "record_not_found"
    r = Client().post(
        url(loaded, "corrections"),
        {"key": A, "description": "姓名有误"},
        headers={"Authorization": f"Bearer {systems['market_token']}"},
    )
    assert r.status_code == 403 and r.json()["code"] == "no_grant"
    assert AuditEvent.objects.filter(action="share.correction", result="denied").exists()


def test_neixiang_reports_through_the_authority_and_operator(
    city, settings, loaded, systems, operator
):  # R-CORR-02, R-CORR-03
    settings.GOVSHARE_PROFILE = "neixiang"
    make_grant(city, loaded, systems["civil"])
    civil, police = login(city.civil_officer), login(city.police_officer)
    authority, ops = login(city.reviewer), login(operator)

    r = raise_on(civil, loaded, evidence=False)
    assert r.status_code == 422 and codes(r) == ["required"]
    assert r.json()["detail"]["errors"][0]["field"] == "evidence"

    r = raise_on(civil, loaded)
    assert r.status_code == 201, r.content
    t = r.json()
    assert t["status"] == "reported" and t["due_on"] is None and t["obligations"] == []
    assert Notification.objects.filter(kind="corrections.reported", department=city.authority).exists()

    # Nothing happens out of order: the provider cannot verify, the operator cannot dispatch, yet.
    r = post(police, f"/{t['id']}/decide", {"correct": False, "note": "数据无误"})
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
    r = post(ops, f"/{t['id']}/dispatch", {"analysis": "出生日期字段错误", "forward": True})
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
    r = post(civil, f"/{t['id']}/accept")
    assert r.status_code == 403 and r.json()["code"] == "authority_only"

    inbox = {"view": "inbox"}
    assert [x["id"] for x in authority.get(API, inbox).json()] == [t["id"]]
    assert ops.get(API, inbox).json() == [] and police.get(API, inbox).json() == []
    r = post(authority, f"/{t['id']}/accept", {"note": "转技术服务单位分析"})
    assert r.status_code == 200 and r.json()["status"] == "dispatching"
    r = post(authority, f"/{t['id']}/accept")
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"

    assert [x["id"] for x in ops.get(API, inbox).json()] == [t["id"]]
    assert authority.get(API, inbox).json() == []
    r = post(ops, f"/{t['id']}/dispatch", {"analysis": "", "forward": True})
    assert r.status_code == 422 and codes(r) == ["required"]
    r = post(ops, f"/{t['id']}/dispatch", {"analysis": "户籍数据姓名字段错误，分发公安局", "forward": True})
    assert r.status_code == 200, r.content
    body = r.json()
    verify = active_profile().param("correction_verify_working_days")
    assert body["status"] == "verifying" and body["analysis"].startswith("户籍数据")
    assert [(o["duty"], o["article"]) for o in body["obligations"]] == [
        ("corrections.verify", verify.article)
    ]
    assert body["due_on"] == body["obligations"][0]["due_on"] is not None
    assert [s["action"] for s in body["steps"]] == ["raise", "accept", "dispatch"]

    # the reporter may withdraw while it is open, and only once
    r = post(civil, f"/{t['id']}/withdraw", {"reason": "已核实为本部门录入错误"})
    assert r.status_code == 200 and r.json()["status"] == "withdrawn" and r.json()["obligations"] == []
    r = post(civil, f"/{t['id']}/withdraw")
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"


def test_chenzhou_extension_needs_the_head_within_the_ceiling(city, chenzhou, loaded, systems):  # R-CORR-04
    make_grant(city, loaded, systems["civil"])
    head = city.person("police_head", city.police, Role.HEAD)
    civil, police = login(city.civil_officer), login(city.police_officer)
    t = raise_on(civil, loaded).json()
    ceiling = active_profile().param("correction_verify_extension_max_working_days")

    r = post(
        police, f"/{t['id']}/extensions", {"working_days": ceiling.value + 1, "reason": "需调取原始档案"}
    )
    assert r.status_code == 422 and codes(r) == ["extension_exceeds_limit"]
    r = post(police, f"/{t['id']}/extensions", {"working_days": 10, "reason": "需调取原始档案"})
    assert r.status_code == 201, r.content
    [ext] = r.json()["extensions"]
    assert ext["status"] == "pending" and r.json()["can_request_extension"] is False

    # the officer who asked is not the head; the reporter neither
    for who in (police, civil):
        r = post(who, f"/{t['id']}/extensions/{ext['id']}/approve", {"note": "同意"})
        assert r.status_code == 403 and r.json()["code"] == "extension_approver"

    assert police.get(API, {"view": "inbox"}).json()[0]["id"] == t["id"]  # still to verify
    assert [x["id"] for x in login(head).get(API, {"view": "inbox"}).json()] == [t["id"]]
    r = post(login(head), f"/{t['id']}/extensions/{ext['id']}/approve", {"note": "同意延期"})
    assert r.status_code == 200, r.content
    body = r.json()
    moved = work_calendar().add_working_days(dt.date.fromisoformat(t["due_on"]), 10).due.isoformat()
    assert body["due_on"] == moved and body["extensions"][0]["new_due_on"] == moved
    assert body["extensions"][0]["status"] == "approved"
    assert Notification.objects.filter(kind="corrections.extended", department=city.civil).exists()
    assert login(head).get(API, {"view": "inbox"}).json() == []  # nothing left for the head to decide

    # the rest of the ceiling only
    r = post(police, f"/{t['id']}/extensions", {"working_days": ceiling.value - 9, "reason": "再延"})
    assert r.status_code == 422 and codes(r) == ["extension_exceeds_limit"]


def test_outsiders_see_nothing(city, chenzhou, loaded, systems):  # R-SEC-03, R-CORR-01
    make_grant(city, loaded, systems["civil"])
    t = raise_on(login(city.civil_officer), loaded).json()
    outsider = login(city.person("archive", city.idle, Role.CONSUMER, Role.PROVIDER))
    r = outsider.get(f"{API}/{t['id']}")
    assert r.status_code == 404 and r.json()["code"] == "ticket_not_found"
    r = outsider.get(f"{API}/{t['id']}/evidence/{t['evidence'][0]['id']}")
    assert r.status_code == 404
    r = post(outsider, f"/{t['id']}/withdraw")
    assert r.status_code == 404
    assert outsider.get(API).json() == []
    assert [x["id"] for x in login(city.police_officer).get(API).json()] == [t["id"]]
    assert Client().get(API).status_code == 401


def test_list_pages_newest_first(city, chenzhou, loaded, systems):  # R-CORR-01
    make_grant(city, loaded, systems["civil"])
    civil = login(city.civil_officer)
    ids = [raise_on(civil, loaded, record_key=key).json()["id"] for key in (A, B, A)]
    first = civil.get(API, {"view": "mine", "limit": 2}).json()
    assert [x["id"] for x in first] == ids[::-1][:2]
    rest = civil.get(API, {"view": "mine", "limit": 2, "before": first[-1]["id"]}).json()
    assert [x["id"] for x in rest] == [ids[0]]
    assert civil.get(API, {"status": "closed"}).json() == []


def test_only_a_decided_fix_can_be_closed(city, chenzhou, loaded, systems):  # R-CORR-03, R-CORR-05
    make_grant(city, loaded, systems["civil"])
    police = login(city.police_officer)
    t = raise_on(login(city.civil_officer), loaded).json()
    # the record changes at source for another reason: that is no verification of the doubt
    load_rows(
        loaded, [{"sfzh": A, "xm": "张三丰", "xb": "男", "csrq": "1980-01-01"}], actor=city.police_officer
    )
    r = post(police, f"/{t['id']}/close", {"note": "已更正"})
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
    r = post(police, f"/{t['id']}/decide", {"correct": False, "note": "经核对户籍档案，数据无误"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["status"], body["outcome"], body["outcome_label"]) == ("closed", "not_error", "经核实无误")
    assert body["obligations"] == [] and body["due_on"] is None
    assert Notification.objects.filter(kind="corrections.closed", department=city.civil).exists()
    assert lookup(systems["civil_token"], loaded, A)["record_info"][0]["under_verification"] is False
