"""Catalog exchange (R-CAT-03/04): 1272-guide xlsx round trip, all-or-nothing import, DCAT-AP export."""

import datetime as dt
import io
import json

import pytest
import xlsxwriter
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from python_calamine import CalamineWorkbook

from govshare.catalog import exchange, rules, selectors, services
from govshare.catalog.models import Resource, ResourceRevision, ResourceStatus, RevisionStatus
from govshare.errors import ValidationFailed

pytestmark = pytest.mark.django_db

RESOURCE_HEADER = [
    "信息资源分类", "信息资源名称", "信息资源代码", "信息资源提供方", "信息资源提供方代码", "信息资源摘要",
    "信息资源格式分类", "信息资源格式类型", "共享类型", "共享条件", "共享方式", "使用要求", "是否向社会开放",
    "开放条件", "法律依据", "更新周期", "发布日期", "关联资源代码", "挂接资源类型", "挂接资源说明", "牵头部门",
]  # fmt: skip
ITEM_HEADER = [
    "信息资源代码", "信息资源名称", "序号", "信息项名称", "信息项代码", "数据类型", "数据长度", "主键", "必填",
    "检索项", "基础信息项", "共享类型", "枚举值",
]  # fmt: skip
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def read(data: bytes) -> dict[str, list[list]]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return {name: book.get_sheet_by_name(name).to_python(skip_empty_area=False) for name in book.sheet_names}


def build(sheets: dict[str, list[list]]) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out)
    for name, rows in sheets.items():
        ws = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                ws.write(r, c, value.isoformat() if isinstance(value, dt.date) else value)
    book.close()
    return out.getvalue()


def bad_file(city) -> bytes:
    """Columns in their own order, optional ones missing; row 3 has an unknown share type and item row 5
    lacks its data type. Everything else would pass submission."""
    common = [
        "本市数据。",
        "数据库",
        "接口查询、verify",
        "仅用于履职。",
        "无条件开放",
        "daily",
        "库表（平台归集）",
    ]
    return build({
        "信息资源": [
            ["信息资源名称", "信息资源分类", "信息资源提供方", "信息资源摘要", "信息资源格式分类", "共享方式",
             "使用要求", "是否向社会开放", "更新周期", "挂接资源类型", "共享类型"],
            ["企业年报信息", "301", city.market.uscc, *common, "无条件共享"],
            ["企业注销信息", 301, "郴州市市场监督管理局", *common, "随便共享"],
        ],
        "信息项": [
            ["信息资源名称", "序号", "信息项名称", "信息项代码", "数据类型", "数据长度", "主键"],
            ["企业年报信息", 1, "统一社会信用代码", "tyshxydm", "C", 18, "是"],
            ["企业年报信息", 2, "年报年度", "nbnd", "N", 4, "否"],
            ["企业注销信息", 1, "统一社会信用代码", "tyshxydm", "字符型", 18, "Y"],
            ["企业注销信息", 2, "注销日期", "zxrq", "", None, "false"],
        ],
    })  # fmt: skip


def nothing_written():
    return not Resource.objects.exists() and not ResourceRevision.objects.exists()


