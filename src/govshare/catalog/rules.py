"""Publishing rules for a catalog entry, as a pure function over the proposed payload.

No Django import: the same rules run for the web form, the API, the xlsx bulk import and the tests,
and each refusal names the field in Chinese with a stable code and the requirement behind it.
"""

from dataclasses import dataclass

SHARE_TYPES = {"unconditional": "无条件共享", "conditional": "有条件共享", "none": "不予共享"}
OPEN_TYPES = {"unconditional": "无条件开放", "conditional": "有条件开放", "none": "不予开放"}
DELIVERIES = {"query": "接口查询", "verify": "核验", "batch": "文件（批量）", "table_sync": "库表"}
UPDATE_CYCLES = {
    "realtime": "实时",
    "daily": "每日",
    "weekly": "每周",
    "monthly": "每月",
    "quarterly": "每季度",
    "half_yearly": "每半年",
    "yearly": "每年",
    "irregular": "不定期",
}
FORMAT_CATEGORIES = {
    "database": "数据库",
    "spreadsheet": "电子表格",
    "document": "电子文件",
    "image": "图形图像",
    "stream": "流媒体",
    "self_describing": "自描述格式",
    "interface": "服务接口",
    "other": "其他",
}
MOUNT_KINDS = {"table": "库表（平台归集）", "file": "文件", "interface": "接口"}
DATA_TYPES = {
    "C": "字符型",
    "N": "数值型",
    "Y": "货币型",
    "D": "日期型",
    "T": "日期时间型",
    "L": "逻辑型",
    "M": "备注型",
    "G": "通用型",
    "B": "二进制",
    "I": "整数型",
    "F": "浮点型",
}
CATALOG_KINDS = {"base": "基础信息资源目录", "theme": "主题信息资源目录", "department": "部门信息资源目录"}

LABELS = {
    "classification": "资源分类",
    "catalog_kind": "目录类型",
    "name": "资源名称",
    "abstract": "资源摘要",
    "provider": "资源提供方",
    "lead_department": "牵头部门",
    "format_category": "资源格式",
    "format_type": "格式类型",
    "share_type": "共享类型",
    "share_condition": "共享条件",
    "share_methods": "共享方式",
    "usage_requirements": "使用要求",
    "open_type": "开放类型",
    "open_condition": "开放条件",
    "legal_basis": "法律依据",
    "update_cycle": "更新周期",
    "mount_kind": "挂接资源",
    "mount_ref": "挂接资源说明",
    "related_codes": "关联资源代码",
    "is_secret": "涉密",
    "items": "信息项",
}
ITEM_LABELS = {
    "code": "信息项代码",
    "name": "信息项名称",
    "data_type": "数据类型",
    "length": "数据长度",
    "is_primary": "主键",
    "is_required": "必填",
    "is_indexed": "检索项",
    "is_basic": "基础信息项",
    "is_sensitive": "敏感",
    "share_type": "共享类型",
    "enum_values": "枚举值",
    "description": "说明",
}
RESOURCE_FIELDS = tuple(k for k in LABELS if k != "items")
ITEM_FIELDS = tuple(ITEM_LABELS)


@dataclass(frozen=True)
class RuleContext:
    """What the rules need from the policy profile."""

    open_implies_unconditional_share: bool = False  # SR 8 (R-CAT-12)


def error(field: str, code: str, message: str, label: str | None = None) -> dict:
    return {"field": field, "label": label or LABELS.get(field, field), "code": code, "message": message}


def normalise(payload: dict, ctx: RuleContext) -> dict:
    """Fill what the profile decides automatically, strip text, order items; never drops a field."""
    p = {k: payload.get(k) for k in RESOURCE_FIELDS}
    for k in (
        "name",
        "abstract",
        "format_type",
        "share_condition",
        "usage_requirements",
        "open_condition",
        "legal_basis",
        "mount_ref",
        "classification",
    ):
        p[k] = (p[k] or "").strip()
    p["share_methods"] = sorted(set(p["share_methods"] or []))
    p["related_codes"] = [c.strip() for c in (p["related_codes"] or []) if c and c.strip()]
    p["is_secret"] = bool(p["is_secret"])
    if ctx.open_implies_unconditional_share and p.get("open_type") in ("unconditional", "conditional"):
        p["share_type"] = "unconditional"
        p["share_condition"] = ""
    items = []
    for i, raw in enumerate(payload.get("items") or []):
        it = {k: raw.get(k) for k in ITEM_FIELDS}
        it["code"] = (it["code"] or "").strip()
        it["name"] = (it["name"] or "").strip()
        it["data_type"] = (it["data_type"] or "").strip().upper()
        it["description"] = (it["description"] or "").strip()
        it["share_type"] = it["share_type"] or ""
        it["enum_values"] = list(it["enum_values"] or [])
        for flag in ("is_primary", "is_required", "is_indexed", "is_basic", "is_sensitive"):
            it[flag] = bool(it[flag])
        if it["is_primary"]:
            it["is_required"] = True
            it["is_indexed"] = True
        if it["length"] in ("", None):
            it["length"] = None
        it["position"] = i + 1
        items.append(it)
    p["items"] = items
    return p


