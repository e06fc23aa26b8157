"""The sharing workflow over /api/v1/sharing/ as a department's engineer meets it: shapes, error codes,
who sees what, and the negotiated grant that the delivery gate holds back until it is filed."""

import datetime as dt
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from tests.test_sharing_workflow import aid, media, resource  # noqa: F401  (fixtures)

from govshare.calendar.policy import active_profile, work_calendar
from govshare.clients.services import issue_credential

pytestmark = pytest.mark.django_db

API = "/api/v1/sharing"
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def post(client, path, body=None):
    return client.post(f"{API}{path}", json.dumps(body or {}), content_type="application/json")


def today():
    return timezone.localdate()


def application(res, **kw):
    body = {
        "resource": res.code,
        "purpose": "低保家庭经济状况核对",
        "duty_basis": "《社会救助暂行办法》第十一条",
        "scenario": "低保申请审核",
        "clients": ["civil-aid"],
        "items": ["sfzh", "xm", "csrq"],
        "methods": ["query"],
        "valid_from": today().isoformat(),
        "valid_until": (today() + dt.timedelta(days=180)).isoformat(),
        "terms_accepted": True,
    }
    body.update(kw)
    return body


def test_anonymous_callers_get_401(city):
    r = Client().get(f"{API}/applications")
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


def test_shangrao_application_with_letter_prereview_and_narrowed_approval(city, resource, aid, settings):
    # R-SHARE-05, R-SHARE-06, R-SHARE-07, R-SHARE-10
    settings.GOVSHARE_PROFILE = "shangrao"
    res = resource()
    civil, police, reviewer = login(city.civil_officer), login(city.police_officer), login(city.reviewer)

    r = post(civil, "/applications", application(res))
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"
    assert {e["field"] for e in r.json()["detail"]["errors"]} == {"letter"}

    r = civil.post(
        f"{API}/applications/with-letter",
        {
            "payload": json.dumps(application(res)),
            "letter": SimpleUploadedFile("公函.pdf", PDF, content_type="application/pdf"),
        },
    )
    assert r.status_code == 201, r.content
    app = r.json()
    assert app["status"] == "prereview" and app["has_letter"] and app["number"].startswith("SQ")
    assert app["can_withdraw"] and not app["can_decide"]
    [pre] = app["deadlines"]
    assert pre["duty"] == "sharing.prereview" and pre["department"] == city.authority.name
    assert pre["due_on"] == work_calendar().add_working_days(today(), 3).due.isoformat()
    assert pre["article"] == active_profile().param("share_prereview_working_days").article

    assert [a["id"] for a in reviewer.get(f"{API}/applications?box=inbox").json()] == [app["id"]]
    assert reviewer.get(f"{API}/applications/{app['id']}").json()["can_prereview"] is True
    r = post(
        police,
        f"/applications/{app['id']}/approve",
        {"valid_from": "2026-01-01", "valid_until": "2026-01-02"},
    )
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"

    r = post(reviewer, f"/applications/{app['id']}/prereview", {"forward": True, "comment": "材料齐全"})
    assert r.status_code == 200 and r.json()["status"] == "pending"
    reply = next(d for d in r.json()["deadlines"] if d["duty"] == "sharing.reply")
    assert reply["department"] == city.police.name
    assert reply["due_on"] == work_calendar().add_working_days(today(), 10).due.isoformat()

    detail = police.get(f"{API}/applications/{app['id']}").json()
    assert detail["can_decide"] is True
    approval = {
        "items": ["sfzh", "xm"],
        "masks": {"sfzh": "keep:6:4"},
        "row_filter": [{"item": "sfzh", "op": "prefix", "values": ["4310"]}],
        "methods": ["query"],
        "valid_from": app["valid_from"],
        "valid_until": app["valid_until"],
        "daily_quota": 1000,
    }
    r = post(police, f"/applications/{app['id']}/approve", {**approval, "masks": {"sfzh": "keep:x"}})
    assert r.status_code == 422 and r.json()["detail"]["errors"][0]["field"] == "masks"
    r = post(police, f"/applications/{app['id']}/approve", approval)
    assert r.status_code == 200, r.content
    grant = r.json()
    assert grant["items"] == ["sfzh", "xm"] and grant["masks"] == {"sfzh": "keep:6:4"}
    assert grant["clients"] == ["civil-aid"] and grant["daily_quota"] == 1000
    assert grant["state_label"] == "有效" and grant["number"].startswith("GR")
    r = post(police, f"/applications/{app['id']}/approve", approval)
    assert r.status_code == 409

    mine = civil.get(f"{API}/applications/{app['id']}").json()
    assert mine["status"] == "approved" and mine["grant"] == grant["number"]
    assert [g["number"] for g in civil.get(f"{API}/grants").json()] == [grant["number"]]


