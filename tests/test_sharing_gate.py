"""The delivery gate: lookups, verification and the change feed return exactly what a grant allows (issue #5)."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from tests.test_collect_load import A, B, C

from govshare.audit.models import AuditEvent
from govshare.clients import services as clients
from govshare.collect.services import load_rows
from govshare.sharing.models import ApplicationKind, ApplicationStatus, Grant, GrantStatus, ShareApplication

ALL = ["sfzh", "xm", "xb", "csrq", "sjhm"]


@pytest.fixture
def loaded(city, people):
    out = load_rows(
        people,
        [
            {"sfzh": A, "xm": "张三丰", "xb": "男", "csrq": "1980-01-01", "sjhm": "13812345678"},
            {"sfzh": B, "xm": "李四", "xb": "女", "csrq": "1990-02-15", "sjhm": "13912345678"},
            {"sfzh": C, "xm": "王五", "xb": "男", "csrq": "1949-12-31", "sjhm": "13812345678"},
        ],
        actor=city.police_officer,
    )
    assert out.batch.inserted == 3
    return people


@pytest.fixture
def systems(city):
    """The civil affairs department's client system, and the market department's (another department)."""
    civil = clients.register_client(city.civil_officer, "低保审核系统", "dibao")
    market = clients.register_client(city.market_officer, "企业登记系统", "qydj")
    _, civil_token = clients.issue_credential(city.civil_officer, civil)
    _, market_token = clients.issue_credential(city.market_officer, market)
    return {"civil": civil, "civil_token": civil_token, "market": market, "market_token": market_token}


_n = iter(range(1, 10_000))


def make_grant(city, resource, client, **kw) -> Grant:
    today = timezone.localdate()
    n = next(_n)
    app = ShareApplication.objects.create(
        number=f"SQ-T{n:04d}",
        kind=ApplicationKind.APPLICATION,
        resource=resource,
        consumer=client.department,
        applicant=city.civil_officer,
        purpose="最低生活保障资格审核",
        items=kw.get("items", ALL),
        methods=kw.get("methods", ["query", "verify", "table_sync"]),
        valid_from=today,
        valid_until=today + dt.timedelta(days=365),
        received_on=today,
        status=ApplicationStatus.APPROVED,
    )
    grant = Grant.objects.create(
        number=f"GR-T{n:04d}",
        application=app,
        resource=resource,
        consumer=client.department,
        purpose=app.purpose,
        items=kw.pop("items", ALL),
        methods=kw.pop("methods", ["query", "verify", "table_sync"]),
        valid_from=kw.pop("valid_from", today),
        valid_until=kw.pop("valid_until", today + dt.timedelta(days=365)),
        created_by=city.police_officer,
        **kw,
    )
    grant.clients.add(client)
    return grant


def call(token, method, path, **kw):
    c = Client()
    headers = kw.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if method == "get":
        return c.get(path, kw.pop("data", None), headers=headers)
    return c.post(path, kw.pop("data", {}), content_type="application/json", headers=headers)


def url(resource, tail):
    return f"/api/v1/share/{resource.code}/{tail}"


def last_event():
    return AuditEvent.objects.order_by("-seq").first()


def test_lookup_returns_only_granted_items_masked(city, loaded, systems):  # R-SHARE-10
    grant = make_grant(
        city,
        loaded,
        systems["civil"],
        items=["sfzh", "xm", "csrq"],
        masks={"sfzh": "keep:6:4", "xm": "keep:1:0"},
    )
    r = call(
        systems["civil_token"],
        "get",
        url(loaded, "records"),
        data={"公民身份号码": A},
        headers={"X-Case-Id": "BJ-2026-001"},
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["count"] == 1 and body["grant"] == grant.number
    assert body["records"] == [{"sfzh": A[:6] + "********" + A[-4:], "xm": "张**", "csrq": "1980-01-01"}]
    assert [i["name"] for i in body["items"]] == ["公民身份号码", "姓名", "出生日期"]
    ev = last_event()
    assert (ev.action, ev.result, ev.object_id, ev.case_id) == (
        "share.records",
        "ok",
        str(grant.pk),
        "BJ-2026-001",
    )
    assert ev.department_id == city.civil.pk and ev.client_system == "dibao"
    assert ev.purpose == "最低生活保障资格审核" and ev.detail["items"] == "sfzh,xm,csrq"
    assert ev.detail["returned"] == 1


def test_lookup_by_indexed_item_and_missing_record_look_alike(city, loaded, systems):  # R-SHARE-10
    make_grant(city, loaded, systems["civil"], items=["sfzh", "xm", "sjhm"])
    r = call(systems["civil_token"], "get", url(loaded, "records"), data={"sjhm": "13812345678"})
    assert r.status_code == 200
    assert sorted(x["xm"] for x in r.json()["records"]) == ["张三丰", "王五"]
    missing = call(systems["civil_token"], "get", url(loaded, "records"), data={"sfzh": "430000000000000000"})
    assert missing.status_code == 200 and missing.json()["count"] == 0


def test_row_filter_hides_rows_like_absent_ones(city, loaded, systems):  # R-SHARE-10
    make_grant(city, loaded, systems["civil"], row_filter=[{"item": "xb", "op": "eq", "values": ["女"]}])
    outside = call(systems["civil_token"], "get", url(loaded, "records"), data={"sfzh": A})
    inside = call(systems["civil_token"], "get", url(loaded, "records"), data={"sfzh": B})
    assert outside.status_code == 200 and outside.json()["records"] == []
    assert inside.json()["records"][0]["xm"] == "李四"
    v = call(
        systems["civil_token"], "post", url(loaded, "verify"), data={"items": {"sfzh": A, "xm": "张三丰"}}
    )
    assert v.json() == {
        "resource": loaded.code,
        "grant": v.json()["grant"],
        "match": False,
        "items": {"sfzh": False, "xm": False},
        "under_verification": False,
    }


def test_verify_answers_match_per_item_without_data(city, loaded, systems):  # R-SHARE-19
    make_grant(city, loaded, systems["civil"], methods=["verify"])
    r = call(
        systems["civil_token"],
        "post",
        url(loaded, "verify"),
        data={"items": {"公民身份号码": A, "姓名": "张三丰", "出生日期": "1980-01-02"}},
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["match"] is False and body["items"] == {"公民身份号码": True, "姓名": True, "出生日期": False}
    assert "1980-01-01" not in r.content.decode()
    ok = call(
        systems["civil_token"],
        "post",
        url(loaded, "verify"),
        data={"items": {"sfzh": A.lower(), "xm": " 张三丰 "}},
    )
    assert ok.json()["match"] is True
    ev = last_event()
    assert ev.action == "share.verify" and ev.detail["match"] is True and ev.detail["returned"] == 0


def test_verify_is_throttled_per_credential(city, loaded, systems, settings):  # R-SHARE-19
    settings.GOVSHARE_VERIFY_MISSES_PER_HOUR = 3
    make_grant(city, loaded, systems["civil"], methods=["verify"])
    for _ in range(3):
        r = call(
            systems["civil_token"], "post", url(loaded, "verify"), data={"items": {"sfzh": A, "xm": "猜一个"}}
        )
        assert r.status_code == 200 and r.json()["match"] is False
    r = call(
        systems["civil_token"], "post", url(loaded, "verify"), data={"items": {"sfzh": A, "xm": "张三丰"}}
    )
    assert r.status_code == 429 and r.json()["code"] == "verify_throttled"
    assert "match" not in r.json()


def test_changes_feed_sync_and_deletes_within_scope(city, loaded, systems):  # R-SHARE-13
    make_grant(
        city,
        loaded,
        systems["civil"],
        items=["sfzh", "xm"],
        row_filter=[{"item": "xb", "op": "eq", "values": ["男"]}],
    )
    r = call(systems["civil_token"], "get", url(loaded, "changes"), data={"cursor": 0})
    assert r.status_code == 200, r.content
    body = r.json()
    assert [c["record"]["xm"] for c in body["changes"]] == ["张三丰", "王五"]
    cursor = body["cursor"]
    # 张三丰 moves out of the filter (a delete for this consumer); 李四 changes but was never visible.
    load_rows(
        loaded,
        [{"sfzh": A, "xm": "张三丰", "xb": "女"}, {"sfzh": B, "xm": "李四四", "xb": "女"}],
        actor=city.police_officer,
    )
    load_rows(loaded, [], deletes=[C], actor=city.police_officer)
    nxt = call(systems["civil_token"], "get", url(loaded, "changes"), data={"cursor": cursor}).json()
    assert [(c["op"], c["record"]) for c in nxt["changes"]] == [
        ("delete", {"sfzh": A}),
        ("delete", {"sfzh": C}),
    ]
    assert nxt["has_more"] is False and nxt["cursor"] > cursor
    again = call(systems["civil_token"], "get", url(loaded, "changes"), data={"cursor": nxt["cursor"]}).json()
    assert again["changes"] == [] and again["cursor"] == nxt["cursor"]


def test_changes_pages_with_has_more(city, loaded, systems):  # R-SHARE-13
    make_grant(city, loaded, systems["civil"])
    first = call(systems["civil_token"], "get", url(loaded, "changes"), data={"cursor": 0, "limit": 2}).json()
    assert len(first["changes"]) == 2 and first["has_more"] is True
    rest = call(
        systems["civil_token"], "get", url(loaded, "changes"), data={"cursor": first["cursor"], "limit": 2}
    ).json()
    assert len(rest["changes"]) == 1 and rest["has_more"] is False


def test_daily_quota(city, loaded, systems):  # R-SHARE-10
    make_grant(city, loaded, systems["civil"], daily_quota=2)
    codes = [
        call(systems["civil_token"], "get", url(loaded, "records"), data={"sfzh": A}).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]


# ---------------------------------------------------------------- the security matrix

ENDPOINTS = [
    ("get", "records", {"sfzh": A}),
    ("post", "verify", {"items": {"sfzh": A, "xm": "张三丰"}}),
    ("get", "changes", {"cursor": 0}),
]


def _revoke(city, systems):
    cred = systems["civil"].credentials.get()
    clients.revoke_credential(city.civil_officer, cred, "泄露")


CASES = {
    # name: (setup, token key, expected status, expected code)
    "no token": (None, None, 401, "not_authenticated"),
    "garbage token": (None, "garbage", 401, "invalid_token"),
    "revoked token": (_revoke, "civil_token", 401, "token_revoked"),
    "another department's token": (None, "market_token", 403, "no_grant"),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[1] for e in ENDPOINTS])
def test_refused_callers_get_no_data_and_are_audited(
    city, loaded, systems, case, endpoint
):  # R-SEC-01, R-SEC-05
    setup, token_key, status, code = CASES[case]
    make_grant(city, loaded, systems["civil"])
    if setup:
        setup(city, systems)
    token = systems.get(token_key, token_key) if token_key else None
    before = AuditEvent.objects.count()
    verb, tail, data = endpoint
    r = call(token, verb, url(loaded, tail), data=data)
    assert r.status_code == status, r.content
    assert r.json()["code"] == code
    assert "张三丰" not in r.content.decode() and A not in r.content.decode()
    ev = last_event()
    assert AuditEvent.objects.count() == before + 1
    assert ev.result == "denied" and ev.detail["resource"] == loaded.code and ev.detail["reason"] == code


@pytest.mark.parametrize(
    "path", ["/api/v1/share/301/00%00/changes", "/api/v1/share/" + "9" * 70 + "/1/changes"]
)
def test_a_path_the_joined_read_cannot_take_still_refuses_once(city, loaded, systems, path):  # R-SEC-05
    """A resource code with a NUL or too long for the one-query read: the credential alone is checked,
    and its refusal is audited exactly once, as on every other path."""
    _revoke(city, systems)
    before = AuditEvent.objects.count()
    r = call(systems["civil_token"], "get", path, data={"cursor": 0})
    assert r.status_code == 401 and r.json()["code"] == "token_revoked"
    assert AuditEvent.objects.count() == before + 1 and last_event().detail["reason"] == "token_revoked"


GRANT_STATES = {
    "expired grant": (
        {"valid_from": dt.date(2020, 1, 1), "valid_until": dt.date(2020, 12, 31)},
        403,
        "grant_expired",
    ),
    "suspended grant": (
        {"status": GrantStatus.SUSPENDED, "status_reason": "超范围使用"},
        403,
        "grant_suspended",
    ),
    "terminated grant": ({"status": GrantStatus.TERMINATED}, 403, "grant_terminated"),
    "not filed": ({"filing_required": True}, 403, "grant_not_filed"),
    "method not granted": ({"methods": ["batch"]}, 403, "method_not_granted"),
    "item outside the grant": ({"items": ["xb", "csrq"]}, 403, "item_not_granted"),
}


@pytest.mark.parametrize("state", list(GRANT_STATES))
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[1] for e in ENDPOINTS])
def test_unusable_grants_refuse_and_audit(city, loaded, systems, state, endpoint):  # R-SHARE-10, R-SHARE-18
    fields, status, code = GRANT_STATES[state]
    verb, tail, data = endpoint
    if state == "item outside the grant" and tail == "changes":
        data = {"cursor": 0, "items": "sfzh"}
    grant = make_grant(city, loaded, systems["civil"], **fields)
    r = call(systems["civil_token"], verb, url(loaded, tail), data=data)
    assert r.status_code == status, r.content
    body = r.json()
    assert body["code"] == code and "records" not in body and "match" not in body and "changes" not in body
    ev = last_event()
    assert (ev.result, ev.object_id, ev.detail["reason"]) == ("denied", str(grant.pk), code)
    assert ev.client_system == "dibao" and ev.department_id == city.civil.pk


def test_a_usable_grant_wins_over_an_unusable_one(city, loaded, systems):  # R-SHARE-10
    make_grant(city, loaded, systems["civil"], status=GrantStatus.SUSPENDED)
    fresh = make_grant(city, loaded, systems["civil"], items=["xm"])
    r = call(systems["civil_token"], "get", url(loaded, "records"), data={"sfzh": A})
    assert r.status_code == 403 and r.json()["code"] == "item_not_granted"  # the usable grant lacks sfzh
    r = call(
        systems["civil_token"],
        "get",
        url(loaded, "records"),
        data={"sfzh": A},
        headers={"X-Grant": fresh.number},
    )
    assert r.status_code == 403


def test_unknown_resource_is_404_and_audited(city, loaded, systems):
    r = call(systems["civil_token"], "get", "/api/v1/share/999/999999/records", data={"sfzh": A})
    assert r.status_code == 404 and r.json()["code"] == "resource_not_found"
    assert last_event().detail["reason"] == "resource_not_found"


def test_nul_in_a_lookup_or_code_is_refused_not_stored(city, loaded, systems):  # R-SHARE-10, R-SEC-05
    # Found by tests/test_api_fuzz.py: PostgreSQL stores no NUL, so these answered 500 there.
    make_grant(city, loaded, systems["civil"])
    r = call(systems["civil_token"], "get", url(loaded, "records"), data={"sfzh": A + "\x00"})
    assert r.status_code == 422 and r.json()["code"] == "lookup_invalid"
    assert last_event().detail["reason"] == "lookup_invalid"
    r = call(systems["civil_token"], "get", url(loaded, "records"), data={"sfzh": A, "items": "xm,\x00"})
    assert r.status_code == 403 and r.json()["code"] == "item_not_granted"
    assert last_event().detail["item"] == "\ufffd"  # the refusal is audited with what was sent, visibly
    r = call(systems["civil_token"], "get", "/api/v1/share/%00/000001/changes")
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"
    r = call("not-a-token", "get", "/api/v1/share/%00/000001/changes")
    assert r.status_code == 401 and last_event().detail["resource"] == "\ufffd/000001"


def test_lookup_needs_one_indexed_condition(city, loaded, systems):
    make_grant(city, loaded, systems["civil"])
    r = call(systems["civil_token"], "get", url(loaded, "records"), data={"xm": "张三丰"})
    assert r.status_code == 422 and r.json()["code"] == "lookup_not_indexed"
    r = call(systems["civil_token"], "get", url(loaded, "records"))
    assert r.status_code == 422 and r.json()["code"] == "lookup_invalid"


def test_changes_delete_what_the_consumer_holds_even_after_later_edits(city, loaded, systems):  # R-SHARE-13
    make_grant(
        city,
        loaded,
        systems["civil"],
        items=["sfzh", "xm"],
        row_filter=[{"item": "xb", "op": "eq", "values": ["男"]}],
    )
    first = call(systems["civil_token"], "get", url(loaded, "changes"), data={"cursor": 0}).json()
    assert [c["op"] for c in first["changes"]] == [
        "upsert",
        "upsert",
    ]  # 张三丰, 王五; no deletes on a first sync
    # 张三丰 leaves the filter and is edited again while out of it; 王五 is edited, then deleted.
    load_rows(loaded, [{"sfzh": A, "xm": "张三丰", "xb": "女"}], actor=city.police_officer)
    load_rows(
        loaded,
        [{"sfzh": A, "xm": "张三", "xb": "女"}, {"sfzh": C, "xm": "王五五", "xb": "男"}],
        actor=city.police_officer,
    )
    load_rows(loaded, [], deletes=[C], actor=city.police_officer)
    nxt = call(systems["civil_token"], "get", url(loaded, "changes"), data={"cursor": first["cursor"]}).json()
    assert sorted((c["op"], c["record"]["sfzh"]) for c in nxt["changes"]) == sorted(
        [("delete", A), ("delete", C)]
    )


def test_verify_throttle_counts_in_a_shared_cache(city, loaded, systems, settings):  # R-SHARE-19
    """With GOVSHARE_CACHE_URL (several server processes) the counts live in Redis, where every process
    reads them: what one process counted refuses the next call in any other."""
    import uuid

    import redis

    redis_url = "redis://127.0.0.1:6379/15"
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": prefix,
        }
    }
    settings.GOVSHARE_VERIFY_MISSES_PER_HOUR = 2
    make_grant(city, loaded, systems["civil"], methods=["verify"])
    other_process = redis.Redis.from_url(redis_url)
    try:
        for _ in range(2):
            r = call(
                systems["civil_token"],
                "post",
                url(loaded, "verify"),
                data={"items": {"sfzh": A, "xm": "猜一个"}},
            )
            assert r.status_code == 200 and r.json()["match"] is False
        misses = [k for k in other_process.keys(f"{prefix}:*") if b"verify-miss" in k]
        assert len(misses) == 1 and int(other_process.get(misses[0])) == 2
        r = call(
            systems["civil_token"], "post", url(loaded, "verify"), data={"items": {"sfzh": A, "xm": "张三丰"}}
        )
        assert r.status_code == 429 and r.json()["code"] == "verify_throttled"
    finally:
        for key in other_process.keys(f"{prefix}:*"):
            other_process.delete(key)
