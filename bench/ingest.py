"""Loading a person file with full validation (issue: data collection).

Targets: a 1,000,000-row, 10-item person file with valid identifiers loads at ≥ 30,000 rows/s on SQLite
and at ≥ 5× the throughput of `sqlite-utils insert` on the same file in the same run, with peak memory
under 500 MB (streamed); the PostgreSQL figure is reported too.

Ours: `govshare ingest` (parse, check every value — 公民身份号码 check digit, birth date and region,
统一社会信用代码, dates, enumerations, lengths — build canonical JSON, digest, stage, merge, index the
lookup item), run as a real subprocess so its peak RSS is its own. Peer: `sqlite-utils insert --csv` of
the same file into a fresh SQLite file (no validation, text columns, no history, no indexes).

Also reported, without a target: the reload of the same file (every row unchanged), and the same file
into a second resource with the same items whose 公民身份号码 and 手机号码 are marked 敏感, so that their
values are sealed (AES-256-GCM) and the key and lookup item stored as blind indexes (R-SEC-04).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench import databases, log, report, row, run_worker

NAME = "ingest"
FULL = {"rows": 1_000_000}
QUICK = {"rows": 20_000}
TARGET_RATE = 30_000
TARGET_RATIO = 5.0
TARGET_RSS_MB = 500

ITEMS = [
    {"code": "sfzh", "name": "公民身份号码", "data_type": "C", "length": 18, "is_primary": True},
    {"code": "xm", "name": "姓名", "data_type": "C", "length": 50, "is_required": True},
    {"code": "xb", "name": "性别", "data_type": "C", "length": 1, "enum_values": ["男", "女"]},
    {"code": "csrq", "name": "出生日期", "data_type": "D"},
    {"code": "mz", "name": "民族", "data_type": "C", "length": 20},
    {"code": "hjdz", "name": "户籍地址", "data_type": "C", "length": 200},
    {"code": "sjhm", "name": "手机号码", "data_type": "C", "length": 11, "is_indexed": True},
    {"code": "hyzk", "name": "婚姻状况", "data_type": "C", "length": 4, "enum_values": ["未婚", "已婚", "离婚", "丧偶"]},
    {"code": "djrq", "name": "登记日期", "data_type": "D"},
    {"code": "dwdm", "name": "工作单位统一社会信用代码", "data_type": "C", "length": 18},
]  # fmt: skip

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉兰海燕晓东文斌"
ETHNIC = ["汉族"] * 9 + ["瑶族", "土家族", "苗族"]
SEALED = ("sfzh", "sjhm")  # the second resource's sensitive items: its 公民身份号码 and 手机号码 are sealed
STREETS = ["人民西路", "国庆南路", "五岭大道", "郴江路", "燕泉路", "青年大道", "北湖路", "苏仙路"]


def generate(path: Path, n: int, seed: int = 2026) -> None:
    """A CSV with valid 公民身份号码 (unique), names, dates and 统一社会信用代码, headers in Chinese."""
    from govshare.orgs.identifiers import ric_check_char, uscc_check_char
    from govshare.orgs.regions import known_codes

    rnd = random.Random(seed)
    regions = sorted(c for c in known_codes() if c.startswith("4310") and not c.endswith("00"))
    start = date(1940, 1, 1)
    span = (date(2008, 12, 31) - start).days
    companies = []
    for i in range(500):
        body = f"91431000MA4L{i:05d}"
        companies.append(body + uscc_check_char(body))
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([it["name"] for it in ITEMS])
        for i in range(n):
            # date, region and sequence code together are unique per row; the tens digit of the
            # sequence code carries how many times the date range has wrapped
            born = start + timedelta(days=i % span)
            lap = i // span
            body = f"{regions[lap % len(regions)]}{born:%Y%m%d}{(lap // len(regions)) * 10 + rnd.randrange(10):03d}"
            sex = "男" if int(body[16]) % 2 else "女"
            w.writerow(
                [
                    body + ric_check_char(body),
                    rnd.choice(SURNAMES) + rnd.choice(GIVEN) + rnd.choice(GIVEN),
                    sex,
                    born.isoformat(),
                    rnd.choice(ETHNIC),
                    f"湖南省郴州市{rnd.choice(STREETS)}{rnd.randrange(1, 999)}号",
                    f"1{rnd.choice('3578')}{rnd.randrange(10**9):09d}",
                    rnd.choice(["未婚", "已婚", "已婚", "离婚", "丧偶"]),
                    (born + timedelta(days=rnd.randrange(365 * 16, 365 * 18))).isoformat(),
                    rnd.choice(companies),
                ]
            )


def _setup_resource() -> str:
    """A published 户籍人口 resource of a police department; returns its code."""
    return _publisher()("户籍人口基本信息", ())


def _publisher():
    """A city with a police department; returns publish(name, sealed item codes) → resource code."""
    from govshare.catalog import services as catalog
    from govshare.catalog.models import CatalogKind, Classification
    from govshare.orgs.identifiers import uscc_check_char
    from govshare.orgs.models import Department, DepartmentKind, Region, Role, User, UserRole

    region = Region.objects.create(code="431000", name="郴州市", level="city")

    def dept(name, seed, kind=DepartmentKind.GOVERNMENT):
        body = f"11431000{seed:09d}"
        return Department.objects.create(
            name=name,
            short_name=name,
            uscc=body + uscc_check_char(body),
            region=region,
            level="city",
            kind=kind,
        )

    authority = dept("郴州市行政审批服务局", 1, DepartmentKind.AUTHORITY)
    police = dept("郴州市公安局", 2)
    cls = Classification.objects.create(code="301", name="部门信息资源", kind=CatalogKind.DEPARTMENT)

    def person(username, department, role):
        u = User.objects.create_user(username=username, password="bench-pw-2026", department=department)
        UserRole.objects.create(user=u, role=role)
        return User.objects.get(pk=u.pk)

    officer = person("police", police, Role.PROVIDER)
    reviewer = person("reviewer", authority, Role.AUTHORITY)

    def publish(name: str, sealed: tuple[str, ...]) -> str:
        items = [{**i, "is_sensitive": i["code"] in sealed} for i in ITEMS]
        rev = catalog.create_resource(
            officer,
            {
                "classification": cls.code,
                "name": name,
                "abstract": "全市户籍人口的基本信息。",
                "provider": police.pk,
                "format_category": "database",
                "format_type": "JSON",
                "share_type": "conditional",
                "share_condition": "用于法定职责",
                "legal_basis": "《中华人民共和国户口登记条例》",
                "share_methods": ["query", "verify"],
                "usage_requirements": "仅用于本部门履职。",
                "open_type": "none",
                "update_cycle": "daily",
                "mount_kind": "table",
                "items": items,
            },
        )
        catalog.submit_revision(officer, rev)
        catalog.publish_revision(reviewer, rev)
        rev.resource.refresh_from_db()
        return rev.resource.code

    return publish


def _child(cmd: list[str], env: dict) -> dict:
    """Run a command, measuring wall time and the child's own peak RSS (ru_maxrss of the child)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited {proc.returncode}:\n{out[-3000:]}")
    return {"wall_s": wall, "rss_mb": usage.ru_maxrss / 1024, "tail": out[-600:]}


