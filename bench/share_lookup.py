"""Delivery API throughput under HTTP load: /records and /verify beside Datasette and a bare lookup.

Issue target: on a 1,000,000-record person resource, one app process, wrk with 16 connections, /records
and /verify at ≥ 2× the req/s of Datasette 0.65's row JSON endpoint on the same data in the same run,
p99 < 50 ms, and the gate's cost (grant + masking + audit) under 30 % of a bare lookup through the same
stack.

Ours: `govshare serve --no-scheduler --workers 1` (granian, WSGI, GOVSHARE_THREADS blocking threads),
DEBUG off, on a database loaded by `govshare ingest`. Peer: `datasette serve` of a plain SQLite table of
the same rows (primary key sfzh), `num_sql_threads` = the same thread count. Bare: the same granian +
Django + short middleware chain, answered like /records by a bench-only middleware (bench/_share_urls.py)
with the same bearer checks, one query for credential and resource, the gate's own `_rows_by` and the
same JSON encoding — without grant, masking or audit.

`python -m bench share_lookup [--quick]`, or standalone `python -m bench.share_lookup [--quick] [--pg]`.
GOVSHARE_BENCH_SHARE_PG=1 adds a PostgreSQL pass to the harness run. For looking at the server's thread
count: GOVSHARE_BENCH_SHARE_THREADS (default 4, the product's default; both servers get it) and
GOVSHARE_BENCH_SHARE_ROUNDS (default 4).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import time
from pathlib import Path

from bench import (
    REPO,
    Database,
    _pg_drop,
    _pg_recreate,
    _pg_url_for,
    log,
    pg_admin_url,
    report,
    row,
    run_worker,
)
from bench import _share_load as load

NAME = "share_lookup"
ROUNDS = int(os.environ.get("GOVSHARE_BENCH_SHARE_ROUNDS", "4"))
FULL = {"records": 1_000_000, "seconds": 8, "rounds": ROUNDS, "warmup": 3, "keys": 10_000}
QUICK = {"records": 20_000, "seconds": 2, "rounds": 1, "warmup": 1, "keys": 2_000}
CONNECTIONS = 16
# granian blocking threads of our one worker = Datasette's num_sql_threads (4: the product's default)
THREADS = int(os.environ.get("GOVSHARE_BENCH_SHARE_THREADS", "4"))
TARGET_RATIO = 2.0
TARGET_P99_MS = 50.0
TARGET_GATE_COST = 0.30
# Data, databases and server logs; GOVSHARE_BENCH_SHARE_DIR puts them elsewhere (the smoke test does).
WORK = Path(os.environ.get("GOVSHARE_BENCH_SHARE_DIR") or REPO / "bench" / ".out" / NAME)
MASKS = {"sfzh": "keep:6:4", "xm": "keep:1:0", "sjhm": "keep:3:4"}
# Raised for the benchmark only: the product's per-credential verify throttle (600 a minute, 300 misses
# an hour) would otherwise answer most of the load with 429.
THROTTLE_ENV = {"GOVSHARE_VERIFY_PER_MINUTE": "1000000000", "GOVSHARE_VERIFY_MISSES_PER_HOUR": "1000000000"}


# ---------------------------------------------------------------- setup worker (one per database)


def worker(argv: list[str] | None = None) -> None:
    """`python -m bench.share_lookup --db LABEL --file CSV`: migrate, set up, load, grant; or `--count`."""
    from bench import django_setup, ingest

    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--file")
    ap.add_argument("--count", action="store_true")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    django_setup()
    from django.db import connection

    if a.count:
        from govshare.audit.models import AuditEvent

        counts = {
            action: AuditEvent.objects.filter(action=action, result="ok").count()
            for action in ("share.records", "share.verify")
        }
        report({"database": a.db, "audit": counts})
        return
    migrate_s = time.perf_counter() - t0
    code = ingest._setup_resource()
    connection.close()
    gov = str(Path(sys.executable).with_name("govshare"))
    log(f"  [{a.db}] govshare ingest {code} …")
    loaded = ingest._child([gov, "ingest", code, a.file, "--quiet"], dict(os.environ))
    grant, token = _grant(code)
    from govshare.collect.models import Record

    report(
        {
            "database": a.db,
            "vendor": connection.vendor,
            "code": code,
            "grant": grant,
            "token": token,
            "records": Record.objects.filter(deleted=False).count(),
            "migrate_s": migrate_s,
            "ingest": loaded,
        }
    )


def _grant(code: str) -> tuple[str, str]:
    """A consumer department's client system, a credential (plaintext token) and a query+verify grant."""
    import datetime as dt

    from django.utils import timezone

    from govshare.catalog.models import InfoItem, Resource
    from govshare.clients import services as clients
    from govshare.orgs.identifiers import uscc_check_char
    from govshare.orgs.models import Department, DepartmentKind, Region, Role, User, UserRole
    from govshare.sharing.models import ApplicationKind, ApplicationStatus, Grant, ShareApplication

    resource = Resource.objects.get(code=code)
    body = f"11431000{3:09d}"
    civil = Department.objects.create(
        name="郴州市民政局",
        short_name="市民政局",
        uscc=body + uscc_check_char(body),
        region=Region.objects.get(code="431000"),
        level="city",
        kind=DepartmentKind.GOVERNMENT,
    )
    officer = User.objects.create_user(username="civil", password="bench-pw-2026", department=civil)
    UserRole.objects.create(user=officer, role=Role.CONSUMER)
    officer = User.objects.get(pk=officer.pk)
    client = clients.register_client(officer, "低保审核系统", "dibao")
    _, token = clients.issue_credential(officer, client)
    items = list(
        InfoItem.objects.filter(resource=resource).order_by("position").values_list("code", flat=True)
    )
    police = User.objects.get(username="police")
    today = timezone.localdate()
    app = ShareApplication.objects.create(
        number="SQ-BENCH-0001",
        kind=ApplicationKind.APPLICATION,
        resource=resource,
        consumer=civil,
        applicant=officer,
        purpose="最低生活保障资格审核",
        items=items,
        methods=["query", "verify"],
        valid_from=today,
        valid_until=today + dt.timedelta(days=365),
        received_on=today,
        status=ApplicationStatus.APPROVED,
    )
    grant = Grant.objects.create(
        number="GR-BENCH-0001",
        application=app,
        resource=resource,
        consumer=civil,
        purpose=app.purpose,
        items=items,
        masks=MASKS,
        methods=["query", "verify"],
        valid_from=today,
        valid_until=today + dt.timedelta(days=365),
        created_by=police,
    )
    grant.clients.add(client)
    return grant.number, token


