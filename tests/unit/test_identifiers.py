"""Identifier validation (GB 11643, GB 32100, GB/T 2260): properties, real shapes, stdnum cross-checks, CLI."""

from __future__ import annotations

import json
from datetime import date

import pytest
import stdnum.cn.ric as stdnum_ric
import stdnum.cn.uscc as stdnum_uscc
from hypothesis import assume, example, given
from hypothesis import strategies as st
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength

from govshare.orgs import identifiers, regions
from govshare.orgs.identifiers import (
    REGION,
    RIC,
    USCC,
    detect_and_validate,
    main_validate_id,
    ric_check_char,
    uscc_check_char,
    validate_region_code,
    validate_ric,
    validate_uscc,
)

TODAY = date(2025, 6, 30)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CODES = sorted(regions.known_codes())


def make_ric(region: str, born: date, seq: int) -> str:
    body = f"{region}{born:%Y%m%d}{seq:03d}"
    return body + ric_check_char(body)


def make_uscc(first17: str) -> str:
    return first17 + uscc_check_char(first17)


def stdnum_error(validate, value: str):
    """The exception class stdnum raises, None when it accepts, KeyError when it crashes."""
    try:
        validate(value)
    except (InvalidLength, InvalidFormat, InvalidChecksum, InvalidComponent, KeyError) as exc:
        return type(exc)
    return None


rics = st.builds(
    make_ric,
    st.sampled_from(CODES),
    st.dates(min_value=date(1850, 1, 1), max_value=TODAY),
    st.integers(0, 999),
)
usccs = st.builds(make_uscc, st.text(USCC_ALPHABET, min_size=17, max_size=17))


# --- 公民身份号码 ------------------------------------------------------------------------------


@given(rics)
def test_generated_ric_validates_and_parses(ric):
    result = validate_ric(ric, today=TODAY)
    assert result.valid, result.reason
    assert (result.kind, result.code, result.reason, result.value) == (RIC, None, None, ric)
    assert result.birth_date == date(int(ric[6:10]), int(ric[10:12]), int(ric[12:14]))
    assert result.sex == ("男" if int(ric[16]) % 2 else "女")
    assert result.region_code == ric[:6]


@given(rics, st.data())
def test_ric_any_single_character_change_is_detected(ric, data):
    pos = data.draw(st.integers(0, 17))
    new = data.draw(st.sampled_from("0123456789Xa-").filter(lambda c: c != ric[pos]))
    result = validate_ric(ric[:pos] + new + ric[pos + 1 :], today=TODAY)
    assert not result.valid
    assert result.code in {"check_digit", "charset"}


@given(rics, st.integers(0, 16))
def test_ric_adjacent_transposition_is_detected(ric, pos):
    assume(ric[pos] != ric[pos + 1])
    swapped = ric[:pos] + ric[pos + 1] + ric[pos] + ric[pos + 2 :]
    assert not validate_ric(swapped, today=TODAY).valid


def test_gb11643_examples_validate_with_their_facts():
    result = validate_ric("11010519491231002X")
    assert result.valid
    assert (result.birth_date, result.sex, result.region_name) == (date(1949, 12, 31), "女", "北京市朝阳区")


def test_lowercase_x_whitespace_and_full_width_are_normalised():
    assert validate_ric(" 11010519491231002x ").value == "11010519491231002X"
    assert validate_ric("11010519491231002x").valid
    full_width = "３６０４２６１９９１０１０１００７１"
    assert validate_ric(full_width).valid
    assert validate_ric(full_width).value == "360426199101010071"


def test_wrong_check_digit_names_the_right_one():
    result = validate_ric("360426199101010072")
    assert (result.valid, result.code) == (False, "check_digit")
    assert result.reason == "校验码错误（应为 1）"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("36042619910101007", "length"),
        ("3604261991010100711", "length"),
        ("", "length"),
        ("36042619910101007Y", "charset"),
        ("3604261991010A0071", "charset"),
    ],
)
def test_ric_shape_errors(value, code):
    assert validate_ric(value).code == code


def test_fifteen_digit_old_numbers_are_rejected_as_length_and_say_18():
    result = validate_ric("360426910101007")
    assert (result.valid, result.code) == (False, "length")
    assert result.reason == "15位旧号码已停止使用，公民身份号码应为18位"


