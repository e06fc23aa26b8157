"""Reading the 保密审查 form into the arguments of services.review_and_open, and back for re-display.

The service checks the substance (every item has a rule, at least one item open, the domain, the
date); this only turns the per-item select and the two "keep" numbers into a rule spec, and reports a
date a person mistyped in the same ValidationFailed shape, so the page shows both kinds of error alike.
"""

from __future__ import annotations

from django.utils import timezone

from govshare import dates
from govshare.sharing import masking

from .services import SUPPRESS

RULE_KINDS = [
    (SUPPRESS, "不开放（删除该列）"),
    ("plain", "不脱敏"),
    ("keep", "保留首尾"),
    ("hash", "加盐哈希"),
    ("year", "仅年份"),
    ("null", "置空"),
]


def rule_fields(spec: str | None) -> dict:
    """A stored spec as the select and the two numbers of one item row."""
    if spec == SUPPRESS:
        return {"kind": SUPPRESS, "first": 0, "last": 0}
    try:
        rule = masking.parse(spec)
    except masking.RuleError:
        rule = masking.parse("plain")
    return {"kind": rule.kind, "first": rule.first, "last": rule.last}


def rule_spec(post, code: str) -> str:
    kind = (post.get(f"rule-{code}") or "").strip()
    if kind == "keep":
        first = (post.get(f"keep_first-{code}") or "0").strip()
        last = (post.get(f"keep_last-{code}") or "0").strip()
        return f"keep:{first}:{last}"
    return kind


def item_rows(items, rules: dict[str, str], errors: list[dict] | None = None) -> list[dict]:
    """One row per catalog item: name, code, the chosen rule and its error, for the template."""
    rows = []
    for item in items:
        field = f"rules.{item.code}"
        rows.append(
            {
                "code": item.code,
                "name": item.name,
                **rule_fields(rules.get(item.code)),
                "errors": [e["message"] for e in errors or [] if e.get("field") == field],
            }
        )
    return rows


def initial(resource, dataset) -> dict:
    """The form as first shown: the dataset's current choices, or proposals for a first review."""
    items = list(resource.items.order_by("position"))
    if dataset is not None:
        rules = {i.code: dataset.rules.get(i.code, SUPPRESS) for i in items}
    else:
        rules = {i.code: masking.default_rule(i.name) for i in items}
    return {
        "domain": dataset.domain if dataset else "",
        "description": dataset.description if dataset else resource.abstract,
        "conclusion": "",
        "reviewed_on": timezone.localdate().isoformat(),
        "auto_publish": dataset.auto_publish if dataset else False,
        "rules": rules,
    }


def from_post(resource, post) -> dict:
    """The form as typed, for re-display after an error."""
    items = list(resource.items.order_by("position"))
    return {
        "domain": post.get("domain", ""),
        "description": post.get("description", ""),
        "conclusion": post.get("conclusion", ""),
        "reviewed_on": post.get("reviewed_on", ""),
        "auto_publish": post.get("auto_publish") == "on",
        "rules": {i.code: rule_spec(post, i.code) for i in items},
    }


def parse(form: dict, errors: list[dict]) -> dict:
    """Keyword arguments for services.review_and_open; a mistyped date is added to `errors`."""
    reviewed_on = dates.field_day(form["reviewed_on"], "reviewed_on", "审查日期", errors, required=True)
    return {
        "domain": form["domain"],
        "description": form["description"],
        "conclusion": form["conclusion"],
        "reviewed_on": reviewed_on,
        "auto_publish": form["auto_publish"],
        "rules": form["rules"],
    }
