"""GB/T 2260 administrative-division codes, read once from the snapshot shipped in ``data/``.

Pure Python (no Django) so that identifier validation and the ingest path can use it anywhere.
``data/README.md`` says where the snapshot came from.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path
from typing import NamedTuple

DATA_FILE = Path(__file__).with_name("data") / "gbt2260.csv"

# Rows that are containers in the code list, not places a department can sit in.
PLACEHOLDERS = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划", "省直辖行政单位"})


class Region(NamedTuple):
    code: str
    name: str
    level: str  # "province" | "city" | "county"
    parent_code: str | None


class _Row(NamedTuple):
    region: Region
    current: bool


@cache
def _table() -> dict[str, _Row]:
    with DATA_FILE.open(encoding="utf-8", newline="") as f:
        return {
            r["code"]: _Row(
                Region(r["code"], r["name"], r["level"], r["parent"] or None), r["current"] == "1"
            )
            for r in csv.DictReader(f)
        }


@cache
def known_codes() -> frozenset[str]:
    """Every code of any edition: an ID number keeps the code of the place and year it was issued."""
    return frozenset(_table())


@cache
def _current() -> tuple[Region, ...]:
    return tuple(
        row.region for row in _table().values() if row.current and row.region.name not in PLACEHOLDERS
    )


def current_regions() -> list[Region]:
    """The current edition's places, in code order, without 市辖区-style containers."""
    return list(_current())


def region_name(code: str) -> str | None:
    """The latest name of a code from any edition, or None when no edition has it."""
    row = _table().get(code)
    return row.region.name if row else None


def is_current(code: str) -> bool:
    row = _table().get(code)
    return bool(row and row.current)


@cache
def region_full_name(code: str) -> str | None:
    """Province + city + county, e.g. ``湖南省郴州市北湖区``; None for an unknown code."""
    table = _table()
    if code not in table:
        return None
    parts = []
    for prefix in dict.fromkeys((code[:2] + "0000", code[:4] + "00", code)):
        row = table.get(prefix)
        if row and row.region.name not in PLACEHOLDERS:
            parts.append(row.region.name)
    return "".join(parts)
