"""CPU per delivery call, in-process: the WSGI application called directly, no HTTP server, no load generator.

`share_lookup` measures throughput over HTTP, which on a shared machine moves with everything else that
runs. This measures what one call costs our own code — everything from the WSGI callable inward — as CPU
time of this process (`time.process_time`), or, under callgrind, as instructions, which do not depend on
the machine's load at all:

    python -m bench.share_cpu                      # CPU ms per call: /records, /verify, bare lookup
    python -m bench.share_cpu --profile records    # + a cProfile breakdown of /records by area
    python -m bench.share_cpu --callgrind          # instructions per call (valgrind, deterministic)
    python -m bench.share_cpu --pg                 # the same on PostgreSQL (GOVSHARE_BENCH_PG_URL)

The data is share_lookup's own setup (its worker: migrate, a published person resource, `govshare
ingest`, a query+verify grant with the same masks, a client credential), kept under
bench/.out/share_cpu/ and reused until `--fresh`. Calls go through `govshare.wsgi.application` built
with bench._share_settings (the product's settings plus the bare lookup's URL), exactly as granian calls
it: a fresh environ per call, the body read, the response closed. Every answer is checked (status and a
masked value), so a fast wrong answer is not a result. Not part of `make bench` (no `run`): a tool for
looking at where the time goes, not a comparison with a peer.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import os
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import REPO, Database, _pg_recreate, _pg_url_for, log, run_worker

WORK = REPO / "bench" / ".out" / "share_cpu"
RECORDS = 20_000
ENDPOINTS = ("records", "verify", "bare")


# ---------------------------------------------------------------- preparing the data (once)


def prepare(pg: bool, fresh: bool) -> dict:
    """The database, credential and key sample, made by share_lookup's worker; reused unless `fresh`."""
    label = "postgresql" if pg else "sqlite"
    state_path = WORK / f"{label}.json"
    if state_path.exists() and not fresh:
        return json.loads(state_path.read_text(encoding="utf-8"))
    from bench.ingest import generate

    shutil.rmtree(WORK / label, ignore_errors=True)
    (WORK / label).mkdir(parents=True)
    if WORK.parent.name == ".out":
        (WORK.parent / ".gitignore").write_text("*\n")
    csv_path = WORK / label / "people.csv"
    log(f"  generating {RECORDS} person records …")
    generate(csv_path, RECORDS)
    if pg:
        _pg_recreate("govshare_bench_share_cpu")
        db = Database("postgresql", _pg_url_for("govshare_bench_share_cpu"), str(WORK / label / "var"))
    else:
        db = Database("sqlite", f"sqlite:///{WORK / label / 'bench.sqlite3'}", str(WORK / label / "var"))
    setup = run_worker("share_lookup", db, [f"--file={csv_path}"])
    rows = csv_path.read_text(encoding="utf-8").splitlines()[1:]
    sample = random.Random(7).sample(rows, 500)
    state = {
        "database": label,
        "url": db.url,
        "var_dir": db.var_dir,
        "code": setup["code"],
        "token": setup["token"],
        "keys": [r.split(",")[:2] for r in sample],
    }
    state_path.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
    return state


# ---------------------------------------------------------------- calling the application


def _environ(state: dict, endpoint: str, i: int) -> dict:
    key, name = state["keys"][i % len(state["keys"])]
    env = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": f"/api/v1/share/{state['code']}/records",
        "QUERY_STRING": f"sfzh={key}",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": f"Bearer {state['token']}",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if endpoint == "bare":
        env["PATH_INFO"] = f"/bench/share/{state['code']}/records"
    elif endpoint == "verify":
        if i % 2:
            name += "X"  # half of the calls do not match, as in share_lookup's load
        body = json.dumps({"items": {"sfzh": key, "xm": name}}, ensure_ascii=False).encode()
        env.update(
            REQUEST_METHOD="POST",
            PATH_INFO=f"/api/v1/share/{state['code']}/verify",
            QUERY_STRING="",
            CONTENT_TYPE="application/json",
            CONTENT_LENGTH=str(len(body)),
        )
        env["wsgi.input"] = io.BytesIO(body)
    return env


def _call(app, environ: dict) -> tuple[int, bytes]:
    got = []
    result = app(environ, lambda status, headers, exc_info=None: got.append(status))
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()  # Django's request_finished: connection upkeep, as under a real server
    return int(got[0].split()[0]), body


