"""A date a person typed (form, filter, API field, command line): one rule and one wording everywhere.

Forms, query filters and request bodies used to read dates each their own way, so the same mistyped
value got different messages (or none) depending on the page. No Django import: the CLI and the pure
cores use it too.
"""

from __future__ import annotations

import datetime as dt

HINT = "格式 2025-01-31"


class BadDay(ValueError):
    """A date that is missing where required (`required`) or cannot be read (`invalid`)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def parse_day(raw, label: str = "日期", *, required: bool = False) -> dt.date | None:
    """The date in `raw` (a date passes as it is); None when blank and not required; else BadDay."""
    if isinstance(raw, dt.date) and not isinstance(raw, dt.datetime):
        return raw
    text = str(raw if raw is not None else "").replace("\x00", "").strip()
    if not text:
        if required:
            raise BadDay("required", f"请填写{label}")
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadDay("invalid", f"{label}“{text[:40]}”无效（{HINT}）") from None


def field_day(raw, field: str, label: str, errors: list[dict], *, required: bool = False) -> dt.date | None:
    """`parse_day` for a form or request body: a problem is added to `errors` in the shape forms show
    (field, label, machine code, Chinese message) and None returned."""
    try:
        return parse_day(raw, label, required=required)
    except BadDay as exc:
        errors.append({"field": field, "label": label, "code": exc.code, "message": exc.message})
        return None


def text_day(raw, problems: list[str], label: str = "日期") -> dt.date | None:
    """`parse_day` for a query-string filter: a problem is added to `problems` as a sentence."""
    try:
        return parse_day(raw, label)
    except BadDay as exc:
        problems.append(exc.message)
        return None
