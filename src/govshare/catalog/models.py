"""The resource catalog (目录) and its lists (R-CAT-01..22).

A `Resource` row holds the *published* state that everyone else sees. Every change — the first
registration included — is a `ResourceRevision` carrying the proposed entry as a JSON payload through
draft → submitted → (returned → submitted)* → published. Publishing applies the payload to the
resource and its items, bumps the version and records a `ResourceVersion` with a field-by-field diff.
Consumers never see a half-reviewed entry, and the provider can prepare a change without taking the
live entry offline.
"""

from django.conf import settings
from django.db import models


class CatalogKind(models.TextChoices):
    BASE = "base", "基础信息资源目录"
    THEME = "theme", "主题信息资源目录"
    DEPARTMENT = "department", "部门信息资源目录"


class ShareType(models.TextChoices):
    UNCONDITIONAL = "unconditional", "无条件共享"
    CONDITIONAL = "conditional", "有条件共享"
    NONE = "none", "不予共享"


class OpenType(models.TextChoices):
    UNCONDITIONAL = "unconditional", "无条件开放"
    CONDITIONAL = "conditional", "有条件开放"
    NONE = "none", "不予开放"


class Delivery(models.TextChoices):
    QUERY = "query", "接口查询"
    VERIFY = "verify", "核验"
    BATCH = "batch", "文件（批量）"
    TABLE_SYNC = "table_sync", "库表"


class UpdateCycle(models.TextChoices):
    REALTIME = "realtime", "实时"
    DAILY = "daily", "每日"
    WEEKLY = "weekly", "每周"
    MONTHLY = "monthly", "每月"
    QUARTERLY = "quarterly", "每季度"
    HALF_YEARLY = "half_yearly", "每半年"
    YEARLY = "yearly", "每年"
    IRREGULAR = "irregular", "不定期"


class FormatCategory(models.TextChoices):
    """信息资源格式分类 of the 1272 guide."""

    DATABASE = "database", "数据库"
    SPREADSHEET = "spreadsheet", "电子表格"
    DOCUMENT = "document", "电子文件"
    IMAGE = "image", "图形图像"
    STREAM = "stream", "流媒体"
    SELF_DESCRIBING = "self_describing", "自描述格式"
    INTERFACE = "interface", "服务接口"
    OTHER = "other", "其他"


class MountKind(models.TextChoices):
    """What stands behind the entry (挂接, R-CAT-16)."""

    TABLE = "table", "库表（平台归集）"
    FILE = "file", "文件"
    INTERFACE = "interface", "接口"


class DataType(models.TextChoices):
    """Information-item data types of the 1272 guide."""

    C = "C", "字符型"
    N = "N", "数值型"
    Y = "Y", "货币型"
    D = "D", "日期型"
    T = "T", "日期时间型"
    L = "L", "逻辑型"
    M = "M", "备注型"
    G = "G", "通用型"
    B = "B", "二进制"
    I = "I", "整数型"  # noqa: E741  (the guide's own letter)
    F = "F", "浮点型"


class ResourceStatus(models.TextChoices):
    DRAFT = "draft", "未发布"
    PUBLISHED = "published", "已发布"
    RETIRING = "retiring", "待下线"
    RETIRED = "retired", "已下线"


class Classification(models.Model):
    """类/项/目/细目 of the catalog; a resource code is `<classification code>/<sequence>`."""

    code = models.CharField("分类代码", max_length=16, primary_key=True)
    name = models.CharField("分类名称", max_length=128)
    kind = models.CharField("目录类型", max_length=16, choices=CatalogKind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    lead_department = models.ForeignKey(
        "orgs.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        verbose_name="牵头部门",
        related_name="+",
    )

    class Meta:
        verbose_name = "目录分类"
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name}"


