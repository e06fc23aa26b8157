"""A load killed with SIGKILL leaves the resource exactly as it was (issue #4, "Done when").

Runs real `govshare` subprocesses against a database of their own (a SQLite file, or a fresh
PostgreSQL database when the suite runs on PostgreSQL), because the test database of pytest-django is
not visible to another process.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from tests.test_collect_load import A, B

pytestmark = pytest.mark.slow

SETUP = "from bench.ingest import _setup_resource; print(_setup_resource())"


def _env(tmp_path, url):
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url, GOVSHARE_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="govshare.settings"
    )
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parent.parent), env.get("PYTHONPATH", "")]
    )
    env.pop("GOVSHARE_FAULT_PAUSE", None)
    return env


def _govshare(*args, env, **kw):
    exe = str(Path(sys.executable).with_name("govshare"))
    return subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture
def database(tmp_path):
    """(url, query) for a database that only this test and its subprocesses use."""
    current = os.environ.get("DATABASE_URL", "")
    if current.startswith("postgres"):
        import psycopg

        base, _, _ = current.rpartition("/")
        name = f"govshare_crash_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(f"{base}/postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        url = f"{base}/{name}"

        def query(sql):
            with psycopg.connect(url) as c:
                return c.execute(sql).fetchall()

        yield url, query
        with psycopg.connect(f"{base}/postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        path = tmp_path / "crash.sqlite3"

        def query(sql):
            with sqlite3.connect(path) as c:
                return c.execute(sql).fetchall()

        yield f"sqlite:///{path}", query


def _snapshot(query):
    return (
        query("SELECT key, digest, seq, deleted FROM collect_record ORDER BY key"),
        query("SELECT last_seq, live_count FROM collect_series"),
        query("SELECT count(*) FROM collect_recordhistory"),
    )


def test_sigkill_mid_load_leaves_the_resource_unchanged(tmp_path, database):  # R-COL-01
    url, query = database
    env = _env(tmp_path, url)
    assert _govshare("migrate", "--noinput", env=env).returncode == 0
    setup = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {SETUP}"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert setup.returncode == 0, setup.stderr[-2000:]
    code = setup.stdout.strip().splitlines()[-1]
    first = tmp_path / "first.csv"
    first.write_text(f"公民身份号码,姓名\n{A},张三\n{B},李四\n", encoding="utf-8")
    assert _govshare("ingest", code, str(first), "--quiet", env=env).returncode == 0
    before = _snapshot(query)
    assert before[1] == [(2, 2)]

    from bench.ingest import generate

    big = tmp_path / "big.csv"
    generate(big, 30_000)
    # 1) killed inside the merge transaction, after every row was written but before COMMIT
    exe = str(Path(sys.executable).with_name("govshare"))
    proc = subprocess.Popen(
        [exe, "ingest", code, str(big), "--quiet", "--mode", "replace"],
        env=env | {"GOVSHARE_FAULT_PAUSE": "merged"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    for line in proc.stdout:
        if line.startswith("FAULT-PAUSE merged") or time.monotonic() > deadline:
            break
    assert proc.poll() is None, "the load ended before reaching the merge"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert _snapshot(query) == before
    assert query("SELECT status FROM collect_batch ORDER BY id DESC LIMIT 1") == [("running",)]

    # 2) killed while rows are still being read and checked
    proc = subprocess.Popen(
        [exe, "ingest", code, str(big)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    t0 = time.monotonic()
    while time.monotonic() - t0 < 240:
        if query("SELECT count(*) FROM collect_batch WHERE status = 'running'")[0][0] >= 2:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert _snapshot(query) == before

    # the resource still loads normally afterwards
    assert _govshare("ingest", code, str(big), "--quiet", env=env).returncode == 0
    assert query("SELECT count(*) FROM collect_record WHERE deleted = false")[0][0] == 30_002
