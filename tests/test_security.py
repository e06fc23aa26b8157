"""Security baseline (issue #6): TOTP second factor with recovery codes, and our deployment checks.

R-SEC-01 identity authentication; R-SEC-05 every outcome is an audit event.
"""

import base64
import datetime as dt
import re
import stat

import pyotp
import pytest
from django.core.checks import run_checks
from django.test import Client, override_settings
from django.utils import timezone

from govshare.audit.models import AuditEvent
from govshare.security import checks, crypto, services
from govshare.security.models import RecoveryCode, TotpDevice

pytestmark = pytest.mark.django_db

PASSWORD = "govshare-test-pw"
T0 = 1_800_000_000.0  # a fixed instant; each test steps the TOTP clock forward explicitly


@pytest.fixture
def clock(monkeypatch):
    """The TOTP clock, moved by hand: `clock.step()` goes to the next 30-second window."""

    class Clock:
        now = T0

        def step(self, n=1):
            self.now += 30 * n

    c = Clock()
    monkeypatch.setattr(services, "clock", lambda: c.now)
    return c


def code_at(secret, clock) -> str:
    return pyotp.TOTP(secret).at(clock.now)


def enroll(user, clock):
    """Enroll through the services; returns (secret, recovery codes)."""
    device = services.start_enrollment(user)
    secret = services.provisioning(device)["secret"]
    codes = services.confirm_enrollment(user, code_at(secret, clock))
    return secret, codes


def password_step(username):
    c = Client()
    r = c.post("/login/", {"username": username, "password": PASSWORD})
    return c, r


def is_logged_in(c: Client) -> bool:
    return c.get("/").status_code == 200


def actions(**filters):
    return list(AuditEvent.objects.filter(**filters).order_by("seq").values_list("action", "result"))


# --- enrollment --------------------------------------------------------------------------------------------


def test_enrollment_page_shows_qr_and_secret_until_confirmed(city, clock):  # R-SEC-01
    c = Client()
    c.force_login(city.reviewer)
    page = c.get("/security/totp/").content.decode()
    assert 'src="data:image/svg+xml' in page
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    assert len(secret) == 32
    device = TotpDevice.objects.get(user=city.reviewer)
    assert device.confirmed_at is None
    assert secret not in device.secret_encrypted  # kept encrypted at rest
    # a reload shows the same secret, so an authenticator that already scanned it stays valid
    assert secret in c.get("/security/totp/").content.decode().replace(" ", "")

    r = c.post("/security/totp/", {"code": "000000" if code_at(secret, clock) != "000000" else "111111"})
    assert "动态口令或恢复码不正确" in r.content.decode()
    assert not TotpDevice.objects.get(user=city.reviewer).confirmed

    r = c.post("/security/totp/", {"code": code_at(secret, clock)})
    body = r.content.decode()
    codes = re.findall(r"<code>([A-Z0-9-]{19})</code>", body)
    assert len(codes) == 10 and "只在此页显示一次" in body
    assert TotpDevice.objects.get(user=city.reviewer).confirmed
    assert RecoveryCode.objects.filter(user=city.reviewer).count() == 10
    assert not RecoveryCode.objects.filter(code_hash__in=codes).exists()  # only hashes are stored

    page = c.get("/security/totp/").content.decode()
    assert "已启用" in page and secret not in page.replace(" ", "") and "totp-qr" not in page
    assert ("security.totp.enroll_started", "ok") in actions(actor="reviewer")
    assert ("security.totp.enrolled", "ok") in actions(actor="reviewer")


def test_secret_is_bound_to_its_owner(city, clock):
    device = services.start_enrollment(city.reviewer)
    secret = services.provisioning(device)["secret"]
    assert crypto.unseal(device.secret_encrypted, city.reviewer.pk) == secret
    with pytest.raises(ValueError):
        crypto.unseal(device.secret_encrypted, city.civil_officer.pk)


# --- login --------------------------------------------------------------------------------------------------


