"""Catalog exchange formats: DCAT-AP JSON-LD, and xlsx in the 1272-guide column layout (export + import).

The xlsx layout is the one departments already fill in for 《政务信息资源目录编制指南（试行）》
(发改高技〔2017〕1272号): sheet 信息资源 with one row per entry, sheet 信息项 with one row per item.
Vocabulary cells carry the Chinese labels people read; the import also takes the internal codes.
"""

import datetime as dt
import io

import xlsxwriter
from django.db import transaction
from django.db.models import QuerySet
from python_calamine import CalamineError, CalamineWorkbook

from govshare.errors import DomainError, PermissionDenied, ValidationFailed
from govshare.orgs.models import Department, DepartmentKind

from . import rules, selectors, services
from .models import Classification, ResourceRevision

RESOURCE_SHEET, ITEM_SHEET = "信息资源", "信息项"

# (column title, payload field, width); the order is the guide's.
RESOURCE_COLUMNS = [
    ("信息资源分类", "classification", 12), ("信息资源名称", "name", 30), ("信息资源代码", "code", 18),
    ("信息资源提供方", "provider", 24), ("信息资源提供方代码", "provider_code", 22), ("信息资源摘要", "abstract", 40),
    ("信息资源格式分类", "format_category", 14), ("信息资源格式类型", "format_type", 14),
    ("共享类型", "share_type", 12), ("共享条件", "share_condition", 30), ("共享方式", "share_methods", 20),
    ("使用要求", "usage_requirements", 30), ("是否向社会开放", "open_type", 14), ("开放条件", "open_condition", 30),
    ("法律依据", "legal_basis", 30), ("更新周期", "update_cycle", 10), ("发布日期", "publish_date", 12),
    ("关联资源代码", "related_codes", 24), ("挂接资源类型", "mount_kind", 16), ("挂接资源说明", "mount_ref", 30),
    ("牵头部门", "lead_department", 24),
]  # fmt: skip
ITEM_COLUMNS = [
    ("信息资源代码", "resource_code", 18), ("信息资源名称", "resource_name", 30), ("序号", "position", 6),
    ("信息项名称", "name", 20), ("信息项代码", "code", 16), ("数据类型", "data_type", 9), ("数据长度", "length", 9),
    ("主键", "is_primary", 6), ("必填", "is_required", 6), ("检索项", "is_indexed", 7),
    ("基础信息项", "is_basic", 10), ("共享类型", "share_type", 12), ("枚举值", "enum_values", 30),
    ("说明", "description", 30), ("敏感", "is_sensitive", 6),
]  # fmt: skip
RESOURCE_COLUMN = {f: t for t, f, _ in RESOURCE_COLUMNS}
ITEM_COLUMN = {f: t for t, f, _ in ITEM_COLUMNS}
VOCABULARIES = {
    "format_category": rules.FORMAT_CATEGORIES, "share_type": rules.SHARE_TYPES, "open_type": rules.OPEN_TYPES,
    "update_cycle": rules.UPDATE_CYCLES, "mount_kind": rules.MOUNT_KINDS,
}  # fmt: skip
SEPARATORS = str.maketrans({c: "、" for c in ";；,，\n"})

FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
FREQUENCIES = {
    "realtime": "CONT", "daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY", "quarterly": "QUARTERLY",
    "half_yearly": "ANNUAL_2", "yearly": "ANNUAL", "irregular": "IRREG",
}  # fmt: skip
CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/", "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#", "adms": "http://www.w3.org/ns/adms#",
    "owl": "http://www.w3.org/2002/07/owl#", "xsd": "http://www.w3.org/2001/XMLSchema#",
}  # fmt: skip


# --- DCAT-AP -----------------------------------------------------------------------------------------------


def _agent(dept: Department) -> dict:
    return {"@type": "foaf:Agent", "foaf:name": dept.name, "dct:identifier": dept.uscc}


