"""The record store behind published table resources (DESIGN §5).

One `Record` per key of a resource: the current values as JSON keyed by information-item code, a
content digest, and the change sequence at which it last changed. Deletes leave tombstones so
incremental sync can tell consumers; earlier values move to `RecordHistory`. Items added to or
dropped from the catalog need no migration: they are keys in the JSON.
"""

from django.conf import settings
from django.db import models


class BatchSource(models.TextChoices):
    API = "api", "接口推送"
    UPLOAD = "upload", "文件上传"
    CLI = "cli", "命令行"


class BatchMode(models.TextChoices):
    UPSERT = "upsert", "增量（新增或更新）"
    REPLACE = "replace", "全量替换"


class BatchStatus(models.TextChoices):
    RUNNING = "running", "处理中"
    COMMITTED = "committed", "已入库"
    PARTIAL = "partial", "部分入库（问题行已隔离）"
    REJECTED = "rejected", "已拒绝（未写入任何数据）"
    FAILED = "failed", "失败（未写入任何数据）"


class Batch(models.Model):
    """One load: atomic, idempotent under its key, with the report of every refused row."""

    resource = models.ForeignKey("catalog.Resource", on_delete=models.PROTECT, related_name="batches")
    department = models.ForeignKey("orgs.Department", on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    client_label = models.CharField("应用系统", max_length=200, blank=True)
    source = models.CharField("方式", max_length=8, choices=BatchSource.choices)
    mode = models.CharField("模式", max_length=8, choices=BatchMode.choices, default=BatchMode.UPSERT)
    accept_valid = models.BooleanField("仅入库有效行", default=False)
    idempotency_key = models.CharField("幂等键", max_length=128, blank=True)
    content_digest = models.CharField("内容摘要", max_length=64, blank=True)
    filename = models.CharField("文件名", max_length=255, blank=True)
    file_format = models.CharField("文件格式", max_length=16, blank=True)
    encoding = models.CharField("字符编码", max_length=32, blank=True)
    status = models.CharField(
        "状态", max_length=16, choices=BatchStatus.choices, default=BatchStatus.RUNNING, db_index=True
    )
    rows_total = models.PositiveBigIntegerField("总行数", default=0)
    rows_valid = models.PositiveBigIntegerField("有效行", default=0)
    rows_rejected = models.PositiveBigIntegerField("问题行", default=0)
    inserted = models.PositiveBigIntegerField("新增", default=0)
    updated = models.PositiveBigIntegerField("更新", default=0)
    unchanged = models.PositiveBigIntegerField("未变化", default=0)
    deleted = models.PositiveBigIntegerField("删除", default=0)
    seq_from = models.BigIntegerField("起始变更序号", null=True, blank=True)
    seq_to = models.BigIntegerField("截止变更序号", null=True, blank=True)
    error_count = models.PositiveBigIntegerField("问题数", default=0)
    errors_truncated = models.BooleanField("问题明细已截断", default=False)
    message = models.TextField("说明", blank=True)
    progress_rows = models.PositiveBigIntegerField("已处理行数", default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField("最近进度时间", null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "归集批次"
        ordering = ["-id"]
        indexes = [models.Index(fields=["resource", "idempotency_key"], name="batch_idem")]

    def __str__(self):
        return f"批次 {self.pk}"

    @property
    def wrote_data(self) -> bool:
        return self.status in (BatchStatus.COMMITTED, BatchStatus.PARTIAL)


class BatchError(models.Model):
    """One refused value: which row, which item, what was sent and why (the downloadable report)."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="errors")
    row = models.PositiveBigIntegerField("行号")
    item_code = models.CharField("信息项代码", max_length=64, blank=True)
    item_name = models.CharField("信息项", max_length=128, blank=True)
    value = models.CharField("值", max_length=200, blank=True)
    code = models.CharField("问题代码", max_length=32)
    message = models.CharField("原因", max_length=300)

    class Meta:
        verbose_name = "问题明细"
        ordering = ["batch", "row", "id"]


class QuarantinedRow(models.Model):
    """A row set aside by an accept-valid load, kept as sent so it can be fixed and sent again."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="quarantined")
    row = models.PositiveBigIntegerField("行号")
    raw = models.JSONField("原始数据")

    class Meta:
        verbose_name = "隔离行"
        ordering = ["batch", "row"]


class Series(models.Model):
    """Per-resource change counter and freshness; the row every load of a resource locks."""

    resource = models.OneToOneField(
        "catalog.Resource", on_delete=models.CASCADE, primary_key=True, related_name="series"
    )
    last_seq = models.BigIntegerField("最新变更序号", default=0)
    live_count = models.BigIntegerField("记录数", default=0)
    last_loaded_at = models.DateTimeField("最近归集时间", null=True, blank=True)
    last_changed_at = models.DateTimeField("最近变化时间", null=True, blank=True)
    indexed_items = models.JSONField("已建索引的检索项", default=list, blank=True)
    # Sealing (R-SEC-04): the catalog version the stored rows are sealed for, and whether keys are blinded.
    # A publish that changes the 敏感 marks sets `reseal_pending`; loads wait until re-sealing clears it.
    sealed_version = models.PositiveIntegerField("加密对应目录版本", default=0)
    keys_sealed = models.BooleanField("主键已盲化", default=False)
    reseal_pending = models.BooleanField("待重新加密", default=False)

    class Meta:
        verbose_name = "归集状态"


class Record(models.Model):
    id = models.BigAutoField(primary_key=True)
    # No index of its own: (resource, key) leads with it; one more index to keep cost a million-row
    # merge about a tenth of its time.
    resource = models.ForeignKey(
        "catalog.Resource", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    key = models.CharField("主键值", max_length=128)
    data = models.JSONField("数据", null=True)
    digest = models.CharField("摘要", max_length=64)
    seq = models.BigIntegerField("变更序号")
    deleted = models.BooleanField("已删除", default=False)
    # Written by set-based SQL on the load path; the (resource, seq) index finds a batch's records.
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+", db_index=False)
    updated_at = models.DateTimeField("更新时间")

    class Meta:
        verbose_name = "记录"
        constraints = [models.UniqueConstraint(fields=["resource", "key"], name="record_resource_key")]
        indexes = [models.Index(fields=["resource", "seq"], name="record_resource_seq")]


class RecordHistory(models.Model):
    """An earlier value of a record, moved here by the load that replaced or deleted it."""

    id = models.BigAutoField(primary_key=True)
    # No index of its own: (resource, key) leads with it; one more index to keep cost a million-row
    # merge about a tenth of its time.
    resource = models.ForeignKey(
        "catalog.Resource", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    key = models.CharField("主键值", max_length=128)
    data = models.JSONField("数据", null=True)
    digest = models.CharField("摘要", max_length=64)
    seq = models.BigIntegerField("变更序号")
    deleted = models.BooleanField("已删除", default=False)
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+", db_index=False)
    updated_at = models.DateTimeField("更新时间")
    superseded_seq = models.BigIntegerField("被替换于变更序号")

    class Meta:
        verbose_name = "历史值"
        indexes = [models.Index(fields=["resource", "key"], name="history_resource_key")]


class QualitySnapshot(models.Model):
    """Quality of one resource's data at one moment (R-COL-01, R-COL-12, R-CAT-17)."""

    resource = models.ForeignKey("catalog.Resource", on_delete=models.CASCADE, related_name="quality")
    computed_at = models.DateTimeField("计算时间")
    records = models.BigIntegerField("记录数", default=0)
    completeness = models.JSONField("各信息项完整率", default=dict)
    rows_submitted = models.BigIntegerField("近期提交行数", default=0)
    rows_rejected = models.BigIntegerField("近期问题行数", default=0)
    duplicates_rejected = models.BigIntegerField("重复主键行数", default=0)
    validity_rate = models.FloatField("有效率", null=True, blank=True)
    last_loaded_at = models.DateTimeField("最近归集时间", null=True, blank=True)
    freshness = models.CharField("时效性", max_length=16, blank=True)
    due_by = models.DateField("按更新周期应更新日期", null=True, blank=True)

    class Meta:
        verbose_name = "数据质量"
        ordering = ["-computed_at"]
        indexes = [models.Index(fields=["resource", "-computed_at"], name="quality_latest")]


class ElementCheck(models.TextChoices):
    NONE = "", "无"
    RIC = "ric", "公民身份号码（GB 11643）"
    USCC = "uscc", "统一社会信用代码（GB 32100）"
    REGION = "region", "行政区划代码（GB/T 2260）"
    MOBILE = "mobile", "手机号码"


class DataElement(models.Model):
    """An entry of the shared data-element dictionary (数据元) that items map to (一数一源)."""

    code = models.CharField("数据元标识", max_length=32, unique=True)
    name = models.CharField("数据元名称", max_length=128, unique=True)
    synonyms = models.JSONField("同义名称", default=list, blank=True)
    data_type = models.CharField("数据类型", max_length=1, blank=True)
    format_check = models.CharField("格式校验", max_length=8, choices=ElementCheck.choices, blank=True)
    description = models.TextField("说明", blank=True)

    class Meta:
        verbose_name = "数据元"
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name}"


class ElementSource(models.Model):
    """A resource item registered as a source of a data element; only one is authoritative."""

    element = models.ForeignKey(DataElement, on_delete=models.PROTECT, related_name="sources")
    resource = models.ForeignKey("catalog.Resource", on_delete=models.CASCADE, related_name="+")
    item_code = models.CharField("信息项代码", max_length=64)
    department = models.ForeignKey("orgs.Department", on_delete=models.PROTECT, related_name="+")
    authoritative = models.BooleanField("权威来源", default=False)
    override_reason = models.TextField("多源登记理由（法律依据）", blank=True)
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "数据元来源"
        constraints = [
            models.UniqueConstraint(fields=["element", "resource", "item_code"], name="element_source_uniq")
        ]


class CaseStatus(models.TextChoices):
    OPEN = "open", "协调中"
    ESCALATED = "escalated", "已提请主管部门协调"
    RESOLVED = "resolved", "已解决"


class CoordinationCase(models.Model):
    """Two sources disagree on the same element for the same key (多元校核, R-COL-06)."""

    element = models.ForeignKey(DataElement, on_delete=models.PROTECT, related_name="cases")
    key = models.CharField("主键值", max_length=128)
    values = models.JSONField("各来源取值", default=list)
    departments = models.ManyToManyField("orgs.Department", related_name="+")
    status = models.CharField("状态", max_length=16, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    opened_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution = models.TextField("处理结果", blank=True)

    class Meta:
        verbose_name = "多元校核协调"
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["element", "key", "status"], name="case_lookup")]


class MountedFile(models.Model):
    """A document mounted behind a file-type resource (R-CAT-16); every upload is a new version."""

    resource = models.ForeignKey("catalog.Resource", on_delete=models.PROTECT, related_name="files")
    version = models.PositiveIntegerField("版本")
    file = models.FileField("文件", upload_to="mounts/%Y/%m/")
    filename = models.CharField("文件名", max_length=255)
    size = models.PositiveBigIntegerField("大小")
    sha256 = models.CharField("SHA-256", max_length=64)
    content_type = models.CharField("类型", max_length=100, blank=True)
    note = models.CharField("说明", max_length=500, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "挂接文件"
        ordering = ["resource", "-version"]
        constraints = [models.UniqueConstraint(fields=["resource", "version"], name="mounted_file_version")]


class ProviderInterface(models.Model):
    """A provider's own service registered behind an interface-type resource (R-CAT-16, R-SHARE-15)."""

    resource = models.ForeignKey("catalog.Resource", on_delete=models.PROTECT, related_name="interfaces")
    version = models.PositiveIntegerField("版本")
    url = models.URLField("服务地址", max_length=500)
    method = models.CharField("请求方法", max_length=8, default="GET")
    openapi = models.JSONField("OpenAPI 描述", default=dict, blank=True)
    note = models.CharField("说明", max_length=500, blank=True)
    active = models.BooleanField("当前版本", default=True)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    registered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "挂接接口"
        ordering = ["resource", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["resource", "version"], name="provider_interface_version")
        ]