# ---------------------------------------------------------------- the peer's database and the key list


def peer_db(csv_path: Path, db_path: Path, keys_path: Path, n: int, n_keys: int) -> dict:
    """The same rows as a plain SQLite table for Datasette (sfzh primary key); a random sample of keys."""
    from bench.ingest import ITEMS

    t0 = time.perf_counter()
    codes = [it["code"] for it in ITEMS]
    conn = sqlite3.connect(db_path)
    cols = ", ".join(f"{c} TEXT PRIMARY KEY" if c == "sfzh" else f"{c} TEXT" for c in codes)
    conn.execute(f"CREATE TABLE people ({cols})")
    insert = f"INSERT INTO people VALUES ({', '.join('?' * len(codes))})"
    chosen = set(random.Random(11).sample(range(n), min(n_keys, n)))
    picked: list[tuple[str, str]] = []
    count = 0

    def stream(reader):
        nonlocal count
        next(reader)
        for i, values in enumerate(reader):
            if i in chosen:
                picked.append((values[0], values[1]))
            count += 1
            yield values

    with csv_path.open(encoding="utf-8", newline="") as f:
        conn.executemany(insert, stream(csv.reader(f)))
    conn.commit()
    conn.close()
    random.Random(12).shuffle(picked)
    with keys_path.open("w", encoding="utf-8") as f:
        f.writelines(f"{k}\t{name}\n" for k, name in picked)
    return {"rows": count, "build_s": round(time.perf_counter() - t0, 1), "keys": len(picked)}


