"""Jurisdiction policy profiles (各地办法) as data. Pure Python, no Django.

Every number on which the regulations differ lives in ``profiles/<code>.json`` with the article it comes
from, so code never hard-codes "10 working days" and the UI can show the article next to every deadline.
A value is ``null`` where the text is silent: no default is invented (requirements.md §0, §10).
``PARAMETERS`` below is the registry of stable keys; every profile file must define every key.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

UNITS = frozenset({"working_days", "months", "per_year", "bool", "text", "list", "choice", "date_of_year"})
SOURCES = frozenset({"regulation", "platform_setting"})

_APPROVER = frozenset({"authority", "provider_head"})

# key → (unit, allowed values for choice / list units; None = free text)
PARAMETERS: Mapping[str, tuple[str, frozenset[str] | None]] = MappingProxyType(
    {
        # catalog
        "catalog_update_working_days": ("working_days", None),
        "catalog_update_trigger": ("choice", frozenset({"law_or_function_change", "any_content_change"})),
        "catalog_update_filing_required": ("bool", None),
        "catalog_update_review_working_days": ("working_days", None),
        "responsibility_list_sync_on_update": ("bool", None),
        "catalog_maintenance_months": ("months", None),
        "catalog_change_notice_months": ("months", None),
        "catalog_change_needs_platform_approval": ("bool", None),
        "county_filing_working_days": ("working_days", None),
        "catalog_publication_frequency": ("text", None),
        "data_update_cadence": ("text", None),
        "open_implies_unconditional_share": ("bool", None),
        "basic_resources_unconditional": ("list", None),
        "basic_lock_scope": ("choice", frozenset({"resource", "basic_items"})),
        "theme_domains": ("list", None),
        "legal_basis_required_for": ("list", frozenset({"conditional", "none"})),
        "legal_basis_types": ("text", None),
        "restriction_confirmation_required": ("bool", None),
        # sharing
        "share_prereview_working_days": ("working_days", None),
        "share_reply_working_days": ("working_days", None),
        "share_reply_written": ("bool", None),
        "share_reply_extension_max_working_days": ("working_days", None),
        "share_refusal_reasons_required": ("bool", None),
        "share_refusal_basis_required": ("bool", None),
        "authority_decides_share": ("bool", None),
        "share_minimum_necessary": ("bool", None),
        "unconditional_access_precondition": ("choice", frozenset({"none", "registration", "application"})),
        "share_application_attachments": (
            "list",
            frozenset({"purpose", "system_name", "sealed_letter", "scenario"}),
        ),
        "offplatform_application_allowed": ("bool", None),
        "nonshare_supply_filing_required": ("bool", None),
        "escalation_chain": ("list", None),
        "share_delivery_methods": ("list", frozenset({"query", "verify", "batch", "table_sync"})),
        "batch_requires_justification": ("bool", None),
        "grant_suspension_by": ("choice", frozenset({"provider", "authority"})),
        "interface_extension_max_working_days": ("working_days", None),
        "interface_extension_approver": ("choice", _APPROVER),
        # corrections
        "correction_routing": ("choice", frozenset({"provider", "authority_dispatch"})),
        "correction_evidence_required": ("bool", None),
        "correction_verify_working_days": ("working_days", None),
        "correction_verify_extension_max_working_days": ("working_days", None),
        "correction_verify_extension_approver": ("choice", _APPROVER),
        "correction_verify_extension_notify_consumer": ("bool", None),
        "correction_fix_working_days": ("working_days", None),
        "correction_result_recipients": ("choice", frozenset({"reporter", "all_consumers", "authority"})),
        "correction_business_continues": ("bool", None),
        # open data
        "open_data_regulated": ("bool", None),
        "open_reply_working_days": ("working_days", None),
        "open_reply_extension_max_working_days": ("working_days", None),
        "open_reply_extension_approver": ("choice", _APPROVER),
        "open_refusal_basis_required": ("bool", None),
        "open_application_attachments": ("list", frozenset({"purpose", "period", "security_measures"})),
        "open_use_agreement": ("bool", None),
        "open_catalog_correction_reply_working_days": ("working_days", None),
        "open_catalog_correction_extension_max_working_days": ("working_days", None),
        "open_catalog_correction_extension_approver": ("choice", _APPROVER),
        "objection_suspends_opening": ("bool", None),
        "open_unconditional_requires_identity_auth": ("bool", None),
        "open_machine_readable_required": ("bool", None),
        "open_confidentiality_review_required": ("bool", None),
        # security
        "log_retention_months": ("months", None),
        "security_test_per_year": ("per_year", None),
        "emergency_drill_per_year": ("per_year", None),
        "risk_assessment_frequency": ("text", None),
        "incident_response": ("text", None),
        "realname_authentication_required": ("bool", None),
        "usage_log_push": ("bool", None),
        # supervision
        "annual_report_due": ("date_of_year", None),
        "annual_report_submitters": ("list", frozenset({"departments", "platform_unit"})),
        "county_annual_report_due": ("date_of_year", None),
        "evaluation_cycle": ("text", None),
        "evaluation_published": ("bool", None),
        "rectification_period_working_days": ("working_days", None),
        "data_officer_update": ("text", None),
        "identifier_keys": ("list", frozenset({"id_number", "uscc", "house_number"})),
        # platform setting, not from a regulation
        "reminder_lead_working_days": ("working_days", None),
    }
)

_REQUIREMENT = re.compile(r"R-[A-Z]+-\d{2}")


class ProfileError(ValueError):
    """A profile file is missing, malformed or inconsistent with ``PARAMETERS``."""


@dataclass(frozen=True, slots=True)
class DateOfYear:
    """A yearly due date such as 每年1月底前: month and day, where day "last" means the month's end."""

    month: int
    day: int | str

    def on(self, year: int) -> date:
        last = calendar.monthrange(year, self.month)[1]
        return date(year, self.month, last if self.day == "last" else self.day)


