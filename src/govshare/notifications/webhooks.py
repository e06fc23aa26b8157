"""Department webhooks: every notice to a department is POSTed, signed, to the receivers it registered.

A notice creates one `WebhookDelivery` per subscribed active webhook, in the same transaction as the
notice. The periodic tick (`deliver_due_webhooks`, called from `web.scheduler.run_tick`) POSTs the due
ones with urllib (5 s timeout, no redirects, no proxy), retries a failure after 1, 2, 4 … minutes (at
most `BACKOFF_CAP` apart) and gives up after `MAX_ATTEMPTS`; each POST is logged as a `WebhookAttempt`.

The body is JSON; `X-Govshare-Signature: sha256=<hex>` is HMAC-SHA256 over `<X-Govshare-Timestamp>.<body>`
with the webhook's secret — docs/webhooks.md shows a receiver checking it.
"""

import hashlib
import hmac
import http.client
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from govshare import __version__
from govshare.errors import IllegalTransition, NotFound, PermissionDenied, ValidationFailed

from . import events
from .models import DeliveryStatus, Notification, Webhook, WebhookAttempt, WebhookDelivery

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
TIMEOUT_SECONDS = 5.0
# A claimed delivery is hidden from other ticks for this long, so two processes never POST it twice.
CLAIM_LEASE = timedelta(minutes=5)
BATCH = 100
SIGNATURE_HEADER = "X-Govshare-Signature"
TIMESTAMP_HEADER = "X-Govshare-Timestamp"
EVENT_HEADER = "X-Govshare-Event"
DELIVERY_HEADER = "X-Govshare-Delivery"


# ------------------------------------------------------------------------------------------- signing


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, tolerance: int = 300, now: float | None = None
) -> bool:
    """What a receiver does: recompute the signature, compare in constant time, refuse stale timestamps."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except (TypeError, ValueError):
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature or "")


def payload(n: Notification) -> bytes:
    d = n.department
    doc = {
        "id": n.pk,
        "kind": n.kind,
        "title": n.title,
        "body": n.body,
        "link": n.link,
        "created_at": timezone.localtime(n.created_at).isoformat(),
        "department": {"id": d.pk, "name": d.name, "uscc": d.uscc} if d else None,
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed ones: 1, 2, 4, 8 … minutes, capped."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


# -------------------------------------------------------------------------------------- management


def can_manage(user) -> bool:
    """A department's officers and its head manage its webhooks."""
    from .services import EMAIL_ROLES

    if not (user.is_authenticated and user.is_active and user.department_id):
        return False
    return user.has_role(*EMAIL_ROLES) or user.department.head_id == user.pk


def _require_manager(user):
    if not can_manage(user):
        raise PermissionDenied("not_officer", "只有本部门的数据专员或主要负责人可以管理 Webhook")


def webhooks_for(user):
    _require_manager(user)
    return Webhook.objects.filter(department_id=user.department_id)


def get_webhook(user, pk: int) -> Webhook:
    """The webhook if it belongs to the person's department; another department's is simply not found."""
    hook = webhooks_for(user).filter(pk=pk).first()
    if hook is None:
        raise NotFound("webhook_not_found", "Webhook 不存在")
    return hook


def clean_url(url: str) -> str:
    url = (url or "").strip()

    def bad(message):
        return ValidationFailed(
            [{"field": "url", "label": "接收地址", "code": "invalid", "message": message}]
        )

    if not url:
        raise bad("请填写接收地址")
    if len(url) > 500 or any(c.isspace() for c in url):
        raise bad("接收地址不能含空白且不超过 500 个字符")
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 — raises on a malformed port
    except ValueError:
        raise bad("接收地址的端口无效") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad("接收地址必须是 http:// 或 https:// 开头的完整地址")
    if parts.username or parts.password:
        raise bad("接收地址不能包含用户名或密码")
    if _is_platform_internal(parts.hostname) and not getattr(
        settings, "GOVSHARE_WEBHOOK_ALLOW_LOOPBACK", False
    ):
        # Receivers sit on the government network (private ranges are fine), but the platform's own
        # loopback and link-local addresses (metadata services) are not a department's system.
        raise bad("接收地址不能指向平台本机或链路本地地址")
    return url


def _is_platform_internal(host: str) -> bool:
    import ipaddress

    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return ip.is_loopback or ip.is_link_local or ip.is_unspecified


def clean_kinds(kinds) -> list[str]:
    kinds = sorted({k for k in (kinds or []) if k})
    unknown = [k for k in kinds if k not in events.EVENTS]
    if unknown:
        raise ValidationFailed(
            [{"field": "kinds", "label": "订阅事件", "code": "unknown", "message": f"未知事件：{unknown[0]}"}]
        )
    return kinds


def create_webhook(user, url: str, kinds=()) -> tuple[Webhook, str]:
    """Register a receiver for the person's department; the secret is returned to show once."""
    _require_manager(user)
    secret = new_secret()
    hook = Webhook.objects.create(
        department_id=user.department_id,
        url=clean_url(url),
        secret=secret,
        kinds=clean_kinds(kinds),
        created_by=user,
    )
    return hook, secret


