"""Every legal deadline is an Obligation (DESIGN §3, idea 2): who must act, on what, by when, under
which requirement and article. Reminders, overdue flags and the supervision views read these rows.

The due date, the article and the profile are copied onto the row when it opens, so switching the
instance's profile later never rewrites a deadline that was already running.
"""

from django.conf import settings
from django.db import models


class ObligationStatus(models.TextChoices):
    OPEN = "open", "办理中"
    OVERDUE = "overdue", "已逾期"
    FULFILLED = "fulfilled", "已办结"
    CANCELLED = "cancelled", "已撤销"


class Obligation(models.Model):
    department = models.ForeignKey(
        "orgs.Department", on_delete=models.PROTECT, related_name="obligations", verbose_name="责任部门"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="责任人",
    )
    duty = models.CharField("事项代码", max_length=64)
    title = models.CharField("事项", max_length=200)
    subject_type = models.CharField("对象类型", max_length=64)
    subject_id = models.CharField("对象", max_length=64)
    subject_label = models.CharField("对象名称", max_length=200)
    link = models.CharField("链接", max_length=300, blank=True)
    requirement = models.CharField("需求编号", max_length=32)
    article = models.CharField("依据条款", max_length=300, blank=True)
    profile = models.CharField("政策配置", max_length=32)
    parameter = models.CharField("时限参数", max_length=64, blank=True)
    period_unit = models.CharField("时限单位", max_length=16, blank=True)  # working_days | months | date
    period = models.PositiveIntegerField("时限", null=True, blank=True)
    started_on = models.DateField("起算日")
    due_on = models.DateField("截止日", null=True, blank=True)
    provisional = models.BooleanField("临时（节假日数据未发布）", default=False)
    extension_parameter = models.CharField("延期上限参数", max_length=64, blank=True)
    extension_approver_role = models.CharField("延期审批角色", max_length=16, blank=True)
    status = models.CharField(
        "状态", max_length=16, choices=ObligationStatus.choices, default=ObligationStatus.OPEN
    )
    reminded_at = models.DateTimeField(null=True, blank=True)
    overdue_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    close_note = models.CharField("办结说明", max_length=300, blank=True)
    fulfilled_late = models.BooleanField("逾期办结", default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "时限事项"
        ordering = ["due_on", "id"]
        indexes = [
            models.Index(fields=["status", "due_on"]),
            models.Index(fields=["department", "status"]),
            models.Index(fields=["subject_type", "subject_id", "duty"]),
        ]

    def __str__(self):
        return f"{self.title} · {self.subject_label}"

    @property
    def is_active(self) -> bool:
        return self.status in (ObligationStatus.OPEN, ObligationStatus.OVERDUE)


class Extension(models.Model):
    obligation = models.ForeignKey(Obligation, on_delete=models.CASCADE, related_name="extensions")
    working_days = models.PositiveIntegerField("延长工作日")
    reason = models.CharField("理由", max_length=300)
    old_due_on = models.DateField()
    new_due_on = models.DateField()
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]


class Filing(models.Model):
    """A record a department files with the authority: county changes (R-FED-07), annual reports
    (R-SUP-05), catalog maintenance confirmations (R-CAT-14). Filing fulfils the matching obligation."""

    class Kind(models.TextChoices):
        COUNTY_CHANGE = "county_change", "目录变更报备"
        ANNUAL_REPORT = "annual_report", "年度工作报告"
        COUNTY_ANNUAL_REPORT = "county_annual_report", "县级年度报告"
        MAINTENANCE = "maintenance", "目录全面维护确认"

    department = models.ForeignKey("orgs.Department", on_delete=models.PROTECT, related_name="filings")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    period = models.CharField("所属期", max_length=32, blank=True)
    summary = models.TextField("内容")
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    filed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-filed_at"]


class CatalogTrigger(models.Model):
    """A department records a law revision or function change that obliges a catalog update (R-CAT-13)."""

    class Event(models.TextChoices):
        LAW_REVISION = "law_revision", "法律法规修订"
        FUNCTION_CHANGE = "function_change", "行政职能调整"
        CONTENT_CHANGE = "content_change", "目录内容变化"

    department = models.ForeignKey("orgs.Department", on_delete=models.PROTECT, related_name="+")
    resource = models.ForeignKey(
        "catalog.Resource", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    event = models.CharField(max_length=32, choices=Event.choices)
    description = models.TextField("情况说明")
    occurred_on = models.DateField("发生日期")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
