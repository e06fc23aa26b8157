"""Policy profiles: all five load and validate, known values match the regulation texts."""

import copy
import json
from datetime import date
from pathlib import Path

import pytest

import govshare.calendar
from govshare.calendar.profiles import (
    PARAMETERS,
    UNITS,
    DateOfYear,
    ProfileError,
    available_profiles,
    load_profile,
    parse_profile,
)

CODES = ["changshu", "chenzhou", "neixiang", "shangrao", "template"]
PROFILE_DIR = Path(govshare.calendar.__file__).parent / "profiles"


def raw(code):
    return json.loads((PROFILE_DIR / f"{code}.json").read_text(encoding="utf-8"))


def test_all_five_profiles_are_available_and_load():
    assert available_profiles() == CODES
    for code in CODES:
        profile = load_profile(code)
        assert profile.code == code
        assert set(profile.parameters) == set(PARAMETERS)
    assert load_profile("chenzhou") is load_profile("chenzhou")  # cached


def test_profile_metadata():
    cz = load_profile("chenzhou")
    assert (cz.name, cz.document_number, cz.date) == (
        "郴州市政务信息资源共享管理办法",
        "郴政发〔2022〕2号",
        date(2022, 1, 7),
    )
    assert load_profile("changshu").document_number == "常政发〔2019〕21号"
    assert load_profile("shangrao").date == date(2020, 12, 7)
    nx = load_profile("neixiang")
    assert nx.name == "内乡县政务信息资源数据共享管理实施办法" and nx.date is None  # not in the source text
    assert load_profile("template").name == "××市政务信息资源共享管理办法"


@pytest.mark.parametrize("code", CODES)
def test_every_non_null_value_cites_an_article(code):
    for p in load_profile(code).parameters.values():
        assert p.unit in UNITS and p.label and p.requirement.startswith("R-")
        if p.value is not None and p.source == "regulation":
            assert p.article, p.key
            prefix = load_profile(code).document_number or load_profile(code).name
            assert prefix in p.article and "第" in p.article and "条" in p.article, (p.key, p.article)


def test_chenzhou_known_values():
    cz = load_profile("chenzhou")
    reply = cz.param("share_reply_working_days")
    assert reply.value == 10 and reply.unit == "working_days" and reply.requirement == "R-SHARE-07"
    assert reply.article == "郴政发〔2022〕2号 第二十一条第（二）项"
    assert cz.value("share_reply_written") is True
    assert cz.value("share_refusal_reasons_required") is True
    assert cz.value("correction_verify_working_days") == 5
    assert cz.value("correction_verify_extension_max_working_days") == 15
    assert cz.value("correction_verify_extension_approver") == "provider_head"
    assert cz.param("correction_verify_extension_approver").article == "郴政发〔2022〕2号 第二十四条"
    assert cz.value("correction_verify_extension_notify_consumer") is True
    assert (
        cz.value("catalog_update_working_days") == 15 and cz.value("catalog_update_filing_required") is True
    )
    assert cz.value("nonshare_supply_filing_required") is True
    assert cz.value("objection_suspends_opening") is True
    assert cz.value("annual_report_due") == DateOfYear(1, "last")
    assert cz.value("log_retention_months") is None  # silent: no invented default
    assert cz.value("open_reply_working_days") is None
    assert cz.value("correction_routing") == "provider"


def test_changshu_known_values():
    cs = load_profile("changshu")
    assert cs.value("share_reply_working_days") == 5
    assert cs.param("share_reply_working_days").article == "常政发〔2019〕21号 第十九条"
    assert cs.value("unconditional_access_precondition") == "registration"
    assert cs.value("catalog_update_working_days") == 5
    assert cs.value("catalog_update_trigger") == "any_content_change"
    assert cs.value("catalog_maintenance_months") == 6
    assert cs.value("correction_verify_working_days") is None
    assert "数字门牌" in cs.value("basic_resources_unconditional")
    assert cs.value("open_reply_working_days") is None and "n/a" in cs.param("open_reply_working_days").note


def test_shangrao_known_values():
    sr = load_profile("shangrao")
    assert sr.value("share_prereview_working_days") == 3
    assert sr.value("share_reply_working_days") == 10
    assert sr.value("share_refusal_basis_required") is True
    assert sr.value("log_retention_months") == 6
    assert sr.param("log_retention_months").article == "饶智组办发〔2020〕1号 第二十五条"
    assert sr.value("open_implies_unconditional_share") is True
    assert sr.value("catalog_change_notice_months") == 1
    assert sr.value("catalog_change_needs_platform_approval") is True
    assert sr.value("open_reply_working_days") == 20
    assert sr.value("share_application_attachments") == ("purpose", "system_name", "sealed_letter")
    assert sr.value("security_test_per_year") == 1 and sr.value("emergency_drill_per_year") == 1


