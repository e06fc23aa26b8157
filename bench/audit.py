"""Audit trail costs (issue: tamper-evident audit trail).

Targets: request-path cost of writing one event under 0.3 ms p50; sealing at least 20,000 events/s;
`govshare audit verify` over 1,000,000 events under 15 s. Peers, measured in the same run on the same
connection: a bare `INSERT` of the same row through `cursor.execute` (insert cost); reading the same
events and hashing their canonical bytes without storing anything (sealing floor); a plain full scan
that fetches every event row (verify floor). Verify runs as `govshare audit verify` does: with as many
worker processes as there are CPUs, at most 2 (docs/audit.md, "How it stays fast").

Insert timings are taken inside an open transaction (as `record` runs inside the service's
transaction), so they are the marginal cost of the event, not of a commit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

from bench import databases, log, report, row, run_worker, summarize

NAME = "audit"
FULL = {"events": 1_000_000, "inserts": 5_000}
QUICK = {"events": 10_000, "inserts": 500}
TARGET_INSERT_P50_MS = 0.3
TARGET_SEAL_PER_S = 20_000
TARGET_VERIFY_S = 15.0
ACTIONS = ["catalog.revision.publish", "sharing.record.read", "auth.login", "supervision.obligation.fulfil"]


def _actor():
    from govshare.orgs.models import Department, Region, User

    region = Region.objects.create(code="431000", name="郴州市", level="city")
    dept = Department.objects.create(
        name="郴州市公安局", short_name="公安局", uscc="bench", region=region, level="city"
    )
    user = User.objects.create(username="bench", department=dept)
    return User.objects.select_related("department").get(pk=user.pk)


def measure_inserts(n: int) -> dict:
    from django.db import connection, transaction

    from govshare.audit import services

    actor = _actor()
    cols = [f for f in services.FIELDS if f != "seq"]
    sql = f"INSERT INTO audit_auditevent ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
    ours, peer = [], []
    token = services.bind_request("bench-request-id", "10.0.0.1")
    for start in range(0, n, 500):
        with transaction.atomic(), connection.cursor() as cur:
            for i in range(start, min(n, start + 500)):
                kw = dict(object_type="sharing.record", object_id=i, purpose="办理户籍业务", detail={"n": i})
                t0 = time.perf_counter()
                services.record(ACTIONS[i % 4], actor=actor, **kw)
                t1 = time.perf_counter()
                now = services.timezone.now()
                vals = [now, actor.username, actor.pk, actor.department_id, actor.department.name, "", ACTIONS[i % 4],
                        "sharing.record", str(i), "办理户籍业务", "", "ok", "bench-request-id", "10.0.0.1",
                        json.dumps({"n": i})]  # fmt: skip
                t2 = time.perf_counter()
                cur.execute(sql, vals)
                t3 = time.perf_counter()
                ours.append((t1 - t0) * 1000)
                peer.append((t3 - t2) * 1000)
    services.unbind_request(token)
    return {"ours": summarize(ours), "peer": summarize(peer)}


def generate(n: int) -> float:
    """n more events, written with executemany in the database's own storage format."""
    from django.db import connection, transaction

    from govshare.audit import services

    cols = [f for f in services.FIELDS if f != "seq"]
    sql = f"INSERT INTO audit_auditevent ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
    base = dt.datetime(2026, 1, 5, 1, 0, tzinfo=dt.UTC)
    sqlite = connection.vendor == "sqlite"
    t0 = time.perf_counter()
    for start in range(0, n, 20_000):
        rows = []
        for i in range(start, min(n, start + 20_000)):
            when = base + dt.timedelta(microseconds=i * 1371)
            when = when.replace(tzinfo=None).isoformat(" ") if sqlite else when
            rows.append((when, f"user{i % 997}", i % 997, i % 40, f"部门{i % 40}", "人口库" if i % 3 else "",
                         ACTIONS[i % 4], "sharing.record", str(i), "办理业务", f"CASE-{i % 5000}", "ok",
                         f"req-{i}", "10.1.2.3", json.dumps({"n": i})))  # fmt: skip
        with transaction.atomic(), connection.cursor() as cur:
            cur.executemany(sql, rows)
    return time.perf_counter() - t0