def _dataset(r, base: str) -> dict:
    page = f"{base}catalog/resources/{r.code}/"
    ds = {
        "@id": page,
        "@type": "dcat:Dataset",
        "dct:identifier": r.code,
        "dct:title": r.name,
        "dct:description": r.abstract,
        "dct:publisher": _agent(r.provider),
        "dcat:contactPoint": {"@type": "vcard:Organization", "vcard:fn": r.provider.name},
        "dct:modified": {"@value": r.updated_at.isoformat(), "@type": "xsd:dateTime"},
        "dct:type": {"@id": f"{base}catalog/kinds/{r.catalog_kind}",
                     "dct:title": rules.CATALOG_KINDS.get(r.catalog_kind, "")},
        "dcat:theme": {"@id": f"{base}catalog/classifications/{r.classification_id}",
                       "dct:title": r.classification.name},
        "dct:accessRights": {"@type": "dct:RightsStatement", "dct:identifier": r.share_type,
                             "dct:title": rules.SHARE_TYPES.get(r.share_type, ""),
                             "dct:description": r.share_condition},
        "dcat:keyword": [it.name for it in r.items.all()],
        "owl:versionInfo": str(r.version),
        "dcat:distribution": [{
            "@type": "dcat:Distribution",
            "dct:title": rules.MOUNT_KINDS.get(r.mount_kind, ""),
            "dct:format": r.format_type or rules.FORMAT_CATEGORIES.get(r.format_category, ""),
            "dct:type": rules.FORMAT_CATEGORIES.get(r.format_category, ""),
            "dcat:accessURL": {"@id": page},
        }],
    }  # fmt: skip
    if r.publish_date:
        ds["dct:issued"] = {"@value": r.publish_date.isoformat(), "@type": "xsd:date"}
    if r.update_cycle in FREQUENCIES:
        ds["dct:accrualPeriodicity"] = {"@id": FREQUENCY + FREQUENCIES[r.update_cycle]}
    return ds


def dcat_catalog(base_url: str) -> dict:
    """The live catalog as DCAT-AP 2.x JSON-LD, so upper-level and open-data portals can harvest it.

    Versions are `owl:versionInfo` (DCAT-AP's property; ADMS has no plain version term).
    """
    base = base_url.rstrip("/") + "/"
    catalog = {
        "@context": CONTEXT,
        "@id": f"{base}catalog/",
        "@type": "dcat:Catalog",
        "dct:title": "政务信息资源目录",
        "dct:description": "按《政务信息资源目录编制指南（试行）》编制并已发布的政务信息资源目录",
        "dct:language": {"@id": "http://publications.europa.eu/resource/authority/language/ZHO"},
        "dcat:dataset": [
            _dataset(r, base) for r in selectors.live_resources().select_related("classification")
        ],
    }
    authority = Department.objects.filter(kind=DepartmentKind.AUTHORITY, is_active=True).first()
    if authority:
        catalog["dct:publisher"] = _agent(authority)
    return catalog


# --- xlsx export -------------------------------------------------------------------------------------------


def _yes(flag: bool) -> str:
    return "是" if flag else "否"


def _resource_row(r) -> list:
    v = rules
    return [
        r.classification_id, r.name, r.code, r.provider.name, r.provider_code or r.provider.uscc, r.abstract,
        v.FORMAT_CATEGORIES.get(r.format_category, ""), r.format_type, v.SHARE_TYPES.get(r.share_type, ""),
        r.share_condition, "、".join(v.DELIVERIES.get(m, m) for m in r.share_methods), r.usage_requirements,
        v.OPEN_TYPES.get(r.open_type, ""), r.open_condition, r.legal_basis, v.UPDATE_CYCLES.get(r.update_cycle, ""),
        r.publish_date, "；".join(r.related_codes), v.MOUNT_KINDS.get(r.mount_kind, ""), r.mount_ref,
        r.lead_department.name if r.lead_department else "",
    ]  # fmt: skip


def _item_row(r, it) -> list:
    return [
        r.code, r.name, it.position, it.name, it.code, it.data_type, it.length, _yes(it.is_primary),
        _yes(it.is_required), _yes(it.is_indexed), _yes(it.is_basic), rules.SHARE_TYPES.get(it.share_type, ""),
        "、".join(it.enum_values), it.description, _yes(it.is_sensitive),
    ]  # fmt: skip


def export_xlsx(resources) -> bytes:
    """Both sheets in one pass; constant_memory flushes every row, so 20,000 entries stay small in memory.

    Text always goes through write_string: catalog text is user input, never a formula or a link.
    """
    if isinstance(resources, QuerySet):
        resources = resources.select_related("classification", "provider", "lead_department").iterator(
            chunk_size=500
        )
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"constant_memory": True})
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    sheets = []
    for name, columns in ((RESOURCE_SHEET, RESOURCE_COLUMNS), (ITEM_SHEET, ITEM_COLUMNS)):
        ws = book.add_worksheet(name)
        for col, (title, _, width) in enumerate(columns):
            ws.set_column(col, col, width)
            ws.write_string(0, col, title, bold)
        ws.freeze_panes(1, 0)
        sheets.append(ws)

    def write(ws, row, values):
        for col, value in enumerate(values):
            if isinstance(value, str):
                if value:
                    ws.write_string(row, col, value)  # never a formula or link: this is user text
            elif isinstance(value, dt.date):
                ws.write_datetime(row, col, value, date)
            elif value is not None:
                ws.write_number(row, col, value)

    item_row = 0
    for row, r in enumerate(resources, start=1):
        write(sheets[0], row, _resource_row(r))
        for it in r.items.all():
            item_row += 1
            write(sheets[1], item_row, _item_row(r, it))
    book.close()
    return out.getvalue()


