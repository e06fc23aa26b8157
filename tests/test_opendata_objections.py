"""Objections (CZ 28), open-catalog correction requests (NX 45) and feedback on open data (issue #7)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from tests.test_collect_load import A, B
from tests.test_opendata_downloads import JSON_ACCEPT, citizen, refusal, url

from govshare.audit.models import AuditEvent
from govshare.calendar.policy import active_profile, work_calendar
from govshare.collect.services import load_rows
from govshare.errors import DomainError, IllegalTransition, PermissionDenied, ValidationFailed
from govshare.notifications.models import Notification
from govshare.opendata import objections, services
from govshare.opendata.models import (
    CatalogCorrection,
    CorrectionStatus,
    DatasetStatus,
    Feedback,
    Objection,
    ObjectionStatus,
    OpenDataset,
)
from govshare.orgs.models import Role
from govshare.supervision.models import Obligation, ObligationStatus

pytestmark = pytest.mark.django_db

RULES = {"sfzh": "hash", "xm": "keep:1:0", "xb": "plain", "csrq": "year", "sjhm": "suppress"}
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"


@pytest.fixture(autouse=True)
def media(media):  # every test here writes files: into the throwaway directory
    return media


@pytest.fixture
def dataset(city, people, settings):
    settings.GOVSHARE_PROFILE = "chenzhou"
    load_rows(
        people,
        [
            {"sfzh": A, "xm": "张三丰", "xb": "男", "csrq": "1980-01-01", "sjhm": "13812345678"},
            {"sfzh": B, "xm": "李四", "xb": "女", "csrq": "1990-02-15", "sjhm": "13912345678"},
        ],
        actor=city.police_officer,
    )
    ds = services.review_and_open(
        city.police_officer, people, domain="statistics", rules=RULES, conclusion="经保密审查，可以开放"
    )
    ds.refresh_from_db()
    return ds


def proof(name="证明.pdf", data=PDF):
    return SimpleUploadedFile(name, data, content_type="application/pdf")


def lodge(user, ds, reason="部分记录的出生年份有误，涉及本人信息", **kw):
    kw.setdefault("evidence", [proof()])
    return objections.lodge_objection(user, ds, reason=reason, **kw)


def officer_client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def notices(user, kind):
    return list(Notification.objects.filter(user=user, kind=kind))


# ---------------------------------------------------------------- objections (R-OPEN-11, CZ 28)


def test_objection_through_the_page_suspends_the_dataset_at_once(city, dataset):  # R-OPEN-11
    c, user = citizen()
    page = c.get(f"/open/datasets/{dataset.name}/").content.decode()
    assert f'href="/open/datasets/{dataset.name}/objection/"' in page
    r = c.post(
        f"/open/datasets/{dataset.name}/objection/",
        {"reason": "数据含可识别的本人信息", "version": "1", "items": ["xm"], "evidence": [proof()]},
    )
    assert r.status_code == 302 and r["Location"] == f"/open/datasets/{dataset.name}/"
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.SUSPENDED and "收到异议" in dataset.status_reason
    objection = Objection.objects.get(dataset=dataset)
    assert (objection.objector, objection.version.number, objection.items) == (user, 1, ["xm"])
    assert objection.evidence.get().name == "证明.pdf"

    # The page says why, with no preview and no download links; downloads and the API refuse.
    html = Client().get(f"/open/datasets/{dataset.name}/").content.decode()
    assert "已中止开放" in html and "收到异议" in html
    assert 'id="preview"' not in html and "张**" not in html and "/download/1.csv" not in html
    got = refusal(c.get(url(dataset), headers=JSON_ACCEPT), 403, "dataset_suspended")
    assert got["message"] == "该数据集因收到异议已中止开放，正在核实"
    ckan = Client().get("/open/api/3/action/package_show", {"id": dataset.name})
    assert ckan.status_code == 404 and ckan.json()["error"]["__type"] == "Not Found Error"

    # The provider is told and must verify: an obligation without a due date under CZ 28's article.
    assert Notification.objects.filter(department=city.police, kind="open.objection_received").exists()
    ob = Obligation.objects.get(duty=objections.DUTY_VERIFY, subject_id=str(dataset.pk))
    param = active_profile().param("objection_suspends_opening")
    assert (ob.department, ob.due_on, ob.article, ob.requirement) == (
        city.police,
        None,
        param.article,
        "R-OPEN-11",
    )
    assert "第二十八条" in ob.article
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"open.objection.lodge", "open.suspend"} <= actions


def test_objection_needs_a_login_a_reason_and_evidence(city, dataset):  # R-OPEN-11
    anon = Client().get(f"/open/datasets/{dataset.name}/objection/")
    assert anon.status_code == 302 and anon["Location"].startswith("/login/")
    c, _ = citizen()
    r = c.post(f"/open/datasets/{dataset.name}/objection/", {"reason": ""})
    assert r.status_code == 422
    text = r.content.decode()
    assert "请说明异议的理由" in text and "提出异议须附证明材料" in text
    r = c.post(
        f"/open/datasets/{dataset.name}/objection/",
        {"reason": "有误", "evidence": [SimpleUploadedFile("x.pdf", b"MZ\x90\x00 not a pdf")]},
    )
    assert r.status_code == 422 and "须为 PDF、图片（PNG、JPEG）或 xlsx/docx 文件" in r.content.decode()
    big = SimpleUploadedFile("big.pdf", PDF + b"0" * (10 * 1024 * 1024))
    with pytest.raises(ValidationFailed) as err:
        lodge(city.civil_officer, dataset, evidence=[big])
    assert err.value.errors[0]["code"] == "file_too_large"
    with pytest.raises(ValidationFailed) as err:
        lodge(city.civil_officer, dataset, items=["sjhm"])  # 手机号码 is not published
    assert err.value.errors[0]["code"] == "unknown_item"
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.OPEN and not Objection.objects.exists()


def test_second_objection_waits_and_withdrawal_settles_both(city, dataset):  # R-OPEN-11
    _, first = citizen(username="zhang")
    lodge(first, dataset)
    lodge(city.civil_officer, dataset, reason="含民政部门未公开的信息")  # an officer may object too
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.SUSPENDED and "共 2 件" in dataset.status_reason
    assert Obligation.objects.filter(duty=objections.DUTY_VERIFY).count() == 1

    c = officer_client(city.police_officer)
    page = c.get(f"/open/manage/objections/{dataset.pk}/")
    assert page.status_code == 200 and "含民政部门未公开的信息" in page.content.decode()
    r = c.post(f"/open/manage/objections/{dataset.pk}/", {"action": "withdraw", "note": ""})
    assert r.status_code == 422
    r = c.post(
        f"/open/manage/objections/{dataset.pk}/",
        {"action": "withdraw", "note": "经核实，数据含未脱敏的个人信息，撤回"},
    )
    assert r.status_code == 302
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.WITHDRAWN
    assert set(Objection.objects.values_list("status", flat=True)) == {ObjectionStatus.WITHDRAWN}
    for who in (first, city.civil_officer):
        told = notices(who, "open.objection_resolved")
        assert len(told) == 1 and "核实后撤回数据集" in told[0].title and "未脱敏" in told[0].body
    assert Obligation.objects.get(duty=objections.DUTY_VERIFY).status == ObligationStatus.FULFILLED
    assert AuditEvent.objects.filter(action="open.objection.resolve").count() == 2
    c2, _ = citizen(username="li")
    refusal(c2.get(url(dataset), headers=JSON_ACCEPT), 410, "dataset_withdrawn")


def test_withdrawal_from_the_review_page_also_settles_objections(city, dataset):  # R-OPEN-11
    _, user = citizen()
    lodge(user, dataset)
    services.withdraw_dataset(city.police_officer, dataset, "不再开放")
    assert Objection.objects.get().status == ObjectionStatus.WITHDRAWN
    assert notices(user, "open.objection_resolved")
    # the objection held, so a later re-review cannot bring the disputed version back by its number
    assert dataset.versions.get(number=1).status == "retracted"
    refusal(Client().get(url(dataset, 1), headers=JSON_ACCEPT), 410, "dataset_withdrawn")
    services.review_and_open(
        city.police_officer, dataset.resource, domain="statistics", rules=RULES, conclusion="再审"
    )
    c2, _ = citizen(username="wang")
    refusal(c2.get(url(dataset, 1), headers=JSON_ACCEPT), 404, "version_not_found")
    assert c2.get(url(dataset, 2)).status_code == 200


def test_restore_needs_the_reason_the_objection_does_not_hold(city, dataset):  # R-OPEN-11
    c, user = citizen()
    lodge(user, dataset)
    with pytest.raises(ValidationFailed):
        objections.restore(city.police_officer, dataset, "  ")
    objections.restore(city.police_officer, dataset, "经核实，出生年份与户籍登记一致，异议不成立")
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.OPEN and dataset.status_reason == ""
    assert dataset.current.number == 1  # restored as it was
    html = Client().get(f"/open/datasets/{dataset.name}/").content.decode()
    assert 'id="preview"' in html and 'id="dataset-status"' not in html
    told = notices(user, "open.objection_resolved")
    assert "异议不成立" in told[0].title and "户籍登记一致" in told[0].body
    account = c.get("/open/account/").content.decode()
    assert "异议不成立，已恢复开放" in account and "户籍登记一致" in account


def test_reprocess_reviews_again_and_publishes_the_next_version(city, dataset):  # R-OPEN-11, R-OPEN-06
    _, user = citizen()
    lodge(user, dataset)
    with pytest.raises(IllegalTransition) as err:  # a plain re-review may not lift the suspension
        services.review_and_open(
            city.police_officer, dataset.resource, domain="statistics", rules=RULES, conclusion="再审"
        )
    assert err.value.code == "dataset_suspended" and err.value.status == 409

    c = officer_client(city.police_officer)
    post = {
        "action": "reopen",
        "note": "姓名改为不开放后重新开放",
        "domain": "statistics",
        "reviewed_on": timezone.localdate().isoformat(),
        "conclusion": "经重新审查，删除姓名列",
        "rule-sfzh": "hash",
        "rule-xm": "suppress",
        "rule-xb": "plain",
        "rule-csrq": "year",
        "rule-sjhm": "suppress",
    }
    r = c.post(f"/open/manage/objections/{dataset.pk}/", post | {"note": "", "rule-xm": ""})
    assert r.status_code == 422
    text = r.content.decode()
    assert "请说明对数据所作的处理" in text and "请为信息项“姓名”设置去标识化规则" in text
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.SUSPENDED and dataset.versions.count() == 1

    r = c.post(f"/open/manage/objections/{dataset.pk}/", post)
    assert r.status_code == 302, r.content.decode()
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.OPEN and dataset.current.number == 2
    assert [i["code"] for i in dataset.current.items] == ["sfzh", "xb", "csrq"]
    assert dataset.reviews.order_by("-id").first().conclusion == "经重新审查，删除姓名列"
    objection = Objection.objects.get()
    assert (objection.status, objection.reopened_version.number) == (ObjectionStatus.REOPENED, 2)
    assert "处理后重新开放" in notices(user, "open.objection_resolved")[0].title
    # the disputed version 1 (with names) is retracted: listed as the record, no longer downloadable
    assert dataset.versions.get(number=1).status == "retracted"
    c_user, _ = citizen(username="lisi")
    refusal(c_user.get(url(dataset, 1), headers=JSON_ACCEPT), 404, "version_not_found")
    assert c_user.get(url(dataset, 2)).status_code == 200
    page = Client().get(f"/open/datasets/{dataset.name}/").content.decode()
    assert "已撤回（异议处理）" in page and f"/open/datasets/{dataset.name}/download/1.csv" not in page


def test_findings_only_while_an_objection_waits(city, dataset):  # R-OPEN-11
    with pytest.raises(IllegalTransition) as err:
        objections.restore(city.police_officer, dataset, "无")
    assert (err.value.code, err.value.status) == ("no_pending_objection", 409)
    c = officer_client(city.police_officer)
    r = c.post(f"/open/manage/objections/{dataset.pk}/", {"action": "restore", "note": "无"})
    assert r.status_code == 409
    _, user = citizen()
    lodge(user, dataset)
    with pytest.raises(PermissionDenied):  # another department's officer
        objections.withdraw(city.market_officer, dataset, "撤回")
    assert (
        officer_client(city.market_officer).get(f"/open/manage/objections/{dataset.pk}/").status_code == 404
    )
    objections.withdraw(city.police_officer, dataset, "撤回")
    with pytest.raises(IllegalTransition):
        objections.withdraw(city.police_officer, dataset, "再次撤回")
    with pytest.raises(IllegalTransition) as err:
        lodge(user, dataset)
    assert err.value.code == "dataset_withdrawn" and err.value.status == 409


def test_evidence_goes_to_the_objector_and_the_provider_only(city, dataset):  # R-OPEN-11
    c, user = citizen()
    objection = lodge(user, dataset)
    ev = objection.evidence.get()
    path = f"/open/objections/{objection.pk}/evidence/{ev.pk}/"
    assert b"".join(c.get(path).streaming_content) == PDF
    assert officer_client(city.police_officer).get(path).status_code == 200
    other, _ = citizen(username="other")
    assert other.get(path).status_code == 404
    assert AuditEvent.objects.filter(action="open.objection.evidence_download").count() == 2


# ---------------------------------------------------------------- open-catalog corrections (R-OPEN-10, NX 45)


@pytest.fixture
def head(city):
    return city.person("police_head", city.police, Role.HEAD, full_name="公安局局长")


def test_nx_reply_within_ten_working_days_and_head_extension(city, dataset, head, settings):  # R-OPEN-10
    settings.GOVSHARE_PROFILE = "neixiang"
    c, user = citizen()
    r = c.post(
        f"/open/datasets/{dataset.name}/correction/",
        {"part": "update_cycle", "requested": "应为每月更新", "reason": "实际按月更新"},
    )
    assert r.status_code == 302
    req = CatalogCorrection.objects.get()
    ob = objections.reply_obligation(req)
    period = active_profile().param("open_catalog_correction_reply_working_days")
    assert period.value == 10 and "第四十五条" in period.article
    assert ob.due_on == work_calendar().add_working_days(ob.started_on, 10).due
    assert (ob.article, ob.department) == (period.article, city.police)
    assert Notification.objects.filter(department=city.police, kind="open.catalog_correction_requested")

    with pytest.raises(PermissionDenied):  # the officer may not approve its own extension
        objections.extend_correction(city.police_officer, req, 5, "需要核对")
    page = officer_client(head).post(
        f"/open/manage/corrections/{req.pk}/",
        {"action": "extend", "working_days": "11", "reason": "需要核对"},
    )
    assert page.status_code == 422 and "不得超过 10 个工作日" in page.content.decode()
    ext = objections.extend_correction(head, req, 6, "需要核对统计口径")
    assert ext.new_due_on == work_calendar().add_working_days(ob.due_on, 6).due
    with pytest.raises(ValidationFailed):
        objections.extend_correction(head, req, 5, "再延")  # 6 + 5 > 10
    objections.extend_correction(head, req, 4, "再延")
    assert "延长至" in notices(user, "open.catalog_correction_extended")[0].title


def test_nx_refusal_needs_reasons_and_their_basis(city, dataset, settings):  # R-OPEN-10
    settings.GOVSHARE_PROFILE = "neixiang"
    c, user = citizen()
    req = objections.request_correction(user, dataset, part="description", requested="应注明统计口径")
    officer = officer_client(city.police_officer)
    r = officer.post(f"/open/manage/corrections/{req.pk}/", {"action": "refuse", "reply": "", "basis": ""})
    assert r.status_code == 422
    text = r.content.decode()
    assert "不予更正须说明理由" in text and "第四十六条" in text  # the article of open_refusal_basis_required
    with pytest.raises(ValidationFailed) as err:
        objections.reply_correction(city.police_officer, req, agree=False, reply="口径已在附件说明")
    assert [e["field"] for e in err.value.errors] == ["basis"]
    objections.reply_correction(
        city.police_officer, req, agree=False, reply="口径已在附件说明", basis="《统计法》第二十五条"
    )
    req.refresh_from_db()
    assert req.status == CorrectionStatus.REFUSED and req.basis == "《统计法》第二十五条"
    assert Obligation.objects.get(duty=objections.DUTY_REPLY).status == ObligationStatus.FULFILLED
    told = notices(user, "open.catalog_correction_replied")[0]
    assert "不予更正" in told.title and "统计法" in told.body
    with pytest.raises(IllegalTransition):
        objections.reply_correction(city.police_officer, req, agree=True)
    assert "口径已在附件说明" in c.get("/open/account/").content.decode()


def test_agreement_is_recorded_and_sent_to_the_catalog_workflow(city, dataset, settings):  # R-OPEN-10
    settings.GOVSHARE_PROFILE = "neixiang"
    _, user = citizen()
    req = objections.request_correction(user, dataset, part="title", requested="户籍人口基本信息（脱敏）")
    objections.reply_correction(city.police_officer, req, agree=True, reply="同意，将修订目录")
    req.refresh_from_db()
    assert req.status == CorrectionStatus.AGREED
    sent = Notification.objects.get(department=city.authority, kind="open.catalog_correction_agreed")
    assert sent.link == f"/catalog/resources/{dataset.resource.code}/"
    page = officer_client(city.police_officer).get(f"/open/manage/corrections/{req.pk}/").content.decode()
    assert f'href="/catalog/resources/{dataset.resource.code}/"' in page and "目录修订流程" in page


def test_profile_without_a_period_tracks_without_deadline(city, dataset, head):  # R-OPEN-10
    assert active_profile().code == "chenzhou"
    _, user = citizen()
    with pytest.raises(ValidationFailed):
        objections.request_correction(user, dataset, part="nope", requested="")
    req = objections.request_correction(user, dataset, part="items", requested="增加“户籍地址”")
    ob = objections.reply_obligation(req)
    assert ob.due_on is None and ob.article == ""
    with pytest.raises(IllegalTransition):
        objections.extend_correction(head, req, 3, "延期")
    with pytest.raises(ValidationFailed):  # reasons are always needed; CZ does not require a basis
        objections.reply_correction(city.police_officer, req, agree=False)
    objections.reply_correction(city.police_officer, req, agree=False, reply="该信息项涉及个人信息，不予开放")
    assert CatalogCorrection.objects.get().status == CorrectionStatus.REFUSED


# ---------------------------------------------------------------- feedback (R-OPEN-12)


def test_anyone_leaves_feedback_and_the_right_party_replies(city, dataset, operator):  # R-OPEN-12
    anon = Client()
    r = anon.post(f"/open/datasets/{dataset.name}/feedback/", {"content": ""})
    assert r.status_code == 422 and "请填写意见建议" in r.content.decode()
    r = anon.post(
        f"/open/datasets/{dataset.name}/feedback/",
        {"content": "希望按区县分列", "name": "王先生", "contact": "13700000000"},
    )
    assert r.status_code == 302
    assert anon.post("/open/feedback/", {"content": "平台检索很好用"}).status_code == 302
    c, user = citizen()
    c.post(f"/open/datasets/{dataset.name}/feedback/", {"content": "希望增加年龄段统计"})
    assert Notification.objects.filter(department=city.police, kind="open.feedback_received").count() == 2
    assert (
        Notification.objects.filter(department=operator.department, kind="open.feedback_received").count()
        == 1
    )

    police = officer_client(city.police_officer)
    listing = police.get("/open/manage/feedback/").content.decode()
    assert "希望按区县分列" in listing and "13700000000" in listing and "平台检索很好用" not in listing
    ops = officer_client(operator)
    assert "平台检索很好用" in ops.get("/open/manage/feedback/").content.decode()

    mine = Feedback.objects.get(user=user)
    with pytest.raises(PermissionDenied):
        objections.reply_feedback(city.market_officer, mine, "答复")
    r = police.post("/open/manage/feedback/", {"feedback": str(mine.pk), "reply": "已纳入下一版本"})
    assert r.status_code == 302
    with pytest.raises(IllegalTransition):
        objections.reply_feedback(city.police_officer, mine, "再答复")
    assert "已纳入下一版本" in notices(user, "open.feedback_replied")[0].body
    assert "已纳入下一版本" in c.get("/open/account/").content.decode()
    portal = Feedback.objects.get(dataset__isnull=True)
    assert (
        police.post("/open/manage/feedback/", {"feedback": str(portal.pk), "reply": "x"}).status_code == 404
    )
    objections.reply_feedback(operator, portal, "谢谢")
    assert AuditEvent.objects.filter(action="open.feedback.leave").count() == 3


def test_summary_counts_feedback_per_month_and_provider(city, dataset, operator):  # R-OPEN-12
    for text in ("意见一", "意见二"):
        objections.leave_feedback(None, dataset=dataset, content=text)
    objections.leave_feedback(None, content="平台意见")
    _, user = citizen()
    lodge(user, dataset)
    assert officer_client(city.police_officer).get("/open/manage/feedback/summary/").status_code == 403
    page = officer_client(city.reviewer).get("/open/manage/feedback/summary/")
    assert page.status_code == 200
    s = page.context["s"]
    month = next(m for m in s["by_month"] if m["n"])
    assert (s["total"], month["n"], s["objections"]) == (3, 3, 1)
    assert {p["provider__name"]: p["n"] for p in s["by_provider"]} == {city.police.name: 2, None: 1}
    assert any(r["dataset__name"] == dataset.name and r["n"] == 2 for r in s["by_dataset_month"])


def test_manage_lists_show_only_the_providers_own(city, dataset):  # R-OPEN-10, R-OPEN-11
    _, user = citizen()
    lodge(user, dataset)
    objections.request_correction(user, dataset, part="title", requested="新名称")
    police = officer_client(city.police_officer)
    assert dataset.title in police.get("/open/manage/objections/").content.decode()
    assert "新名称" in police.get("/open/manage/corrections/").content.decode()
    market = officer_client(city.market_officer)
    assert dataset.title not in market.get("/open/manage/objections/").content.decode()
    assert "新名称" not in market.get("/open/manage/corrections/").content.decode()
    assert officer_client(city.civil_officer).get("/open/manage/objections/").status_code == 403
    assert police.get("/open/manage/").status_code == 200  # the opening pages still answer
    assert police.get(f"/open/manage/{dataset.resource.pk}/review/").status_code == 200


def test_public_accounts_may_not_open_provider_pages(city, dataset):  # R-OPEN-11
    c, _ = citizen()
    assert c.get("/open/manage/objections/").status_code == 403
    with pytest.raises(DomainError):
        objections.lodge_objection(
            type("Anon", (), {"is_authenticated": False})(), dataset, reason="x", evidence=[proof()]
        )
    assert OpenDataset.objects.get(pk=dataset.pk).status == DatasetStatus.OPEN
