"""Conditional open applications (issue #7): apply, reply deadline per profile, extension by the head,
refusal with reasons and basis, data-use agreement, access within the period, revocation
(R-OPEN-08, R-OPEN-09, R-OPEN-15)."""

import datetime as dt
import hashlib
import re

import pytest
from django.test import Client
from django.utils import timezone
from tests.test_opendata_downloads import citizen

from govshare.audit.models import AuditEvent
from govshare.calendar.policy import work_calendar
from govshare.notifications.models import Notification
from govshare.opendata import applications, services
from govshare.opendata.models import (
    ApplicationStatus,
    Download,
    IdentityStatus,
    OpenApplication,
    OpenDataset,
    PublicProfile,
    ReplyExtension,
)
from govshare.orgs.models import Role
from govshare.supervision.models import Obligation

pytestmark = pytest.mark.django_db

ENTERPRISE_RULES = {"tyshxydm": "plain", "qymc": "plain", "fddbr": "keep:1:0", "clrq": "plain"}
JSON_ACCEPT = {"Accept": "application/json"}
SR_ARTICLE = "饶智组办发〔2020〕1号 第二十二条"
NX_ARTICLE = "《内乡县政务信息资源数据共享管理实施办法》第四十六条"
CZ_ARTICLE = "郴政发〔2022〕2号 第二十七条"


@pytest.fixture(autouse=True)
def media(media):  # every test here writes files: into the throwaway directory
    return media


@pytest.fixture
def dataset(city, published):
    """The market department's 企业年报信息, opened as a conditional dataset."""
    resource = published(
        name="企业年报信息",
        open_type="conditional",
        open_condition="仅限科研和公益用途",
        legal_basis="《企业信息公示暂行条例》第八条",
    )
    ds = services.review_and_open(
        city.market_officer, resource, domain="enterprise", rules=ENTERPRISE_RULES, conclusion="可以开放"
    )
    ds.refresh_from_db()
    assert ds.open_type == "conditional" and ds.current is not None
    return ds


@pytest.fixture
def head(city):
    return city.person("market_head", city.market, Role.HEAD, full_name="市场监管局局长")


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def today() -> dt.date:
    return timezone.localdate()


def form(**overrides) -> dict:
    data = {
        "purpose": "企业经营状况统计研究（某大学课题），成果以汇总统计图表发表",
        "use_from": today().isoformat(),
        "use_until": (today() + dt.timedelta(days=90)).isoformat(),
        "security_measures": "数据存放于单位内网服务器，仅课题组 3 人经授权访问，期满删除",
        "organization": "某大学经济学院",
        "contact_name": "张三丰",
        "contact_phone": "13800000000",
        "contact_email": "zhang@example.edu.cn",
    }
    data.update(overrides)
    return data


def apply(c: Client, ds: OpenDataset, **overrides):
    return c.post(f"/open/datasets/{ds.name}/apply/", form(**overrides))


def applied(c: Client, ds: OpenDataset, **overrides) -> OpenApplication:
    r = apply(c, ds, **overrides)
    assert r.status_code == 302, r.content.decode()
    app = OpenApplication.objects.order_by("-id").first()
    assert r["Location"] == f"/open/account/applications/{app.pk}/"
    return app


def download(c: Client, ds: OpenDataset, fmt="csv"):
    return c.get(f"/open/datasets/{ds.name}/download/{ds.current.number}.{fmt}", headers=JSON_ACCEPT)


def refused(response, code: str, status: int = 403) -> dict:
    assert response.status_code == status, response.content
    got = response.json()
    assert got["code"] == code and got["message"], got
    return got


def reply_duty(app: OpenApplication) -> Obligation:
    return Obligation.objects.get(subject_type="opendata.openapplication", subject_id=str(app.pk))


def row(html: str, table_id: str, needle: str) -> str:
    """The table row of one application, so an assertion cannot be met by another row."""
    start = html.index(f'id="{table_id}"')
    table = html[start : html.index("</table>", start)]
    for tr in table.split("<tr")[1:]:
        if needle in tr:
            return tr
    raise AssertionError(f"{needle} not in table {table_id}")


