"""Public accounts, identity check through the verification gate, terms of use and downloads (issue #7)."""

import csv
import io
import json

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from tests.test_collect_load import A, B
from tests.test_sharing_gate import make_grant

from govshare.audit.models import AuditEvent
from govshare.clients import services as clients
from govshare.collect.services import load_rows
from govshare.opendata import identity, services
from govshare.opendata.models import (
    Download,
    IdentityStatus,
    OpenDataset,
    OpenVersion,
    PublicProfile,
    TermsAcceptance,
)
from govshare.orgs.models import DepartmentKind, Role, User

pytestmark = pytest.mark.django_db

RULES = {"sfzh": "hash", "xm": "keep:1:0", "xb": "plain", "csrq": "year", "sjhm": "suppress"}
PASSWORD = "Kaifang-2026-shuju"
JSON_ACCEPT = {"Accept": "application/json"}


@pytest.fixture(autouse=True)
def media(media):  # every test here writes files: into the throwaway directory
    return media


@pytest.fixture
def population(city, people):
    load_rows(
        people,
        [
            {"sfzh": A, "xm": "张三丰", "xb": "男", "csrq": "1980-01-01", "sjhm": "13812345678"},
            {"sfzh": B, "xm": "李四", "xb": "女", "sjhm": "13912345678"},  # no 出生日期: empty cell
        ],
        actor=city.police_officer,
    )
    return people


@pytest.fixture
def dataset(city, population):
    ds = services.review_and_open(
        city.police_officer,
        population,
        domain="statistics",
        rules=RULES,
        conclusion="经保密审查，不涉及国家秘密；个人信息已去标识化",
    )
    ds.refresh_from_db()
    return ds


@pytest.fixture
def operator_dept(city):
    from tests.conftest import make_uscc

    from govshare.orgs.models import Department

    return Department.objects.create(
        name="郴州市大数据中心",
        uscc=make_uscc(9),
        region=city.region,
        level="city",
        kind=DepartmentKind.OPERATOR,
        platform="郴州市政务数据共享交换平台",
    )


@pytest.fixture
def operator(city, operator_dept):
    return city.person("ops", operator_dept, Role.OPERATOR, Role.CONSUMER, full_name="平台运维专员")


@pytest.fixture
def population_route(settings, city, population, operator):
    """The portal's identity checks go through a client system of the operator, granted 'verify' only."""
    system = clients.register_client(operator, "开放平台身份核验", "open-identity")
    clients.issue_credential(operator, system)
    grant = make_grant(city, population, system, methods=["verify"], items=["sfzh", "xm"])
    settings.GOVSHARE_IDENTITY_RESOURCE = population.code
    settings.GOVSHARE_IDENTITY_CLIENT = "open-identity"
    return grant


def register(client=None, username="zhangsan", full_name="张三丰", **extra):
    client = client or Client()
    data = {
        "username": username,
        "password1": PASSWORD,
        "password2": PASSWORD,
        "full_name": full_name,
        "phone": "",
    } | extra
    r = client.post("/open/register/", data)
    return client, r


def citizen(verified=True, terms=True, username="zhangsan"):
    """A registered, logged-in member of the public, optionally verified (by hand) and with terms accepted."""
    c, r = register(username=username)
    assert r.status_code == 302, r.content.decode()
    user = User.objects.get(username=username)
    if verified:
        PublicProfile.objects.filter(user=user).update(
            identity_status=IdentityStatus.VERIFIED, identity_method="manual"
        )
    if terms:
        identity.accept_terms(user, identity.TERMS_VERSION)
    return c, user


def url(ds, number=1, fmt="csv"):
    return f"/open/datasets/{ds.name}/download/{number}.{fmt}"


def stored_bytes(version: OpenVersion) -> bytes:
    with default_storage.open(version.file.name, "rb") as fh:
        return fh.read()


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def refusal(response, status, code):
    assert response.status_code == status, response.content
    got = response.json()
    assert got["code"] == code and got["message"]
    return got


def nothing_clear(number: str) -> None:
    """The number appears in no opendata table and no audit event (only in the population's own records)."""
    with connection.cursor() as cur:
        for table in ("opendata_publicprofile", "opendata_identityattempt", "audit_auditevent"):
            cur.execute(f"SELECT * FROM {table}")
            assert number not in repr(cur.fetchall()), table


# ---------------------------------------------------------------- accounts