@pytest.mark.parametrize("year", [1900, 1999, 2023])
def test_feb_29_in_a_non_leap_year_is_rejected(year):
    body = f"431002{year}0229123"
    result = validate_ric(body + ric_check_char(body), today=TODAY)
    assert (result.valid, result.code) == (False, "date")
    assert f"{year}0229" in result.reason


def test_feb_29_in_a_leap_year_is_fine():
    assert validate_ric(make_ric("431002", date(2000, 2, 29), 123), today=TODAY).valid


def test_future_birth_date_is_rejected_but_today_is_fine():
    ric = make_ric("431002", date(2024, 1, 2), 7)
    assert validate_ric(ric, today=date(2024, 1, 2)).valid
    result = validate_ric(ric, today=date(2024, 1, 1))
    assert (result.valid, result.code) == (False, "future_date")


def test_future_birth_date_is_rejected_against_the_real_clock():
    born = date(date.today().year + 1, 1, 1)
    assert validate_ric(make_ric("431002", born, 7)).code == "future_date"


def test_long_running_process_sees_the_new_day(monkeypatch):
    """The cached 'today' must move on: a process started yesterday still accepts today's newborns."""
    monkeypatch.setattr(identifiers, "_today", "20000101")
    assert validate_ric(make_ric("431002", date.today(), 7)).valid


def test_birth_before_1850_is_rejected():
    assert validate_ric(make_ric("431002", date(1849, 12, 31), 1)).code == "date"
    assert validate_ric(make_ric("431002", date(1850, 1, 1), 1)).valid


def test_unknown_region_is_rejected():
    result = validate_ric(make_ric("999999", date(1990, 1, 1), 1))
    assert (result.valid, result.code) == (False, "region")
    assert "999999" in result.reason


def test_region_newer_than_birth_year_is_accepted_where_stdnum_rejects():
    """广信区 (361104) was created in 2019; people born there in 1990 carry it after re-registration."""
    ric = make_ric("361104", date(1990, 3, 7), 123)
    assert stdnum_error(stdnum_ric.validate, ric) is InvalidComponent
    result = validate_ric(ric)
    assert result.valid
    assert result.region_name == "江西省上饶市广信区"


def test_gb11643_own_1880_example_is_accepted_where_stdnum_rejects():
    assert not stdnum_ric.is_valid("440524188001010014")
    assert validate_ric("440524188001010014").valid


def test_retired_region_code_still_validates():
    """上饶县 361121 was abolished in 2019; the numbers issued with it stay valid for life."""
    assert validate_ric(make_ric("361121", date(1985, 5, 5), 42)).valid


def test_taiwan_residence_permit_region_is_accepted():
    result = validate_ric(make_ric("830000", date(1992, 1, 1), 7))
    assert result.valid
    assert result.region_name == "台湾地区（居住证）"


def _with_check(body: str) -> str:
    return body + ric_check_char(body)


ric_like = st.one_of(
    # plausible numbers with a correct check char; date and region may still be wrong
    st.builds(
        lambda region, ymd, seq: _with_check(region + ymd + seq),
        st.sampled_from([*CODES, "999999", "000000"]),
        st.from_regex(
            r"(18[5-9][0-9]|19[0-9][0-9]|20[01][0-9])(0[1-9]|1[0-3])([012][0-9]|3[0-2])", fullmatch=True
        ),
        st.from_regex(r"[0-9]{3}", fullmatch=True),
    ),
    # arbitrary digit strings: almost all fail the check digit or length
    st.from_regex(r"[0-9]{15,19}X?", fullmatch=True),
)


