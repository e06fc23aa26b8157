"""/api/v1/audit/: events, receipts, signed heads, consistency proofs and the public keyring."""

import datetime as dt
from typing import Literal

from ninja import Router, Schema

from govshare.audit import keys, listing, selectors, services
from govshare.errors import NotFound
from govshare.security.inputs import DbInt, Text

router = Router(tags=["audit"])


class EventOut(Schema):
    """One audit event as a leaf commits to it (services.FIELDS; docs/audit-verifier.md)."""

    seq: int
    occurred_at: str
    actor: str
    actor_id: int | None
    department_id: int | None
    department_name: str
    client_system: str
    action: str
    object_type: str
    object_id: str
    purpose: str
    case_id: str
    result: str
    request_id: str
    source_ip: str
    detail: dict


class EventPage(Schema):
    items: list[EventOut]
    next_before: int | None


@router.get("/events", response=EventPage)
def list_events(
    request,
    object_type: Text = "",
    object_id: Text = "",
    before: DbInt | None = None,
    limit: int = 50,
    since: dt.date | None = None,
    until: dt.date | None = None,
    action: Text = "",
    result: Literal["", "ok", "denied", "error"] = "",
    actor: Text = "",
    client_system: Text = "",
):
    """Events caused by the caller's department or on what it owns or is party to (authority and auditors
    see all), filtered like the /audit/ page (`action` is a prefix, dates are local and inclusive);
    keyset by `before`."""
    f = listing.EventFilter(
        since=since, until=until, action=action, result=result, actor=actor, client_system=client_system
    )
    qs = listing.apply(selectors.events_for(request.auth, object_type, object_id), f)
    if before is not None:
        qs = qs.filter(seq__lt=before)
    limit = max(1, min(limit, 500))
    rows = [services.event_dict(r) for r in qs.values_list(*services.FIELDS)[:limit]]
    return {"items": rows, "next_before": rows[-1]["seq"] if len(rows) == limit else None}


@router.get("/events/{seq}/receipt", response=dict)
def event_receipt(request, seq: DbInt):
    if not selectors.is_party(request.auth, seq):
        raise NotFound("not_found", f"第 {seq} 号审计事件不存在或与您无关")
    return services.receipt(seq)


@router.get("/heads/latest", response=dict)
def head_latest(request):
    head = services.latest_head()
    if head is None:
        raise NotFound("no_head", "审计日志尚未封存任何树头")
    return head.to_dict()


@router.get("/consistency", response=dict)
def consistency(request, old: DbInt, new: DbInt):
    return services.consistency(old, new)


@router.get("/keys", response=dict)
def public_keys(request):
    return keys.keyring()
