"""Server-rendered pages: what each role sees, forms that create and refuse, lists."""

import pytest
from django.test import Client

from govshare.catalog import services
from govshare.catalog.models import ResourceRevision

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_pages_need_login(db):
    for url in ("/", "/catalog/", "/lists/demands/", "/inbox/"):
        r = Client().get(url)
        assert r.status_code == 302 and r["Location"].startswith("/login/")
    assert "登录" in Client().get("/login/").content.decode()


def test_secure_headers_on_pages(db):
    r = Client().get("/login/")
    assert "default-src 'self'" in r["Content-Security-Policy"]
    assert r["X-Frame-Options"] == "DENY"
    assert r["X-Content-Type-Options"] == "nosniff"


def test_new_entry_form_creates_draft_with_items(city):
    c = login(city.market_officer)
    form = {
        "name": "企业营业执照信息",
        "classification": "301",
        "provider": city.market.pk,
        "abstract": "营业执照",
        "format_category": "database",
        "update_cycle": "daily",
        "mount_kind": "table",
        "share_type": "unconditional",
        "share_methods": ["query", "verify"],
        "open_type": "unconditional",
        "usage_requirements": "履职使用",
        "item-0-name": "统一社会信用代码",
        "item-0-code": "tyshxydm",
        "item-0-data_type": "C",
        "item-0-is_primary": "on",
        "item-3-name": "企业名称",
        "item-3-code": "qymc",
        "item-3-data_type": "C",
        "item-5-name": "",
        "item-5-code": "",
    }
    r = c.post("/catalog/new/", form)
    assert r.status_code == 302
    rev = ResourceRevision.objects.get()
    assert [i["code"] for i in rev.payload["items"]] == ["tyshxydm", "qymc"]
    assert rev.payload["items"][0]["is_primary"] and rev.payload["share_methods"] == ["query", "verify"]
    page = c.get(r["Location"]).content.decode()
    assert "企业营业执照信息" in page and "提交审核" in page


def test_form_shows_field_errors_in_chinese(city):
    c = login(city.market_officer)
    r = c.post("/catalog/new/", {"name": "", "classification": "301", "provider": city.market.pk})
    assert r.status_code == 422
    page = r.content.decode()
    assert "资源名称不能为空" in page
    assert not ResourceRevision.objects.exists()


def test_submit_with_missing_fields_lists_them_and_keeps_draft(city, payload):
    rev = services.create_resource(city.market_officer, payload(usage_requirements="", update_cycle=""))
    c = login(city.market_officer)
    r = c.post(f"/catalog/revisions/{rev.pk}/submit/", follow=True)
    page = r.content.decode()
    assert "使用要求为必填项" in page and "更新周期为必填项" in page
    rev.refresh_from_db()
    assert rev.status == "draft"


def test_consumer_cannot_open_new_entry_form(city):
    r = login(city.civil_officer).get("/catalog/new/", follow=True)
    assert "只有提供部门的数据专员可以编制目录" in r.content.decode()


def test_home_shows_what_waits_for_each_role(city, payload):
    rev = services.create_resource(city.market_officer, payload())
    services.submit_revision(city.market_officer, rev)
    authority_home = login(city.reviewer).get("/").content.decode()
    assert "待我审核的目录（1）" in authority_home and "企业营业执照信息" in authority_home
    provider_home = login(city.market_officer).get("/").content.decode()
    assert "待审核" in provider_home and "企业营业执照信息" in provider_home
    consumer_home = login(city.civil_officer).get("/").content.decode()
    assert "本部门需求清单" in consumer_home and "待我审核" not in consumer_home


def test_review_pages_return_and_publish(city, payload):
    rev = services.create_resource(city.market_officer, payload())
    services.submit_revision(city.market_officer, rev)
    reviewer = login(city.reviewer)
    assert "企业营业执照信息" in reviewer.get("/catalog/review/").content.decode()
    r = reviewer.post(f"/catalog/revisions/{rev.pk}/return/", {"comment": ""}, follow=True)
    assert "退回时必须填写审核意见" in r.content.decode()
    reviewer.post(f"/catalog/revisions/{rev.pk}/return/", {"comment": "补充来源"})
    assert "补充来源" in login(city.market_officer).get(f"/catalog/revisions/{rev.pk}/").content.decode()
    services.submit_revision(city.market_officer, rev)
    r = reviewer.post(f"/catalog/revisions/{rev.pk}/publish/", {"comment": "同意"}, follow=True)
    assert "审核通过" in r.content.decode()
    page = login(city.civil_officer).get("/catalog/resources/301/000001/").content.decode()
    assert "第 1 版" in page and "统一社会信用代码" in page


