"""Writing audit events (request path: one INSERT) and sealing them into the signed Merkle log.

`record` never hashes, locks or reads the log: concurrent requests do not wait for each other here.
`seal_pending` (run by the scheduler tick or `govshare audit seal`) appends unsealed events to the
RFC 9162 tree in seq order, stores the leaf and completed-subtree hashes that proofs need, and signs a
tree head with the active key (keys.py). See docs/audit.md.
"""

from __future__ import annotations

import bisect
import contextvars
import multiprocessing
import multiprocessing.util
import time
import uuid
from array import array
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from govshare import rawsql
from govshare.audit import keys, leaves, merkle
from govshare.audit.leaves import FIELDS, event_bytes, event_dict
from govshare.audit.models import ArchiveSegment, AuditEvent, AuditLeaf, AuditNode, SealState, TreeHead
from govshare.errors import DomainError, NotFound

RESULT_VALUES = ("ok", "denied", "error")
GAP_TTL_MS = 3_600_000  # a skipped seq not committed within an hour is treated as a rolled-back insert
MAX_GAP = 1000  # skipped seqs remembered per jump (PostgreSQL may skip sequence values after a crash)

_request: contextvars.ContextVar[tuple[str, str, str] | None] = contextvars.ContextVar(
    "govshare_audit_request", default=None
)


def bind_request(request_id: str, source_ip: str, client_system: str = ""):
    """Middleware: events recorded while handling this request carry its id and source address."""
    return _request.set((request_id, source_ip, client_system))


def unbind_request(token) -> None:
    _request.reset(token)


def _clean_detail(detail: dict | None) -> dict:
    if not detail:
        return {}
    if not isinstance(detail, dict):
        raise TypeError("audit detail must be a dict")
    for k, v in detail.items():
        if not isinstance(k, str) or not (v is None or isinstance(v, str | int | bool)):
            raise TypeError(f"audit detail {k!r}: only str/int/bool/None values are allowed (no floats)")
    return detail


def record(
    action: str,
    *,
    actor=None,
    object=None,
    object_type: str = "",
    object_id: Any = "",
    result: str = "ok",
    purpose: str = "",
    case_id: str = "",
    client_system: str = "",
    detail: dict | None = None,
    request=None,
    department=None,
) -> AuditEvent:
    """Append one event. Call it inside the transaction of the state change it records.

    `department` names the acting department when there is no person, i.e. a client system's call.
    """
    if result not in RESULT_VALUES:
        raise ValueError(f"audit result must be one of {RESULT_VALUES}")
    if object is not None:
        object_type = object_type or object._meta.label_lower
        object_id = object.pk
    request_id = source_ip = ""
    bound = _request.get()
    if request is not None:
        request_id = getattr(request, "audit_request_id", "") or request.headers.get("X-Request-ID", "")
        request_id = request_id[:100] or uuid.uuid4().hex
        source_ip = request.META.get("REMOTE_ADDR", "") or ""
    elif bound:
        request_id, source_ip, bound_client = bound
        client_system = client_system or bound_client
    username, actor_pk, dept_id, dept_name = "", None, None, ""
    if actor is not None and getattr(actor, "is_authenticated", False):
        username, actor_pk = actor.get_username(), actor.pk
        dept_id = getattr(actor, "department_id", None)
        if dept_id is not None:
            dept_name = actor.department.name
    elif department is not None:
        dept_id, dept_name = department.pk, department.name
    return _insert(
        rawsql.new(  # AuditEvent(...), without Model.__init__'s signal sends when nothing listens
            AuditEvent,
            {
                "occurred_at": timezone.now(),
                "actor": username,
                "actor_id": actor_pk,
                "department_id": dept_id,
                "department_name": dept_name,
                "client_system": client_system,
                "action": action,
                "object_type": object_type,
                "object_id": "" if object_id is None else str(object_id),
                "purpose": purpose,
                "case_id": case_id,
                "result": result,
                "request_id": request_id,
                "source_ip": source_ip,
                "detail": _clean_detail(detail),
            },
        )
    )


