"""The fast routes of /records and /verify (sharing/fast.py) answer exactly as the API's own handlers.

Every case is sent twice through the served WSGI application: once as it is deployed (the short chain
ends with FastRoutes) and once with FastRoutes left out, so django-ninja answers. Status, headers, body
bytes and the audit events written must be identical — for successes and for every refusal (R-SEC-01,
R-SEC-05, R-SHARE-10, R-SHARE-19, R-CORR-07).
"""

import datetime as dt
import io
import json

import pytest
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from django.utils import timezone
from tests.test_collect_load import A, B, C
from tests.test_sharing_gate import ALL, loaded, make_grant, systems  # noqa: F401  (fixtures)

from govshare import rawsql
from govshare.audit.models import AuditEvent
from govshare.clients import services as clients
from govshare.clients.models import ClientStatus, ClientSystem, Credential
from govshare.orgs.models import Department
from govshare.sharing import gate
from govshare.sharing import services as sharing
from govshare.sharing.models import Grant, GrantStatus, GrantUsage

pytestmark = pytest.mark.django_db

FAST = "govshare.sharing.fast.FastRoutes"
EVENT_FIELDS = [
    f.attname for f in AuditEvent._meta.concrete_fields if f.attname not in ("seq", "occurred_at")
]


@pytest.fixture(autouse=True)
def no_primary_guesses():
    """What the gate learnt of other tests' resources (their codes come again) does not carry over."""
    gate._primary_names.clear()
    yield
    gate._primary_names.clear()


@pytest.fixture
def apps(settings):
    """(as deployed, without the fast routes): the same application, built twice."""
    from govshare.wsgi import make_application

    assert FAST in settings.GOVSHARE_LEAN_MIDDLEWARE
    fast = make_application()
    with override_settings(
        GOVSHARE_LEAN_MIDDLEWARE=[m for m in settings.GOVSHARE_LEAN_MIDDLEWARE if m != FAST]
    ):
        ninja = make_application()
    return fast, ninja


def wsgi(app, method, path, query="", body=None, headers=None):
    """One call as a WSGI server makes it. Like Django's test client, the per-request connection upkeep is
    left out, so the test's transaction survives."""
    data = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.7",
        "HTTP_HOST": "testserver",
        "HTTP_X_REQUEST_ID": "req-fast-1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(data),
        "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if data:
        environ.update(CONTENT_TYPE="application/json", CONTENT_LENGTH=str(len(data)))
    for k, v in (headers or {}).items():
        environ["HTTP_" + k.upper().replace("-", "_")] = v
    got = {}

    def start_response(status, response_headers, exc_info=None):
        got["status"], got["headers"] = status, response_headers

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        result = app(environ, start_response)
        content = b"".join(result)
        result.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return int(got["status"].split()[0]), got["headers"], content


def both(apps, method, path, *, reset=None, **kw):
    """The call through each application, from the same state; both answers must be the same."""
    seen = []
    for app in apps:
        if reset:
            reset()
        last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        status, headers, content = wsgi(app, method, path, **kw)
        events = list(AuditEvent.objects.filter(seq__gt=last).order_by("seq").values_list(*EVENT_FIELDS))
        seen.append((status, headers, content, events))
    assert seen[0] == seen[1], f"fast route: {seen[0]}\nAPI: {seen[1]}"
    return seen[0]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def path(resource, tail):
    return f"/api/v1/share/{resource.code}/{tail}"


def _wrong_secret(token):
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def _expire_token(ctx):
    Credential.objects.filter(client=ctx["systems"]["civil"]).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )


def _revoke(ctx):
    cred = ctx["systems"]["civil"].credentials.get()
    clients.revoke_credential(ctx["city"].civil_officer, cred, "泄露")


def _disable_client(ctx):
    ClientSystem.objects.filter(pk=ctx["systems"]["civil"].pk).update(status=ClientStatus.DISABLED)


def _deactivate_department(ctx):
    Department.objects.filter(pk=ctx["city"].civil.pk).update(is_active=False)


