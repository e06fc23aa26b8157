"""The authority and the operator maintain the data-element dictionary in Django's admin.

Importing this module registers the admin classes. Whether a source is authoritative, and how a case
ends, are decided through the services (reason required, audited, both departments notified), so the
admin shows those fields read-only.
"""

from django.contrib import admin

from govshare.audit import services as audit

from .models import CoordinationCase, DataElement, ElementSource


class SourceInline(admin.TabularInline):
    model = ElementSource
    fields = ("department", "resource", "item_code", "authoritative", "override_reason", "override_by")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "来源部门（一数一源）"

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DataElement)
class DataElementAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "synonym_list", "data_type", "format_check", "source_count")
    list_filter = ("format_check", "data_type")
    search_fields = ("code", "name", "description")
    inlines = [SourceInline]

    @admin.display(description="同义名称")
    def synonym_list(self, obj):
        return "、".join(obj.synonyms or [])

    @admin.display(description="来源数")
    def source_count(self, obj):
        return obj.sources.count()

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit.record(
            "elements.element.change" if change else "elements.element.create",
            actor=request.user,
            object=obj,
            detail={"code": obj.code, "name": obj.name, "fields": ",".join(form.changed_data)[:500]},
        )

    def delete_model(self, request, obj):
        audit.record("elements.element.delete", actor=request.user, object=obj, detail={"code": obj.code})
        super().delete_model(request, obj)


@admin.register(ElementSource)
class ElementSourceAdmin(admin.ModelAdmin):
    """View and remove only: bindings come from publishing and from the provider's page."""

    list_display = ("element", "department", "resource", "item_code", "authoritative", "created_at")
    list_filter = ("authoritative", "department")
    search_fields = ("element__code", "element__name", "resource__code", "resource__name", "item_code")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def _audit_delete(self, request, obj):
        audit.record(
            "elements.source.unbind",
            actor=request.user,
            object=obj,
            detail={"element": obj.element.code, "resource": obj.resource.code, "item": obj.item_code},
        )

    def delete_model(self, request, obj):
        self._audit_delete(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset.select_related("element", "resource"):
            self._audit_delete(request, obj)
        super().delete_queryset(request, queryset)


@admin.register(CoordinationCase)
class CoordinationCaseAdmin(admin.ModelAdmin):
    list_display = ("element", "key", "status", "opened_at", "resolved_at")
    list_filter = ("status", "element")
    search_fields = ("key", "element__name")
    readonly_fields = (
        "element",
        "key",
        "values",
        "departments",
        "status",
        "opened_at",
        "resolved_at",
        "resolved_by",
        "resolution",
    )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