def test_export_then_import_round_trip(city, published, payload, django_assert_max_num_queries):
    licence = published()
    sole = published(
        name="个体工商户登记信息", share_type="conditional", share_condition="仅限市场监管协同",
        legal_basis="《市场主体登记管理条例》", open_type="none", update_cycle="half_yearly",
        share_methods=["batch"], mount_kind="file", mount_ref="sftp://platform/market/gtgsh",
        items=[{"code": "zch", "name": "注册号", "data_type": "C", "length": 15, "is_primary": True,
                "enum_values": ["甲", "乙"], "share_type": "unconditional"}],
    )  # fmt: skip
    services.create_resource(city.market_officer, payload(name="草稿目录"))

    with django_assert_max_num_queries(3):  # one chunk: resources with their joins, then items
        sheets = read(exchange.export_xlsx(selectors.live_resources()))
    assert list(sheets) == ["信息资源", "信息项"]
    res, items = sheets["信息资源"], sheets["信息项"]
    assert res[0] == RESOURCE_HEADER and items[0][: len(ITEM_HEADER)] == ITEM_HEADER
    assert [row[1] for row in res[1:]] == ["企业营业执照信息", "个体工商户登记信息"]
    row = dict(zip(RESOURCE_HEADER, res[1], strict=True))
    assert (row["信息资源代码"], row["信息资源提供方代码"]) == (licence.code, city.market.uscc)
    assert (row["共享类型"], row["共享方式"], row["更新周期"], row["信息资源格式分类"], row["是否向社会开放"]) == (
        "无条件共享", "接口查询、核验", "每日", "数据库", "无条件开放")  # fmt: skip
    assert row["发布日期"] == licence.publish_date
    assert len(items) == 1 + 4 + 1
    assert items[5][:13] == [sole.code, "个体工商户登记信息", 1.0, "注册号", "zch", "C", 15.0, "是", "是", "是",
                             "否", "无条件共享", "甲、乙"]  # fmt: skip

    for rows in (res, items):  # codes are assigned by the platform: blank them to register anew
        col = rows[0].index("信息资源代码")
        for r in rows[1:]:
            r[col] = ""
    revs = exchange.import_xlsx(city.market_officer, build({"信息资源": res, "信息项": items}))

    assert [r.status for r in revs] == [RevisionStatus.DRAFT] * 2
    for rev, original in zip(revs, (licence, sole), strict=True):
        assert rev.resource.code != original.code
        assert rev.payload == services.snapshot(original)

    again = exchange.import_xlsx(city.market_officer, build({"信息资源": res, "信息项": items}), submit=True)
    assert [r.status for r in again] == [RevisionStatus.SUBMITTED] * 2


def test_bad_rows_are_listed_and_nothing_is_written(city):
    with pytest.raises(ValidationFailed) as caught:
        exchange.import_xlsx(city.market_officer, bad_file(city), submit=True)
    errors = caught.value.errors
    assert [(e["sheet"], e["row"], e["column"]) for e in errors] == [
        ("信息资源", 3, "共享类型"),
        ("信息项", 5, "数据类型"),
    ]
    assert [e["code"] for e in errors] == ["invalid_choice", "required"]
    assert "随便共享" in errors[0]["message"]
    assert caught.value.message == "导入未通过校验：共2处问题，未写入任何数据"
    assert nothing_written()

    with pytest.raises(ValidationFailed) as caught:  # a draft may lack a data type, not a valid share type
        exchange.import_xlsx(city.market_officer, bad_file(city))
    assert [(e["sheet"], e["row"], e["column"]) for e in caught.value.errors] == [("信息资源", 3, "共享类型")]
    assert nothing_written()


def test_rows_with_codes_and_unknown_references_are_refused(city):
    data = build({
        "信息资源": [["信息资源代码", "信息资源名称", "信息资源分类", "信息资源提供方", "牵头部门"],
                  ["301/000001", "甲", "301", city.market.name, ""],
                  ["", "乙", "999", "不存在的局", "也不存在"]],
        "信息项": [["信息资源名称", "信息项名称", "信息项代码", "主键"], ["丙", "x", "x", "也许"]],
    })  # fmt: skip
    with pytest.raises(ValidationFailed) as caught:
        exchange.import_xlsx(city.market_officer, data)
    found = {(e["sheet"], e["row"], e["column"]): e["message"] for e in caught.value.errors}
    assert found[("信息资源", 2, "信息资源代码")].startswith("已有代码的目录请通过变更流程修改")
    assert set(found) == {("信息资源", 2, "信息资源代码"), ("信息资源", 3, "信息资源分类"),
                          ("信息资源", 3, "信息资源提供方"), ("信息资源", 3, "牵头部门"),
                          ("信息项", 2, "信息资源名称"), ("信息项", 2, "主键")}  # fmt: skip
    assert nothing_written()


def test_unreadable_or_foreign_files_are_refused(city):
    with pytest.raises(ValidationFailed) as caught:
        exchange.import_xlsx(city.market_officer, b"not a workbook")
    assert caught.value.errors[0]["code"] == "unreadable"
    with pytest.raises(ValidationFailed) as caught:
        exchange.import_xlsx(city.market_officer, build({"Sheet1": [["a"]]}))
    assert caught.value.errors[0]["code"] == "missing_sheet"
    with pytest.raises(ValidationFailed) as caught:
        exchange.import_xlsx(city.market_officer, build({"信息资源": [["名称"], ["甲"]]}))
    assert [(e["row"], e["column"], e["code"]) for e in caught.value.errors] == [
        (1, "信息资源名称", "missing_column")
    ]
    assert nothing_written()


