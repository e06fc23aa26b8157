"""Open data portal (issue #7): catalog search over the CKAN-compatible API, and large downloads.

Issue targets: with 5,000 open datasets, open-catalog search p95 < 50 ms; a 1,000,000-row CSV download
streams at ≥ 100,000 rows/s with flat memory (server RSS growth < 50 MB). The JSON download of the same
version is measured too.

Ours: `govshare serve --workers 1` (granian, WSGI, DEBUG off) on a throwaway SQLite database under
bench/.out/open, called over HTTP on 127.0.0.1 by one keep-alive client, one request at a time:
`/open/api/3/action/package_search` with typical q / fq / facet.field / sort / paging requests, and the
download route `/open/datasets/<name>/download/<n>.csv|json` as a logged-in, identity-checked account
that accepted the terms (the full download gate and its audit event run on every download).

Peers: CKAN itself cannot run here (it needs Solr, PostgreSQL and Redis), so search has no peer: the
target is printed as the limit. The CSV download's peer is Python's `http.server` serving the very same
stored file (no gate, no audit, no Django): what streaming those bytes costs on this machine.

`python -m bench open [--quick]`, or standalone `python -m bench.open [--quick]`.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from bench import REPO, Database, log, percentile, report, row, run_worker, summarize
from bench import _share_load as load
from bench.catalog_search import COUNTIES, DEPARTMENTS, ITEM_POOLS, QUERIES, SUFFIXES

NAME = "open"
FULL = {"datasets": 5_000, "rows": 1_000_000, "shapes": 80, "rounds": 5}
QUICK = {"datasets": 500, "rows": 20_000, "shapes": 20, "rounds": 1}
TARGET_P95_MS = 50.0
TARGET_ROWS_S = 100_000
TARGET_RSS_MB = 50.0
THREADS = 4
WORK = Path(os.environ.get("GOVSHARE_BENCH_OPEN_DIR") or REPO / "bench" / ".out" / NAME)
API = "/open/api/3/action/"
SEPARATOR = re.compile(rb"\}, ?\{")  # between two JSON objects of a list
ALL_FACETS = json.dumps(["organization", "groups", "res_format", "license_id"])

# department short name → open-data domain (R-OPEN-13); penalties and credit lists go to 信用
DOMAIN_OF = {
    "公安局": "safety", "市场监督管理局": "enterprise", "民政局": "social_security",
    "人力资源和社会保障局": "employment", "自然资源和规划局": "geography", "住房和城乡建设局": "economy",
    "卫生健康委员会": "health", "医疗保障局": "medical", "教育局": "education",
    "国家税务总局郴州市税务局": "finance", "交通运输局": "transport", "生态环境局": "environment",
    "农业农村局": "agriculture", "水利局": "environment", "文化旅游广电体育局": "culture",
    "应急管理局": "safety", "财政局": "finance", "统计局": "statistics", "发展和改革委员会": "credit",
    "工业和信息化局": "technology", "商务局": "economy", "林业局": "agriculture", "气象局": "weather",
    "国网郴州供电公司": "energy", "住房公积金管理中心": "social_security", "不动产登记中心": "geography",
}  # fmt: skip
CYCLES = (
    ["daily"] * 3
    + ["monthly"] * 3
    + ["quarterly", "yearly", "realtime", "irregular", "weekly", "half_yearly"]
)

# The 1,000,000-row dataset: enterprise registrations, a typical large open dataset.
BIG_ITEMS = [
    ("tyshxydm", "统一社会信用代码", "plain"),
    ("qymc", "企业名称", "plain"),
    ("qylx", "企业类型", "plain"),
    ("fddbr", "法定代表人", "keep:1:0"),
    ("zczb", "注册资本（万元）", "plain"),
    ("clrq", "成立日期", "plain"),
    ("djjg", "登记机关", "plain"),
    ("zs", "住所", "plain"),
    ("jyzt", "登记状态", "plain"),
    ("lxdh", "联系电话", "suppress"),
]
FIRM_WORDS = "华信 湘南 林邑 东江 莽山 飞天 苏仙 北湖 裕后 兴隆 宏达 恒通 鑫源 瑞丰 康泰 博远 金穗 和美 天成 福临".split()
TRADES = "商贸 建材 矿业 农业开发 物流 餐饮管理 电子科技 旅游开发 医药 建筑工程 教育咨询 环保科技".split()
FORMS = ["有限公司", "有限责任公司", "股份有限公司", "个人独资企业", "合伙企业（有限合伙）"]
KINDS = [
    "有限责任公司（自然人投资或控股）",
    "有限责任公司（自然人独资）",
    "股份有限公司（非上市）",
    "个人独资企业",
    "有限合伙企业",
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚华建国志红玉海燕晓东文斌"
STREETS = ["人民西路", "国庆南路", "五岭大道", "郴江路", "燕泉路", "青年大道", "北湖路", "苏仙路"]


# ---------------------------------------------------------------- setup worker (the Django side)


def _dept_name(short: str) -> str:
    return short if short.startswith(("国家", "国网", "郴州市")) else "郴州市" + short


def _catalog(n: int, rnd: random.Random) -> dict:
    """n open datasets as direct rows: catalog entries, datasets, reviews and one written version each."""
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    from govshare.catalog.models import CatalogKind, Classification, Resource, ResourceStatus
    from govshare.opendata.models import DatasetStatus, OpenDataset, OpenVersion, Review, VersionStatus
    from govshare.opendata.services import package_name
    from govshare.orgs.identifiers import uscc_check_char
    from govshare.orgs.models import Department, DepartmentKind, Region, Role, User, UserRole

    region = Region.objects.create(code="431000", name="郴州市", level="city")
    depts, weights = [], []
    for i, (short, kind, weight, stems) in enumerate(DEPARTMENTS, start=1):
        body = f"11431000{i:09d}"
        d = Department.objects.create(
            name=_dept_name(short),
            short_name=short,
            uscc=body + uscc_check_char(body),
            region=region,
            level="city",
            kind=kind if kind in DepartmentKind.values else DepartmentKind.GOVERNMENT,
            platform="郴州市政务数据共享交换平台",
        )
        depts.append((d, short, stems))
        weights.append(weight)
    body = f"11431000{len(depts) + 1:09d}"
    authority = Department.objects.create(
        name="郴州市政务服务和大数据管理局",
        short_name="数据局",
        uscc=body + uscc_check_char(body),
        region=region,
        level="city",
        kind=DepartmentKind.AUTHORITY,
    )
    reviewer = User.objects.create_user(username="reviewer", password="bench-pw-2026", department=authority)
    UserRole.objects.create(user=reviewer, role=Role.AUTHORITY)
    cls = Classification.objects.create(code="301", name="部门信息资源", kind=CatalogKind.DEPARTMENT)

    now = timezone.now()
    specs = []
    for _ in range(n):
        dept, short, stems = rnd.choices(depts, weights)[0]
        stem, pools, _ = rnd.choice(stems) if stems else ("公共服务事项", ["common"], None)
        county = rnd.choice(COUNTIES) if rnd.random() < 0.35 else ""
        year = f"{rnd.randrange(2015, 2026)}年" if rnd.random() < 0.25 else ""
        title = f"{county}{year}{stem}{rnd.choice(SUFFIXES)}"
        pool = [it for p in pools for it in ITEM_POOLS[p]] + ITEM_POOLS["common"]
        items = rnd.sample(pool, min(len(pool), rnd.randrange(4, 13)))
        names = [it[0] for it in items]
        cycle = rnd.choice(CYCLES)
        domain = DOMAIN_OF.get(short, "other")
        if any(w in stem for w in ("处罚", "失信", "信用", "异常", "限制高消费", "欠税")):
            domain = "credit"
        description = (
            f"{dept.name}依法开放的{stem}数据，包括{'、'.join(names[:3])}等{len(names)}个信息项，"
            f"{dict(daily='每日', monthly='每月', quarterly='每季度', yearly='每年', realtime='实时', irregular='不定期', weekly='每周', half_yearly='每半年')[cycle]}更新。"
        )
        roll = rnd.random()
        status = (
            DatasetStatus.SUSPENDED
            if roll < 0.02
            else DatasetStatus.WITHDRAWN
            if roll < 0.03
            else DatasetStatus.OPEN
        )
        specs.append((dept, title, description, items, cycle, domain, status))

    resources = Resource.objects.bulk_create(
        [
            Resource(
                code=f"301/{i + 1:06d}",
                classification=cls,
                sequence=i + 1,
                catalog_kind=CatalogKind.DEPARTMENT,
                status=ResourceStatus.PUBLISHED,
                version=1,
                name=title,
                abstract=description,
                provider=dept,
                format_category="database",
                open_type="conditional" if rnd.random() < 0.2 else "unconditional",
                update_cycle=cycle,
                created_by=reviewer,
            )
            for i, (dept, title, description, _, cycle, _, _) in enumerate(specs)
        ],
        batch_size=500,
    )
    datasets = OpenDataset.objects.bulk_create(
        [
            OpenDataset(
                resource=r,
                name=package_name(r),
                title=title,
                description=description,
                domain=domain,
                open_type=r.open_type,
                provider=dept,
                status=status,
                status_reason="收到异议，核实中" if status != DatasetStatus.OPEN else "",
                hash_salt="bench",
                search_text=" ".join(
                    [title, description, r.code, dept.name, *(it[0] for it in items)]
                ).lower(),
                opened_at=now - dt.timedelta(days=rnd.randrange(1, 900)),
                updated_at=now - dt.timedelta(minutes=rnd.randrange(1, 900 * 1440)),
            )
            for r, (dept, title, description, items, _, domain, status) in zip(resources, specs, strict=True)
        ],
        batch_size=500,
    )
    reviews = Review.objects.bulk_create(
        [
            Review(
                dataset=d,
                resource=r,
                resource_version=1,
                reviewer=reviewer,
                reviewed_on=d.opened_at.date(),
                conclusion="经保密审查，不涉及国家秘密、商业秘密和个人隐私，可以开放",
                rules={it[1]: "plain" for it in items},
            )
            for d, r, (_, _, _, items, _, _, _) in zip(datasets, resources, specs, strict=True)
        ],
        batch_size=500,
    )
    OpenVersion.objects.bulk_create(
        [
            OpenVersion(
                dataset=d,
                number=1,
                review=rv,
                status=VersionStatus.READY,
                source_seq=0,
                items=[{"code": it[1], "name": it[0], "rule": "plain"} for it in items],
                rows=(rows := rnd.randrange(50, 300_000)),
                size=rows * 120,
                sha256=hashlib.sha256(d.name.encode()).hexdigest(),
                file=f"opendata/{d.name}/v1.csv",
                xlsx_file=f"opendata/{d.name}/v1.xlsx" if rows <= 200_000 else "",
                finished_at=d.updated_at,
            )
            for d, rv, (_, _, _, items, _, _, _) in zip(datasets, reviews, specs, strict=True)
        ],
        batch_size=500,
    )
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE opendata_opendataset SET current_id = "
            "(SELECT v.id FROM opendata_openversion v WHERE v.dataset_id = opendata_opendataset.id)"
        )
        cur.execute(
            "UPDATE opendata_opendataset SET has_xlsx = EXISTS (SELECT 1 FROM opendata_openversion v "
            "WHERE v.id = opendata_opendataset.current_id AND v.xlsx_file <> '')"
        )
    visible = OpenDataset.objects.filter(status=DatasetStatus.OPEN)
    orgs = sorted({d.uscc.lower() for d, _, _ in depts})
    return {
        "region": region.pk,
        "reviewer": reviewer.pk,
        "classification": cls.pk,
        "open": visible.count(),
        "hidden": sorted(
            OpenDataset.objects.exclude(status=DatasetStatus.OPEN).values_list("name", flat=True)
        )[:5],
        "orgs": orgs,
        "domains": sorted(set(visible.values_list("domain", flat=True))),
    }


def _big(n_rows: int, rnd: random.Random, reviewer_id: int, classification_id: int) -> dict:
    """A market-supervision dataset of n_rows records (direct insert), opened and built by services.build."""
    import datetime as dt

    from django.db import connection, transaction
    from django.utils import timezone

    from govshare.catalog.models import CatalogKind, InfoItem, Resource, ResourceStatus
    from govshare.collect.models import Batch, BatchStatus, Record
    from govshare.opendata import services
    from govshare.opendata.models import DatasetStatus, OpenDataset, OpenVersion, Review
    from govshare.orgs.identifiers import uscc_check_char
    from govshare.orgs.models import Department

    market = Department.objects.get(short_name="市场监督管理局")
    resource = Resource.objects.create(
        code="301/999999",
        classification_id=classification_id,
        sequence=999_999,
        catalog_kind=CatalogKind.DEPARTMENT,
        status=ResourceStatus.PUBLISHED,
        version=1,
        name="市场主体登记信息",
        abstract="全市企业、个体工商户和农民专业合作社的登记信息，依法向社会开放。",
        provider=market,
        format_category="database",
        open_type="unconditional",
        update_cycle="daily",
        created_by_id=reviewer_id,
    )
    InfoItem.objects.bulk_create(
        [
            InfoItem(resource=resource, position=i, code=code, name=name, data_type="C", is_primary=i == 1)
            for i, (code, name, _) in enumerate(BIG_ITEMS, start=1)
        ]
    )
    batch = Batch.objects.create(
        resource=resource, department=market, source="cli", status=BatchStatus.COMMITTED, rows_total=n_rows
    )
    t0 = time.perf_counter()
    now = timezone.now()
    start = dt.date(1995, 1, 1)
    table = Record._meta.db_table
    sql = (
        f"INSERT INTO {table} (resource_id, key, data, digest, seq, deleted, batch_id, updated_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
    )
    chunk = []
    with transaction.atomic(), connection.cursor() as cur:
        for i in range(n_rows):
            body = f"91431000{i:09d}"
            code = body + uscc_check_char(body)
            county = COUNTIES[i % len(COUNTIES)]
            data = {
                "tyshxydm": code,
                "qymc": f"郴州市{county}{rnd.choice(FIRM_WORDS)}{rnd.choice(TRADES)}{rnd.choice(FORMS)}",
                "qylx": rnd.choice(KINDS),
                "fddbr": rnd.choice(SURNAMES) + rnd.choice(GIVEN) + rnd.choice(GIVEN),
                "zczb": str(rnd.choice([10, 50, 100, 200, 500, 1000, 3000])),
                "clrq": (start + dt.timedelta(days=i % 11_000)).isoformat(),
                "djjg": f"郴州市{county}市场监督管理局",
                "zs": f"湖南省郴州市{county}{rnd.choice(STREETS)}{rnd.randrange(1, 999)}号",
                "jyzt": rnd.choice(["存续", "存续", "存续", "在业", "注销", "吊销"]),
                "lxdh": f"1{rnd.choice('3578')}{rnd.randrange(10**9):09d}",
            }
            text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            chunk.append((resource.pk, code, text, "0" * 64, i + 1, False, batch.pk, now))
            if len(chunk) == 10_000:
                cur.executemany(sql, chunk)
                chunk = []
        if chunk:
            cur.executemany(sql, chunk)
    insert_s = time.perf_counter() - t0

    reviewer_rules = {code: rule for code, _, rule in BIG_ITEMS}
    dataset = OpenDataset.objects.create(
        resource=resource,
        name=services.package_name(resource),
        title=resource.name,
        description=resource.abstract,
        domain="enterprise",
        open_type="unconditional",
        provider=market,
        status=DatasetStatus.OPEN,
        rules=reviewer_rules,
        hash_salt="bench",
        search_text=f"{resource.name} {resource.abstract} {resource.code} {market.name}".lower(),
        opened_at=now,
        updated_at=now,
    )
    review = Review.objects.create(
        dataset=dataset,
        resource=resource,
        resource_version=1,
        source_seq=n_rows,
        reviewer_id=reviewer_id,
        reviewed_on=now.date(),
        conclusion="经保密审查，法定代表人姓名脱敏、联系电话不开放后可以开放",
        rules=reviewer_rules,
    )
    version = OpenVersion.objects.create(
        dataset=dataset,
        number=1,
        review=review,
        source_seq=n_rows,
        items=[{"code": c, "name": n, "rule": r} for c, n, r in BIG_ITEMS if r != "suppress"],
    )
    t1 = time.perf_counter()
    state = services.build(version.pk)  # the product's version writer: masking, CSV, digest
    build_s = time.perf_counter() - t1
    version.refresh_from_db()
    from django.core.files.storage import default_storage

    return {
        "name": dataset.name,
        "number": version.number,
        "state": state,
        "rows": version.rows,
        "size": version.size,
        "sha256": version.sha256,
        "items": len(version.items),
        "path": default_storage.path(version.file.name),
        "insert_s": round(insert_s, 1),
        "build_s": round(build_s, 1),
    }


def _citizen() -> str:
    """A registered member of the public, identity-checked by hand, terms accepted; its session key."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from govshare.opendata import identity
    from govshare.opendata.models import IdentityStatus, PublicProfile

    user = identity.register(
        username="zhangsan",
        password1="bench-open-pw-2026",
        password2="bench-open-pw-2026",
        full_name="张三丰",
    )
    PublicProfile.objects.filter(user=user).update(
        identity_status=IdentityStatus.VERIFIED, identity_method="manual"
    )
    identity.accept_terms(user, identity.TERMS_VERSION)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def worker(argv: list[str] | None = None) -> None:
    """`python -m bench.open --db sqlite --datasets N --rows M`: migrate, generate, build; report JSON."""
    from bench import django_setup

    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--datasets", type=int, required=True)
    ap.add_argument("--rows", type=int, required=True)
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    django_setup()
    from django.db import connection

    migrate_s = time.perf_counter() - t0
    rnd = random.Random(2026)
    log(f"  [{a.db}] {a.datasets} open datasets …")
    t1 = time.perf_counter()
    catalog = _catalog(a.datasets - 1, rnd)  # the big one below is the last of them
    catalog_s = time.perf_counter() - t1
    log(f"  [{a.db}] a {a.rows}-row version: insert and build …")
    big = _big(a.rows, rnd, catalog["reviewer"], catalog["classification"])
    session = _citizen()
    if connection.vendor == "sqlite":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    report(
        {
            "database": a.db,
            "migrate_s": round(migrate_s, 1),
            "catalog_s": round(catalog_s, 1),
            "catalog": catalog,
            "big": big,
            "session": session,
        }
    )


