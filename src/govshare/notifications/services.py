"""Notices: stored once for the in-app inbox, then fanned out to e-mail and department webhooks.

A notice goes to a department (every officer there sees it) or to one person. Each person chooses per
event kind whether it shows in the inbox and whether it comes by e-mail (`NotificationPreference`;
defaults in `events`). Department webhooks get a `WebhookDelivery` row in the caller's transaction and
are POSTed by the periodic tick (`webhooks.deliver_due_webhooks`).

E-mail goes through Django's mail backend after the caller's transaction commits; a mail failure is
logged and never reaches the caller. The backend is configured by the usual Django settings, read from
the environment in settings.py:

    GOVSHARE_EMAIL_BACKEND   EMAIL_BACKEND (default django.core.mail.backends.smtp.EmailBackend;
                             console.EmailBackend prints instead of sending)
    GOVSHARE_EMAIL_HOST / GOVSHARE_EMAIL_PORT / GOVSHARE_EMAIL_USER / GOVSHARE_EMAIL_PASSWORD
    GOVSHARE_EMAIL_USE_TLS / GOVSHARE_EMAIL_USE_SSL (1/0), GOVSHARE_EMAIL_TIMEOUT (seconds)
    GOVSHARE_EMAIL_FROM      DEFAULT_FROM_EMAIL, e.g. 政务数据共享交换平台 <noreply@example.gov.cn>
    GOVSHARE_BASE_URL        https://share.example.gov.cn — turns the notice's link into a full URL

Tests run with Django's locmem backend (`django.core.mail.outbox`).
"""

import logging
from collections.abc import Iterable
from functools import partial

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import Q

from govshare.orgs.models import Role, User

from . import events
from .models import Notification, NotificationPreference, NotificationRead

log = logging.getLogger(__name__)

__all__ = [
    "Notification",
    "NotificationRead",
    "email_recipients",
    "inbox",
    "mark_read",
    "notify_departments",
    "notify_user",
    "preferences_for",
    "save_preferences",
    "unread_count",
]


def notify_departments(departments: Iterable, kind: str, title: str, body: str = "", link: str = "") -> int:
    rows = [
        Notification(department=d, kind=kind, title=title, body=body, link=link) for d in set(departments)
    ]
    if not rows:
        return 0
    if connection.features.can_return_rows_from_bulk_insert:
        Notification.objects.bulk_create(rows)
    else:  # the fan-out needs the ids
        for n in rows:
            n.save()
    _fan_out(rows)
    return len(rows)


def notify_user(user, kind: str, title: str, body: str = "", link: str = "") -> Notification:
    n = Notification.objects.create(user=user, kind=kind, title=title, body=body, link=link)
    _fan_out([n])
    return n


def _fan_out(rows: list[Notification]) -> None:
    """Webhook deliveries now (same transaction as the notice), e-mail once the transaction commits."""
    from .webhooks import enqueue_deliveries

    try:
        with transaction.atomic():
            enqueue_deliveries(rows)
    except Exception:  # a notice must not fail the use case that raised it
        log.exception("could not enqueue webhook deliveries for %s", rows[0].kind)
    ids = [n.pk for n in rows]
    transaction.on_commit(partial(send_notification_emails, ids), robust=True)


# ---------------------------------------------------------------------------------------------- inbox


def _hidden_kinds(user):
    return NotificationPreference.objects.filter(user=user, in_app=False).values("kind")


def inbox(user):
    """The notices this person sees: to them or their department, minus kinds they turned off in-app."""
    q = Q(user=user)
    if user.department_id:
        q |= Q(department_id=user.department_id)
    return Notification.objects.filter(q).exclude(kind__in=_hidden_kinds(user))


def unread_count(user) -> int:
    return inbox(user).exclude(reads__user=user).count()


def mark_read(user, ids: Iterable[int] | None = None) -> None:
    qs = inbox(user).exclude(reads__user=user)
    if ids is not None:
        qs = qs.filter(id__in=list(ids))
    NotificationRead.objects.bulk_create(
        [NotificationRead(notification=n, user=user) for n in qs], ignore_conflicts=True
    )


# ---------------------------------------------------------------------------------------- preferences


def preferences_for(user) -> list[dict]:
    """One row per catalogued event: {kind, label, in_app, email}, the person's choice or the default."""
    rows = {p.kind: p for p in NotificationPreference.objects.filter(user=user)}
    out = []
    for kind, label in events.EVENTS.items():
        p = rows.get(kind)
        out.append(
            {
                "kind": kind,
                "label": label,
                "in_app": p.in_app if p else events.default_in_app(kind),
                "email": p.email if p else events.default_email(kind),
            }
        )
    return out


