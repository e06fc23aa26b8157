"""Issue #4's browser path: a GBK CSV with two bad rows writes nothing and the report names both rows;
the fixed file loads and the records appear with their new change sequence."""

import pytest
from tests.test_collect_load import A, B

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_gbk_upload_rejected_then_fixed(people, person, tmp_path, settings):  # R-COL-04, R-COL-01
    from playwright.sync_api import expect

    # The test database is SQLite's shared-cache memory database, whose table locks a second writer
    # thread cannot wait out; the load therefore runs inside the request here (a file database, as
    # deployed, runs it in the background and the page polls its progress).
    settings.GOVSHARE_COLLECT_INLINE = True

    from govshare.collect.models import Record

    resource = people
    bad = tmp_path / "人口-有误.csv"
    bad.write_bytes(
        f"公民身份号码,姓名,性别\n{A},张三,男\n431002198001010010,李四,女\n{B},王五,未知\n".encode("gbk")
    )
    good = tmp_path / "人口.csv"
    good.write_bytes(f"公民身份号码,姓名,性别\n{A},张三,男\n{B},王五,女\n".encode("gbk"))

    page = person("police")
    page.get_by_role("link", name="数据归集").click()
    page.get_by_role("link", name="户籍人口基本信息").click()
    page.get_by_label("数据文件").set_input_files(str(bad))
    page.get_by_role("button", name="上传并校验").click()
    expect(page.locator("#progress")).to_contain_text("已拒绝（未写入任何数据）")
    problems = page.locator("table.problems tr")
    expect(problems.filter(has_text="校验码错误")).to_contain_text("3")
    expect(problems.filter(has_text="性别")).to_contain_text("4")
    expect(page.locator("#rows-rejected")).to_have_text("2")
    assert not Record.objects.filter(resource=resource).exists()

    page.get_by_role("link", name=f"{resource.code} 归集页").click()
    page.get_by_label("数据文件").set_input_files(str(good))
    page.get_by_role("button", name="上传并校验").click()
    expect(page.locator("#progress")).to_contain_text("已入库")
    expect(page.locator("#seq")).to_have_text("1–2")
    page.get_by_role("link", name=f"{resource.code} 归集页").click()
    expect(page.locator("#last-seq")).to_have_text("2")
    expect(page.locator("table.records")).to_contain_text("王五")
    assert Record.objects.filter(resource=resource, deleted=False).count() == 2