# ---------------------------------------------------------------- measuring (plain HTTP)


class Http:
    """One keep-alive connection, one request at a time: the latency a single caller sees."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, path: str, cookie: str = "") -> tuple[int, bytes, float]:
        headers = {"Cookie": cookie} if cookie else {}
        t0 = time.perf_counter()
        try:
            self.conn.request("GET", path, headers=headers)
            resp = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            self.conn.request("GET", path, headers=headers)
            resp = self.conn.getresponse()
        body = resp.read()
        return resp.status, body, (time.perf_counter() - t0) * 1000

    def stream(self, path: str, cookie: str = "") -> dict:
        """Read a download in 1 MB pieces: bytes, SHA-256, seconds, and JSON object separators counted."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        digest, size, seps, tail = hashlib.sha256(), 0, 0, b""
        t0 = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        resp = conn.getresponse()
        while piece := resp.read(1 << 20):
            digest.update(piece)
            size += len(piece)
            both = tail + piece  # a separator may span two pieces; one inside the tail was counted
            seps += len(SEPARATOR.findall(both)) - len(SEPARATOR.findall(tail))
            tail = both[-3:]
        seconds = time.perf_counter() - t0
        conn.close()
        return {"status": resp.status, "bytes": size, "sha256": digest.hexdigest(), "s": seconds, "seps": seps,
                "end": tail}  # fmt: skip


