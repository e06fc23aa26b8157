"""Set-based writes into the record store: stage a whole batch, then merge it in one transaction.

Staging goes to a temporary table on the same connection, outside the write lock: on SQLite the
temp database is private to the connection, so other requests keep writing while a million rows are
parsed and checked. The merge then takes the lock once and runs a handful of INSERT … SELECT / UPDATE
… FROM statements: unchanged rows are recognised by digest and skipped, earlier values move to
history, deletes and rows missing from a full replacement become tombstones. A crash anywhere leaves
the resource as it was; the staged rows die with the connection.

A change sequence is `base + row number in the batch`, so numbers are unique and increasing per
resource but may skip (a row that did not change consumes its number without using it).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable

from django.db import connection

from govshare.security import fieldcrypt

# Staged row states: as sent (delete / upsert), then as classified against the stored record.
OP_DELETE, OP_UPSERT, OP_UNCHANGED, OP_CHANGE, OP_REVIVE, OP_GONE = 0, 1, 2, 3, 4, 5
_SAFE_CODE = re.compile(r"^[A-Za-z0-9_]{1,60}$")


def _pg() -> bool:
    return connection.vendor == "postgresql"


def json_path(code: str) -> str:
    """The SQL expression reading one item from a record's JSON, identical for index and lookup."""
    if not _SAFE_CODE.match(code):
        raise ValueError(f"item code not usable in SQL: {code!r}")
    return f"(data->>'{code}')" if _pg() else f"json_extract(data, '$.\"{code}\"')"


def value_sql(code: str, alias: str = "") -> tuple[str, list]:
    """An item's value as text, with the code as bound parameters: (expression, params).

    SQLite's JSON path needs the key as JSON text; records written through the ORM carry escaped
    keys and the loader's carry raw UTF-8, so a non-ASCII code is looked up both ways.
    """
    col = f"{alias}.data" if alias else "data"
    if _pg():
        return f"({col} ->> %s::text)", [code]
    escaped, raw = "$." + json.dumps(code), "$." + json.dumps(code, ensure_ascii=False)
    if escaped == raw:
        return f"json_extract({col}, %s)", [escaped]
    return f"COALESCE(json_extract({col}, %s), json_extract({col}, %s))", [escaped, raw]


SEALED = "!sealed"  # marks a sensitive lookup item in Series.indexed_items: indexed by its blind prefix


def lookup_sql(code: str, sealed: bool = False) -> str:
    """The indexed expression of a lookup item; a sealed one is looked up by its token's blind prefix."""
    expr = json_path(code)
    return f"substr({expr}, 1, {len(fieldcrypt.PREFIX) + fieldcrypt.BLIND_LEN})" if sealed else expr


def index_name(resource_id: int, code: str) -> str:
    return f"rec_r{resource_id}_{hashlib.sha1(code.encode()).hexdigest()[:10]}"


class Stage:
    """The staged rows of one batch: (row number, op, key, canonical JSON, digest)."""

    def __init__(self):
        connection.ensure_connection()
        self.raw = connection.connection
        with connection.cursor() as cur:
            if _pg():
                cur.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS collect_stage "
                    "(rn bigint PRIMARY KEY, op smallint NOT NULL, key text, data text, digest text)"
                )
                cur.execute("TRUNCATE collect_stage")
            else:
                cur.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS collect_stage "
                    "(rn INTEGER PRIMARY KEY, op INTEGER NOT NULL, key TEXT, data TEXT, digest TEXT)"
                )
                cur.execute("DELETE FROM collect_stage")
        self.rows = 0

    def add(self, rows: list[tuple]) -> None:
        if not rows:
            return
        if _pg():
            with self.raw.cursor() as cur:
                with cur.copy("COPY collect_stage (rn, op, key, data, digest) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        else:
            self.raw.executemany("INSERT INTO collect_stage VALUES (?, ?, ?, ?, ?)", rows)
        self.rows += len(rows)

    def duplicates(self, limit: int = 1000) -> list[tuple[str, list[int]]]:
        """Keys sent more than once in this batch, with the rows that carry them."""
        agg = "string_agg(rn::text, ',' ORDER BY rn)" if _pg() else "group_concat(rn, ',')"
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT key, {agg} FROM collect_stage WHERE key IS NOT NULL "
                "GROUP BY key HAVING count(*) > 1 ORDER BY min(rn) LIMIT %s",
                [limit],
            )
            return [(k, sorted(int(x) for x in rns.split(","))) for k, rns in cur.fetchall()]

    def drop_rows(self, row_numbers: Iterable[int]) -> None:
        ids = [(rn,) for rn in row_numbers]
        if ids:
            with connection.cursor() as cur:
                cur.executemany("DELETE FROM collect_stage WHERE rn = %s", ids)

    def clear(self) -> None:
        with connection.cursor() as cur:
            cur.execute("DELETE FROM collect_stage")


