"""Sharing (共享): applications, grants, negotiation cases and export jobs (R-SHARE-04..18).

Every way a department obtains another department's data ends in a `Grant`: unconditional use after
registration (登记) or at once, an approved conditional application, or a negotiated supply of a
not-shared resource. The delivery gate (gate.py) reads nothing but active grants, so the grant is the
whole answer to "may this system read this": which department, which systems, what purpose, which
items and how masked, which rows, by which methods, until when and how often.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApplicationKind(models.TextChoices):
    APPLICATION = "application", "有条件共享申请"
    REGISTRATION = "registration", "无条件共享登记"
    NEGOTIATED = "negotiated", "协商供给"


class ApplicationStatus(models.TextChoices):
    PREREVIEW = "prereview", "待平台初审"
    PENDING = "pending", "待答复"
    APPROVED = "approved", "已同意"
    REFUSED = "refused", "已拒绝"
    WITHDRAWN = "withdrawn", "已撤回"


# Workflow states are explicit; anything not listed here is an illegal transition (DESIGN §4).
APPLICATION_TRANSITIONS: dict[str, set[str]] = {
    ApplicationStatus.PREREVIEW: {
        ApplicationStatus.PENDING,
        ApplicationStatus.REFUSED,
        ApplicationStatus.WITHDRAWN,
    },
    ApplicationStatus.PENDING: {
        ApplicationStatus.APPROVED,
        ApplicationStatus.REFUSED,
        ApplicationStatus.WITHDRAWN,
    },
    ApplicationStatus.APPROVED: set(),
    ApplicationStatus.REFUSED: set(),
    ApplicationStatus.WITHDRAWN: set(),
}


class Decider(models.TextChoices):
    PROVIDER = "provider", "提供部门"
    AUTHORITY = "authority", "数据主管部门"


class ShareApplication(models.Model):
    """What a consumer department asks for, and the answer it got (R-SHARE-05..09, R-SHARE-14)."""

    number = models.CharField("申请编号", max_length=32, unique=True)
    kind = models.CharField("类型", max_length=16, choices=ApplicationKind.choices)
    resource = models.ForeignKey(
        "catalog.Resource", on_delete=models.PROTECT, related_name="share_applications", verbose_name="资源"
    )
    resource_version = models.PositiveIntegerField("申请时目录版本", default=0)
    consumer = models.ForeignKey(
        "orgs.Department",
        on_delete=models.PROTECT,
        related_name="share_applications",
        verbose_name="申请部门",
    )
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="申请人"
    )
    purpose = models.TextField("使用用途")
    duty_basis = models.TextField("履职依据", blank=True)
    scenario = models.TextField("应用场景", blank=True)
    clients = models.ManyToManyField(
        "clients.ClientSystem", related_name="share_applications", verbose_name="使用的应用系统"
    )
    items = models.JSONField("申请信息项", default=list)
    methods = models.JSONField("申请共享方式", default=list)
    valid_from = models.DateField("使用期限自")
    valid_until = models.DateField("使用期限至")
    batch_justification = models.TextField("批量交换理由", blank=True)
    letter = models.FileField("申请函（加盖公章）", upload_to="sharing/letters/%Y/%m/", blank=True)
    offplatform = models.BooleanField("线下申请补录", default=False)
    received_on = models.DateField("收到申请日期")
    terms_accepted_at = models.DateTimeField("接受使用要求时间", null=True, blank=True)
    decider = models.CharField("审核方", max_length=16, choices=Decider.choices, default=Decider.PROVIDER)
    status = models.CharField("状态", max_length=16, choices=ApplicationStatus.choices, db_index=True)
    submitted_at = models.DateTimeField("提交时间", default=timezone.now)
    prereviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    prereviewed_at = models.DateTimeField("初审时间", null=True, blank=True)
    prereview_comment = models.TextField("初审意见", blank=True)
    forwarded_on = models.DateField("转提供部门日期", null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField("答复时间", null=True, blank=True)
    decision_comment = models.TextField("答复意见", blank=True)
    refusal_reason = models.TextField("不予共享理由", blank=True)
    refusal_basis = models.TextField("法律政策依据", blank=True)
    withdrawn_at = models.DateTimeField("撤回时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "共享申请"
        ordering = ["-submitted_at", "-id"]
        indexes = [models.Index(fields=["consumer", "status"], name="shareapp_consumer_status")]

    def __str__(self):
        return f"{self.number} {self.resource.name}"

    @property
    def is_open(self) -> bool:
        return self.status in (ApplicationStatus.PREREVIEW, ApplicationStatus.PENDING)


class GrantStatus(models.TextChoices):
    ACTIVE = "active", "有效"
    SUSPENDED = "suspended", "已暂停"
    TERMINATED = "terminated", "已终止"


GRANT_TRANSITIONS: dict[str, set[str]] = {
    GrantStatus.ACTIVE: {GrantStatus.SUSPENDED, GrantStatus.TERMINATED},
    GrantStatus.SUSPENDED: {GrantStatus.ACTIVE, GrantStatus.TERMINATED},
    GrantStatus.TERMINATED: set(),
}


def _salt() -> str:
    return secrets.token_hex(16)


class Grant(models.Model):
    """Consumer department × resource × client systems × purpose × items × rows × methods × validity × quota.

    `masks` maps an item code to a rule spec of masking.py ("keep:3:4", "hash", "year", "null";
    absent = shown as stored). `row_filter` is a list of conditions of scope.py, all of which a row
    must meet. `hash_salt` makes salted-hash masks differ between grants, so two consumers cannot
    join their hashed values.
    """

    number = models.CharField("授权编号", max_length=32, unique=True)
    application = models.OneToOneField(
        ShareApplication, on_delete=models.PROTECT, related_name="grant", verbose_name="来源申请"
    )
    resource = models.ForeignKey(
        "catalog.Resource", on_delete=models.PROTECT, related_name="grants", verbose_name="资源"
    )
    consumer = models.ForeignKey(
        "orgs.Department", on_delete=models.PROTECT, related_name="grants", verbose_name="使用部门"
    )
    clients = models.ManyToManyField("clients.ClientSystem", related_name="grants", verbose_name="应用系统")
    purpose = models.TextField("使用用途")
    items = models.JSONField("授权信息项", default=list)
    masks = models.JSONField("脱敏规则", default=dict, blank=True)
    row_filter = models.JSONField("行范围", default=list, blank=True)
    methods = models.JSONField("共享方式", default=list)
    valid_from = models.DateField("有效期自")
    valid_until = models.DateField("有效期至")
    daily_quota = models.PositiveIntegerField("每日调用上限", null=True, blank=True)
    hash_salt = models.CharField(max_length=32, default=_salt, editable=False)
    status = models.CharField(
        "状态", max_length=16, choices=GrantStatus.choices, default=GrantStatus.ACTIVE, db_index=True
    )
    status_reason = models.TextField("状态变更原因", blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # CZ 第二十一条第（三）项: supply of a not-shared resource is filed with the authority first.
    filing_required = models.BooleanField("须备案", default=False)
    filed_at = models.DateTimeField("备案时间", null=True, blank=True)
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="授权人"
    )
    created_at = models.DateTimeField("授权时间", default=timezone.now)
    # Expiry needs no action to take effect (the gate compares dates); this only says both sides were told.
    expiry_notified_at = models.DateTimeField("到期通知时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "授权"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["resource", "status"], name="grant_resource_status")]

    def __str__(self):
        return f"{self.number} {self.resource.name} → {self.consumer.name}"

    def expired(self, today: dt.date | None = None) -> bool:
        return (today or timezone.localdate()) > self.valid_until

    def not_yet_valid(self, today: dt.date | None = None) -> bool:
        return (today or timezone.localdate()) < self.valid_from

    @property
    def state_label(self) -> str:
        if self.status == GrantStatus.ACTIVE:
            if self.expired():
                return "已过期"
            if self.not_yet_valid():
                return "未到期限"
            if self.filing_required and self.filed_at is None:
                return "待备案"
        return self.get_status_display()


class GrantUsage(models.Model):
    """Calls counted per grant and day, only for grants with a quota (R-SHARE-10)."""

    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="usage")
    day = models.DateField()
    calls = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["grant", "day"], name="grant_usage_day")]


class CaseStatus(models.TextChoices):
    OPEN = "open", "协商中"
    ESCALATED = "escalated", "已提请协调"
    AGREED = "agreed", "已达成供给"
    CLOSED = "closed", "已办结（不供给）"


CASE_TRANSITIONS: dict[str, set[str]] = {
    CaseStatus.OPEN: {CaseStatus.ESCALATED, CaseStatus.AGREED, CaseStatus.CLOSED},
    CaseStatus.ESCALATED: {CaseStatus.AGREED, CaseStatus.CLOSED},
    CaseStatus.AGREED: set(),
    CaseStatus.CLOSED: set(),
}


class NegotiationCase(models.Model):
    """Consumer and provider negotiate a not-shared or refused resource; the authority coordinates (R-SHARE-11/12)."""

    number = models.CharField("协商编号", max_length=32, unique=True)
    resource = models.ForeignKey(
        "catalog.Resource", on_delete=models.PROTECT, related_name="negotiations", verbose_name="资源"
    )
    consumer = models.ForeignKey(
        "orgs.Department",
        on_delete=models.PROTECT,
        related_name="negotiations_opened",
        verbose_name="使用部门",
    )
    provider = models.ForeignKey(
        "orgs.Department",
        on_delete=models.PROTECT,
        related_name="negotiations_received",
        verbose_name="提供部门",
    )
    application = models.ForeignKey(
        ShareApplication,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="negotiations",
        verbose_name="被拒绝的申请",
    )
    subject = models.TextField("需求说明")
    status = models.CharField("状态", max_length=16, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    outcome = models.TextField("协调结果", blank=True)
    grant = models.OneToOneField(
        "Grant",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="negotiation",
        verbose_name="达成供给的授权",
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = verbose_name_plural = "共享协商"
        ordering = ["-opened_at", "-id"]

    def __str__(self):
        return f"{self.number} {self.resource.name}"


class CaseMessage(models.Model):
    case = models.ForeignKey(NegotiationCase, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField("意见")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel（xlsx）"
    PARQUET = "parquet", "Parquet"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "排队中"
    RUNNING = "running", "生成中"
    DONE = "done", "已完成"
    FAILED = "failed", "失败"


class ExportJob(models.Model):
    """A batch delivery of a grant's items and rows, produced in the background, downloadable until it expires."""

    grant = models.ForeignKey(Grant, on_delete=models.PROTECT, related_name="exports")
    client = models.ForeignKey("clients.ClientSystem", on_delete=models.PROTECT, related_name="+")
    # The token that asked: revoking it (or its expiry) kills the job's download link too.
    credential = models.ForeignKey(
        "clients.Credential", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    format = models.CharField("格式", max_length=8, choices=ExportFormat.choices)
    status = models.CharField("状态", max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    case_id = models.CharField("办件编号", max_length=64, blank=True)
    rows = models.PositiveBigIntegerField("行数", default=0)
    file = models.FileField(upload_to="sharing/exports/%Y/%m/", blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "批量导出"
        ordering = ["-created_at", "-id"]