class Resource(models.Model):
    code = models.CharField("资源代码", max_length=40, unique=True)
    classification = models.ForeignKey(Classification, on_delete=models.PROTECT, verbose_name="资源分类")
    sequence = models.PositiveIntegerField("顺序码")
    catalog_kind = models.CharField("目录类型", max_length=16, choices=CatalogKind.choices)
    status = models.CharField(
        "状态", max_length=16, choices=ResourceStatus.choices, default=ResourceStatus.DRAFT
    )
    version = models.PositiveIntegerField("版本", default=0)

    name = models.CharField("资源名称", max_length=200, blank=True)
    abstract = models.TextField("资源摘要", blank=True)
    provider = models.ForeignKey(
        "orgs.Department", on_delete=models.PROTECT, related_name="resources", verbose_name="资源提供方"
    )
    provider_code = models.CharField("提供方代码", max_length=18, blank=True)
    lead_department = models.ForeignKey(
        "orgs.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="led_resources",
        verbose_name="牵头部门",
    )
    format_category = models.CharField("格式分类", max_length=24, choices=FormatCategory.choices, blank=True)
    format_type = models.CharField("格式类型", max_length=64, blank=True)
    share_type = models.CharField("共享类型", max_length=16, choices=ShareType.choices, blank=True)
    share_condition = models.TextField("共享条件", blank=True)
    share_methods = models.JSONField("共享方式", default=list, blank=True)
    usage_requirements = models.TextField("使用要求", blank=True)
    open_type = models.CharField("开放类型", max_length=16, choices=OpenType.choices, blank=True)
    open_condition = models.TextField("开放条件", blank=True)
    legal_basis = models.TextField("法律依据", blank=True)
    update_cycle = models.CharField("更新周期", max_length=16, choices=UpdateCycle.choices, blank=True)
    mount_kind = models.CharField("挂接资源类型", max_length=16, choices=MountKind.choices, blank=True)
    mount_ref = models.CharField("挂接资源说明", max_length=500, blank=True)
    related_codes = models.JSONField("关联资源代码", default=list, blank=True)
    is_secret = models.BooleanField("涉密", default=False)

    publish_date = models.DateField("发布日期", null=True, blank=True)
    retire_announced_at = models.DateTimeField("下线公告时间", null=True, blank=True)
    retire_effective_on = models.DateField("下线生效日期", null=True, blank=True)
    retire_reason = models.TextField("下线原因", blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "信息资源"
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["classification", "sequence"], name="uniq_resource_sequence"),
        ]
        indexes = [
            models.Index(fields=["status", "catalog_kind"]),
            models.Index(fields=["provider", "status"]),
        ]

    def __str__(self):
        return f"{self.code} {self.name}"

    @property
    def is_live(self) -> bool:
        return self.status in (ResourceStatus.PUBLISHED, ResourceStatus.RETIRING)

    def maintainer(self):
        """Base and theme entries are maintained by their lead department (R-CAT-02, R-CAT-10)."""
        if self.catalog_kind in (CatalogKind.BASE, CatalogKind.THEME) and self.lead_department_id:
            return self.lead_department
        return self.provider


class InfoItem(models.Model):
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField("序号")
    code = models.CharField("信息项代码", max_length=64)
    name = models.CharField("信息项名称", max_length=128)
    data_type = models.CharField("数据类型", max_length=1, choices=DataType.choices)
    length = models.PositiveIntegerField("数据长度", null=True, blank=True)
    is_primary = models.BooleanField("主键", default=False)
    is_required = models.BooleanField("必填", default=False)
    is_indexed = models.BooleanField("检索项", default=False)
    is_basic = models.BooleanField("基础信息项", default=False)
    # Sealed at rest and opened only where data leaves the platform to someone entitled (R-SEC-04).
    is_sensitive = models.BooleanField("敏感", default=False)
    share_type = models.CharField("共享类型", max_length=16, choices=ShareType.choices, blank=True)
    enum_values = models.JSONField("枚举值", default=list, blank=True)
    description = models.CharField("说明", max_length=500, blank=True)

    class Meta:
        verbose_name = "信息项"
        ordering = ["resource", "position"]
        constraints = [models.UniqueConstraint(fields=["resource", "code"], name="uniq_item_code")]

    def __str__(self):
        return self.name


class RevisionStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    SUBMITTED = "submitted", "待审核"
    RETURNED = "returned", "已退回"
    SCHEDULED = "scheduled", "已审核待生效"
    PUBLISHED = "published", "已发布"
    WITHDRAWN = "withdrawn", "已撤回"


