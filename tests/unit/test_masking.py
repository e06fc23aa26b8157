"""Masking rules and row filters of a grant: the pure cores the delivery gate applies to every row."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govshare.sharing import masking, scope


@given(st.text(min_size=1, max_size=40), st.integers(0, 8), st.integers(0, 8))
def test_keep_preserves_length_and_always_masks_something(value, first, last):
    out = masking.keep(value, first, last)
    assert len(out) == len(value)
    assert "*" in out
    shown_first = min(first, len(value) - 1)
    assert out[:shown_first] == value[:shown_first]


@given(st.text(min_size=1, max_size=40))
def test_salted_hash_differs_between_grants_and_is_stable_within_one(value):
    a = masking.salted_hash(value, "salt-a")
    assert a == masking.salted_hash(value, "salt-a")
    assert a != masking.salted_hash(value, "salt-b")


def test_usual_personal_items_get_a_default():  # R-SHARE-10
    assert masking.default_rule("公民身份号码") == "keep:6:4"
    assert masking.default_rule("手机号码") == "keep:3:4"
    assert masking.default_rule("姓名") == "keep:1:0"
    assert masking.default_rule("户籍地址") == "keep:6:0"
    assert masking.default_rule("银行卡号") == "keep:6:4"
    assert masking.default_rule("企业名称") == "plain"


def test_rules_applied_to_values():
    masks = masking.compile_masks(
        {"id": "keep:6:4", "name": "keep:1:0", "born": "year", "tel": "null", "card": "hash", "x": "plain"},
        "s",
    )
    assert "x" not in masks  # plain values pass untouched, no function call per row
    assert masks["id"]("430102198001010016") == "430102********0016"
    assert masks["name"]("欧阳娜娜") == "欧***"
    assert masks["born"]("1980-01-01") == "1980"
    assert masks["born"]("430102198001010016") == "1980"
    assert masks["tel"]("13812345678") is None
    assert len(masks["card"]("6222020200112233445")) == 32


@pytest.mark.parametrize("spec", ["keep", "keep:a:1", "keep:1:2:3", "md5", "keep:100:1"])
def test_unknown_rules_are_refused_with_a_message(spec):
    with pytest.raises(masking.RuleError, match="脱敏规则"):
        masking.parse(spec)


def test_rule_labels_for_the_approver():
    assert masking.parse("keep:3:4").label == "保留前3位、后4位"
    assert masking.parse(None).label == "不脱敏"


def test_row_filter_matches_all_conditions():  # R-SHARE-10
    f = scope.compile_filter(
        [
            {"item": "qh", "op": "prefix", "values": ["4310", "4311"]},
            {"item": "xb", "op": "in", "values": ["女"]},
        ]
    )
    assert f({"qh": "431002", "xb": "女"})
    assert not f({"qh": "431002", "xb": "男"})
    assert not f({"qh": "430102", "xb": "女"})
    assert not f({"xb": "女"})
    assert not f(None)
    assert scope.compile_filter([])({"anything": 1})


@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c"]), st.one_of(st.none(), st.text(max_size=5), st.integers())
    )
)
def test_eq_filter_agrees_with_text_comparison(data):
    f = scope.compile_filter([{"item": "a", "op": "eq", "values": ["1"]}])
    assert f(data) == (data.get("a") is not None and str(data.get("a")) == "1")


def test_row_filter_validation_names_each_problem():
    problems = scope.validate(
        [{"item": "nope", "op": "like", "values": []}, {"item": "xb", "op": "eq", "values": ["男", "女"]}],
        ["xb"],
    )
    assert len(problems) == 4
    assert any("nope" in p for p in problems) and any("like" in p for p in problems)
    assert scope.validate([], ["xb"]) == []


def test_row_filter_described_in_chinese():
    text = scope.describe([{"item": "qh", "op": "prefix", "values": ["4310"]}], {"qh": "户籍地区划"})
    assert text == "户籍地区划以“4310”开头"