def worker(argv: list[str] | None = None) -> None:
    from bench import django_setup

    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--rows", type=int, default=FULL["rows"])
    ap.add_argument("--file", required=True)
    a = ap.parse_args(argv)
    django_setup()
    from django.db import connection

    publish = _publisher()
    code = publish("户籍人口基本信息", ())
    sealed_code = publish("户籍人口基本信息（敏感项加密）", SEALED)  # same items, 敏感 marked (R-SEC-04)
    connection.close()
    env = dict(os.environ)
    gov = str(Path(sys.executable).with_name("govshare"))
    log(f"  [{a.db}] govshare ingest {code} ({a.rows} rows) …")
    ours = _child([gov, "ingest", code, a.file, "--quiet"], env)
    from govshare.collect.models import Batch, Record

    b = Batch.objects.get()
    result = {
        "database": a.db,
        "vendor": connection.vendor,
        "rows": a.rows,
        "status": b.status,
        "inserted": b.inserted,
        "records": Record.objects.count(),
        "ours": ours,
    }
    # the same file again: every row unchanged (digest comparison), nothing rewritten
    log(f"  [{a.db}] reload of the same file (all rows unchanged) …")
    result["reload"] = _child([gov, "ingest", code, a.file, "--quiet"], env)
    # report only (no target): the same file into the resource whose 公民身份号码 and 手机号码 are sealed
    log(f"  [{a.db}] the same file into {sealed_code} (公民身份号码 and 手机号码 sealed) …")
    result["sealed"] = _child([gov, "ingest", sealed_code, a.file, "--quiet"], env)
    result["sealed_records"] = Record.objects.filter(resource__code=sealed_code).count()
    report(result)


