"""The open portal's public pages and the providers' opening pages (issue #7, R-OPEN-03/06/07/11/13)."""

import re

import pytest
from django.test import Client
from tests.test_collect_load import A, B

from govshare.collect.services import load_rows
from govshare.errors import ValidationFailed
from govshare.opendata import selectors, services
from govshare.opendata.models import DatasetStatus, OpenDataset

pytestmark = pytest.mark.django_db

RULES = {"sfzh": "hash", "xm": "keep:1:0", "xb": "plain", "csrq": "year", "sjhm": "suppress"}
ENTERPRISE_RULES = {"tyshxydm": "plain", "qymc": "plain", "fddbr": "keep:1:0", "clrq": "plain"}


@pytest.fixture(autouse=True)
def media(media):  # every test here writes files: into the throwaway directory
    return media


@pytest.fixture
def population(city, people):
    load_rows(
        people,
        [
            {"sfzh": A, "xm": "张三丰", "xb": "男", "csrq": "1980-01-01", "sjhm": "13812345678"},
            {"sfzh": B, "xm": "李四", "xb": "女", "csrq": "1990-02-15", "sjhm": "13912345678"},
        ],
        actor=city.police_officer,
    )
    return people


@pytest.fixture
def opened(city, population, published):
    """Two open datasets: the police's 户籍人口 (statistics) and the market's 营业执照 (enterprise)."""
    people = services.review_and_open(
        city.police_officer, population, domain="statistics", rules=RULES, conclusion="经审查可以开放"
    )
    licences = published(name="企业营业执照信息")
    firms = services.review_and_open(
        city.market_officer, licences, domain="enterprise", rules=ENTERPRISE_RULES, conclusion="可以开放"
    )
    return people, firms


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def section(html: str, element_id: str) -> str:
    """One part of a page, so an assertion cannot be satisfied by another part of it."""
    start = html.index(f'id="{element_id}"')
    end = html.find('id="', start + 10)
    return html[start : end if end > 0 else len(html)]


def result_titles(html: str) -> list[str]:
    block = section(html, "results")
    return re.findall(r'<h3><a href="/open/datasets/[^"]+/">([^<]+)</a></h3>', block)


def test_anonymous_search_finds_by_title_word_and_item_name(city, opened):  # R-OPEN-03, R-OPEN-07
    c = Client()
    html = c.get("/open/datasets/", {"q": "户籍"}).content.decode()
    assert result_titles(html) == ["户籍人口基本信息"]
    html = c.get("/open/datasets/", {"q": "法定代表人"}).content.decode()  # an item of the licences only
    assert result_titles(html) == ["企业营业执照信息"]
    assert "共 1 个" in section(html, "result-count")
    # a suppressed item does not make its dataset match
    assert result_titles(c.get("/open/datasets/", {"q": "手机号码"}).content.decode()) == []
    assert sorted(result_titles(c.get("/open/datasets/").content.decode())) == [
        "企业营业执照信息",
        "户籍人口基本信息",
    ]


def test_facet_counts_and_filters(city, opened):  # R-OPEN-13
    _, firms = opened
    result = selectors.search()
    assert result.count == 2
    assert {f["value"]: f["count"] for f in result.facets["domain"]} == {"statistics": 1, "enterprise": 1}
    assert {f["label"]: f["count"] for f in result.facets["provider"]} == {
        "郴州市公安局": 1,
        "郴州市市场监督管理局": 1,
    }
    assert {f["value"]: f["count"] for f in result.facets["format"]} == {"csv": 2, "json": 2, "xlsx": 2}
    assert {f["value"]: f["count"] for f in result.facets["open_type"]} == {"unconditional": 2}

    only = selectors.search(facets={"provider": [str(city.market.pk)]})
    assert [d.name for d in only.datasets] == [firms.name]
    assert {f["value"]: f["count"] for f in only.facets["domain"]} == {"enterprise": 1}

    # the page shows the same numbers and filters by a facet link
    c = Client()
    html = c.get("/open/datasets/").content.decode()
    assert re.search(r"统计</span> <span class=\"count\">1<", section(html, "facets"))
    html = c.get("/open/datasets/", {"domain": "enterprise"}).content.decode()
    assert result_titles(html) == ["企业营业执照信息"]
    home = c.get("/open/").content.decode()
    assert re.search(r"企业登记监管</span><span class=\"count\">1<", section(home, "domains"))
    assert re.search(
        r"气象</span><span class=\"count\">0<", section(home, "domains")
    )  # every R-OPEN-13 domain