def ensure_indexes(resource_id: int, codes: Iterable[str]) -> list[str]:
    """Partial expression indexes for the resource's lookup items; DDL, not a migration (DESIGN §5)."""
    made = []
    with connection.cursor() as cur:
        if _pg():
            # PostgreSQL refuses CREATE INDEX on a table with deferred foreign-key checks still pending in
            # this transaction (rows written earlier in it): run those checks now, then defer again.
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for entry in codes:
            code, sealed = entry.removesuffix(SEALED), entry.endswith(SEALED)
            if not _SAFE_CODE.match(code):
                continue
            cur.execute(
                f"CREATE INDEX IF NOT EXISTS {index_name(resource_id, entry)} "
                f"ON collect_record ({lookup_sql(code, sealed)}) WHERE resource_id = {int(resource_id)}"
            )
            made.append(entry)
        if _pg():
            cur.execute("SET CONSTRAINTS ALL DEFERRED")
    return made


def merge(resource_id: int, batch_id: int, base_seq: int, now, replace: bool) -> dict:
    """Apply the staged rows to the resource's records. Call inside a transaction holding the lock."""
    pg = _pg()
    data_in = "s.data::jsonb" if pg else "s.data"
    p = {"rid": resource_id, "bid": batch_id, "base": base_seq, "now": now}
    with connection.cursor() as cur:
        # One probe per staged row classifies it against the record it would replace.
        cur.execute(
            "UPDATE collect_stage SET op = CASE "
            f"WHEN collect_stage.op = {OP_DELETE} THEN CASE WHEN r.deleted THEN {OP_DELETE} ELSE {OP_GONE} END "
            f"WHEN r.deleted THEN {OP_REVIVE} WHEN r.digest = collect_stage.digest THEN {OP_UNCHANGED} "
            f"ELSE {OP_CHANGE} END FROM collect_record r "
            "WHERE r.resource_id = %(rid)s AND r.key = collect_stage.key",
            p,
        )
        cur.execute("SELECT op, count(*), max(rn) FROM collect_stage GROUP BY op")
        by_op = {op: (n, top) for op, n, top in cur.fetchall()}
        n = {
            op: by_op.get(op, (0, 0))[0]
            for op in (OP_DELETE, OP_UPSERT, OP_UNCHANGED, OP_CHANGE, OP_REVIVE, OP_GONE)
        }
        top = max((t for _, t in by_op.values()), default=0) or 0
        if n[OP_CHANGE] or n[OP_REVIVE] or n[OP_GONE]:
            cur.execute(
                "INSERT INTO collect_recordhistory (resource_id, key, data, digest, seq, deleted, batch_id, "
                "updated_at, superseded_seq) SELECT r.resource_id, r.key, r.data, r.digest, r.seq, r.deleted, "
                "r.batch_id, r.updated_at, %(base)s + s.rn FROM collect_stage s JOIN collect_record r "
                f"ON r.resource_id = %(rid)s AND r.key = s.key WHERE s.op IN ({OP_CHANGE}, {OP_REVIVE}, {OP_GONE})",
                p,
            )
        if n[OP_UPSERT] or n[OP_CHANGE] or n[OP_REVIVE]:
            cur.execute(
                "INSERT INTO collect_record (resource_id, key, data, digest, seq, deleted, batch_id, updated_at) "
                f"SELECT %(rid)s, s.key, {data_in}, s.digest, %(base)s + s.rn, false, %(bid)s, %(now)s "
                f"FROM collect_stage s WHERE s.op IN ({OP_UPSERT}, {OP_CHANGE}, {OP_REVIVE}) "
                "ON CONFLICT (resource_id, key) DO UPDATE SET data = excluded.data, digest = excluded.digest, "
                "seq = excluded.seq, deleted = false, batch_id = excluded.batch_id, "
                "updated_at = excluded.updated_at",
                p,
            )
        if n[OP_GONE]:
            cur.execute(
                "UPDATE collect_record SET deleted = true, data = NULL, digest = '', seq = %(base)s + s.rn, "
                "batch_id = %(bid)s, updated_at = %(now)s FROM collect_stage s "
                "WHERE collect_record.resource_id = %(rid)s AND collect_record.key = s.key "
                f"AND s.op = {OP_GONE}",
                p,
            )
        counts = {
            "inserted": n[OP_UPSERT] + n[OP_REVIVE],
            "updated": n[OP_CHANGE],
            "unchanged": n[OP_UNCHANGED],
            "deleted": n[OP_GONE],
            "missing": n[OP_DELETE],
        }
        changed = counts["inserted"] + counts["updated"] + counts["deleted"]
        last = base_seq + top if changed else base_seq
        if replace:
            gone = _tombstone_missing(cur, p | {"base": base_seq + top}, pg)
            counts["deleted"] += gone
            if gone:
                last = base_seq + top + gone
    counts["last_seq"] = last
    counts["live_delta"] = counts["inserted"] - counts["deleted"]
    return counts


