"""Client systems and their bearer tokens (DESIGN §6; registry R-COL-14): what an integrator and the
department officers who manage the systems notice — a token shown once and stored hashed, precise 401
reasons, rotation with an overlap, department scoping, the authority's stop button, the audit trail."""

import datetime as dt
import hashlib
import re

import pytest
from django.db import connection
from django.test import Client, RequestFactory
from django.utils import timezone

from govshare.audit import services as audit
from govshare.audit.models import AuditEvent
from govshare.clients import services
from govshare.clients.auth import ClientBearer, TokenRefused, authenticate_token
from govshare.clients.models import ClientStatus, ClientSystem, Credential
from govshare.errors import IllegalTransition, PermissionDenied, ValidationFailed
from govshare.orgs.models import Role

pytestmark = pytest.mark.django_db

API = "/api/v1/clients"
TOKEN_RE = re.compile(r"^gs_([A-Za-z0-9_-]{8})_([A-Za-z0-9_-]{43})$")


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def whoami(token: str):
    return Client().get(f"{API}/whoami", **bearer(token))


@pytest.fixture
def aid(city) -> ClientSystem:
    """民政局's social-assistance system, registered by its data officer."""
    return services.register_client(city.civil_officer, "社会救助信息系统", "civil-aid", "低保审核比对")


@pytest.fixture
def issued(city, aid):
    """A live credential of `aid` and its plaintext token."""
    return services.issue_credential(city.civil_officer, aid, "生产环境")


def all_database_text() -> str:
    """Every row of every table, as text: what someone with a database dump would see."""
    chunks = []
    with connection.cursor() as cur:
        for table in connection.introspection.table_names():
            cur.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks.extend(repr(row) for row in cur.fetchall())
    return "\n".join(chunks)


# --- issuing: shown once, stored hashed -------------------------------------------------------------------


def test_token_is_shown_once_and_only_its_hash_is_stored(city, aid):  # DESIGN §6
    r = login(city.civil_officer).post(
        f"{API}/systems/{aid.pk}/credentials", {"label": "生产环境"}, content_type="application/json"
    )
    assert r.status_code == 201, r.content
    assert r["Cache-Control"] == "no-store"
    body = r.json()
    token = body["token"]
    m = TOKEN_RE.match(token)
    assert m, token
    prefix, secret = m.groups()
    assert body["credential"]["prefix"] == prefix and "只显示这一次" in body["notice"]

    cred = Credential.objects.get(prefix=prefix)
    assert cred.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    dump = all_database_text()
    assert secret not in dump and token not in dump
    assert cred.secret_hash in dump  # the dump really did include the credential row

    detail = login(city.civil_officer).get(f"{API}/systems/{aid.pk}").content.decode()
    assert prefix in detail and secret not in detail


def test_default_validity_and_the_ceiling(city, aid):
    cred, _ = services.issue_credential(city.civil_officer, aid)
    assert cred.expires_at - cred.created_at == dt.timedelta(days=services.DEFAULT_VALID_DAYS)
    short, _ = services.issue_credential(city.civil_officer, aid, valid_days=30)
    assert short.expires_at - short.created_at == dt.timedelta(days=30)
    for bad in (0, -1, services.MAX_VALID_DAYS + 1):
        with pytest.raises(ValidationFailed) as exc:
            services.issue_credential(city.civil_officer, aid, valid_days=bad)
        assert exc.value.errors[0]["field"] == "valid_days"
    r = login(city.civil_officer).post(
        f"{API}/systems/{aid.pk}/credentials", {"valid_days": 3650}, content_type="application/json"
    )
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"


# --- authentication --------------------------------------------------------------------------------------


def test_bearer_token_identifies_the_client_system(city, aid, issued):
    cred, token = issued
    r = whoami(token)
    assert r.status_code == 200, r.content
    d = r.json()
    assert d["client_code"] == "civil-aid" and d["client_name"] == "社会救助信息系统"
    assert d["department"] == city.civil.name and d["department_id"] == city.civil.pk
    assert d["credential_prefix"] == cred.prefix
    cred.refresh_from_db()
    assert cred.last_used_at is not None


def _swap_last_char(s: str) -> str:
    return s[:-1] + ("A" if s[-1] != "A" else "B")


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(_swap_last_char, id="wrong-secret"),
        pytest.param(lambda t: "gs_" + ("Z" if t[3] != "Z" else "Y") + t[4:], id="unknown-prefix"),
        pytest.param(lambda t: t[:-1], id="truncated"),
        pytest.param(lambda t: "gs_abc_def", id="malformed"),
        pytest.param(lambda t: "xx" + t[2:], id="wrong-scheme"),
        pytest.param(lambda t: t + "\u00e9", id="trailing-garbage"),
    ],
)
def test_bad_tokens_get_401_invalid_token(issued, mangle):
    _, token = issued
    r = whoami(mangle(token))
    assert r.status_code == 401
    body = r.json()
    assert body["code"] == "invalid_token" and body["message"]
    assert set(body) == {"code", "message", "detail"}