def test_search_reads_a_constant_number_of_queries(city, opened, django_assert_max_num_queries):
    # count + page + one GROUP BY per facet, however many datasets match: what keeps 5,000 fast
    with django_assert_max_num_queries(6):
        result = selectors.search("信息", sort="relevance")
    assert result.count == 2


def test_relevance_puts_title_matches_first(city, opened):
    people, firms = opened
    OpenDataset.objects.filter(pk=people.pk).update(description="含企业登记地址统计口径")
    result = selectors.search("企业")
    assert [d.name for d in result.datasets] == [firms.name, people.name]


def test_search_pages_and_sorts(city, opened, monkeypatch):
    from govshare.opendata import views_portal

    monkeypatch.setattr(views_portal, "PAGE_ROWS", 1)
    c = Client()
    first = c.get("/open/datasets/", {"sort": "title"}).content.decode()
    second = c.get("/open/datasets/", {"sort": "title", "page": 2}).content.decode()
    titles = sorted(["企业营业执照信息", "户籍人口基本信息"])
    assert (result_titles(first), result_titles(second)) == ([titles[0]], [titles[1]])
    assert "第 1 / 2 页" in first and "page=2" in first and "sort=title" in first
    assert selectors.search(sort="title", rows=1, start=1).datasets[0].title == titles[1]
    with pytest.raises(ValidationFailed):
        selectors.search(sort="popularity")
    with pytest.raises(ValidationFailed):
        selectors.search(facets={"tags": ["x"]})


def test_dataset_page_shows_the_deidentified_preview(city, opened):  # R-OPEN-06
    people, _ = opened
    html = Client().get(f"/open/datasets/{people.name}/").content.decode()
    preview = section(html, "preview")
    assert "张**" in preview and "1980" in preview
    assert A not in html and B not in html  # hashed 公民身份号码 never shown raw
    assert "13812345678" not in html and "手机号码" not in section(html, "items")
    items = section(html, "items")
    assert "加盐哈希" in items and "保留前1位、后0位" in items and "仅年份" in items
    versions = section(html, "versions")
    people.refresh_from_db()
    assert f"/open/datasets/{people.name}/download/1.csv" in versions
    assert f"/open/datasets/{people.name}/download/1.xlsx" in versions
    assert people.current.sha256 in versions
    assert "每日" in section(html, "dataset-meta")  # the catalog's update cycle


def test_suspended_dataset_is_not_listed_and_its_page_says_why(city, opened):  # R-OPEN-11
    people, _ = opened
    OpenDataset.objects.filter(pk=people.pk).update(
        status=DatasetStatus.SUSPENDED, status_reason="收到异议：含可识别个人信息"
    )
    c = Client()
    assert result_titles(c.get("/open/datasets/", {"q": "户籍"}).content.decode()) == []
    assert selectors.search("户籍").count == 0
    resp = c.get(f"/open/datasets/{people.name}/")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "已中止开放" in section(html, "dataset-status") and "收到异议" in html
    assert 'id="preview"' not in html and "张**" not in html
    assert "/download/" not in html
    assert c.get("/open/datasets/r-no-such/").status_code == 404


def test_conditional_dataset_shows_its_condition_and_no_preview(city, published):  # R-OPEN-08
    resource = published(
        name="企业年报信息",
        open_type="conditional",
        open_condition="仅限科研用途，须签订数据利用协议",
        legal_basis="《企业信息公示暂行条例》第八条",
    )
    ds = services.review_and_open(
        city.market_officer, resource, domain="enterprise", rules=ENTERPRISE_RULES, conclusion="可以"
    )
    html = Client().get(f"/open/datasets/{ds.name}/").content.decode()
    condition = section(html, "condition")
    assert "有条件开放：须提出申请" in condition and "仅限科研用途" in condition
    assert 'id="preview"' not in html and "/download/" not in html


def review_post(**overrides) -> dict:
    data = {
        "domain": "statistics",
        "description": "",
        "conclusion": "经保密审查，不涉及国家秘密；个人信息已去标识化",
        "reviewed_on": "",
        "rule-sfzh": "hash",
        "rule-xm": "keep",
        "keep_first-xm": "1",
        "keep_last-xm": "0",
        "rule-xb": "plain",
        "rule-csrq": "year",
        "rule-sjhm": "suppress",
    }
    data.update(overrides)
    return data


