"""`python -m bench [NAME ...] [--quick] [--out DIR]`: run benchmarks, print tables, write JSON."""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import pkgutil
import platform
import sqlite3
import sys
import time
import traceback
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

from . import OUT_DIR, REPO

COLUMNS = ("name", "database", "metric", "ours", "peer", "target", "verdict")


def discover() -> dict[str, object]:
    """Every module of this package with a `run(quick)` function, by module name."""
    found = {}
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        if callable(getattr(module, "run", None)):
            found[info.name] = module
    return found


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.2f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def table(rows: list[dict]) -> str:
    cells = [
        [
            _cell(r.get(c))
            + (f" {r['unit']}" if c in ("ours", "peer") and r.get("unit") and r.get(c) is not None else "")
            for c in COLUMNS
        ]
        for r in rows
    ]
    widths = [max(_width(h), *(_width(line[i]) for line in cells)) for i, h in enumerate(COLUMNS)]

    def fmt(values):
        return "  ".join(v + " " * (w - _width(v)) for v, w in zip(values, widths, strict=True)).rstrip()

    out = [fmt(COLUMNS), fmt(["-" * w for w in widths])]
    out += [fmt(line) for line in cells]
    return "\n".join(out)


def host() -> dict:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "loadavg_at_start": load,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, numbers meaningless")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=f"JSON directory (default {OUT_DIR})")
    args = parser.parse_args(argv)

    available = discover()
    unknown = [n for n in args.names if n not in available]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(sorted(available))}")
    names = args.names or sorted(available)
    args.out.mkdir(parents=True, exist_ok=True)

    status = 0
    for name in names:
        print(f"== {name}{' (quick)' if args.quick else ''} ==", flush=True)
        started = datetime.now(UTC)
        host_info = host()
        t0 = time.perf_counter()
        try:
            rows = available[name].run(args.quick)
        except Exception:
            traceback.print_exc()
            print(f"{name}: FAILED", flush=True)
            status = 1
            continue
        elapsed = time.perf_counter() - t0
        print(table(rows), flush=True)
        for r in rows:
            if r.get("check") and r.get("verdict") != "met":
                print(f"CHECK NOT MET [{r['database']}]: {r['metric']} — got {r['ours']}", flush=True)
        path = args.out / f"{name}.json"
        document = {
            "benchmark": name,
            "quick": args.quick,
            "started_at": started.isoformat(timespec="seconds"),
            "duration_s": round(elapsed, 1),
            "host": host_info,
            "rows": rows,
        }
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        print(f"{name}: {elapsed:.1f} s, results in {shown}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