# --- xlsx import -------------------------------------------------------------------------------------------


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _fold(text: str) -> str:
    return "".join(text.split()).translate(str.maketrans("()", "（）")).lower()


def _choice(text: str, vocabulary: dict) -> str | None:
    """A vocabulary code from either its Chinese label or the code itself."""
    key = _fold(text)
    return next((code for code, label in vocabulary.items() if key in (_fold(code), _fold(label))), None)


def _invalid(title: str, text: str, allowed) -> str:
    return f"{title}“{text}”无效，应为：{'、'.join(allowed)}"


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.translate(SEPARATORS).split("、") if p.strip()]


FLAGS = {"是": True, "y": True, "yes": True, "true": True, "1": True, "√": True,
         "否": False, "n": False, "no": False, "false": False, "0": False, "": False}  # fmt: skip


class _Sheet:
    """A sheet read by column title; `rows()` yields (Excel row number, title → text) for non-blank rows."""

    def __init__(self, name: str, rows: list[list]):
        self.name = name
        self.rows_ = rows
        header = [_text(h).replace("*", "").replace(" ", "") for h in (rows[0] if rows else [])]
        self.columns = {h: i for i, h in reversed(list(enumerate(header))) if h}

    def rows(self):
        for n, raw in enumerate(self.rows_[1:], start=2):
            cells = {t: _text(raw[i]) if i < len(raw) else "" for t, i in self.columns.items()}
            if any(cells.values()):
                yield n, cells


def _read(data: bytes) -> tuple[_Sheet | None, _Sheet | None]:
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        found = []
        for name in (RESOURCE_SHEET, ITEM_SHEET):
            rows = (
                book.get_sheet_by_name(name).to_python(skip_empty_area=False)
                if name in book.sheet_names
                else None
            )
            found.append(_Sheet(name, rows) if rows is not None else None)
    except (CalamineError, ValueError, OSError) as exc:
        raise ValidationFailed(
            [_err("", None, "", "file", "unreadable", f"无法读取 xlsx 文件：{exc}")]
        ) from None
    return found[0], found[1]


def _err(sheet, row, column, field, code, message) -> dict:
    return {"sheet": sheet, "row": row, "column": column, "label": column, "field": field, "code": code,
            "message": message}  # fmt: skip


class _Report:
    """Errors keyed by cell: the first complaint about a cell wins, so one mistake is reported once."""

    def __init__(self):
        self.errors, self.cells = [], set()

    def add(self, sheet, row, column, field, code, message):
        if (sheet, row, column) not in self.cells:
            self.cells.add((sheet, row, column))
            self.errors.append(_err(sheet, row, column, field, code, message))

    def rule(self, plan: dict, e: dict):
        """Place an error from `rules`/`services` on the sheet, row and column it is about."""
        field = e.get("field", "")
        if field.startswith("items["):
            pos = int(field[6:-1])
            msg, code = e["message"], e["code"]
            if code == "invalid_length":
                column = "数据长度"
            elif code == "basic_item_not_unconditional" or (code == "invalid_choice" and "共享类型" in msg):
                column = "共享类型"
            elif code == "item_incomplete":
                column = "信息项代码" if plan["normalised"][pos - 1]["name"] else "信息项名称"
            elif code == "item_duplicate":
                column = "信息项代码" if "代码" in msg else "信息项名称"
            else:
                column = "数据类型"
            self.add(ITEM_SHEET, plan["item_rows"][pos - 1], column, field, code, e["message"])
        elif field not in RESOURCE_COLUMN:
            self.add(
                RESOURCE_SHEET, plan["row"], rules.LABELS.get(field, field), field, e["code"], e["message"]
            )
        else:
            self.add(RESOURCE_SHEET, plan["row"], RESOURCE_COLUMN[field], field, e["code"], e["message"])


