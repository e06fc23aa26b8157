"""Issue #8's browser path under the Chenzhou rules: a consumer disputes a record it obtained through its
grant; the provider sees it with its due date, asks for more time, its head approves (the consumer is
told); the provider finds an error, fixes it at source, and may close only once the corrected record has
arrived through collection; the consumer sees the ticket closed as corrected."""

import pytest
from tests.test_collect_load import A, B
from tests.test_sharing_gate import make_grant

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROWS = [
    {"sfzh": A, "xm": "张三丰", "xb": "男", "csrq": "1980-01-01", "sjhm": "13812345678"},
    {"sfzh": B, "xm": "李四", "xb": "女", "csrq": "1990-02-15", "sjhm": "13912345678"},
]


def test_cz_doubt_extended_by_the_head_fixed_and_closed(
    settings, city, people, person
):  # R-CORR-01, R-CORR-03, R-CORR-04, R-CORR-05, R-CORR-06, R-CORR-07
    from playwright.sync_api import expect

    from govshare.calendar.policy import active_profile, work_calendar
    from govshare.clients import services as clients
    from govshare.collect.services import load_rows
    from govshare.corrections.models import CorrectionTicket
    from govshare.orgs.models import Role

    settings.GOVSHARE_PROFILE = "chenzhou"
    load_rows(people, ROWS, actor=city.police_officer)
    system = clients.register_client(city.civil_officer, "低保审核业务系统", "subsidy-check")
    grant = make_grant(city, people, system, items=["sfzh", "xm", "csrq"], masks={"sfzh": "keep:6:4"})
    city.person("police_head", city.police, Role.HEAD, full_name="公安局负责人")

    # The consumer raises a doubt on one record from its grant page.
    civil = person("civil")
    civil.goto(f"/sharing/grants/{grant.pk}/")
    civil.get_by_role("link", name="报告数据疑义").click()
    civil.get_by_label("有疑义的记录").fill(A)
    civil.locator("#raise-form").get_by_label("姓名").check()
    civil.get_by_label("问题描述").fill("姓名应为“张三”，与户口簿不一致")
    civil.get_by_label("更正建议").fill("按户口簿更正为张三")
    civil.get_by_role("button", name="提交疑义").click()
    expect(civil.locator("#ticket-status")).to_contain_text("核校中")
    ticket = CorrectionTicket.objects.get()
    start = ticket.created_at.date()
    due = (
        work_calendar().add_working_days(start, active_profile().value("correction_verify_working_days")).due
    )
    expect(civil.locator(".messages")).to_contain_text(f"须于 {due:%Y-%m-%d} 前核校")

    # The provider finds it under 待我核校, with the due date and its article.
    police = person("police")
    police.goto("/corrections/")
    police.get_by_role("link", name="待我核校").click()
    row = police.locator("#tickets tr", has_text=ticket.number)
    expect(row).to_contain_text(f"截止 {due:%Y-%m-%d}")
    expect(row).to_contain_text("郴政发〔2022〕2号 第二十四条")

    # It asks for 5 more working days; its head approves, and the due date moves.
    row.get_by_role("link", name=ticket.number).click()
    police.get_by_label("延长工作日").fill("5")
    police.get_by_label("延期理由").fill("需调取纸质户籍档案核对")
    police.get_by_role("button", name="申请延期").click()
    expect(police.locator(".messages")).to_contain_text("待本部门主要负责人审批")
    expect(police.locator("#extension-pending")).to_be_visible()

    head = person("police_head")
    head.goto(f"/corrections/{ticket.pk}/")
    expect(head.locator("#running")).to_contain_text(f"截止 {due:%Y-%m-%d}")
    head.get_by_label("审批意见").fill("同意延期")
    head.get_by_role("button", name="批准延期").click()
    new_due = work_calendar().add_working_days(due, 5).due
    expect(head.locator("#running")).to_contain_text(f"截止 {new_due:%Y-%m-%d}")

    civil.goto("/inbox/")
    expect(civil.locator("body")).to_contain_text(f"核校期限延长至 {new_due:%Y-%m-%d}")

    # The provider finds an error; closing is refused until the corrected record has been collected.
    police.goto(f"/corrections/{ticket.pk}/")
    expect(police.locator("#running")).to_contain_text(f"截止 {new_due:%Y-%m-%d}")
    police.get_by_label("核校意见").fill("经核对户籍档案，姓名录入有误")
    police.get_by_role("button", name="确有错误").click()
    expect(police.locator("#ticket-status")).to_contain_text("待更正数据汇聚")
    police.get_by_role("button", name="确认已更正").click()
    expect(police.locator("#close-form .messages")).to_contain_text("更正后的记录尚未通过数据归集汇聚到平台")
    expect(police.locator("#ticket-status")).to_contain_text("待更正数据汇聚")

    load_rows(people, [{**ROWS[0], "xm": "张三"}], actor=city.police_officer)
    police.goto(f"/corrections/{ticket.pk}/")
    police.get_by_label("更正说明").fill("已在户籍系统更正并重新汇聚")
    police.get_by_role("button", name="确认已更正").click()
    expect(police.locator("#ticket-status")).to_contain_text("已办结")

    # The consumer sees the outcome.
    civil.goto(f"/corrections/{ticket.pk}/")
    expect(civil.locator("#ticket-status")).to_contain_text("已办结")
    expect(civil.locator("#ticket-status")).to_contain_text("已更正")
    expect(civil.locator("#outcome")).to_contain_text("已在户籍系统更正并重新汇聚")