def test_another_consumer_cannot_see_or_act_on_an_application(city, resource, aid, settings):
    # R-SHARE-10 (deny by default; ids reveal nothing)
    settings.GOVSHARE_PROFILE = "chenzhou"
    res = resource()
    civil, market = login(city.civil_officer), login(city.market_officer)
    app = post(civil, "/applications", application(res)).json()
    r = market.get(f"{API}/applications/{app['id']}")
    assert r.status_code == 404 and r.json()["code"] == "application_not_found"
    assert post(market, f"/applications/{app['id']}/withdraw").status_code == 404
    assert post(market, f"/applications/{app['id']}/refuse", {"reason": "x"}).status_code == 404
    assert market.get(f"{API}/applications").json() == []
    assert civil.get(f"{API}/applications/not-a-number").status_code in (404, 422)


def test_chenzhou_refusal_needs_reasons_and_a_written_reply_is_required(city, resource, aid, settings):
    # R-SHARE-07, R-SHARE-08
    settings.GOVSHARE_PROFILE = "chenzhou"
    res = resource()
    civil, police = login(city.civil_officer), login(city.police_officer)
    app = post(civil, "/applications", application(res)).json()
    r = post(police, f"/applications/{app['id']}/refuse", {"reason": ""})
    assert r.status_code == 422 and r.json()["detail"]["errors"][0]["field"] == "reason"
    r = post(
        police,
        f"/applications/{app['id']}/approve",
        {
            "items": ["xm"],
            "methods": ["query"],
            "valid_from": app["valid_from"],
            "valid_until": app["valid_until"],
        },
    )
    assert r.status_code == 422 and "书面答复" in r.json()["message"]
    r = post(police, f"/applications/{app['id']}/refuse", {"reason": "用途与职责不符"})
    assert r.status_code == 200 and r.json()["status"] == "refused"
    assert r.json()["refusal_reason"] == "用途与职责不符"
    # after a refusal the consumer negotiates (R-SHARE-11)
    r = post(civil, "/cases", {"application": app["id"], "subject": "补充说明用途"})
    assert r.status_code == 201 and r.json()["application"] == app["number"]
    assert r.json()["resource"] == res.code


def test_unknown_client_and_withdrawal(city, resource, aid, settings):
    # R-SHARE-05
    settings.GOVSHARE_PROFILE = "changshu"
    res = resource()
    civil = login(city.civil_officer)
    r = post(civil, "/applications", application(res, clients=["no-such-system"]))
    assert r.status_code == 422 and r.json()["detail"]["errors"][0]["field"] == "clients"
    app = post(civil, "/applications", application(res)).json()
    r = post(civil, f"/applications/{app['id']}/withdraw")
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert [d["status"] for d in r.json()["deadlines"]] == ["cancelled"]
    assert post(civil, f"/applications/{app['id']}/withdraw").status_code == 409


def test_unconditional_registration_and_the_neixiang_refusal(city, resource, aid, settings):
    # R-SHARE-04
    settings.GOVSHARE_PROFILE = "changshu"
    res = resource("unconditional", methods=("query", "verify"))
    civil = login(city.civil_officer)
    body = {"resource": res.code, "purpose": "低保核对", "clients": ["civil-aid"], "methods": ["query"]}
    r = post(civil, "/unconditional", body)
    assert r.status_code == 422 and r.json()["detail"]["errors"][0]["field"] == "terms_accepted"
    r = post(civil, "/unconditional", {**body, "terms_accepted": True})
    assert r.status_code == 201, r.content
    assert r.json()["purpose"] == "低保核对" and r.json()["clients"] == ["civil-aid"]
    app = civil.get(f"{API}/applications").json()[0]
    assert app["kind"] == "registration" and app["kind_label"] == "无条件共享登记"

    settings.GOVSHARE_PROFILE = "neixiang"
    r = post(civil, "/unconditional", {**body, "terms_accepted": True})
    assert r.status_code == 409 and r.json()["code"] == "application_required"
    r = post(civil, "/applications", application(res, methods=["batch"]))
    assert r.status_code == 422  # not offered by the entry, and batch would need a justification