def peer_sqlite_utils(path: Path, tmp: Path) -> dict | None:
    exe = shutil.which("sqlite-utils") or str(Path(sys.executable).with_name("sqlite-utils"))
    if not Path(exe).exists():
        return None
    db = tmp / "peer.sqlite3"
    return _child([exe, "insert", str(db), "people", str(path), "--csv"], dict(os.environ))


def run(quick: bool) -> list[dict]:
    n = (QUICK if quick else FULL)["rows"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="govshare-bench-ingest-") as tmp:
        path = Path(tmp) / "people.csv"
        log(f"  generating {n} rows …")
        generate(path, n)
        log(f"  peer: sqlite-utils insert --csv ({path.stat().st_size / 1e6:.0f} MB) …")
        peer = peer_sqlite_utils(path, Path(tmp))
        peer_rate = n / peer["wall_s"] if peer else None
        with databases(NAME) as (dbs, skipped):
            for db in dbs:
                r = run_worker(NAME, db, [f"--rows={n}", f"--file={path}"])
                rows += rows_for(r, peer_rate, peer)
            for label, reason in skipped.items():
                rows.append(row(NAME, label, "skipped", None, verdict=f"skipped: {reason}"))
    return rows


def rows_for(r: dict, peer_rate: float | None, peer: dict | None) -> list[dict]:
    db, n = r["database"], r["rows"]
    rate = n / r["ours"]["wall_s"]
    reload_rate = n / r["reload"]["wall_s"]
    full = n >= FULL["rows"]
    sqlite = db == "sqlite"
    ratio = rate / peer_rate if peer_rate else None
    out = [
        row(NAME, db, f"load {n} rows, full validation (peer = sqlite-utils insert --csv)", round(rate),
            round(peer_rate) if peer_rate else None,
            f">= {TARGET_RATE}/s and >= {TARGET_RATIO:g}x peer" if sqlite else "report",
            (("met" if rate >= TARGET_RATE and (ratio or 0) >= TARGET_RATIO else "NOT met") if full else
             "— (reduced N)") if sqlite else "—", unit="rows/s", ratio=ratio),
        row(NAME, db, "peak memory of the load process (peer: sqlite-utils)", round(r["ours"]["rss_mb"]),
            round(peer["rss_mb"]) if peer else None, f"< {TARGET_RSS_MB} MB",
            "met" if r["ours"]["rss_mb"] < TARGET_RSS_MB else "NOT met", unit="MB"),
        row(NAME, db, "reload of the same file (every row unchanged)", round(reload_rate), unit="rows/s"),
        row(NAME, db, "records stored = rows in file", r["records"] == n and r["inserted"] == n,
            verdict="met" if r["records"] == n else "NOT met", check=True),
        row(NAME, db, "same load, 公民身份号码 and 手机号码 sealed (AES-256-GCM, blind index)",
            round(n / r["sealed"]["wall_s"]), unit="rows/s", sealed_rss_mb=round(r["sealed"]["rss_mb"])),
        row(NAME, db, "sealed records stored = rows in file", r["sealed_records"] == n,
            verdict="met" if r["sealed_records"] == n else "NOT met", check=True),
    ]  # fmt: skip
    out[0]["raw"] = r
    return out


if __name__ == "__main__":
    worker()