# name: (grant fields or None for no grant, setup(ctx) or None, request(ctx) -> kwargs, status, code)
RECORDS = {
    "by primary key, masked, with a case id": (
        {"masks": {"sfzh": "keep:6:4", "xm": "keep:1:0"}},
        None,
        lambda c: {"query": f"sfzh={A}", "headers": {"X-Case-Id": "BJ-2026-001"}},
        200,
        None,
    ),
    "by item name, percent-encoded": (
        {},
        None,
        lambda c: {"query": f"%E5%85%AC%E6%B0%91%E8%BA%AB%E4%BB%BD%E5%8F%B7%E7%A0%81={A}"},
        200,
        None,
    ),
    "by indexed item, two rows, hashed phone": (
        {"masks": {"sjhm": "hash", "csrq": "year"}},
        None,
        lambda c: {"query": "sjhm=13812345678"},
        200,
        None,
    ),
    "narrowed items": ({}, None, lambda c: {"query": f"sfzh={A}&items=xm,csrq"}, 200, None),
    "no such record": ({}, None, lambda c: {"query": "sfzh=430000000000000000"}, 200, None),
    "row outside the filter": (
        {"row_filter": [{"item": "xb", "op": "eq", "values": ["女"]}]},
        None,
        lambda c: {"query": f"sfzh={A}"},
        200,
        None,
    ),
    "no token": ({}, None, lambda c: {"token": None, "query": f"sfzh={A}"}, 401, "not_authenticated"),
    "not a bearer token": (
        {},
        None,
        lambda c: {"token": None, "query": f"sfzh={A}", "headers": {"Authorization": "Basic Zm9vOmJhcg=="}},
        401,
        "not_authenticated",
    ),
    "garbage token": ({}, None, lambda c: {"token": "garbage", "query": f"sfzh={A}"}, 401, "invalid_token"),
    "wrong secret": (
        {},
        None,
        lambda c: {"token": _wrong_secret(c["systems"]["civil_token"]), "query": f"sfzh={A}"},
        401,
        "invalid_token",
    ),
    "revoked token": ({}, _revoke, lambda c: {"query": f"sfzh={A}"}, 401, "token_revoked"),
    "expired token": ({}, _expire_token, lambda c: {"query": f"sfzh={A}"}, 401, "token_expired"),
    "disabled client system": ({}, _disable_client, lambda c: {"query": f"sfzh={A}"}, 401, "client_disabled"),
    "inactive department": (
        {},
        _deactivate_department,
        lambda c: {"query": f"sfzh={A}"},
        401,
        "client_disabled",
    ),
    "another department's token": (
        {},
        None,
        lambda c: {"token": c["systems"]["market_token"], "query": f"sfzh={A}"},
        403,
        "no_grant",
    ),
    "no grant at all": (None, None, lambda c: {"query": f"sfzh={A}"}, 403, "no_grant"),
    "unknown resource": (
        {},
        None,
        lambda c: {"path": "/api/v1/share/999/999999/records", "query": f"sfzh={A}"},
        404,
        "resource_not_found",
    ),
    "expired grant": (
        {"valid_from": dt.date(2020, 1, 1), "valid_until": dt.date(2020, 12, 31)},
        None,
        lambda c: {"query": f"sfzh={A}"},
        403,
        "grant_expired",
    ),
    "grant not yet valid": (
        {"valid_from": timezone.localdate() + dt.timedelta(days=3)},
        None,
        lambda c: {"query": f"sfzh={A}"},
        403,
        "grant_not_started",
    ),
    "suspended grant": (
        {"status": GrantStatus.SUSPENDED, "status_reason": "超范围使用"},
        None,
        lambda c: {"query": f"sfzh={A}"},
        403,
        "grant_suspended",
    ),
    "terminated grant": (
        {"status": GrantStatus.TERMINATED},
        None,
        lambda c: {"query": f"sfzh={A}"},
        403,
        "grant_terminated",
    ),
    "grant not filed": (
        {"filing_required": True},
        None,
        lambda c: {"query": f"sfzh={A}"},
        403,
        "grant_not_filed",
    ),
    "method not granted": (
        {"methods": ["verify"]},
        None,
        lambda c: {"query": f"sfzh={A}"},
        403,
        "method_not_granted",
    ),
    "lookup item outside the grant": (
        {"items": ["xm", "csrq"]},
        None,
        lambda c: {"query": f"sfzh={A}"},
        403,
        "item_not_granted",
    ),
    "asked item outside the grant": (
        {"items": ["sfzh", "xm"]},
        None,
        lambda c: {"query": f"sfzh={A}&items=csrq"},
        403,
        "item_not_granted",
    ),
    "no condition": ({}, None, lambda c: {"query": ""}, 422, "lookup_invalid"),
    "two conditions": ({}, None, lambda c: {"query": f"sfzh={A}&sjhm=13812345678"}, 422, "lookup_invalid"),
    "empty value": ({}, None, lambda c: {"query": "sfzh=%20"}, 422, "lookup_invalid"),
    "value too long": ({}, None, lambda c: {"query": "sfzh=" + "1" * 201}, 422, "lookup_invalid"),
    "not an indexed item": (
        {},
        None,
        lambda c: {"query": "xm=%E5%BC%A0%E4%B8%89%E4%B8%B0"},
        422,
        "lookup_not_indexed",
    ),
    "unknown item": ({}, None, lambda c: {"query": "foo=1"}, 403, "item_not_granted"),
    "quota used up": (
        {"daily_quota": 1},
        lambda c: GrantUsage.objects.create(grant=c["grant"], day=timezone.localdate(), calls=1),
        lambda c: {"query": f"sfzh={A}"},
        429,
        "quota_exceeded",
    ),
    "quota left": ({"daily_quota": 5}, None, lambda c: {"query": f"sfzh={A}"}, 200, None),
    "NUL in the code (the declared type refuses it)": (
        {},
        None,
        lambda c: {"path": "/api/v1/share/\x00/000001/records", "query": f"sfzh={A}"},
        422,
        "invalid_request",
    ),
    "NUL in the code, no token": (
        {},
        None,
        lambda c: {"token": None, "path": "/api/v1/share/\x00/000001/records", "query": f"sfzh={A}"},
        401,
        "not_authenticated",
    ),
    "HEAD is not a route": ({}, None, lambda c: {"method": "HEAD", "query": f"sfzh={A}"}, 405, None),
    "POST is not a route": ({}, None, lambda c: {"method": "POST", "body": {"sfzh": A}}, 405, None),
    "trailing slash": (
        {},
        None,
        lambda c: {"path": path(c["resource"], "records/"), "query": f"sfzh={A}"},
        404,
        None,
    ),
}