# ---------------------------------------------------------------- servers


def _venv_exe(name: str) -> str | None:
    here = Path(sys.executable).with_name(name)
    return str(here) if here.exists() else shutil.which(name)


def _our_server(name: str, db: Database, settings_module: str, log_dir: Path) -> load.Server:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db.url,
        GOVSHARE_VAR_DIR=db.var_dir,
        DJANGO_SETTINGS_MODULE=settings_module,
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
        GOVSHARE_THREADS=str(THREADS),
        GOVSHARE_DEBUG="0",
        GOVSHARE_LOG_LEVEL="WARNING",
        **THROTTLE_ENV,
    )
    port = load.free_port()
    cmd = [_venv_exe("govshare"), "serve", "--no-scheduler", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", "1"]
    return load.Server(name, cmd, env, port, "/healthz", log_dir / f"{name}.log")


def _datasette(db_path: Path, log_dir: Path) -> load.Server:
    port = load.free_port()
    cmd = [_venv_exe("datasette"), "serve", str(db_path), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--setting", "num_sql_threads", str(THREADS)]
    return load.Server(
        "datasette", cmd, dict(os.environ), port, "/-/versions.json", log_dir / "datasette.log"
    )


def _checks(ds: load.Server, ours: load.Server, bare: load.Server, code: str, token: str, key, name) -> dict:
    """Before any load: every endpoint answers what it should (a wrong answer fast is not a result)."""
    out = {}
    status, body = load.http("GET", f"{ds.base}/people/people/{key}.json")
    out["datasette_finds_key"] = status == 200 and key in str(body.get("rows"))
    status, body = load.http("GET", f"{ours.base}/api/v1/share/{code}/records?sfzh={key}", token)
    rec = (body.get("records") or [{}])[0]
    out["records_masked"] = (
        status == 200
        and body.get("count") == 1
        and rec.get("sfzh") == key[:6] + "*" * 8 + key[-4:]
        and rec.get("xm") == name[0] + "*" * (len(name) - 1)
    )
    url = f"{ours.base}/api/v1/share/{code}/verify"
    s1, hit = load.http("POST", url, token, {"items": {"sfzh": key, "xm": name}})
    s2, miss = load.http("POST", url, token, {"items": {"sfzh": key, "xm": name + "X"}})
    out["verify_match_and_miss"] = (
        s1 == 200 and hit.get("match") is True and s2 == 200 and miss.get("match") is False
    )
    status, body = load.http("GET", f"{bare.base}/bench/share/{code}/records?sfzh={key}", token)
    out["bare_unmasked"] = status == 200 and (body.get("records") or [{}])[0].get("sfzh") == key
    status, _ = load.http("GET", f"{ours.base}/api/v1/share/{code}/records?sfzh={key}")
    out["records_refuses_no_token"] = status == 401
    out["ok"] = all(out.values())
    return out


# ---------------------------------------------------------------- measuring


def measure(db: Database, setup: dict, peer_path: Path, keys: Path, sizes: dict, log_dir: Path) -> dict:
    code, token = setup["code"], setup["token"]
    log_dir.mkdir(parents=True, exist_ok=True)
    script = log_dir / "share.lua"
    script.write_text(load.LUA, encoding="utf-8")
    ds = _datasette(peer_path, log_dir)
    ours = _our_server(f"ours-{db.label}", db, "govshare.settings", log_dir)
    bare = _our_server(f"bare-{db.label}", db, "bench._share_settings", log_dir)
    first_key, first_name = keys.read_text(encoding="utf-8").splitlines()[0].split("\t")
    runs = {
        "datasette": (ds, "datasette", "/people/people/"),
        "records": (ours, "records", f"/api/v1/share/{code}/records"),
        "verify": (ours, "verify", f"/api/v1/share/{code}/verify"),
        "bare": (bare, "records", f"/bench/share/{code}/records"),
    }
    result = {"rounds": [], "warmup": {}, "servers": {}}
    try:
        for server in (ds, ours, bare):
            server.start()
            result["servers"][server.name] = server.cmd
        result["checks"] = _checks(ds, ours, bare, code, token, first_key, first_name)
        log(f"  [{db.label}] checks: {result['checks']}")
        # Forward, then backward: /records always runs right beside Datasette and beside bare, so each
        # round's ratios compare runs made under the same conditions on a shared machine.
        order = ["datasette", "records", "bare", "verify"]
        warmed = set()
        for r in range(sizes["rounds"]):
            this_round = {"load_before": os.getloadavg()}
            for name in order if r % 2 == 0 else order[::-1]:
                server, mode, path = runs[name]
                tok = "" if name == "datasette" else token
                if name not in warmed:
                    w = load.run_wrk(server.base, mode, keys, tok, path, sizes["warmup"], script, CONNECTIONS)
                    result["warmup"][name] = w
                    warmed.add(name)
                cpu0 = load.cpu_seconds(server.pids())
                res = load.run_wrk(server.base, mode, keys, tok, path, sizes["seconds"], script, CONNECTIONS)
                res["server_cpu_ms_per_req"] = (
                    (load.cpu_seconds(server.pids()) - cpu0) * 1000 / res["requests"]
                    if res["requests"]
                    else None
                )
                this_round[name] = res
                log(
                    f"  [{db.label}] round {r + 1} {name:9s} {res['rps']:8.1f} req/s  p99 {res['p99_ms']:6.1f} ms"
                    f"  mean {res['mean_ms']:5.1f} ms  errors {res['errors']}  load {os.getloadavg()[0]:.2f}"
                )
            this_round["load_after"] = os.getloadavg()
            result["rounds"].append(this_round)
    finally:
        for server in (ds, ours, bare):
            server.stop()
    return result


def _median(rounds: list[dict], name: str, key: str) -> float:
    return statistics.median(r[name][key] for r in rounds)


def rows_for(db: str, m: dict, setup: dict, sizes: dict, quick: bool, audit: dict, prep: dict) -> list[dict]:
    rounds = m["rounds"]
    fig = {n: {k: _median(rounds, n, k) for k in ("rps", "p99_ms", "mean_ms", "p50_ms")} for n in ("datasette", "records", "verify", "bare")}  # fmt: skip
    ds_rps = fig["datasette"]["rps"]
    # ratios per round (adjacent runs), then the median: steadier than a ratio of medians
    ratio = {
        "records": statistics.median(r["records"]["rps"] / r["datasette"]["rps"] for r in rounds),
        "verify": statistics.median(r["verify"]["rps"] / r["datasette"]["rps"] for r in rounds),
        "gate": statistics.median(r["records"]["rps"] / r["bare"]["rps"] for r in rounds),
        "gate_lat": statistics.median(r["bare"]["mean_ms"] / r["records"]["mean_ms"] for r in rounds),
    }

    def verdict(ok: bool) -> str:
        return ("met" if ok else "NOT met") if not quick else "— (quick)"

    cost_rps = 1 - ratio["gate"]
    cost_lat = 1 - ratio["gate_lat"]
    errors = sum(r[n]["errors"] for r in rounds for n in ("datasette", "records", "verify", "bare"))
    # every 200 of /records and /verify: measured runs, warm-ups and the three checks before the load
    gate_calls = sum(r[n]["requests"] for r in [*rounds, m["warmup"]] for n in ("records", "verify")) + 3
    # wrk stops with up to CONNECTIONS requests in flight: served and audited, but not counted by wrk
    in_flight = CONNECTIONS * (len(rounds) + 1) * 2
    events = audit.get("share.records", 0) + audit.get("share.verify", 0)
    n = setup["records"]
    load_avgs = [r["load_before"][0] for r in rounds] + [r["load_after"][0] for r in rounds]
    out = [
        row(NAME, db, "/records req/s (peer: Datasette row JSON)", round(fig["records"]["rps"]), round(ds_rps),
            unit="req/s", ratio=round(ratio["records"], 2)),
        row(NAME, db, "/verify req/s (peer: Datasette row JSON)", round(fig["verify"]["rps"]), round(ds_rps),
            unit="req/s", ratio=round(ratio["verify"], 2)),
        row(NAME, db, "/records p99 latency (peer: Datasette)", fig["records"]["p99_ms"], fig["datasette"]["p99_ms"],
            f"< {TARGET_P99_MS:g} ms", verdict(fig["records"]["p99_ms"] < TARGET_P99_MS), unit="ms"),
        row(NAME, db, "/verify p99 latency (peer: Datasette)", fig["verify"]["p99_ms"], fig["datasette"]["p99_ms"],
            f"< {TARGET_P99_MS:g} ms", verdict(fig["verify"]["p99_ms"] < TARGET_P99_MS), unit="ms"),
        row(NAME, db, "bare lookup req/s, same stack without the gate (peer: /records)", round(fig["bare"]["rps"]),
            round(fig["records"]["rps"]), unit="req/s"),
        row(NAME, db, "/records ÷ Datasette req/s (median of per-round ratios)", round(ratio["records"], 2), None,
            f">= {TARGET_RATIO:g}", verdict(ratio["records"] >= TARGET_RATIO), unit="x"),
        row(NAME, db, "/verify ÷ Datasette req/s (median of per-round ratios)", round(ratio["verify"], 2), None,
            f">= {TARGET_RATIO:g}", verdict(ratio["verify"] >= TARGET_RATIO), unit="x"),
        row(NAME, db, "gate cost: 1 − /records ÷ bare req/s (median per round)", round(100 * cost_rps, 1), None,
            f"< {100 * TARGET_GATE_COST:g} %", verdict(cost_rps < TARGET_GATE_COST), unit="%"),
        row(NAME, db, "gate cost: 1 − bare ÷ /records mean latency (median)", round(100 * cost_lat, 1), None,
            f"< {100 * TARGET_GATE_COST:g} %", verdict(cost_lat < TARGET_GATE_COST), unit="%",
            mean_ms={k: v["mean_ms"] for k, v in fig.items()}),
        row(NAME, db, "server CPU per /records request, ms (peer: Datasette)",
            round(statistics.median(r["records"]["server_cpu_ms_per_req"] for r in rounds), 2),
            round(statistics.median(r["datasette"]["server_cpu_ms_per_req"] for r in rounds), 2),
            detail={k: round(statistics.median(r[k]["server_cpu_ms_per_req"] for r in rounds), 3) for k in fig}),
        row(NAME, db, "answers right before load (masked, verify hit/miss, bare, Datasette, 401)",
            m["checks"]["ok"], verdict="met" if m["checks"]["ok"] else "NOT met", check=True, detail=m["checks"]),
        row(NAME, db, "non-2xx and socket errors under load", errors, verdict="met" if errors == 0 else "NOT met",
            check=True),
        row(NAME, db, "audit events per completed gate call", round(events / gate_calls, 3) if gate_calls else None,
            verdict="met" if gate_calls <= events <= gate_calls + in_flight else "NOT met", check=True,
            detail={"events": events, "calls_completed": gate_calls, "in_flight_allowance": in_flight}),
        row(NAME, db, f"records loaded by govshare ingest ({n})", round(setup["ingest"]["wall_s"], 1),
            unit="s", rate=round(n / setup["ingest"]["wall_s"]), prep=prep),
        row(NAME, db, "host load average during the runs, min–max", f"{min(load_avgs):.2f}–{max(load_avgs):.2f}"),
    ]  # fmt: skip
    out[0]["raw"] = {"sizes": sizes, "connections": CONNECTIONS, "threads": THREADS, "figures": fig, **m}
    return out


# ---------------------------------------------------------------- driver


def _databases(pg: bool) -> tuple[list[Database], dict]:
    dbs = [Database("sqlite", f"sqlite:///{WORK / 'govshare.sqlite3'}", str(WORK / "var"))]
    skipped = {}
    if pg:
        try:
            _pg_recreate(f"govshare_bench_{NAME}")
            dbs.append(Database("postgresql", _pg_url_for(f"govshare_bench_{NAME}"), str(WORK / "var-pg")))
        except Exception as exc:
            skipped["postgresql"] = (
                f"PostgreSQL unreachable at {pg_admin_url()}: {str(exc).strip().splitlines()[0]}"
            )
    return dbs, skipped


def run(quick: bool, pg: bool | None = None) -> list[dict]:
    if load.wrk_path() is None:
        return [row(NAME, "-", "skipped", None, verdict="skipped: wrk not installed (apt-get install wrk)")]
    if _venv_exe("datasette") is None:
        return [
            row(
                NAME, "-", "skipped", None, verdict="skipped: datasette not installed (pip install -e .[dev])"
            )
        ]
    if pg is None:
        pg = os.environ.get("GOVSHARE_BENCH_SHARE_PG") == "1"
    sizes = dict(QUICK if quick else FULL)
    n = sizes["records"]
    csv_path, peer_path, keys = WORK / "people.csv", WORK / "people.db", WORK / "keys.tsv"
    stamp = WORK / "prepared.json"
    prepared = json.loads(stamp.read_text()) if stamp.exists() else {}
    reuse = os.environ.get("GOVSHARE_BENCH_SHARE_REUSE") == "1" and prepared.get("records") == n
    if reuse:
        log(f"  reusing the {n} records prepared in {WORK} (GOVSHARE_BENCH_SHARE_REUSE=1)")
        prep = prepared["prep"] | {"reused": True}
    else:
        shutil.rmtree(WORK, ignore_errors=True)
        WORK.mkdir(parents=True)
        if WORK.parent.name == ".out":
            (WORK.parent / ".gitignore").write_text("*\n")
        log(f"  generating {n} person records …")
        t0 = time.perf_counter()
        from bench.ingest import generate

        generate(csv_path, n)
        prep = {"generate_s": round(time.perf_counter() - t0, 1)}
        log("  peer database for Datasette …")
        prep["peer"] = peer_db(csv_path, peer_path, keys, n, sizes["keys"])
    log(f"  load average {os.getloadavg()}")
    rows: list[dict] = []
    dbs, skipped = _databases(pg)
    try:
        for db in dbs:
            if reuse and db.label == "sqlite":
                setup = prepared["sqlite"]
            else:
                setup = run_worker(NAME, db, [f"--file={csv_path}"])
                if db.label == "sqlite":
                    stamp.write_text(json.dumps({"records": n, "prep": prep, "sqlite": setup}))
            log(f"  [{db.label}] {setup['records']} records loaded in {setup['ingest']['wall_s']:.1f} s")
            before = run_worker(NAME, db, ["--count"])["audit"]
            m = measure(db, setup, peer_path, keys, sizes, WORK / "logs")
            after = run_worker(NAME, db, ["--count"])["audit"]
            audit = {k: after[k] - before.get(k, 0) for k in after}
            rows += rows_for(db.label, m, setup, sizes, quick, audit, prep)
    finally:
        if pg and any(d.label == "postgresql" for d in dbs) and os.environ.get("GOVSHARE_BENCH_KEEP") != "1":
            _pg_drop(f"govshare_bench_{NAME}")
    for label, reason in skipped.items():
        rows.append(row(NAME, label, "skipped", None, verdict=f"skipped: {reason}"))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Standalone: `python -m bench.share_lookup [--quick] [--pg]` (same table and JSON as the harness)."""
    from bench.__main__ import main as bench_main

    ap = argparse.ArgumentParser(prog="python -m bench.share_lookup")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--pg", action="store_true", help="also on PostgreSQL (GOVSHARE_BENCH_PG_URL)")
    ap.add_argument("--reuse", action="store_true", help="keep the SQLite data of the last run of this size")
    a = ap.parse_args(argv)
    if a.pg:
        os.environ["GOVSHARE_BENCH_SHARE_PG"] = "1"
    if a.reuse:
        os.environ["GOVSHARE_BENCH_SHARE_REUSE"] = "1"
    return bench_main([NAME, *(["--quick"] if a.quick else [])])


if __name__ == "__main__":
    if "--db" in sys.argv:
        worker()
    else:
        sys.exit(main())