def test_missing_header_is_not_authenticated_and_session_is_not_enough(city, issued):
    assert Client().get(f"{API}/whoami").status_code == 401
    # A logged-in person is not a client system.
    r = login(city.civil_officer).get(f"{API}/whoami")
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


def test_expired_token_is_refused_as_expired(city, issued):
    cred, token = issued
    Credential.objects.filter(pk=cred.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    r = whoami(token)
    assert r.status_code == 401 and r.json()["code"] == "token_expired"
    cred.refresh_from_db()
    # The boundary itself: valid a second before, expired at the instant.
    with pytest.raises(TokenRefused) as exc:
        authenticate_token(token, now=cred.expires_at)
    assert exc.value.code == "token_expired"
    assert authenticate_token(token, now=cred.expires_at - dt.timedelta(seconds=1)).pk == cred.pk


def test_revoked_token_is_refused_as_revoked(city, issued):
    cred, token = issued
    services.revoke_credential(city.civil_officer, cred, "测试环境令牌泄露")
    r = whoami(token)
    assert r.status_code == 401 and r.json()["code"] == "token_revoked"
    with pytest.raises(IllegalTransition):
        services.revoke_credential(city.civil_officer, cred, "再次吊销")


def test_disabled_client_refuses_its_tokens_until_enabled(city, aid, issued):
    _, token = issued
    services.disable_client(city.civil_officer, aid, "系统下线改造")
    r = whoami(token)
    assert r.status_code == 401 and r.json()["code"] == "client_disabled"
    with pytest.raises(IllegalTransition):
        services.issue_credential(city.civil_officer, aid, "新令牌")
    services.enable_client(city.civil_officer, aid)
    assert whoami(token).status_code == 200


def test_last_used_is_written_at_most_once_a_minute(issued, django_assert_num_queries):
    cred, token = issued
    t0 = timezone.now()
    authenticate_token(token, now=t0)
    cred.refresh_from_db()
    assert cred.last_used_at == t0
    with django_assert_num_queries(1):  # the indexed lookup only: no write within the minute
        authenticate_token(token, now=t0 + dt.timedelta(seconds=59))
    cred.refresh_from_db()
    assert cred.last_used_at == t0
    later = t0 + dt.timedelta(seconds=61)
    authenticate_token(token, now=later)
    cred.refresh_from_db()
    assert cred.last_used_at == later


def test_bearer_sets_request_and_binds_client_into_audit(city, aid, issued):
    cred, token = issued
    request = RequestFactory().get(f"{API}/whoami")
    request.audit_request_id = "req-clients-1"
    outer = audit.bind_request("outer", "127.0.0.1")  # stands in for RequestIdMiddleware
    try:
        assert ClientBearer().authenticate(request, token).pk == cred.pk
        assert request.client_system == aid and request.credential.pk == cred.pk
        event = audit.record("test.client_call", object_type="x", object_id="1")
    finally:
        audit.unbind_request(outer)
    assert event.client_system == "civil-aid" and event.request_id == "req-clients-1"


# --- rotation --------------------------------------------------------------------------------------------


def test_rotation_with_overlap_keeps_old_token_until_overlap_ends(city, issued):
    old, old_token = issued
    t0 = timezone.now()
    new, new_token = services.rotate_credential(city.civil_officer, old, overlap_hours=2, now=t0)
    assert new_token != old_token and new.rotated_from_id == old.pk and new.label == old.label
    assert authenticate_token(new_token, now=t0).pk == new.pk
    assert authenticate_token(old_token, now=t0 + dt.timedelta(hours=1, minutes=59)).pk == old.pk
    with pytest.raises(TokenRefused) as exc:
        authenticate_token(old_token, now=t0 + dt.timedelta(hours=2))
    assert exc.value.code == "token_expired"
    assert authenticate_token(new_token, now=t0 + dt.timedelta(hours=3)).pk == new.pk
    with pytest.raises(IllegalTransition):  # a credential is rotated once; rotate its successor next
        services.rotate_credential(city.civil_officer, old, now=t0)


def test_rotation_without_overlap_ends_old_token_now(city, issued):
    old, old_token = issued
    r = login(city.civil_officer).post(
        f"{API}/credentials/{old.pk}/rotate", {"overlap_hours": 0}, content_type="application/json"
    )
    assert r.status_code == 201 and r["Cache-Control"] == "no-store"
    new_token = r.json()["token"]
    assert whoami(old_token).json()["code"] == "token_expired"
    assert whoami(new_token).status_code == 200
    r = login(city.civil_officer).post(
        f"{API}/credentials/{old.pk}/rotate", {"overlap_hours": 1000}, content_type="application/json"
    )
    assert r.status_code == 422


# --- who may do what -------------------------------------------------------------------------------------


def test_another_departments_officer_can_neither_see_nor_manage(city, aid, issued):
    cred, _ = issued
    market = login(city.market_officer)
    assert [s["code"] for s in market.get(f"{API}/systems").json()] == []
    assert market.get(f"{API}/systems/{aid.pk}").status_code == 404
    r = market.post(f"{API}/systems/{aid.pk}/credentials", {}, content_type="application/json")
    assert r.status_code == 404
    r = market.post(f"{API}/credentials/{cred.pk}/revoke", {"reason": "x"}, content_type="application/json")
    assert r.status_code == 404
    assert (
        market.post(f"{API}/systems/{aid.pk}/disable", {}, content_type="application/json").status_code == 404
    )
    # and the services refuse on their own, whatever the caller looked up
    with pytest.raises(PermissionDenied):
        services.issue_credential(city.market_officer, aid)
    with pytest.raises(PermissionDenied):
        services.revoke_credential(city.market_officer, cred, "越权")
    assert market.get(f"/clients/{aid.pk}/").status_code == 404
    listing = market.get("/clients/").content.decode()
    assert "社会救助信息系统" not in listing and f"/clients/{aid.pk}/" not in listing
    cred.refresh_from_db()
    assert cred.revoked_at is None


def test_people_without_an_officer_role_are_refused(city, aid):
    head = city.person("civil-head", city.civil, Role.HEAD)
    r = login(head).get(f"{API}/systems")
    assert r.status_code == 403 and r.json()["code"] == "clients_forbidden"
    assert login(head).get("/clients/").status_code == 403
    with pytest.raises(PermissionDenied):
        services.register_client(head, "某系统", "some-system")


def test_authority_sees_all_and_can_stop_any_system_but_gets_no_secrets(city, aid, issued):
    _, token = issued
    services.register_client(city.market_officer, "企业信用监管系统", "market-credit")
    reviewer = login(city.reviewer)
    listed = {s["code"]: s["department"] for s in reviewer.get(f"{API}/systems").json()}
    assert listed == {"civil-aid": city.civil.name, "market-credit": city.market.name}

    r = reviewer.post(
        f"{API}/systems/{aid.pk}/disable", {"reason": "违规调用"}, content_type="application/json"
    )
    assert r.status_code == 200 and r.json()["status"] == ClientStatus.DISABLED
    assert whoami(token).json()["code"] == "client_disabled"
    # the owning officer may not lift the authority's stop
    r = login(city.civil_officer).post(f"{API}/systems/{aid.pk}/enable")
    assert r.status_code == 403 and r.json()["code"] == "disabled_by_authority"
    page = login(city.civil_officer).get(f"/clients/{aid.pk}/").content.decode()
    assert "须由数据主管部门重新启用" in page and f"/clients/{aid.pk}/enable/" not in page
    assert reviewer.post(f"{API}/systems/{aid.pk}/enable").status_code == 200
    # issuing would hand the authority another department's secret
    r = reviewer.post(f"{API}/systems/{aid.pk}/credentials", {}, content_type="application/json")
    assert r.status_code == 403 and r.json()["code"] == "not_client_owner"
    page = reviewer.get("/clients/").content.decode()
    assert city.civil.name in page and city.market.name in page and "所属部门" in page


def test_registration_validates_code_and_names(city, aid):
    officer = login(city.civil_officer)
    r = officer.post(f"{API}/systems", {"name": "", "code": "Bad Code!"}, content_type="application/json")
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["detail"]["errors"]} == {"name", "code"}
    r = officer.post(
        f"{API}/systems", {"name": "另一个系统", "code": "civil-aid"}, content_type="application/json"
    )
    assert r.status_code == 422 and r.json()["detail"]["errors"][0]["code"] == "duplicate"
    r = officer.post(
        f"{API}/systems", {"name": "婚姻登记系统", "code": "Civil-Marriage"}, content_type="application/json"
    )
    assert r.status_code == 201 and r.json()["code"] == "civil-marriage"
    assert r.json()["department"] == city.civil.name and r.json()["credentials"] == []


