"""Reading the sharing pages' POSTs into the arguments the services take.

The services validate the substance (which items, methods, who may act); these helpers only turn
form fields into Python values and report fields a person typed wrongly in the same
ValidationFailed shape the services use, so a page shows both kinds of error the same way.
"""

from __future__ import annotations

import datetime as dt

from govshare import dates
from govshare.errors import ValidationFailed

from . import masking, scope

MASK_KINDS = [
    ("plain", "不脱敏"),
    ("keep", "保留首尾"),
    ("hash", "加盐哈希"),
    ("year", "仅年份"),
    ("null", "置空"),
]
FILTER_OPS = list(scope.OPS.items())


def _error(field: str, label: str, message: str, code: str = "invalid") -> dict:
    return {"field": field, "label": label, "code": code, "message": message}


def parse_date(post, field: str, label: str, errors: list[dict]) -> dt.date | None:
    return dates.field_day(post.get(field), field, label, errors, required=True)


def parse_int(post, field: str, label: str, errors: list[dict]) -> int | None:
    raw = (post.get(field) or "").strip()
    if not raw:
        return None
    if not raw.isdecimal() or int(raw) <= 0:
        errors.append(_error(field, label, f"{label}须为正整数"))
        return None
    return int(raw)


def mask_spec(post, code: str) -> str:
    kind = post.get(f"mask-{code}") or "plain"
    if kind == "keep":
        first = (post.get(f"keep_first-{code}") or "0").strip()
        last = (post.get(f"keep_last-{code}") or "0").strip()
        return f"keep:{first}:{last}"
    return kind


def parse_masks(post, items: list[str], names: dict[str, str], errors: list[dict]) -> dict[str, str]:
    """Rules for the chosen items; "plain" is left out, as the grant stores it (absent = as stored)."""
    masks = {}
    for code in items:
        spec = mask_spec(post, code)
        try:
            rule = masking.parse(spec)
        except masking.RuleError as exc:
            errors.append(_error(f"mask-{code}", f"{names.get(code, code)}的脱敏规则", str(exc)))
            continue
        if rule.kind != "plain":
            masks[code] = rule.spec
    return masks


def _split_values(raw: str) -> list[str]:
    return [v.strip() for v in raw.replace("，", ",").replace("、", ",").split(",") if v.strip()]


def filter_rows_from_post(post) -> list[dict]:
    """The condition rows as typed (for re-display), including half-filled ones."""
    indices = sorted(
        {
            int(k.rsplit("-", 1)[1])
            for k in post
            if k.startswith("filter-item-") and k.rsplit("-", 1)[1].isdecimal()
        }
    )
    rows = []
    for i in indices:
        rows.append(
            {
                "item": post.get(f"filter-item-{i}", ""),
                "op": post.get(f"filter-op-{i}", "eq"),
                "values": post.get(f"filter-values-{i}", ""),
            }
        )
    return rows


def parse_row_filter(post) -> list[dict]:
    """Conditions for the services; rows with neither an item nor values are blank and skipped."""
    conditions = []
    for row in filter_rows_from_post(post):
        values = _split_values(row["values"])
        if not row["item"] and not values:
            continue
        conditions.append({"item": row["item"], "op": row["op"], "values": values})
    return conditions


def mask_fields(spec: str | None) -> dict:
    """A stored spec as the select/inputs of the decision form."""
    try:
        rule = masking.parse(spec)
    except masking.RuleError:
        rule = masking.parse("plain")
    return {"kind": rule.kind, "first": rule.first, "last": rule.last, "label": rule.label}


def raise_if(errors: list[dict]) -> None:
    if errors:
        raise ValidationFailed(errors)
