"""Provider interfaces proxied through the gate (R-SHARE-15 封装发布).

An interface-type catalog entry stands for the provider's own service (collect.ProviderInterface, the
active registration is the current one). A consumer never calls that service directly: it calls
/share/CLS/SEQ/interface/PATH with its client token, the gate checks the grant ('query' method,
validity, status, filing, quota), and the call is forwarded with the consumer's identity in headers
the provider can log — never with the consumer's platform token.

The payload is opaque to the platform: a grant's items, masks and row filter are NOT applied to what
the provider's interface answers. The provider shapes its own answers; the grant decides who may call,
how often and until when. Every call is audited with the upstream status.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from typing import NoReturn
from urllib.parse import quote, urlsplit, urlunsplit

from django.conf import settings
from django.http import HttpResponse

from govshare.collect.models import ProviderInterface
from govshare.errors import DomainError

from . import gate

# Caller headers that never reach the provider: the platform credential and cookies, hop-by-hop
# headers, and the headers the platform itself sets.
DROPPED = {
    "authorization",
    "cookie",
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "accept-encoding",  # relay bodies as they are; no decoding on the way back
    "x-grant",
    "x-case-id",
    "x-request-id",
}
DROPPED_PREFIXES = ("x-govshare-", "x-forwarded-")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is relayed as an answer, never followed: the provider's URL is the only place called."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def _bad_path(path: str) -> bool:
    if not path or path.startswith("/") or "\\" in path:
        return True
    if any(ord(c) < 0x20 or c == "\x7f" for c in path):
        return True
    # Django has decoded the path once; a "%" or ";" left in it is a second encoding ("%2e%2e") or a
    # matrix parameter ("..;"), which servers upstream may still read as "..": refuse both outright.
    if "%" in path or ";" in path:
        return True
    segments = path.split("/")
    if any(s in ("..", ".") for s in segments):
        return True
    return ":" in segments[0]  # "http:", "file:" ...: a scheme, not a path under the provider's URL


def _target(base: str, path: str, query: str) -> str:
    b = urlsplit(base)
    full = b.path.rstrip("/") + "/" + quote(path, safe="/-._~!$&'()*+,=:@")
    query = "&".join(q for q in (b.query, query) if q)
    url = urlunsplit((b.scheme, b.netloc, full, query, ""))
    t = urlsplit(url)
    # Belt and braces: whatever the path held, the call stays on the registered host and below its path.
    if (t.scheme, t.netloc) != (b.scheme, b.netloc) or not t.path.startswith(b.path.rstrip("/") + "/"):
        raise ValueError("target leaves the registered interface")
    return url


def forward(access: gate.Access, request, path: str) -> HttpResponse:
    if _bad_path(path):
        access.deny(
            "invalid_path", "接口路径不能包含“..”、“%”、“;”、协议或主机名", {"path": path[:200]}, status=400
        )
    iface = (
        ProviderInterface.objects.filter(resource_id=access.resource.pk, active=True)
        .order_by("-version")
        .first()
    )
    if iface is None:
        access.deny("interface_not_mounted", "该目录尚未挂接可用的接口服务，请联系提供部门", status=404)
    try:
        url = _target(iface.url, path, request.META.get("QUERY_STRING", ""))
    except ValueError:
        access.deny(
            "invalid_path", "接口路径不能包含“..”、“%”、“;”、协议或主机名", {"path": path[:200]}, status=400
        )
    headers = {
        k: v
        for k, v in request.headers.items()
        if k.lower() not in DROPPED and not k.lower().startswith(DROPPED_PREFIXES)
    }
    headers["X-Govshare-Consumer"] = access.client.department.uscc or ""
    headers["X-Govshare-Grant"] = access.grant.number
    headers["X-Govshare-Client"] = access.client.code
    if access.case_id:
        headers["X-Case-Id"] = access.case_id
    body = request.body if request.method == "POST" else None
    upstream = urllib.request.Request(url, data=body, headers=headers, method=request.method)
    limit = settings.GOVSHARE_PROXY_MAX_BYTES
    audit = {"path": path[:200], "interface_version": iface.version}

    def failed(reason: str, message: str, status: int, **extra) -> NoReturn:
        access.error(reason, {**audit, **extra})
        raise DomainError(reason, message, {"grant": access.grant.number}, status=status)

    try:
        resp = _opener.open(upstream, timeout=settings.GOVSHARE_PROXY_TIMEOUT)
    except urllib.error.HTTPError as exc:  # the provider answered, with a 3xx/4xx/5xx: relay it
        resp = exc
    except TimeoutError:
        failed("upstream_timeout", "提供部门接口响应超时，请稍后重试", 504)
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            failed("upstream_timeout", "提供部门接口响应超时，请稍后重试", 504)
        failed("upstream_unavailable", "提供部门接口暂不可用，请稍后重试", 502)
    except (OSError, http.client.HTTPException, ValueError):
        failed("upstream_unavailable", "提供部门接口暂不可用，请稍后重试", 502)
    try:
        status = resp.status if resp.status is not None else resp.code
        content_type = resp.headers.get("Content-Type", "") or "application/octet-stream"
        declared = resp.headers.get("Content-Length", "")
        if declared.isdecimal() and int(declared) > limit:
            failed("upstream_too_large", _too_large_message(limit), 502, upstream_status=status)
        data = resp.read(limit + 1)
    except TimeoutError:
        failed("upstream_timeout", "提供部门接口响应超时，请稍后重试", 504)
    except (OSError, http.client.HTTPException):
        failed("upstream_unavailable", "提供部门接口暂不可用，请稍后重试", 502)
    finally:
        resp.close()
    if len(data) > limit:
        failed("upstream_too_large", _too_large_message(limit), 502, upstream_status=status)
    if status >= 500:
        access.error("upstream_error", {**audit, "upstream_status": status, "bytes": len(data)})
    else:
        access.done(0, (), upstream_status=status, bytes=len(data), **audit)
    out = HttpResponse(data, status=status, content_type=content_type)
    out["X-Govshare-Grant"] = access.grant.number
    # The answer is the provider's, served from the platform's origin: a browser must never run it.
    out["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return out


def _too_large_message(limit: int) -> str:
    return f"提供部门接口返回的数据超过 {limit // (1024 * 1024) or 1} MB 上限，请缩小查询范围"
