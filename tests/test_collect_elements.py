"""Data-element dictionary: one data one source (R-COL-02), duplicate collection (R-COL-03),
cross-source consistency with coordination and escalation (R-COL-06, R-ORG-05)."""

import importlib

import pytest
from django.apps import apps as django_apps
from django.test import Client
from django.utils import timezone

import govshare.collect.admin_elements  # noqa: F401  (collect/admin.py imports it in the app)
from govshare.audit.models import AuditEvent
from govshare.catalog import services as catalog
from govshare.collect import elements
from govshare.collect.models import Batch, CaseStatus, CoordinationCase, DataElement, ElementSource, Record
from govshare.errors import IllegalTransition, PermissionDenied, ValidationFailed
from govshare.notifications.models import Notification
from govshare.orgs.models import Role

pytestmark = pytest.mark.django_db

PEOPLE_ITEMS = [
    {"code": "sfzh", "name": "身份证号", "data_type": "C", "length": 18, "is_primary": True},
    {"code": "xm", "name": "姓名", "data_type": "C", "length": 50},
    {"code": "zz", "name": "住 址", "data_type": "C", "length": 200},
    {"code": "csrq", "name": "出生日期", "data_type": "D"},
]
OPERATOR_ITEMS = [
    {"code": "gmsfhm", "name": "公民身份号码", "data_type": "C", "length": 18, "is_primary": True},
    {"code": "jyzxm", "name": "姓名", "data_type": "C", "length": 50},
    {"code": "jydz", "name": "户籍地址", "data_type": "C", "length": 200},
    {"code": "csrq", "name": "出生日期", "data_type": "D"},
    {"code": "zh", "name": "字号", "data_type": "C"},
]


@pytest.fixture(autouse=True)
def dictionary(db):
    """The migration loads the dictionary; a flushed test database gets it back here."""
    elements.load_standard_elements()


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def sources(resource) -> dict[str, ElementSource]:
    return {s.item_code: s for s in ElementSource.objects.filter(resource=resource).select_related("element")}


def load(resource, department, rows: dict, deleted=()) -> Batch:
    """A committed load written with the ORM: one Record per key, as the loader leaves them."""
    batch = Batch.objects.create(resource=resource, department=department, source="api", status="committed")
    for i, (key, data) in enumerate(rows.items(), start=1):
        Record.objects.update_or_create(
            resource=resource,
            key=key,
            defaults=dict(
                data=data,
                digest=f"d{batch.pk}-{i}",
                seq=batch.pk * 1000 + i,
                deleted=key in deleted,
                batch=batch,
                updated_at=timezone.now(),
            ),
        )
    return batch


@pytest.fixture
def two_sources(city, published):
    """公安局 keys people by 身份证号, 市场监管局 its 个体经营者 by 公民身份号码: the same element."""
    people = published(
        officer=city.police_officer,
        provider=city.police.pk,
        name="常住人口基本信息",
        items=PEOPLE_ITEMS,
    )
    operators = published(name="个体工商户经营者信息", items=OPERATOR_ITEMS)
    return people, operators


# --- dictionary and binding (R-COL-02) ---------------------------------------------------------------------


def test_standard_dictionary_is_loaded_once_by_the_migration():
    count = DataElement.objects.count()
    assert count >= 12
    ric = DataElement.objects.get(name="公民身份号码")
    assert ric.format_check == "ric" and "身份证号" in ric.synonyms
    assert DataElement.objects.get(name="统一社会信用代码").format_check == "uscc"
    assert DataElement.objects.get(name="手机号码").format_check == "mobile"
    assert "联系电话" not in DataElement.objects.get(name="手机号码").synonyms
    migration = importlib.import_module("govshare.collect.migrations.0002_standard_elements")
    migration.load(django_apps, None)
    assert elements.load_standard_elements() == 0
    assert DataElement.objects.count() == count