def test_login_needs_the_code_after_the_password(city, clock):  # R-SEC-01
    secret, _ = enroll(city.reviewer, clock)
    clock.step()
    c, r = password_step("reviewer")
    assert r.status_code == 302 and r["Location"] == "/security/totp/verify/"
    assert not is_logged_in(c)  # the password alone does not open a session
    assert "密码已验证" in c.get("/security/totp/verify/").content.decode()
    before = AuditEvent.objects.filter(action="auth.login", result="ok").count()

    r = c.post("/security/totp/verify/", {"code": code_at(secret, clock)})
    assert r.status_code == 302 and r["Location"] == "/"
    assert is_logged_in(c)
    assert AuditEvent.objects.filter(action="auth.login", result="ok").count() == before + 1
    assert ("security.totp.verify", "ok") in actions(actor="reviewer")


def test_login_without_second_factor_is_unchanged_for_others(city):
    c, r = password_step("civil")
    assert r.status_code == 302 and r["Location"] == "/"
    assert is_logged_in(c)


def test_verify_page_needs_the_password_step_first(city, clock):
    enroll(city.reviewer, clock)
    r = Client().get("/security/totp/verify/")
    assert r.status_code == 302 and r["Location"].startswith("/login/")


def test_replayed_code_is_refused(city, clock):  # R-SEC-01
    secret, _ = enroll(city.reviewer, clock)
    clock.step()
    code = code_at(secret, clock)
    c1, _ = password_step("reviewer")
    c1.post("/security/totp/verify/", {"code": code})
    assert is_logged_in(c1)

    c2, _ = password_step("reviewer")
    r = c2.post("/security/totp/verify/", {"code": code})
    assert "该动态口令已使用过" in r.content.decode()
    assert not is_logged_in(c2)
    # the code of the step before the used one is just as stale
    clock.step(-1)
    r = c2.post("/security/totp/verify/", {"code": code_at(secret, clock)})
    assert not is_logged_in(c2)
    clock.step(2)
    c2.post("/security/totp/verify/", {"code": code_at(secret, clock)})
    assert is_logged_in(c2)
    reasons = list(
        AuditEvent.objects.filter(action="security.totp.verify", result="denied").values_list(
            "detail", flat=True
        )
    )
    assert [d["reason"] for d in reasons] == ["replay", "replay"]


def test_wrong_codes_lock_the_second_factor(city, clock):  # R-SEC-01
    secret, _ = enroll(city.reviewer, clock)
    clock.step()
    right = code_at(secret, clock)
    wrong = "123456" if right != "123456" else "654321"
    c, _ = password_step("reviewer")
    for attempt in range(1, 5):
        body = c.post("/security/totp/verify/", {"code": wrong}).content.decode()
        assert f"还可尝试 {5 - attempt} 次" in body
    body = c.post("/security/totp/verify/", {"code": wrong}).content.decode()
    assert "已临时锁定" in body
    # while locked even the right code is refused, also from a fresh password login
    c2, _ = password_step("reviewer")
    assert "已临时锁定" in c2.post("/security/totp/verify/", {"code": right}).content.decode()
    assert not is_logged_in(c2)
    device = TotpDevice.objects.get(user=city.reviewer)
    assert device.locked_until >= timezone.now() + dt.timedelta(minutes=14)
    assert ("security.totp.locked", "denied") in actions(actor="reviewer")

    TotpDevice.objects.filter(pk=device.pk).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    c3, _ = password_step("reviewer")
    c3.post("/security/totp/verify/", {"code": right})
    assert is_logged_in(c3)


def test_recovery_code_works_once(city, clock):  # R-SEC-01
    _, codes = enroll(city.reviewer, clock)
    c, _ = password_step("reviewer")
    r = c.post("/security/totp/verify/", {"code": codes[3].lower()})
    assert r.status_code == 302
    home = c.get("/")
    assert home.status_code == 200 and "剩余 9 个" in home.content.decode()
    assert services.recovery_codes_left(city.reviewer) == 9
    assert ("security.totp.recovery_used", "ok") in actions(actor="reviewer")

    c2, _ = password_step("reviewer")
    c2.post("/security/totp/verify/", {"code": codes[3]})
    assert not is_logged_in(c2)


