"""Provider interfaces behind the gate: forwarded only for a usable grant, every call audited (R-SHARE-15)."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from tests import test_sharing_gate as g

from govshare.audit.models import AuditEvent
from govshare.collect import mounts
from govshare.sharing.models import GrantStatus

systems = g.systems
call, make_grant = g.call, g.make_grant

OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "营业执照查询接口", "version": "1.0"},
    "paths": {"/licenses/{uscc}": {"get": {"summary": "按统一社会信用代码查询营业执照"}}},
}


class Upstream:
    """A provider's service on 127.0.0.1: records what reached it and answers as told."""

    def __init__(self):
        self.calls: list[dict] = []
        self.status = 200
        self.content_type = "application/json; charset=utf-8"
        self.body = json.dumps({"qymc": "郴州市某某有限公司", "zt": "存续"}, ensure_ascii=False).encode()
        self.release = threading.Event()
        self.hang = False
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                upstream.calls.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers.items()),
                        "body": self.rfile.read(length) if length else b"",
                    }
                )
                if upstream.hang:
                    upstream.release.wait(10)
                self.send_response(upstream.status)
                self.send_header("Content-Type", upstream.content_type)
                self.send_header("Content-Length", str(len(upstream.body)))
                self.end_headers()
                self.wfile.write(upstream.body)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v2"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream():
    server = Upstream()
    yield server
    server.close()


@pytest.fixture
def service(city, published):
    return published(
        name="营业执照查询服务",
        mount_kind="interface",
        mount_ref="市场监管局营业执照查询接口",
        format_category="interface",
        format_type="REST",
        share_methods=["query"],
    )


@pytest.fixture
def mounted(city, service, upstream):
    mounts.register_interface(city.market_officer, service, upstream.url, "GET", json.dumps(OPENAPI), "")
    return service


def iface(resource, tail):
    return f"/api/v1/share/{resource.code}/interface/{tail}"


def last_event():
    return AuditEvent.objects.order_by("-seq").first()


def test_calls_are_forwarded_with_the_consumers_identity_not_its_token(
    city, mounted, systems, upstream
):  # R-SHARE-15
    grant = make_grant(city, mounted, systems["civil"], items=[], methods=["query"])
    r = call(
        systems["civil_token"],
        "get",
        iface(mounted, "licenses/91431000MA4L0000XX") + "?fields=qymc,zt&lang=zh",
        headers={"X-Case-Id": "BJ-2026-009", "Accept": "application/json", "Cookie": "sessionid=abc"},
    )
    assert r.status_code == 200, r.content
    assert r["Content-Type"] == "application/json; charset=utf-8"
    assert r.json() == {"qymc": "郴州市某某有限公司", "zt": "存续"}
    assert "sandbox" in r["Content-Security-Policy"]
    (seen,) = upstream.calls
    assert seen["method"] == "GET"
    assert seen["path"] == "/api/v2/licenses/91431000MA4L0000XX?fields=qymc,zt&lang=zh"
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert "authorization" not in headers and "cookie" not in headers
    assert systems["civil_token"] not in json.dumps(seen["headers"])
    assert headers["x-govshare-consumer"] == city.civil.uscc
    assert headers["x-govshare-grant"] == grant.number
    assert headers["x-case-id"] == "BJ-2026-009"
    assert headers["accept"] == "application/json"
    ev = last_event()
    assert (ev.action, ev.result, ev.object_id, ev.case_id) == (
        "share.interface",
        "ok",
        str(grant.pk),
        "BJ-2026-009",
    )
    assert ev.detail["upstream_status"] == 200 and ev.detail["path"] == "licenses/91431000MA4L0000XX"
    assert ev.client_system == "dibao" and ev.department_id == city.civil.pk


def test_post_body_is_forwarded_and_upstream_errors_are_relayed(
    city, mounted, systems, upstream
):  # R-SHARE-15
    make_grant(city, mounted, systems["civil"], items=[], methods=["query"])
    upstream.status, upstream.body = 404, b'{"error": "not found"}'
    r = call(
        systems["civil_token"], "post", iface(mounted, "licenses"), data={"uscc": ["91431000MA4L0000XX"]}
    )
    assert r.status_code == 404 and r.json() == {"error": "not found"}
    (seen,) = upstream.calls
    assert seen["method"] == "POST" and json.loads(seen["body"]) == {"uscc": ["91431000MA4L0000XX"]}
    assert seen["headers"]["Content-Type"] == "application/json"
    assert (last_event().result, last_event().detail["upstream_status"]) == ("ok", 404)
    upstream.status = 500
    r = call(systems["civil_token"], "get", iface(mounted, "licenses"))
    assert r.status_code == 500
    assert (last_event().result, last_event().detail["upstream_status"]) == ("error", 500)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"status": GrantStatus.SUSPENDED, "status_reason": "超范围使用"}, "grant_suspended"),
        ({"methods": ["verify"]}, "method_not_granted"),
    ],
    ids=["suspended grant", "method not granted"],
)
def test_an_unusable_grant_never_reaches_the_provider(
    city, mounted, systems, upstream, fields, code
):  # R-SHARE-15, R-SHARE-18
    grant = make_grant(city, mounted, systems["civil"], **{"items": [], "methods": ["query"], **fields})
    r = call(systems["civil_token"], "get", iface(mounted, "licenses/1"))
    assert r.status_code == 403 and r.json()["code"] == code
    assert upstream.calls == []
    ev = last_event()
    assert (ev.action, ev.result, ev.object_id, ev.detail["reason"]) == (
        "share.interface",
        "denied",
        str(grant.pk),
        code,
    )


