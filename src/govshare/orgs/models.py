"""Regions, departments, people and their roles (R-ORG-01..08)."""

from functools import cached_property

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models

from .identifiers import validate_uscc


class RegionLevel(models.TextChoices):
    PROVINCE = "province", "省级"
    CITY = "city", "市级"
    COUNTY = "county", "县级"


class Region(models.Model):
    """A GB/T 2260 administrative division; the tree departments and levels hang off."""

    code = models.CharField("行政区划代码", max_length=6, primary_key=True)
    name = models.CharField("名称", max_length=64)
    level = models.CharField("层级", max_length=16, choices=RegionLevel.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    class Meta:
        verbose_name = "行政区划"
        ordering = ["code"]

    def __str__(self):
        return f"{self.name}（{self.code}）"


class DepartmentKind(models.TextChoices):
    """Who may sit on the platform (R-ORG-04); the last four are 参照执行 participants."""

    GOVERNMENT = "government", "政府部门"
    AUTHORITY = "authority", "数据主管部门"
    OPERATOR = "operator", "平台管理/技术服务单位"
    PUBLIC_INSTITUTION = "public_institution", "授权事业单位/社会组织"
    PUBLIC_MANAGEMENT = "public_management", "具有公共管理职能的组织"
    FISCAL_FUNDED = "fiscal_funded", "使用财政资金的组织"
    PARK_COMMITTEE = "park_committee", "园区管委会"
    TOWNSHIP = "township", "镇（街道）、区（园）"
    STATIONED_UNIT = "stationed_unit", "驻地中央、省属单位（参照执行）"
    JUDICIAL = "judicial", "法院、检察院（参照执行）"
    PUBLIC_UTILITY = "public_utility", "公共企事业单位（参照执行）"

    @classmethod
    def by_reference(cls):
        return {cls.STATIONED_UNIT, cls.JUDICIAL, cls.PUBLIC_UTILITY}


class Department(models.Model):
    name = models.CharField("部门名称", max_length=128, unique=True)
    short_name = models.CharField("简称", max_length=64, blank=True)
    uscc = models.CharField("统一社会信用代码", max_length=18, unique=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, verbose_name="行政区划")
    level = models.CharField("层级", max_length=16, choices=RegionLevel.choices)
    kind = models.CharField(
        "类型", max_length=32, choices=DepartmentKind.choices, default=DepartmentKind.GOVERNMENT
    )
    platform = models.CharField(
        "接入平台", max_length=128, help_text="该部门接入的共享平台（上级平台联邦用）"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="units", verbose_name="上级单位"
    )
    head = models.ForeignKey(
        "User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name="主要负责人"
    )
    is_active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "部门"
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        result = validate_uscc(self.uscc)
        if not result.valid:
            raise ValidationError({"uscc": f"统一社会信用代码无效：{result.reason}"})
        self.uscc = result.value

    @property
    def by_reference(self) -> bool:
        return self.kind in DepartmentKind.by_reference()

    def active_officers(self):
        """Designated data officers (数据专员, R-ORG-03): active people holding an officer role here."""
        return User.objects.filter(
            department=self, is_active=True, roles__role__in=Role.officer_roles()
        ).distinct()


class Role(models.TextChoices):
    AUTHORITY = "authority", "数据主管部门"
    PROVIDER = "provider", "提供部门数据专员"
    CONSUMER = "consumer", "使用部门数据专员"
    HEAD = "head", "部门主要负责人"
    OPERATOR = "operator", "平台运维/技术服务"
    AUDITOR = "auditor", "审计"
    EVALUATOR = "evaluator", "第三方评估"

    @classmethod
    def officer_roles(cls):
        return [cls.AUTHORITY, cls.PROVIDER, cls.CONSUMER, cls.OPERATOR]


class User(AbstractUser):
    full_name = models.CharField("姓名", max_length=64, blank=True)
    phone = models.CharField("联系电话", max_length=32, blank=True)
    department = models.ForeignKey(
        Department,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
        verbose_name="所属部门",
    )

    class Meta:
        verbose_name = "用户"

    def __str__(self):
        return self.full_name or self.username

    @cached_property
    def role_codes(self) -> frozenset[str]:
        return frozenset(self.roles.values_list("role", flat=True))

    def has_role(self, *roles: str) -> bool:
        return self.is_active and bool(self.role_codes.intersection(roles))

    @property
    def is_authority(self) -> bool:
        return self.has_role(Role.AUTHORITY)


class UserRole(models.Model):
    """A role held by a person, scoped to that person's department (DESIGN §1)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField("角色", max_length=16, choices=Role.choices)

    class Meta:
        verbose_name = "角色"
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="uniq_user_role")]

    def __str__(self):
        return f"{self.user} · {self.get_role_display()}"