def shapes(setup: dict, n: int, rnd: random.Random) -> list[tuple[str, dict]]:
    """Typical package_search calls: what a portal page, a harvester and a developer send."""
    words = [q for q, cat in QUERIES if cat in ("typical", "two-word", "broad", "rare")]
    orgs, domains = setup["catalog"]["orgs"], setup["catalog"]["domains"]
    make = [
        ("q+facets", lambda: {"q": rnd.choice(words), "rows": 20, "facet.field": ALL_FACETS}),
        ("q+organization", lambda: {"q": rnd.choice(words), "fq": f"organization:{rnd.choice(orgs)}", "rows": 10}),
        ("groups browse", lambda: {"fq": f"groups:{rnd.choice(domains)}", "rows": 20,
                                   "sort": "metadata_modified desc", "facet.field": '["organization"]'}),
        ("q+format+type", lambda: {"q": rnd.choice(words), "fq": "res_format:XLSX AND open_type:unconditional",
                                   "rows": 10, "facet.field": '["groups","res_format"]'}),
        ("q page 3 by name", lambda: {"q": rnd.choice(words), "rows": 20, "start": 40, "sort": "name asc"}),
        ("facets only", lambda: {"rows": 0, "facet.field": ALL_FACETS, "facet.limit": -1}),
        ("harvest page", lambda: {"rows": 100, "start": rnd.randrange(0, 40) * 100, "sort": "metadata_modified desc"}),
    ]  # fmt: skip
    weights = [5, 2, 2, 1, 1, 1, 1]
    out = []
    for _ in range(n):
        label, fn = rnd.choices(make, weights)[0]
        out.append((label, fn()))
    return out