def test_require_totp_sends_unenrolled_authority_to_enrollment(city, clock):  # R-SEC-01
    with override_settings(GOVSHARE_REQUIRE_TOTP=True):
        c, r = password_step("reviewer")
        assert r.status_code == 302 and r["Location"] == "/security/totp/"
        assert not is_logged_in(c)
        page = c.get("/security/totp/").content.decode()
        assert "完成绑定后才能使用平台" in page
        secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
        r = c.post("/security/totp/", {"code": code_at(secret, clock)})
        assert "请立即保存恢复码" in r.content.decode()
        assert is_logged_in(c)

        # an operator is held to the same rule; a consumer officer is not
        city.person("ops", city.authority, "operator")
        c_ops, r = password_step("ops")
        assert r["Location"] == "/security/totp/" and not is_logged_in(c_ops)
        c_civil, r = password_step("civil")
        assert r["Location"] == "/" and is_logged_in(c_civil)


def test_disable_needs_a_current_code(city, clock):  # R-SEC-01
    secret, _ = enroll(city.reviewer, clock)
    clock.step()
    c, _ = password_step("reviewer")
    c.post("/security/totp/verify/", {"code": code_at(secret, clock)})
    assert is_logged_in(c)

    c.post("/security/totp/disable/", {"code": code_at(secret, clock)})  # already used: a replay
    assert TotpDevice.objects.filter(user=city.reviewer).exists()
    clock.step()
    c.post("/security/totp/disable/", {"code": code_at(secret, clock)})
    assert not TotpDevice.objects.filter(user=city.reviewer).exists()
    assert not RecoveryCode.objects.filter(user=city.reviewer).exists()
    assert ("security.totp.disabled", "ok") in actions(actor="reviewer")
    c2, r = password_step("reviewer")
    assert r["Location"] == "/" and is_logged_in(c2)


def test_other_login_paths_cannot_skip_the_second_factor(city, clock):  # R-SEC-01
    enroll(city.reviewer, clock)
    c = Client()
    c.force_login(city.reviewer)  # stands for any login that did not pass the TOTP step
    assert not is_logged_in(c)
    assert ("security.totp.bypass_refused", "denied") in actions(actor="reviewer")
    r = Client().get("/admin/login/?next=/admin/")
    assert r.status_code == 302 and r["Location"].startswith("/login/?next=/admin/")


# --- deployment checks -------------------------------------------------------------------------------------


def ids(found) -> set[str]:
    return {m.id for m in found}


def test_deploy_checks_are_registered_for_check_deploy_only(db, monkeypatch):
    monkeypatch.delenv("GOVSHARE_SECRET_KEY", raising=False)
    with override_settings(DEBUG=True, GOVSHARE_FIELD_KEY="", GOVSHARE_REQUIRE_TOTP=False):
        assert not ids(run_checks(tags=[checks.TAG]))
        found = ids(run_checks(include_deployment_checks=True, tags=[checks.TAG]))
    assert {"govshare.W001", "govshare.E001", "govshare.W005", "govshare.W008"} <= found


def test_secret_key_must_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("GOVSHARE_SECRET_KEY", raising=False)
    assert ids(checks.check_secret_key()) == {"govshare.W001"}
    key = "k" * 60
    monkeypatch.setenv("GOVSHARE_SECRET_KEY", key)
    with override_settings(SECRET_KEY=key):
        assert checks.check_secret_key() == []


def test_debug_and_wildcard_hosts_are_errors():
    with override_settings(DEBUG=True, ALLOWED_HOSTS=["*"]):
        assert ids(checks.check_debug()) == {"govshare.E001"}
        assert ids(checks.check_allowed_hosts()) == {"govshare.E002"}
    with override_settings(DEBUG=False, ALLOWED_HOSTS=["data.czs.gov.cn"]):
        assert checks.check_debug() == [] and checks.check_allowed_hosts() == []


def _databases(name: str, engine="django.db.backends.sqlite3"):
    """The checks only read settings.DATABASES; open connections are not affected."""
    return override_settings(DATABASES={"default": {"ENGINE": engine, "NAME": name}})


IGNORE_DATABASES_OVERRIDE = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")