def seal_peer() -> float:
    """Read every event and hash its canonical bytes: what sealing must do before it stores anything."""
    from govshare.audit import merkle, services
    from govshare.audit.models import AuditEvent

    t0 = time.perf_counter()
    last = 0
    while True:
        rows = list(
            AuditEvent.objects.filter(seq__gt=last).order_by("seq").values_list(*services.FIELDS)[:10_000]
        )
        if not rows:
            break
        merkle.leaf_hashes(services.event_bytes(r) for r in rows)
        last = rows[-1][0]
    return time.perf_counter() - t0


def scan_peer() -> float:
    from django.db import connection

    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("SELECT * FROM audit_auditevent ORDER BY seq")
        while cur.fetchmany(50_000):
            pass
    return time.perf_counter() - t0


def worker(argv: list[str] | None = None) -> None:
    from bench import django_setup

    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--events", type=int, default=FULL["events"])
    ap.add_argument("--inserts", type=int, default=FULL["inserts"])
    a = ap.parse_args(argv)
    django_setup()
    from django.core.management import call_command
    from django.db import connection

    from govshare.audit import services

    log(f"  [{a.db}] measuring {a.inserts} inserts (ours and peer) …")
    ins = measure_inserts(a.inserts)
    existing = a.inserts * 2
    log(f"  [{a.db}] generating {a.events - existing} more events …")
    gen_s = generate(max(0, a.events - existing))
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE audit_auditevent")
    log(f"  [{a.db}] generated in {gen_s:.1f} s; sealing peer (read + hash) …")
    peer_seal_s = seal_peer()
    log(f"  [{a.db}] sealing …")
    t0 = time.perf_counter()
    sealed = services.seal_pending(batch=10_000)
    seal_s = time.perf_counter() - t0
    log(f"  [{a.db}] sealed {sealed['sealed']} in {seal_s:.1f} s; verifying …")
    t0 = time.perf_counter()
    call_command("audit", "verify", verbosity=0)
    verify_s = time.perf_counter() - t0
    scan_s = scan_peer()
    report(
        {
            "database": a.db,
            "vendor": connection.vendor,
            "events": sealed["tree_size"],
            "heads": sealed["heads"],
            "insert": ins,
            "generate_s": gen_s,
            "seal_s": seal_s,
            "seal_peer_s": peer_seal_s,
            "verify_s": verify_s,
            "scan_s": scan_s,
        }
    )


def run(quick: bool) -> list[dict]:
    sizes = QUICK if quick else FULL
    args = [f"--{k}={v}" for k, v in sizes.items()]
    rows = []
    with databases(NAME) as (dbs, skipped):
        for db in dbs:
            rows += rows_for(run_worker(NAME, db, args))
        for label, reason in skipped.items():
            rows.append(row(NAME, label, "skipped", None, verdict=f"skipped: {reason}"))
    return rows


def rows_for(r: dict) -> list[dict]:
    db, n = r["database"], r["events"]
    ins_o, ins_p = r["insert"]["ours"], r["insert"]["peer"]
    seal_rate = n / r["seal_s"] if r["seal_s"] else 0.0
    peer_rate = n / r["seal_peer_s"] if r["seal_peer_s"] else 0.0
    out = [
        row(NAME, db, "event write p50 (record vs bare INSERT)", round(ins_o["p50"], 4), round(ins_p["p50"], 4),
            f"< {TARGET_INSERT_P50_MS} ms", "met" if ins_o["p50"] < TARGET_INSERT_P50_MS else "NOT met", unit="ms"),
        row(NAME, db, "event write p95", round(ins_o["p95"], 4), round(ins_p["p95"], 4), unit="ms"),
        row(NAME, db, f"sealing rate ({n} events; peer = read + hash only)", round(seal_rate), round(peer_rate),
            f">= {TARGET_SEAL_PER_S}/s", "met" if seal_rate >= TARGET_SEAL_PER_S else "NOT met", unit="events/s"),
        row(NAME, db, f"audit verify over {n} events (peer = full scan)", round(r["verify_s"], 2),
            round(r["scan_s"], 2), f"< {TARGET_VERIFY_S:g} s ({FULL['events']} events)",
            ("met" if r["verify_s"] < TARGET_VERIFY_S else "NOT met") if n >= FULL["events"] else "— (reduced N)",
            unit="s"),
    ]  # fmt: skip
    out[0]["raw"] = r
    return out


if __name__ == "__main__":
    worker()