def test_register_makes_a_public_account_kept_off_officer_pages(city):  # R-OPEN-07
    c, r = register(phone="13800000000")
    assert r.status_code == 302 and r["Location"].startswith("/open/account/identity/")
    user = User.objects.get(username="zhangsan")
    assert (user.department, user.full_name, user.phone) == (None, "张三丰", "13800000000")
    assert not user.roles.exists() and user.check_password(PASSWORD)
    assert PublicProfile.objects.get(user=user).identity_status == IdentityStatus.NONE
    assert AuditEvent.objects.filter(action="open.account.register", actor="zhangsan").exists()
    # Logged in by registering; the workspace and officer pages send the account to its portal page.
    assert c.get("/")["Location"] == "/open/account/"
    assert c.get("/catalog/")["Location"] == "/open/account/"
    assert c.get("/sharing/grants/")["Location"] == "/open/account/"
    assert c.get("/api/v1/catalog/resources").json()["code"] == "public_account"
    page = c.get("/open/account/")
    assert page.status_code == 200 and "未认证" in page.content.decode()
    # Logging in again goes to the portal account too.
    c2 = Client()
    r = c2.post("/login/", {"username": "zhangsan", "password": PASSWORD})
    assert r.status_code == 302 and c2.get(r["Location"])["Location"] == "/open/account/"
    # An officer still reaches the workspace.
    officer = Client()
    officer.force_login(city.market_officer)
    assert officer.get("/").status_code == 200


def test_register_checks_passwords_and_names():  # R-OPEN-07
    _, r = register(password2="something-else-2026")
    assert r.status_code == 422 and "两次输入的密码不一致" in r.content.decode()
    _, r = register(password1="12345", password2="12345")
    assert r.status_code == 422 and "密码" in r.content.decode()
    register()
    _, r = register(username="ZhangSan")
    assert r.status_code == 422 and "该用户名已被使用" in r.content.decode()
    _, r = register(username="lisi", full_name="")
    assert r.status_code == 422 and "请填写真实姓名" in r.content.decode()
    assert User.objects.filter(department__isnull=True).count() == 1


# ---------------------------------------------------------------- identity check (NX 46)


def test_identity_matches_through_the_verification_gate(city, population_route):  # R-OPEN-07, R-SHARE-10
    c, user = citizen(verified=False, terms=False)
    r = c.post("/open/account/identity/", {"full_name": "张三丰", "id_number": A.lower()})
    assert r.status_code == 302 and r["Location"].startswith("/open/terms/")
    profile = PublicProfile.objects.get(user=user)
    assert (profile.identity_status, profile.identity_method) == (IdentityStatus.VERIFIED, "population")
    assert profile.id_masked == A[:6] + "********" + A[-4:] and profile.id_hmac == identity.id_hmac(A)
    # The check was one call of the delivery gate, under the operator's grant, with the account's case id.
    call = AuditEvent.objects.get(action="share.verify")
    assert (call.result, call.client_system, call.object_id) == (
        "ok",
        "open-identity",
        str(population_route.pk),
    )
    assert call.case_id == f"open-identity-{profile.pk}" and call.detail["match"] is True
    check = AuditEvent.objects.get(action="open.identity.check")
    assert check.actor == "zhangsan" and check.detail["outcome"] == "verified"
    nothing_clear(A)
    assert A not in c.get("/open/account/").content.decode()


def test_identity_mismatch_fails_and_is_limited_per_day(city, population_route):  # R-OPEN-07
    c, user = citizen(verified=False, terms=False)
    r = c.post("/open/account/identity/", {"full_name": "李四", "id_number": A})
    assert r.status_code == 422 and "姓名与公民身份号码不一致" in r.content.decode()
    profile = PublicProfile.objects.get(user=user)
    assert profile.identity_status == IdentityStatus.FAILED
    assert AuditEvent.objects.get(action="share.verify").detail["match"] is False
    assert AuditEvent.objects.get(action="open.identity.check").result == "denied"
    nothing_clear(A)
    # An invalid number never reaches the gate and is not counted.
    r = c.post("/open/account/identity/", {"full_name": "张三丰", "id_number": A[:-1] + "0"})
    assert r.status_code == 422 and "校验码错误" in r.content.decode()
    assert AuditEvent.objects.filter(action="share.verify").count() == 1
    for _ in range(identity.MAX_ATTEMPTS_PER_DAY - 1):
        c.post("/open/account/identity/", {"full_name": "王五", "id_number": B})
    r = c.post("/open/account/identity/", {"full_name": "李四", "id_number": B})
    assert r.status_code == 429 and "今日身份核验次数已达上限" in r.content.decode()
    assert AuditEvent.objects.filter(action="share.verify").count() == identity.MAX_ATTEMPTS_PER_DAY
    assert PublicProfile.objects.get(user=user).identity_status == IdentityStatus.FAILED