def test_publishing_binds_items_to_elements_by_name_and_synonym(city, published):  # R-COL-02
    resource = published()
    bound = sources(resource)
    assert {code: s.element.name for code, s in bound.items()} == {
        "tyshxydm": "统一社会信用代码",
        "qymc": "企业名称",
        "fddbr": "法定代表人",
        "clrq": "成立日期",
    }
    assert all(s.authoritative and s.department == city.market for s in bound.values())
    assert AuditEvent.objects.filter(action="elements.source.bind").count() == 4


def test_publishing_a_change_drops_bindings_of_removed_items(city, published):
    resource = published()
    rev = catalog.start_revision(city.market_officer, resource, "删除法定代表人")
    p = dict(rev.payload)
    p["items"] = [it for it in p["items"] if it["code"] != "fddbr"]
    catalog.update_revision(city.market_officer, rev, p)
    catalog.submit_revision(city.market_officer, rev)
    catalog.publish_revision(city.reviewer, rev, confirm_narrowing=True, narrowing_reason="依条例删减")
    assert set(sources(resource)) == {"tyshxydm", "qymc", "clrq"}


def test_second_department_is_not_authoritative_until_override_with_legal_basis(city, published):  # R-COL-02
    published()
    security = published(
        officer=city.police_officer,
        provider=city.police.pk,
        name="保安服务公司信息",
        items=[
            {"code": "dm", "name": "统一社会信用代码", "data_type": "C", "is_primary": True},
            {"code": "dwmc", "name": "单位名称", "data_type": "C"},
            {"code": "bazs", "name": "保安员数", "data_type": "I"},
        ],
    )
    bound = sources(security)
    assert set(bound) == {"dm", "dwmc"}
    assert not bound["dm"].authoritative and not bound["dwmc"].authoritative
    notice = Notification.objects.get(department=city.police, kind="elements.second_source")
    assert "一数一源" in notice.title and "郴州市市场监督管理局" in notice.body
    assert Notification.objects.filter(department=city.authority, kind="elements.second_source").exists()
    assert set(elements.pending_sources()) == set(bound.values())

    with pytest.raises(ValidationFailed) as exc:
        elements.override_source(city.reviewer, bound["dm"], "  ")
    assert exc.value.errors[0]["field"] == "reason"
    with pytest.raises(PermissionDenied):
        elements.override_source(city.market_officer, bound["dm"], "《保安服务管理条例》第九条")
    assert not ElementSource.objects.get(pk=bound["dm"].pk).authoritative

    elements.override_source(city.reviewer, bound["dm"], "《保安服务管理条例》第九条")
    src = ElementSource.objects.get(pk=bound["dm"].pk)
    assert src.authoritative and src.override_by == city.reviewer
    assert src.override_reason == "《保安服务管理条例》第九条"
    for dept in (city.police, city.market):
        assert Notification.objects.filter(department=dept, kind="elements.source_override").exists()
    assert AuditEvent.objects.filter(action="elements.source.override", object_id=str(src.pk)).exists()
    assert list(elements.pending_sources()) == [bound["dwmc"]]
    with pytest.raises(IllegalTransition):
        elements.override_source(city.reviewer, src, "再次确认")


def test_pending_page_lists_second_sources_and_refuses_override_without_reason(city, published):
    published()
    security = published(
        officer=city.police_officer,
        provider=city.police.pk,
        name="保安服务公司信息",
        items=[{"code": "dm", "name": "统一社会信用代码", "data_type": "C", "is_primary": True}],
    )
    src = sources(security)["dm"]
    c = login(city.reviewer)
    page = c.get("/elements/pending/").content.decode()
    assert "保安服务公司信息" in page and "郴州市市场监督管理局" in page
    assert f'action="/elements/sources/{src.pk}/override/"' in page
    r = c.post(f"/elements/sources/{src.pk}/override/", {"reason": ""}, follow=True)
    assert "法律法规依据" in r.content.decode()
    assert not ElementSource.objects.get(pk=src.pk).authoritative
    c.post(f"/elements/sources/{src.pk}/override/", {"reason": "《保安服务管理条例》第九条"})
    assert ElementSource.objects.get(pk=src.pk).authoritative
    assert login(city.police_officer).get("/elements/pending/").status_code == 302