def measure_search(port: int, setup: dict, sizes: dict) -> dict:
    rnd = random.Random(7)
    calls = shapes(setup, sizes["shapes"], rnd)
    client = Http(port)
    checks = {"non_200": 0, "not_success": 0, "facet_sum_mismatch": 0, "hidden_found": 0}
    counts = {}
    for label, params in calls:  # warm-up, and the answers checked
        status, body, _ = client.get(API + "package_search?" + urlencode(params))
        doc = json.loads(body)
        if status != 200:
            checks["non_200"] += 1
        if not doc.get("success"):
            checks["not_success"] += 1
            continue
        result = doc["result"]
        counts[label] = counts.get(label, 0) + result["count"]
        if (
            "license_id" in result["facets"]
            and sum(result["facets"]["license_id"].values()) != result["count"]
        ):
            checks["facet_sum_mismatch"] += 1
    for name in setup["catalog"]["hidden"]:  # suspended / withdrawn: not published now
        status, body, _ = client.get(API + "package_show?" + urlencode({"id": name}))
        checks["hidden_found"] += status != 404
    ms, by_label, rounds = [], {}, []
    for r in range(sizes["rounds"]):
        order = list(calls)
        random.Random(100 + r).shuffle(order)
        this = []
        for label, params in order:
            _, _, t = client.get(API + "package_search?" + urlencode(params))
            this.append(t)
            by_label.setdefault(label, []).append(t)
        ms += this
        rounds.append(percentile(this, 95))
    show_ms = [client.get(API + "package_show?id=r301-" + f"{i:06d}")[2] for i in range(1, 41)]
    status, body, list_ms = client.get(API + "package_list")
    names = len(json.loads(body)["result"]) if status == 200 else 0
    status, body, dcat_ms = client.get("/open/catalog.jsonld")
    dcat = json.loads(body) if status == 200 else {}
    return {
        "latency": summarize(ms),
        "by_label": {k: summarize(v) for k, v in by_label.items()},
        "round_p95": rounds,
        "show": summarize(show_ms),
        "list_ms": list_ms,
        "list_names": names,
        "dcat_ms": dcat_ms,
        "dcat_bytes": len(body),
        "dcat_datasets": len(dcat.get("dcat:dataset", [])),
        "checks": checks,
        "totals": counts,
    }


