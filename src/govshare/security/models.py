"""Second factor for sign-in (TOTP, RFC 6238) and its single-use recovery codes (R-SEC-01)."""

from django.conf import settings
from django.db import models


class TotpDevice(models.Model):
    """One authenticator app per person. The shared secret is stored encrypted (crypto.py) and shown only
    while the device is unconfirmed; `last_used_step` refuses a code whose time step was already used."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device", verbose_name="用户"
    )
    secret_encrypted = models.TextField("密钥（加密）")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    confirmed_at = models.DateTimeField("启用时间", null=True, blank=True)
    last_used_step = models.BigIntegerField("最近使用的时间步", null=True, blank=True)
    last_used_at = models.DateTimeField("最近验证时间", null=True, blank=True)
    failures = models.PositiveIntegerField("连续失败次数", default=0)
    locked_until = models.DateTimeField("锁定至", null=True, blank=True)

    class Meta:
        verbose_name = "动态口令设备"
        verbose_name_plural = "动态口令设备"

    def __str__(self):
        return f"{self.user} 的动态口令"

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


class RecoveryCode(models.Model):
    """A one-time code for a lost phone; only its SHA-256 is kept (the code carries 80 random bits)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes", verbose_name="用户"
    )
    code_hash = models.CharField("摘要", max_length=64)
    created_at = models.DateTimeField("生成时间", auto_now_add=True)
    used_at = models.DateTimeField("使用时间", null=True, blank=True)

    class Meta:
        verbose_name = "恢复码"
        verbose_name_plural = "恢复码"
        constraints = [models.UniqueConstraint(fields=["user", "code_hash"], name="security_recovery_unique")]

    def __str__(self):
        return f"{self.user} 的恢复码"
