"""Archive segments (R-SEC-06): sealed events older than the retention period leave the live table.

`archive` moves the oldest events — sealed, covered by a signed head, and occurred before the cut-off
date — in seq order into gzip JSON Lines files, one `ArchiveSegment` row per file. Each line is the
event's canonical JSON (`merkle.canonical_bytes`), i.e. exactly the bytes its leaf commits to, so the
file alone recomputes the leaves. Leaves, nodes and heads stay: heads, proofs and receipts keep working.
The cut-off is never later than today minus the profile's `log_retention_months` (6 where the profile is
silent, R-SEC-06). See docs/audit.md, "Archive".
"""

from __future__ import annotations

import calendar
import datetime as dt
import gzip
import hashlib
import json
import tempfile
import zlib
from collections.abc import Iterator

from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages
from django.db import connection, transaction
from django.db.models import Count, Exists, Max, Min, OuterRef, Q
from django.utils import timezone

from govshare.audit import merkle, services
from govshare.audit.leaves import FIELDS, event_bytes
from govshare.audit.models import ArchiveSegment, AuditEvent, AuditLeaf, SealState, TreeHead
from govshare.calendar.policy import active_profile
from govshare.errors import DomainError

DEFAULT_RETENTION_MONTHS = 6  # R-SEC-06: "Default to 6 months [inferred]" where the profile is silent
SEGMENT_EVENTS = 100_000  # events per file (and per transaction)
READ_CHUNK = 5_000


def storage():
    return storages["audit_archive"]


def retention() -> tuple[int, str]:
    """Months the live log keeps an event, and where that number comes from."""
    p = active_profile().param("log_retention_months")
    if p.value is None:
        return DEFAULT_RETENTION_MONTHS, "本地办法未规定，按默认 6 个月（R-SEC-06）"
    return p.value, p.article or "R-SEC-06"


