"""Operators may look at client systems and credentials here, not change them.

Every change goes through services.py so that it is permission-checked and audited; the admin would
bypass both. The secret hash is never shown.
"""

from django.contrib import admin

from .models import ClientSystem, Credential


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CredentialInline(admin.TabularInline):
    model = Credential
    fields = ("prefix", "label", "created_at", "expires_at", "last_used_at", "revoked_at", "revoke_reason")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ClientSystem)
class ClientSystemAdmin(ReadOnlyAdmin):
    list_display = ("name", "code", "department", "status", "created_by", "created_at")
    list_filter = ("status", "department")
    search_fields = ("name", "code", "department__name")
    readonly_fields = (
        "department",
        "name",
        "code",
        "description",
        "status",
        "created_by",
        "created_at",
        "disabled_at",
        "disabled_by",
        "disable_reason",
    )
    fields = readonly_fields
    inlines = [CredentialInline]


@admin.register(Credential)
class CredentialAdmin(ReadOnlyAdmin):
    list_display = ("prefix", "client", "label", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("client__department",)
    search_fields = ("prefix", "label", "client__code", "client__name")
    list_select_related = ("client",)
    fields = (
        "client",
        "prefix",
        "label",
        "created_by",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "revoked_by",
        "revoke_reason",
        "rotated_from",
    )
    readonly_fields = fields
