from django import template

from govshare.catalog import rules

register = template.Library()

_VOCAB = {
    "share_type": rules.SHARE_TYPES,
    "open_type": rules.OPEN_TYPES,
    "delivery": rules.DELIVERIES,
    "update_cycle": rules.UPDATE_CYCLES,
    "format_category": rules.FORMAT_CATEGORIES,
    "mount_kind": rules.MOUNT_KINDS,
    "data_type": rules.DATA_TYPES,
    "catalog_kind": rules.CATALOG_KINDS,
}


@register.filter
def vocab(value, kind):
    """Chinese label of a code from the catalog vocabularies; the code itself when unknown."""
    if isinstance(value, list | tuple):
        return "、".join(_VOCAB.get(kind, {}).get(v, v) for v in value)
    if value in (None, ""):
        return "—"
    return _VOCAB.get(kind, {}).get(value, value)


@register.filter
def get(mapping, key):
    return (mapping or {}).get(key)


@register.filter
def field_errors(errors, field):
    return [e["message"] for e in (errors or []) if e.get("field") == field]