def test_neixiang_known_values():
    nx = load_profile("neixiang")
    assert nx.value("share_reply_working_days") is None
    assert nx.value("authority_decides_share") is True
    assert nx.value("correction_routing") == "authority_dispatch"
    assert nx.value("correction_verify_working_days") == 5 and nx.value("correction_fix_working_days") == 10
    assert nx.value("open_reply_working_days") == 10
    assert nx.value("open_reply_extension_max_working_days") == 10
    assert nx.value("open_reply_extension_approver") == "provider_head"
    assert nx.value("open_catalog_correction_reply_working_days") == 10
    assert nx.value("open_unconditional_requires_identity_auth") is True
    assert nx.value("interface_extension_max_working_days") == 5
    assert nx.value("county_filing_working_days") == 5
    assert (
        nx.value("catalog_update_working_days") == 5 and nx.value("catalog_update_review_working_days") == 5
    )
    assert nx.value("log_retention_months") == 6
    assert nx.value("county_annual_report_due") == DateOfYear(2, "last")
    assert nx.value("county_annual_report_due").on(2028) == date(2028, 2, 29)
    assert nx.value("annual_report_due").on(2027) == date(2027, 1, 31)
    assert (
        nx.param("correction_fix_working_days").article
        == "《内乡县政务信息资源数据共享管理实施办法》第六十五条"
    )


def test_template_known_values():
    xx = load_profile("template")
    assert xx.value("share_reply_working_days") == 10
    assert xx.value("catalog_update_working_days") == 15
    assert xx.value("correction_result_recipients") == "all_consumers"
    assert xx.value("basic_resources_unconditional") == ("人口", "法人单位", "自然资源和空间地理", "电子证照")


def test_lists_and_flags_differ_per_profile():
    values = {c: load_profile(c) for c in CODES}
    assert [c for c in CODES if values[c].value("open_implies_unconditional_share")] == ["shangrao"]
    assert [c for c in CODES if values[c].value("authority_decides_share")] == ["neixiang"]
    assert values["chenzhou"].value("basic_resources_unconditional") is None


@pytest.mark.parametrize("code", CODES)
def test_reminder_lead_time_is_a_platform_setting(code):
    p = load_profile(code).param("reminder_lead_working_days")
    assert p.value == 2 and p.source == "platform_setting" and p.article is None


def test_profiles_are_immutable():
    cz = load_profile("chenzhou")
    with pytest.raises(TypeError):
        cz.parameters["share_reply_working_days"] = None
    assert isinstance(load_profile("template").value("theme_domains"), tuple)


def test_unknown_key_and_profile():
    with pytest.raises(KeyError):
        load_profile("chenzhou").value("share_reply_days")
    with pytest.raises(ProfileError):
        load_profile("nowhere")


# --- validation -------------------------------------------------------------------------------------


def broken(mutate):
    data = copy.deepcopy(raw("chenzhou"))
    mutate(data["parameters"])
    return data


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p["share_reply_working_days"].update(unit="weeks"),  # unknown unit
        lambda p: p["share_reply_working_days"].update(unit="months"),  # wrong unit for the key
        lambda p: p["share_reply_working_days"].update(article=None),  # value without article
        lambda p: p["share_reply_working_days"].update(value=-1),
        lambda p: p["share_reply_working_days"].update(value=True),
        lambda p: p["share_reply_written"].update(value="yes"),
        lambda p: p["correction_routing"].update(value="somebody"),
        lambda p: p["annual_report_due"].update(value={"month": 2, "day": 30}),
        lambda p: p["annual_report_due"].update(value="01-31"),
        lambda p: p["share_delivery_methods"].update(value=["fax"], article="x 第一条"),
        lambda p: p["share_reply_working_days"].update(requirement="SHARE-07"),
        lambda p: p["share_reply_working_days"].update(source="folklore"),
        lambda p: p.pop("log_retention_months"),
        lambda p: p.update(made_up_parameter=dict(p["share_reply_written"])),
    ],
)
def test_validation_refuses_bad_profiles(mutate):
    parse_profile(raw("chenzhou"))  # the original is fine
    with pytest.raises(ProfileError):
        parse_profile(broken(mutate))