def test_a_number_verifies_one_account_and_is_tried_a_few_times_a_day(city, population_route):  # R-OPEN-07
    c1, _ = citizen(verified=False, terms=False, username="first")
    assert c1.post("/open/account/identity/", {"full_name": "张三丰", "id_number": A}).status_code == 302
    c2, user2 = citizen(verified=False, terms=False, username="second")
    r = c2.post("/open/account/identity/", {"full_name": "张三丰", "id_number": A})
    assert r.status_code == 409 and "已用于另一账号" in r.content.decode()
    assert PublicProfile.objects.get(user=user2).identity_status != IdentityStatus.VERIFIED
    # B tried from many fresh accounts (a name ↔ number lookup) stops at the per-number limit
    for n in range(identity.MAX_ATTEMPTS_PER_DAY):
        c, _ = citizen(verified=False, terms=False, username=f"probe{n}")
        c.post("/open/account/identity/", {"full_name": f"试探{n}", "id_number": B})
    c, _ = citizen(verified=False, terms=False, username="probe-last")
    r = c.post("/open/account/identity/", {"full_name": "李四", "id_number": B})
    assert r.status_code == 429 and "该公民身份号码今日核验次数已达上限" in r.content.decode()
    assert AuditEvent.objects.filter(action="share.verify").count() == 1 + identity.MAX_ATTEMPTS_PER_DAY


def test_a_catalog_entry_no_longer_open_stops_downloads_and_search(city, dataset):  # R-OPEN-02
    from govshare.opendata import selectors

    c, _ = citizen()
    assert c.get(url(dataset)).status_code == 200
    dataset.resource.__class__.objects.filter(pk=dataset.resource_id).update(open_type="none")
    refusal(c.get(url(dataset), headers=JSON_ACCEPT), 410, "dataset_not_open")
    assert selectors.search().count == 0


def test_without_a_grant_an_operator_checks_by_hand(city, population, operator, settings):  # R-OPEN-07
    settings.GOVSHARE_IDENTITY_RESOURCE = population.code
    settings.GOVSHARE_IDENTITY_CLIENT = "open-identity"  # configured, but no such client system holds a grant
    c, user = citizen(verified=False, terms=False)
    r = c.post("/open/account/identity/", {"full_name": "张三丰", "id_number": A})
    assert r.status_code == 302 and r["Location"] == "/open/account/"
    profile = PublicProfile.objects.get(user=user)
    assert profile.identity_status == IdentityStatus.PENDING
    assert not AuditEvent.objects.filter(action="share.verify").exists()
    again = c.post("/open/account/identity/", {"full_name": "张三丰", "id_number": A})
    assert again.status_code == 409 and "已提交人工核验" in again.content.decode()
    # Neither the citizen nor another officer may decide; the operator sees the masked number only.
    assert c.get("/open/manage-identity/").status_code in (302, 403)
    other = Client()
    other.force_login(city.market_officer)
    assert other.get("/open/manage-identity/").status_code == 403
    ops = Client()
    ops.force_login(operator)
    page = ops.get("/open/manage-identity/").content.decode()
    assert profile.id_masked in page and A not in page
    refused = ops.post("/open/manage-identity/", {"profile": profile.pk, "decision": "reject", "note": ""})
    assert refused.status_code == 422 and "不通过时请说明理由" in refused.content.decode()
    r = ops.post(
        "/open/manage-identity/", {"profile": profile.pk, "decision": "confirm", "note": "核对身份证原件一致"}
    )
    assert r.status_code == 302
    profile.refresh_from_db()
    assert (profile.identity_status, profile.identity_method, profile.identity_checked_by) == (
        IdentityStatus.VERIFIED,
        "manual",
        operator,
    )
    event = AuditEvent.objects.get(action="open.identity.confirm")
    assert event.actor == "ops" and event.detail["note"] == "核对身份证原件一致"
    nothing_clear(A)


