"""Issue #7's browser path: an anonymous visitor finds an open dataset, registers, passes the identity check
(through the platform's verification gate against the population resource), accepts the terms of use and
downloads the CSV; after an objection suspends the dataset the download link answers with a clear message.
Driven at phone width (375 px): the portal is meant for phones too."""

import pytest
from django.core.files.storage import default_storage
from tests.conftest import BROWSER_TIMEOUT, make_uscc
from tests.test_collect_load import A, B
from tests.test_sharing_gate import make_grant

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"


@pytest.fixture(autouse=True)
def media(media):  # every test here writes files: into the throwaway directory
    return media


def test_find_register_verify_accept_download_then_suspended(
    city, people, browser, live_server, settings
):  # R-OPEN-07, R-OPEN-11, R-OPEN-15
    from playwright.sync_api import expect

    from govshare.clients import services as clients
    from govshare.collect.services import load_rows
    from govshare.opendata import services
    from govshare.opendata.models import OpenDataset
    from govshare.orgs.models import Department, DepartmentKind, Role

    load_rows(
        people,
        [
            {"sfzh": A, "xm": "张三丰", "xb": "男", "csrq": "1980-01-01", "sjhm": "13812345678"},
            {"sfzh": B, "xm": "李四", "xb": "女", "csrq": "1990-02-15", "sjhm": "13912345678"},
        ],
        actor=city.police_officer,
    )
    dataset = services.review_and_open(
        city.police_officer,
        people,
        domain="statistics",
        rules={"sfzh": "hash", "xm": "keep:1:0", "xb": "plain", "csrq": "year", "sjhm": "suppress"},
        conclusion="经保密审查，不涉及国家秘密；个人信息已去标识化",
    )
    dataset.refresh_from_db()
    # The portal checks identities through a client system of the platform operator, granted 'verify' only.
    ops_dept = Department.objects.create(
        name="郴州市大数据中心",
        uscc=make_uscc(9),
        region=city.region,
        level="city",
        kind=DepartmentKind.OPERATOR,
        platform="郴州市政务数据共享交换平台",
    )
    ops = city.person("ops", ops_dept, Role.OPERATOR, Role.CONSUMER)
    system = clients.register_client(ops, "开放平台身份核验", "open-identity")
    clients.issue_credential(ops, system)
    make_grant(city, people, system, methods=["verify"], items=["sfzh", "xm"])
    settings.GOVSHARE_IDENTITY_RESOURCE = people.code
    settings.GOVSHARE_IDENTITY_CLIENT = "open-identity"

    expect.set_options(timeout=BROWSER_TIMEOUT)
    context = browser.new_context(
        base_url=live_server.url,
        locale="zh-CN",
        viewport={"width": 375, "height": 800},
        accept_downloads=True,
    )
    context.set_default_timeout(BROWSER_TIMEOUT)
    try:
        page = context.new_page()
        # An anonymous visitor searches the catalog and opens the dataset.
        page.goto("/open/datasets/")
        page.get_by_label("检索开放数据").fill("户籍人口")
        page.get_by_role("button", name="检索").click()
        page.locator("#results").get_by_role("link", name="户籍人口基本信息").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("户籍人口基本信息")
        csv_link = page.locator("#versions").get_by_role("link", name="CSV")
        download_path = csv_link.get_attribute("href")
        assert download_path == f"/open/datasets/{dataset.name}/download/1.csv"

        # Registers (signed in at once) and is led to the identity check.
        page.get_by_role("link", name="注册").click()
        page.get_by_label("用户名").fill("zhangsanfeng")
        page.get_by_label("密码 *", exact=True).fill("Kaifang-2026-shuju")
        page.get_by_label("确认密码").fill("Kaifang-2026-shuju")
        page.get_by_label("真实姓名").fill("张三丰")
        page.get_by_role("button", name="注册").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("身份认证")

        # A wrong name is refused by the verification gate; the right one passes.
        page.get_by_label("姓名").fill("张三")
        page.get_by_label("公民身份号码").fill(A)
        page.get_by_role("button", name="提交认证").click()
        expect(page.locator(".messages")).to_contain_text("姓名与公民身份号码不一致")
        page.get_by_label("姓名").fill("张三丰")
        page.get_by_label("公民身份号码").fill(A)
        page.get_by_role("button", name="提交认证").click()
        expect(page.locator(".messages")).to_contain_text("身份认证已通过")

        # Then the terms of use (R-OPEN-15).
        expect(page.get_by_role("heading", level=1)).to_have_text("数据使用条款")
        expect(page.locator("#terms-text")).to_contain_text("不得擅自转让")
        page.get_by_label("我已阅读并同意").check()
        page.get_by_role("button", name="接受条款").click()
        expect(page.locator("#identity-status")).to_contain_text("已通过身份认证")
        expect(page.locator("#terms-status")).to_contain_text("已接受")
        assert A not in page.content()

        # Downloads the CSV from the dataset page: the file is the published version, byte for byte.
        page.goto(f"/open/datasets/{dataset.name}/")
        with page.expect_download() as info:
            page.locator("#versions").get_by_role("link", name="CSV").click()
        download = info.value
        assert download.suggested_filename == "户籍人口基本信息-第1版.csv"
        with default_storage.open(dataset.current.file.name, "rb") as fh:
            assert open(download.path(), "rb").read() == fh.read()
        page.goto("/open/account/")
        expect(page.locator("#my-downloads")).to_contain_text("户籍人口基本信息")

        # An objection lodged on the dataset page, with an evidence file, suspends the dataset at once (CZ 28);
        # the link now answers with the reason instead of the file.
        page.goto(f"/open/datasets/{dataset.name}/")
        page.locator("#public-actions").get_by_role("link", name="提出异议").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("提出异议")
        page.get_by_label("异议理由").fill("部分记录的出生年份有误")
        page.get_by_label("涉及版本").select_option("1")
        page.get_by_label("证明材料").set_input_files(
            files=[{"name": "户籍证明.pdf", "mimeType": "application/pdf", "buffer": PDF}]
        )
        page.get_by_role("button", name="提交异议").click()
        expect(page.locator(".messages")).to_contain_text("异议已提交")
        expect(page.locator("#dataset-status")).to_contain_text("收到异议")
        expect(page.locator("#preview")).to_have_count(0)
        assert OpenDataset.objects.get(pk=dataset.pk).status == "suspended"
        response = page.goto(download_path)
        assert response.status == 403
        expect(page.locator("#refused")).to_contain_text("该数据集因收到异议已中止开放，正在核实")
        expect(page.locator("#refused")).to_contain_text("dataset_suspended")
        page.goto(f"/open/datasets/{dataset.name}/")
        expect(page.locator("#dataset-status")).to_contain_text("收到异议")
        expect(page.locator("#versions")).not_to_contain_text("CSV")
        page.goto("/open/account/")
        expect(page.locator("#my-objection-list")).to_contain_text("核实中")
    finally:
        context.close()