def _check(state: dict, endpoint: str, i: int, status: int, body: bytes) -> None:
    key, name = state["keys"][i % len(state["keys"])]
    data = json.loads(body)
    if status != 200:
        raise SystemExit(f"{endpoint}: HTTP {status}: {body[:300]!r}")
    if endpoint == "records":
        rec = data["records"][0]
        assert rec["sfzh"] == key[:6] + "*" * 8 + key[-4:] and rec["xm"][0] == name[0], data
    elif endpoint == "bare":
        assert data["records"][0]["sfzh"] == key, data
    else:
        assert data["match"] is (i % 2 == 0), data


def _app():
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench._share_settings"
    from govshare.wsgi import application

    return application


def measure(state: dict, endpoints, calls: int, rounds: int) -> dict:
    """Median over rounds of the CPU ms per call; each round calls every endpoint `calls` times in turn."""
    app = _app()
    for endpoint in endpoints:  # warm-up: caches, converters, prepared statements, the first connection
        for i in range(50):
            _check(state, endpoint, i, *_call(app, _environ(state, endpoint, i)))
    per_call: dict[str, list[float]] = {e: [] for e in endpoints}
    for r in range(rounds):
        for endpoint in endpoints:
            envs = [_environ(state, endpoint, r * calls + i) for i in range(calls)]
            t0 = time.process_time()
            for env in envs:
                _call(app, env)
            per_call[endpoint].append((time.process_time() - t0) * 1000 / calls)
    return {e: {"cpu_ms": statistics.median(v), "min": min(v), "max": max(v)} for e, v in per_call.items()}


# ---------------------------------------------------------------- where the time goes

AREAS = [  # (area, substrings of the code's file or the builtin's name); first match wins
    ("sqlite3 / psycopg (C)", ("sqlite3.", "psycopg")),
    ("django.db", ("django/db/",)),
    ("ninja", ("/ninja/",)),
    ("pydantic", ("pydantic",)),
    ("django request/response", ("django/core/handlers", "django/http/", "django/utils/datastructures")),
    ("django urls", ("django/urls/",)),
    ("django middleware", ("django/middleware/",)),
    ("django signals/other", ("django/",)),
    ("json", ("json/", "_json")),
    ("govshare gate", ("govshare/sharing/",)),
    ("govshare auth", ("govshare/clients/",)),
    ("govshare audit", ("govshare/audit/",)),
    ("govshare other", ("govshare/",)),
    ("bench harness", ("bench/share_cpu",)),
]


def _area(func: tuple) -> str:
    filename, _, name = func
    text = filename if filename != "~" else name
    for area, needles in AREAS:
        if any(n in text for n in needles):
            return area
    return "other (stdlib, builtins)"


def profile(state: dict, endpoint: str, calls: int, top: int) -> str:
    app = _app()
    for i in range(50):
        _call(app, _environ(state, endpoint, i))
    envs = [_environ(state, endpoint, 1000 + i) for i in range(calls)]
    prof = cProfile.Profile()
    prof.enable()
    for env in envs:
        _call(app, env)
    prof.disable()
    stats = pstats.Stats(prof)
    total = sum(v[2] for v in stats.stats.values())
    areas: dict[str, float] = {}
    for func, (_cc, _nc, tt, _ct, _callers) in stats.stats.items():
        areas[_area(func)] = areas.get(_area(func), 0.0) + tt
    out = io.StringIO()
    out.write(f"\n/{endpoint}: {calls} calls under cProfile (profiled time is inflated; shares matter)\n")
    out.write(f"{'area (own time)':32s} {'share':>6s}\n")
    for area, tt in sorted(areas.items(), key=lambda kv: -kv[1]):
        out.write(f"{area:32s} {tt / total:6.1%}\n")
    calls_per = sum(v[1] for v in stats.stats.values()) / calls
    out.write(f"function calls per request: {calls_per:.0f}\n")
    stats.stream = out
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# ---------------------------------------------------------------- instructions (callgrind)