_FIELDS = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]
_INSERT = (
    f"INSERT INTO {AuditEvent._meta.db_table} ({', '.join(f.column for f in _FIELDS)}) "
    f"VALUES ({', '.join(['%s'] * len(_FIELDS))})"
)
# Every column but the first (occurred_at) and the last (detail) is text or an integer the database takes
# as given; those two go through the backend's own adapters, as the ORM would send them.
_PLAIN = [f.attname for f in _FIELDS]
assert _PLAIN[0] == "occurred_at" and _PLAIN[-1] == "detail"
_LIMITS = [(i, f.max_length) for i, f in enumerate(_FIELDS) if getattr(f, "max_length", None)]


def _insert(event: AuditEvent) -> AuditEvent:
    """One fixed INSERT: the ORM's per-call query building cost more than the write itself, and every
    delivery call writes one event. Text longer than its column is cut, never refused: an event is
    always written (PostgreSQL would reject it, SQLite would keep it whole). Run by `rawsql.insert`,
    which skips the cursor wrapper's per-call rewriting of the statement."""
    wrapper = rawsql.current()
    ops = wrapper.ops
    values = [getattr(event, name) for name in _PLAIN]
    for i, limit in _LIMITS:
        if values[i] is not None and len(values[i]) > limit:
            values[i] = values[i][:limit]
    values[0] = ops.adapt_datetimefield_value(event.occurred_at)
    values[-1] = ops.adapt_json_value(event.detail, None)
    event.seq = rawsql.insert(_INSERT, values, "seq", wrapper)
    event._state.adding = False
    event._state.db = wrapper.alias
    return event


# ---------------------------------------------------------------- sealing


def _state(lock: bool) -> SealState:
    try:
        SealState.objects.get_or_create(id=1, defaults={"hash_alg": _hash_alg()})
    except IntegrityError:
        pass
    qs = SealState.objects.select_for_update() if lock else SealState.objects
    return qs.get(id=1)


def _hash_alg() -> str:
    from django.conf import settings

    return getattr(settings, "GOVSHARE_AUDIT_HASH_ALG", "sha256")


def seal_pending(batch: int = 10_000) -> dict:
    """Seal every committed, unsealed event; one signed head per batch. Safe to run concurrently."""
    sealed = heads = 0
    while True:
        n = _seal_batch(batch)
        if not n:
            break
        sealed += n
        heads += 1
        if n < batch:
            break
    size = SealState.objects.filter(id=1).values_list("size", flat=True).first() or 0
    return {"sealed": sealed, "heads": heads, "tree_size": size}


@transaction.atomic
def _seal_batch(batch: int) -> int:
    state = _state(lock=True)  # row lock on PostgreSQL; SQLite IMMEDIATE transactions are serial anyway
    now_ms = time.time_ns() // 1_000_000
    gaps = {int(s): int(t) for s, t in state.gaps if now_ms - int(t) < GAP_TTL_MS}
    q = connection.ops.quote_name
    where = "seq > %s"
    params: list = [state.last_seq]
    if gaps:
        where += f" OR seq IN ({', '.join(['%s'] * len(gaps))})"
        params += list(gaps)
    cols = ", ".join(q(f) for f in FIELDS)
    with connection.cursor() as cur:  # raw read: ORM row conversion would dominate the sealing cost
        cur.execute(
            f"SELECT {cols} FROM audit_auditevent WHERE {where} ORDER BY seq LIMIT %s", [*params, batch]
        )
        rows = cur.fetchall()
    if not rows:
        if len(gaps) != len(state.gaps):
            state.gaps = [[s, t] for s, t in sorted(gaps.items())]
            state.save(update_fields=["gaps"])
        return 0
    expected, last_seq = state.last_seq + 1, state.last_seq
    for r in rows:
        seq = r[0]
        if seq in gaps:
            del gaps[seq]
            continue
        for missing in range(max(expected, seq - MAX_GAP), seq):
            gaps[missing] = now_ms
        expected, last_seq = seq + 1, seq
    tree = merkle.CompactTree(state.hash_alg, state.size, (bytes.fromhex(h) for h in state.frontier))
    start = tree.size
    hashes = merkle.leaf_hashes((event_bytes(r) for r in rows), state.hash_alg)
    nodes: list[tuple[int, bytes]] = []
    tree.extend(hashes, on_node=lambda level, index, h: nodes.append(((level << 48) | index, h)))
    leaf_rows = [(start + i, r[0], h) for i, (r, h) in enumerate(zip(rows, hashes, strict=True))]
    with connection.cursor() as cur:
        _append(cur, f"audit_auditleaf ({q('index')}, seq, hash)", leaf_rows)
        if nodes:
            _append(cur, "audit_auditnode (key, hash)", nodes)
    signer = keys.active_signer()
    head = merkle.sign_tree_head(signer, tree.size, tree.root(), state.hash_alg)
    TreeHead.objects.create(
        tree_size=head.tree_size,
        root_hash=head.root_hash.hex(),
        timestamp=head.timestamp,
        hash_alg=head.hash_alg,
        key_id=head.key_id,
        signature=head.signature.hex(),
        last_seq=last_seq,
    )
    state.size, state.frontier, state.last_seq = tree.size, [h.hex() for h in tree.frontier], last_seq
    state.gaps = [[s, t] for s, t in sorted(gaps.items())]
    state.save()
    return len(rows)