def wants(user, kind: str, channel: str) -> bool:
    p = NotificationPreference.objects.filter(user=user, kind=kind).first()
    return getattr(p, channel) if p else events.default_for(kind, channel)


@transaction.atomic
def save_preferences(user, choices: dict[str, dict[str, bool]]) -> None:
    """Store the person's choice for each catalogued kind; a choice equal to the default keeps no row,
    so a later change of the defaults reaches everyone who never chose otherwise."""
    for kind in events.EVENTS:
        if kind not in choices:
            continue
        in_app = bool(choices[kind].get("in_app"))
        email = bool(choices[kind].get("email"))
        if in_app == events.default_in_app(kind) and email == events.default_email(kind):
            NotificationPreference.objects.filter(user=user, kind=kind).delete()
        else:
            NotificationPreference.objects.update_or_create(
                user=user, kind=kind, defaults={"in_app": in_app, "email": email}
            )


# --------------------------------------------------------------------------------------------- e-mail

EMAIL_ROLES = [*Role.officer_roles(), Role.HEAD]


def email_recipients(notifications: list[Notification]) -> dict[int, list[User]]:
    """notification id -> the people who get it by e-mail: the addressee, or a department's active
    officers and head, who want the kind by e-mail and have an address."""
    dept_ids = {n.department_id for n in notifications if n.department_id}
    people: dict[int, User] = {}
    by_dept: dict[int, set[int]] = {d: set() for d in dept_ids}
    if dept_ids:
        members = (
            User.objects.filter(department_id__in=dept_ids, is_active=True, roles__role__in=EMAIL_ROLES)
            .exclude(email="")
            .distinct()
        )
        for u in members:
            people[u.pk] = u
            by_dept[u.department_id].add(u.pk)
        from govshare.orgs.models import Department

        for d_id, head_id in Department.objects.filter(pk__in=dept_ids, head__isnull=False).values_list(
            "pk", "head_id"
        ):
            if head_id not in people:
                head = User.objects.filter(pk=head_id, is_active=True).exclude(email="").first()
                if head is None:
                    continue
                people[head.pk] = head
            by_dept[d_id].add(head_id)
    for n in notifications:
        if n.user_id and n.user.is_active and n.user.email:
            people[n.user_id] = n.user
    kinds = {n.kind for n in notifications}
    prefs = {
        (p.user_id, p.kind): p.email
        for p in NotificationPreference.objects.filter(user_id__in=list(people), kind__in=kinds)
    }

    def wants_email(uid: int, kind: str) -> bool:
        return prefs.get((uid, kind), events.default_email(kind))

    out: dict[int, list[User]] = {}
    for n in notifications:
        uids = by_dept.get(n.department_id, set()) if n.department_id else {n.user_id}
        out[n.pk] = [people[u] for u in sorted(uids) if u in people and wants_email(u, n.kind)]
    return out


def _message(n: Notification, to: str) -> EmailMessage:
    base = getattr(settings, "GOVSHARE_BASE_URL", "").rstrip("/")
    subject = " ".join(f"【政务数据共享交换平台】{n.title}".split())
    lines = [n.title, ""]
    if n.body:
        lines += [n.body, ""]
    if n.link:
        lines.append(f"查看：{base}{n.link}")
    lines += [
        "",
        "——",
        f"此邮件由政务数据共享交换平台自动发送（事件：{events.label(n.kind)}）。",
        f"如不需要此类邮件，可在“通知设置”中关闭：{base}/notifications/preferences/",
    ]
    return EmailMessage(subject=subject, body="\n".join(lines), to=[to])


def send_notification_emails(notification_ids: list[int]) -> int:
    """Send the e-mails for these notices; returns how many went out. Never raises."""
    sent = 0
    try:
        notes = list(Notification.objects.filter(pk__in=notification_ids).select_related("user"))
        if not notes:
            return 0
        recipients = email_recipients(notes)
        messages = [_message(n, u.email) for n in notes for u in recipients.get(n.pk, [])]
        if not messages:
            return 0
        with get_connection() as conn:
            for m in messages:
                try:
                    sent += conn.send_messages([m]) or 0
                except Exception:
                    log.exception("notification e-mail to %s failed", m.to[0])
    except Exception:
        log.exception("notification e-mails for %s failed", notification_ids)
    return sent
