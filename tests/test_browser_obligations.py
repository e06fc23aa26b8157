"""An overdue obligation is red for the responsible officer and in the authority's view (issue: working-day
clock, "Playwright test: an overdue obligation appears in red …")."""

import datetime as dt

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RED = "rgb(198, 40, 40)"  # --danger in govshare.css


def test_overdue_obligation_is_red_for_officer_and_authority(city, published, person):
    from playwright.sync_api import expect

    from govshare.supervision import services

    resource = published()
    services.record_catalog_trigger(
        city.market_officer,
        event="law_revision",
        description="《市场主体登记管理条例》修订",
        occurred_on=dt.date(2026, 9, 30),
        resource=resource,
    )
    services.check_due(dt.date(2026, 11, 2))  # due 2026-10-27 (郴政发〔2022〕2号 第十六条: 15 working days)

    page = person("market")
    page.get_by_role("link", name="我的待办").first.click()
    row = page.locator("#my-obligations tr.obligation", has_text="更新政务信息资源目录")
    expect(row).to_have_count(1)
    due = row.locator("td.overdue")
    expect(due).to_contain_text("2026-10-27")
    expect(due).to_contain_text("已逾期")
    expect(due).to_have_css("color", RED)
    expect(row).to_contain_text("郴政发〔2022〕2号 第十六条")

    page = person("reviewer")
    page.get_by_role("link", name="督办").click()
    page.get_by_label("部门").select_option(label="郴州市市场监督管理局")
    page.get_by_role("button", name="筛选").click()
    row = page.locator("#all-obligations tr.obligation", has_text="更新政务信息资源目录")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("郴州市市场监督管理局")
    expect(row.locator("td.overdue")).to_have_css("color", RED)