def _append(cur, table: str, rows: list[tuple]) -> None:
    """Many rows into `table (columns)`. On PostgreSQL by COPY: executemany sends one statement per row
    and cost half the sealing time there (bench/audit)."""
    if connection.vendor == "postgresql":
        with cur.copy(f"COPY {table} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join(["%s"] * len(rows[0]))
    cur.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)


# ---------------------------------------------------------------- proofs and receipts


def _node_getter(needed: set[tuple[int, int]]):
    leaves = [i for lv, i in needed if lv == 0]
    inner = [AuditNode.make_key(lv, i) for lv, i in needed if lv > 0]
    got: dict[tuple[int, int], bytes] = {}
    if leaves:
        for index, h in AuditLeaf.objects.filter(index__in=leaves).values_list("index", "hash"):
            got[(0, index)] = bytes(h)
    if inner:
        for key, h in AuditNode.objects.filter(key__in=inner).values_list("key", "hash"):
            got[(key >> 48, key & ((1 << 48) - 1))] = bytes(h)
    missing = needed - got.keys()
    if missing:
        raise DomainError(
            "audit_store_damaged", "审计日志存储不完整，无法生成证明", {"missing": len(missing)}, 500
        )
    return lambda level, index: got[(level, index)]


def _needed(ranges) -> set[tuple[int, int]]:
    return {c for a, b in ranges for c in merkle.complete_subtrees(a, b)}


def latest_head() -> TreeHead | None:
    return TreeHead.objects.order_by("-tree_size").first()


def receipt(seq: int) -> dict:
    """The event, its leaf position, the inclusion proof and the latest signed head (docs/audit-verifier.md §6)."""
    row = AuditEvent.objects.filter(seq=seq).values_list(*FIELDS).first()
    if row is not None:
        event = event_dict(row)
    else:
        from govshare.audit import archive  # archive imports this module

        event = archive.archived_event(seq)  # read back from its segment file (R-SEC-06)
        if event is None:
            raise NotFound("not_found", f"第 {seq} 号审计事件不存在")
    leaf = AuditLeaf.objects.filter(seq=seq).values_list("index", flat=True).first()
    head = latest_head()
    if leaf is None or head is None or head.tree_size <= leaf:
        raise DomainError("not_sealed", "该事件尚未封存上链，请稍后再取回执", {"seq": seq}, status=409)
    ranges = merkle.inclusion_ranges(leaf, head.tree_size)
    proof = merkle.inclusion_proof(_node_getter(_needed(ranges)), leaf, head.tree_size, head.hash_alg)
    return {
        "event": event,
        "leaf_index": leaf,
        "inclusion_proof": [h.hex() for h in proof],
        "tree_head": head.to_dict(),
    }


def consistency(old_size: int, new_size: int) -> dict:
    """Consistency document between two signed heads (docs/audit-verifier.md §7)."""
    heads = {h.tree_size: h for h in TreeHead.objects.filter(tree_size__in=[old_size, new_size])}
    for size in (old_size, new_size):
        if size not in heads:
            raise NotFound("head_not_found", f"没有规模为 {size} 的已签名树头")
    if old_size > new_size:
        raise DomainError("bad_order", "旧树头的规模不能大于新树头")
    old, new = heads[old_size], heads[new_size]
    ranges = merkle.consistency_ranges(old_size, new_size)
    proof = merkle.consistency_proof(_node_getter(_needed(ranges)), old_size, new_size, new.hash_alg)
    return {
        "old_head": old.to_dict(),
        "new_head": new.to_dict(),
        "consistency_proof": [h.hex() for h in proof],
    }


