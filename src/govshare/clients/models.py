"""Client systems (应用系统) and their bearer-token credentials (凭证), DESIGN §6.

A department registers the software that will call the platform on its behalf (R-COL-14 keeps the
registry, R-SHARE grants will name the system). Each system holds any number of credentials; a
credential is scoped to exactly one system, expires, can be revoked, and stores only the SHA-256 of
its secret (see tokens.py for why a fast hash is right for random tokens).
"""

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone


class ClientStatus(models.TextChoices):
    ACTIVE = "active", "启用"
    DISABLED = "disabled", "停用"


class ClientSystem(models.Model):
    department = models.ForeignKey(
        "orgs.Department", on_delete=models.PROTECT, related_name="client_systems", verbose_name="所属部门"
    )
    name = models.CharField("系统名称", max_length=128)
    code = models.SlugField("系统编码", max_length=64, unique=True)
    description = models.TextField("系统说明", blank=True)
    status = models.CharField(
        "状态", max_length=16, choices=ClientStatus.choices, default=ClientStatus.ACTIVE, db_index=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="登记人"
    )
    created_at = models.DateTimeField("登记时间", default=timezone.now)
    # Who disabled it matters: a system the authority stopped may only be re-enabled by the authority.
    disabled_at = models.DateTimeField("停用时间", null=True, blank=True)
    disabled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="停用人",
    )
    disable_reason = models.CharField("停用原因", max_length=500, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "应用系统"
        ordering = ["department_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["department", "name"], name="clients_system_dept_name"),
        ]

    def __str__(self):
        return f"{self.name}（{self.code}）"

    @property
    def is_active(self) -> bool:
        return self.status == ClientStatus.ACTIVE

    @property
    def disabled_by_outsider(self) -> bool:
        """Disabled by someone outside the owning department, i.e. by the data authority."""
        return (
            self.status == ClientStatus.DISABLED
            and self.disabled_by is not None
            and self.disabled_by.department_id != self.department_id
        )


class CredentialState(models.TextChoices):
    ACTIVE = "active", "有效"
    ROTATING = "rotating", "轮换过渡期"
    EXPIRED = "expired", "已过期"
    REVOKED = "revoked", "已吊销"


class Credential(models.Model):
    """One bearer token of one client system. The plaintext is never stored, only `secret_hash`."""

    client = models.ForeignKey(
        ClientSystem, on_delete=models.PROTECT, related_name="credentials", verbose_name="应用系统"
    )
    label = models.CharField("用途说明", max_length=100, blank=True)
    prefix = models.CharField("凭证编号", max_length=10, unique=True)  # unique => indexed lookup
    secret_hash = models.CharField("密钥摘要（SHA-256）", max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="签发人"
    )
    created_at = models.DateTimeField("签发时间", default=timezone.now)
    expires_at = models.DateTimeField("有效期至")
    revoked_at = models.DateTimeField("吊销时间", null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="吊销人",
    )
    revoke_reason = models.CharField("吊销原因", max_length=500, blank=True)
    last_used_at = models.DateTimeField("最近使用", null=True, blank=True)
    # One-to-one: a credential is rotated at most once, so two overlapping rotations cannot race.
    rotated_from = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rotated_to",
        verbose_name="轮换自",
    )

    class Meta:
        verbose_name = verbose_name_plural = "凭证"
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.prefix}（{self.label or self.client.name}）"

    @property
    def display_prefix(self) -> str:
        return f"gs_{self.prefix}_…"

    def state(self, now: dt.datetime | None = None) -> str:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return CredentialState.REVOKED
        if self.expires_at <= now:
            return CredentialState.EXPIRED
        if hasattr(self, "rotated_to"):
            return CredentialState.ROTATING
        return CredentialState.ACTIVE

    @property
    def state_now(self) -> str:
        return self.state()

    @property
    def state_label(self) -> str:
        return CredentialState(self.state()).label

    @property
    def usable(self) -> bool:
        return self.state() in (CredentialState.ACTIVE, CredentialState.ROTATING)
