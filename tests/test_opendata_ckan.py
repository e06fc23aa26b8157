"""The CKAN-compatible read API and the DCAT-AP catalog of the open portal (issue #7).

The real `ckanapi` client (PyPI) talks to a live server the way harvesters do; the envelope, error
shapes and edge cases are checked with Django's test client.
"""

import datetime as dt
import hashlib
import json

import ckanapi
import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import resolve
from django.utils import timezone
from tests.test_collect_load import A, B, uscc

from govshare.catalog.models import CatalogKind, Resource, ResourceStatus
from govshare.collect.services import load_rows
from govshare.opendata import services
from govshare.opendata.models import DatasetStatus, OpenDataset, OpenVersion, Review, VersionStatus

PEOPLE_RULES = {"sfzh": "hash", "xm": "keep:1:0", "xb": "plain", "csrq": "year", "sjhm": "suppress"}
FIRM_RULES = {"tyshxydm": "plain", "qymc": "plain", "fddbr": "keep:1:0", "clrq": "plain"}
API = "/open/api/3/action/"


@pytest.fixture(autouse=True)
def media(media):  # every test here writes files: into the throwaway directory
    return media


@pytest.fixture
def opened(city, people, published):
    """Three opened datasets: 户籍人口 (police, 社保), 企业营业执照 (market, 企业登记), and one suspended."""
    load_rows(
        people,
        [
            {"sfzh": A, "xm": "张三丰", "xb": "男", "csrq": "1980-01-01", "sjhm": "13812345678"},
            {"sfzh": B, "xm": "李四", "xb": "女", "csrq": "1990-02-15", "sjhm": "13912345678"},
        ],
        actor=city.police_officer,
    )
    firms = published(name="企业营业执照信息", abstract="本市登记注册企业的营业执照基本信息。")
    load_rows(
        firms,
        [{"tyshxydm": uscc("91431000MA4L00001"), "qymc": "郴州市北湖区某某商贸有限公司", "fddbr": "王五"}],
        actor=city.market_officer,
    )
    hidden = published(name="企业年报公示信息", abstract="企业年度报告公示的基本信息。")
    conclusion = "经保密审查，不涉及国家秘密；个人信息已去标识化"
    population = services.review_and_open(
        city.police_officer, people, domain="social_security", rules=PEOPLE_RULES, conclusion=conclusion
    )
    licences = services.review_and_open(
        city.market_officer, firms, domain="enterprise", rules=FIRM_RULES, conclusion=conclusion
    )
    suspended = services.review_and_open(
        city.market_officer, hidden, domain="enterprise", rules=FIRM_RULES, conclusion=conclusion
    )
    # An objection suspends a dataset at once (CZ 28); the objection service is another part of #7.
    OpenDataset.objects.filter(pk=suspended.pk).update(
        status=DatasetStatus.SUSPENDED, status_reason="收到异议"
    )
    for d in (population, licences, suspended):
        d.refresh_from_db()
    return population, licences, suspended


@pytest.fixture
def ckan(live_server):
    with ckanapi.RemoteCKAN(live_server.url + "/open", user_agent="govshare-test") as client:
        yield client


def call(action: str, **params):
    return Client().get(API + action, params)


# ---------------------------------------------------------------- through the real ckanapi client


