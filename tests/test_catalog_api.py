"""The catalog API as an integrating engineer meets it: shapes, errors, permissions, visibility."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

API = "/api/v1/catalog"


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_anonymous_gets_401_with_error_shape(city):
    r = Client().get(f"{API}/resources")
    assert r.status_code == 401
    assert r.json()["code"] == "not_authenticated" and r.json()["message"]


def test_full_workflow_over_the_api(city, payload):
    officer, reviewer = login(city.market_officer), login(city.reviewer)
    r = officer.post(f"{API}/resources", payload(usage_requirements=""), content_type="application/json")
    assert r.status_code == 201, r.content
    rev = r.json()
    assert rev["resource_code"] == "301/000001" and rev["status"] == "draft"

    r = officer.post(f"{API}/revisions/{rev['id']}/submit")
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "validation_failed"
    assert {e["field"] for e in body["detail"]["errors"]} == {"usage_requirements"}
    assert "使用要求" in body["message"]

    r = officer.put(f"{API}/revisions/{rev['id']}", payload(), content_type="application/json")
    assert r.status_code == 200
    assert officer.post(f"{API}/revisions/{rev['id']}/submit").json()["status"] == "submitted"

    r = reviewer.post(f"{API}/revisions/{rev['id']}/return", {"comment": ""}, content_type="application/json")
    assert r.status_code == 422
    r = reviewer.post(
        f"{API}/revisions/{rev['id']}/return", {"comment": "请补充来源"}, content_type="application/json"
    )
    assert r.json()["status"] == "returned"
    assert r.json()["comments"][-1]["body"] == "请补充来源"

    officer.post(f"{API}/revisions/{rev['id']}/submit")
    r = reviewer.post(f"{API}/revisions/{rev['id']}/publish", {}, content_type="application/json")
    assert r.json()["status"] == "published"

    r = login(city.civil_officer).get(f"{API}/resources/301/000001")
    assert r.status_code == 200
    d = r.json()
    assert d["name"] == "企业营业执照信息" and d["version"] == 1
    assert [i["code"] for i in d["items"]] == ["tyshxydm", "qymc", "fddbr", "clrq"]
    assert d["items"][0]["is_primary"] is True


def test_illegal_transition_is_409(city, payload):
    officer = login(city.market_officer)
    rev = officer.post(f"{API}/resources", payload(), content_type="application/json").json()
    reviewer = login(city.reviewer)
    # another department's draft is invisible to the authority until it is submitted
    assert (
        reviewer.post(f"{API}/revisions/{rev['id']}/publish", {}, content_type="application/json").status_code
        == 404
    )
    officer.post(f"{API}/revisions/{rev['id']}/submit")
    assert (
        reviewer.post(f"{API}/revisions/{rev['id']}/publish", {}, content_type="application/json").status_code
        == 200
    )
    r = reviewer.post(
        f"{API}/revisions/{rev['id']}/return", {"comment": "晚了"}, content_type="application/json"
    )
    assert r.status_code == 409 and r.json()["code"] == "not_submitted"


def test_provider_cannot_review(city, payload):
    officer = login(city.market_officer)
    rev = officer.post(f"{API}/resources", payload(), content_type="application/json").json()
    officer.post(f"{API}/revisions/{rev['id']}/submit")
    r = officer.post(f"{API}/revisions/{rev['id']}/publish", {}, content_type="application/json")
    assert r.status_code == 403 and r.json()["code"] == "authority_only"


def test_drafts_are_invisible_to_other_departments(city, payload):
    officer = login(city.market_officer)
    rev = officer.post(f"{API}/resources", payload(), content_type="application/json").json()
    other = login(city.civil_officer)
    assert other.get(f"{API}/resources/301/000001").status_code == 404
    assert other.get(f"{API}/revisions/{rev['id']}").status_code == 404
    assert other.get(f"{API}/resources").json()["total"] == 0
    assert officer.get(f"{API}/resources/301/000001").status_code == 200


def test_search_ranks_name_matches_first_and_counts_facets(city, published):
    target = published()
    published(
        name="个体工商户登记信息",
        abstract="个体工商户基本信息",
        items=[{"code": "zch", "name": "营业执照注册号", "data_type": "C", "is_primary": True}],
    )
    published(
        name="企业年度报告信息",
        abstract="企业年度报告公示信息",
        share_type="conditional",
        share_condition="监管用途",
        legal_basis="《企业信息公示暂行条例》",
        open_type="none",
    )
    c = login(city.civil_officer)
    body = c.get(f"{API}/resources", {"q": "营业执照"}).json()
    assert body["total"] == 2
    assert body["items"][0]["code"] == target.code
    facets = {f["value"]: f["count"] for f in body["facets"]["share_type"]}
    assert facets == {"unconditional": 2}
    body = c.get(f"{API}/resources", {"q": "企业", "share_type": "conditional"}).json()
    assert [i["name"] for i in body["items"]] == ["企业年度报告信息"]
    # the share_type facet ignores its own filter so the user can widen the choice again
    assert {f["value"] for f in body["facets"]["share_type"]} == {"unconditional", "conditional"}
    assert c.get(f"{API}/resources", {"q": "户"}).json()["total"] == 1  # one-character query


def test_version_history_endpoint(city, published):
    resource = published()
    c = login(city.market_officer)
    rev = c.post(
        f"{API}/resources/301/000001/revisions", {"reason": "法规修订"}, content_type="application/json"
    )
    assert rev.status_code == 201
    rid = rev.json()["id"]
    p = rev.json()["payload"]
    p["abstract"] = "新的摘要"
    c.put(f"{API}/revisions/{rid}", p, content_type="application/json")
    c.post(f"{API}/revisions/{rid}/submit")
    login(city.reviewer).post(f"{API}/revisions/{rid}/publish", {}, content_type="application/json")
    versions = c.get(f"{API}/resources/301/000001/versions").json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["reason"] == "法规修订"
    assert {
        "field": "abstract",
        "label": "资源摘要",
        "old": resource.abstract,
        "new": "新的摘要",
    } in versions[0]["diff"]


def test_demands_gaps_negative_and_responsibilities(city, published):
    resource = published()
    consumer, provider, reviewer = login(city.civil_officer), login(city.market_officer), login(city.reviewer)
    d = consumer.post(
        f"{API}/demands",
        {"service_item": "社会组织成立登记", "data_name": "营业执照", "source_department": city.market.pk},
        content_type="application/json",
    )
    assert d.status_code == 201
    gaps = consumer.get(f"{API}/gaps").json()
    assert [g["service_item"] for g in gaps["unmet_demands"]] == ["社会组织成立登记"]
    r = provider.post(
        f"{API}/demands/{d.json()['id']}/supplies",
        {"resource_code": resource.code},
        content_type="application/json",
    )
    assert r.json()["supplied_by"] == [resource.code]
    assert consumer.get(f"{API}/gaps").json()["unmet_demands"] == []

    n = provider.post(
        f"{API}/negative",
        {"resource_code": resource.code, "item_code": "fddbr", "legal_basis": "《个人信息保护法》"},
        content_type="application/json",
    )
    assert n.status_code == 201 and n.json()["status"] == "proposed"
    assert consumer.get(f"{API}/negative").json() == []  # not in force before review
    reviewer.post(
        f"{API}/negative/{n.json()['id']}/review", {"approve": True}, content_type="application/json"
    )
    assert [e["item_name"] for e in consumer.get(f"{API}/negative").json()] == ["法定代表人"]

    duties = {
        r["duty"] for r in consumer.get(f"{API}/responsibilities", {"department": city.market.pk}).json()
    }
    assert duties == {"provide", "share", "open"}


def test_openapi_documents_catalog(city):
    schema = Client().get("/api/v1/openapi.json").json()
    assert "/api/v1/catalog/resources" in schema["paths"]
    assert "/api/v1/catalog/revisions/{rev_id}/publish" in schema["paths"]


def test_healthz(db):
    r = Client().get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["database"] in ("sqlite", "postgresql") and body["version"]
