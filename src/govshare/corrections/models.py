"""Correction tickets (疑义 · 纠错 · 校核, R-CORR-01..09).

A ticket disputes one record of a resource (as a consumer saw it through a grant) or the catalog entry
itself (R-CORR-08). It moves along TRANSITIONS; the routing, the deadlines and who hears the outcome
come from the policy profile. While a record ticket is open the delivery gate keeps serving the record
and flags it 核校中 (R-CORR-07).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TicketScope(models.TextChoices):
    RECORD = "record", "数据记录"
    CATALOG = "catalog", "目录"


class TicketStatus(models.TextChoices):
    REPORTED = "reported", "待主管部门受理"  # NX: reported through the authority
    DISPATCHING = "dispatching", "待技术服务单位分发"  # NX: the operator analyses and dispatches
    VERIFYING = "verifying", "核校中"
    FIXING = "fixing", "待更正数据汇聚"
    CLOSED = "closed", "已办结"
    WITHDRAWN = "withdrawn", "已撤回"


OPEN_STATUSES = (
    TicketStatus.REPORTED,
    TicketStatus.DISPATCHING,
    TicketStatus.VERIFYING,
    TicketStatus.FIXING,
)

# Workflow states are explicit; anything not listed is an illegal transition (DESIGN §4).
TRANSITIONS: dict[str, set[str]] = {
    TicketStatus.REPORTED: {TicketStatus.DISPATCHING, TicketStatus.WITHDRAWN},
    TicketStatus.DISPATCHING: {TicketStatus.VERIFYING, TicketStatus.CLOSED, TicketStatus.WITHDRAWN},
    TicketStatus.VERIFYING: {TicketStatus.FIXING, TicketStatus.CLOSED, TicketStatus.WITHDRAWN},
    TicketStatus.FIXING: {TicketStatus.CLOSED},
    TicketStatus.CLOSED: set(),
    TicketStatus.WITHDRAWN: set(),
}


class Outcome(models.TextChoices):
    CORRECTED = "corrected", "已更正"
    PARTLY = "partly", "部分更正"
    NOT_ERROR = "not_error", "经核实无误"


class CorrectionTicket(models.Model):
    number = models.CharField("编号", max_length=32, unique=True)
    scope = models.CharField("对象", max_length=16, choices=TicketScope.choices)
    resource = models.ForeignKey(
        "catalog.Resource", on_delete=models.PROTECT, related_name="corrections", verbose_name="资源"
    )
    resource_version = models.PositiveIntegerField("提出时目录版本")
    provider = models.ForeignKey(
        "orgs.Department",
        on_delete=models.PROTECT,
        related_name="corrections_received",
        verbose_name="提供部门",
    )
    # The disputed record: its key (the provider's own value) and, for the reporter, the record as the
    # grant showed it; record_seq is its change sequence when reported, so arrival of a fix is provable.
    record_key = models.CharField("记录主键值", max_length=128, blank=True)
    record_label = models.CharField("记录（按授权脱敏）", max_length=300, blank=True)
    record_seq = models.BigIntegerField("提出时变更序号", null=True, blank=True)
    items = models.JSONField("有疑义的信息项", default=list)
    description = models.TextField("问题描述")
    suggestion = models.TextField("更正建议", blank=True)
    grant = models.ForeignKey(
        "sharing.Grant", on_delete=models.PROTECT, null=True, blank=True, related_name="corrections"
    )
    reporter_department = models.ForeignKey(
        "orgs.Department",
        on_delete=models.PROTECT,
        related_name="corrections_raised",
        verbose_name="提出部门",
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reporter_client = models.ForeignKey(
        "clients.ClientSystem", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    case_id = models.CharField("办件编号", max_length=64, blank=True)
    routing = models.CharField("流转方式", max_length=32)
    status = models.CharField("状态", max_length=16, choices=TicketStatus.choices, db_index=True)
    analysis = models.TextField("技术服务单位分析意见", blank=True)
    decision_note = models.TextField("核校意见", blank=True)
    decided_at = models.DateTimeField("核校决定时间", null=True, blank=True)
    outcome = models.CharField("结果", max_length=16, choices=Outcome.choices, blank=True)
    outcome_note = models.TextField("结果说明", blank=True)
    closed_at = models.DateTimeField("办结时间", null=True, blank=True)
    created_at = models.DateTimeField("提出时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "疑义纠错"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["resource", "status"], name="corr_resource_status"),
            models.Index(fields=["provider", "status"], name="corr_provider_status"),
        ]

    def __str__(self):
        return f"{self.number} {self.resource.name}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class Evidence(models.Model):
    """A supporting file (佐证材料, required in NX 64); served only to the parties, and audited."""

    ticket = models.ForeignKey(CorrectionTicket, on_delete=models.CASCADE, related_name="evidence")
    file = models.FileField(upload_to="corrections/%Y/%m/")
    name = models.CharField("文件名", max_length=200)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)


class Step(models.Model):
    """The ticket's timeline as the parties read it; the audit log holds the same facts, signed."""

    ticket = models.ForeignKey(CorrectionTicket, on_delete=models.CASCADE, related_name="steps")
    action = models.CharField(max_length=32)
    label = models.CharField(max_length=64)
    note = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    department = models.ForeignKey("orgs.Department", on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]


class ExtensionStatus(models.TextChoices):
    PENDING = "pending", "待负责人审批"
    APPROVED = "approved", "已批准"
    REFUSED = "refused", "未批准"


class ExtensionRequest(models.Model):
    """The provider asks, its head decides (CZ 24: at most 15 wd, the user is told)."""

    ticket = models.ForeignKey(CorrectionTicket, on_delete=models.CASCADE, related_name="extension_requests")
    working_days = models.PositiveIntegerField("延长工作日")
    reason = models.TextField("延期理由")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=16, choices=ExtensionStatus.choices, default=ExtensionStatus.PENDING, db_index=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    new_due_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