@dataclass(frozen=True, slots=True)
class Parameter:
    """One profile parameter with its legal source, so the UI can cite it."""

    key: str
    value: Any  # int | bool | str | tuple[str, ...] | DateOfYear | None
    unit: str
    article: str | None
    requirement: str
    label: str
    note: str = ""
    source: str = "regulation"


@dataclass(frozen=True, slots=True)
class PolicyProfile:
    code: str
    prefix: str
    name: str
    document_number: str | None
    date: date | None
    issuer: str | None
    effective: str | None
    parameters: Mapping[str, Parameter]

    def param(self, key: str) -> Parameter:
        try:
            return self.parameters[key]
        except KeyError:
            raise KeyError(f"未知的政策参数 unknown profile parameter: {key!r}") from None

    def value(self, key: str) -> Any:
        return self.param(key).value


def _value(key: str, unit: str, choices: frozenset[str] | None, raw: Any) -> Any:
    """Check a raw JSON value against its unit and return it in immutable form."""
    if raw is None:
        return None
    if unit in ("working_days", "months", "per_year"):
        ok = type(raw) is int and raw >= 0
    elif unit == "bool":
        ok = type(raw) is bool
    elif unit in ("text", "choice"):
        ok = isinstance(raw, str) and bool(raw) and (unit == "text" or choices is None or raw in choices)
    elif unit == "list":
        ok = isinstance(raw, list) and all(
            isinstance(x, str) and (choices is None or x in choices) for x in raw
        )
        raw = tuple(raw)
    else:  # date_of_year
        ok = isinstance(raw, dict) and set(raw) == {"month", "day"} and type(raw["month"]) is int
        if ok:
            try:
                raw = DateOfYear(raw["month"], raw["day"])
                ok = raw.day == "last" or type(raw.day) is int
                raw.on(2000)  # a leap year: accepts 02-29
            except (ValueError, TypeError):
                ok = False
    if not ok:
        allowed = f"，允许值 {sorted(choices)}" if choices else ""
        raise ProfileError(f"参数 {key} 的值 {raw!r} 不符合单位 {unit}{allowed}")
    return raw


def parse_profile(data: Mapping[str, Any]) -> PolicyProfile:
    """Validate one profile document (as loaded from JSON) and build the frozen profile."""
    code = data.get("code")
    raw_params = data.get("parameters")
    if not isinstance(code, str) or not isinstance(raw_params, dict):
        raise ProfileError("政策配置缺少 code 或 parameters")
    missing, unknown = PARAMETERS.keys() - raw_params.keys(), raw_params.keys() - PARAMETERS.keys()
    if missing or unknown:
        raise ProfileError(f"{code}: 缺少参数 {sorted(missing)}；未知参数 {sorted(unknown)}")
    params = {}
    for key, spec in raw_params.items():
        unit, choices = PARAMETERS[key]
        where = f"{code}.{key}"
        if spec.get("unit") not in UNITS:
            raise ProfileError(f"{where}: 未知单位 unknown unit {spec.get('unit')!r}")
        if spec["unit"] != unit:
            raise ProfileError(f"{where}: 单位应为 {unit}，实为 {spec['unit']}")
        source = spec.get("source", "regulation")
        if source not in SOURCES:
            raise ProfileError(f"{where}: 未知来源 {source!r}")
        value = _value(where, unit, choices, spec.get("value"))
        article = spec.get("article")
        if value is not None and source == "regulation" and not article:
            raise ProfileError(f"{where}: 有取值但未注明条款 (a value needs its article)")
        requirement = spec.get("requirement", "")
        if not _REQUIREMENT.fullmatch(requirement) or not spec.get("label"):
            raise ProfileError(f"{where}: requirement 或 label 缺失或格式错误")
        params[key] = Parameter(
            key, value, unit, article, requirement, spec["label"], spec.get("note", ""), source
        )
    issued = data.get("date")
    return PolicyProfile(
        code=code,
        prefix=data.get("prefix", ""),
        name=data.get("name", ""),
        document_number=data.get("document_number"),
        date=date.fromisoformat(issued) if issued else None,
        issuer=data.get("issuer"),
        effective=data.get("effective"),
        parameters=MappingProxyType(params),
    )


def _profile_dir():
    return resources.files(__package__) / "profiles"


def available_profiles() -> list[str]:
    """Codes of the shipped profiles, e.g. ["changshu", "chenzhou", …]."""
    return sorted(p.name.removesuffix(".json") for p in _profile_dir().iterdir() if p.name.endswith(".json"))


@cache
def load_profile(code: str) -> PolicyProfile:
    """The validated profile ``code`` (cached: profile files are part of the release, not runtime data)."""
    if code not in available_profiles():
        raise ProfileError(f"没有名为 {code!r} 的政策配置，可选 {available_profiles()}")
    data = json.loads((_profile_dir() / f"{code}.json").read_text(encoding="utf-8"))
    profile = parse_profile(data)
    if profile.code != code:
        raise ProfileError(f"{code}.json 中的 code 为 {profile.code!r}")
    return profile
