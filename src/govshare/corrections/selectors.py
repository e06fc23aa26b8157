"""Reads of correction tickets shared by the pages, the API, the delivery gate and supervision."""

from __future__ import annotations

from django.db import connection
from django.db.models import Count, Q

from govshare.orgs.models import Role
from govshare.supervision.models import Obligation, ObligationStatus

from .models import OPEN_STATUSES, CorrectionTicket, Outcome, TicketScope

SUBJECT = "corrections.correctionticket"
_OPEN = tuple(str(s) for s in OPEN_STATUSES)


def visible_tickets(user):
    """The reporter's and the provider's departments see their tickets; authority, operator and auditors
    see all (they route, dispatch and supervise)."""
    qs = CorrectionTicket.objects.select_related("resource", "provider", "reporter_department")
    if user.has_role(Role.AUTHORITY, Role.OPERATOR, Role.AUDITOR, Role.EVALUATOR):
        return qs
    if user.department_id is None:
        return qs.none()
    return qs.filter(Q(reporter_department_id=user.department_id) | Q(provider_id=user.department_id))


def open_ticket_sql(resource_alias: str) -> str:
    """An SQL expression: does the resource have an open record ticket? The gate adds it to its one query,
    so a resource nobody disputes costs no extra round trip."""
    statuses = ", ".join(f"'{s}'" for s in _OPEN)
    return (
        f"EXISTS (SELECT 1 FROM {CorrectionTicket._meta.db_table} ct WHERE ct.resource_id = {resource_alias}.id "
        f"AND ct.scope = '{TicketScope.RECORD}' AND ct.status IN ({statuses}))"
    )


def open_tickets_for(resource_id: int, keys: list[str]) -> dict[str, str]:
    """Record key → number of the open ticket on it (R-CORR-07: the record is flagged 核校中)."""
    if not keys:
        return {}
    found: dict[str, str] = {}
    table = CorrectionTicket._meta.db_table
    statuses = ", ".join(["%s"] * len(_OPEN))
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        marks = ", ".join(["%s"] * len(chunk))
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT record_key, number FROM {table} WHERE resource_id = %s AND scope = %s "
                f"AND status IN ({statuses}) AND record_key IN ({marks}) ORDER BY id",
                [resource_id, str(TicketScope.RECORD), *_OPEN, *chunk],
            )
            for key, number in cur.fetchall():
                found.setdefault(key, number)
    return found


def provider_counts() -> list[dict]:
    """Per provider: tickets received, still open, overdue, corrected (errors attributed to it, NX 27)
    and found not to be errors — what supervision and the scorecard read (R-CORR-09)."""
    rows = (
        CorrectionTicket.objects.values("provider_id", "provider__name")
        .annotate(
            received=Count("id"),
            open=Count("id", filter=Q(status__in=OPEN_STATUSES)),
            corrected=Count("id", filter=Q(outcome__in=(Outcome.CORRECTED, Outcome.PARTLY))),
            not_error=Count("id", filter=Q(outcome=Outcome.NOT_ERROR)),
        )
        .order_by("-received", "provider__name")
    )
    overdue = dict(
        Obligation.objects.filter(subject_type=SUBJECT)
        .filter(Q(status=ObligationStatus.OVERDUE) | Q(fulfilled_late=True))
        .values("department_id")
        .annotate(n=Count("id"))
        .values_list("department_id", "n")
    )
    return [
        {
            "provider_id": r["provider_id"],
            "provider": r["provider__name"],
            "received": r["received"],
            "open": r["open"],
            "corrected": r["corrected"],
            "not_error": r["not_error"],
            "overdue": overdue.get(r["provider_id"], 0),
        }
        for r in rows
    ]


def key_as_written(ticket: CorrectionTicket) -> str:
    """The disputed record's key as its provider writes it: a sealed primary item is stored blinded."""
    from govshare.collect.models import Record
    from govshare.security import fields

    sealer = fields.sealer_for(ticket.resource)
    if not ticket.record_key or not sealer.primary_sealed:
        return ticket.record_key
    data = Record.objects.filter(resource_id=ticket.resource_id, key=ticket.record_key).values_list(
        "data", flat=True
    )
    return sealer.shown_key(ticket.record_key, next(iter(data), None)) or ticket.record_key