def test_search_page_filters_and_hides_drafts(city, published, payload):
    published()
    services.create_resource(city.market_officer, payload(name="营业执照草稿"))
    page = login(city.civil_officer).get("/catalog/", {"q": "营业执照"}).content.decode()
    assert "共 1 条" in page and "企业营业执照信息" in page and "营业执照草稿" not in page
    page = (
        login(city.civil_officer).get("/catalog/", {"q": "营业执照", "share_type": "none"}).content.decode()
    )
    assert "共 0 条" in page


def test_draft_page_hidden_from_other_departments(city, payload):
    services.create_resource(city.market_officer, payload())
    assert login(city.civil_officer).get("/catalog/resources/301/000001/").status_code == 404


def test_lists_pages(city, published):
    resource = published()
    consumer = login(city.civil_officer)
    r = consumer.post(
        "/lists/demands/",
        {"service_item": "低保审核", "data_name": "营业执照", "item_names": "企业名称，法定代表人"},
    )
    assert r.status_code == 302
    assert "低保审核" in consumer.get("/lists/gaps/").content.decode()
    provider = login(city.market_officer)
    demand_id = resource.__class__.objects.model._meta.apps.get_model("catalog", "Demand").objects.get().pk
    provider.post(f"/lists/demands/{demand_id}/supply/", {"resource_code": resource.code})
    gaps = consumer.get("/lists/gaps/").content.decode()
    assert "所有需求均已有供给" in gaps
    assert "企业营业执照信息" in consumer.get("/lists/responsibilities/").content.decode()
    assert consumer.get("/lists/negative/").status_code == 200


def test_inbox_counts_unread(city, payload):
    rev = services.create_resource(city.market_officer, payload())
    services.submit_revision(city.market_officer, rev)
    c = login(city.reviewer)
    page = c.get("/").content.decode()
    assert 'id="unread">1<' in page
    c.post("/inbox/read/")
    assert 'id="unread">0<' in c.get("/").content.decode()


def test_operator_manages_departments_in_admin_and_uscc_is_validated(city):  # R-ORG-01, R-ORG-04
    operator = city.person("ops", city.authority, "operator")
    operator.is_staff = True
    operator.is_superuser = True
    operator.save()
    c = login(operator)
    assert c.get("/admin/orgs/department/").status_code == 200
    form = {
        "name": "郴州市供水有限公司",
        "short_name": "供水公司",
        "uscc": "91431000MA4L0000XX",
        "region": city.region.pk,
        "level": "city",
        "kind": "public_utility",
        "platform": "郴州市政务数据共享交换平台",
        "is_active": "on",
        "members-TOTAL_FORMS": "0",
        "members-INITIAL_FORMS": "0",
    }
    r = c.post("/admin/orgs/department/add/", form)
    assert r.status_code == 200 and "统一社会信用代码无效" in r.content.decode()
    from govshare.orgs.identifiers import uscc_check_char
    from govshare.orgs.models import Department

    form["uscc"] = "91431000MA4L00001" + uscc_check_char(
        "91431000MA4L00001"
    )  # letters in the first places are legal
    r = c.post("/admin/orgs/department/add/", form)
    assert r.status_code == 302, r.content.decode()[:2000]
    assert Department.objects.get(name="郴州市供水有限公司").by_reference


def test_notice_dates_name_their_article(city, published, settings):  # R-CAT-15
    resource = published()
    settings.GOVSHARE_PROFILE = "shangrao"
    services.retire_resource(city.reviewer, resource, "职能划转")
    page = login(city.civil_officer).get(f"/catalog/resources/{resource.code}/").content.decode()
    assert "将于 " in page
    assert "饶智组办发〔2020〕1号 第九条" in page


def test_api_docs_are_served_from_our_own_static_files(db):
    """The deployment network is closed: the Swagger UI must not come from a CDN."""
    r = Client().get("/api/v1/docs")
    page = r.content.decode()
    assert r.status_code == 200 and "/static/ninja/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "https://" not in page
    assert "default-src 'self'" in r["Content-Security-Policy"]
