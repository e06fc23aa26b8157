"""Masking rules (脱敏) applied by the delivery gate to each granted item. No Django here.

A rule is a short spec string stored in the grant, so an approver can read and change it:

    plain         the value as stored
    keep:F:L      first F and last L characters shown, the rest as "*" (same length)
    hash          salted HMAC-SHA256 of the value (hex, 32 characters): joinable within one grant only
    year          the year of a date (or of the birth date in a 公民身份号码)
    null          always null

`default_rule(item_name)` proposes a rule for the usual personal items; the approver may change it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

RULE_LABELS = {
    "plain": "不脱敏",
    "keep": "保留首尾",
    "hash": "加盐哈希",
    "year": "仅年份",
    "null": "置空",
}
_YEAR = re.compile(r"^(\d{4})[-/年.]?")
_ID18 = re.compile(r"^\d{17}[\dXx]$")

# (pattern on the item name, proposed rule): first match wins.
DEFAULTS: list[tuple[re.Pattern, str]] = [
    (re.compile(r"身份证|公民身份号码|证件号码"), "keep:6:4"),
    (re.compile(r"手机|电话|联系方式"), "keep:3:4"),
    (re.compile(r"银行卡|银行账号|卡号"), "keep:6:4"),
    (re.compile(r"姓名"), "keep:1:0"),
    (re.compile(r"地址|住址|住所|居住地"), "keep:6:0"),
]


class RuleError(ValueError):
    """A rule spec that cannot be applied; the message is for the approver."""


@dataclass(frozen=True)
class Rule:
    kind: str
    first: int = 0
    last: int = 0

    @property
    def spec(self) -> str:
        return f"keep:{self.first}:{self.last}" if self.kind == "keep" else self.kind

    @property
    def label(self) -> str:
        if self.kind == "keep":
            return f"保留前{self.first}位、后{self.last}位"
        return RULE_LABELS[self.kind]


def parse(spec: str | None) -> Rule:
    spec = (spec or "plain").strip()
    if spec in ("plain", "hash", "year", "null"):
        return Rule(spec)
    parts = spec.split(":")
    if (
        parts[0] == "keep"
        and len(parts) == 3
        and all(p.isascii() and p.isdecimal() and len(p) <= 2 for p in parts[1:])
    ):
        return Rule("keep", int(parts[1]), int(parts[2]))
    raise RuleError(f"脱敏规则“{spec}”无法识别（可用：plain、keep:前:后、hash、year、null）")


def default_rule(item_name: str) -> str:
    for pattern, rule in DEFAULTS:
        if pattern.search(item_name or ""):
            return rule
    return "plain"


def keep(value: str, first: int, last: int) -> str:
    """Show `first` and `last` characters; at least one character is always masked."""
    n = len(value)
    if n == 0:
        return value
    first = min(first, n - 1)
    last = min(last, n - 1 - first)
    return value[:first] + "*" * (n - first - last) + (value[n - last :] if last else "")


def year(value: str) -> str | None:
    if _ID18.match(value):
        return value[6:10]
    m = _YEAR.match(value)
    return m.group(1) if m else None


def salted_hash(value: str, salt: str) -> str:
    return hmac.new(salt.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]


def compile_rule(rule: Rule, salt: str) -> Callable[[object], object] | None:
    """A function masking one value, or None when the value passes unchanged (the fast path)."""
    if rule.kind == "plain":
        return None
    if rule.kind == "null":
        return lambda v: None
    if rule.kind == "keep":
        f, last = rule.first, rule.last
        return lambda v: None if v is None else keep(str(v), f, last)
    if rule.kind == "year":
        return lambda v: None if v is None else year(str(v))
    return lambda v: None if v is None else salted_hash(str(v), salt)


def compile_masks(masks: dict[str, str], salt: str) -> dict[str, Callable[[object], object]]:
    out = {}
    for code, spec in (masks or {}).items():
        fn = compile_rule(parse(spec), salt)
        if fn is not None:
            out[code] = fn
    return out