def draft_errors(p: dict) -> list[dict]:
    """Errors that make even a draft unsavable: wrong vocabulary, duplicate items, bad numbers."""
    errors = []
    for field, vocab in (
        ("share_type", SHARE_TYPES),
        ("open_type", OPEN_TYPES),
        ("update_cycle", UPDATE_CYCLES),
        ("format_category", FORMAT_CATEGORIES),
        ("mount_kind", MOUNT_KINDS),
        ("catalog_kind", CATALOG_KINDS),
    ):
        if p.get(field) and p[field] not in vocab:
            errors.append(error(field, "invalid_choice", f"{LABELS[field]}取值“{p[field]}”无效"))
    for m in p["share_methods"]:
        if m not in DELIVERIES:
            errors.append(error("share_methods", "invalid_choice", f"共享方式“{m}”无效"))
    if not p["name"]:
        errors.append(error("name", "required", "资源名称不能为空（R-CAT-03）"))
    seen_codes, seen_names = set(), set()
    for it in p["items"]:
        where = f"items[{it['position']}]"
        label = f"第{it['position']}个信息项"
        if not it["code"] or not it["name"]:
            errors.append(error(where, "item_incomplete", f"{label}的名称和代码都必须填写", label))
        if it["code"] in seen_codes:
            errors.append(error(where, "item_duplicate", f"信息项代码“{it['code']}”重复", label))
        if it["name"] in seen_names:
            errors.append(error(where, "item_duplicate", f"信息项名称“{it['name']}”重复", label))
        seen_codes.add(it["code"])
        seen_names.add(it["name"])
        if it["data_type"] and it["data_type"] not in DATA_TYPES:
            errors.append(error(where, "invalid_choice", f"{label}的数据类型“{it['data_type']}”无效", label))
        if it["share_type"] and it["share_type"] not in SHARE_TYPES:
            errors.append(error(where, "invalid_choice", f"{label}的共享类型无效", label))
        length = it["length"]
        if length is not None:
            try:
                it["length"] = int(length)
                if it["length"] <= 0:
                    raise ValueError
            except (TypeError, ValueError):
                errors.append(error(where, "invalid_length", f"{label}的数据长度必须是正整数", label))
    return errors


