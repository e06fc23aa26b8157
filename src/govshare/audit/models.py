"""Audit events and the sealed Merkle log over them (DESIGN §7, docs/audit.md).

`AuditEvent` rows are only ever inserted (database triggers refuse UPDATE and DELETE). The sealer
appends them to an RFC 9162 tree: `AuditLeaf` maps leaf position -> event seq and keeps the leaf hash,
`AuditNode` keeps every completed subtree hash above the leaves, `TreeHead` the signed heads; those three
are append-only as well. `SealState` is the one mutable row: the tree's right edge (compact frontier).
"""

from django.db import models

RESULTS = [("ok", "成功"), ("denied", "拒绝"), ("error", "错误")]


class AuditEvent(models.Model):
    seq = models.BigAutoField("序号", primary_key=True)
    occurred_at = models.DateTimeField("时间")
    actor = models.CharField("操作人", max_length=150, blank=True)
    actor_id = models.BigIntegerField("操作人编号", null=True, blank=True)
    department_id = models.BigIntegerField("部门编号", null=True, blank=True)
    department_name = models.CharField("部门", max_length=200, blank=True)
    client_system = models.CharField("应用系统", max_length=200, blank=True)
    action = models.CharField("动作", max_length=100)
    object_type = models.CharField("对象类型", max_length=100, blank=True)
    object_id = models.CharField("对象编号", max_length=100, blank=True)
    purpose = models.CharField("用途", max_length=500, blank=True)
    case_id = models.CharField("案件/事项编号", max_length=100, blank=True)
    result = models.CharField("结果", max_length=10, choices=RESULTS, default="ok")
    request_id = models.CharField("请求编号", max_length=100, blank=True)
    source_ip = models.CharField("来源地址", max_length=64, blank=True)
    detail = models.JSONField("详情", default=dict, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "审计事件"
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_event_object"),
            models.Index(fields=["department_id"], name="audit_event_dept"),
        ]

    def __str__(self):
        return f"#{self.seq} {self.action}"


class AuditLeaf(models.Model):
    """Leaf `index` of the tree is event `seq`, with hash H(0x00 ‖ canonical_bytes(event))."""

    index = models.BigIntegerField(primary_key=True)
    seq = models.BigIntegerField(unique=True)
    hash = models.BinaryField()


class AuditNode(models.Model):
    """A completed subtree above the leaves: key = level << 48 | index (level >= 1)."""

    key = models.BigIntegerField(primary_key=True)
    hash = models.BinaryField()

    @staticmethod
    def make_key(level: int, index: int) -> int:
        return (level << 48) | index


class TreeHead(models.Model):
    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.CharField(max_length=128)
    timestamp = models.BigIntegerField()
    hash_alg = models.CharField(max_length=16, default="sha256")
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=256)
    last_seq = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tree_size"]

    def as_merkle(self):
        from govshare.audit.merkle import TreeHead as MHead

        return MHead(
            self.tree_size,
            bytes.fromhex(self.root_hash),
            self.timestamp,
            self.hash_alg,
            self.key_id,
            bytes.fromhex(self.signature),
        )

    def to_dict(self) -> dict:
        return self.as_merkle().to_dict()


class SealState(models.Model):
    """The single mutable row of the log: size, frontier, last sealed seq and seqs not yet seen."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    hash_alg = models.CharField(max_length=16, default="sha256")
    size = models.BigIntegerField(default=0)
    frontier = models.JSONField(default=list)
    last_seq = models.BigIntegerField(default=0)
    gaps = models.JSONField(default=list)  # [[seq, first_seen_ms], ...] seqs skipped that may still commit


class ArchiveSegment(models.Model):
    """Events first_seq..last_seq, moved out of AuditEvent into one gzip JSON Lines file (R-SEC-06).

    Each line is the canonical JSON of one event, so the file recomputes the leaves it came from; the
    leaves, nodes and heads stay, and verify, proofs and receipts keep working (docs/audit.md, "Archive").
    The DELETE trigger on AuditEvent lets through only seqs inside a recorded segment.
    """

    first_seq = models.BigIntegerField("首个序号", unique=True)
    last_seq = models.BigIntegerField("末个序号", unique=True)
    count = models.BigIntegerField("事件数")
    sha256 = models.CharField("文件 SHA-256", max_length=64)
    file_name = models.CharField("文件", max_length=255)
    created_at = models.DateTimeField("归档时间", auto_now_add=True)
    cutoff = models.DateField("截止日期")  # events that occurred before this local date
    tree_size = models.BigIntegerField("覆盖的树头规模")  # the first signed head covering every leaf here
    root_hash = models.CharField("树头根哈希", max_length=128)

    class Meta:
        verbose_name = verbose_name_plural = "审计归档段"
        ordering = ["first_seq"]

    def __str__(self):
        return f"{self.file_name} (#{self.first_seq}–#{self.last_seq})"
