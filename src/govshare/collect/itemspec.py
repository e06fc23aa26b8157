"""What the validator needs to know about each information item of a resource.

The format check of an item (公民身份号码, 统一社会信用代码, 行政区划代码, 手机号码) comes from the
data element the item is registered against; an item not yet mapped falls back to its name, so a
provider gets identifier validation from the first load.
"""

from __future__ import annotations

from govshare.collect.columns import ItemSpec

NAME_CHECKS = (
    ("公民身份号码", "ric"),
    ("身份证号", "ric"),
    ("身份证件号码", "ric"),
    ("统一社会信用代码", "uscc"),
    ("行政区划代码", "region"),
    ("区划代码", "region"),
    ("手机号", "mobile"),
    ("移动电话", "mobile"),
)


def check_for_name(name: str) -> str:
    for fragment, check in NAME_CHECKS:
        if fragment in name:
            return check
    return ""


def specs_for(resource) -> list[ItemSpec]:
    from govshare.collect.models import ElementSource

    bound = {
        s.item_code: s.element.format_check
        for s in ElementSource.objects.filter(resource=resource).select_related("element")
    }
    specs = []
    for item in resource.items.order_by("position"):
        check = bound.get(item.code) or check_for_name(item.name)
        specs.append(
            ItemSpec(
                code=item.code,
                name=item.name,
                data_type=item.data_type,
                length=item.length,
                required=item.is_required or item.is_primary,
                primary=item.is_primary,
                indexed=item.is_indexed,
                enum=enum_values(item.enum_values),
                check=check,
                sensitive=item.is_sensitive,
            )
        )
    return specs


def enum_values(entries) -> tuple[str, ...]:
    """Accepted values of an enumeration. Catalog entries written "1 男性" (a GB/T code and its label, as
    the code tables print them) accept the code "1" as well as the whole text."""
    accepted: list[str] = []
    for entry in entries or []:
        text = str(entry).strip()
        code = text.split(" ", 1)[0] if " " in text else ""
        for v in (text, code):
            if v and v not in accepted:
                accepted.append(v)
    return tuple(accepted)
