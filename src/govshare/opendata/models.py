"""Open data (开放, R-OPEN-01..15): what a department opens to the public, as dated de-identified versions.

A catalog entry whose open type is unconditional or conditional becomes an `OpenDataset` only through a
confidentiality review (保密审查, R-OPEN-06) that records the reviewer, the date and the
de-identification rule of every item. Opening publishes an immutable `OpenVersion`: a snapshot file
written once, with its row count and SHA-256, so a citizen can cite exactly what was downloaded. Later
loads make a new version only after a new review, or at once where the provider chose auto-publish.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

# R-OPEN-13 (SR 21): the domains the portal browses by, at least these.
DOMAINS: tuple[tuple[str, str], ...] = (
    ("credit", "信用"),
    ("transport", "交通"),
    ("medical", "医疗"),
    ("health", "卫生"),
    ("employment", "就业"),
    ("social_security", "社保"),
    ("geography", "地理"),
    ("culture", "文化"),
    ("education", "教育"),
    ("technology", "科技"),
    ("energy", "能源"),
    ("agriculture", "农业"),
    ("environment", "环境"),
    ("economy", "经济"),
    ("finance", "金融"),
    ("safety", "安全"),
    ("statistics", "统计"),
    ("weather", "气象"),
    ("enterprise", "企业登记监管"),
    ("other", "其他"),
)


class DatasetStatus(models.TextChoices):
    OPEN = "open", "开放中"
    SUSPENDED = "suspended", "已中止开放"  # an objection was received (CZ 28)
    WITHDRAWN = "withdrawn", "已撤回"


DATASET_TRANSITIONS: dict[str, set[str]] = {
    DatasetStatus.OPEN: {DatasetStatus.SUSPENDED, DatasetStatus.WITHDRAWN},
    DatasetStatus.SUSPENDED: {DatasetStatus.OPEN, DatasetStatus.WITHDRAWN},
    DatasetStatus.WITHDRAWN: {DatasetStatus.OPEN},  # reopened after processing, with a new review
}


class OpenDataset(models.Model):
    resource = models.OneToOneField(
        "catalog.Resource", on_delete=models.PROTECT, related_name="open_dataset", verbose_name="目录"
    )
    # CKAN's package name: lowercase letters, digits, - and _ (from the catalog code, e.g. "r301-000001")
    name = models.SlugField("数据集标识", max_length=100, unique=True)
    title = models.CharField("数据集名称", max_length=200)
    description = models.TextField("数据集描述", blank=True)
    domain = models.CharField("开放领域", max_length=32, choices=DOMAINS, db_index=True)
    open_type = models.CharField("开放类型", max_length=16)  # the catalog's, when opened
    provider = models.ForeignKey("orgs.Department", on_delete=models.PROTECT, related_name="open_datasets")
    status = models.CharField("状态", max_length=16, choices=DatasetStatus.choices, db_index=True)
    status_reason = models.TextField("状态说明", blank=True)
    rules = models.JSONField("去标识化规则", default=dict)  # item code → masking spec or "suppress"
    hash_salt = models.CharField(max_length=64)
    auto_publish = models.BooleanField("新数据自动发布新版本", default=False)
    current = models.ForeignKey(
        "OpenVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    has_xlsx = models.BooleanField(default=False)  # the current version has an xlsx file (format facet)
    search_text = models.TextField(blank=True)  # title, description, items, provider: what search matches
    opened_at = models.DateTimeField("首次开放时间")
    updated_at = models.DateTimeField("更新时间")

    class Meta:
        verbose_name = verbose_name_plural = "开放数据集"
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["status", "domain"], name="open_status_domain")]

    def __str__(self):
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status == DatasetStatus.OPEN


class Review(models.Model):
    """One confidentiality review (保密审查): who checked what, when, with which rules (R-OPEN-06)."""

    dataset = models.ForeignKey(OpenDataset, on_delete=models.CASCADE, null=True, related_name="reviews")
    resource = models.ForeignKey("catalog.Resource", on_delete=models.PROTECT, related_name="+")
    resource_version = models.PositiveIntegerField()
    source_seq = models.BigIntegerField("审查时数据变更序号", default=0)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reviewed_on = models.DateField("审查日期")
    conclusion = models.TextField("审查结论")
    rules = models.JSONField("去标识化规则")
    created_at = models.DateTimeField(auto_now_add=True)


class VersionStatus(models.TextChoices):
    BUILDING = "building", "生成中"
    READY = "ready", "已发布"
    FAILED = "failed", "生成失败"
    RETRACTED = "retracted", "已撤回"  # an objection held: no longer downloadable, kept as the record


class OpenVersion(models.Model):
    """A dated, immutable snapshot of an open dataset."""

    dataset = models.ForeignKey(OpenDataset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField("版本号")
    review = models.ForeignKey(Review, on_delete=models.PROTECT, related_name="versions")
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.BUILDING)
    source_seq = models.BigIntegerField("数据变更序号")
    items = models.JSONField("开放信息项", default=list)  # [{"code","name","rule"}] in catalog order
    rows = models.PositiveIntegerField("行数", default=0)
    size = models.PositiveBigIntegerField("文件大小", default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    file = models.FileField(upload_to="opendata/", blank=True)  # CSV, UTF-8 with BOM
    xlsx_file = models.FileField(upload_to="opendata/", blank=True)  # only up to XLSX_MAX_ROWS rows
    preview = models.JSONField("预览（前若干行）", default=list)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField("发布时间", auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)  # claimed by a worker: built once
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["dataset", "number"], name="open_version_number")]


# ---------------------------------------------------------------- public accounts (NX 46, R-OPEN-07, R-OPEN-15)


class IdentityStatus(models.TextChoices):
    NONE = "none", "未认证"
    PENDING = "pending", "待人工核验"
    VERIFIED = "verified", "已通过身份认证"
    FAILED = "failed", "未通过身份认证"


class PublicProfile(models.Model):
    """A member of the public's portal account: the identity check (NX 46) and what it found.

    The 公民身份号码 is never kept in clear: an HMAC recognises the same number again, and a masked form
    (first 6, last 4) is what people and operators see.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="public_profile"
    )
    id_name = models.CharField("认证姓名", max_length=64, blank=True)
    id_hmac = models.CharField(max_length=64, blank=True, db_index=True)
    id_masked = models.CharField("公民身份号码（脱敏）", max_length=32, blank=True)
    identity_status = models.CharField(
        "身份认证状态",
        max_length=16,
        choices=IdentityStatus.choices,
        default=IdentityStatus.NONE,
        db_index=True,
    )
    identity_method = models.CharField("认证方式", max_length=16, blank=True)  # population | manual
    identity_note = models.TextField("认证说明", blank=True)
    identity_submitted_at = models.DateTimeField("提交认证时间", null=True, blank=True)
    identity_checked_at = models.DateTimeField("认证完成时间", null=True, blank=True)
    identity_checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField("注册时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "公众账号"

    @property
    def verified(self) -> bool:
        return self.identity_status == IdentityStatus.VERIFIED


class IdentityAttempt(models.Model):
    """One submitted identity check: counted against the daily limits per account and per number."""

    profile = models.ForeignKey(PublicProfile, on_delete=models.CASCADE, related_name="attempts")
    id_hmac = models.CharField(max_length=64, blank=True, db_index=True)  # the number tried, never in clear
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    method = models.CharField(max_length=16)  # population | manual
    outcome = models.CharField(max_length=16, blank=True)  # verified | failed | pending | busy


class TermsAcceptance(models.Model):
    """An account accepted one version of the terms of use (R-OPEN-15); a new version asks again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="open_terms")
    version = models.CharField("条款版本", max_length=16)
    accepted_at = models.DateTimeField("接受时间")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "version"], name="open_terms_once")]


class Download(models.Model):
    """One download of an open dataset version by an account (also an `open.download` audit event)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="open_downloads"
    )
    dataset = models.ForeignKey(OpenDataset, on_delete=models.PROTECT, related_name="downloads")
    version = models.ForeignKey(OpenVersion, on_delete=models.PROTECT, related_name="downloads")
    fmt = models.CharField("格式", max_length=8)
    rows = models.PositiveIntegerField("行数", default=0)
    at = models.DateTimeField("下载时间", auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user", "-at"], name="open_download_user_at")]


# ---------------------------------------------------------------- conditional open applications (R-OPEN-08/09/15)


class ApplicationStatus(models.TextChoices):
    PENDING = "pending", "待答复"
    AGREEMENT = "agreement", "已同意，待签署协议"  # CZ 27: access starts once the agreement is accepted
    APPROVED = "approved", "已同意"
    REFUSED = "refused", "未同意"
    WITHDRAWN = "withdrawn", "已撤回"
    REVOKED = "revoked", "已撤销授权"


APPLICATION_TRANSITIONS: dict[str, set[str]] = {
    ApplicationStatus.PENDING: {
        ApplicationStatus.AGREEMENT,
        ApplicationStatus.APPROVED,
        ApplicationStatus.REFUSED,
        ApplicationStatus.WITHDRAWN,
    },
    ApplicationStatus.AGREEMENT: {
        ApplicationStatus.APPROVED,
        ApplicationStatus.WITHDRAWN,
        ApplicationStatus.REVOKED,
    },
    ApplicationStatus.APPROVED: {ApplicationStatus.REVOKED},
}


class OpenApplication(models.Model):
    """A member of the public asks to use a conditional dataset (有条件开放申请, CZ 27; SR 22; NX 46).

    Approval is the grant: the period of use bounds it (the download gate compares dates), and a
    revocation ends it early (R-OPEN-15).
    """

    number = models.CharField("申请编号", max_length=32, unique=True)
    dataset = models.ForeignKey(OpenDataset, on_delete=models.PROTECT, related_name="applications")
    provider = models.ForeignKey("orgs.Department", on_delete=models.PROTECT, related_name="+")
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="open_applications"
    )
    status = models.CharField(
        "状态",
        max_length=16,
        choices=ApplicationStatus.choices,
        default=ApplicationStatus.PENDING,
        db_index=True,
    )
    purpose = models.TextField("数据用途", blank=True)
    use_from = models.DateField("使用期限起")
    use_until = models.DateField("使用期限止")
    security_measures = models.TextField("安全保障措施", blank=True)
    organization = models.CharField("申请单位", max_length=200, blank=True)
    contact_name = models.CharField("联系人", max_length=64)
    contact_phone = models.CharField("联系电话", max_length=32)
    contact_email = models.CharField("电子邮箱", max_length=254, blank=True)
    submitted_at = models.DateTimeField("申请时间")
    decided_at = models.DateTimeField("答复时间", null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    conditions = models.TextField("使用条件", blank=True)  # set on approval
    refusal_reason = models.TextField("不同意理由", blank=True)
    refusal_basis = models.TextField("法律政策依据", blank=True)
    revoked_at = models.DateTimeField("撤销时间", null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoke_reason = models.TextField("撤销理由", blank=True)
    withdrawn_at = models.DateTimeField("撤回时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "有条件开放申请"
        ordering = ["-submitted_at", "-id"]
        indexes = [
            models.Index(fields=["applicant", "dataset"], name="open_app_applicant_dataset"),
            models.Index(fields=["provider", "status"], name="open_app_provider_status"),
        ]

    def __str__(self):
        return self.number


class UseAgreement(models.Model):
    """The data-use agreement (数据利用协议, R-OPEN-09) an approval produces where the profile says so.

    The text is fixed when the provider approves; acceptance records who accepted it, when, and the
    SHA-256 of exactly that text.
    """

    application = models.OneToOneField(OpenApplication, on_delete=models.PROTECT, related_name="agreement")
    text = models.TextField("协议文本")
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField("生成时间")
    accepted_at = models.DateTimeField("签署时间", null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = verbose_name_plural = "数据利用协议"


class ReplyExtensionStatus(models.TextChoices):
    PENDING = "pending", "待负责人审批"
    APPROVED = "approved", "已批准"
    REFUSED = "refused", "未批准"
    CANCELLED = "cancelled", "已失效"  # the application was answered first


class ReplyExtension(models.Model):
    """The provider asks for more time to reply; the approver the profile names decides (NX 46)."""

    application = models.ForeignKey(OpenApplication, on_delete=models.CASCADE, related_name="extensions")
    working_days = models.PositiveIntegerField("延长工作日")
    reason = models.TextField("延期理由")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=16,
        choices=ReplyExtensionStatus.choices,
        default=ReplyExtensionStatus.PENDING,
        db_index=True,
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    new_due_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]


# ---------------------------------------------------------------- public feedback (R-OPEN-10, -11, -12)


class ObjectionStatus(models.TextChoices):
    VERIFYING = "verifying", "核实中"
    WITHDRAWN = "withdrawn", "核实后撤回数据集"
    RESTORED = "restored", "异议不成立，已恢复开放"
    REOPENED = "reopened", "已处理后重新开放"


class Objection(models.Model):
    """An objection with evidence (异议, CZ 28): on receipt the dataset is suspended at once; the provider
    verifies and withdraws, restores or reprocesses it, and the objector is told the outcome.

    Objections arriving while the dataset is suspended wait for the same finding and are settled with it.
    The verification is also an `Obligation` of the provider without a due date: no profile sets one.
    """

    dataset = models.ForeignKey(OpenDataset, on_delete=models.PROTECT, related_name="objections")
    version = models.ForeignKey(
        OpenVersion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="涉及版本",
    )
    items = models.JSONField("涉及信息项", default=list)  # item codes of the published columns
    reason = models.TextField("异议理由")
    objector = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="open_objections"
    )
    status = models.CharField(
        "状态",
        max_length=16,
        choices=ObjectionStatus.choices,
        default=ObjectionStatus.VERIFYING,
        db_index=True,
    )
    outcome_note = models.TextField("核实结果说明", blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField("办结时间", null=True, blank=True)
    reopened_version = models.ForeignKey(
        OpenVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField("提出时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "开放数据异议"
        ordering = ["-created_at", "-id"]


class ObjectionEvidence(models.Model):
    """A supporting file of an objection; served only to the objector and those who verify it."""

    objection = models.ForeignKey(Objection, on_delete=models.CASCADE, related_name="evidence")
    file = models.FileField(upload_to="opendata/objections/%Y/%m/")
    name = models.CharField("文件名", max_length=200)
    size = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField(auto_now_add=True)


CORRECTION_PARTS: tuple[tuple[str, str], ...] = (
    ("title", "数据集名称"),
    ("description", "数据集描述"),
    ("items", "开放信息项"),
    ("update_cycle", "更新周期"),
    ("domain", "开放领域"),
    ("other", "其他"),
)


class CorrectionStatus(models.TextChoices):
    PENDING = "pending", "待答复"
    AGREED = "agreed", "同意更正"
    REFUSED = "refused", "不予更正"


class CatalogCorrection(models.Model):
    """A request to correct an open dataset's catalog description (开放目录更正申请, NX 45).

    The provider replies within the profile's period (an Obligation); agreeing means the catalog is changed
    through the normal catalog revision workflow, refusing needs reasons (and their basis where required).
    """

    dataset = models.ForeignKey(OpenDataset, on_delete=models.PROTECT, related_name="catalog_corrections")
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="open_catalog_corrections"
    )
    part = models.CharField("更正内容", max_length=16, choices=CORRECTION_PARTS)
    requested = models.TextField("更正建议")
    reason = models.TextField("理由", blank=True)
    status = models.CharField(
        "状态",
        max_length=16,
        choices=CorrectionStatus.choices,
        default=CorrectionStatus.PENDING,
        db_index=True,
    )
    reply = models.TextField("答复", blank=True)  # the agreement's note, or the reasons of a refusal
    basis = models.TextField("不予更正的依据", blank=True)
    replied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    replied_at = models.DateTimeField("答复时间", null=True, blank=True)
    created_at = models.DateTimeField("申请时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "开放目录更正申请"
        ordering = ["-created_at", "-id"]


class Feedback(models.Model):
    """An opinion on a dataset or on the portal (意见建议, R-OPEN-12); anyone, signed in or not.

    `provider` is the dataset's provider when given (who replies and is counted); portal-wide feedback has
    none and is answered by the platform operator.
    """

    dataset = models.ForeignKey(
        OpenDataset, on_delete=models.SET_NULL, null=True, blank=True, related_name="feedback"
    )
    provider = models.ForeignKey(
        "orgs.Department", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    name = models.CharField("称呼", max_length=64, blank=True)
    contact = models.CharField("联系方式", max_length=100, blank=True)
    content = models.TextField("意见建议")
    reply = models.TextField("答复", blank=True)
    replied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    replied_at = models.DateTimeField("答复时间", null=True, blank=True)
    created_at = models.DateTimeField("提交时间", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = verbose_name_plural = "开放数据意见建议"
        ordering = ["-created_at", "-id"]