def test_grant_suspension_over_the_api_follows_the_profile(city, resource, aid, settings):
    # R-SHARE-18
    settings.GOVSHARE_PROFILE = "neixiang"
    res = resource()
    civil, police, reviewer = login(city.civil_officer), login(city.police_officer), login(city.reviewer)
    app = post(civil, "/applications", application(res)).json()
    r = post(
        reviewer,
        f"/applications/{app['id']}/approve",
        {
            "items": ["xm"],
            "methods": ["query"],
            "valid_from": app["valid_from"],
            "valid_until": app["valid_until"],
        },
    )
    grant = r.json()
    assert r.status_code == 200 and grant["items"] == ["xm"]
    assert police.get(f"{API}/grants/{grant['id']}").json()["can_manage"] is False
    r = post(police, f"/grants/{grant['id']}/suspend", {"reason": "违规"})
    assert r.status_code == 403 and r.json()["code"] == "not_grant_manager"
    assert post(reviewer, f"/grants/{grant['id']}/suspend", {"reason": ""}).status_code == 422
    r = post(reviewer, f"/grants/{grant['id']}/suspend", {"reason": "超范围使用"})
    assert r.json()["status"] == "suspended" and r.json()["status_reason"] == "超范围使用"
    assert post(reviewer, f"/grants/{grant['id']}/resume", {"reason": "已整改"}).json()["status"] == "active"
    assert (
        post(reviewer, f"/grants/{grant['id']}/terminate", {"reason": "停用"}).json()["status"]
        == "terminated"
    )
    r = post(reviewer, f"/grants/{grant['id']}/resume", {"reason": "再恢复"})
    assert r.status_code == 409
    assert login(city.market_officer).get(f"{API}/grants/{grant['id']}").status_code == 404


def test_chenzhou_negotiated_supply_is_held_at_the_gate_until_filed(city, resource, aid, settings):
    # R-SHARE-11, R-SHARE-12
    settings.GOVSHARE_PROFILE = "chenzhou"
    res = resource("none")
    civil, police, reviewer = login(city.civil_officer), login(city.police_officer), login(city.reviewer)
    r = post(civil, "/applications", application(res))
    assert r.status_code == 409 and r.json()["code"] == "resource_not_shared"
    r = post(civil, "/cases", {"resource": res.code, "subject": "低保审核需核对户籍"})
    assert r.status_code == 201, r.content
    case = r.json()
    r = post(police, f"/cases/{case['id']}/messages", {"body": "涉及个人隐私，暂不提供"})
    assert r.status_code == 201 and r.json()["messages"][-1]["department"] == city.police.name
    r = post(civil, f"/cases/{case['id']}/escalate", {"reason": "未能达成一致"})
    assert r.status_code == 200 and r.json()["status"] == "escalated"
    [coord] = r.json()["deadlines"]
    assert coord["department"] == city.authority.name and coord["due_on"] is None
    assert coord["article"] == active_profile().param("escalation_chain").article
    assert [c["number"] for c in reviewer.get(f"{API}/cases").json()] == [case["number"]]
    assert login(city.market_officer).get(f"{API}/cases/{case['id']}").status_code == 404

    supply = {
        "clients": ["civil-aid"],
        "purpose": "低保审核",
        "items": ["sfzh", "xm"],
        "masks": {"xm": "keep:1:0"},
        "methods": ["query"],
        "valid_from": today().isoformat(),
        "valid_until": (today() + dt.timedelta(days=90)).isoformat(),
    }
    r = post(reviewer, f"/cases/{case['id']}/agree", supply)
    assert r.status_code == 200, r.content
    grant = r.json()
    assert grant["filing_required"] and grant["filed_at"] is None and grant["state_label"] == "待备案"
    assert reviewer.get(f"{API}/cases/{case['id']}").json()["grant"] == grant["number"]

    _, token = issue_credential(city.civil_officer, aid, "低保系统")
    gate = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    r = gate.get(f"/api/v1/share/{res.code}/records", {"sfzh": "431002199001011234"})
    assert r.status_code == 403 and r.json()["code"] == "grant_not_filed"

    assert post(police, f"/grants/{grant['id']}/file").status_code == 403
    r = post(reviewer, f"/grants/{grant['id']}/file")
    assert r.status_code == 200 and r.json()["filed_at"] and r.json()["state_label"] == "有效"
    r = gate.get(f"/api/v1/share/{res.code}/records", {"sfzh": "431002199001011234"})
    assert r.status_code == 200, r.content
    assert r.json()["grant"] == grant["number"] and r.json()["count"] == 0


def test_closing_a_case_and_the_default_masks(city, resource, aid, settings):
    # R-SHARE-12
    settings.GOVSHARE_PROFILE = "template"
    res = resource("none")
    civil, police = login(city.civil_officer), login(city.police_officer)
    case = post(civil, "/cases", {"resource": res.code, "subject": "需要"}).json()
    assert post(police, f"/cases/{case['id']}/close", {"outcome": "不提供"}).status_code == 403
    r = post(civil, f"/cases/{case['id']}/close", {"outcome": "需求已通过其他渠道满足"})
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert post(civil, f"/cases/{case['id']}/messages", {"body": "补充"}).status_code == 409
    r = police.get(f"{API}/resources/{res.code}/default-masks", {"items": "sfzh,xb,sjhm"})
    assert r.json() == {"sfzh": "keep:6:4", "xb": "plain", "sjhm": "keep:3:4"}
