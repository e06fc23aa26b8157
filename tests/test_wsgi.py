"""The served WSGI application: the delivery API goes through the short middleware chain, pages through
the full one, and both answer correctly."""

import io
from wsgiref.util import setup_testing_defaults

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def call(app, path, headers=None, query=""):
    environ = {"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO()}
    for k, v in (headers or {}).items():
        environ["HTTP_" + k.upper().replace("-", "_")] = v
    setup_testing_defaults(environ)
    environ["SERVER_NAME"] = environ["HTTP_HOST"] = "testserver"
    got = {}

    def start_response(status, response_headers, exc_info=None):
        got["status"], got["headers"] = status, dict(response_headers)

    body = b"".join(app(environ, start_response))
    return int(got["status"].split()[0]), got["headers"], body


def test_delivery_calls_take_the_short_chain_and_pages_the_full_one(city):  # R-SEC-05
    from govshare.audit.models import AuditEvent
    from govshare.wsgi import application

    status, headers, body = call(application, "/api/v1/share/301/000001/records", query="sfzh=1")
    assert status == 401 and b"not_authenticated" in body
    assert "X-Request-ID" in headers  # the request id middleware ran; the refusal is audited under it
    event = AuditEvent.objects.order_by("-seq").first()
    assert event.result == "denied" and event.request_id == headers["X-Request-ID"]
    assert "Set-Cookie" not in headers and "Vary" not in headers  # no session, CSRF or locale middleware
    status, headers, _ = call(application, "/login/")
    assert status == 200 and "csrftoken" in headers.get("Set-Cookie", "")