@transaction.atomic
def deactivate_webhook(user, webhook: Webhook) -> Webhook:
    webhook = get_webhook(user, webhook.pk)
    if not webhook.is_active:
        raise IllegalTransition("already_inactive", "该 Webhook 已停用")
    webhook.is_active = False
    webhook.deactivated_at = timezone.now()
    webhook.save(update_fields=["is_active", "deactivated_at"])
    webhook.deliveries.filter(status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED, next_attempt_at=None, last_error="Webhook 已停用，未投递"
    )
    return webhook


def redeliver(user, delivery: WebhookDelivery) -> WebhookDelivery:
    """Queue a failed delivery again for another full round of attempts."""
    hook = get_webhook(user, delivery.webhook_id)
    if not hook.is_active:
        raise IllegalTransition("inactive", "Webhook 已停用，不能重新投递")
    if delivery.status != DeliveryStatus.FAILED:
        raise IllegalTransition("not_failed", "只有投递失败的记录可以重新投递")
    WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    delivery.refresh_from_db()
    return delivery


# ---------------------------------------------------------------------------------------- delivery


def enqueue_deliveries(notifications: list[Notification]) -> int:
    """One pending delivery per (department notice × active webhook of that department wanting the kind)."""
    dept_ids = {n.department_id for n in notifications if n.department_id}
    if not dept_ids:
        return 0
    hooks = list(Webhook.objects.filter(department_id__in=dept_ids, is_active=True))
    if not hooks:
        return 0
    now = timezone.now()
    rows = [
        WebhookDelivery(webhook=h, notification=n, next_attempt_at=now)
        for n in notifications
        if n.department_id
        for h in hooks
        if h.department_id == n.department_id and h.wants(n.kind)
    ]
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: the signed body goes to the registered address or nowhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


# No proxy from the environment: receivers sit on the government network and are reached directly.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    """POST once; (status code or None, error text — empty on a 2xx)."""
    if urlsplit(url).scheme not in ("http", "https"):
        return None, "不支持的地址协议"
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(req, timeout=TIMEOUT_SECONDS) as resp:
            resp.read(64 * 1024)
            return resp.status, ""
    except urllib.error.HTTPError as e:
        try:
            detail = e.read(300).decode("utf-8", "replace").strip()
        except Exception:
            detail = ""
        finally:
            e.close()
        return e.code, f"HTTP {e.code} {e.reason}" + (f"：{detail}" if detail else "")
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, TimeoutError):
            return None, f"超时（{TIMEOUT_SECONDS:g} 秒）"
        return None, f"连接失败：{reason}"
    except TimeoutError:
        return None, f"超时（{TIMEOUT_SECONDS:g} 秒）"
    except (OSError, http.client.HTTPException, ValueError) as e:
        return None, f"{type(e).__name__}：{e}"


def attempt(delivery: WebhookDelivery, now=None) -> bool:
    """POST one delivery once, log the attempt and schedule the next one; True when delivered."""
    now = now or timezone.now()
    hook, n = delivery.webhook, delivery.notification
    body = payload(n)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": f"govshare-webhook/{__version__}",
        EVENT_HEADER: n.kind,
        DELIVERY_HEADER: str(delivery.pk),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(hook.secret, timestamp, body),
    }
    started = time.monotonic()
    code, error = post(hook.url, body, headers)
    elapsed = int((time.monotonic() - started) * 1000)
    ok = code is not None and 200 <= code < 300
    number = delivery.attempt_log.count() + 1
    delivery.attempts += 1
    WebhookAttempt.objects.create(
        delivery=delivery, number=number, at=now, status_code=code, error=error[:500], duration_ms=elapsed
    )
    delivery.last_status_code = code
    delivery.last_error = error[:500]
    if ok:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = now + backoff(delivery.attempts)
    delivery.save(
        update_fields=[
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
        ]
    )
    return ok


def deliver_due_webhooks(now=None, limit: int = BATCH) -> dict:
    """POST every delivery that is due; called by the periodic tick.

    A receiver that fails is not tried again in the same round (its other deliveries wait, without
    spending attempts), so one dead receiver costs at most one timeout per tick.
    """
    now = now or timezone.now()
    stats = {"delivered": 0, "retrying": 0, "failed": 0, "deferred": 0}
    due = list(
        WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=now, webhook__is_active=True
        )
        .select_related("webhook", "notification__department")
        .order_by("next_attempt_at", "id")[:limit]
    )
    down: set[int] = set()
    for d in due:
        if d.webhook_id in down:
            stats["deferred"] += 1
            continue
        claimed = WebhookDelivery.objects.filter(
            pk=d.pk, status=DeliveryStatus.PENDING, next_attempt_at=d.next_attempt_at
        ).update(next_attempt_at=now + CLAIM_LEASE)
        if not claimed:  # another process took it
            continue
        try:
            ok = attempt(d, now)
        except Exception:
            log.exception("webhook delivery %s crashed", d.pk)
            ok = False
        if ok:
            stats["delivered"] += 1
            continue
        down.add(d.webhook_id)
        stats["failed" if d.status == DeliveryStatus.FAILED else "retrying"] += 1
    return stats