def test_provider_binds_an_unmatched_item_by_hand_and_may_unbind(city, published):
    resource = published()
    c = login(city.market_officer)
    assert 'action="/elements/bind/"' in c.get("/elements/").content.decode()
    c.post("/elements/bind/", {"resource_code": resource.code, "item_code": "qymc", "element_code": "DE0002"})
    assert ElementSource.objects.filter(resource=resource, item_code="qymc", element__code="DE0002").exists()
    source = ElementSource.objects.get(resource=resource, item_code="fddbr")
    # another department may not touch the binding
    login(city.police_officer).post(f"/elements/sources/{source.pk}/unbind/")
    assert ElementSource.objects.filter(pk=source.pk).exists()
    c.post(f"/elements/sources/{source.pk}/unbind/")
    assert not ElementSource.objects.filter(pk=source.pk).exists()
    assert AuditEvent.objects.filter(action="elements.source.unbind").exists()


def test_dictionary_page_searches_synonyms_and_shows_sources(city, published):
    published()
    page = login(city.civil_officer).get("/elements/", {"q": "单位名称"}).content.decode()
    assert "企业名称" in page and "公民身份号码" not in page
    assert "郴州市市场监督管理局" in page and "权威来源" in page
    r = login(city.civil_officer).get("/api/v1/elements", {"q": "身份证"})
    assert [e["name"] for e in r.json()] == ["公民身份号码"]


def test_bind_all_live_maps_entries_published_before_the_dictionary(city, published):
    resource = published()
    ElementSource.objects.all().delete()
    assert elements.bind_all_live() == 4
    assert sources(resource)["tyshxydm"].authoritative