def publish_errors(p: dict) -> list[dict]:
    """Everything R-CAT-03/08/09 and R-ORG-08 demand before an entry may be submitted or published."""
    errors = draft_errors(p)
    if p["is_secret"]:
        errors.append(
            error(
                "is_secret",
                "secret_refused",
                "涉及国家秘密的资源不得纳入共享平台目录，按保密法律法规管理（R-ORG-08）",
            )
        )
    for field in (
        "classification",
        "provider",
        "format_category",
        "update_cycle",
        "share_type",
        "open_type",
        "usage_requirements",
        "mount_kind",
        "abstract",
    ):
        if not p.get(field):
            errors.append(error(field, "required", f"{LABELS[field]}为必填项（R-CAT-03）"))
    if p.get("catalog_kind") in ("base", "theme") and not p.get("lead_department"):
        errors.append(error("lead_department", "required", "基础和主题目录必须指定牵头部门（R-CAT-02）"))
    if p.get("share_type") in ("unconditional", "conditional") and not p["share_methods"]:
        errors.append(error("share_methods", "required", "共享资源必须选择至少一种共享方式（R-CAT-03）"))
    if p.get("share_type") == "conditional" and not p["share_condition"]:
        errors.append(error("share_condition", "required", "有条件共享的资源必须写明共享条件（R-CAT-08）"))
    if p.get("open_type") == "conditional" and not p["open_condition"]:
        errors.append(error("open_condition", "required", "有条件开放的资源必须写明开放条件（R-CAT-03）"))
    restricted = p.get("share_type") in ("conditional", "none") or p.get("open_type") in (
        "conditional",
        "none",
    )
    if restricted and not p["legal_basis"]:
        what = [SHARE_TYPES[p["share_type"]]] if p.get("share_type") in ("conditional", "none") else []
        what += [OPEN_TYPES[p["open_type"]]] if p.get("open_type") in ("conditional", "none") else []
        errors.append(
            error(
                "legal_basis",
                "legal_basis_required",
                f"{'、'.join(what)}的资源必须提供法律、行政法规或政策依据（R-CAT-08）",
            )
        )
    if p.get("mount_kind") in ("file", "interface") and not p["mount_ref"]:
        errors.append(error("mount_ref", "required", "文件或接口类挂接资源必须说明挂接位置（R-CAT-16）"))
    if not p["items"]:
        errors.append(error("items", "required", "至少需要一个信息项（R-CAT-03）"))
    primaries = [it for it in p["items"] if it["is_primary"]]
    if p.get("mount_kind") == "table" and len(primaries) != 1:
        errors.append(error("items", "primary_key", "库表类资源必须恰好指定一个主键信息项（用于归集和查询）"))
    for it in p["items"]:
        if not it["data_type"]:
            errors.append(
                error(
                    f"items[{it['position']}]",
                    "required",
                    f"信息项“{it['name']}”必须填写数据类型（R-CAT-03）",
                    f"第{it['position']}个信息项",
                )
            )
    if p.get("catalog_kind") == "base":
        for it in p["items"]:
            effective = it["share_type"] or p.get("share_type")
            if it["is_basic"] and effective != "unconditional":
                errors.append(
                    error(
                        f"items[{it['position']}]",
                        "basic_item_not_unconditional",
                        f"基础信息资源的基础信息项“{it['name']}”必须无条件共享（R-CAT-09）",
                        f"第{it['position']}个信息项",
                    )
                )
    return errors


def effective_item_share(p: dict, it: dict) -> str:
    return it.get("share_type") or p.get("share_type") or ""


def narrowing(old: dict | None, new: dict) -> list[str]:
    """How a change narrows an unconditional entry (R-CAT-11); empty when it does not."""
    if not old or old.get("share_type") != "unconditional":
        return []
    found = []
    if new.get("share_type") != "unconditional":
        found.append(f"共享类型由无条件共享改为{SHARE_TYPES.get(new.get('share_type'), '未填')}")
    new_items = {it["code"]: it for it in new["items"]}
    for it in old["items"]:
        cur = new_items.get(it["code"])
        if cur is None:
            found.append(f"删除信息项“{it['name']}”")
        elif (
            effective_item_share(old, it) == "unconditional"
            and effective_item_share(new, cur) != "unconditional"
        ):
            found.append(f"信息项“{it['name']}”不再无条件共享")
    return found


def diff(old: dict | None, new: dict) -> list[dict]:
    """Field-by-field changes; items are matched by code."""
    old = old or {"items": []}
    changes = []
    for f in RESOURCE_FIELDS:
        if old.get(f) != new.get(f):
            changes.append({"field": f, "label": LABELS[f], "old": old.get(f), "new": new.get(f)})
    old_items = {it["code"]: it for it in old.get("items", [])}
    new_items = {it["code"]: it for it in new.get("items", [])}
    for code, it in new_items.items():
        if code not in old_items:
            changes.append(
                {"field": f"items.{code}", "label": f"信息项“{it['name']}”", "old": None, "new": "新增"}
            )
            continue
        for f in ITEM_FIELDS:
            if f != "position" and old_items[code].get(f) != it.get(f):
                changes.append(
                    {
                        "field": f"items.{code}.{f}",
                        "label": f"信息项“{it['name']}”的{ITEM_LABELS[f]}",
                        "old": old_items[code].get(f),
                        "new": it.get(f),
                    }
                )
    for code, it in old_items.items():
        if code not in new_items:
            changes.append(
                {"field": f"items.{code}", "label": f"信息项“{it['name']}”", "old": "存在", "new": "删除"}
            )
    return changes
