"""Build src/govshare/orgs/data/gbt2260.csv, the GB/T 2260 snapshot the runtime reads.

Sources (the runtime needs neither of them):

1. python-stdnum's ``stdnum/cn/loc.dat`` (python-stdnum 2.2, installed with the dev extras): every
   county-level and higher code from the 1980 edition on, with the years each name was in force,
   compiled from zh.wikipedia's 《中华人民共和国行政区划代码》 pages (file dated 2026-01-04).
2. The PyPI package ``GB2260`` 0.4.1 (2015-05-15): the 2002–2013 editions plus the latest one it
   knew (2014), as the National Bureau of Statistics published them. It adds the few codes the
   Wikipedia pages dropped (e.g. 469034–469039 of 2002–2006).

Then SUPPLEMENT below adds codes created after both sources, each with its year.

Usage:  pip download --no-deps -d /tmp/gb GB2260==0.4.1
        python scripts/build_gbt2260.py /tmp/gb/GB2260-0.4.1-py2.py3-none-any.whl
"""

from __future__ import annotations

import argparse
import ast
import csv
import re
import sys
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src/govshare/orgs/data/gbt2260.csv"
GB2260_LATEST_YEAR = 2014  # the package's edition ``None``; its LATEST_YEAR constant

# Codes newer than both sources: (code, name, first year).  Empty while the sources reach 2025;
# add a line here (never edit the CSV by hand) when the Ministry of Civil Affairs publishes a change.
SUPPLEMENT: list[tuple[str, str, int]] = []

# Spellings normalised to the ones the current national edition uses.
NAME_FIXES = {
    "省直辖县级行政单位": "省直辖县级行政区划",
    "自治区直辖县级行政单位": "自治区直辖县级行政区划",
    "香港特別行政區": "香港特别行政区",
    "澳門特別行政區": "澳门特别行政区",
    "加格達奇區": "加格达奇区",
    "松嶺區": "松岭区",
    "新林區": "新林区",
    "呼中區": "呼中区",
    "冷湖行政委員會": "冷湖行政委员会",
    "茫崖行政委員會": "茫崖行政委员会",
    "丹稜县": "丹棱县",
}
# Rows that are containers in the code list, not places; parents skip them.
PLACEHOLDERS = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划", "省直辖行政单位"}

# Must come out current with exactly these names, or the build fails.
REQUIRED = {
    "430000": "湖南省", "431000": "郴州市", "431002": "北湖区", "431003": "苏仙区", "431021": "桂阳县",
    "431022": "宜章县", "431023": "永兴县", "431024": "嘉禾县", "431025": "临武县", "431026": "汝城县",
    "431027": "桂东县", "431028": "安仁县", "431081": "资兴市",
    "320000": "江苏省", "320500": "苏州市", "320581": "常熟市",
    "360000": "江西省", "361100": "上饶市", "361102": "信州区", "361103": "广丰区", "361104": "广信区",
    "361123": "玉山县", "361124": "铅山县", "361125": "横峰县", "361126": "弋阳县", "361127": "余干县",
    "361128": "鄱阳县", "361129": "万年县", "361130": "婺源县", "361181": "德兴市",
    "410000": "河南省", "411300": "南阳市", "411325": "内乡县",
}  # fmt: skip

_ENTRY = re.compile(r"^(?:\[(\d*)-(\d*)\])?(.+)$")


class Code:
    """One code's history: every name it carried and the years it was in an edition."""

    def __init__(self) -> None:
        self.names: list[tuple[int | None, int | None, str]] = []  # (first, last, name); None = open

    def add(self, first: int | None, last: int | None, name: str) -> None:
        self.names.append((first, last, NAME_FIXES.get(name, name)))

    def covers(self, year: int) -> bool:
        return any((f or 0) <= year <= (e or 9999) for f, e, _ in self.names)

    @property
    def first(self) -> int | None:
        starts = [f for f, _, _ in self.names]
        return None if None in starts else min(starts)

    @property
    def last(self) -> int | None:
        ends = [e for _, e, _ in self.names]
        return None if None in ends else max(ends)

    @property
    def name(self) -> str:
        return max(self.names, key=lambda n: (n[1] is None, n[1] or 0, n[0] or 0))[2]

    @property
    def former(self) -> list[str]:
        seen = [n for _, _, n in sorted(self.names, key=lambda n: n[0] or 0) if n != self.name]
        return list(dict.fromkeys(seen))


