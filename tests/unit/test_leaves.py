"""Leaf bytes of event rows: the fast per-row path gives exactly the reference canonical bytes (R-SEC-05)."""

import datetime as dt
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from govshare.audit import leaves
from govshare.audit.merkle import canonical_bytes

TEXT = st.text(max_size=30)  # any code point but surrogates: control characters, quotes, CJK, astral
INT = st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
DETAIL = st.dictionaries(TEXT, st.none() | st.booleans() | st.integers() | TEXT, max_size=5)
WHEN = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31))


def _pg_spelling(detail: dict) -> str:
    """jsonb's text form: keys by length then bytes, a space after ':' and ','."""
    items = sorted(detail.items(), key=lambda kv: (len(kv[0].encode()), kv[0].encode()))
    return "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in items) + "}"


@st.composite
def rows(draw):
    when = draw(WHEN)
    detail = draw(DETAIL)
    strings = [draw(TEXT) for _ in range(11)]
    seq = draw(st.integers(min_value=1, max_value=2**62))
    actor_id, dept_id = draw(INT), draw(INT)
    # what the sealer's driver gives (a datetime, a dict or the stored JSON text) …
    reference = (
        seq,
        when,
        strings[0],
        actor_id,
        dept_id,
        *strings[1:11],
        draw(st.sampled_from([detail, json.dumps(detail)])),
    )
    # … and what verify reads: SQLite's stored text or PostgreSQL's to_char, the JSON as each database spells it
    text = draw(
        st.sampled_from(
            [
                when.isoformat(" "),  # Django's SQLite storage (no fraction when the microseconds are 0)
                f"{when.year:04d}-{when:%m-%d %H:%M:%S.%f}",  # to_char(..., 'YYYY-MM-DD HH24:MI:SS.US')
            ]
        )
    )
    stored = draw(
        st.sampled_from([json.dumps(detail), _pg_spelling(detail), json.dumps(detail, ensure_ascii=False)])
    )
    fast = (seq, text, strings[0], actor_id, dept_id, *strings[1:11], stored)
    return reference, fast


@settings(max_examples=400, deadline=None)
@given(rows())
def test_fast_leaf_bytes_equal_the_reference(pair):
    reference, fast = pair
    expected = b"\x00" + canonical_bytes(leaves.event_dict(reference))
    assert leaves.leaf_input(fast) == expected
    if fast[1][:1] != "0":  # years before 1000 are left to the reference (strftime does not pad them)
        assert leaves._fast(fast) == expected  # the fast path itself, not its fallback
    assert leaves.leaf_input(reference) == expected  # datetime rows take the reference path
    assert leaves.event_bytes(fast) == expected[1:]


@given(st.datetimes(timezones=st.timezones()), DETAIL)
def test_aware_datetimes_and_odd_values_fall_back(when, detail):
    row = (7, when, "a", True, None, "部门", "", "x", "", "", "", "", "ok", "", "", detail)
    assert leaves.leaf_input(row) == b"\x00" + leaves.event_bytes(row)
    assert b'"actor_id":true' in leaves.leaf_input(row)


def test_known_leaf_bytes():
    row = (1, "2026-01-05 01:00:00", "user0", 0, None, "部门0", "", "auth.login", "t", "1", "办理", "", "ok", "r",
           "10.0.0.1", '{"n": 0, "a\\u0001": "\\u4e2d"}')  # fmt: skip
    assert leaves.leaf_input(row) == (
        b'\x00{"action":"auth.login","actor":"user0","actor_id":0,"case_id":"","client_system":"",'
        b'"department_id":null,"department_name":"\xe9\x83\xa8\xe9\x97\xa80","detail":{"a\\u0001":"\xe4\xb8\xad",'
        b'"n":0},"object_id":"1","object_type":"t","occurred_at":"2026-01-05T01:00:00.000000Z",'
        b'"purpose":"\xe5\x8a\x9e\xe7\x90\x86","request_id":"r","result":"ok","seq":1,"source_ip":"10.0.0.1"}'
    )