def test_provider_down_is_502_and_audited(city, service, systems):  # R-SHARE-15
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there any more
    mounts.register_interface(
        city.market_officer, service, f"http://127.0.0.1:{port}/api", "GET", json.dumps(OPENAPI), ""
    )
    grant = make_grant(city, service, systems["civil"], items=[], methods=["query"])
    r = call(systems["civil_token"], "get", iface(service, "licenses/1"))
    assert r.status_code == 502
    assert r.json()["code"] == "upstream_unavailable" and set(r.json()) == {"code", "message", "detail"}
    ev = last_event()
    assert (ev.action, ev.result, ev.detail["reason"], ev.object_id) == (
        "share.interface",
        "error",
        "upstream_unavailable",
        str(grant.pk),
    )


def test_a_slow_provider_is_504(city, mounted, systems, upstream, settings):  # R-SHARE-15
    settings.GOVSHARE_PROXY_TIMEOUT = 0.3
    upstream.hang = True
    make_grant(city, mounted, systems["civil"], items=[], methods=["query"])
    r = call(systems["civil_token"], "get", iface(mounted, "licenses/1"))
    upstream.release.set()
    assert r.status_code == 504 and r.json()["code"] == "upstream_timeout"
    assert last_event().detail["reason"] == "upstream_timeout"


def test_an_oversized_answer_is_not_relayed(city, mounted, systems, upstream, settings):  # R-SHARE-15
    settings.GOVSHARE_PROXY_MAX_BYTES = 16
    make_grant(city, mounted, systems["civil"], items=[], methods=["query"])
    r = call(systems["civil_token"], "get", iface(mounted, "licenses/1"))
    assert r.status_code == 502 and r.json()["code"] == "upstream_too_large"
    assert "郴州市某某有限公司" not in r.content.decode()
    assert (last_event().result, last_event().detail["upstream_status"]) == ("error", 200)


@pytest.mark.parametrize(
    "tail",
    [
        "../secret",
        "licenses/%2e%2e/%2e%2e/admin",
        "licenses/%252e%252e/%252e%252e/admin",  # decoded once by Django, still ".." upstream
        "licenses/..;/admin",  # read as ".." by servlet containers
        "http://evil.example/x",
        "licenses/./../x",
    ],
)
def test_paths_cannot_leave_the_registered_interface(city, mounted, systems, upstream, tail):  # R-SEC-05
    make_grant(city, mounted, systems["civil"], items=[], methods=["query"])
    r = call(systems["civil_token"], "get", iface(mounted, tail))
    assert r.status_code == 400, r.content
    assert r.json()["code"] == "invalid_path" and last_event().detail["reason"] == "invalid_path"
    assert upstream.calls == []


def test_no_registered_interface_is_404(city, service, systems):  # R-CAT-16
    make_grant(city, service, systems["civil"], items=[], methods=["query"])
    r = call(systems["civil_token"], "get", iface(service, "licenses/1"))
    assert r.status_code == 404 and r.json()["code"] == "interface_not_mounted"


# ---------------------------------------------------------------- the security matrix


@pytest.mark.parametrize(
    ("token_key", "status_code", "code"),
    [(None, 401, "not_authenticated"), ("garbage", 401, "invalid_token"), ("market_token", 403, "no_grant")],
    ids=["no token", "garbage token", "another department's token"],
)
@pytest.mark.parametrize("verb", ["get", "post"])
def test_refused_interface_callers_never_reach_the_provider(
    city, mounted, systems, upstream, token_key, status_code, code, verb
):  # R-SEC-01, R-SEC-05
    make_grant(city, mounted, systems["civil"], items=[], methods=["query"])
    before = AuditEvent.objects.count()
    r = call(systems.get(token_key, token_key) if token_key else None, verb, iface(mounted, "licenses/1"))
    assert r.status_code == status_code, r.content
    assert r.json()["code"] == code and "qymc" not in r.content.decode()
    assert upstream.calls == []
    assert AuditEvent.objects.count() == before + 1
    ev = last_event()
    assert (ev.action, ev.result, ev.detail["reason"], ev.detail["resource"]) == (
        "share.interface",
        "denied",
        code,
        mounted.code,
    )
