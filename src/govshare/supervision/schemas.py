"""The API shape of a legal deadline, the same in every workflow's API (one mechanism, DESIGN §3)."""

from __future__ import annotations

import datetime as dt

from ninja import Schema

from .models import Obligation


class DeadlineOut(Schema):
    duty: str
    title: str
    department: str
    status: str
    status_label: str
    started_on: dt.date
    due_on: dt.date | None
    requirement: str
    article: str


def deadline_out(o: Obligation) -> dict:
    return dict(
        duty=o.duty,
        title=o.title,
        department=o.department.name,
        status=o.status,
        status_label=o.get_status_display(),
        started_on=o.started_on,
        due_on=o.due_on,
        requirement=o.requirement,
        article=o.article,
    )