def _departments() -> dict[str, Department]:
    found = {}
    for d in Department.objects.filter(is_active=True):
        found[d.name] = found[d.uscc.upper()] = d
    return found


def _resource_payload(n: int, cells: dict, report: _Report, depts: dict, classes: dict) -> dict:
    def bad(field, code, message):
        report.add(RESOURCE_SHEET, n, RESOURCE_COLUMN[field], field, code, message)

    p = {f: cells.get(RESOURCE_COLUMN[f], "") for f in ("name", "abstract", "format_type", "share_condition",
                                                        "usage_requirements", "open_condition", "legal_basis",
                                                        "mount_ref")}  # fmt: skip
    if cells.get("信息资源代码"):
        bad("code", "has_code", "已有代码的目录请通过变更流程修改；批量导入只登记新目录，代码由平台分配")
    cls_code = (cells.get("信息资源分类", "").split() or [""])[0]
    cls = classes.get(cls_code)
    if not cls_code:
        bad("classification", "required", "资源分类为必填项（R-CAT-03）")
    elif cls is None:
        bad("classification", "invalid_choice", f"资源分类“{cls_code}”不存在")
    p["classification"] = cls_code if cls else ""
    p["catalog_kind"] = cls.kind if cls else None

    # 提供方 by name or 统一社会信用代码; 提供方代码, when given, must name the same department.
    name, uscc = cells.get("信息资源提供方", ""), cells.get("信息资源提供方代码", "").upper()
    provider, by_code = depts.get(name) or depts.get(name.upper()), depts.get(uscc)
    if not name and not uscc:
        bad("provider", "required", "资源提供方为必填项（R-CAT-03）")
    if name and provider is None:
        bad("provider", "invalid_choice", f"资源提供方“{name}”不存在或已停用")
    if uscc and by_code is None:
        bad("provider_code", "invalid_choice", f"统一社会信用代码“{uscc}”没有对应的在用部门")
    elif uscc and provider and by_code != provider:
        bad("provider_code", "mismatch", f"提供方代码与资源提供方“{name}”的统一社会信用代码不一致")
    provider = provider or (by_code if not name else None)
    p["provider"] = provider.pk if provider else None

    lead = cells.get("牵头部门", "")
    lead_dept = depts.get(lead) or depts.get(lead.upper())
    if lead and lead_dept is None:
        bad("lead_department", "invalid_choice", f"牵头部门“{lead}”不存在或已停用")
    p["lead_department"] = lead_dept.pk if lead_dept else None
    if p["lead_department"] is None and cls and cls.kind in ("base", "theme"):
        p["lead_department"] = cls.lead_department_id  # as services._prepare does

    for field, vocabulary in VOCABULARIES.items():
        text = cells.get(RESOURCE_COLUMN[field], "")
        if field == "open_type" and text in ("是", "否"):  # the guide's yes/no form of 是否向社会开放
            text = "none" if text == "否" else "conditional" if p["open_condition"] else "unconditional"
        p[field] = _choice(text, vocabulary) if text else ""
        if text and p[field] is None:
            p[field] = ""
            bad(field, "invalid_choice", _invalid(RESOURCE_COLUMN[field], text, vocabulary.values()))
    p["share_methods"] = []
    for text in _split(cells.get("共享方式", "")):
        if (code := _choice(text, rules.DELIVERIES)) is None:
            bad("share_methods", "invalid_choice", _invalid("共享方式", text, rules.DELIVERIES.values()))
        else:
            p["share_methods"].append(code)
    p["related_codes"] = _split(cells.get("关联资源代码", ""))
    p["items"] = []
    return p


def _item(n: int, cells: dict, report: _Report) -> dict:
    def bad(field, code, message):
        report.add(ITEM_SHEET, n, ITEM_COLUMN[field], field, code, message)

    it = {f: cells.get(ITEM_COLUMN[f], "") for f in ("name", "code", "length", "description")}
    text = cells.get("数据类型", "")
    it["data_type"] = _choice(text, rules.DATA_TYPES) if text else ""
    if it["data_type"] is None:
        it["data_type"] = ""
        bad("data_type", "invalid_choice", _invalid("数据类型", text, rules.DATA_TYPES))
    for f in ("is_primary", "is_required", "is_indexed", "is_basic", "is_sensitive"):
        text = cells.get(ITEM_COLUMN[f], "")
        it[f] = FLAGS.get(text.lower())
        if it[f] is None:
            bad(f, "invalid_flag", f"{ITEM_COLUMN[f]}应填“是”或“否”，不能是“{text}”")
    text = cells.get("共享类型", "")
    it["share_type"] = _choice(text, rules.SHARE_TYPES) if text else ""
    if it["share_type"] is None:
        it["share_type"] = ""
        bad("share_type", "invalid_choice", _invalid("共享类型", text, rules.SHARE_TYPES.values()))
    it["enum_values"] = _split(cells.get("枚举值", ""))
    try:
        order = float(cells.get("序号") or "inf")
    except ValueError:
        order = float("inf")
    return {"item": it, "row": n, "order": order}