def _tree_rss_kb(pids: list[int], field: str = "VmRSS") -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def measure_download(server: load.Server, path: str, cookie: str) -> dict:
    """One download while another thread samples the server's resident memory every 20 ms."""
    pids = server.pids()
    before = _tree_rss_kb(pids)
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kb(pids))
            time.sleep(0.02)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    try:
        got = Http(server.port).stream(path, cookie)
    finally:
        done.set()
        watcher.join()
    got |= {
        "rss_before_mb": before / 1024,
        "rss_peak_mb": peak[0] / 1024,
        "growth_mb": (peak[0] - before) / 1024,
    }
    got["end"] = got["end"][-2:].decode("latin-1")
    return got


def _server(db: Database, log_dir: Path) -> load.Server:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db.url,
        GOVSHARE_VAR_DIR=db.var_dir,
        DJANGO_SETTINGS_MODULE="govshare.settings",
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
        GOVSHARE_THREADS=str(THREADS),
        GOVSHARE_DEBUG="0",
        GOVSHARE_LOG_LEVEL="WARNING",
        GOVSHARE_TASKS="immediate",
    )
    port = load.free_port()
    gov = str(Path(sys.executable).with_name("govshare"))
    cmd = [
        gov,
        "serve",
        "--no-scheduler",
        "--no-worker",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    return load.Server(f"ours-{db.label}", cmd, env, port, "/healthz", log_dir / f"ours-{db.label}.log")


def _peer_server(directory: Path, log_dir: Path) -> load.Server:
    port = load.free_port()
    cmd = [
        sys.executable,
        "-m",
        "http.server",
        str(port),
        "--bind",
        "127.0.0.1",
        "--directory",
        str(directory),
    ]
    return load.Server("http.server", cmd, dict(os.environ), port, "/", log_dir / "http-server.log")


def measure(db: Database, setup: dict, sizes: dict) -> dict:
    log_dir = WORK / "logs"
    ours = _server(db, log_dir)
    big = setup["big"]
    cookie = f"sessionid={setup['session']}"
    base = f"/open/datasets/{big['name']}/download/{big['number']}"
    csv_path = Path(big["path"])
    peer = _peer_server(csv_path.parent, log_dir)
    out: dict = {"load_before": os.getloadavg()}
    try:
        ours.start()
        peer.start()
        out["search"] = measure_search(ours.port, setup, sizes)
        log(
            f"  [{db.label}] search p95 {out['search']['latency']['p95']:.1f} ms  load {os.getloadavg()[0]:.2f}"
        )
        anonymous = Http(ours.port).get(base + ".csv")[0]
        out["csv"] = measure_download(ours, base + ".csv", cookie)
        log(
            f"  [{db.label}] CSV {big['rows'] / out['csv']['s']:,.0f} rows/s, growth {out['csv']['growth_mb']:.1f} MB"
        )
        out["json"] = measure_download(ours, base + ".json", cookie)
        log(
            f"  [{db.label}] JSON {big['rows'] / out['json']['s']:,.0f} rows/s, growth {out['json']['growth_mb']:.1f} MB"
        )
        out["peer_csv"] = measure_download(peer, "/" + csv_path.name, "")
        out["anonymous_status"] = anonymous
        out["hwm_mb"] = _tree_rss_kb(ours.pids(), "VmHWM") / 1024
    finally:
        ours.stop()
        peer.stop()
    out["load_after"] = os.getloadavg()
    return out


def rows_for(db: str, m: dict, setup: dict, sizes: dict, quick: bool) -> list[dict]:
    def verdict(ok: bool) -> str:
        return "— (quick)" if quick else ("met" if ok else "NOT met")

    s, big = m["search"], setup["big"]
    lat = s["latency"]
    n = big["rows"]
    csv_rate = n / m["csv"]["s"]
    json_rate = n / m["json"]["s"]
    peer_rate = n / m["peer_csv"]["s"]
    csv_ok = (
        m["csv"]["status"] == 200 and m["csv"]["sha256"] == big["sha256"] and m["csv"]["bytes"] == big["size"]
    )
    json_records = m["json"]["seps"] - (big["items"] - 1) + 1  # object separators, less the field list's
    json_ok = m["json"]["status"] == 200 and json_records == n and m["json"]["end"] == "]}"
    search_ok = not any(s["checks"].values())
    dcat_ok = s["dcat_datasets"] == setup["catalog"]["open"] + 1
    no_peer = "CKAN: not runnable here (needs Solr)"
    out = [
        row(NAME, db, f"package_search p50 ({setup['catalog']['open'] + 1} open datasets)", lat["p50"], None,
            unit="ms", peer_note=no_peer),
        row(NAME, db, "package_search p95", lat["p95"], None, f"< {TARGET_P95_MS:g} ms",
            verdict(lat["p95"] < TARGET_P95_MS), unit="ms", peer_note=no_peer),
        row(NAME, db, "package_search p99", lat["p99"], None, unit="ms"),
        row(NAME, db, "package_search p95 per round, min–max",
            f"{min(s['round_p95']):.1f}–{max(s['round_p95']):.1f}", None, unit="ms"),
        row(NAME, db, "package_show p95 / package_list (all names) ms",
            f"{s['show']['p95']:.1f} / {s['list_ms']:.1f}", None),
        row(NAME, db, f"DCAT catalog.jsonld: ms / MB for {s['dcat_datasets']} datasets",
            f"{s['dcat_ms']:.0f} / {s['dcat_bytes'] / 1e6:.1f}", None),
        row(NAME, db, "API answers right (envelope, facet totals, suspended/withdrawn 404)", search_ok,
            verdict="met" if search_ok else "NOT met", check=True, detail=s["checks"]),
        row(NAME, db, "DCAT catalog lists every open dataset", dcat_ok, verdict="met" if dcat_ok else "NOT met",
            check=True, detail={"listed": s["dcat_datasets"], "open": setup["catalog"]["open"] + 1}),
        row(NAME, db, f"CSV download rows/s ({n} rows; peer: http.server, same file)", round(csv_rate),
            round(peer_rate), f">= {TARGET_ROWS_S:,}", verdict(csv_rate >= TARGET_ROWS_S), unit="rows/s",
            mb_s=round(big["size"] / m["csv"]["s"] / 1e6, 1)),
        row(NAME, db, "CSV download: server RSS growth (peer: http.server)", round(m["csv"]["growth_mb"], 1),
            round(m["peer_csv"]["growth_mb"], 1), f"< {TARGET_RSS_MB:g} MB",
            verdict(m["csv"]["growth_mb"] < TARGET_RSS_MB), unit="MB",
            rss_before_mb=round(m["csv"]["rss_before_mb"], 1), rss_peak_mb=round(m["csv"]["rss_peak_mb"], 1)),
        row(NAME, db, f"JSON download rows/s ({n} rows)", round(json_rate), None, f">= {TARGET_ROWS_S:,}",
            verdict(json_rate >= TARGET_ROWS_S), unit="rows/s", mb_s=round(m["json"]["bytes"] / m["json"]["s"] / 1e6, 1)),
        row(NAME, db, "JSON download: server RSS growth", round(m["json"]["growth_mb"], 1), None,
            f"< {TARGET_RSS_MB:g} MB", verdict(m["json"]["growth_mb"] < TARGET_RSS_MB), unit="MB",
            rss_before_mb=round(m["json"]["rss_before_mb"], 1), rss_peak_mb=round(m["json"]["rss_peak_mb"], 1)),
        row(NAME, db, "downloads right (CSV bytes = published SHA-256, JSON has every row, anonymous refused)",
            csv_ok and json_ok and m["anonymous_status"] in (302, 401),
            verdict="met" if csv_ok and json_ok and m["anonymous_status"] in (302, 401) else "NOT met", check=True,
            detail={"csv_sha256_ok": m["csv"]["sha256"] == big["sha256"], "json_records": json_records,
                    "anonymous_status": m["anonymous_status"]}),
        row(NAME, db, f"setup: migrate / {sizes['datasets']} datasets / insert {n} / build version (s)",
            f"{setup['migrate_s']} / {setup['catalog_s']} / {big['insert_s']} / {big['build_s']}", None,
            build_rows_s=round(n / big["build_s"]) if big["build_s"] else None),
        row(NAME, db, "host load average before / after",
            f"{m['load_before'][0]:.2f} / {m['load_after'][0]:.2f}", None),
    ]  # fmt: skip
    out[0]["raw"] = {"sizes": sizes, "search": s, "csv": m["csv"], "json": m["json"], "peer_csv": m["peer_csv"],
                     "server_hwm_mb": m["hwm_mb"], "setup": setup | {"session": "…"}}  # fmt: skip
    return out


def run(quick: bool) -> list[dict]:
    sizes = dict(QUICK if quick else FULL)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    if WORK.parent.name == ".out":
        (WORK.parent / ".gitignore").write_text("*\n")
    db = Database("sqlite", f"sqlite:///{WORK / 'govshare.sqlite3'}", str(WORK / "var"))
    log(f"  load average {os.getloadavg()}")
    setup = run_worker(NAME, db, [f"--datasets={sizes['datasets']}", f"--rows={sizes['rows']}"])
    log(
        f"  [sqlite] setup: migrate {setup['migrate_s']} s, catalog {setup['catalog_s']} s, "
        f"insert {setup['big']['insert_s']} s, build {setup['big']['build_s']} s"
    )
    m = measure(db, setup, sizes)
    rows = rows_for(db.label, m, setup, sizes, quick)
    if os.environ.get("GOVSHARE_BENCH_KEEP") != "1":
        shutil.rmtree(WORK, ignore_errors=True)
    rows.append(
        row(NAME, "postgresql", "skipped", None, verdict="skipped: this benchmark runs on SQLite only")
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import main as bench_main

    ap = argparse.ArgumentParser(prog="python -m bench.open")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    return bench_main([NAME, *(["--quick"] if a.quick else [])])


if __name__ == "__main__":
    if "--db" in sys.argv:
        worker()
    else:
        sys.exit(main())