@IGNORE_DATABASES_OVERRIDE
def test_sqlite_and_key_dir_inside_database_dir_warn(tmp_path):
    with (
        _databases(str(tmp_path / "govshare.sqlite3")),
        override_settings(GOVSHARE_AUDIT_KEY_DIR=tmp_path / "keys"),
    ):
        assert ids(checks.check_database()) == {"govshare.W002"}
        assert ids(checks.check_audit_keys()) == {"govshare.W004"}
    with _databases("govshare", "django.db.backends.postgresql"):
        with override_settings(GOVSHARE_AUDIT_KEY_DIR=tmp_path / "keys"):
            assert checks.check_database() == [] and checks.check_audit_keys() == []


@IGNORE_DATABASES_OVERRIDE
def test_audit_key_permissions(tmp_path):
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    pem = key_dir / "20260101000000000000-abcd.pem"
    pem.write_text("not really a key")
    with (
        _databases("govshare", "django.db.backends.postgresql"),
        override_settings(GOVSHARE_AUDIT_KEY_DIR=key_dir),
    ):
        key_dir.chmod(0o700)
        pem.chmod(0o600)
        assert checks.check_audit_keys() == []
        pem.chmod(0o644)
        assert ids(checks.check_audit_keys()) == {"govshare.E003"}
        pem.chmod(0o600)
        key_dir.chmod(0o777)
        assert ids(checks.check_audit_keys()) == {"govshare.E003"}
        key_dir.chmod(0o755)
        assert ids(checks.check_audit_keys()) == {"govshare.W009"}
        key_dir.chmod(stat.S_IRWXU)


def test_tls_field_key_mail_totp_and_cache_settings(monkeypatch):  # R-SEC-09, R-SHARE-10
    with override_settings(SESSION_COOKIE_SECURE=False, SECURE_HSTS_SECONDS=0):
        assert ids(checks.check_tls()) == {"govshare.W003"}
    with override_settings(SESSION_COOKIE_SECURE=True, SECURE_HSTS_SECONDS=31536000):
        assert checks.check_tls() == []
    with override_settings(GOVSHARE_FIELD_KEY=""):
        assert ids(checks.check_field_key()) == {"govshare.W005"}
    with override_settings(GOVSHARE_FIELD_KEY="a-real-key-from-the-kms"):  # not base64 of 32 bytes
        assert ids(checks.check_field_key()) == {"govshare.E007"}
    with override_settings(GOVSHARE_FIELD_KEY="k1:" + base64.b64encode(b"k" * 32).decode()):
        assert checks.check_field_key() == []
    with override_settings(
        GOVSHARE_FIELD_KEY="k1:" + base64.b64encode(b"k" * 32).decode(), GOVSHARE_FIELD_CIPHER="des"
    ):
        assert ids(checks.check_field_key()) == {"govshare.E006"}
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend"):
        assert ids(checks.check_email()) == {"govshare.W006"}
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend"):
        assert checks.check_email() == []
    with override_settings(GOVSHARE_REQUIRE_TOTP=False):
        assert ids(checks.check_require_totp()) == {"govshare.W008"}
    with override_settings(GOVSHARE_REQUIRE_TOTP=True):
        assert checks.check_require_totp() == []
    redis_cache = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x"}
    }
    with monkeypatch.context() as m:
        m.setenv("GOVSHARE_WORKERS", "4")
        assert ids(checks.check_shared_cache()) == {"govshare.W010"}
        with override_settings(CACHES=redis_cache):
            assert checks.check_shared_cache() == []
        m.setenv("GOVSHARE_WORKERS", "1")
        assert checks.check_shared_cache() == []


def test_missing_holiday_table_for_next_year_warns(db, monkeypatch):
    from govshare.calendar import policy
    from govshare.calendar.models import HolidayOverride
    from govshare.calendar.workdays import _CC_YEARS, statutory_holidays

    year = max(_CC_YEARS) + 1  # the first year the packaged official data does not cover
    monkeypatch.setattr(checks, "today", lambda: dt.date(year - 1, 11, 1))
    assert ids(checks.check_holidays()) == {"govshare.W007"}
    assert str(year) in checks.check_holidays()[0].msg

    HolidayOverride.objects.bulk_create(
        HolidayOverride(date=d, kind="holiday", name=name, source="国务院办公厅通知")
        for d, name in statutory_holidays(year).items()
    )
    policy.overrides_changed()
    assert checks.check_holidays() == []