def read_loc(path: Path) -> dict[str, Code]:
    codes: dict[str, Code] = {}
    province = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, _, rest = line.strip().partition(" ")
        value = rest.split('="', 1)[1].rstrip('"')
        if not line.startswith(" "):
            province = key
            continue
        code = codes.setdefault(province + key, Code())
        for part in value.split(","):
            first, last, name = _ENTRY.match(part).groups()
            code.add(int(first) if first else None, int(last) if last else None, name)
    return codes


def read_gb2260(wheel: Path) -> dict[str, dict[int, str]]:
    """{code: {edition year: name}} from the wheel's data.py, without importing or installing it."""
    with zipfile.ZipFile(wheel) as z:
        source = z.read("gb2260/data.py").decode("utf-8")
    data = ast.literal_eval(source.split("=", 1)[1].strip())
    out: dict[str, dict[int, str]] = {}
    for edition, table in data.items():
        year = GB2260_LATEST_YEAR if edition is None else int(str(edition)[:4])
        for code, name in table.items():
            out.setdefault(f"{code:06d}", {})[year] = name
    return out


def level(code: str) -> str:
    if code.endswith("0000"):
        return "province"
    return "city" if code.endswith("00") else "county"


def parent(code: str, codes: dict[str, Code]) -> str:
    if code.endswith("0000"):
        return ""
    city = code[:4] + "00"
    if not code.endswith("00") and city in codes and codes[city].name not in PLACEHOLDERS:
        return city
    return code[:2] + "0000"


def build(loc_path: Path, wheel: Path) -> dict[str, Code]:
    codes = read_loc(loc_path)
    gb = read_gb2260(wheel)
    for code, years in gb.items():
        entry = codes.setdefault(code, Code())
        for name in dict.fromkeys(years.values()):
            ys = [y for y, n in years.items() if n == name]
            # Only years the Wikipedia compilation says nothing about: elsewhere it is the more
            # careful of the two (the NBS files carry typos such as 荷泽市 for 菏泽市).
            if not any(entry.covers(y) for y in ys):
                entry.add(min(ys), max(ys), name)
    for code, entry in codes.items():
        # The Wikipedia compilation leaves a few pre-2002 names open (e.g. 429001 随州市, a
        # prefecture-level 421300 since 2000) that no 2002–2014 NBS edition has: close them.
        if code not in gb:
            entry.names = [(f, 2001 if e is None and (f or 0) < 2002 else e, n) for f, e, n in entry.names]
    for code, name, year in SUPPLEMENT:
        entry = codes.setdefault(code, Code())
        entry.names = [(f, e if e is not None else year - 1, n) for f, e, n in entry.names]
        entry.add(year, None, name)
    for code, name in REQUIRED.items():
        got = codes.get(code)
        if got is None or got.last is not None or got.name != name:
            sys.exit(f"required code {code} {name} missing or wrong: {got and got.names}")
    return codes


def write(codes: dict[str, Code], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "name", "level", "parent", "first_seen", "last_seen", "current", "former_names"])
        for code in sorted(codes):
            c = codes[code]
            w.writerow([
                code, c.name, level(code), parent(code, codes), c.first or "", c.last or "",
                1 if c.last is None else 0, "|".join(c.former),
            ])  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("gb2260_wheel", type=Path, help="GB2260-0.4.1 wheel from `pip download`")
    p.add_argument("--loc", type=Path, help="stdnum/cn/loc.dat (default: the installed stdnum's)")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    if args.loc is None:
        import stdnum

        args.loc = Path(stdnum.__file__).parent / "cn" / "loc.dat"
    codes = build(args.loc, args.gb2260_wheel)
    write(codes, args.out)
    current = sum(c.last is None for c in codes.values())
    print(f"wrote {args.out}: {len(codes)} codes, {current} in the current edition")


if __name__ == "__main__":
    main()
