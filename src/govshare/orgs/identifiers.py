"""Identifier validation: 公民身份号码 (GB 11643-1999), 统一社会信用代码 (GB 32100-2015), GB/T 2260 codes.

Pure Python and on the ingest hot path (R-COL-04), so each validator does a handful of C-level string
operations and one set lookup. Results carry a machine-readable ``code`` and a Chinese ``reason``;
parsed facts (birth date, region, …) are properties computed only when someone asks.

Where we differ from python-stdnum on purpose:

* an ID number's region code may be newer than the birth year: people re-register when divisions
  change, so any code of any GB/T 2260 edition is accepted (stdnum wants it in force at birth);
* 830000 is accepted as an ID region: 台湾居民居住证 numbers use it (港澳 ones use 810000/820000);
* letters are legal in every USCC position the charset allows, including 1–8 (e.g. 农村集体经济组织
  codes start with ``N``; stdnum wants digits there).

15-digit IDs (pre-1999 format) are rejected with code ``length``: every current card has 18.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from dataclasses import dataclass
from datetime import date

from . import regions

RIC = "公民身份号码"
USCC = "统一社会信用代码"
REGION = "行政区划代码"

_RIC_CHARS = "0123456789X"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100: no I, O, S, V, Z
_USCC_BANNED = "IOSVZ"
# USCC character -> base-34 digit of the same value (0..30); banned letters -> "!" so int() fails.
_USCC_TO_B34 = str.maketrans(
    {c: "0123456789ABCDEFGHIJKLMNOPQRSTU"[i] for i, c in enumerate(_USCC_ALPHABET)}
    | dict.fromkeys(_USCC_BANNED, "!")
)
_MIN_BIRTH = "18500101"
_PERMIT_REGIONS = frozenset({"830000"})  # 台湾居民居住证; not a GB/T 2260 code

# GB 32100-2015 表1 and later additions: registration authority -> (name, {category: name}).
USCC_AUTHORITIES: dict[str, tuple[str, dict[str, str]]] = {
    "1": ("机构编制", {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"}),
    "2": ("外交", {"1": "外国常驻新闻机构", "9": "其他"}),
    "3": ("司法行政", {"1": "律师执业机构", "2": "公证处", "3": "基层法律服务所", "4": "司法鉴定机构",
                       "5": "仲裁委员会", "9": "其他"}),
    "4": ("文化", {"1": "外国在华文化中心", "9": "其他"}),
    "5": ("民政", {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"}),
    "6": ("旅游", {"1": "外国旅游部门常驻代表机构", "2": "港澳台地区旅游部门常驻内地（大陆）代表机构", "9": "其他"}),
    "7": ("宗教", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会", {"1": "基层工会", "9": "其他"}),
    "9": ("工商（市场监管）", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": ("中央军委改革和编制办公室", {"1": "军队事业单位", "9": "其他"}),
    "N": ("农业农村", {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"}),
    "Y": ("其他", {"1": "其他"}),  # 不再划分机构类别，统一用 1
}  # fmt: skip


@dataclass(slots=True)
class IdResult:
    """Outcome of one validation. ``value`` is the normalised input (upper case, no spaces)."""

    valid: bool
    kind: str
    value: str
    code: str | None = None  # length | charset | check_digit | date | future_date | region
    reason: str | None = None  # Chinese sentence, None when valid

    def facts(self) -> dict[str, object]:
        return {}

    def as_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "value": self.value,
            "valid": self.valid,
            "kind": self.kind,
            "code": self.code,
            "reason": self.reason,
        }
        d.update(self.facts())
        return d


@dataclass(slots=True)
class RicResult(IdResult):
    @property
    def region_code(self) -> str | None:
        return self.value[:6] if self.valid else None

    @property
    def region_name(self) -> str | None:
        return _region_label(self.value[:6]) if self.valid else None

    @property
    def birth_date(self) -> date | None:
        v = self.value
        return date(int(v[6:10]), int(v[10:12]), int(v[12:14])) if self.valid else None

    @property
    def sex(self) -> str | None:
        """The 17th digit (顺序码的末位) is odd for men, even for women."""
        return ("男" if int(self.value[16]) % 2 else "女") if self.valid else None

    def facts(self) -> dict[str, object]:
        born = self.birth_date
        return {
            "birth_date": born.isoformat() if born else None,
            "sex": self.sex,
            "region_code": self.region_code,
            "region_name": self.region_name,
        }


@dataclass(slots=True)
class UsccResult(IdResult):
    @property
    def registration_authority(self) -> str | None:
        entry = USCC_AUTHORITIES.get(self.value[0]) if self.valid else None
        return entry[0] if entry else None

    @property
    def org_category(self) -> str | None:
        entry = USCC_AUTHORITIES.get(self.value[0]) if self.valid else None
        return entry[1].get(self.value[1]) if entry else None

    @property
    def region_code(self) -> str | None:
        return self.value[2:8] if self.valid else None

    @property
    def region_name(self) -> str | None:
        """Of the registering authority; 100000 is national (中央) registration."""
        if not self.valid:
            return None
        code = self.value[2:8]
        return "国家（中央）" if code == "100000" else regions.region_full_name(code)

    @property
    def org_code(self) -> str | None:
        """Positions 9–17: the old 组织机构代码 without its check character."""
        return self.value[8:17] if self.valid else None

    def facts(self) -> dict[str, object]:
        return {
            "registration_authority": self.registration_authority,
            "org_category": self.org_category,
            "region_code": self.region_code,
            "region_name": self.region_name,
            "org_code": self.org_code,
        }


@dataclass(slots=True)
class RegionResult(IdResult):
    @property
    def name(self) -> str | None:
        return regions.region_name(self.value) if self.valid else None

    @property
    def full_name(self) -> str | None:
        return regions.region_full_name(self.value) if self.valid else None

    @property
    def current(self) -> bool | None:
        return regions.is_current(self.value) if self.valid else None

    def facts(self) -> dict[str, object]:
        return {"name": self.name, "full_name": self.full_name, "current": self.current}


def _region_label(code: str) -> str | None:
    if code in _PERMIT_REGIONS:
        return "台湾地区（居住证）"
    return regions.region_full_name(code)


def _normalise(value: object) -> str:
    """Upper-case and strip; the slow path also folds full-width characters and drops inner spaces/dashes."""
    v = value.strip() if isinstance(value, str) else str(value).strip()
    if len(v) != 18 or not v.isascii():
        v = unicodedata.normalize("NFKC", v)
        v = "".join(v.split()).replace("-", "")
    return v.upper()


# --- 公民身份号码 -------------------------------------------------------------------------------


def ric_check_char(first17: str) -> str:
    """GB 11643 ISO 7064 MOD 11-2 check character.

    Weights 2^(17-i) mod 11 are what int(s, 13) computes mod 11, since 13 ≡ 2 (mod 11): one C call.
    """
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError(f"not 17 digits: {first17!r}")
    return _RIC_CHARS[(1 - 2 * int(first17, 13)) % 11]


_ric_regions: frozenset[str] = frozenset()  # filled on first use, so importing stays cheap
_good_dates: set[str] = set()  # "YYYYMMDD" strings seen to be real dates; bounded by the calendar
# Today as "YYYYMMDD", refreshed only when a birth date is later than it: the cached value never runs
# ahead of the clock, so "not after the cached today" already proves "not after today".
_today = ""


def _real_date(ymd: str) -> bool:
    try:
        date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))
    except ValueError:
        return False
    _good_dates.add(ymd)
    return True


def _after_today(ymd: str, today: date | None) -> bool:
    global _today
    if today is not None:
        return ymd > today.strftime("%Y%m%d")
    if ymd > _today:
        _today = date.today().strftime("%Y%m%d")
    return ymd > _today


def validate_ric(value: object, today: date | None = None) -> RicResult:
    """Validate a 18-digit 公民身份号码; ``today`` bounds the birth date (default: the real today)."""
    global _ric_regions
    if type(value) is str and len(value) == 18 and value.isascii():
        v = value.upper()  # the common case: skip _normalise's work
    else:
        v = _normalise(value)
        if len(v) != 18:
            if len(v) == 15 and v.isdigit():
                return RicResult(False, RIC, v, "length", "15位旧号码已停止使用，公民身份号码应为18位")
            return RicResult(False, RIC, v, "length", f"公民身份号码应为18位，实际为{len(v)}位")
    body = v[:17]
    if not (body.isascii() and body.isdigit()) or v[17] not in _RIC_CHARS:
        return RicResult(False, RIC, v, "charset", "公民身份号码前17位应为数字，末位应为数字或X")
    check = _RIC_CHARS[(1 - 2 * int(body, 13)) % 11]
    if v[17] != check:
        return RicResult(False, RIC, v, "check_digit", f"校验码错误（应为 {check}）")
    ymd = v[6:14]
    if ymd not in _good_dates and (ymd < _MIN_BIRTH or not _real_date(ymd)):
        return RicResult(False, RIC, v, "date", f"出生日期 {ymd} 不是1850年以来的有效日期")
    if (ymd > _today or today is not None) and _after_today(ymd, today):
        return RicResult(False, RIC, v, "future_date", f"出生日期 {ymd} 晚于今天")
    if v[:6] not in _ric_regions:
        _ric_regions = _ric_regions or regions.known_codes() | _PERMIT_REGIONS
        if v[:6] not in _ric_regions:
            return RicResult(
                False, RIC, v, "region", f"地址码 {v[:6]} 不是任何一版 GB/T 2260 中的行政区划代码"
            )
    return RicResult(True, RIC, v)


# --- 统一社会信用代码 ---------------------------------------------------------------------------


def uscc_check_char(first17: str) -> str:
    """GB 32100 check character: weights 3^i mod 31, check = 31 - (sum mod 31), 31 -> 0.

    34 ≡ 3 (mod 31), so int() of the reversed code in base 34 is the weighted sum mod 31: one C call.
    """
    s = first17.upper().translate(_USCC_TO_B34)
    if len(s) != 17 or not (s.isascii() and s.isalnum()):
        raise ValueError(f"not 17 USCC characters: {first17!r}")
    return _USCC_ALPHABET[-int(s[::-1], 34) % 31]


def validate_uscc(value: object) -> UsccResult:
    """Validate an 18-character 统一社会信用代码 (upper-cased and stripped first)."""
    v = _normalise(value)
    if len(v) != 18:
        return UsccResult(False, USCC, v, "length", f"统一社会信用代码应为18位，实际为{len(v)}位")
    t = v.translate(_USCC_TO_B34)
    if not (v.isascii() and v.isalnum()) or "!" in t:
        bad = "".join(dict.fromkeys(c for c in v if c not in _USCC_ALPHABET))
        return UsccResult(
            False, USCC, v, "charset", f"含有不允许的字符 {bad}（只用数字和除 I、O、S、V、Z 外的大写字母）"
        )
    check = _USCC_ALPHABET[-int(t[16::-1], 34) % 31]
    if v[17] != check:
        return UsccResult(False, USCC, v, "check_digit", f"校验码错误（应为 {check}）")
    return UsccResult(True, USCC, v)


# --- 行政区划代码 -------------------------------------------------------------------------------


def validate_region_code(value: object) -> RegionResult:
    """A six-digit code present in some GB/T 2260 edition (``current`` says whether it still is)."""
    v = _normalise(value)
    if len(v) != 6:
        return RegionResult(False, REGION, v, "length", f"行政区划代码应为6位，实际为{len(v)}位")
    if not (v.isascii() and v.isdigit()):
        return RegionResult(False, REGION, v, "charset", "行政区划代码应为6位数字")
    if v not in regions.known_codes():
        return RegionResult(False, REGION, v, "region", f"{v} 不是任何一版 GB/T 2260 中的行政区划代码")
    return RegionResult(True, REGION, v)


def detect_and_validate(value: object) -> IdResult:
    """Guess the kind by shape and validate.

    Characters with letters other than a final X are a USCC. All-digit ones (or a final X) are
    tried as an ID number first, then as a USCC (机关/事业单位 codes are often all digits); when both
    fail the ID number's reason is reported. Six digits are a region code.
    """
    v = _normalise(value)
    if len(v) == 6 and v.isdigit():
        return validate_region_code(v)
    if (v[:17].isdigit() and v[17:18] in _RIC_CHARS) or not v.isalnum():
        ric = validate_ric(v)
        if ric.valid or len(v) != 18:
            return ric
        uscc = validate_uscc(v)
        return uscc if uscc.valid else ric
    return validate_uscc(v)


_VALIDATORS = {
    "auto": detect_and_validate,
    "ric": validate_ric,
    "uscc": validate_uscc,
    "region": validate_region_code,
}
_FACT_LABELS = {
    "birth_date": "出生日期",
    "sex": "性别",
    "region_code": "地区代码",
    "region_name": "地区",
    "registration_authority": "登记管理部门",
    "org_category": "机构类别",
    "org_code": "主体标识码",
    "name": "名称",
    "full_name": "全称",
    "current": "现行代码",
}


def main_validate_id(argv: list[str]) -> int:
    """``govshare validate-id VALUE [--json]``: exit 0 valid, 1 invalid, 2 bad arguments."""
    parser = argparse.ArgumentParser(
        prog="govshare validate-id",
        description="校验公民身份号码、统一社会信用代码或行政区划代码",
    )
    parser.add_argument("value", help="要校验的号码")
    parser.add_argument("--json", action="store_true", help="输出一个 JSON 对象")
    parser.add_argument(
        "--kind", choices=sorted(_VALIDATORS), default="auto", help="号码类型（默认自动识别）"
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad arguments, 0 on --help
        return int(exc.code or 0)
    result = _VALIDATORS[args.kind](args.value)
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False))
    elif result.valid:
        print(f"有效 {result.kind}")
        for key, val in result.facts().items():
            if val is not None:
                shown = ("是" if val else "否") if isinstance(val, bool) else val
                print(f"{_FACT_LABELS.get(key, key)}: {shown}")
    else:
        print(f"无效 {result.kind}: {result.reason}")
    return 0 if result.valid else 1


if __name__ == "__main__":
    sys.exit(main_validate_id(sys.argv[1:]))
