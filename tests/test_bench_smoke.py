"""`python -m bench catalog_search --quick` runs end to end on SQLite and writes its JSON.

A smoke run of the harness, not a measurement: no timing is asserted (DESIGN §9).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench-out")
    env = dict(os.environ, GOVSHARE_BENCH_SKIP_PG="1")
    env.pop("DATABASE_URL", None)  # the benchmark picks its own throwaway databases
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "catalog_search", "--quick", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    path = out / "catalog_search.json"
    document = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    return proc, document


def rows_of(document, database="sqlite"):
    return {r["metric"]: r for r in document["rows"] if r["database"] == database}


def test_quick_run_exits_zero_and_writes_json(quick_run):
    proc, document = quick_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert document is not None
    assert document["benchmark"] == "catalog_search" and document["quick"] is True
    for r in document["rows"]:
        assert {"name", "database", "metric", "ours", "peer", "target", "verdict"} <= r.keys()
    rows = rows_of(document)
    for p in ("p50", "p95", "p99"):
        latency = rows[f"search latency {p}"]
        assert latency["ours"] > 0 and latency["peer"] > 0 and latency["unit"] == "ms"
    assert rows["search latency p95"]["verdict"] in ("met", "NOT met")
    raw = rows["search latency p50"]["raw"]
    assert raw["sizes"] == {"resources": 500, "queries": 20, "rounds": 1}
    assert raw["setup"]["resources"] == 500 and raw["setup"]["items"] >= 4 * 500
    assert rows["queries where search() misses a LIKE hit"]["ours"] == 0
    skipped = rows_of(document, "postgresql")["skipped"]
    assert "GOVSHARE_BENCH_SKIP_PG" in skipped["verdict"]
    assert "skipped" in proc.stderr


def test_quick_run_reports_the_ranking_check(quick_run):
    _, document = quick_run
    detail = rows_of(document)["营业执照 ranks 企业营业执照信息 first"]["detail"]
    assert detail["exactly_one_named"] and detail["total"] > 1
    assert "企业营业执照信息" in detail["top5"]


def test_quick_run_ranks_the_licence_entry_first(quick_run):
    _, document = quick_run
    assert rows_of(document)["营业执照 ranks 企业营业执照信息 first"]["detail"]["ok"]


# ---------------------------------------------------------------- share_lookup (wrk + Datasette)


@pytest.fixture(scope="module")
def share_quick_run(tmp_path_factory):
    if shutil.which("wrk") is None:
        pytest.skip("wrk not installed (apt-get install wrk)")
    if not Path(sys.executable).with_name("datasette").exists():
        pytest.skip("datasette not installed (pip install -e '.[dev]')")
    out = tmp_path_factory.mktemp("bench-share-out")
    env = dict(os.environ, GOVSHARE_BENCH_SHARE_DIR=str(tmp_path_factory.mktemp("bench-share-data")))
    env.pop("DATABASE_URL", None)
    env.pop("GOVSHARE_BENCH_SHARE_PG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "share_lookup", "--quick", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    path = out / "share_lookup.json"
    return proc, json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def test_share_lookup_quick_run_serves_masked_records_under_load(share_quick_run):  # R-SHARE-10
    proc, document = share_quick_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = rows_of(document)
    checks = rows["answers right before load (masked, verify hit/miss, bare, Datasette, 401)"]
    assert checks["ours"] is True, checks["detail"]
    assert rows["non-2xx and socket errors under load"]["ours"] == 0
    assert rows["audit events per completed gate call"]["verdict"] == "met"
    for metric in ("/records req/s (peer: Datasette row JSON)", "/verify req/s (peer: Datasette row JSON)"):
        assert rows[metric]["ours"] > 0 and rows[metric]["peer"] > 0
    assert rows["/records req/s (peer: Datasette row JSON)"]["raw"]["sizes"]["records"] == 20_000


# ---------------------------------------------------------------- open (CKAN-compatible search, downloads)


@pytest.fixture(scope="module")
def open_quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench-open-out")
    env = dict(os.environ, GOVSHARE_BENCH_OPEN_DIR=str(tmp_path_factory.mktemp("bench-open-data")))
    env.pop("DATABASE_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "open", "--quick", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    path = out / "open.json"
    return proc, json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def test_open_quick_run_searches_and_streams_downloads(open_quick_run):  # issue #7 benchmark
    proc, document = open_quick_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = rows_of(document)
    for r in document["rows"]:
        assert {"name", "database", "metric", "ours", "peer", "target", "verdict"} <= r.keys()
    latency = next(r for m, r in rows.items() if m.startswith("package_search p50"))
    assert latency["ours"] > 0 and latency["unit"] == "ms"
    assert latency["raw"]["sizes"]["datasets"] == 500
    assert rows["package_search p95"]["target"] == "< 50 ms"
    for metric in (
        "API answers right (envelope, facet totals, suspended/withdrawn 404)",
        "DCAT catalog lists every open dataset",
        "downloads right (CSV bytes = published SHA-256, JSON has every row, anonymous refused)",
    ):
        assert rows[metric]["verdict"] == "met", rows[metric].get("detail")
    csv = next(r for m, r in rows.items() if m.startswith("CSV download rows/s"))
    assert csv["ours"] > 0 and csv["peer"] > 0 and csv["unit"] == "rows/s"