def test_rows_for_another_department_roll_back_everything(city, payload):
    own = ["301", "企业年报信息", city.market.name]
    other = ["301", "居民户籍信息", city.police.name]
    data = build({"信息资源": [["信息资源分类", "信息资源名称", "信息资源提供方"], own, other]})
    with pytest.raises(ValidationFailed) as caught:
        exchange.import_xlsx(city.market_officer, data)
    [error] = caught.value.errors
    assert (error["sheet"], error["row"], error["column"], error["code"]) == (
        "信息资源", 3, "信息资源提供方", "not_maintainer")  # fmt: skip
    assert "第3行" in caught.value.message
    assert nothing_written()


def test_dcat_lists_live_resources_only(city, published, payload):
    daily = published()
    half = published(name="企业年报信息", update_cycle="half_yearly")
    retiring = published(name="企业注销信息", update_cycle="realtime")
    gone = published(name="已下线目录")
    Resource.objects.filter(pk=retiring.pk).update(status=ResourceStatus.RETIRING)
    Resource.objects.filter(pk=gone.pk).update(status=ResourceStatus.RETIRED)
    services.create_resource(city.market_officer, payload(name="草稿目录"))

    doc = json.loads(json.dumps(exchange.dcat_catalog("http://testserver")))
    assert {"dcat", "dct", "foaf", "vcard", "adms", "xsd"} <= set(doc["@context"])
    assert (doc["@type"], doc["dct:title"]) == ("dcat:Catalog", "政务信息资源目录")
    assert doc["dct:publisher"]["foaf:name"] == city.authority.name
    datasets = {d["dct:identifier"]: d for d in doc["dcat:dataset"]}
    assert set(datasets) == {daily.code, half.code, retiring.code}
    frequency = "http://publications.europa.eu/resource/authority/frequency/"
    assert {c: d["dct:accrualPeriodicity"]["@id"] for c, d in datasets.items()} == {
        daily.code: frequency + "DAILY",
        half.code: frequency + "ANNUAL_2",
        retiring.code: frequency + "CONT",
    }
    d = datasets[daily.code]
    assert d["@type"] == "dcat:Dataset"
    assert d["@id"] == f"http://testserver/catalog/resources/{daily.code}/"
    assert d["dct:publisher"] == {"@type": "foaf:Agent", "foaf:name": city.market.name,
                                  "dct:identifier": city.market.uscc}  # fmt: skip
    assert d["dct:issued"] == {"@value": daily.publish_date.isoformat(), "@type": "xsd:date"}
    assert d["dcat:keyword"] == ["统一社会信用代码", "企业名称", "法定代表人", "成立日期"]
    assert d["dct:accessRights"]["dct:title"] == rules.SHARE_TYPES["unconditional"]
    assert d["dcat:distribution"][0]["@type"] == "dcat:Distribution"
    assert d["dct:type"]["dct:title"] == "部门信息资源目录"


def test_api_exchange_endpoints(city, published):
    resource = published()
    client = Client()
    client.force_login(city.market_officer)

    resp = client.get("/api/v1/catalog/export/dcat.jsonld")
    assert resp.status_code == 200
    assert [d["dct:identifier"] for d in resp.json()["dcat:dataset"]] == [resource.code]

    resp = client.get("/api/v1/catalog/export/catalog.xlsx")
    assert resp.status_code == 200 and resp["Content-Type"] == XLSX
    sheets = read(resp.content)
    assert sheets["信息资源"][1][2] == resource.code and len(sheets["信息项"]) == 5

    upload = SimpleUploadedFile("bad.xlsx", bad_file(city), content_type=XLSX)
    resp = client.post("/api/v1/catalog/import?submit=true", {"file": upload})
    assert resp.status_code == 422
    body = resp.json()
    assert body["code"] == "validation_failed"
    assert [(e["sheet"], e["row"], e["column"]) for e in body["detail"]["errors"]] == [
        ("信息资源", 3, "共享类型"), ("信息项", 5, "数据类型")]  # fmt: skip
    assert Resource.objects.count() == 1


def test_import_page_shows_the_report(city):
    client = Client()
    client.force_login(city.market_officer)
    upload = SimpleUploadedFile("bad.xlsx", bad_file(city), content_type=XLSX)
    resp = client.post("/catalog/import/", {"file": upload, "submit": "on"})
    assert resp.status_code == 200
    html = resp.content.decode()
    report = html[html.index('id="import-report"') :]
    assert "共享类型“随便共享”无效" in report and "<td>3</td>" in report and "<td>5</td>" in report
    assert nothing_written()
