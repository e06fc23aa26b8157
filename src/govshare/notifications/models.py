"""In-app inbox. A notice goes to a department (all its officers see it) or to one person."""

from django.conf import settings
from django.db import models


class Notification(models.Model):
    department = models.ForeignKey(
        "orgs.Department", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField("事件", max_length=48)
    title = models.CharField("标题", max_length=200)
    body = models.TextField("内容", blank=True)
    link = models.CharField("链接", max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]


class NotificationRead(models.Model):
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notification", "user"], name="uniq_notification_read")
        ]


class NotificationPreference(models.Model):
    """A person's choice for one event kind; no row means the defaults in `events`."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField("事件", max_length=48)
    in_app = models.BooleanField("站内通知", default=True)
    email = models.BooleanField("电子邮件", default=False)

    class Meta:
        verbose_name = "通知设置"
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="uniq_notification_pref")]


class Webhook(models.Model):
    """A department's receiver: every notice to the department whose kind it subscribes to is POSTed here."""

    department = models.ForeignKey(
        "orgs.Department", on_delete=models.CASCADE, related_name="webhooks", verbose_name="部门"
    )
    url = models.CharField("接收地址", max_length=500)
    # Kept in clear because every delivery is signed with it; shown to people once, at creation.
    secret = models.CharField("签名密钥", max_length=128)
    kinds = models.JSONField("订阅事件", default=list, blank=True, help_text="为空表示全部事件")
    is_active = models.BooleanField("启用", default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "Webhook"
        ordering = ["-created_at"]

    def __str__(self):
        return self.url

    def wants(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "待投递"
    DELIVERED = "delivered", "已送达"
    FAILED = "failed", "失败"


class WebhookDelivery(models.Model):
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        "状态", max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField("尝试次数", default=0)
    next_attempt_at = models.DateTimeField("下次尝试", null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField("最近状态码", null=True, blank=True)
    last_error = models.CharField("最近错误", max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField("送达时间", null=True, blank=True)

    class Meta:
        verbose_name = "Webhook 投递"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["webhook", "notification"], name="uniq_webhook_delivery")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due")]


class WebhookAttempt(models.Model):
    """One POST of a delivery: the log a department reads when its receiver misbehaves."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField("次序")
    at = models.DateTimeField("时间")
    status_code = models.PositiveSmallIntegerField("状态码", null=True, blank=True)
    error = models.CharField("错误", max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField("耗时（毫秒）", default=0)

    class Meta:
        ordering = ["delivery_id", "number"]