def test_review_form_round_trip_opens_the_dataset_with_v1(city, population):  # R-OPEN-06
    from django.utils import timezone

    c = login(city.police_officer)
    listing = c.get("/open/manage/").content.decode()
    assert "户籍人口基本信息" in section(listing, "open-entries") and "未开放" in listing
    form = c.get(f"/open/manage/{population.pk}/review/").content.decode()
    items = section(form, "review-items")
    # first review: proposals from the item names (身份证 kept 6+4, 姓名 first character)
    assert re.search(r'name="rule-sfzh".*?<option value="keep" selected>', items, re.S)
    assert 'name="keep_first-sfzh" value="6"' in items

    resp = c.post(
        f"/open/manage/{population.pk}/review/", review_post(reviewed_on=timezone.localdate().isoformat())
    )
    assert resp.status_code == 302
    ds = OpenDataset.objects.get(resource=population)
    assert ds.rules == RULES and ds.current.number == 1
    listing = c.get("/open/manage/").content.decode()
    assert "开放中 v1" in section(listing, "open-entries")
    page = Client().get(f"/open/datasets/{ds.name}/").content.decode()
    assert "v1" in section(page, "versions") and "张**" in section(page, "preview")
    # the re-review form is pre-filled from the dataset's rules
    again = section(c.get(f"/open/manage/{population.pk}/review/").content.decode(), "review-items")
    assert re.search(r'name="rule-sfzh".*?<option value="hash" selected>', again, re.S)
    assert re.search(r'name="rule-sjhm".*?<option value="suppress" selected>', again, re.S)


def test_review_form_errors_are_shown_per_field_and_nothing_saved(city, population):  # R-OPEN-06
    c = login(city.police_officer)
    resp = c.post(
        f"/open/manage/{population.pk}/review/",
        review_post(**{"conclusion": "", "domain": "", "rule-sfzh": "", "reviewed_on": "2020-01-01"}),
    )
    assert resp.status_code == 422
    html = resp.content.decode()
    assert "请填写保密审查结论" in html and "请选择开放领域" in html
    assert "请为信息项“公民身份号码”设置去标识化规则" in section(html, "review-items")
    assert not OpenDataset.objects.exists()
    resp = c.post(f"/open/manage/{population.pk}/review/", review_post(reviewed_on="2020-13-01"))
    assert resp.status_code == 422 and "审查日期“2020-13-01”无效" in resp.content.decode()
    assert not OpenDataset.objects.exists()


def test_withdraw_from_the_manage_page_removes_it_from_search(city, opened):
    people, _ = opened
    c = login(city.police_officer)
    resp = c.post(f"/open/manage/{people.resource_id}/withdraw/", {"reason": ""})
    assert resp.status_code == 302
    people.refresh_from_db()
    assert people.status == DatasetStatus.OPEN  # a reason is required
    c.post(f"/open/manage/{people.resource_id}/withdraw/", {"reason": "数据口径调整"})
    people.refresh_from_db()
    assert people.status == DatasetStatus.WITHDRAWN
    assert "已撤回" in section(c.get("/open/manage/").content.decode(), "open-entries")
    assert selectors.search("户籍").count == 0


def test_other_departments_cannot_use_the_manage_pages(city, opened):
    people, _ = opened
    consumer = login(city.civil_officer)
    assert consumer.get("/open/manage/").status_code == 403
    assert consumer.get(f"/open/manage/{people.resource_id}/review/").status_code in (403, 404)
    market = login(city.market_officer)  # a provider, but of another department
    assert market.get(f"/open/manage/{people.resource_id}/review/").status_code == 404
    assert market.post(f"/open/manage/{people.resource_id}/withdraw/", {"reason": "x"}).status_code == 404
    assert "户籍人口基本信息" not in market.get("/open/manage/").content.decode()
    people.refresh_from_db()
    assert people.status == DatasetStatus.OPEN
    assert Client().get("/open/manage/").status_code == 302  # anonymous: to the login page


def test_the_authority_reviews_any_department_in_its_region(city, opened):  # R-OPEN-06
    c = login(city.reviewer)
    listing = section(c.get("/open/manage/").content.decode(), "open-entries")
    assert "户籍人口基本信息" in listing and "企业营业执照信息" in listing