def months_before(day: dt.date, n: int) -> dt.date:
    """The corresponding day n months earlier, or that month's last day (民法典 第二百零二条, backwards)."""
    m = day.year * 12 + day.month - 1 - n
    year, month = divmod(m, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def latest_cutoff(today: dt.date | None = None) -> dt.date:
    """The latest allowed cut-off: events before this local date have been kept the full period."""
    return months_before(today or timezone.localdate(), retention()[0])


def _bounds(cutoff: dt.datetime, window: int | None = None) -> tuple[int, int | None, TreeHead | None]:
    """(after, stop, head): the events after < seq < stop (stop None: no bound) may be archived now.

    `stop` is the first event after the last segment that is too recent, not sealed, or not yet covered
    by a signed head: archiving takes a prefix of the log, so segments never interleave with live events.
    With `window`, only that many events after the last segment are looked at (one segment's worth).
    """
    after = ArchiveSegment.objects.aggregate(m=Max("last_seq"))["m"] or 0
    head = services.latest_head()
    if head is None:
        return after, after + 1, None
    qs = AuditEvent.objects.filter(seq__gt=after)
    if window is not None:
        edge = list(qs.order_by("seq").values_list("seq", flat=True)[window - 1 : window])
        if edge:
            qs = qs.filter(seq__lte=edge[0])
    covered = AuditLeaf.objects.filter(seq=OuterRef("seq"), index__lt=head.tree_size)
    stop = qs.filter(Q(occurred_at__gte=cutoff) | ~Exists(covered)).aggregate(m=Min("seq"))["m"]
    return after, stop, head


def _eligible(after: int, stop: int | None):
    qs = AuditEvent.objects.filter(seq__gt=after)
    return qs if stop is None else qs.filter(seq__lt=stop)


def archive(
    before: dt.date | None = None, *, dry_run: bool = False, actor=None, segment_events: int = SEGMENT_EVENTS
) -> dict:
    """Archive every eligible event that occurred before `before` (default: the latest allowed cut-off)."""
    months, basis = retention()
    latest = latest_cutoff()
    if before is None:
        before = latest
    elif before > latest:
        raise DomainError(
            "archive_cutoff_too_recent",
            f"归档截止日期 {before:%Y-%m-%d} 晚于允许的 {latest:%Y-%m-%d}：操作日志至少保存 {months} 个月"
            f"（{basis}），只能归档此前发生的事件",
            {"before": before.isoformat(), "latest_allowed": latest.isoformat(), "retention_months": months},
            status=422,
        )
    cutoff = timezone.make_aware(dt.datetime.combine(before, dt.time.min))
    out = {"cutoff": before.isoformat(), "retention_months": months, "basis": basis}
    if dry_run:
        after, stop, _ = _bounds(cutoff)
        agg = _eligible(after, stop).aggregate(n=Count("seq"), first=Min("seq"), last=Max("seq"))
        return out | {"dry_run": True, "events": agg["n"], "first_seq": agg["first"], "last_seq": agg["last"]}
    made: list[ArchiveSegment] = []
    while seg := _archive_segment(before, cutoff, segment_events, actor):
        made.append(seg)
    return out | {
        "segments": len(made),
        "events": sum(s.count for s in made),
        "first_seq": made[0].first_seq if made else None,
        "last_seq": made[-1].last_seq if made else None,
        "files": [s.file_name for s in made],
    }


def archive_due() -> dict:
    """The scheduler tick's share: only when GOVSHARE_AUDIT_ARCHIVE_AUTO is on (off by default)."""
    if not getattr(settings, "GOVSHARE_AUDIT_ARCHIVE_AUTO", False):
        return {"enabled": False}
    return archive()


class _HashingWriter:
    def __init__(self, fh, digest):
        self.fh, self.digest = fh, digest

    def write(self, data) -> int:
        self.digest.update(data)
        return self.fh.write(data)

    def flush(self) -> None:
        self.fh.flush()


def _archive_segment(before: dt.date, cutoff: dt.datetime, limit: int, actor) -> ArchiveSegment | None:
    """One segment in one transaction: write the file, record it, record the event, delete the rows."""
    saved: list[str] = []
    try:
        with transaction.atomic():
            state = services._state(lock=True)  # serialises with the sealer and with other archive runs
            after, stop, head = _bounds(cutoff, limit)
            if head is None:
                return None
            seqs = list(_eligible(after, stop).order_by("seq").values_list("seq", flat=True)[:limit])
            if not seqs:
                return None
            first, last = seqs[0], seqs[-1]
            leaves = AuditLeaf.objects.filter(seq__gte=first, seq__lte=last)
            stored = {s: bytes(h) for s, h in leaves.values_list("seq", "hash")}
            if len(stored) != len(seqs):
                gone = min(set(stored) - set(seqs))
                raise _damaged(f"第 {gone} 号事件缺失", gone)
            tmp = tempfile.TemporaryFile()
            sha = hashlib.sha256()
            new = merkle.get_hasher(state.hash_alg).new
            with gzip.GzipFile(filename="", mode="wb", fileobj=_HashingWriter(tmp, sha), mtime=0) as gz:
                for row in _rows(first, last):
                    data = event_bytes(row)
                    if new(b"\x00" + data).digest() != stored[row[0]]:
                        raise _damaged(f"第 {row[0]} 号事件与封存时不符", row[0])
                    gz.write(data + b"\n")
            tmp.seek(0)
            name = storage().save(f"audit-{first:012d}-{last:012d}.jsonl.gz", File(tmp, name="segment"))
            saved.append(name)
            tmp.close()
            top = leaves.aggregate(m=Max("index"))["m"]
            cover = TreeHead.objects.filter(tree_size__gt=top).order_by("tree_size").first()
            seg = ArchiveSegment.objects.create(
                first_seq=first,
                last_seq=last,
                count=len(seqs),
                sha256=sha.hexdigest(),
                file_name=name,
                cutoff=before,
                tree_size=cover.tree_size,
                root_hash=cover.root_hash,
            )
            services.record(
                "audit.archive.create",
                actor=actor,
                object=seg,
                detail={
                    "first_seq": first,
                    "last_seq": last,
                    "count": len(seqs),
                    "file": name,
                    "sha256": seg.sha256,
                    "cutoff": before.isoformat(),
                    "tree_size": cover.tree_size,
                },
            )
            with connection.cursor() as cur:
                cur.execute("DELETE FROM audit_auditevent WHERE seq BETWEEN %s AND %s", [first, last])
                if cur.rowcount != len(seqs):  # pragma: no cover - the range is locked and below the live log
                    raise _damaged(f"第 {first}–{last} 号事件在归档时发生变化", first)
            return seg
    except BaseException:
        for name in saved:
            storage().delete(name)
        raise


def _damaged(what: str, seq: int) -> DomainError:
    return DomainError(
        "audit_archive_refused",
        f"{what}，审计日志已被删改，不能归档；请先运行 govshare audit verify",
        {"seq": seq},
        status=409,
    )


def _rows(first: int, last: int) -> Iterator[tuple]:
    """Event rows first..last in seq order, in keyset pages (ORM values, as receipts read them)."""
    after = first - 1
    while True:
        page = list(
            AuditEvent.objects.filter(seq__gt=after, seq__lte=last)
            .order_by("seq")
            .values_list(*FIELDS)[:READ_CHUNK]
        )
        if not page:
            return
        yield from page
        after = page[-1][0]


# ---------------------------------------------------------------- reading segments back


def _leaves_in(first: int, last: int) -> Iterator[tuple[int, bytes]]:
    after = first - 1
    while True:
        page = list(
            AuditLeaf.objects.filter(seq__gt=after, seq__lte=last)
            .order_by("seq")
            .values_list("seq", "hash")[:50_000]
        )
        if not page:
            return
        for seq, h in page:
            yield seq, bytes(h)
        after = page[-1][0]


class _HashingReader:
    def __init__(self, fh, digest):
        self.fh, self.digest = fh, digest

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.digest.update(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def _label(seg: ArchiveSegment) -> str:
    return f"归档段 {seg.file_name}（第 {seg.first_seq}–{seg.last_seq} 号事件）"


def check_segment(seg: ArchiveSegment, hash_alg: str) -> list[tuple[str, int]]:
    """Problems with one segment, as (message, seq): the file's SHA-256 against the row, then every line's
    leaf hash against the stored leaf of the same event, in seq order."""
    try:
        fh = storage().open(seg.file_name, "rb")
    except (FileNotFoundError, OSError):
        return [(f"{_label(seg)}的文件缺失", seg.first_seq)]
    new = merkle.get_hasher(hash_alg).new
    sha = hashlib.sha256()
    expected = _leaves_in(seg.first_seq, seg.last_seq)
    first_bad, lines, leaves, broken = None, 0, 0, False
    with fh:
        reader = _HashingReader(fh, sha)
        try:
            with gzip.GzipFile(fileobj=reader, mode="rb") as gz:
                for line in gz:
                    lines += 1
                    nxt = next(expected, None)
                    if nxt is None:
                        first_bad = first_bad or seg.last_seq
                        continue
                    leaves += 1
                    if first_bad is None and (
                        line[-1:] != b"\n" or new(b"\x00" + line[:-1]).digest() != nxt[1]
                    ):
                        first_bad = nxt[0]
            reader.drain()
        except (OSError, EOFError, zlib.error):
            broken = True
    rest = next(expected, None)
    if rest is not None and first_bad is None:
        first_bad = rest[0]  # leaves of this range with no line: events lost from the file
    out = []
    if broken:
        out.append((f"{_label(seg)}的文件已损坏，无法读取", first_bad or seg.first_seq))
    elif sha.hexdigest() != seg.sha256:
        tail = f"，第 {first_bad} 号事件与封存时不符" if first_bad is not None else ""
        out.append((f"{_label(seg)}的文件被修改（SHA-256 与登记不符）{tail}", first_bad or seg.first_seq))
    elif first_bad is not None:
        out.append((f"第 {first_bad} 号事件（{_label(seg)}）与封存时不符", first_bad))
    elif lines != seg.count:
        out.append((f"{_label(seg)}登记 {seg.count} 个事件，文件中有 {lines} 个", seg.first_seq))
    return out


def segment_of(seq: int) -> ArchiveSegment | None:
    return ArchiveSegment.objects.filter(first_seq__lte=seq, last_seq__gte=seq).first()


def archived_event(seq: int) -> dict | None:
    """The event `seq` read back from its segment file (the object its leaf commits to), or None when no
    segment holds it. The line must still give the stored leaf hash, or this refuses."""
    seg = segment_of(seq)
    if seg is None:
        return None
    leaf = AuditLeaf.objects.filter(seq=seq).values_list("hash", flat=True).first()
    if leaf is None:
        return None  # a seq no event ever took (a rolled-back insert)
    hasher = merkle.get_hasher(
        SealState.objects.filter(id=1).values_list("hash_alg", flat=True).first() or services._hash_alg()
    )
    needle = f',"seq":{seq},"source_ip":'.encode()  # the top-level key; a detail key is checked below
    try:
        fh = storage().open(seg.file_name, "rb")
    except (FileNotFoundError, OSError):
        raise DomainError(
            "audit_archive_missing", f"{_label(seg)}的文件缺失，无法取回第 {seq} 号事件", {"seq": seq}, 500
        ) from None
    with fh, gzip.GzipFile(fileobj=fh, mode="rb") as gz:
        for line in gz:
            if needle not in line:
                continue
            data = line.rstrip(b"\n")
            event = json.loads(data)
            if event.get("seq") != seq:
                continue
            if hasher.leaf(data) != bytes(leaf):
                break
            return event
    raise DomainError(
        "audit_archive_damaged",
        f"{_label(seg)}中的第 {seq} 号事件与封存时不符或缺失，请运行 govshare audit verify",
        {"seq": seq},
        500,
    )