VERIFY = {
    "match": ({}, None, lambda c: {"body": {"items": {"sfzh": A, "xm": "张三丰"}}}, 200, None),
    "miss, by names, case and spaces": (
        {},
        None,
        lambda c: {
            "body": {"items": {"公民身份号码": A.lower(), "姓名": " 张三丰 ", "出生日期": "1980-01-02"}}
        },
        200,
        None,
    ),
    "by indexed item": (
        {},
        None,
        lambda c: {"body": {"items": {"sjhm": "13812345678", "xm": "王五"}}},
        200,
        None,
    ),
    "extra body keys are ignored": ({}, None, lambda c: {"body": {"items": {"sfzh": A}, "x": 1}}, 200, None),
    "row outside the filter": (
        {"row_filter": [{"item": "xb", "op": "eq", "values": ["女"]}]},
        None,
        lambda c: {"body": {"items": {"sfzh": A, "xm": "张三丰"}}},
        200,
        None,
    ),
    "no token": (
        {},
        None,
        lambda c: {"token": None, "body": {"items": {"sfzh": A}}},
        401,
        "not_authenticated",
    ),
    "revoked token": ({}, _revoke, lambda c: {"body": {"items": {"sfzh": A}}}, 401, "token_revoked"),
    "suspended grant": (
        {"status": GrantStatus.SUSPENDED},
        None,
        lambda c: {"body": {"items": {"sfzh": A}}},
        403,
        "grant_suspended",
    ),
    "method not granted": (
        {"methods": ["query"]},
        None,
        lambda c: {"body": {"items": {"sfzh": A}}},
        403,
        "method_not_granted",
    ),
    "item outside the grant": (
        {"items": ["sfzh"]},
        None,
        lambda c: {"body": {"items": {"sfzh": A, "xm": "张三丰"}}},
        403,
        "item_not_granted",
    ),
    "no items": ({}, None, lambda c: {"body": {"items": {}}}, 422, "verify_invalid"),
    "no locating item": ({}, None, lambda c: {"body": {"items": {"xm": "张三丰"}}}, 422, "verify_invalid"),
    "too many items": (
        {},
        None,
        lambda c: {"body": {"items": {f"x{i}": "1" for i in range(51)}}},
        422,
        "verify_invalid",
    ),
    "a lone surrogate, once the primary item is known": (
        {},
        None,
        lambda c: {"body": {"items": {"sfzh": "\ud800", "xm": "张三丰"}}},
        422,
        "invalid_request",
    ),
    "a value that is a list": (
        {},
        None,
        lambda c: {"body": {"items": {"sfzh": A, "xm": ["张三丰"]}}},
        422,
        "validation_failed",
    ),
    "throttled": (
        {},
        lambda c: c["settings"].__setattr__("GOVSHARE_VERIFY_MISSES_PER_HOUR", 0),
        lambda c: {"body": {"items": {"sfzh": A, "xm": "张三丰"}}},
        429,
        "verify_throttled",
    ),
    # Bodies VerifyIn does not accept go to the API, which refuses them after authentication.
    "not JSON": ({}, None, lambda c: {"body": b"{items"}, 400, None),
    "items not an object": ({}, None, lambda c: {"body": {"items": [A]}}, 422, "invalid_request"),
    "no items key": ({}, None, lambda c: {"body": {"sfzh": A}}, 422, "invalid_request"),
    "a JSON list": ({}, None, lambda c: {"body": [1, 2]}, 422, "invalid_request"),
    "empty body": ({}, None, lambda c: {"body": None}, 422, "invalid_request"),
    "bad body, no token": ({}, None, lambda c: {"token": None, "body": b"{items"}, 401, "not_authenticated"),
    "NUL in a value (the declared type refuses it)": (
        {},
        None,
        lambda c: {"body": {"items": {"sfzh": A, "xm": "张\x00"}}},
        422,
        "invalid_request",
    ),
    "GET is not a route": ({}, None, lambda c: {"method": "GET", "query": f"sfzh={A}"}, 405, None),
}