def test_ckanapi_lists_shows_and_searches_open_datasets(city, opened, ckan, live_server):  # R-OPEN-03
    population, licences, _suspended = opened
    assert ckan.action.package_list() == sorted([population.name, licences.name])  # not the suspended one
    assert ckan.action.package_list(limit=1, offset=1) == sorted([population.name, licences.name])[1:]

    pkg = ckan.action.package_show(id=population.name)
    assert ckan.action.package_show(id=str(population.pk))["name"] == population.name
    assert (pkg["title"], pkg["state"], pkg["type"], pkg["private"]) == (
        "户籍人口基本信息",
        "active",
        "dataset",
        False,
    )
    assert pkg["organization"]["name"] == city.police.uscc.lower()
    assert pkg["organization"]["title"] == "郴州市公安局"
    assert [g["name"] for g in pkg["groups"]] == ["social_security"] and pkg["groups"][0]["title"] == "社保"
    assert pkg["license_id"] == "gov-open" and pkg["version"] == "1"
    assert pkg["url"] == f"{live_server.url}/open/datasets/{population.name}/"
    extras = {e["key"]: e["value"] for e in pkg["extras"]}
    assert extras["provider"] == "郴州市公安局" and extras["rows"] == "2" and extras["update_cycle"] == "每日"
    assert "手机号码" not in extras["items"] and "姓名" in extras["items"]  # suppressed column not published

    version = population.current
    by_format = {r["format"]: r for r in pkg["resources"]}
    assert set(by_format) == {"CSV", "JSON", "XLSX"} and pkg["num_resources"] == 3
    csv = by_format["CSV"]
    assert csv["url"] == f"{live_server.url}/open/datasets/{population.name}/download/1.csv"
    assert by_format["JSON"]["url"].endswith("/download/1.json")
    with default_storage.open(version.file.name, "rb") as fh:
        content = fh.read()
    assert csv["hash"] == "sha256:" + hashlib.sha256(content).hexdigest() and csv["size"] == len(content)
    assert csv["mimetype"] == "text/csv" and csv["package_id"] == pkg["id"]

    found = ckan.action.package_search(q="户籍", **{"facet.field": ["organization", "groups", "res_format"]})
    assert found["count"] == 1 and found["results"][0]["name"] == population.name
    assert found["facets"]["organization"] == {city.police.uscc.lower(): 1}
    assert found["search_facets"]["groups"]["items"] == [
        {"name": "social_security", "display_name": "社保", "count": 1}
    ]
    assert found["facets"]["res_format"] == {"CSV": 1, "JSON": 1, "XLSX": 1}

    market = city.market.uscc.lower()
    by_org = ckan.action.package_search(fq=f"organization:{market}", **{"facet.field": ["groups"]})
    assert [p["name"] for p in by_org["results"]] == [licences.name]  # the suspended one is not found
    assert by_org["facets"]["groups"] == {"enterprise": 1}
    both = ckan.action.package_search(
        fq="groups:(enterprise OR social_security) AND res_format:CSV", sort="name asc"
    )
    assert [p["name"] for p in both["results"]] == sorted([population.name, licences.name])
    assert ckan.action.package_search(q="户籍", fq="groups:enterprise")["count"] == 0


def test_ckanapi_not_found_for_unknown_and_suspended(city, opened, ckan):  # CZ 28
    population, licences, suspended = opened
    with pytest.raises(ckanapi.NotFound):
        ckan.action.package_show(id="r999-999999")
    with pytest.raises(ckanapi.NotFound):
        ckan.action.package_show(id=suspended.name)
    with pytest.raises(ckanapi.NotFound):
        ckan.action.package_show(id=str(suspended.pk))
    assert ckan.action.package_search(q="年报")["count"] == 0
    services.withdraw_dataset(city.market_officer, licences, "数据口径调整")
    with pytest.raises(ckanapi.NotFound):
        ckan.action.package_show(id=licences.name)
    assert ckan.action.package_list() == [population.name]


def test_ckanapi_organizations_groups_and_status(city, opened, ckan, live_server):  # R-OPEN-13
    assert ckan.action.organization_list() == sorted([city.police.uscc.lower(), city.market.uscc.lower()])
    orgs = {o["name"]: o for o in ckan.action.organization_list(all_fields=True)}
    assert orgs[city.market.uscc.lower()]["package_count"] == 1  # the suspended one does not count
    assert orgs[city.police.uscc.lower()]["title"] == "郴州市公安局"
    shown = ckan.action.organization_show(id=city.market.uscc.lower(), include_datasets=True)
    assert [p["name"] for p in shown["packages"]] == [opened[1].name]

    groups = ckan.action.group_list(all_fields=True)
    assert len(groups) == 20 and {"credit", "transport", "social_security", "enterprise"} <= {
        g["name"] for g in groups
    }
    counts = {g["name"]: g["package_count"] for g in groups}
    assert counts["enterprise"] == 1 and counts["social_security"] == 1 and counts["credit"] == 0
    assert "social_security" in ckan.action.group_list()

    status = ckan.action.status_show()
    assert status["ckan_version"].startswith("2.") and status["site_url"] == live_server.url + "/open"