# --- web pages -------------------------------------------------------------------------------------------


def test_register_and_issue_on_the_web_shows_the_token_exactly_once(city):
    web = login(city.civil_officer)
    page = web.get("/clients/").content.decode()
    assert "登记应用系统" in page and "尚未登记应用系统" in page
    r = web.post("/clients/", {"name": "社会救助信息系统", "code": "civil-aid", "description": "低保比对"})
    assert r.status_code == 302
    aid = ClientSystem.objects.get(code="civil-aid")
    assert r["Location"] == f"/clients/{aid.pk}/" and aid.department == city.civil

    r = web.post(f"/clients/{aid.pk}/credentials/", {"label": "生产环境", "valid_days": "90"})
    assert r.status_code == 201 and r["Cache-Control"] == "no-store"
    html = r.content.decode()
    token = re.search(r'value="(gs_[A-Za-z0-9_-]{8}_[A-Za-z0-9_-]{43})"', html).group(1)
    assert "只显示这一次" in html and "复制令牌" in html
    assert "不会再次显示" in html or "无法再次查看" in html
    assert whoami(token).status_code == 200

    detail = web.get(f"/clients/{aid.pk}/").content.decode()
    prefix = TOKEN_RE.match(token).group(1)
    assert token not in detail and TOKEN_RE.match(token).group(2) not in detail
    assert f"gs_{prefix}_…" in detail and "生产环境" in detail and "有效" in detail