# --- API input the database cannot store (found by tests/test_api_fuzz.py) ----------------------------------


@pytest.mark.parametrize(
    "method, url, body",
    [
        ("get", "/api/v1/audit/consistency?old=99999999999999999999999&new=1", None),
        ("get", "/api/v1/audit/events?before=99999999999999999999999", None),
        ("get", "/api/v1/audit/events?object_type=%00", None),
        ("get", "/api/v1/catalog/revisions?status=%00", None),
        ("get", "/api/v1/catalog/resources/%00/000001", None),
        ("get", "/api/v1/catalog/revisions/99999999999999999999999", None),
        ("post", "/api/v1/catalog/resources", {"name": "企业\x00信息"}),
        ("post", "/api/v1/catalog/resources", {"provider": 2**70}),
        ("get", "/api/v1/collect/%00/000001/batches", None),
        ("get", "/api/v1/collect/301/000001/records?cursor=99999999999999999999999", None),
        ("post", "/api/v1/collect/301/000001/records", {"upserts": [{"xm": "张\x00三"}]}),
        ("post", "/api/v1/collect/301/000001/records", {"deletes": ["\x00"]}),
        ("get", "/api/v1/elements?q=%00", None),
        ("post", "/api/v1/elements/duplicates", {"items": ["姓\x00名"]}),
        ("get", "/api/v1/mounts/%00/000001", None),
        ("post", "/api/v1/mounts/301/000001/interfaces", {"url": "http://x", "openapi": {"info": ["\x00"]}}),
        ("get", "/api/v1/quality/resources/%00/000001", None),
        ("post", "/api/v1/clients/systems", {"name": "救助\x00系统", "code": "aid"}),
        ("get", "/api/v1/clients/systems/99999999999999999999999", None),
        ("get", "/api/v1/sharing/applications?status=%00", None),
        ("get", "/api/v1/sharing/grants?before=99999999999999999999999", None),
        ("post", "/api/v1/sharing/unconditional", {"resource": "301/\x00"}),
        ("post", "/api/v1/sharing/cases", {"subject": "协商\x00"}),
        ("get", "/api/v1/corrections?status=%00", None),
        ("get", "/api/v1/corrections/99999999999999999999999", None),
    ],
)
def test_api_refuses_values_the_database_cannot_store(city, method, url, body):  # R-SEC-03
    c = Client(raise_request_exception=False)
    c.force_login(city.market_officer)
    r = getattr(c, method)(url, body, content_type="application/json") if body else c.get(url)
    assert r.status_code == 422, r.content[:300]
    assert r.json()["code"] == "invalid_request"


def test_api_refuses_nul_in_form_fields(city):  # R-SEC-03, R-CORR-01
    c = Client(raise_request_exception=False)
    c.force_login(city.civil_officer)
    r = c.post("/api/v1/corrections", {"resource": "301/000001", "description": "姓名\x00有误"})
    assert r.status_code == 422, r.content[:300]
    assert r.json()["code"] == "invalid_request"


def test_every_schema_name_in_the_api_stands_for_one_shape(monkeypatch):  # R-SEC-03
    """Two request or response models of the same class name were published as one component, the last
    one winning: the delivery API's items, the element coordination cases, the collected records and
    two request bodies were documented with another router's shape (found by tests/test_api_fuzz.py)."""
    from ninja.openapi import schema as openapi

    from govshare.api import api

    clashes = []
    add = openapi.OpenAPISchema.add_schema_definitions

    def checked(self, definitions):
        clashes.extend(n for n, d in definitions.items() if n in self.schemas and self.schemas[n] != d)
        return add(self, definitions)

    monkeypatch.setattr(openapi.OpenAPISchema, "add_schema_definitions", checked)
    openapi.get_schema(api, path_prefix="/api/v1/")
    assert clashes == []