class ResourceRevision(models.Model):
    """A proposed entry or change moving through review (R-CAT-05)."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="revisions")
    status = models.CharField(
        "状态", max_length=16, choices=RevisionStatus.choices, default=RevisionStatus.DRAFT
    )
    payload = models.JSONField("拟发布内容")
    reason = models.TextField("变更原因", blank=True)
    base_version = models.PositiveIntegerField("基于版本", default=0)
    narrows_unconditional = models.BooleanField("缩小无条件共享范围", default=False)
    effective_on = models.DateField("生效日期", null=True, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "目录变更"
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["status", "updated_at"])]

    def __str__(self):
        return f"{self.resource.code} · {self.get_status_display()}"

    @property
    def is_open(self) -> bool:
        return self.status in (RevisionStatus.DRAFT, RevisionStatus.SUBMITTED, RevisionStatus.RETURNED)


class ReviewComment(models.Model):
    revision = models.ForeignKey(ResourceRevision, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField("动作", max_length=16)
    body = models.TextField("意见")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]


class ResourceVersion(models.Model):
    """Who changed a published entry, when, why, and exactly what (field-by-field diff)."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField("版本")
    snapshot = models.JSONField("内容")
    diff = models.JSONField("变更明细", default=list)
    reason = models.TextField("变更原因", blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField()

    class Meta:
        verbose_name = "目录版本"
        ordering = ["resource", "-version"]
        constraints = [models.UniqueConstraint(fields=["resource", "version"], name="uniq_resource_version")]


class NarrowingRecord(models.Model):
    """An approved narrowing of an unconditional entry (R-CAT-11): evidence for supervision."""

    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="narrowings")
    revision = models.OneToOneField(ResourceRevision, on_delete=models.PROTECT)
    description = models.TextField("缩小内容")
    reason = models.TextField("理由")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField()


class Demand(models.Model):
    """需求清单: per service item, the data a department needs and where it should come from (R-CAT-18)."""

    department = models.ForeignKey("orgs.Department", on_delete=models.PROTECT, related_name="demands")
    service_item = models.CharField("事项名称", max_length=200)
    service_item_code = models.CharField("事项编码", max_length=64, blank=True)
    data_name = models.CharField("所需数据", max_length=200)
    item_names = models.JSONField("所需信息项", default=list, blank=True)
    source_department = models.ForeignKey(
        "orgs.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="demanded_from",
        verbose_name="数据来源部门",
    )
    note = models.TextField("备注", blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "需求清单"
        ordering = ["department", "service_item"]

    def __str__(self):
        return f"{self.service_item} · {self.data_name}"


class SupplyLink(models.Model):
    """供给清单: a provider confirms that a published resource answers a demand (R-CAT-19)."""

    demand = models.ForeignKey(Demand, on_delete=models.CASCADE, related_name="supplies")
    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="supplies")
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "供给清单"
        constraints = [models.UniqueConstraint(fields=["demand", "resource"], name="uniq_supply")]


class NegativeStatus(models.TextChoices):
    PROPOSED = "proposed", "待审核"
    CONFIRMED = "confirmed", "已生效"
    REJECTED = "rejected", "未通过"


class NegativeListEntry(models.Model):
    """负面清单 (R-CAT-20): not-shared data with its basis; in force only after review."""

    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="negative_entries")
    item = models.ForeignKey(InfoItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    item_name = models.CharField("信息项", max_length=128, blank=True)
    legal_basis = models.TextField("依据")
    status = models.CharField(max_length=16, choices=NegativeStatus.choices, default=NegativeStatus.PROPOSED)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(auto_now_add=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(blank=True)

    class Meta:
        verbose_name = "负面清单"
        ordering = ["-proposed_at"]


class Responsibility(models.Model):
    """责任清单 row derived from the catalog (R-CAT-22); `until` closes it when the catalog changes."""

    class Duty(models.TextChoices):
        PROVIDE = "provide", "提供数据"
        SHARE = "share", "共享"
        OPEN = "open", "开放"

    department = models.ForeignKey(
        "orgs.Department", on_delete=models.PROTECT, related_name="responsibilities"
    )
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="responsibilities")
    duty = models.CharField(max_length=16, choices=Duty.choices)
    detail = models.CharField("要求", max_length=200)
    since = models.DateField("起始")
    until = models.DateField("终止", null=True, blank=True)

    class Meta:
        verbose_name = "责任清单"
        ordering = ["department", "resource", "duty"]
        indexes = [models.Index(fields=["department", "until"])]
