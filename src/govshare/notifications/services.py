from collections.abc import Iterable

from django.db.models import Q

from .models import Notification, NotificationRead

__all__ = [
    "Notification",
    "NotificationRead",
    "inbox",
    "mark_read",
    "notify_departments",
    "notify_user",
    "unread_count",
]


def notify_departments(departments: Iterable, kind: str, title: str, body: str = "", link: str = "") -> int:
    rows = [
        Notification(department=d, kind=kind, title=title, body=body, link=link) for d in set(departments)
    ]
    Notification.objects.bulk_create(rows)
    return len(rows)


def notify_user(user, kind: str, title: str, body: str = "", link: str = "") -> Notification:
    return Notification.objects.create(user=user, kind=kind, title=title, body=body, link=link)


def inbox(user):
    q = Q(user=user)
    if user.department_id:
        q |= Q(department_id=user.department_id)
    return Notification.objects.filter(q)


def unread_count(user) -> int:
    return inbox(user).exclude(reads__user=user).count()


def mark_read(user, ids: Iterable[int] | None = None) -> None:
    qs = inbox(user).exclude(reads__user=user)
    if ids is not None:
        qs = qs.filter(id__in=list(ids))
    NotificationRead.objects.bulk_create(
        [NotificationRead(notification=n, user=user) for n in qs], ignore_conflicts=True
    )