def test_operator_maintains_the_dictionary_in_admin_and_it_is_audited(city):
    admin_user = city.person("ops", city.authority, Role.OPERATOR)
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    c = login(admin_user)
    assert "公民身份号码" in c.get("/admin/collect/dataelement/").content.decode()
    r = c.post(
        "/admin/collect/dataelement/add/",
        {
            "code": "DE0100",
            "name": "婚姻状况",
            "synonyms": '["婚姻状态"]',
            "data_type": "C",
            "format_check": "",
            "description": "GB/T 2261.2",
            "sources-TOTAL_FORMS": "0",
            "sources-INITIAL_FORMS": "0",
            "sources-MIN_NUM_FORMS": "0",
            "sources-MAX_NUM_FORMS": "1000",
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    element = DataElement.objects.get(code="DE0100")
    assert element.synonyms == ["婚姻状态"]
    assert AuditEvent.objects.filter(action="elements.element.create", object_id=str(element.pk)).exists()
    assert elements.duplicate_warnings(["婚姻状态"]) == []  # known to the dictionary, provided by nobody yet


# --- cross-source consistency (R-COL-06) -------------------------------------------------------------------


def people_rows():
    return {
        "430100199001010011": {"xm": "张三", "zz": "北湖区人民路1号", "csrq": "1990-01-01"},
        "430100199001010012": {"xm": "李四", "zz": "苏仙区A栋", "csrq": "1990-01-01"},
        "430100199001010013": {"xm": "王五", "zz": "", "csrq": "1990-01-01"},
        "430100199001010014": {"xm": "", "zz": "桂阳县", "csrq": "1990-01-01"},
        "430100199001010015": {"xm": "赵六", "zz": "资兴市", "csrq": "1990-01-01"},
    }


def operator_rows():
    return {
        # equal after trimming whitespace: not a conflict
        "430100199001010011": {"jyzxm": " 张三 ", "jydz": "北湖区人民路1号\u3000", "csrq": "1990-01-01"},
        # two elements differ for this key: two cases
        "430100199001010012": {"jyzxm": "李肆", "jydz": "苏仙区B栋", "csrq": "1990-01-01"},
        # missing on one side: a completeness problem, not a contradiction
        "430100199001010013": {"jydz": "汝城县", "csrq": "1990-01-01"},
        "430100199001010014": {"jyzxm": "某某", "jydz": "桂阳县", "csrq": None},
        # deleted here: no longer a source
        "430100199001010015": {"jyzxm": "赵陆", "jydz": "资兴市", "csrq": "1990-01-01"},
        # not in the other resource
        "430100199001010016": {"jyzxm": "孙七", "jydz": "宜章县", "csrq": "1990-01-01"},
    }


def test_conflicts_open_one_case_per_differing_key_and_notify_both_once(city, two_sources):
    people, operators = two_sources
    people_batch = load(people, city.police, {**people_rows(), "430100199001010017": {"xm": "周八"}})
    # a key written by an earlier load of the operators is not this load's business
    load(operators, city.market, {"430100199001010017": {"jyzxm": "周捌"}})
    batch = load(operators, city.market, operator_rows(), deleted={"430100199001010015"})

    result = elements.after_load(operators, batch.pk)
    assert result == {"opened": 2, "beyond_cap": 0, "pairs": 3, "sealed_pairs": 0}
    cases = {c.element.name: c for c in CoordinationCase.objects.select_related("element")}
    assert set(cases) == {"姓名", "住址"}
    name_case = cases["姓名"]
    assert name_case.key == "430100199001010012" and name_case.status == CaseStatus.OPEN
    assert {(v["resource"], v["department"], v["value"]) for v in name_case.values} == {
        (operators.code, "郴州市市场监督管理局", "李肆"),
        (people.code, "郴州市公安局", "李四"),
    }
    assert set(name_case.departments.all()) == {city.police, city.market}
    for dept in (city.police, city.market):
        assert Notification.objects.filter(department=dept, kind="elements.conflict").count() == 1
    assert not Notification.objects.filter(department=city.civil, kind="elements.conflict").exists()

    # the same load seen again opens nothing and tells nobody
    assert elements.after_load(operators, batch.pk)["opened"] == 0
    assert Notification.objects.filter(kind="elements.conflict").count() == 2
    # the other side's load: its own differing key, but still one open case per element and key
    assert elements.after_load(people, people_batch.pk)["opened"] == 1
    assert CoordinationCase.objects.count() == 3
    assert CoordinationCase.objects.filter(key="430100199001010017", element__name="姓名").exists()
    assert CoordinationCase.objects.filter(key="430100199001010012", element__name="姓名").count() == 1
    for dept in (city.police, city.market):
        assert Notification.objects.filter(department=dept, kind="elements.conflict").count() == 2


def test_conflict_cap_reports_what_it_left_for_later(city, two_sources, monkeypatch):
    people, operators = two_sources
    load(people, city.police, people_rows())
    batch = load(operators, city.market, operator_rows())
    monkeypatch.setattr(elements, "CASE_CAP", 1)
    assert elements.after_load(operators, batch.pk) == {
        "opened": 1,
        "beyond_cap": 2,
        "pairs": 3,
        "sealed_pairs": 0,
    }
    assert elements.after_load(operators, batch.pk) == {
        "opened": 1,
        "beyond_cap": 1,
        "pairs": 3,
        "sealed_pairs": 0,
    }
    assert elements.after_load(operators, batch.pk) == {
        "opened": 1,
        "beyond_cap": 0,
        "pairs": 3,
        "sealed_pairs": 0,
    }
    # nothing is deleted in this test, so 赵六 / 赵陆 is the third disagreement
    assert CoordinationCase.objects.filter(key="430100199001010015").count() == 1


def test_resources_not_keyed_by_the_same_element_are_not_compared(city, published):
    published(
        officer=city.police_officer,
        provider=city.police.pk,
        name="常住人口基本信息",
        items=PEOPLE_ITEMS,
    )
    licences = published()  # keyed by 统一社会信用代码
    batch = load(licences, city.market, {"430100199001010012": {"qymc": "李肆"}})
    assert elements.after_load(licences, batch.pk) == {
        "opened": 0,
        "beyond_cap": 0,
        "pairs": 0,
        "sealed_pairs": 0,
    }


def make_case(city, two_sources):
    people, operators = two_sources
    load(people, city.police, people_rows())
    batch = load(operators, city.market, operator_rows())
    elements.after_load(operators, batch.pk)
    return CoordinationCase.objects.get(element__name="姓名", key="430100199001010012")


def test_escalation_goes_to_the_same_level_authority_and_the_authority_resolves(city, two_sources):
    # R-COL-06, R-ORG-05 (CZ: 同级人民政府主管部门)
    case = make_case(city, two_sources)
    with pytest.raises(ValidationFailed):
        elements.escalate_case(city.police_officer, case, "")
    with pytest.raises(PermissionDenied):
        elements.escalate_case(city.civil_officer, case, "不是本部门的事项")
    elements.escalate_case(city.police_officer, case, "双方均认为本部门数据正确")
    case.refresh_from_db()
    assert case.status == CaseStatus.ESCALATED
    notice = Notification.objects.get(department=city.authority, kind="elements.case_escalated")
    assert "同级人民政府政务信息资源共享工作主管部门" in notice.title
    assert "双方均认为本部门数据正确" in notice.body
    assert Notification.objects.filter(department=city.market, kind="elements.case_escalated").exists()
    assert AuditEvent.objects.filter(action="elements.case.escalate", object_id=str(case.pk)).exists()
    with pytest.raises(IllegalTransition):
        elements.escalate_case(city.market_officer, case, "再次提请")
    with pytest.raises(PermissionDenied):
        elements.resolve_case(city.civil_officer, case, "以公安数据为准")

    assert elements.cases_for(city.reviewer).first() == case  # escalated first
    elements.resolve_case(city.reviewer, case, "经核实以户籍登记为准，市场监管局已更正")
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED and case.resolved_by == city.reviewer
    assert case.resolved_at is not None
    with pytest.raises(IllegalTransition):
        elements.resolve_case(city.police_officer, case, "again")


def test_case_pages_for_the_parties_and_the_authority(city, two_sources):
    case = make_case(city, two_sources)
    police = login(city.police_officer)
    page = police.get("/elements/cases/").content.decode()
    assert "李肆" in page and "李四" in page
    assert f'action="/elements/cases/{case.pk}/escalate/"' in page
    assert "430100199001010012" not in login(city.civil_officer).get("/elements/cases/").content.decode()

    police.post(f"/elements/cases/{case.pk}/escalate/", {"reason": "协商未果"})
    assert CoordinationCase.objects.get(pk=case.pk).status == CaseStatus.ESCALATED
    r = login(city.reviewer).get("/api/v1/elements/cases")
    assert r.status_code == 200 and r.json()[0]["id"] == case.pk and r.json()[0]["status"] == "escalated"
    r = login(city.market_officer).post(
        f"/api/v1/elements/cases/{case.pk}/resolve", {"resolution": ""}, content_type="application/json"
    )
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    r = login(city.reviewer).post(
        f"/api/v1/elements/cases/{case.pk}/resolve",
        {"resolution": "以户籍登记为准"},
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["status"] == "resolved"


def test_case_list_page_beyond_the_end_is_empty(city, two_sources):  # R-COL-06
    # Found by tests/test_api_fuzz.py: a page number near 2**63 overflowed the offset and answered 500.
    make_case(city, two_sources)
    authority = login(city.reviewer)
    assert len(authority.get("/api/v1/elements/cases", {"page": 1}).json()) >= 1
    r = authority.get("/api/v1/elements/cases", {"page": 2**63 - 1})
    assert r.status_code == 200 and r.json() == []


# --- duplicate collection (R-COL-03) -----------------------------------------------------------------------


def test_duplicate_warnings_name_the_sharing_resources(city, published):
    licences = published()
    warnings = elements.duplicate_warnings(["单位名称", "法定代表人", "婚姻状况", " 单位 名称 "])
    assert [w["item"] for w in warnings] == ["单位名称", "法定代表人"]
    assert warnings[0]["element"] == "企业名称"
    assert warnings[0]["resources"] == [
        {
            "code": licences.code,
            "name": "企业营业执照信息",
            "provider": "郴州市市场监督管理局",
            "url": f"/catalog/resources/{licences.code}/",
        }
    ]
    assert elements.duplicate_warnings(["企业名称"], exclude_resource=licences) == []


def test_items_of_entries_not_shared_are_no_reason_to_warn(city, published):
    published(
        share_type="none",
        open_type="none",
        legal_basis="《企业信息公示暂行条例》第十五条",
        items=[
            {"code": "dm", "name": "统一社会信用代码", "data_type": "C", "is_primary": True},
            {"code": "zczb", "name": "注册资本", "data_type": "N"},
        ],
    )
    assert elements.duplicate_warnings(["注册资本"]) == []


def test_edit_page_of_a_draft_warns_about_items_already_shared_with_links(city, published, payload):
    licences = published()
    draft = catalog.create_resource(
        city.police_officer,
        payload(
            provider=city.police.pk,
            name="娱乐场所从业单位信息",
            items=[
                {"code": "dm", "name": "统一社会信用代码", "data_type": "C", "is_primary": True},
                {"code": "dwmc", "name": "单位名称", "data_type": "C"},
                {"code": "cyrs", "name": "从业人数", "data_type": "I"},
            ],
        ),
    )
    page = login(city.police_officer).get(f"/catalog/revisions/{draft.pk}/edit/").content.decode()
    assert "以下信息项已可通过共享获取，请勿重复采集" in page
    assert f'href="/catalog/resources/{licences.code}/"' in page
    box = page[page.index('id="duplicate-warnings"') : page.index('id="resource-form"')]
    assert "单位名称" in box and "从业人数" not in box
    assert "统一社会信用代码" not in box  # the key joins records; it is not a second collection
    # the entry's own change does not warn about itself
    rev = catalog.start_revision(city.market_officer, licences, "补充说明")
    page = login(city.market_officer).get(f"/catalog/revisions/{rev.pk}/edit/").content.decode()
    assert "请勿重复采集" not in page


def test_demand_page_shows_which_items_are_already_shared(city, published):
    licences = published()
    c = login(city.civil_officer)
    r = c.post(
        "/lists/demands/",
        {"service_item": "社会组织登记", "data_name": "企业登记信息", "item_names": "法定代表人，婚姻状况"},
        follow=True,
    )
    page = r.content.decode()
    assert "需求已登记" in page
    assert "以下所需信息项已可通过共享获取" in page and "法定代表人" in page
    row = page[page.index("社会组织登记") :]
    assert "已可共享" in row and f'href="/catalog/resources/{licences.code}/"' in row
    assert "婚姻状况：" not in row


def test_duplicates_api(city, published):
    licences = published()
    r = login(city.civil_officer).post(
        "/api/v1/elements/duplicates", {"items": ["成立日期", "婚姻状况"]}, content_type="application/json"
    )
    assert r.status_code == 200
    assert r.json() == [
        {
            "item": "成立日期",
            "element": "成立日期",
            "element_code": "DE0013",
            "resources": [
                {
                    "code": licences.code,
                    "name": "企业营业执照信息",
                    "provider": "郴州市市场监督管理局",
                    "url": f"/catalog/resources/{licences.code}/",
                }
            ],
            "total": 1,
        }
    ]


def test_override_api_requires_the_authority(city, published):
    published()
    security = published(
        officer=city.police_officer,
        provider=city.police.pk,
        name="保安服务公司信息",
        items=[{"code": "dm", "name": "统一社会信用代码", "data_type": "C", "is_primary": True}],
    )
    src = sources(security)["dm"]
    url = f"/api/v1/elements/sources/{src.pk}/override"
    r = login(city.police_officer).post(url, {"reason": "依据"}, content_type="application/json")
    assert r.status_code == 403 and r.json()["code"] == "authority_only"
    r = login(city.reviewer).post(url, {"reason": "《保安服务管理条例》"}, content_type="application/json")
    assert r.status_code == 200 and r.json()["authoritative"] is True
    assert Role.AUTHORITY in city.reviewer.role_codes