def test_operator_rejects_with_a_reason(city, operator):  # R-OPEN-07
    c, user = citizen(verified=False, terms=False)
    c.post("/open/account/identity/", {"full_name": "张三丰", "id_number": A})
    profile = PublicProfile.objects.get(user=user)
    identity.decide_identity(operator, profile.pk, confirm=False, note="证件照片与姓名不符")
    profile.refresh_from_db()
    assert profile.identity_status == IdentityStatus.FAILED
    assert "证件照片与姓名不符" in c.get("/open/account/").content.decode()
    assert AuditEvent.objects.filter(action="open.identity.reject", result="ok").exists()


# ---------------------------------------------------------------- terms (R-OPEN-15)


def test_terms_are_accepted_per_account_and_version(monkeypatch):  # R-OPEN-15
    c, user = citizen(terms=False)
    page = c.get("/open/terms/").content.decode()
    assert "不得擅自转让" in page and "不得将数据用于违法目的" in page and identity.TERMS_VERSION in page
    r = c.post("/open/terms/", {"version": identity.TERMS_VERSION})
    assert r.status_code == 422 and not TermsAcceptance.objects.exists()
    r = c.post("/open/terms/", {"version": identity.TERMS_VERSION, "agree": "1", "next": "/open/datasets/"})
    assert r.status_code == 302 and r["Location"] == "/open/datasets/"
    done = TermsAcceptance.objects.get(user=user)
    assert done.version == identity.TERMS_VERSION and done.accepted_at is not None
    assert AuditEvent.objects.filter(action="open.terms.accept", actor=user.username).exists()
    # A new version of the terms asks again; accepting an outdated version is refused.
    monkeypatch.setattr(identity, "TERMS_VERSION", "2099-1")
    assert identity.accepted_terms(user) is None
    r = c.post("/open/terms/", {"version": "2026-1", "agree": "1"})
    assert r.status_code == 422 and "使用条款已更新" in r.content.decode()
    c.post("/open/terms/", {"version": "2099-1", "agree": "1"})
    assert set(TermsAcceptance.objects.values_list("version", flat=True)) == {done.version, "2099-1"}


# ---------------------------------------------------------------- downloads


def test_download_refusals_in_order(city, dataset, settings):  # R-OPEN-07, R-OPEN-11, R-OPEN-15
    anon = Client()
    refusal(anon.get("/open/datasets/r-none/download/1.csv", headers=JSON_ACCEPT), 404, "dataset_not_found")
    refusal(anon.get(url(dataset, fmt="pdf"), headers=JSON_ACCEPT), 404, "dataset_not_found")
    refusal(anon.get(url(dataset, number=9), headers=JSON_ACCEPT), 404, "version_not_found")
    refusal(anon.get(url(dataset), headers=JSON_ACCEPT), 401, "login_required")
    page = anon.get(url(dataset))
    assert page.status_code == 302 and page["Location"].startswith("/login/?next=/open/datasets/")

    c, user = citizen(verified=False, terms=False)
    refusal(c.get(url(dataset), headers=JSON_ACCEPT), 403, "identity_required")
    PublicProfile.objects.filter(user=user).update(identity_status=IdentityStatus.VERIFIED)
    got = refusal(c.get(url(dataset), headers=JSON_ACCEPT), 403, "terms_not_accepted")
    assert got["detail"]["terms_version"] == identity.TERMS_VERSION
    html = c.get(url(dataset))
    assert html.status_code == 403
    text = html.content.decode()
    assert "下载前请阅读并接受《数据使用条款》" in text and "terms_not_accepted" in text
    identity.accept_terms(user, identity.TERMS_VERSION)
    assert c.get(url(dataset)).status_code == 200

    OpenVersion.objects.filter(pk=dataset.current_id).update(xlsx_file="")
    got = refusal(c.get(url(dataset, fmt="xlsx"), headers=JSON_ACCEPT), 404, "xlsx_unavailable")
    assert "请下载 CSV" in got["message"]

    OpenDataset.objects.filter(pk=dataset.pk).update(open_type="conditional")
    got = refusal(c.get(url(dataset), headers=JSON_ACCEPT), 403, "application_required")
    assert "有条件开放数据须经申请同意后获取" in got["message"]

    # An objection suspends the dataset: refused before anything else, also for anonymous callers (CZ 28).
    OpenDataset.objects.filter(pk=dataset.pk).update(status="suspended", status_reason="收到异议：数据有误")
    got = refusal(anon.get(url(dataset), headers=JSON_ACCEPT), 403, "dataset_suspended")
    assert got["message"] == "该数据集因收到异议已中止开放，正在核实"
    denied = AuditEvent.objects.filter(action="open.download", result="denied").order_by("-seq").first()
    assert (denied.detail["dataset"], denied.detail["reason"]) == (dataset.name, "dataset_suspended")
    html = c.get(url(dataset)).content.decode()
    assert "该数据集因收到异议已中止开放，正在核实" in html and "dataset_suspended" in html
    OpenDataset.objects.filter(pk=dataset.pk).update(status="withdrawn")
    refusal(c.get(url(dataset), headers=JSON_ACCEPT), 410, "dataset_withdrawn")
    assert not Download.objects.filter(dataset=dataset).exclude(fmt="csv").exists()
    assert Download.objects.filter(dataset=dataset).count() == 1