def _refuse(report: _Report):
    report.errors.sort(key=lambda e: (e["sheet"] != RESOURCE_SHEET, e["row"] or 0))
    n = len(report.errors)
    raise ValidationFailed(report.errors, message=f"导入未通过校验：共{n}处问题，未写入任何数据")


def import_xlsx(user, data: bytes, submit: bool = False) -> list[ResourceRevision]:
    """Register new entries from an xlsx in the export layout, all or nothing.

    Only new registrations: the platform assigns codes, so a row that already has a 信息资源代码 is refused
    ("已有代码的目录请通过变更流程修改"); changes to published entries go through the revision workflow.
    Items join their entry by 信息资源名称 within the file. Every row is checked first (draft rules, or the
    publishing rules when `submit`); any problem raises ValidationFailed listing each sheet/row/column and
    nothing is written. Permissions are the services' own, inside one transaction.
    """
    resources, items = _read(data)
    report = _Report()
    if resources is None:
        report.add(RESOURCE_SHEET, None, "", "file", "missing_sheet", f"文件中没有“{RESOURCE_SHEET}”工作表")
        _refuse(report)
    for sheet, required in ((resources, ("信息资源名称",)), (items, ("信息项名称", "信息资源名称"))):
        for title in required if sheet else ():
            if title not in sheet.columns:
                report.add(sheet.name, 1, title, "file", "missing_column", f"“{sheet.name}”表缺少“{title}”列")
    if report.errors:
        _refuse(report)

    depts, classes = _departments(), {c.code: c for c in Classification.objects.all()}
    plans, by_name, by_code = [], {}, {}
    for n, cells in resources.rows():
        plan = {"row": n, "payload": _resource_payload(n, cells, report, depts, classes), "items": []}
        name, code = plan["payload"]["name"], cells.get("信息资源代码")
        if name in by_name:
            message = f"与第{by_name[name]['row']}行同名，信息项无法对应"
            report.add(RESOURCE_SHEET, n, "信息资源名称", "name", "duplicate_name", message)
        elif name:
            by_name[name] = plan
        if code:
            by_code[code] = plan
        plans.append(plan)
    if not plans:
        report.add(RESOURCE_SHEET, 2, "信息资源名称", "file", "empty", "文件中没有目录数据")
    for n, cells in items.rows() if items else ():
        entry, name = _item(n, cells, report), cells.get("信息资源名称")
        owner = by_code.get(cells.get("信息资源代码", "")) or by_name.get(name)
        if owner is None:
            message = f"信息资源表中没有名为“{name}”的资源" if name else "必须填写所属信息资源名称"
            report.add(ITEM_SHEET, n, "信息资源名称", "resource", "unknown_resource", message)
        else:
            owner["items"].append(entry)

    ctx = services.rule_context()
    for plan in plans:
        plan["items"].sort(key=lambda e: (e["order"], e["row"]))
        plan["item_rows"] = [e["row"] for e in plan["items"]]
        plan["payload"]["items"] = [e["item"] for e in plan["items"]]
        p = rules.normalise(plan["payload"], ctx)
        plan["normalised"] = p["items"]
        for e in rules.publish_errors(p) if submit else rules.draft_errors(p):
            report.rule(plan, e)
    if report.errors:
        _refuse(report)

    revisions = []
    with transaction.atomic():
        for plan in plans:
            try:
                rev = services.create_resource(user, plan["payload"], reason="按编制指南 xlsx 批量导入")
                revisions.append(services.submit_revision(user, rev) if submit else rev)
            except DomainError as exc:
                field = "provider" if isinstance(exc, PermissionDenied) else ""
                found = getattr(exc, "errors", None) or [
                    {"field": field, "code": exc.code, "message": exc.message}
                ]
                for e in found:
                    report.rule(plan, {**e, "message": f"第{plan['row']}行：{e['message']}"})
                raise ValidationFailed(
                    report.errors, message=f"第{plan['row']}行导入失败，未写入任何数据：{exc.message}"
                ) from exc
    return revisions