# ---------------------------------------------------------------- verification

VERIFY_CHUNK = 32_768  # leaves per query, and the unit of work of a verify worker process


class VerifyReport:
    def __init__(self):
        self.errors: list[str] = []
        self.first_bad_seq: int | None = None
        self.leaves = self.heads = self.events = 0
        self.archived = 0  # leaves whose event lives in an archive segment
        self.not_rechecked = 0  # of those, not recomputed from their file (--skip-archived)

    def fail(self, message: str, seq: int | None = None) -> None:
        if seq is not None and self.first_bad_seq is None and not self.errors:
            self.first_bad_seq = seq
        self.errors.append(message)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(slots=True)
class _Chunk:
    """One range of leaves as a worker checked it; positions are row numbers within the range."""

    first: int  # leaf index of the first row (-1 when empty)
    indices: array | None  # every row's leaf index, only when they are not first, first + 1, …
    seqs: array
    hashes: list[bytes]  # what each row contributes to the rebuilt tree
    missing: list[int]  # the event row is gone
    altered: list[int]  # the event no longer gives its stored leaf hash


def _when_sql(vendor: str) -> str:
    """occurred_at as UTC text 'YYYY-MM-DD HH:MM:SS.ffffff', which leaves.leaf_input turns into its
    canonical form by slicing; a driver's datetime parsing plus strftime cost more than the hashing."""
    if vendor == "sqlite":
        return "CAST(e.occurred_at AS TEXT)"  # the stored text; the declared type would make it a datetime
    if vendor == "postgresql":
        return "to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
    return "e.occurred_at"


def _scan_chunk(conn, lo: int | None, hi: int | None, hash_alg: str) -> _Chunk:
    """Leaves lo <= index < hi (None: unbounded) joined to their events; each leaf recomputed and compared.

    A row whose fast recomputation differs from the stored hash is read again the way the sealer read it
    and hashed by the reference path (leaves.event_bytes) before it is called altered.
    """
    q = conn.ops.quote_name
    idx = f"l.{q('index')}"
    cols = ", ".join(_when_sql(conn.vendor) if f == "occurred_at" else f"e.{q(f)}" for f in FIELDS)
    where, params = [], []
    if lo is not None:
        where.append(f"{idx} >= %s")
        params.append(lo)
    if hi is not None:
        where.append(f"{idx} < %s")
        params.append(hi)
    sql = (
        f"SELECT {idx}, l.seq, l.hash, e.seq IS NULL, {cols} FROM audit_auditleaf l "
        f"LEFT JOIN audit_auditevent e ON e.seq = l.seq "
        f"{'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY {idx}"
    )
    with conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    new = merkle.get_hasher(hash_alg).new
    leaf_input = leaves.leaf_input
    stored = [bytes(r[2]) for r in rows]
    missing = [pos for pos, r in enumerate(rows) if r[3]]
    try:
        if missing:
            raise ValueError
        computed = [new(leaf_input(r[4:])).digest() for r in rows]  # the usual case, without per-row checks
    except Exception:
        computed = []
        for pos, r in enumerate(rows):
            if r[3]:
                computed.append(stored[pos])
                continue
            try:
                computed.append(new(leaf_input(r[4:])).digest())
            except Exception:  # a value no sealer could have written: the reference path decides below
                computed.append(b"")
    altered = []
    if computed != stored:
        suspects = [p for p, (c, s) in enumerate(zip(computed, stored, strict=True)) if c != s]
        again = _reference_hashes(conn, [rows[p][1] for p in suspects], hash_alg)
        for p in suspects:
            h = again.get(rows[p][1])
            if h != stored[p]:
                altered.append(p)
            computed[p] = h or computed[p] or new(b"").digest()
    indices = [r[0] for r in rows]
    first = indices[0] if rows else -1
    contiguous = not rows or indices[-1] - first == len(rows) - 1
    return _Chunk(
        first,
        None if contiguous else array("q", indices),
        array("q", [r[1] for r in rows]),
        computed,
        missing,
        altered,
    )