def run_case(apps, ctx, case, tail, default_method):
    fields, setup, request, status, code = case
    if fields is not None:
        ctx["grant"] = make_grant(ctx["city"], ctx["resource"], ctx["systems"]["civil"], **fields)
    if setup:
        setup(ctx)
    kw = request(ctx)
    token = kw.pop("token", ctx["systems"]["civil_token"])
    headers = kw.pop("headers", {})
    if token is not None:
        headers = {**bearer(token), **headers}
    method = kw.pop("method", default_method)
    target = kw.pop("path", path(ctx["resource"], tail))
    if tail == "verify":  # as after an earlier call: the record is read with the credential
        gate._primary_names[ctx["resource"].code] = ("sfzh", "公民身份号码")

    def reset():  # state one call changes and the next would see: throttle counters, today's quota count
        cache.clear()
        GrantUsage.objects.filter(grant__daily_quota=5).delete()

    got_status, _, content, events = both(apps, method, target, headers=headers, reset=reset, **kw)
    assert got_status == status, content
    if code is not None:
        assert json.loads(content)["code"] == code
    if status >= 400:
        assert A not in content.decode() and "张三丰" not in content.decode()
    # One audit event per call that reached the gate, refusals included; none for what never did (a
    # malformed body after authentication, an unknown route or method) nor, as before, for a verification
    # value of the wrong type.
    unaudited = (None, "invalid_request", "validation_failed")
    assert len(events) == (1 if status == 200 or code not in unaudited else 0), events
    return content, events


@pytest.fixture
def ctx(city, loaded, systems, settings):
    return {"city": city, "resource": loaded, "systems": systems, "settings": settings}


@pytest.mark.parametrize("name", list(RECORDS))
def test_records_answers_like_the_api(apps, ctx, name):  # R-SHARE-10, R-SEC-01, R-SEC-05
    content, events = run_case(apps, ctx, RECORDS[name], "records", "GET")
    if name == "by primary key, masked, with a case id":
        body = json.loads(content)
        assert (
            body["records"][0]["sfzh"] == A[:6] + "********" + A[-4:] and body["records"][0]["xm"] == "张**"
        )
        event = dict(zip(EVENT_FIELDS, events[0], strict=True))
        assert event["case_id"] == "BJ-2026-001" and event["request_id"] == "req-fast-1"
        assert event["client_system"] == "dibao" and event["source_ip"] == "10.0.0.7"


@pytest.mark.parametrize("name", list(VERIFY))
def test_verify_answers_like_the_api(apps, ctx, name):  # R-SHARE-19, R-SEC-01, R-SEC-05
    content, _ = run_case(apps, ctx, VERIFY[name], "verify", "POST")
    if name == "match":
        assert json.loads(content)["match"] is True


