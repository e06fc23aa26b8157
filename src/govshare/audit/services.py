"""Writing audit events (request path: one INSERT) and sealing them into the signed Merkle log.

`record` never hashes, locks or reads the log: concurrent requests do not wait for each other here.
`seal_pending` (run by the scheduler tick or `govshare audit seal`) appends unsealed events to the
RFC 9162 tree in seq order, stores the leaf and completed-subtree hashes that proofs need, and signs a
tree head with the active key (keys.py). See docs/audit.md.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import time
import uuid
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from govshare.audit import keys, merkle
from govshare.audit.models import AuditEvent, AuditLeaf, AuditNode, SealState, TreeHead
from govshare.errors import DomainError, NotFound

# The fields a leaf commits to, in the order selectors read them.
FIELDS = (
    "seq",
    "occurred_at",
    "actor",
    "actor_id",
    "department_id",
    "department_name",
    "client_system",
    "action",
    "object_type",
    "object_id",
    "purpose",
    "case_id",
    "result",
    "request_id",
    "source_ip",
    "detail",
)
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
        AuditEvent(
            occurred_at=timezone.now(),
            actor=username,
            actor_id=actor_pk,
            department_id=dept_id,
            department_name=dept_name,
            client_system=client_system,
            action=action,
            object_type=object_type,
            object_id="" if object_id is None else str(object_id),
            purpose=purpose,
            case_id=case_id,
            result=result,
            request_id=request_id,
            source_ip=source_ip,
            detail=_clean_detail(detail),
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
    always written (PostgreSQL would reject it, SQLite would keep it whole)."""
    ops = connection.ops
    values = [getattr(event, name) for name in _PLAIN]
    for i, limit in _LIMITS:
        if values[i] is not None and len(values[i]) > limit:
            values[i] = values[i][:limit]
    values[0] = ops.adapt_datetimefield_value(event.occurred_at)
    values[-1] = ops.adapt_json_value(event.detail, None)
    with connection.cursor() as cur:
        if connection.features.can_return_columns_from_insert:
            cur.execute(_INSERT + " RETURNING seq", values)
            event.seq = cur.fetchone()[0]
        else:  # pragma: no cover - every supported backend returns columns
            cur.execute(_INSERT, values)
            event.seq = cur.lastrowid
    event._state.adding = False
    event._state.db = connection.alias
    return event


# ---------------------------------------------------------------- canonical leaf bytes


def _iso(value) -> str:
    if isinstance(value, str):  # raw SQLite text
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_dict(row) -> dict:
    """The object a leaf commits to, from a FIELDS-ordered row (ORM values or raw cursor values)."""
    d = dict(zip(FIELDS, row, strict=True))
    d["occurred_at"] = _iso(d["occurred_at"])
    detail = d["detail"]
    if isinstance(detail, str | bytes):
        d["detail"] = json.loads(detail)
    elif detail is None:
        d["detail"] = {}
    return d


def event_bytes(row) -> bytes:
    return merkle.canonical_bytes(event_dict(row))


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
    with connection.cursor() as cur:
        cur.executemany(
            f"INSERT INTO audit_auditleaf ({q('index')}, seq, hash) VALUES (%s, %s, %s)",
            [(start + i, r[0], h) for i, (r, h) in enumerate(zip(rows, hashes, strict=True))],
        )
        if nodes:
            cur.executemany("INSERT INTO audit_auditnode (key, hash) VALUES (%s, %s)", nodes)
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
    if row is None:
        raise NotFound("not_found", f"第 {seq} 号审计事件不存在")
    leaf = AuditLeaf.objects.filter(seq=seq).values_list("index", flat=True).first()
    head = latest_head()
    if leaf is None or head is None or head.tree_size <= leaf:
        raise DomainError("not_sealed", "该事件尚未封存上链，请稍后再取回执", {"seq": seq}, status=409)
    ranges = merkle.inclusion_ranges(leaf, head.tree_size)
    proof = merkle.inclusion_proof(_node_getter(_needed(ranges)), leaf, head.tree_size, head.hash_alg)
    return {
        "event": event_dict(row),
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


class VerifyReport:
    def __init__(self):
        self.errors: list[str] = []
        self.first_bad_seq: int | None = None
        self.leaves = self.heads = self.events = 0

    def fail(self, message: str, seq: int | None = None) -> None:
        if seq is not None and self.first_bad_seq is None and not self.errors:
            self.first_bad_seq = seq
        self.errors.append(message)

    @property
    def ok(self) -> bool:
        return not self.errors


def verify(trusted: dict | None = None, chunk: int = 50_000) -> VerifyReport:
    """Recompute every leaf from the events in log order and check every signed head (docs/audit.md)."""
    rep = VerifyReport()
    trusted = keys.trusted_keys() if trusted is None else trusted
    state = SealState.objects.filter(id=1).first()
    hash_alg = state.hash_alg if state else _hash_alg()
    heads = list(TreeHead.objects.order_by("tree_size"))
    q = connection.ops.quote_name
    cols = ", ".join(f"e.{q(f)}" for f in FIELDS)
    sql = (
        f"SELECT l.{q('index')}, l.seq, l.hash, e.seq IS NULL, {cols} FROM audit_auditleaf l "
        f"LEFT JOIN audit_auditevent e ON e.seq = l.seq ORDER BY l.{q('index')}"
    )
    tree = merkle.CompactTree(hash_alg)
    new = merkle.get_hasher(hash_alg).new
    starts = {0} | {h.tree_size for h in heads}
    start_seq: dict[int, int] = {}  # first seq after each head, to name where a bad root begins
    hi, prev_size = 0, 0
    with connection.cursor() as cur:
        cur.execute(sql)
        while True:
            rows = cur.fetchmany(chunk)
            if not rows:
                break
            computed = []
            for r in rows:
                index, seq, stored, missing = r[0], r[1], bytes(r[2]), r[3]
                expected = tree.size + len(computed)
                if index != expected:
                    rep.fail(f"第 {expected} 号叶子缺失（日志存储被删改），其后为第 {seq} 号事件", seq)
                if expected in starts:
                    start_seq[expected] = seq
                if missing:
                    rep.fail(f"第 {seq} 号事件缺失（已被删除）", seq)
                    h = stored
                else:
                    h = new(b"\x00" + event_bytes(r[4:])).digest()
                    if h != stored:
                        rep.fail(f"第 {seq} 号事件被篡改或顺序错误（内容与封存时不符）", seq)
                computed.append(h)
            pos = 0
            while pos < len(computed):
                room = len(computed) - pos
                if hi < len(heads) and heads[hi].tree_size - tree.size <= room:
                    take = heads[hi].tree_size - tree.size
                    tree.extend(computed[pos : pos + take])
                    pos += take
                    _check_head(rep, heads[hi], tree, trusted, start_seq.get(prev_size))
                    prev_size = heads[hi].tree_size
                    hi += 1
                else:
                    tree.extend(computed[pos:])
                    pos = len(computed)
            rep.events += len(rows)
    rep.leaves = tree.size
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
