"""Leaf bytes of audit event rows: `merkle.canonical_bytes` of the event, built for a million rows at a time.

Pure Python, no Django import (verify's worker processes and property tests use it as is). `event_bytes` is
the reference: a dict through the canonical encoder. `leaf_input` gives the same bytes (with the 0x00 leaf
prefix) without building a dict or sorting keys per row: the 16 keys are fixed, so their order is fixed
too, and every value goes through the very escaping function the canonical encoder uses. Values of an
unexpected type take the reference path. tests/unit/test_leaves.py checks both agree on arbitrary rows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from json.decoder import JSONDecoder
from json.encoder import encode_basestring

from govshare.audit.merkle import canonical_bytes

# The fields a leaf commits to, in the order rows are read.
FIELDS = (
    "seq",
    "occurred_at",
    "actor",
    "actor_id",
    "department_id",
    "department_name",
    "client_system",
    "action",
    "object_type",
    "object_id",
    "purpose",
    "case_id",
    "result",
    "request_id",
    "source_ip",
    "detail",
)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def iso_utc(value) -> str:
    """`occurred_at` as a leaf commits to it: UTC, always microseconds (naive values are UTC)."""
    if isinstance(value, str):  # raw SQLite text
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime(TIME_FORMAT)


def event_dict(row: Sequence) -> dict:
    """The object a leaf commits to, from a FIELDS-ordered row (ORM values or raw cursor values)."""
    d = dict(zip(FIELDS, row, strict=True))
    d["occurred_at"] = iso_utc(d["occurred_at"])
    detail = d["detail"]
    if isinstance(detail, str | bytes):
        d["detail"] = json.loads(detail)
    elif detail is None:
        d["detail"] = {}
    return d


def event_bytes(row: Sequence) -> bytes:
    """The reference: canonical bytes of `event_dict(row)`."""
    return canonical_bytes(event_dict(row))


# ---------------------------------------------------------------- the per-row fast path

# Canonical key order (code points); _fast passes its values in exactly this order.
_KEYS = ("action", "actor", "actor_id", "case_id", "client_system", "department_id", "department_name", "detail",
         "object_id", "object_type", "occurred_at", "purpose", "request_id", "result", "seq", "source_ip")  # fmt: skip
assert list(_KEYS) == sorted(FIELDS)
# occurred_at is written as its two halves around the "T".
_TEMPLATE = "\x00{" + ",".join(f'"{k}":"%sT%sZ"' if k == "occurred_at" else f'"{k}":%s' for k in _KEYS) + "}"

# The canonical encoder's own C pieces (merkle._ENCODER is this configuration): string escaping, and the
# encoder and scanner without the per-call setup json.dumps/json.loads do.
_esc = encode_basestring
try:
    from json.encoder import c_make_encoder as _c_make_encoder
except ImportError:  # pragma: no cover - CPython always has _json
    _c_make_encoder = None
if _c_make_encoder is not None:
    _encode_c = _c_make_encoder(None, None, _esc, None, ":", ",", True, False, False)

    def _encode(obj) -> str:
        return "".join(_encode_c(obj, 0))

else:  # pragma: no cover
    _encode = json.JSONEncoder(
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode
_scan = JSONDecoder().scan_once


def _detail(value) -> str:
    """The stored detail re-encoded canonically (the database keeps its own spelling of the JSON)."""
    if isinstance(value, str):
        try:
            obj, end = _scan(value, 0)
        except StopIteration:
            end = -1
        if end != len(value):  # leading or trailing whitespace, or not JSON: json.loads decides
            obj = json.loads(value)
    elif value is None:
        obj = {}
    else:
        obj = json.loads(value) if isinstance(value, bytes) else value
    return _encode(obj)


class _Unusual(Exception):
    pass


def _fast(row, esc=_esc, tmpl=_TEMPLATE) -> bytes:
    (seq, when, actor, actor_id, dept_id, dept_name, client, action, otype, oid, purpose, case, result, req,
     ip, detail) = row  # fmt: skip
    # `when` is 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC: SQLite's stored text, or PostgreSQL's to_char
    # (services.verify selects it so). Anything else (datetime objects too) takes the reference path.
    if type(when) is not str or when[10:11] != " " or when[:1] == "0":
        raise _Unusual
    n = len(when)
    if n == 26:
        day, time = when[:10], when[11:]
    elif n == 19:
        day, time = when[:10], when[11:] + ".000000"
    else:
        raise _Unusual
    if actor_id is None:
        actor_id = "null"
    elif type(actor_id) is not int:
        raise _Unusual
    if dept_id is None:
        dept_id = "null"
    elif type(dept_id) is not int:
        raise _Unusual
    if type(seq) is not int:
        raise _Unusual
    if detail != "{}":
        detail = _detail(detail)
    return (
        tmpl
        % (esc(action), esc(actor), actor_id, esc(case), esc(client), dept_id, esc(dept_name), detail, esc(oid),
           esc(otype), day, time, esc(purpose), esc(req), esc(result), seq, esc(ip))
    ).encode()  # fmt: skip


def leaf_input(row: Sequence) -> bytes:
    """0x00 ‖ canonical bytes of the row's event, i.e. what the leaf hash is taken over.

    Equal to b"\\x00" + event_bytes(row) for every well-formed row (timestamps as the database stores or
    to_char renders them); rows of another shape go through event_bytes. Only a malformed timestamp of
    the storage shape (say, letters where digits belong) gives bytes the reference would not; verify
    rechecks any row whose hash differs with the reference path before calling it altered.
    """
    try:
        return _fast(row)
    except (_Unusual, TypeError, ValueError):
        return b"\x00" + event_bytes(row)
