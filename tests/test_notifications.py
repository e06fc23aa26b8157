"""Notifications: event catalogue, per-person preferences, e-mail after commit, signed department webhooks.

Every HTTP request here goes to a tiny server on 127.0.0.1 started inside the test; nothing else is contacted.
"""

import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from govshare.errors import NotFound, PermissionDenied, ValidationFailed
from govshare.notifications import events, services, webhooks
from govshare.notifications.models import (
    DeliveryStatus,
    Notification,
    NotificationPreference,
    Webhook,
    WebhookDelivery,
)
from govshare.orgs.models import Role

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


# ------------------------------------------------------------------------------------ loopback receiver


class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers with the next queued status."""

    def __init__(self, statuses=()):
        self.requests: list[dict] = []
        self.statuses = list(statuses)
        self.default_status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else receiver.default_status
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", f"http://127.0.0.1:{receiver.port}/elsewhere")
                reply = b"ok" if status < 300 else "服务暂不可用".encode()
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/govshare"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def loopback_receivers(settings):
    """The receivers in these tests listen on 127.0.0.1, which production refuses as a webhook target."""
    settings.GOVSHARE_WEBHOOK_ALLOW_LOOPBACK = True


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ------------------------------------------------------------------------------------- event catalogue


def test_event_catalogue_covers_every_kind_in_use():
    for kind in (
        "catalog.submitted",
        "catalog.returned",
        "catalog.changed",
        "catalog.change_announced",
        "catalog.retire_announced",
        "catalog.retired",
        "obligation.opened",
        "obligation.reminder",
        "obligation.overdue",
        "obligation.extended",
    ):
        assert events.EVENTS[kind]
    assert events.label("something.new") == "something.new"
    assert events.default_email("obligation.overdue") and events.default_email("catalog.returned")
    assert not events.default_email("catalog.changed") and not events.default_email("something.new")
    assert all(events.default_in_app(k) for k in [*events.EVENTS, "something.new"])


# ----------------------------------------------------------------------------------------- preferences


def test_defaults_without_a_row(city):
    rows = {r["kind"]: r for r in services.preferences_for(city.market_officer)}
    assert set(rows) == set(events.EVENTS)
    assert rows["catalog.changed"] == {
        "kind": "catalog.changed",
        "label": "目录已更新",
        "in_app": True,
        "email": False,
    }
    assert rows["catalog.returned"]["email"] and rows["obligation.reminder"]["email"]


def test_turning_a_kind_off_in_app_hides_it_for_that_person_only(city):
    colleague = city.person("market2", city.market, Role.PROVIDER)
    services.notify_departments([city.market], "catalog.changed", "目录已更新：A")
    services.notify_departments([city.market], "catalog.retired", "目录已下线：B")
    services.notify_departments([city.market], "custom.unlisted", "未登记的事件照样进站内通知")
    officer = city.market_officer
    assert services.unread_count(officer) == 3

    services.save_preferences(officer, {"catalog.changed": {"in_app": False, "email": False}})
    assert {n.title for n in services.inbox(officer)} == {"未登记的事件照样进站内通知", "目录已下线：B"}
    assert services.unread_count(officer) == 2
    assert services.unread_count(colleague) == 3  # the department notice is still there for the others
    assert Notification.objects.filter(department=city.market).count() == 3  # stored once per department

    services.mark_read(officer)
    assert services.unread_count(officer) == 0
    # a choice equal to the defaults keeps no row
    services.save_preferences(officer, {"catalog.changed": {"in_app": True, "email": False}})
    assert not NotificationPreference.objects.filter(user=officer).exists()
    assert services.unread_count(officer) == 1  # the hidden one was never marked read


def test_preference_page_saves_the_table(city):
    c = login(city.market_officer)
    r = c.get("/notifications/preferences/")
    page = r.content.decode()
    assert r.status_code == 200 and "目录被退回" in page and "电子邮件" in page
    assert 'name="email:catalog.returned" aria-label="目录被退回 电子邮件" checked' in page
    assert "未登记电子邮箱" in page
    form = {f"in_app:{k}": "on" for k in events.EVENTS if k != "catalog.changed"}
    form["email:catalog.changed"] = "on"  # e-mail on, in-app off for catalog.changed
    form["email:obligation.overdue"] = "on"  # the other e-mail defaults (returned, reminder …) turned off
    r = c.post("/notifications/preferences/", form)
    assert r.status_code == 302 and r["Location"] == "/notifications/preferences/"
    prefs = {
        p.kind: (p.in_app, p.email) for p in NotificationPreference.objects.filter(user=city.market_officer)
    }
    assert prefs["catalog.changed"] == (False, True)
    assert prefs["catalog.returned"] == (True, False)
    assert "obligation.overdue" not in prefs  # same as the default
    assert (
        'name="in_app:catalog.changed" aria-label="目录已更新 站内通知" >'
        in c.get("/notifications/preferences/").content.decode()
    )
    assert "通知设置" in c.get("/inbox/").content.decode()


def test_pages_need_login(db):
    for url in ("/notifications/preferences/", "/notifications/webhooks/", "/notifications/webhooks/1/"):
        r = Client().get(url)
        assert r.status_code == 302 and r["Location"].startswith("/login/")


# ---------------------------------------------------------------------------------------------- e-mail


def with_email(city):
    for u, addr in (
        (city.market_officer, "market@example.gov.cn"),
        (city.civil_officer, "civil@example.gov.cn"),
        (city.police_officer, "police@example.gov.cn"),
    ):
        u.email = addr
        u.save(update_fields=["email"])


def test_email_goes_to_officers_who_want_the_kind(city, django_capture_on_commit_callbacks):
    with_email(city)
    head = city.person("market-head", city.market, Role.HEAD)
    head.email = "head@example.gov.cn"
    head.save(update_fields=["email"])
    city.person("market-noaddr", city.market, Role.PROVIDER)  # no address: nothing to send
    auditor = city.person("market-auditor", city.market, Role.AUDITOR)
    auditor.email = "auditor@example.gov.cn"  # not an officer or head: no mail
    auditor.save(update_fields=["email"])

    with django_capture_on_commit_callbacks(execute=True):
        services.notify_departments(
            [city.market], "catalog.returned", "目录被退回：企业营业执照信息", "缺说明", "/x/"
        )
    assert sorted(m.to[0] for m in mail.outbox) == ["head@example.gov.cn", "market@example.gov.cn"]
    m = mail.outbox[0]
    assert "目录被退回：企业营业执照信息" in m.subject and "缺说明" in m.body and "/x/" in m.body
    assert "/notifications/preferences/" in m.body

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.notify_departments([city.market, city.civil], "catalog.changed", "目录已更新")
    assert mail.outbox == []  # off by default

    services.save_preferences(city.civil_officer, {"catalog.changed": {"in_app": True, "email": True}})
    services.save_preferences(head, {"catalog.returned": {"in_app": True, "email": False}})
    with django_capture_on_commit_callbacks(execute=True):
        services.notify_departments([city.market, city.civil], "catalog.changed", "目录已更新")
        services.notify_departments([city.market], "catalog.returned", "目录被退回")
    assert sorted(m.to[0] for m in mail.outbox) == ["civil@example.gov.cn", "market@example.gov.cn"]


def test_email_waits_for_commit_and_a_mail_failure_never_reaches_the_caller(
    city, django_capture_on_commit_callbacks, monkeypatch
):
    with_email(city)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.notify_user(city.police_officer, "obligation.reminder", "2 个工作日后到期")
    assert len(callbacks) == 1 and mail.outbox == []  # nothing is sent inside the transaction
    callbacks[0]()
    assert [m.to for m in mail.outbox] == [["police@example.gov.cn"]]

    class Broken:
        def __enter__(self):
            raise ConnectionRefusedError("SMTP 服务器不可达")

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(services, "get_connection", lambda **kw: Broken())
    with django_capture_on_commit_callbacks(execute=True):
        n = services.notify_user(city.police_officer, "obligation.overdue", "已超期")
    assert Notification.objects.filter(pk=n.pk).exists()
    assert services.send_notification_emails([n.pk]) == 0


def test_returning_an_entry_mails_the_maintainer(city, payload, django_capture_on_commit_callbacks):
    from govshare.catalog import services as catalog

    with_email(city)
    rev = catalog.create_resource(city.market_officer, payload())
    with django_capture_on_commit_callbacks(execute=True):
        catalog.submit_revision(city.market_officer, rev)
    assert mail.outbox == []  # catalog.submitted goes to the authority, e-mail off by default
    with django_capture_on_commit_callbacks(execute=True):
        catalog.return_revision(city.reviewer, rev, "请补充信息项说明")
    assert [m.to for m in mail.outbox] == [["market@example.gov.cn"]]
    assert "请补充信息项说明" in mail.outbox[0].body


# -------------------------------------------------------------------------------------------- webhooks


def test_signed_delivery_is_verified_by_the_receiver(city, receiver):
    hook, secret = webhooks.create_webhook(city.market_officer, receiver.url)
    assert secret.startswith("whsec_") and hook.department == city.market and hook.kinds == []
    services.notify_departments(
        [city.market, city.civil], "catalog.returned", "目录被退回：企业营业执照信息", "缺说明", "/catalog/x/"
    )
    d = WebhookDelivery.objects.get()  # civil has no webhook
    assert d.status == DeliveryStatus.PENDING and d.attempts == 0

    assert webhooks.deliver_due_webhooks() == {"delivered": 1, "retrying": 0, "failed": 0, "deferred": 0}
    [req] = receiver.requests
    h = req["headers"]
    assert req["path"] == "/hooks/govshare"
    assert h["X-Govshare-Event"] == "catalog.returned" and h["X-Govshare-Delivery"] == str(d.pk)
    assert h["Content-Type"].startswith("application/json")
    assert webhooks.verify(secret, h["X-Govshare-Timestamp"], req["body"], h["X-Govshare-Signature"])
    # what a receiver writes by hand (docs/webhooks.md)
    import hashlib
    import hmac

    mac = hmac.new(secret.encode(), h["X-Govshare-Timestamp"].encode() + b"." + req["body"], hashlib.sha256)
    assert h["X-Govshare-Signature"] == "sha256=" + mac.hexdigest()
    assert not webhooks.verify(
        "whsec_wrong", h["X-Govshare-Timestamp"], req["body"], h["X-Govshare-Signature"]
    )
    assert not webhooks.verify(
        secret, h["X-Govshare-Timestamp"], req["body"] + b" ", h["X-Govshare-Signature"]
    )
    stale = str(int(h["X-Govshare-Timestamp"]) - 3600)
    assert not webhooks.verify(secret, stale, req["body"], webhooks.sign(secret, stale, req["body"]))

    doc = json.loads(req["body"])
    assert doc["kind"] == "catalog.returned" and doc["title"] == "目录被退回：企业营业执照信息"
    assert doc["body"] == "缺说明" and doc["link"] == "/catalog/x/" and doc["id"] == d.notification_id
    assert doc["department"] == {"id": city.market.pk, "name": city.market.name, "uscc": city.market.uscc}
    assert doc["created_at"].endswith("+08:00")

    d.refresh_from_db()
    assert (d.status, d.attempts, d.last_status_code, d.next_attempt_at) == (
        DeliveryStatus.DELIVERED,
        1,
        200,
        None,
    )
    assert d.delivered_at is not None
    assert webhooks.deliver_due_webhooks()["delivered"] == 0  # nothing left


def test_subscription_filter_personal_notices_and_unknown_kinds(city, receiver):
    only_returned, _ = webhooks.create_webhook(city.market_officer, receiver.url, ["catalog.returned"])
    everything, _ = webhooks.create_webhook(city.market_officer, receiver.url + "/all")
    services.notify_departments([city.market], "catalog.changed", "目录已更新")
    services.notify_departments([city.market], "catalog.returned", "目录被退回")
    services.notify_departments([city.market], "custom.unlisted", "新事件")
    services.notify_user(city.market_officer, "obligation.reminder", "个人提醒不推送到部门系统")
    assert sorted(only_returned.deliveries.values_list("notification__kind", flat=True)) == [
        "catalog.returned"
    ]
    assert sorted(everything.deliveries.values_list("notification__kind", flat=True)) == [
        "catalog.changed",
        "catalog.returned",
        "custom.unlisted",
    ]
    with pytest.raises(ValidationFailed):
        webhooks.create_webhook(city.market_officer, receiver.url, ["no.such.kind"])
    for bad in (
        "",
        "ftp://127.0.0.1/x",
        "file:///etc/passwd",
        "http://",
        "http://u:p@127.0.0.1/",
        "http://a b/",
    ):
        with pytest.raises(ValidationFailed):
            webhooks.create_webhook(city.market_officer, bad)


def test_retry_with_backoff_after_a_500_then_success(city, receiver):
    receiver.statuses = [500]
    _, secret = webhooks.create_webhook(city.market_officer, receiver.url)
    services.notify_departments([city.market], "obligation.overdue", "已超期")
    d = WebhookDelivery.objects.get()
    now = timezone.now()

    assert webhooks.deliver_due_webhooks(now)["retrying"] == 1
    d.refresh_from_db()
    assert (d.status, d.attempts, d.last_status_code) == (DeliveryStatus.PENDING, 1, 500)
    assert d.next_attempt_at == now + timedelta(minutes=1)
    assert "HTTP 500" in d.last_error and "服务暂不可用" in d.last_error

    assert webhooks.deliver_due_webhooks(now + timedelta(seconds=59))["retrying"] == 0  # not yet due
    assert len(receiver.requests) == 1
    assert webhooks.deliver_due_webhooks(now + timedelta(minutes=1))["delivered"] == 1
    d.refresh_from_db()
    assert (d.status, d.attempts, d.last_status_code, d.last_error) == (DeliveryStatus.DELIVERED, 2, 200, "")
    assert [(a.number, a.status_code) for a in d.attempt_log.all()] == [(1, 500), (2, 200)]
    # the retry carries the same body, signed afresh, under the same delivery id
    first, second = receiver.requests
    assert first["body"] == second["body"]
    assert first["headers"]["X-Govshare-Delivery"] == second["headers"]["X-Govshare-Delivery"] == str(d.pk)
    for req in receiver.requests:
        h = req["headers"]
        assert webhooks.verify(secret, h["X-Govshare-Timestamp"], req["body"], h["X-Govshare-Signature"])


def test_failed_after_max_attempts_with_exponential_backoff(city, receiver):
    receiver.default_status = 500
    webhooks.create_webhook(city.market_officer, receiver.url)
    services.notify_departments([city.market], "obligation.overdue", "已超期")
    d = WebhookDelivery.objects.get()
    now = timezone.now()
    waits = []
    for _ in range(webhooks.MAX_ATTEMPTS):
        webhooks.deliver_due_webhooks(now)
        d.refresh_from_db()
        if d.next_attempt_at is None:
            break
        waits.append(d.next_attempt_at - now)
        now = d.next_attempt_at
    assert [w / timedelta(minutes=1) for w in waits] == [1, 2, 4, 8, 16, 32, 60]
    assert (d.status, d.attempts, d.last_status_code) == (DeliveryStatus.FAILED, webhooks.MAX_ATTEMPTS, 500)
    assert len(receiver.requests) == webhooks.MAX_ATTEMPTS == d.attempt_log.count()
    assert webhooks.deliver_due_webhooks(now + timedelta(days=1)) == {
        "delivered": 0,
        "retrying": 0,
        "failed": 0,
        "deferred": 0,
    }

    # a person queues it again for another round
    receiver.default_status = 204
    webhooks.redeliver(city.market_officer, d)
    assert webhooks.deliver_due_webhooks()["delivered"] == 1
    d.refresh_from_db()
    assert d.status == DeliveryStatus.DELIVERED and d.attempt_log.count() == webhooks.MAX_ATTEMPTS + 1


def test_unreachable_receiver_redirect_and_a_dead_receiver_costs_one_try_per_round(city, receiver):
    dead, _ = webhooks.create_webhook(city.market_officer, f"http://127.0.0.1:{closed_port()}/x")
    receiver.statuses = [302]
    moved, _ = webhooks.create_webhook(city.market_officer, receiver.url)
    services.notify_departments([city.market], "catalog.changed", "一")
    services.notify_departments([city.market], "catalog.changed", "二")
    stats = webhooks.deliver_due_webhooks()
    # dead: first tried and failed, second deferred; moved: 302 is a failure (not followed), second deferred
    assert stats == {"delivered": 0, "retrying": 2, "failed": 0, "deferred": 2}
    first_dead = dead.deliveries.order_by("id").first()
    assert first_dead.last_status_code is None and "连接失败" in first_dead.last_error
    assert list(dead.deliveries.order_by("id").values_list("attempts", flat=True)) == [1, 0]
    first_moved = moved.deliveries.order_by("id").first()
    assert first_moved.last_status_code == 302
    assert [r["path"] for r in receiver.requests] == ["/hooks/govshare"]  # the Location was not followed


def test_deactivating_stops_delivery(city, receiver):
    hook, _ = webhooks.create_webhook(city.market_officer, receiver.url)
    services.notify_departments([city.market], "catalog.changed", "目录已更新")
    webhooks.deactivate_webhook(city.market_officer, hook)
    d = WebhookDelivery.objects.get()
    assert d.status == DeliveryStatus.FAILED and "停用" in d.last_error
    services.notify_departments([city.market], "catalog.changed", "再次更新")
    assert WebhookDelivery.objects.count() == 1
    assert webhooks.deliver_due_webhooks()["delivered"] == 0 and receiver.requests == []


def test_tick_delivers_webhooks(city, receiver):
    from govshare.web.scheduler import run_tick

    webhooks.create_webhook(city.market_officer, receiver.url)
    services.notify_departments([city.market], "catalog.changed", "目录已更新")
    result = run_tick()  # the other periodic work may notify the department too
    assert result["webhooks"]["delivered"] == len(receiver.requests) >= 1
    assert "目录已更新" in [json.loads(r["body"])["title"] for r in receiver.requests]
    assert not WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).exists()


# ---------------------------------------------------------------------------------------- permissions


def test_another_department_cannot_see_or_manage_a_webhook(city, receiver):
    hook, _ = webhooks.create_webhook(city.market_officer, receiver.url)
    services.notify_departments([city.market], "catalog.changed", "目录已更新")
    receiver.statuses = [500] * webhooks.MAX_ATTEMPTS
    d = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=d.pk).update(status=DeliveryStatus.FAILED)

    civil = login(city.civil_officer)
    r = civil.get("/notifications/webhooks/")
    assert r.status_code == 200 and receiver.url not in r.content.decode()
    assert civil.get(f"/notifications/webhooks/{hook.pk}/").status_code == 404
    assert civil.post(f"/notifications/webhooks/{hook.pk}/deactivate/").status_code == 404
    assert civil.post(f"/notifications/webhooks/{hook.pk}/deliveries/{d.pk}/retry/").status_code == 404
    assert civil.get("/notifications/webhooks/99999/").status_code == 404
    hook.refresh_from_db()
    assert hook.is_active
    with pytest.raises(NotFound):
        webhooks.get_webhook(city.civil_officer, hook.pk)
    with pytest.raises(NotFound):
        webhooks.deactivate_webhook(city.reviewer, hook)  # the authority is another department too

    auditor = city.person("market-auditor", city.market, Role.AUDITOR)
    assert login(auditor).get("/notifications/webhooks/").status_code == 403
    assert login(auditor).post("/notifications/webhooks/", {"url": receiver.url}).status_code == 403
    with pytest.raises(PermissionDenied):
        webhooks.create_webhook(auditor, receiver.url)
    assert "本部门 Webhook" not in login(auditor).get("/notifications/preferences/").content.decode()
    assert Webhook.objects.count() == 1


# ----------------------------------------------------------------------------------------------- pages


def test_webhook_pages(city, receiver):
    c = login(city.market_officer)
    r = c.get("/notifications/webhooks/")
    assert r.status_code == 200 and "尚未登记 Webhook" in r.content.decode()
    assert "本部门 Webhook" in c.get("/notifications/preferences/").content.decode()

    r = c.post("/notifications/webhooks/", {"url": "ftp://127.0.0.1/x"})
    assert r.status_code == 422 and "http://" in r.content.decode()

    r = c.post(
        "/notifications/webhooks/", {"url": receiver.url, "kinds": ["catalog.changed", "obligation.overdue"]}
    )
    page = r.content.decode()
    hook = Webhook.objects.get()
    assert r.status_code == 200 and hook.secret in page and "只显示这一次" in page
    assert hook.kinds == ["catalog.changed", "obligation.overdue"] and hook.created_by == city.market_officer

    r = c.get("/notifications/webhooks/")
    page = r.content.decode()
    assert receiver.url in page and "目录已更新" in page and hook.secret not in page

    receiver.statuses = [503]
    services.notify_departments([city.market], "catalog.changed", "目录已更新：企业营业执照信息")
    webhooks.deliver_due_webhooks()
    r = c.get(f"/notifications/webhooks/{hook.pk}/")
    page = r.content.decode()
    assert r.status_code == 200 and hook.secret not in page
    assert "目录已更新：企业营业执照信息" in page and "HTTP 503" in page and "待投递" in page
    assert "1 / 8" in page
    assert c.get(f"/notifications/webhooks/{hook.pk}/?status=failed").status_code == 200

    d = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=d.pk).update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    assert "重新投递" in c.get(f"/notifications/webhooks/{hook.pk}/").content.decode()
    r = c.post(f"/notifications/webhooks/{hook.pk}/deliveries/{d.pk}/retry/")
    assert r.status_code == 302
    d.refresh_from_db()
    assert d.status == DeliveryStatus.PENDING and d.attempts == 0

    r = c.post(f"/notifications/webhooks/{hook.pk}/deactivate/", follow=True)
    assert "已停用" in r.content.decode()
    hook.refresh_from_db()
    assert not hook.is_active and hook.deactivated_at is not None
    d.refresh_from_db()
    assert d.status == DeliveryStatus.FAILED
    r = c.post(f"/notifications/webhooks/{hook.pk}/deactivate/", follow=True)
    assert "该 Webhook 已停用" in r.content.decode()


def test_platform_loopback_and_link_local_targets_are_refused(settings):
    settings.GOVSHARE_WEBHOOK_ALLOW_LOOPBACK = False
    for url in (
        "http://127.0.0.1:8000/x",
        "http://localhost/x",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
    ):
        with pytest.raises(ValidationFailed):
            webhooks.clean_url(url)
    assert webhooks.clean_url("https://10.12.0.8/hooks/govshare") == "https://10.12.0.8/hooks/govshare"