def _reference_hashes(conn, seqs: list[int], hash_alg: str) -> dict[int, bytes | None]:
    """Leaf hashes exactly as the sealer computes them (driver-converted row, leaves.event_bytes)."""
    new = merkle.get_hasher(hash_alg).new
    cols = ", ".join(conn.ops.quote_name(f) for f in FIELDS)
    out: dict[int, bytes | None] = {}
    with conn.cursor() as cur:
        for i in range(0, len(seqs), 500):
            part = seqs[i : i + 500]
            cur.execute(
                f"SELECT {cols} FROM audit_auditevent WHERE seq IN ({', '.join(['%s'] * len(part))})", part
            )
            for row in cur.fetchall():
                try:
                    out[row[0]] = new(b"\x00" + event_bytes(row)).digest()
                except Exception:  # unreadable: it cannot be what was sealed
                    out[row[0]] = None
    return out


# Verify worker processes (forked): each opens its own connection. The parent's connection object came
# along with the fork; it is kept referenced and never used, as closing it would end the parent's session.
_worker: dict[str, Any] = {}


def _worker_start(alias: str) -> None:
    from django.db import connections

    _worker["inherited"] = connections[alias]
    conn = _worker["conn"] = connections.create_connection(alias)
    multiprocessing.util.Finalize(conn, conn.close, exitpriority=10)


def _worker_chunk(args) -> _Chunk:
    return _scan_chunk(_worker["conn"], *args)


def _parallel_ok() -> bool:
    """Workers see only committed rows through their own connections, and cannot open a memory database."""
    if "fork" not in multiprocessing.get_all_start_methods() or connection.in_atomic_block:
        return False
    return not (connection.vendor == "sqlite" and connection.is_in_memory_db())


def _chunks(ranges: list, hash_alg: str, workers: int):
    if workers > 1 and len(ranges) > 1 and _parallel_ok():
        pool = multiprocessing.get_context("fork").Pool(
            min(workers, len(ranges)), initializer=_worker_start, initargs=(connection.alias,)
        )
        try:
            yield from pool.imap(_worker_chunk, [(lo, hi, hash_alg) for lo, hi in ranges])
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
    else:
        for lo, hi in ranges:
            yield _scan_chunk(connection, lo, hi, hash_alg)


def verify(
    trusted: dict | None = None, chunk: int = VERIFY_CHUNK, workers: int = 1, skip_archived: bool = False
) -> VerifyReport:
    """Recompute every leaf from the events in log order and check every signed head (docs/audit.md).

    Archived events are recomputed from their segment files, after each file's SHA-256 is checked;
    `skip_archived` leaves the files unread and counts those events in `not_rechecked`. `workers` > 1
    recomputes ranges of leaves in that many forked processes (only outside a transaction: they read
    committed rows); this process rebuilds the tree and checks the heads in log order, so the report is
    the same either way.
    """
    for _ in range(2):  # an archive run that commits meanwhile would look like deleted events: once more
        segments = list(ArchiveSegment.objects.order_by("first_seq"))
        rep = _verify(trusted, chunk, workers, skip_archived, segments)
        if ArchiveSegment.objects.count() == len(segments):
            break
    return rep