@given(ric_like)
@example("11010519491231002X")
@example("360426199101010072")
def test_ric_agrees_with_stdnum_where_stdnum_is_right(value):
    ours = validate_ric(value, today=TODAY)
    theirs = stdnum_error(stdnum_ric.validate, value)
    if theirs is None:  # stdnum accepts: so do we (its region rule is stricter than ours)
        assert ours.valid, ours.reason
    if theirs is InvalidLength:
        assert ours.code == "length"
    if theirs in (InvalidFormat, InvalidChecksum):
        assert ours.code in {"charset", "check_digit"}
    if ours.code in {"length", "charset", "check_digit"}:
        assert theirs in (InvalidLength, InvalidFormat, InvalidChecksum)
    if ours.code == "date" and value[6:10] >= "1850":
        assert theirs is InvalidComponent
    if ours.valid and theirs is not None:  # the only place we differ: region era (or a stdnum crash)
        assert theirs in (InvalidComponent, KeyError)
        assert stdnum_ric.get_birth_date(value) == ours.birth_date


# --- 统一社会信用代码 --------------------------------------------------------------------------


@given(usccs)
def test_generated_uscc_validates(code):
    result = validate_uscc(code)
    assert result.valid, result.reason
    assert (result.kind, result.value, result.region_code, result.org_code) == (
        USCC,
        code,
        code[2:8],
        code[8:17],
    )


@given(usccs, st.data())
def test_uscc_any_single_character_change_is_detected(code, data):
    pos = data.draw(st.integers(0, 17))
    new = data.draw(st.sampled_from(USCC_ALPHABET + "IOSVZ-").filter(lambda c: c != code[pos]))
    result = validate_uscc(code[:pos] + new + code[pos + 1 :])
    assert not result.valid
    assert result.code in {"check_digit", "charset"}


@given(usccs, st.integers(0, 16))
def test_uscc_adjacent_transposition_is_detected(code, pos):
    assume(code[pos] != code[pos + 1])
    assert not validate_uscc(code[:pos] + code[pos + 1] + code[pos] + code[pos + 2 :]).valid


def test_check_char_weights_follow_gb32100():
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    body = "91430000MA4L0BCD1"
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body, weights, strict=True))
    assert uscc_check_char(body) == USCC_ALPHABET[(31 - total % 31) % 31]


def test_real_uscc_with_facts_and_normalisation():
    result = validate_uscc(" 91110000600037341l ")
    assert result.valid
    assert result.value == "91110000600037341L"
    assert (result.registration_authority, result.org_category, result.region_name) == (
        "工商（市场监管）",
        "企业",
        "北京市",
    )


def test_uscc_wrong_check_char_names_the_right_one():
    result = validate_uscc("91110000600037341M")
    assert (result.valid, result.code, result.reason) == (False, "check_digit", "校验码错误（应为 L）")


@pytest.mark.parametrize("bad", ["I", "O", "S", "V", "Z"])
def test_uscc_banned_letters_are_charset_errors(bad):
    result = validate_uscc("9143000060003734" + bad + "L")
    assert (result.valid, result.code) == (False, "charset")
    assert bad in result.reason


def test_uscc_length_error():
    assert validate_uscc("9111000060003734").code == "length"


def test_uscc_letters_in_first_eight_places_accepted_where_stdnum_rejects():
    """农村集体经济组织 are registered by 农业农村 (N); stdnum wants digits in places 1-8."""
    code = make_uscc("N2431002MF5123456")
    assert stdnum_error(stdnum_uscc.validate, code) is InvalidFormat
    result = validate_uscc(code)
    assert result.valid
    assert (result.registration_authority, result.org_category) == ("农业农村", "村级集体经济组织")
    assert result.region_name == "湖南省郴州市北湖区"


def test_national_registration_region():
    assert validate_uscc(make_uscc("11100000000013127")).region_name == "国家（中央）"


@given(st.text(USCC_ALPHABET + "IOSVZ", min_size=17, max_size=19), st.booleans())
def test_uscc_agrees_with_stdnum_when_the_first_eight_are_digits(value, fix_check):
    if fix_check and len(value) == 18 and all(c in USCC_ALPHABET for c in value):
        value = make_uscc(value[:17])
    ours = validate_uscc(value)
    theirs = stdnum_error(stdnum_uscc.validate, value)
    if theirs is None:
        assert ours.valid
    if not ours.valid:
        assert theirs is not None
    if ours.valid and theirs is not None:
        assert theirs is InvalidFormat and not value[:8].isdigit()
    if value[:8].isdigit():
        assert ours.valid == (theirs is None)