def test_the_fast_routes_are_on():
    """They step aside when sharing/api.py's handler signatures change (the API then answers everything);
    test_a_lookup_by_primary_key_is_two_statements shows the deployed chain takes them."""
    from govshare.sharing.fast import FastRoutes

    assert FastRoutes(lambda request: None).enabled


def test_records_under_verification_are_flagged_alike(apps, ctx, settings):  # R-CORR-07
    from govshare.catalog.models import Resource
    from govshare.corrections import services as corrections

    settings.GOVSHARE_PROFILE = "chenzhou"
    grant = make_grant(ctx["city"], ctx["resource"], ctx["systems"]["civil"])
    ticket = corrections.raise_ticket(
        None,
        client=ctx["systems"]["civil"],
        grant=grant,
        resource=Resource.objects.select_related("provider").get(pk=ctx["resource"].pk),
        record_key=B,
        items=["csrq"],
        description="出生日期与出生医学证明不符",
    )
    headers = bearer(ctx["systems"]["civil_token"])
    _, _, content, _ = both(apps, "GET", path(ctx["resource"], "records"), query=f"sfzh={B}", headers=headers)
    info = json.loads(content)["record_info"][0]
    assert info["under_verification"] is True and info["ticket"] == ticket.number
    _, _, content, _ = both(apps, "GET", path(ctx["resource"], "records"), query=f"sfzh={A}", headers=headers)
    assert json.loads(content)["record_info"][0]["under_verification"] is False
    body = {"items": {"sfzh": B, "xm": "李四"}}
    _, _, content, _ = both(apps, "POST", path(ctx["resource"], "verify"), body=body, headers=headers)
    assert json.loads(content)["under_verification"] is True


def test_grants_are_tried_newest_first_alike(apps, ctx):  # R-SHARE-10
    city, resource, civil = ctx["city"], ctx["resource"], ctx["systems"]["civil"]
    older = make_grant(
        city, resource, civil, valid_from=dt.date(2020, 1, 1), valid_until=dt.date(2020, 12, 31)
    )
    newer = make_grant(city, resource, civil, status=GrantStatus.SUSPENDED)
    headers = bearer(ctx["systems"]["civil_token"])
    status, _, content, _ = both(apps, "GET", path(resource, "records"), query=f"sfzh={A}", headers=headers)
    assert status == 403 and json.loads(content)["detail"] == {"grant": newer.number}
    # Created at the same instant: the higher id counts as the newer one.
    Grant.objects.filter(pk__in=[older.pk, newer.pk]).update(created_at=older.created_at)
    status, _, content, _ = both(apps, "GET", path(resource, "records"), query=f"sfzh={A}", headers=headers)
    assert json.loads(content)["detail"] == {"grant": newer.number}
    usable = make_grant(city, resource, civil, items=["sfzh", "xm"])
    status, _, content, _ = both(apps, "GET", path(resource, "records"), query=f"sfzh={A}", headers=headers)
    assert status == 200 and json.loads(content)["grant"] == usable.number
    # X-Grant picks one by number, even an unusable one (which then refuses).
    picked = {**headers, "X-Grant": older.number}
    status, _, content, _ = both(apps, "GET", path(resource, "records"), query=f"sfzh={A}", headers=picked)
    assert status == 403 and json.loads(content)["code"] == "grant_expired"


def test_revocation_and_suspension_hold_on_the_very_next_call(apps, ctx):  # R-SEC-01, R-SHARE-18
    fast, _ = apps
    city, systems = ctx["city"], ctx["systems"]
    grant = make_grant(city, ctx["resource"], systems["civil"])
    headers = bearer(systems["civil_token"])
    target = path(ctx["resource"], "records")
    assert wsgi(fast, "GET", target, query=f"sfzh={A}", headers=headers)[0] == 200
    sharing.suspend_grant(city.police_officer, Grant.objects.get(pk=grant.pk), "超范围使用")
    status, _, content = wsgi(fast, "GET", target, query=f"sfzh={A}", headers=headers)
    assert status == 403 and json.loads(content)["code"] == "grant_suspended"
    sharing.resume_grant(city.police_officer, Grant.objects.get(pk=grant.pk), "整改完成")
    assert wsgi(fast, "GET", target, query=f"sfzh={A}", headers=headers)[0] == 200
    _revoke(ctx)
    status, _, content = wsgi(fast, "GET", target, query=f"sfzh={A}", headers=headers)
    assert status == 401 and json.loads(content)["code"] == "token_revoked"