def test_identity_requirement_follows_settings_and_profile(city, dataset, settings):  # R-OPEN-07
    settings.GOVSHARE_OPEN_DOWNLOAD_REQUIRES_IDENTITY = False
    settings.GOVSHARE_PROFILE = "chenzhou"  # CZ 26: retrieved directly
    c, _ = citizen(verified=False, terms=True)
    assert c.get(url(dataset)).status_code == 200
    settings.GOVSHARE_PROFILE = "neixiang"  # NX 46: identity authentication first
    refusal(c.get(url(dataset), headers=JSON_ACCEPT), 403, "identity_required")
    refusal(Client().get(url(dataset), headers=JSON_ACCEPT), 401, "login_required")


def test_csv_download_is_the_stored_file_and_audited(city, dataset):  # R-OPEN-05, R-OPEN-07
    c, user = citizen()
    version = dataset.current
    r = c.get(url(dataset))
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert body(r) == stored_bytes(version)
    assert r["Content-Disposition"].startswith("attachment; filename*=utf-8''")
    assert "%E6%88%B7%E7%B1%8D" in r["Content-Disposition"]  # 户籍…, the dataset's title
    assert r["X-Content-SHA256"] == version.sha256
    event = AuditEvent.objects.get(action="open.download")
    assert (event.actor, event.object_id, event.result) == ("zhangsan", str(dataset.pk), "ok")
    assert event.detail == {
        "dataset": dataset.name,
        "version": 1,
        "format": "csv",
        "rows": 2,
        "sha256": version.sha256,
    }
    d = Download.objects.get()
    assert (d.user, d.dataset, d.version, d.fmt, d.rows) == (user, dataset, version, "csv", 2)
    page = c.get("/open/account/").content.decode()
    assert dataset.title in page and "CSV" in page


def test_json_download_equals_the_csv_rows(city, dataset):  # R-OPEN-05
    c, _ = citizen()
    version = dataset.current
    r = c.get(url(dataset, fmt="json"))
    assert r.status_code == 200 and r["Content-Type"].startswith("application/json")
    assert r["Content-Disposition"].endswith(".json")
    got = json.loads(body(r))
    rows = list(csv.reader(io.StringIO(stored_bytes(version).decode("utf-8-sig"))))
    codes = [i["code"] for i in version.items]
    assert (got["dataset"], got["version"]) == (dataset.name, 1)
    assert got["fields"] == [{"code": i["code"], "name": i["name"]} for i in version.items]
    assert [f["name"] for f in got["fields"]] == rows[0]
    expected = [{c: (v or None) for c, v in zip(codes, row, strict=True)} for row in rows[1:]]
    assert got["records"] == expected and len(expected) == 2
    assert any(rec["csrq"] is None for rec in got["records"])  # 李四 has no 出生日期
    assert AuditEvent.objects.get(action="open.download").detail["format"] == "json"


def test_json_stream_spans_batches(city, dataset, monkeypatch):  # R-OPEN-05
    from govshare.opendata import gate

    monkeypatch.setattr(gate, "JSON_BATCH", 1)
    c, _ = citizen()
    got = json.loads(body(c.get(url(dataset, fmt="json"))))
    assert len(got["records"]) == 2


def test_xlsx_download(city, dataset):  # R-OPEN-05
    c, _ = citizen()
    r = c.get(url(dataset, fmt="xlsx"))
    assert r.status_code == 200 and body(r)[:2] == b"PK"
    assert r["Content-Disposition"].endswith(".xlsx")