def test_check_char_helpers_refuse_malformed_input():
    with pytest.raises(ValueError):
        ric_check_char("1234567890123456")
    with pytest.raises(ValueError):
        ric_check_char("1234567890123456_")
    with pytest.raises(ValueError):
        uscc_check_char("9111000060003734I")


# --- 行政区划代码 and detection ----------------------------------------------------------------


def test_region_code_validation():
    result = validate_region_code("431081")
    assert result.valid and (result.kind, result.name, result.full_name, result.current) == (
        REGION,
        "资兴市",
        "湖南省郴州市资兴市",
        True,
    )
    assert validate_region_code("361121").current is False  # 上饶县, abolished 2019
    assert validate_region_code("999999").code == "region"
    assert validate_region_code("43108").code == "length"
    assert validate_region_code("43108A").code == "charset"


def test_snapshot_has_the_profiles_divisions():
    current = {r.code: r for r in regions.current_regions()}
    assert sum(r.level == "province" for r in current.values()) == 34
    chenzhou = {c: r.name for c, r in current.items() if r.parent_code == "431000"}
    assert chenzhou == {
        "431002": "北湖区", "431003": "苏仙区", "431021": "桂阳县", "431022": "宜章县", "431023": "永兴县",
        "431024": "嘉禾县", "431025": "临武县", "431026": "汝城县", "431027": "桂东县", "431028": "安仁县",
        "431081": "资兴市",
    }  # fmt: skip
    shangrao = {c for c, r in current.items() if r.parent_code == "361100"}
    assert shangrao == {"361102", "361103", "361104", *(f"3611{n}" for n in range(23, 31)), "361181"}
    assert (current["320581"].name, current["320581"].parent_code) == ("常熟市", "320500")
    assert (current["411325"].name, current["411300"].name, current["411300"].level) == (
        "内乡县",
        "南阳市",
        "city",
    )
    assert "361121" not in current and "361121" in regions.known_codes()
    assert not any(r.name == "市辖区" for r in current.values())
    assert regions.region_name("123456") is None


def test_detect_and_validate_by_shape():
    assert detect_and_validate("11010519491231002x").kind == RIC
    assert detect_and_validate("91110000600037341L").kind == USCC
    assert detect_and_validate("431002").kind == REGION
    # an all-digit 事业单位 code fails as an ID number but is a valid USCC
    assert validate_ric("124310000061234000").code == "check_digit"
    assert detect_and_validate("124310000061234000").kind == USCC
    bad = detect_and_validate("360426199101010072")
    assert (bad.kind, bad.code) == (RIC, "check_digit")


# --- CLI -------------------------------------------------------------------------------------


def test_cli_valid_id_exit_0(capsys):
    assert main_validate_id(["11010519491231002X"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "有效 公民身份号码"
    assert "出生日期: 1949-12-31" in out
    assert "地区: 北京市朝阳区" in out


def test_cli_invalid_uscc_exit_1(capsys):
    assert main_validate_id(["91110000600037341M"]) == 1
    assert capsys.readouterr().out.splitlines()[0] == "无效 统一社会信用代码: 校验码错误（应为 L）"


def test_cli_json(capsys):
    assert main_validate_id(["11010519491231002X", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload == {
        "value": "11010519491231002X",
        "valid": True,
        "kind": "公民身份号码",
        "code": None,
        "reason": None,
        "birth_date": "1949-12-31",
        "sex": "女",
        "region_code": "110105",
        "region_name": "北京市朝阳区",
    }
    assert main_validate_id(["91110000600037341M", "--json"]) == 1
    raw = capsys.readouterr().out
    assert "校验码错误" in raw  # ensure_ascii=False: Chinese stays readable
    assert json.loads(raw)["code"] == "check_digit"


def test_cli_kind_option(capsys):
    assert main_validate_id(["--kind", "uscc", "11010519491231002X"]) == 1
    assert capsys.readouterr().out.startswith("无效 统一社会信用代码")


@pytest.mark.parametrize("argv", [[], ["--bogus", "x"], ["a", "b"], ["--kind", "passport", "x"]])
def test_cli_bad_arguments_exit_2(argv, capsys):
    assert main_validate_id(argv) == 2
    assert "usage: govshare validate-id" in capsys.readouterr().err