def test_web_rotate_revoke_disable_enable(city, aid, issued):
    cred, token = issued
    web = login(city.civil_officer)
    r = web.post(f"/clients/credentials/{cred.pk}/rotate/", {"overlap_hours": "24"})
    assert r.status_code == 201 and "凭证已轮换" in r.content.decode()
    new_token = re.search(r'value="(gs_[^"]+)"', r.content.decode()).group(1)
    assert whoami(token).status_code == 200 and whoami(new_token).status_code == 200
    assert "轮换过渡期" in web.get(f"/clients/{aid.pk}/").content.decode()

    r = web.post(f"/clients/credentials/{cred.pk}/revoke/", {"reason": ""})
    assert r.status_code == 302
    assert whoami(token).status_code == 200  # a revocation without a reason was refused
    r = web.post(f"/clients/credentials/{cred.pk}/revoke/", {"reason": "旧服务器下线"}, follow=True)
    assert "已吊销" in r.content.decode() and "旧服务器下线" in r.content.decode()
    assert whoami(token).json()["code"] == "token_revoked"

    r = web.post(f"/clients/{aid.pk}/disable/", {"reason": "迁移"}, follow=True)
    assert "已停用" in r.content.decode()
    assert whoami(new_token).json()["code"] == "client_disabled"
    web.post(f"/clients/{aid.pk}/enable/")
    assert whoami(new_token).status_code == 200


def test_web_forms_need_csrf(city, aid):
    c = Client(enforce_csrf_checks=True)
    c.force_login(city.civil_officer)
    assert c.post(f"/clients/{aid.pk}/credentials/", {"label": "x"}).status_code == 403
    assert not aid.credentials.exists()


# --- audit -----------------------------------------------------------------------------------------------


def test_every_change_is_audited_without_secrets(city):
    aid = services.register_client(city.civil_officer, "社会救助信息系统", "civil-aid")
    cred, token = services.issue_credential(city.civil_officer, aid, "生产环境")
    new, new_token = services.rotate_credential(city.civil_officer, cred, overlap_hours=1)
    services.revoke_credential(city.civil_officer, new, "泄露")
    services.disable_client(city.reviewer, aid, "违规调用")
    services.enable_client(city.reviewer, aid)
    events = list(AuditEvent.objects.filter(action__startswith="clients.").order_by("seq"))
    assert [e.action for e in events] == [
        "clients.system.register",
        "clients.credential.issue",
        "clients.credential.rotate",
        "clients.credential.revoke",
        "clients.system.disable",
        "clients.system.enable",
    ]
    assert [e.actor for e in events] == ["civil"] * 4 + ["reviewer"] * 2
    issue, rotate = events[1], events[2]
    assert issue.object_id == str(cred.pk) and issue.detail["prefix"] == cred.prefix
    assert rotate.detail["old_prefix"] == cred.prefix and rotate.detail["overlap_hours"] == 1
    assert events[3].detail["reason"] == "泄露" and events[4].department_name == city.authority.name
    text = repr([(e.detail, e.object_id) for e in events])
    for t in (token, new_token):
        assert TOKEN_RE.match(t).group(2) not in text


def test_refused_changes_write_no_event(city, aid):
    before = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):
        services.disable_client(city.market_officer, aid)
    with pytest.raises(ValidationFailed):
        services.issue_credential(city.civil_officer, aid, valid_days=0)
    assert AuditEvent.objects.count() == before
    aid.refresh_from_db()
    assert aid.status == ClientStatus.ACTIVE