def _tombstone_missing(cur, p: dict, pg: bool) -> int:
    """Full replacement: every live record whose key the batch did not send becomes a tombstone."""
    if pg:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS collect_gone (rn bigserial PRIMARY KEY, key text)")
        cur.execute("TRUNCATE collect_gone RESTART IDENTITY")
    else:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS collect_gone (rn INTEGER PRIMARY KEY, key TEXT)")
        cur.execute("DELETE FROM collect_gone")
    cur.execute("CREATE INDEX IF NOT EXISTS collect_stage_key ON collect_stage (key)")
    cur.execute(
        "INSERT INTO collect_gone (key) SELECT r.key FROM collect_record r WHERE r.resource_id = %(rid)s "
        "AND r.deleted = false AND NOT EXISTS (SELECT 1 FROM collect_stage s WHERE s.key = r.key) "
        "ORDER BY r.key",
        p,
    )
    gone = cur.rowcount
    cur.execute("DROP INDEX IF EXISTS collect_stage_key")
    if gone:
        cur.execute(
            "INSERT INTO collect_recordhistory (resource_id, key, data, digest, seq, deleted, batch_id, "
            "updated_at, superseded_seq) SELECT r.resource_id, r.key, r.data, r.digest, r.seq, r.deleted, "
            "r.batch_id, r.updated_at, %(base)s + g.rn FROM collect_gone g JOIN collect_record r "
            "ON r.resource_id = %(rid)s AND r.key = g.key",
            p,
        )
        cur.execute(
            "UPDATE collect_record SET deleted = true, data = NULL, digest = '', seq = %(base)s + g.rn, "
            "batch_id = %(bid)s, updated_at = %(now)s FROM collect_gone g "
            "WHERE collect_record.resource_id = %(rid)s AND collect_record.key = g.key",
            p,
        )
    return gone