def test_resource_urls_download_the_published_files(opened, ckan, live_server):  # R-OPEN-07, R-OPEN-08
    """The urls ckanapi returns are the portal's download route: refused anonymously, served to a
    registered, identity-checked account that accepted the terms, byte for byte with the published hash."""
    import requests

    from govshare.opendata import identity
    from govshare.opendata.models import IdentityStatus, PublicProfile

    pkg = ckan.action.package_show(id=opened[0].name)
    by_format = {r["format"]: r for r in pkg["resources"]}
    for res in pkg["resources"]:
        assert resolve(res["url"].removeprefix(live_server.url)).url_name == "open-download"
        anonymous = requests.get(res["url"], allow_redirects=False, timeout=10)
        assert anonymous.status_code in (302, 401), anonymous.status_code  # to the login, not a 404

    user = identity.register(
        username="zhangsan", password1="open-data-pw-2026", password2="open-data-pw-2026", full_name="张三丰"
    )
    # Verified by an operator's manual check (the identity check itself is tested with the portal).
    PublicProfile.objects.filter(user=user).update(
        identity_status=IdentityStatus.VERIFIED, identity_method="manual"
    )
    identity.accept_terms(user, identity.TERMS_VERSION)
    browser = Client()
    browser.force_login(user)
    session = requests.Session()
    session.cookies.set("sessionid", browser.cookies["sessionid"].value)

    csv = session.get(by_format["CSV"]["url"], timeout=10)
    assert csv.status_code == 200, csv.text[:300]
    assert "sha256:" + hashlib.sha256(csv.content).hexdigest() == by_format["CSV"]["hash"]
    assert len(csv.content) == by_format["CSV"]["size"]
    records = session.get(by_format["JSON"]["url"], timeout=10).json()["records"]
    assert len(records) == 2 and {r["xm"] for r in records} == {"张**", "李*"}  # de-identified
    xlsx = session.get(by_format["XLSX"]["url"], timeout=10)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


# ---------------------------------------------------------------- envelope and errors (plain client)


def test_envelope_get_post_json_and_form(opened):
    population = opened[0]
    body = call("package_search", q="户籍", **{"facet.field": '["groups","license_id"]'}).json()
    assert set(body) == {"help", "success", "result"} and body["success"] is True
    assert body["help"].endswith("/open/api/3/action/help_show?name=package_search")
    assert body["result"]["facets"] == {"groups": {"social_security": 1}, "license_id": {"gov-open": 1}}

    client = Client(enforce_csrf_checks=True)  # public read-only POSTs need no CSRF token
    posted = client.post(
        API + "package_show", json.dumps({"id": population.name}), content_type="application/json"
    )
    assert posted.status_code == 200 and posted.json()["result"]["name"] == population.name
    form = client.post(API + "package_search", {"fq": "groups:social_security", "rows": "1"})
    assert form.json()["result"]["count"] == 1
    by_id = call("package_search", fq=f"owner_org:{population.provider_id}").json()["result"]
    assert [p["name"] for p in by_id["results"]] == [population.name]
    assert posted["Access-Control-Allow-Origin"] == "*" and posted["Content-Type"].startswith(
        "application/json"
    )
    preflight = client.options(API + "package_search")
    assert preflight.status_code == 200 and "POST" in preflight["Access-Control-Allow-Methods"]


@pytest.mark.parametrize(
    ("action", "params", "status", "kind"),
    [
        ("package_show", {"id": "nope"}, 404, "Not Found Error"),
        ("package_show", {}, 409, "Validation Error"),
        ("package_search", {"rows": "many"}, 409, "Validation Error"),
        ("package_search", {"start": "-1"}, 409, "Validation Error"),
        ("package_search", {"facet.field": "[organization"}, 409, "Validation Error"),
        ("package_search", {"sort": "popularity desc"}, 400, "Search Query Error"),
        ("package_search", {"fq": "tags:交通"}, 400, "Search Query Error"),
        ("organization_show", {"id": "nope"}, 404, "Not Found Error"),
        ("group_show", {"id": "nope"}, 404, "Not Found Error"),
        ("package_create", {"name": "x"}, 400, "Bad Request"),
    ],
)
def test_errors_in_ckan_shape(db, action, params, status, kind):
    answer = call(action, **params)
    body = answer.json()
    assert answer.status_code == status
    assert body["success"] is False and body["error"]["__type"] == kind and body["error"]["message"]
    assert "result" not in body and "help" in body


def test_bad_json_body_is_a_bad_request(db):
    answer = Client().post(API + "package_search", "[1, 2]", content_type="application/json")
    assert answer.status_code == 400 and answer.json()["error"]["message"].startswith(
        "Bad request - JSON Error"
    )