def test_a_lookup_by_primary_key_is_two_statements(apps, ctx, django_assert_num_queries):  # R-SHARE-20
    """As deployed: the credential, resource, grants, open-ticket flag and the record under the asked
    primary key in one query, then the audit event. The API's own path reads the record on its own."""
    make_grant(ctx["city"], ctx["resource"], ctx["systems"]["civil"])
    headers = bearer(ctx["systems"]["civil_token"])
    target = path(ctx["resource"], "records")
    fast, ninja = apps
    for app, statements in ((fast, 2), (ninja, 3)):
        assert wsgi(app, "GET", target, query=f"sfzh={C}", headers=headers)[0] == 200  # last_used_at
        with django_assert_num_queries(statements):
            status, _, content = wsgi(app, "GET", target, query=f"sfzh={C}", headers=headers)
        assert status == 200 and json.loads(content)["records"][0]["xm"] == "王五"
    # 核验 names its items in any order; the gate has seen which one is the primary item
    body = {"items": {"xm": "王五", "公民身份号码": C}}
    with django_assert_num_queries(2):
        status, _, content = wsgi(fast, "POST", path(ctx["resource"], "verify"), body=body, headers=headers)
    assert status == 200 and json.loads(content)["match"] is True


def test_the_record_read_early_answers_only_its_own_key(apps, ctx, django_assert_num_queries):
    """A lookup by another item, a stale guess of the primary item and a deleted record all take the
    lookup's own query, and answer as the API does.  # R-SHARE-20, R-COL-05"""
    from govshare.collect.models import Record

    resource = ctx["resource"]
    make_grant(ctx["city"], resource, ctx["systems"]["civil"])
    headers = bearer(ctx["systems"]["civil_token"])
    fast, _ = apps
    assert wsgi(fast, "GET", path(resource, "records"), query=f"sfzh={C}", headers=headers)[0] == 200
    with django_assert_num_queries(3):  # the phone number is read as a key first, and is none
        status, _, content = wsgi(
            fast, "GET", path(resource, "records"), query="sjhm=13812345678", headers=headers
        )
    assert status == 200 and sorted(r["xm"] for r in json.loads(content)["records"]) == ["张三丰", "王五"]
    gate._primary_names[resource.code] = ("xm", "姓名")  # as if a catalog version had changed it
    body = {"items": {"sfzh": C, "xm": "王五"}}
    with django_assert_num_queries(3):
        status, _, content = wsgi(fast, "POST", path(resource, "verify"), body=body, headers=headers)
    assert status == 200 and json.loads(content)["match"] is True
    assert gate._primary_names[resource.code] == ("sfzh", "公民身份号码")  # corrected by the call
    Record.objects.filter(resource=resource, key=C).update(deleted=True)
    _, _, content, _ = both(apps, "GET", path(resource, "records"), query=f"sfzh={C}", headers=headers)
    assert json.loads(content)["count"] == 0


def test_the_record_read_early_is_this_resources_own(apps, ctx, published):  # R-SHARE-20, R-SEC-01
    """Another resource holding a record under the same key lends it nothing."""
    from tests.conftest import PEOPLE_ITEMS
    from tests.test_collect_load import ric

    from govshare.collect.services import load_rows

    city = ctx["city"]
    other = published(
        officer=city.police_officer, name="流动人口", provider=city.police.pk, items=PEOPLE_ITEMS
    )
    elsewhere = ric("32010219750505003")
    load_rows(
        other,
        [{"sfzh": elsewhere, "xm": "赵六", "xb": "男", "csrq": "1975-05-05"}],
        actor=city.police_officer,
    )
    make_grant(city, ctx["resource"], ctx["systems"]["civil"])
    headers = bearer(ctx["systems"]["civil_token"])
    gate._primary_names[ctx["resource"].code] = ("sfzh", "公民身份号码")
    _, _, content, _ = both(
        apps, "GET", path(ctx["resource"], "records"), query=f"sfzh={elsewhere}", headers=headers
    )
    assert json.loads(content)["count"] == 0
    body = {"items": {"sfzh": elsewhere, "xm": "赵六"}}
    _, _, content, _ = both(apps, "POST", path(ctx["resource"], "verify"), body=body, headers=headers)
    assert json.loads(content)["match"] is False


