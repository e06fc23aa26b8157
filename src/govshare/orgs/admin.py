"""Platform operators manage regions, departments and people in Django's admin (is_staff accounts)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import Department, Region, User, UserRole


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "parent")
    list_filter = ("level",)
    search_fields = ("code", "name")
    autocomplete_fields = ("parent",)


class MemberInline(admin.TabularInline):
    model = User
    fields = ("username", "full_name", "phone", "email", "is_active")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "人员（数据专员等）"


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name", "uscc", "region", "level", "kind", "head", "officer_count", "is_active")
    list_filter = ("level", "kind", "is_active")
    search_fields = ("name", "short_name", "uscc")
    autocomplete_fields = ("region", "parent", "head")
    inlines = [MemberInline]

    @admin.display(description="在岗数据专员")
    def officer_count(self, obj):
        return obj.active_officers().count()


class RoleInline(admin.TabularInline):
    model = UserRole
    extra = 1


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "full_name", "department", "roles_display", "is_active")
    list_filter = ("is_active", "roles__role", "department")
    search_fields = ("username", "full_name", "phone", "department__name")
    autocomplete_fields = ("department",)
    inlines = [RoleInline]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("个人信息", {"fields": ("full_name", "phone", "email", "department")}),
        ("权限", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("时间", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "full_name", "department", "password1", "password2"),
            },
        ),
    )

    @admin.display(description="角色")
    def roles_display(self, obj):
        return "、".join(r.get_role_display() for r in obj.roles.all())