def section(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    end = html.find('id="', start + 10)
    return html[start : end if end > 0 else len(html)]


def box(html: str) -> str:
    """The application part of a conditional dataset's page (it holds links with ids of their own)."""
    start = html.index('id="application-box"')
    return html[start : html.index('id="items"', start)]


def codes(response) -> list[str]:
    return re.findall(r'data-code="([a-z_]+)"', response.content.decode())


# ---------------------------------------------------------------- per profile


def test_shangrao_reply_in_20_working_days_refusal_needs_reasons_and_basis(city, dataset, settings):
    # R-OPEN-08 (SR 22): 20 wd with the article; a refusal gives reasons and the legal/policy basis.
    settings.GOVSHARE_PROFILE = "shangrao"
    c, user = citizen()
    refused(download(c, dataset), "application_required")
    app = applied(c, dataset)
    assert app.status == ApplicationStatus.PENDING and app.number.startswith("KF-")
    duty = reply_duty(app)
    assert duty.department == city.market and duty.requirement == "R-OPEN-08"
    assert duty.due_on == work_calendar().add_working_days(today(), 20).due
    assert duty.article == SR_ARTICLE
    assert Notification.objects.filter(department=city.market, kind="open.application_submitted").exists()
    got = refused(download(c, dataset), "application_pending")
    assert app.number in got["message"]

    officer = login(city.market_officer)
    inbox = officer.get("/open/manage/applications/")
    assert inbox.status_code == 200
    line = row(inbox.content.decode(), "applications-inbox", app.number)
    assert f"截止 {duty.due_on:%Y-%m-%d}" in line and SR_ARTICLE in line

    # SR has no extension.
    r = officer.post(f"/open/manage/applications/{app.pk}/extend/", {"working_days": "5", "reason": "需会商"})
    assert r.status_code == 409 and "not_extendable" in codes(r)

    r = officer.post(f"/open/manage/applications/{app.pk}/refuse/", {"reason": "", "basis": ""})
    assert r.status_code == 422 and set(codes(r)) == {"required"}
    page = r.content.decode()
    assert "不同意开放须说明理由" in page and f"不同意开放须说明法律政策依据（{SR_ARTICLE}）" in page
    r = officer.post(f"/open/manage/applications/{app.pk}/refuse/", {"reason": "涉及商业秘密", "basis": ""})
    assert r.status_code == 422 and "法律政策依据" in r.content.decode()
    app.refresh_from_db()
    assert app.status == ApplicationStatus.PENDING
    r = officer.post(
        f"/open/manage/applications/{app.pk}/refuse/",
        {"reason": "申请数据含企业经营信息，涉及商业秘密", "basis": "《中华人民共和国反不正当竞争法》第九条"},
    )
    assert r.status_code == 302
    app.refresh_from_db()
    assert app.status == ApplicationStatus.REFUSED and app.refusal_basis.startswith(
        "《中华人民共和国反不正当竞争法》"
    )
    assert reply_duty(app).status == "fulfilled"
    got = refused(download(c, dataset), "application_refused")
    assert got["detail"]["reason"] == "申请数据含企业经营信息，涉及商业秘密"
    mine = c.get(f"/open/account/applications/{app.pk}/").content.decode()
    assert "涉及商业秘密" in section(mine, "refusal-reason") and "反不正当竞争法" in mine
    assert Notification.objects.filter(user=user, kind="open.application_refused").exists()
    assert AuditEvent.objects.filter(action="open.application.refuse", case_id=app.number).exists()


def test_neixiang_extension_by_the_head_at_most_10_working_days(city, dataset, head, settings):
    # R-OPEN-08 (NX 46): 10 wd, extendable with the principal head's approval by at most 10 wd in all.
    settings.GOVSHARE_PROFILE = "neixiang"
    c, user = citizen()
    app = applied(c, dataset)
    duty = reply_duty(app)
    first_due = work_calendar().add_working_days(today(), 10).due
    assert duty.due_on == first_due and duty.article == NX_ARTICLE
    assert duty.extension_approver_role == Role.HEAD

    officer = login(city.market_officer)
    url = f"/open/manage/applications/{app.pk}/"
    r = officer.post(url + "extend/", {"working_days": "11", "reason": "需征求法律顾问意见"})
    assert r.status_code == 422 and "extension_exceeds_limit" in codes(r)
    assert "延期累计不得超过 10 个工作日" in r.content.decode()
    assert (
        officer.post(url + "extend/", {"working_days": "6", "reason": "需征求法律顾问意见"}).status_code
        == 302
    )
    ext = ReplyExtension.objects.get(application=app)
    assert ext.status == "pending"

    # The officer cannot approve the extension: only the department's principal head can.
    r = officer.post(url + f"extensions/{ext.pk}/approve/", {"note": ""})
    assert r.status_code == 403
    boss = login(head)
    waiting = boss.get("/open/manage/applications/").content.decode()
    assert app.number in section(waiting, "extensions-to-approve")
    page = boss.get(url).content.decode()
    assert 'id="extension-decide"' in page and "提供部门主要负责人" in page
    assert boss.post(url + f"extensions/{ext.pk}/approve/", {"note": "同意"}).status_code == 302
    duty.refresh_from_db()
    second_due = work_calendar().add_working_days(first_due, 6).due
    assert duty.due_on == second_due
    # decided once: approving again does not extend twice, refusing now is refused too
    for action, note in (("approve", "同意"), ("refuse", "不同意")):
        r = boss.post(url + f"extensions/{ext.pk}/{action}/", {"note": note})
        assert r.status_code == 409 and codes(r) == ["extension_decided"]
    duty.refresh_from_db()
    assert duty.due_on == second_due
    assert Notification.objects.filter(user=user, kind="open.reply_extended").exists()
    assert f"{second_due:%Y-%m-%d}" in c.get(f"/open/account/applications/{app.pk}/").content.decode()

    # 6 + 5 > 10: refused at the request; 6 + 4 = 10 is the ceiling.
    r = officer.post(url + "extend/", {"working_days": "5", "reason": "再延"})
    assert r.status_code == 422 and "extension_exceeds_limit" in codes(r)
    assert officer.post(url + "extend/", {"working_days": "4", "reason": "再延"}).status_code == 302
    ext2 = ReplyExtension.objects.filter(application=app, status="pending").get()
    # a refusal says why; a refused request extends nothing, and the provider may ask again
    r = boss.post(url + f"extensions/{ext2.pk}/refuse/", {"note": " "})
    assert r.status_code == 422 and codes(r) == ["required"]
    assert boss.post(url + f"extensions/{ext2.pk}/refuse/", {"note": "理由不充分"}).status_code == 302
    ext2.refresh_from_db()
    assert (ext2.status, ext2.decided_by_id, ext2.decision_note) == ("refused", head.pk, "理由不充分")
    assert Notification.objects.filter(kind="open.extension_refused").exists()
    duty.refresh_from_db()
    assert duty.due_on == second_due
    assert officer.post(url + "extend/", {"working_days": "4", "reason": "再延"}).status_code == 302
    ext2 = ReplyExtension.objects.filter(application=app, status="pending").get()
    assert boss.post(url + f"extensions/{ext2.pk}/approve/", {}).status_code == 302
    duty.refresh_from_db()
    assert duty.due_on == work_calendar().add_working_days(second_due, 4).due
    r = officer.post(url + "extend/", {"working_days": "1", "reason": "再延"})
    assert r.status_code == 422 and "extension_exceeds_limit" in codes(r)

    # A refusal needs reasons and basis in NX too.
    r = officer.post(url + "refuse/", {"reason": "数据质量正在核查", "basis": ""})
    assert r.status_code == 422
    assert officer.post(url + "approve/", {"conditions": ""}).status_code == 302
    app.refresh_from_db()
    assert app.status == ApplicationStatus.APPROVED and not hasattr(app, "agreement")  # NX: no agreement
    assert download(c, dataset).status_code == 200


def test_chenzhou_no_deadline_and_an_accepted_use_agreement(city, dataset, settings):
    # R-OPEN-08 (CZ 27: purpose, period, security measures; no reply period), R-OPEN-09, R-OPEN-15.
    settings.GOVSHARE_PROFILE = "chenzhou"
    c, user = citizen()
    r = apply(c, dataset, security_measures="")
    assert r.status_code == 422 and "请说明数据安全保障措施" in r.content.decode()
    r = apply(c, dataset, purpose="", use_until="")
    assert r.status_code == 422 and {"required"} == set(codes(r))
    assert not OpenApplication.objects.exists()
    app = applied(c, dataset)
    duty = reply_duty(app)
    assert duty.due_on is None and duty.article == CZ_ARTICLE
    officer = login(city.market_officer)
    line = row(officer.get("/open/manage/applications/").content.decode(), "applications-inbox", app.number)
    assert "本地办法未规定答复时限" in line and CZ_ARTICLE in line

    r = officer.post(
        f"/open/manage/applications/{app.pk}/approve/", {"conditions": "成果发表前报提供部门备案"}
    )
    assert r.status_code == 302
    app.refresh_from_db()
    assert app.status == ApplicationStatus.AGREEMENT and reply_duty(app).status == "fulfilled"
    agreement = app.agreement
    for part in (
        dataset.title,
        app.purpose,
        app.security_measures,
        f"{app.use_from:%Y-%m-%d} 至 {app.use_until:%Y-%m-%d}",
        "成果发表前报提供部门备案",
        "不得擅自转让",
        "不得擅自改变用途",
        CZ_ARTICLE,
    ):
        assert part in agreement.text, part
    assert agreement.sha256 == hashlib.sha256(agreement.text.encode()).hexdigest()
    got = refused(download(c, dataset), "agreement_not_accepted")
    assert "数据利用协议" in got["message"]

    mine = c.get(f"/open/account/applications/{app.pk}/").content.decode()
    assert "不得擅自转让" in section(mine, "agreement-text") and agreement.sha256 in mine
    accept = f"/open/account/applications/{app.pk}/agreement/"
    r = c.post(accept, {"sha256": "0" * 64, "agree": "1"})
    assert r.status_code == 409 and "agreement_changed" in codes(r)
    r = c.post(accept, {"sha256": agreement.sha256})
    assert r.status_code == 422
    refused(download(c, dataset), "agreement_not_accepted")
    assert c.post(accept, {"sha256": agreement.sha256, "agree": "1"}).status_code == 302
    agreement.refresh_from_db()
    app.refresh_from_db()
    assert agreement.accepted_by == user and agreement.accepted_at is not None
    assert app.status == ApplicationStatus.APPROVED
    event = AuditEvent.objects.get(action="open.agreement.accept")
    assert event.actor == user.username and event.detail["sha256"] == agreement.sha256
    r = c.get(f"/open/datasets/{dataset.name}/download/{dataset.current.number}.csv")
    assert r.status_code == 200
    assert Download.objects.filter(user=user, dataset=dataset).count() == 1
    # Accepting twice is not a transition.
    r = c.post(accept, {"sha256": agreement.sha256, "agree": "1"})
    assert r.status_code == 409 and "agreement_not_pending" in codes(r)


# ---------------------------------------------------------------- access


def test_download_only_inside_the_period_of_use(city, dataset, settings):  # R-OPEN-08
    settings.GOVSHARE_PROFILE = "shangrao"
    c, _ = citizen()
    longest = applications.max_use_days()
    r = apply(c, dataset, use_until=(today() + dt.timedelta(days=longest)).isoformat())
    assert r.status_code == 422 and "period_too_long" in codes(r)
    r = apply(c, dataset, use_from=(today() - dt.timedelta(days=1)).isoformat())
    assert r.status_code == 422 and "in_past" in codes(r)
    start, end = today() + dt.timedelta(days=3), today() + dt.timedelta(days=10)
    app = applied(c, dataset, use_from=start.isoformat(), use_until=end.isoformat())
    assert login(city.market_officer).post(f"/open/manage/applications/{app.pk}/approve/").status_code == 302
    got = refused(download(c, dataset), "application_not_started")
    assert f"{start:%Y-%m-%d}" in got["message"]
    assert "/download/" not in box(c.get(f"/open/datasets/{dataset.name}/").content.decode())

    # Time passes: the period has begun (shift the dates instead of the clock).
    OpenApplication.objects.filter(pk=app.pk).update(
        use_from=today() - dt.timedelta(days=5), use_until=today()
    )
    assert download(c, dataset).status_code == 200
    page = c.get(f"/open/datasets/{dataset.name}/").content.decode()
    assert f"/open/datasets/{dataset.name}/download/{dataset.current.number}.csv" in box(page)
    # ... and ended yesterday.
    OpenApplication.objects.filter(pk=app.pk).update(use_until=today() - dt.timedelta(days=1))
    got = refused(download(c, dataset), "application_expired")
    assert "届满" in got["message"]
    html = c.get(f"/open/datasets/{dataset.name}/download/{dataset.current.number}.csv").content.decode()
    assert "application_expired" in html and f"/open/datasets/{dataset.name}/apply/" in html
    # An expired approval does not block a new application.
    assert apply(c, dataset).status_code == 302


def test_provider_revokes_access_with_a_reason(city, dataset, settings):  # R-OPEN-15
    settings.GOVSHARE_PROFILE = "shangrao"
    c, user = citizen()
    app = applied(c, dataset)
    officer = login(city.market_officer)
    assert officer.post(f"/open/manage/applications/{app.pk}/approve/").status_code == 302
    assert download(c, dataset).status_code == 200
    r = officer.post(f"/open/manage/applications/{app.pk}/revoke/", {"reason": ""})
    assert r.status_code == 422
    assert download(c, dataset).status_code == 200
    r = officer.post(f"/open/manage/applications/{app.pk}/revoke/", {"reason": "发现其将数据转让给第三方"})
    assert r.status_code == 302
    got = refused(download(c, dataset), "application_revoked")
    assert got["detail"]["reason"] == "发现其将数据转让给第三方"
    assert Notification.objects.filter(user=user, kind="open.application_revoked").exists()
    event = AuditEvent.objects.filter(action="open.download", result="denied").order_by("-seq").first()
    assert event.detail["reason"] == "application_revoked"
    assert "发现其将数据转让给第三方" in c.get(f"/open/account/applications/{app.pk}/").content.decode()


def test_illegal_transitions_answer_409(city, dataset, settings):  # R-OPEN-08
    settings.GOVSHARE_PROFILE = "shangrao"
    c, _ = citizen()
    officer = login(city.market_officer)
    app = applied(c, dataset)
    url = f"/open/manage/applications/{app.pk}/"
    assert officer.post(url + "revoke/", {"reason": "违规"}).status_code == 409  # nothing granted yet
    assert c.post(f"/open/account/applications/{app.pk}/agreement/", {"agree": "1"}).status_code == 409
    assert officer.post(url + "approve/").status_code == 302
    r = officer.post(url + "approve/")
    assert r.status_code == 409 and "illegal_transition" in codes(r)
    assert officer.post(url + "refuse/", {"reason": "x", "basis": "y"}).status_code == 409
    assert c.post(f"/open/account/applications/{app.pk}/withdraw/").status_code == 409
    # A second application while one is granted is not taken: the page leads to the existing one.
    r = apply(c, dataset)
    assert r.status_code == 302 and r["Location"] == f"/open/account/applications/{app.pk}/"
    assert OpenApplication.objects.count() == 1

    app2 = OpenApplication.objects.create(
        number="KF-TEST-2",
        dataset=dataset,
        provider=dataset.provider,
        applicant=app.applicant,
        status=ApplicationStatus.PENDING,
        use_from=today(),
        use_until=today(),
        contact_name="张三丰",
        contact_phone="1",
        submitted_at=timezone.now(),
    )
    assert c.post(f"/open/account/applications/{app2.pk}/withdraw/").status_code == 302
    assert officer.post(f"/open/manage/applications/{app2.pk}/approve/").status_code == 409


def test_someone_elses_application_is_not_found(city, dataset, settings):  # R-OPEN-08, R-SEC-03
    settings.GOVSHARE_PROFILE = "chenzhou"
    c, _ = citizen(username="zhangsan")
    other, _ = citizen(username="lisi")
    app = applied(c, dataset)
    officer = login(city.market_officer)
    assert officer.post(f"/open/manage/applications/{app.pk}/approve/").status_code == 302
    mine = f"/open/account/applications/{app.pk}/"
    assert other.get(mine).status_code == 404
    sha = OpenApplication.objects.get(pk=app.pk).agreement.sha256
    assert other.post(mine + "agreement/", {"sha256": sha, "agree": "1"}).status_code == 404
    assert other.post(mine + "withdraw/").status_code == 404
    assert app.number not in other.get("/open/account/").content.decode()
    assert app.number in section(c.get("/open/account/").content.decode(), "my-applications")
    assert c.post(mine + "agreement/", {"sha256": sha, "agree": "1"}).status_code == 302
    assert download(c, dataset).status_code == 200
    refused(download(other, dataset), "application_required")  # another's approval is not theirs

    # Officers of another department do not see it; someone with no provider role gets no inbox.
    assert login(city.police_officer).get(f"/open/manage/applications/{app.pk}/").status_code == 404
    assert (
        login(city.police_officer)
        .post(f"/open/manage/applications/{app.pk}/revoke/", {"reason": "x"})
        .status_code
        == 404
    )
    assert login(city.civil_officer).get("/open/manage/applications/").status_code == 403
    assert other.get(f"/open/manage/applications/{app.pk}/").status_code == 403


# ---------------------------------------------------------------- pages


def test_dataset_page_leads_to_the_application_form(city, dataset, published, settings):  # R-OPEN-08
    settings.GOVSHARE_PROFILE = "neixiang"
    html = Client().get(f"/open/datasets/{dataset.name}/").content.decode()
    box_html = box(html)
    assert "申请使用" in box_html and f"/login/?next=/open/datasets/{dataset.name}/apply/" in box_html
    assert "在线申请功能尚在建设中" not in html

    # An unverified account is sent to the identity check, then to the terms, before the form.
    c, user = citizen(verified=False, terms=False)
    r = c.get(f"/open/datasets/{dataset.name}/apply/")
    assert r.status_code == 302 and r["Location"].startswith("/open/account/identity/?next=")
    PublicProfile.objects.filter(user=user).update(identity_status=IdentityStatus.VERIFIED)
    r = c.get(f"/open/datasets/{dataset.name}/apply/")
    assert r.status_code == 302 and r["Location"].startswith("/open/terms/?next=")
    from govshare.opendata import identity

    identity.accept_terms(user, identity.TERMS_VERSION)
    page = c.get(f"/open/datasets/{dataset.name}/")
    assert f'href="/open/datasets/{dataset.name}/apply/"' in box(page.content.decode())
    r = c.get(f"/open/datasets/{dataset.name}/apply/")
    text = r.content.decode()
    assert r.status_code == 200 and 'id="apply-form"' in text
    assert "10 个工作日内答复" in section(text, "reply-deadline") and NX_ARTICLE in text

    # Officers apply through the sharing workflow, not as the public.
    r = login(city.civil_officer).get(f"/open/datasets/{dataset.name}/apply/")
    assert r.status_code == 403 and "公众账号" in r.content.decode()
    # An unconditional dataset needs no application.
    licences = published(name="企业营业执照信息")
    plain = services.review_and_open(
        city.market_officer, licences, domain="enterprise", rules=ENTERPRISE_RULES, conclusion="可以"
    )
    r = c.post(f"/open/datasets/{plain.name}/apply/", form())
    assert r.status_code == 409 and "application_not_needed" in codes(r)
    assert 'id="application-box"' not in c.get(f"/open/datasets/{plain.name}/").content.decode()

    app = applied(c, dataset)
    mine = box(c.get(f"/open/datasets/{dataset.name}/").content.decode())
    assert app.number in mine and "待答复" in mine and "apply/" not in mine


def test_inbox_lists_pending_applications_by_due_date(city, dataset, settings):  # R-OPEN-08
    # Filed under three profiles: none (CZ), 20 wd (SR), 10 wd (NX); the soonest first, none last.
    made = {}
    for username, profile in (("cz", "chenzhou"), ("sr", "shangrao"), ("nx", "neixiang")):
        settings.GOVSHARE_PROFILE = profile
        c, _ = citizen(username=username)
        made[profile] = applied(c, dataset)
    html = login(city.market_officer).get("/open/manage/applications/").content.decode()
    table = html[html.index('id="applications-inbox"') :]
    positions = [table.index(made[p].number) for p in ("neixiang", "shangrao", "chenzhou")]
    assert positions == sorted(positions)
    assert NX_ARTICLE in row(html, "applications-inbox", made["neixiang"].number)
    assert "本地办法未规定答复时限" in row(html, "applications-inbox", made["chenzhou"].number)