def make_datasets(city, n: int, **overrides) -> list[OpenDataset]:
    """Many open datasets as direct rows (a written version each), as a large catalog has them."""
    now = timezone.now()
    out = []
    providers = [city.police, city.market, city.civil]
    domains = ["credit", "transport", "enterprise"]
    for i in range(n):
        provider = providers[i % 3]
        resource = Resource.objects.create(
            code=f"{city.depcls.code}/{900000 + i:06d}",
            classification=city.depcls,
            sequence=900000 + i,
            catalog_kind=CatalogKind.DEPARTMENT,
            status=ResourceStatus.PUBLISHED,
            name=f"测试数据集{i:02d}",
            provider=provider,
            open_type="unconditional",
            update_cycle="monthly",
            created_by=city.reviewer,
        )
        dataset = OpenDataset.objects.create(
            resource=resource,
            name=services.package_name(resource),
            title=resource.name,
            description="批量生成的开放数据集",
            domain=domains[i % 3],
            open_type="unconditional",
            provider=provider,
            status=DatasetStatus.OPEN,
            hash_salt="x",
            search_text=f"测试数据集{i:02d} 批量生成的开放数据集",
            opened_at=now,
            updated_at=now + dt.timedelta(seconds=i),
            **overrides,
        )
        review = Review.objects.create(
            dataset=dataset,
            resource=resource,
            resource_version=1,
            reviewer=city.reviewer,
            reviewed_on=now.date(),
            conclusion="可以开放",
            rules={},
        )
        version = OpenVersion.objects.create(
            dataset=dataset,
            number=1,
            review=review,
            status=VersionStatus.READY,
            source_seq=0,
            items=[{"code": "mc", "name": "名称", "rule": "plain"}],
            rows=10,
            size=100,
            sha256="0" * 64,
            file=f"opendata/{dataset.name}/v1.csv",
            finished_at=now,
        )
        OpenDataset.objects.filter(pk=dataset.pk).update(current=version)
        out.append(dataset)
    return out


def test_search_pages_sorts_and_counts_facets_over_the_whole_result(city):
    made = make_datasets(city, 25)
    first = call(
        "package_search", q="测试", rows=10, start=0, sort="name asc", **{"facet.field": '["organization"]'}
    )
    result = first.json()["result"]
    assert result["count"] == 25 and len(result["results"]) == 10
    assert [p["name"] for p in result["results"]] == sorted(d.name for d in made)[:10]
    assert sum(result["facets"]["organization"].values()) == 25  # facets count all 25, not the page
    last = call("package_search", q="测试", rows=10, start=20, sort="name asc").json()["result"]
    assert [p["name"] for p in last["results"]] == sorted(d.name for d in made)[20:]
    newest = call("package_search", sort="metadata_modified desc", rows=1).json()["result"]["results"][0]
    assert newest["name"] == made[-1].name
    capped = call("package_search", rows=5000).json()["result"]
    assert capped["count"] == 25 and len(capped["results"]) == 25  # rows above 1000 are capped, not refused
    assert call("package_list", limit=5, offset=20).json()["result"] == sorted(d.name for d in made)[20:]
    only = call("package_search", fq="groups:credit", **{"facet.field": '["groups"]', "facet.limit": "1"})
    assert only.json()["result"]["facets"]["groups"] == {"credit": 9}


# ---------------------------------------------------------------- DCAT-AP


def test_dcat_catalog_lists_open_datasets_with_their_downloads(opened):  # issue #7 DCAT-AP
    population, licences, _suspended = opened
    answer = Client().get("/open/catalog.jsonld")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("application/ld+json")
    doc = json.loads(answer.content)
    ctx = doc["@context"]
    assert ctx["dcat"] == "http://www.w3.org/ns/dcat#" and ctx["dct"] == "http://purl.org/dc/terms/"
    assert doc["@type"] == "dcat:Catalog" and doc["dct:title"]
    datasets = {d["dct:identifier"]: d for d in doc["dcat:dataset"]}
    assert set(datasets) == {population.name, licences.name}  # suspended: not published now

    node = datasets[population.name]
    assert node["@type"] == "dcat:Dataset" and node["dct:title"] == "户籍人口基本信息"
    assert node["@id"] == node["dcat:landingPage"] == f"http://testserver/open/datasets/{population.name}/"
    assert node["dct:publisher"]["foaf:name"] == "郴州市公安局"
    assert node["dcat:theme"] == "http://testserver/open/datasets/?domain=social_security"
    dists = {d["dct:format"].rsplit("/", 1)[1]: d for d in node["dcat:distribution"]}
    assert set(dists) == {"CSV", "JSON", "XLSX"}
    pkg = call("package_show", id=population.name).json()["result"]
    assert {r["url"] for r in pkg["resources"]} == {d["dcat:downloadURL"] for d in dists.values()}
    csv = dists["CSV"]
    assert csv["dcat:mediaType"].endswith("/text/csv") and csv["dcat:byteSize"] == population.current.size
    assert csv["spdx:checksum"]["spdx:checksumValue"] == population.current.sha256
    assert dt.datetime.fromisoformat(node["dct:issued"]) <= dt.datetime.fromisoformat(node["dct:modified"])