def test_the_change_feed_reads_credential_and_grants_at_once(apps, ctx, django_assert_num_queries):
    """/changes (the API's path only): the credential with the resource and grants, the feed's own
    reads, the audit event; a second credential query would make it one more.  # R-SHARE-20"""
    _, ninja = apps
    make_grant(ctx["city"], ctx["resource"], ctx["systems"]["civil"])
    headers = bearer(ctx["systems"]["civil_token"])
    target = path(ctx["resource"], "changes")
    assert wsgi(ninja, "GET", target, query="cursor=0", headers=headers)[0] == 200
    with django_assert_num_queries(3):
        status, _, content = wsgi(ninja, "GET", target, query="cursor=0", headers=headers)
    assert status == 200 and json.loads(content)["changes"], content


def test_built_instances_equal_the_orms(ctx):
    """rawsql.build makes the same instance as Model.from_db (the ORM's way), without __init__."""
    grant = make_grant(ctx["city"], ctx["resource"], ctx["systems"]["civil"], masks={"xm": "keep:1:0"})
    wrapper = rawsql.current()
    row = rawsql.fetch(
        f"SELECT {rawsql.columns('g', Grant, gate._GRANT)} FROM sharing_grant g WHERE g.id = %s", [grant.pk]
    )[0]
    built = rawsql.build(Grant, gate._GRANT, row, wrapper)
    orm = Grant.objects.only(*[n.removesuffix("_id") for n in gate._GRANT]).get(pk=grant.pk)
    fields = {n: getattr(orm, n) for n in gate._GRANT}
    assert {n: getattr(built, n) for n in gate._GRANT} == fields
    assert built.get_deferred_fields() == orm.get_deferred_fields()
    assert (built._state.adding, built._state.db) == (
        False,
        "default",
    ) and built.created_at.tzinfo is not None
    assert built.application.pk == grant.application_id  # a deferred relation loads on access, as the ORM's
    event = rawsql.new(AuditEvent, {f: "" for f in ("actor", "action")} | {"detail": {}})
    assert isinstance(event, AuditEvent) and event.result == "ok"  # not every field given: Model.__init__


def test_converted_values_are_never_shared(ctx, settings):
    """rawsql keeps converted JSON and dates per raw value, but every instance gets its own JSON objects,
    and a time zone change forgets what was converted."""
    grant = make_grant(ctx["city"], ctx["resource"], ctx["systems"]["civil"], masks={"xm": "keep:1:0"})
    sql = f"SELECT {rawsql.columns('g', Grant, gate._GRANT)} FROM sharing_grant g WHERE g.id = %s"
    first = rawsql.build(Grant, gate._GRANT, rawsql.fetch(sql, [grant.pk])[0])
    first.items.append("changed")
    first.masks["xm"] = "null"
    second = rawsql.build(Grant, gate._GRANT, rawsql.fetch(sql, [grant.pk])[0])
    assert second.items == ALL and second.masks == {"xm": "keep:1:0"}
    assert second.created_at == first.created_at
    assert rawsql.current().__dict__.get("_govshare_converters")
    settings.TIME_ZONE = "UTC"
    assert "_govshare_converters" not in rawsql.current().__dict__


def test_only_a_plain_lookup_value_is_read_with_the_credential():
    """What could not go into the query (or could not be a key) is not guessed at: no early read."""
    gate._primary_names["301/000009"] = ("sfzh", "公民身份号码")
    assert gate.lookup_key("301/000009", "records", {"sfzh": f" {A} ", "items": "xm"}) == A
    assert gate.lookup_key("301/000009", "verify", {"xm": "张三丰", "公民身份号码": 4301}) == "4301"
    for given in ({"sfzh": "\ud800"}, {"sfzh": "a\x00"}, {"sfzh": "9" * 201}, {"sfzh": " "}):
        assert gate.lookup_key("301/000009", "records", given) is None
    assert gate.lookup_key("301/000009", "records", {"sfzh": A, "xm": "张三丰"}) is None  # two lookups
    assert gate.lookup_key("301/000009", "verify", {"sfzh": 1.5}) is None
    assert gate.lookup_key("301/000009", "verify", {"sfzh": True}) is None
    assert gate.lookup_key("301/000010", "verify", {"sfzh": A}) is None  # primary item not yet seen
