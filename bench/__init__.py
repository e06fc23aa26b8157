"""Repeatable benchmarks (DESIGN §9): `python -m bench [NAME ...] [--quick]`, or `make bench`.

Every module in this package that exposes `run(quick: bool) -> list[dict]` is a benchmark. Each row it
returns is one line of the printed table and of `bench/out/<name>.json`:

    name, database, metric, unit, ours, peer, target, verdict   (+ free-form extras)

`peer` is a figure measured in the same run on the same data and connection (never a remembered number),
`target` is the figure the issue asks for, and `verdict` is "met" / "NOT met" (or "—" when the row has no
target). Rows with `check: True` are correctness checks (ranking, recall) rather than timings; a check or
target that is not met is printed, not raised: the run exits non-zero only when a benchmark crashes.
Targets live in issues and the README, never as asserts (DESIGN §9).

Benchmarks build their own throwaway databases with the helpers below: a SQLite file under a temporary
directory and a PostgreSQL database `govshare_bench_<name>`, dropped and re-created on every run. Django
is configured once per process from the environment, so each database's part runs in a subprocess
(`python -m bench.<module> --db …`) that prints its results as one JSON line.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "bench" / "out"
RESULT_MARK = "BENCH-RESULT "
PG_ADMIN_DEFAULT = "postgres://postgres@127.0.0.1:5432/postgres"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- statistics


def percentile(values: Iterable[float], p: float) -> float:
    """The p-th percentile with linear interpolation between closest ranks (numpy's default)."""
    xs = sorted(values)
    if not xs:
        return math.nan
    k = (len(xs) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summarize(ms: list[float]) -> dict:
    """p50/p95/p99/mean/max of a list of milliseconds."""
    return {
        "n": len(ms),
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "mean": sum(ms) / len(ms) if ms else math.nan,
        "max": max(ms) if ms else math.nan,
    }


# ---------------------------------------------------------------- databases


@dataclass
class Database:
    label: str  # "sqlite" or "postgresql"
    url: str
    var_dir: str


def pg_admin_url() -> str:
    return os.environ.get("GOVSHARE_BENCH_PG_URL", PG_ADMIN_DEFAULT)


def _pg_connect(url: str):
    import psycopg  # a dependency of govshare itself

    return psycopg.connect(url, autocommit=True, connect_timeout=5)


def _pg_url_for(dbname: str) -> str:
    base, _, _ = pg_admin_url().rpartition("/")
    return f"{base}/{dbname}"


def _pg_recreate(dbname: str) -> None:
    with _pg_connect(pg_admin_url()) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        conn.execute(f"CREATE DATABASE \"{dbname}\" ENCODING 'UTF8' TEMPLATE template0")


def _pg_drop(dbname: str) -> None:
    try:
        with _pg_connect(pg_admin_url()) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    except Exception as exc:  # pragma: no cover - only a leftover database
        log(f"  (could not drop {dbname}: {exc})")


@contextmanager
def databases(name: str) -> Iterator[tuple[list[Database], dict[str, str]]]:
    """Fresh, empty databases for benchmark `name`; yields (databases, {label: why skipped}).

    GOVSHARE_BENCH_SKIP_PG=1 leaves PostgreSQL out; an unreachable server is skipped with its error.
    GOVSHARE_BENCH_KEEP=1 keeps the PostgreSQL database afterwards for inspection.
    """
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix=f"govshare-bench-{name}-") as tmp:
        dbs = [Database("sqlite", f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", str(Path(tmp) / "var"))]
        dbname = f"govshare_bench_{name}"
        pg_made = False
        if os.environ.get("GOVSHARE_BENCH_SKIP_PG") == "1":
            skipped["postgresql"] = "GOVSHARE_BENCH_SKIP_PG=1"
        else:
            try:
                _pg_recreate(dbname)
                pg_made = True
                dbs.append(Database("postgresql", _pg_url_for(dbname), str(Path(tmp) / "var-pg")))
            except Exception as exc:
                reason = f"PostgreSQL unreachable at {pg_admin_url()}: {str(exc).strip().splitlines()[0]}"
                skipped["postgresql"] = reason
        for label, reason in skipped.items():
            log(f"  {label} skipped — {reason}")
        try:
            yield dbs, skipped
        finally:
            if pg_made and os.environ.get("GOVSHARE_BENCH_KEEP") != "1":
                _pg_drop(dbname)


def run_worker(module: str, db: Database, args: list[str], timeout: float = 3600) -> dict:
    """Run `python -m bench.<module> --db LABEL ARGS` against `db`; return the JSON it reports.

    The worker's stderr (progress lines) passes straight through to ours.
    """
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db.url,
        GOVSHARE_VAR_DIR=db.var_dir,
        DJANGO_SETTINGS_MODULE="govshare.settings",
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
    )
    proc = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", "--db", db.label, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_MARK)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"bench.{module} on {db.label} exited {proc.returncode}:\n{proc.stdout[-2000:]}")
    return json.loads(lines[-1][len(RESULT_MARK) :])


def report(result: dict) -> None:
    """Worker side: hand the result to `run_worker`."""
    sys.stdout.write(RESULT_MARK + json.dumps(result, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def django_setup() -> None:
    """Worker side: configure Django from the environment `run_worker` set and migrate the empty DB."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govshare.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def row(name: str, database: str, metric: str, ours, peer=None, target=None, verdict="—", **extra) -> dict:
    return (
        dict(
            name=name, database=database, metric=metric, ours=ours, peer=peer, target=target, verdict=verdict
        )
        | extra
    )
