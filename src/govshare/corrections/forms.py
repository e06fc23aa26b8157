"""Reading the correction pages' POSTs into the arguments the services take.

The services validate the substance (who may act, which items, the extension ceiling); these helpers
only turn typed fields into Python values, reporting a mistyped field in the same ValidationFailed shape
the services use so a page shows both kinds of error the same way.
"""

from __future__ import annotations

from govshare.errors import ValidationFailed

from .models import TicketScope

TEXT_FIELDS = ("description", "suggestion", "record_key", "record_ref")


def _error(field: str, label: str, message: str, code: str = "invalid") -> dict:
    return {"field": field, "label": label, "code": code, "message": message}


def raise_form(post, files) -> dict:
    """The raising form as typed (for re-display) and as the service's keyword arguments."""
    form = {f: (post.get(f) or "").strip() for f in TEXT_FIELDS}
    form["scope"] = post.get("scope") or TicketScope.RECORD
    form["items"] = post.getlist("items")
    form["evidence"] = [f for f in files.getlist("evidence") if f]
    return form


def raise_kwargs(form: dict) -> dict:
    kwargs = {
        "scope_": form["scope"],
        "description": form["description"],
        "suggestion": form["suggestion"],
        "items": form["items"],
        "evidence": form["evidence"],
    }
    if form["scope"] == TicketScope.RECORD:
        kwargs["record_key"] = form["record_key"]
        kwargs["record_ref"] = form["record_ref"] or None
    return kwargs


def parse_days(post, field: str, label: str) -> int:
    raw = (post.get(field) or "").strip()
    if not raw.isdecimal() or int(raw) < 1:
        raise ValidationFailed(
            [_error(field, label, f"{label}须为正整数", "required" if not raw else "invalid")]
        )
    return int(raw)
