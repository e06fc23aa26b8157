"""Validate a batch of rows against the catalog's items and build each row's canonical JSON.

Pure (pyarrow + our identifier validators, no Django): the ingest hot path. Generic checks (required,
length, type, enumeration) run as Arrow kernels over whole columns; identifier columns go through
`govshare.orgs.identifiers` value by value, so there is one definition of a valid 公民身份号码 in the
codebase. The JSON of a row is built column-wise too: keys in catalog order, values normalised
(trimmed, dates ISO, numbers as JSON numbers), so equal data always has equal bytes and the digest
tells "unchanged" apart from "changed" without reading the old value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from govshare.orgs import identifiers, regions


@dataclass(frozen=True)
class ItemSpec:
    code: str
    name: str
    data_type: str = "C"
    length: int | None = None
    required: bool = False
    primary: bool = False
    indexed: bool = False
    enum: tuple[str, ...] = ()
    check: str = ""  # "" | ric | uscc | region | mobile
    sensitive: bool = False


@dataclass
class Problem:
    row: int  # index within the batch
    item_code: str
    item_name: str
    value: str
    code: str
    message: str


@dataclass
class CheckedBatch:
    size: int
    keys: list  # primary value per row (None when missing)
    json: list  # canonical JSON text per row
    bad_rows: set = field(default_factory=set)
    problems: list = field(default_factory=list)
    stored: list | None = None  # the JSON as stored, when sensitive items are sealed (else `json`)
    stored_keys: list | None = None  # the keys as stored, when the primary item is sealed (else `keys`)


_INT = r"^[+-]?\d{1,18}$"
_NUM = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?$"
_DATE = r"^\d{4}-\d{1,2}-\d{1,2}$"
_DATETIME = r"^\d{4}-\d{1,2}-\d{1,2}[ T]\d{1,2}:\d{1,2}(:\d{1,2})?$"
_MOBILE = r"^1[3-9]\d{9}$"
_TRUE = ("true", "1", "是", "y", "yes", "t")
_FALSE = ("false", "0", "否", "n", "no", "f")
_CONTROL = r"[\x00-\x1f]"
_TYPE_LABELS = {
    "I": ("not_integer", "应为整数"),
    "N": ("not_number", "应为数值"),
    "F": ("not_number", "应为数值"),
    "Y": ("not_number", "应为金额数值"),
    "D": ("not_date", "应为有效日期（如 2024-05-01）"),
    "T": ("not_datetime", "应为有效日期时间（如 2024-05-01 08:30:00）"),
    "L": ("not_boolean", "应为 是/否（true/false、1/0）"),
}
_ID_VALIDATORS = {
    "ric": identifiers.validate_ric,
    "uscc": identifiers.validate_uscc,
    "region": identifiers.validate_region_code,
}
_region_set: pa.Array | None = None


def _regions() -> pa.Array:
    global _region_set
    if _region_set is None:
        _region_set = pa.array(sorted(regions.known_codes()))
    return _region_set


def _quoted(col: pa.Array) -> pa.Array:
    """JSON string literals for a string column (nulls stay null)."""
    esc = pc.replace_substring(pc.replace_substring(col, "\\", "\\\\"), '"', '\\"')
    control = pc.fill_null(pc.match_substring_regex(col, _CONTROL), False)
    if pc.any(control).as_py():
        fixed = [json.dumps(v, ensure_ascii=False)[1:-1] for v in pc.filter(col, control).to_pylist()]
        esc = pc.replace_with_mask(esc, control, pa.array(fixed, pa.string()))
    return pc.binary_join_element_wise('"', esc, '"', "")


def _number_text(col: pa.Array) -> pa.Array:
    """Valid JSON number text: no '+', no leading zeros, no bare '.'."""
    t = pc.replace_substring_regex(col, r"^\+", "")
    t = pc.replace_substring_regex(t, r"^\.", "0.")
    t = pc.replace_substring_regex(t, r"^-\.", "-0.")
    t = pc.replace_substring_regex(t, r"\.([eE]|$)", r"\1")
    t = pc.replace_substring_regex(t, r"^(-?)0+(\d)", r"\1\2")
    return pc.replace_substring_regex(t, r"^-0$", "0")


def _date_parts(col: pa.Array, pattern: str, fmt: str, out_fmt: str):
    """(ok mask, normalised text) for dates: parse, then reject what the parser rolled over (2月30日)."""
    ok = pc.fill_null(pc.match_substring_regex(col, pattern), False)
    cleaned = pc.if_else(ok, col, None)
    ts = pc.strptime(cleaned, format=fmt, unit="s", error_is_null=True)
    parts = pc.split_pattern_regex(cleaned, r"[-: T]")
    month = pc.cast(pc.list_element(parts, 1), pa.int32(), safe=False)
    day = pc.cast(pc.list_element(parts, 2), pa.int32(), safe=False)
    same = pc.and_(pc.equal(pc.month(ts), month), pc.equal(pc.day(ts), day))
    good = pc.fill_null(pc.and_(ok, same), False)
    good = pc.and_(good, pc.fill_null(pc.greater_equal(pc.year(ts), 1000), False))
    return good, pc.strftime(ts, format=out_fmt)


def _normalise_dates(col: pa.Array) -> pa.Array:
    """Accept 2024/5/1, 2024.05.01, 20240501, 2024年5月1日 as well as ISO."""
    t = pc.replace_substring_regex(col, r"^(\d{4})(\d{2})(\d{2})$", r"\1-\2-\3")
    t = pc.replace_substring_regex(t, r"^(\d{4})(\d{2})(\d{2})([ T])", r"\1-\2-\3\4")
    t = pc.replace_substring_regex(t, r"[/.年月]", "-")
    return pc.replace_substring_regex(t, r"日", "")


def _identifier_failures(col: pa.Array, check: str, today: date | None):
    """(row, value, result) for each invalid identifier; repeated values are validated once."""
    validate = _ID_VALIDATORS[check]
    if check == "ric" and today is not None:
        validate = lambda v: identifiers.validate_ric(v, today)  # noqa: E731
    distinct = pc.unique(col)
    if len(distinct) * 2 < len(col):  # e.g. employer codes: few values, many rows
        bad = [v for v in distinct.to_pylist() if v is not None and not validate(v).valid]
        if not bad:
            return
        hit = pc.fill_null(pc.is_in(col, value_set=pa.array(bad, pa.string())), False)
        idx = pc.indices_nonzero(hit).to_pylist()
        vals = pc.take(col, pa.array(idx, pa.uint64())).to_pylist()
        for i, v in zip(idx, vals, strict=True):
            yield i, v, validate(v)
        return
    for i, v in enumerate(col.to_pylist()):
        if v is not None:
            r = validate(v)
            if not r.valid:
                yield i, v, r


def check_batch(
    batch: pa.RecordBatch, specs: list[ItemSpec], today: date | None = None, sealer=None
) -> CheckedBatch:
    """Check every value of every row; rows with any problem are in `bad_rows`.

    `sealer` (security.fields.Sealer) seals the sensitive items' JSON literals for storage; the digest
    is still taken over the plain JSON, so a key rotation does not make unchanged rows look changed.
    """
    n = batch.num_rows
    names = set(batch.schema.names)
    problems: list[Problem] = []
    fragments: list = []
    literals: dict[int, pa.Array] = {}  # fragment position → a sensitive item's plain literal
    key_col = None

    def report(mask, col, code, message_for):
        idx = pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist()
        if not idx:
            return
        vals = pc.take(col, pa.array(idx, pa.uint64())).to_pylist()
        for i, v in zip(idx, vals, strict=True):
            shown = "" if v is None else str(v)[:200]
            problems.append(Problem(i, spec.code, spec.name, shown, code, message_for(v)))

    for pos, spec in enumerate(specs):
        raw = batch.column(spec.code) if spec.code in names else pa.nulls(n, pa.string())
        if raw.type != pa.string():
            raw = pc.cast(raw, pa.string())
        col = pc.utf8_trim_whitespace(raw)
        col = pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)
        present = pc.is_valid(col)
        label = f"「{spec.name}」"
        if spec.required:
            report(pc.invert(present), col, "required", lambda v, label=label: f"{label}为必填项，不能为空")

        dt = spec.data_type or "C"
        if spec.check in ("ric", "uscc"):
            col = pc.utf8_upper(col)
        value = col  # the normalised text that goes into JSON
        if dt in ("C", "M", "G", "B", ""):
            if spec.length and dt in ("C", "M"):
                too_long = pc.greater(pc.utf8_length(col), spec.length)
                report(
                    too_long,
                    col,
                    "too_long",
                    lambda v, label=label, m=spec.length: f"{label}长度 {len(v)} 超过 {m} 个字符",
                )
            literal = _quoted(col)
        elif dt in ("I", "N", "F", "Y"):
            ok = pc.match_substring_regex(col, _INT if dt == "I" else _NUM)
            code, text = _TYPE_LABELS[dt]
            report(pc.invert(ok), col, code, lambda v, label=label, text=text: f"{label}{text}")
            literal = _number_text(col)
            value = literal
        elif dt in ("D", "T"):
            norm = _normalise_dates(col)
            if dt == "D":
                ok, text_out = _date_parts(norm, _DATE, "%Y-%m-%d", "%Y-%m-%d")
            else:
                with_seconds = pc.replace_substring_regex(norm, r"^(.*[ T]\d{1,2}:\d{1,2})$", r"\1:00")
                with_seconds = pc.replace_substring_regex(with_seconds, "T", " ")
                ok, text_out = _date_parts(with_seconds, _DATETIME, "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
            code, text = _TYPE_LABELS[dt]
            report(
                pc.and_(present, pc.invert(ok)), col, code, lambda v, label=label, text=text: f"{label}{text}"
            )
            value = pc.if_else(ok, text_out, col)
            literal = _quoted(value)
        elif dt == "L":
            low = pc.utf8_lower(col)
            is_true = pc.is_in(low, value_set=pa.array(_TRUE))
            is_false = pc.is_in(low, value_set=pa.array(_FALSE))
            code, text = _TYPE_LABELS[dt]
            report(
                pc.and_(present, pc.invert(pc.or_(is_true, is_false))),
                col,
                code,
                lambda v, label=label, text=text: f"{label}{text}",
            )
            literal = pc.if_else(is_true, "true", pc.if_else(is_false, "false", _quoted(col)))
            value = literal
        else:
            literal = _quoted(col)

        if spec.enum:
            outside = pc.and_(present, pc.invert(pc.is_in(value, value_set=pa.array(list(spec.enum)))))
            # "1" is accepted as the code of "1 男性"; name only the full entries
            entries = [v for v in spec.enum if not any(o.startswith(v + " ") for o in spec.enum)]
            shown = "、".join(entries[:10]) + ("等" if len(entries) > 10 else "")
            report(
                outside,
                col,
                "not_in_enum",
                lambda v, label=label, shown=shown: f"{label}的值不在取值范围内（可选：{shown}）",
            )

        if spec.check in _ID_VALIDATORS:
            for i, v, r in _identifier_failures(col, spec.check, today):
                problems.append(Problem(i, spec.code, spec.name, v[:200], r.code, f"{label}{r.reason}"))
        elif spec.check == "mobile":
            ok = pc.match_substring_regex(col, _MOBILE)
            report(pc.invert(ok), col, "not_mobile", lambda v, label=label: f"{label}不是有效的11位手机号码")

        if spec.primary and key_col is None:
            key_col = col
        sep = "{" if pos == 0 else ","
        fragments.append(f"{sep}{json.dumps(spec.code, ensure_ascii=False)}:")
        if spec.sensitive and sealer:
            literals[len(fragments)] = literal
        fragments.append(pc.fill_null(literal, "null"))

    if not specs:
        rows = ["{}"] * n
    else:
        rows = pc.binary_join_element_wise(*fragments, "}", "").to_pylist()
    keys = key_col.to_pylist() if key_col is not None else [None] * n
    out = CheckedBatch(n, keys, rows, {p.row for p in problems}, problems)
    if literals:
        out.stored_keys = sealer.stored_keys(keys) if sealer.primary_sealed else None
        stored_keys = out.stored_keys or keys
        for pos, literal in literals.items():
            code = specs[(pos - 1) // 2].code
            tokens = sealer.seal_literals(code, literal.to_pylist(), stored_keys)
            fragments[pos] = pc.fill_null(_quoted(pa.array(tokens, pa.string())), "null")
        out.stored = pc.binary_join_element_wise(*fragments, "}", "").to_pylist()
    return out