def _inner(argv: list[str]) -> None:
    """Child under valgrind: per endpoint, warm-up calls, then `calls` calls inside one functools.reduce,
    the only function callgrind collects in (nothing on the request path calls reduce)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--state", required=True)
    ap.add_argument("--endpoints", required=True)
    ap.add_argument("--calls", type=int, required=True)
    a = ap.parse_args(argv)
    state = json.loads(Path(a.state).read_text(encoding="utf-8"))
    app = _app()
    for endpoint in a.endpoints.split(","):
        for i in range(30):
            _call(app, _environ(state, endpoint, i))
        envs = [_environ(state, endpoint, 100 + i) for i in range(a.calls)]
        functools.reduce(lambda _, env: _call(app, env), envs, None)


def _dump_order(path: Path) -> int:
    suffix = path.name.rpartition(".")[2]
    return int(suffix) if suffix.isdigit() else 1 << 30  # the final dump has no number


def callgrind(state: dict, endpoints, calls: int) -> dict:
    """Instructions per call, from one valgrind run: collection is on only inside each endpoint's loop."""
    env = _env(state)
    env["PYTHONHASHSEED"] = "0"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cg.out"
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--collect-atstart=no"]
        cmd += ["--toggle-collect=functools_reduce", "--dump-after=functools_reduce", sys.executable, "-m"]
        cmd += ["bench.share_cpu", "--inner", f"--state={WORK / (state['database'] + '.json')}"]
        cmd += [f"--endpoints={','.join(endpoints)}", f"--calls={calls}"]
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        totals = []
        for dump in sorted(Path(tmp).glob("cg.out*"), key=_dump_order):
            for line in dump.read_text().splitlines():
                if line.startswith(("summary:", "totals:")) and int(line.split()[1]) > 0:
                    totals.append(int(line.split()[1]))
                    break
    if len(totals) != len(endpoints):
        raise RuntimeError(f"expected {len(endpoints)} collected loops, callgrind dumped {len(totals)}")
    out = {}
    for endpoint, total in zip(endpoints, totals, strict=True):
        out[endpoint] = {"instructions": total // calls}
        log(f"  {endpoint:8s} {out[endpoint]['instructions']:>12,} instructions per call")
    return out


def _env(state: dict) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=state["url"],
        GOVSHARE_VAR_DIR=state["var_dir"],
        DJANGO_SETTINGS_MODULE="bench._share_settings",
        PYTHONPATH=os.pathsep.join(p for p in (env.get("PYTHONPATH", ""), str(REPO)) if p),
        GOVSHARE_DEBUG="0",
        GOVSHARE_LOG_LEVEL="WARNING",
        GOVSHARE_VERIFY_PER_MINUTE="1000000000",
        GOVSHARE_VERIFY_MISSES_PER_HOUR="1000000000",
    )
    return env


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--inner" in argv:
        _inner([a for a in argv if a != "--inner"])
        return 0
    ap = argparse.ArgumentParser(prog="python -m bench.share_cpu")
    ap.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    ap.add_argument("--fresh", action="store_true", help="rebuild the prepared data")
    ap.add_argument("--calls", type=int, default=500, help="calls per endpoint per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--endpoints", default=",".join(ENDPOINTS))
    ap.add_argument("--profile", choices=ENDPOINTS, help="also print a cProfile breakdown of one endpoint")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--callgrind", action="store_true", help="instructions per call instead of CPU time")
    ap.add_argument("--json", help="write the figures to this file")
    a = ap.parse_args(argv)
    state = prepare(a.pg, a.fresh)
    endpoints = [e for e in a.endpoints.split(",") if e]
    if a.callgrind:
        result = callgrind(state, endpoints, min(a.calls, 200))
    else:
        # The measurement runs in a child with the prepared database's environment (Django reads its
        # settings once per process).
        if os.environ.get("GOVSHARE_SHARE_CPU_CHILD") != "1":
            env = _env(state) | {"GOVSHARE_SHARE_CPU_CHILD": "1"}
            return subprocess.run(
                [sys.executable, "-m", "bench.share_cpu", *argv], cwd=REPO, env=env
            ).returncode
        result = measure(state, endpoints, a.calls, a.rounds)
        log(f"  load average {os.getloadavg()[0]:.2f} ({state['database']}, median of {a.rounds} rounds)")
        for e, fig in result.items():
            log(f"  {e:8s} {fig['cpu_ms']:.3f} ms CPU per call  (rounds {fig['min']:.3f}–{fig['max']:.3f})")
        if a.profile:
            print(profile(state, a.profile, a.calls, a.top))
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