def _verify(trusted, chunk: int, workers: int, skip_archived: bool, segments: list) -> VerifyReport:
    from govshare.audit import archive  # archive imports this module

    rep = VerifyReport()
    trusted = keys.trusted_keys() if trusted is None else trusted
    state = SealState.objects.filter(id=1).first()
    hash_alg = state.hash_alg if state else _hash_alg()
    heads = list(TreeHead.objects.order_by("tree_size"))
    seg_first = [g.first_seq for g in segments]
    seg_last = [g.last_seq for g in segments]
    if not skip_archived:
        for g in segments:
            for msg, seq in archive.check_segment(g, hash_alg):
                rep.fail(msg, seq)
    idx = connection.ops.quote_name("index")
    with connection.cursor() as cur:
        cur.execute(f"SELECT MIN({idx}), MAX({idx}) FROM audit_auditleaf")
        first_index, last_index = cur.fetchone()
    # ranges of leaf indices, open at both ends so that no leaf row escapes, whatever its index
    cuts = [] if first_index is None else list(range(first_index + chunk, last_index + 1, chunk))
    ranges = [] if first_index is None else list(zip([None, *cuts], [*cuts, None], strict=True))
    tree = merkle.CompactTree(hash_alg)
    sizes = sorted({0} | {h.tree_size for h in heads})
    start_seq: dict[int, int] = {}  # first seq after each head, to name where a bad root begins
    hi, prev_size, count = 0, 0, 0
    for ch in _chunks(ranges, hash_alg, workers):
        n = len(ch.seqs)
        if not n:
            continue
        problems: dict[int, list[tuple[str, int]]] = {}
        if ch.indices is not None or ch.first != count:
            indices = ch.indices if ch.indices is not None else range(ch.first, ch.first + n)
            for pos, index in enumerate(indices):
                if index != count + pos:
                    seq = ch.seqs[pos]
                    msg = f"第 {count + pos} 号叶子缺失（日志存储被删改），其后为第 {seq} 号事件"
                    problems.setdefault(pos, []).append((msg, seq))
        for pos in ch.missing:
            seq = ch.seqs[pos]
            i = bisect.bisect_right(seg_first, seq) - 1
            if i >= 0 and seq <= seg_last[i]:  # archived: its file was checked above
                rep.archived += 1
                continue
            problems.setdefault(pos, []).append((f"第 {seq} 号事件缺失（已被删除）", seq))
        for pos in ch.altered:
            seq = ch.seqs[pos]
            problems.setdefault(pos, []).append((f"第 {seq} 号事件被篡改或顺序错误（内容与封存时不符）", seq))
        for size in sizes[bisect.bisect_left(sizes, count) : bisect.bisect_left(sizes, count + n)]:
            start_seq[size] = ch.seqs[size - count]
        order = sorted(problems)
        pos = pi = 0
        while pos < n:
            # rows up to the next head inside this range, their problems, then that head
            end = heads[hi].tree_size - count if hi < len(heads) and heads[hi].tree_size - count <= n else n
            while pi < len(order) and order[pi] < end:
                for msg, seq in problems[order[pi]]:
                    rep.fail(msg, seq)
                pi += 1
            tree.extend(ch.hashes[pos:end])
            pos = end
            if end < n or (hi < len(heads) and heads[hi].tree_size == count + n):
                _check_head(rep, heads[hi], tree, trusted, start_seq.get(prev_size))
                prev_size = heads[hi].tree_size
                hi += 1
        count += n
        rep.events += n
    rep.leaves = tree.size
    rep.not_rechecked = rep.archived if skip_archived else 0
    while hi < len(heads):
        rep.fail(f"规模为 {heads[hi].tree_size} 的树头超出现有日志（日志被截断）", heads[hi].last_seq)
        hi += 1
    rep.heads = len(heads)
    if state and tree.size != state.size:
        rep.fail(f"封存状态记录的规模 {state.size} 与日志 {tree.size} 不符")
    if state:
        gaps = [int(s) for s, _ in state.gaps] or [0]
        with connection.cursor() as cur:
            cur.execute(
                "SELECT e.seq FROM audit_auditevent e LEFT JOIN audit_auditleaf l ON l.seq = e.seq "
                f"WHERE l.seq IS NULL AND e.seq <= %s AND e.seq NOT IN ({', '.join(['%s'] * len(gaps))}) "
                "ORDER BY e.seq LIMIT 1",
                [state.last_seq, *gaps],
            )
            r = cur.fetchone()
        if r:
            rep.fail(f"第 {r[0]} 号事件未入链（序号早于已封存事件，疑似事后插入）", r[0])
    return rep


def _check_head(rep, head: TreeHead, tree, trusted, first_seq: int | None) -> None:
    mh = head.as_merkle()
    if not merkle.verify_tree_head(mh, trusted):
        rep.fail(
            f"规模为 {head.tree_size} 的树头签名无效或密钥不受信任（key {head.key_id[:16]}…）", head.last_seq
        )
    if tree.root() != mh.root_hash:
        first = head.last_seq if first_seq is None else first_seq
        rep.fail(
            f"第 {first} 号事件起（至第 {head.last_seq} 号）有篡改：规模 {head.tree_size} 的根哈希与签名树头不符",
            first,
        )
