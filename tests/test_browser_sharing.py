"""Issue #5's browser path: a consumer applies for a conditional resource, the provider approves a subset
of items, the consumer's client system gets exactly those items, masked; after the provider suspends the
grant the next call is refused."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from tests.conftest import PEOPLE_ITEMS
from tests.test_collect_load import A, B

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def records(token: str, code: str, **params):
    return Client().get(f"/api/v1/share/{code}/records", params, headers={"Authorization": f"Bearer {token}"})


def test_apply_approve_subset_call_then_suspend(
    city, published, person
):  # R-SHARE-05, R-SHARE-10, R-SHARE-18
    from playwright.sync_api import expect

    from govshare.clients import services as clients
    from govshare.collect.services import load_rows

    resource = published(
        officer=city.police_officer,
        name="户籍人口基本信息",
        provider=city.police.pk,
        items=PEOPLE_ITEMS,
        share_type="conditional",
        share_condition="仅限履行社会救助职责的部门",
        share_methods=["query", "verify"],
        open_type="none",
        legal_basis="《中华人民共和国个人信息保护法》第三十四条",
    )
    load_rows(
        resource,
        [
            {"sfzh": A, "xm": "张三丰", "xb": "男", "csrq": "1980-01-01", "sjhm": "13812345678"},
            {"sfzh": B, "xm": "李四", "xb": "女", "csrq": "1990-02-15", "sjhm": "13912345678"},
        ],
        actor=city.police_officer,
    )
    system = clients.register_client(city.civil_officer, "低保审核业务系统", "subsidy-check")
    _, token = clients.issue_credential(city.civil_officer, system)
    before = records(token, resource.code, sfzh=A)
    assert before.status_code == 403 and before.json()["code"] == "no_grant"

    # The consumer applies from the catalog page.
    civil = person("civil")
    civil.goto(f"/catalog/resources/{resource.code}/")
    civil.get_by_role("link", name="申请使用").click()
    civil.get_by_label("使用用途").fill("最低生活保障对象家庭经济状况核对")
    civil.get_by_label("履职依据").fill("《社会救助暂行办法》第十一条")
    civil.get_by_label("低保审核业务系统").check()
    for name in ("公民身份号码", "姓名", "出生日期", "手机号码"):
        civil.locator("#apply-form").get_by_label(name).check()
    civil.get_by_label("接口查询").check()
    today = timezone.localdate()
    civil.get_by_label("使用期限自").fill(today.isoformat())
    civil.get_by_label("使用期限至").fill((today + dt.timedelta(days=180)).isoformat())
    civil.get_by_label("本部门承诺遵守以上使用要求").check()
    civil.get_by_role("button", name="提交申请").click()
    expect(civil.locator("body")).to_contain_text("户籍人口基本信息")
    expect(civil.locator("body")).to_contain_text("郴政发〔2022〕2号")  # the reply deadline's article

    # The provider answers from its inbox: only 公民身份号码 and 姓名, the name masked to its first character.
    police = person("police")
    police.goto("/sharing/inbox/")
    police.locator("#inbox").get_by_role("link", name="答复").click()
    police.locator("#i-csrq").uncheck()
    police.locator("#i-sjhm").uncheck()
    police.locator("#i-sfzh").check()
    police.locator("#i-xm").check()
    police.get_by_label("公民身份号码的脱敏规则").select_option("plain")
    police.get_by_label("姓名的脱敏规则").select_option("keep")
    police.get_by_label("姓名保留前几位").fill("1")
    police.get_by_label("姓名保留后几位").fill("0")
    police.get_by_label("书面答复").fill("同意提供公民身份号码、姓名，仅用于低保家庭经济状况核对。")
    police.get_by_role("button", name="同意并生成授权").click()
    expect(police.locator("body")).to_contain_text("已同意")

    # The consumer sees the grant; its client system gets exactly the granted items, masked.
    civil.goto("/sharing/grants/")
    expect(civil.locator("body")).to_contain_text("保留前1位、后0位")
    got = records(token, resource.code, sfzh=A)
    assert got.status_code == 200, got.content
    assert got.json()["records"] == [{"sfzh": A, "xm": "张**"}]
    outside = records(token, resource.code, sfzh=A, items="csrq")
    assert outside.status_code == 403 and outside.json()["code"] == "item_not_granted"

    # The provider suspends the grant; the next call is refused and says why.
    police.goto("/sharing/grants/")
    police.get_by_label("暂停原因").fill("发现超范围调用，暂停核查")
    police.get_by_role("button", name="暂停", exact=True).click()
    expect(police.locator("body")).to_contain_text("已暂停")
    refused = records(token, resource.code, sfzh=A)
    assert refused.status_code == 403 and refused.json()["code"] == "grant_suspended"
    assert "张" not in refused.content.decode()
    civil.goto("/sharing/grants/")
    expect(civil.locator("body")).to_contain_text("发现超范围调用")
