"""The data-element dictionary (数据元) and what hangs off it.

Information items map to shared data elements by name or synonym. That mapping carries three rules:

- one data, one source (一数一源, R-COL-02): the first department registered for an element is its
  authoritative source; a later department is registered as non-authoritative until the authority
  confirms the second source with its legal basis;
- duplicate collection (R-COL-03): a new resource or demand whose items are already obtainable through
  sharing gets a warning naming the resources that provide them;
- cross-source consistency (多元校核, R-COL-06): after a load, values that two departments hold for the
  same element and the same key are compared in the database, one set-based query per pair of
  resources, and each disagreement opens a coordination case that can be escalated along the
  profile's chain (R-ORG-05).
"""

from __future__ import annotations

from collections import defaultdict

from django.db import connection, transaction
from django.db.models import Case, Exists, IntegerField, OuterRef, Q, Value, When
from django.db.models.functions import Replace
from django.utils import timezone

from govshare.audit import services as audit
from govshare.calendar.policy import active_profile, profile_value
from govshare.catalog.models import InfoItem, Resource, ResourceStatus, ShareType
from govshare.errors import DomainError, IllegalTransition, NotFound, PermissionDenied, ValidationFailed
from govshare.notifications.services import notify_departments
from govshare.orgs.models import Department, Role
from govshare.orgs.selectors import platform_authority

from . import store
from .models import CaseStatus, CoordinationCase, DataElement, ElementSource, Record

LIVE = (ResourceStatus.PUBLISHED, ResourceStatus.RETIRING)
SHAREABLE = (ShareType.UNCONDITIONAL, ShareType.CONDITIONAL)
CASE_CAP = 1000  # new coordination cases per load; the rest are counted and found again by the next load
LINKS_PER_ITEM = 20  # resources listed per warning; `total` says how many there are
WHITESPACE = " \t\r\n\u3000"
OPEN_STATES = (CaseStatus.OPEN, CaseStatus.ESCALATED)

STANDARD_ELEMENTS: tuple[dict, ...] = (
    {
        "code": "DE0001",
        "name": "公民身份号码",
        "synonyms": ["身份证号", "身份证号码", "身份证件号码"],
        "data_type": "C",
        "format_check": "ric",
        "description": "GB 11643 公民身份号码，18 位，末位为校验码。自然人数据的统一标识（R-COL-04）。",
    },
    {
        "code": "DE0002",
        "name": "姓名",
        "synonyms": ["人员姓名"],
        "data_type": "C",
        "format_check": "",
        "description": "自然人的姓名。",
    },
    {
        "code": "DE0003",
        "name": "性别",
        "synonyms": [],
        "data_type": "C",
        "format_check": "",
        "description": "GB/T 2261.1 人的性别代码。",
    },
    {
        "code": "DE0004",
        "name": "出生日期",
        "synonyms": ["出生年月日"],
        "data_type": "D",
        "format_check": "",
        "description": "自然人的出生日期。",
    },
    {
        "code": "DE0005",
        "name": "民族",
        "synonyms": [],
        "data_type": "C",
        "format_check": "",
        "description": "GB/T 3304 中国各民族名称。",
    },
    {
        "code": "DE0006",
        "name": "住址",
        "synonyms": ["户籍地址", "户籍住址"],
        "data_type": "C",
        "format_check": "",
        "description": "户籍登记的住址。",
    },
    {
        "code": "DE0007",
        "name": "手机号码",
        "synonyms": ["手机号", "移动电话", "移动电话号码"],
        "data_type": "C",
        "format_check": "mobile",
        "description": "11 位移动电话号码。固定电话另见“联系电话”。",
    },
    {
        "code": "DE0008",
        "name": "联系电话",
        "synonyms": [],
        "data_type": "C",
        "format_check": "",
        "description": "固定电话或其他联系电话，不作格式校验。",
    },
    {
        "code": "DE0009",
        "name": "统一社会信用代码",
        "synonyms": ["社会信用代码"],
        "data_type": "C",
        "format_check": "uscc",
        "description": "GB 32100 法人和其他组织统一社会信用代码，18 位。法人数据的统一标识（R-COL-04）。",
    },
    {
        "code": "DE0010",
        "name": "企业名称",
        "synonyms": ["单位名称", "机构名称", "市场主体名称"],
        "data_type": "C",
        "format_check": "",
        "description": "法人和其他组织的登记名称。",
    },
    {
        "code": "DE0011",
        "name": "法定代表人",
        "synonyms": ["法定代表人姓名", "法人代表"],
        "data_type": "C",
        "format_check": "",
        "description": "法人的法定代表人（负责人）姓名。",
    },
    {
        "code": "DE0012",
        "name": "行政区划代码",
        "synonyms": ["区划代码"],
        "data_type": "C",
        "format_check": "region",
        "description": "GB/T 2260 县级以上行政区划代码，6 位。",
    },
    {
        "code": "DE0013",
        "name": "成立日期",
        "synonyms": ["设立日期"],
        "data_type": "D",
        "format_check": "",
        "description": "法人和其他组织的成立（设立）日期。",
    },
    {
        "code": "DE0014",
        "name": "注册资本",
        "synonyms": [],
        "data_type": "N",
        "format_check": "",
        "description": "登记的注册资本（万元）。",
    },
    {
        "code": "DE0015",
        "name": "经营范围",
        "synonyms": [],
        "data_type": "C",
        "format_check": "",
        "description": "登记的经营范围。",
    },
)


def load_standard_elements(element_model=DataElement) -> int:
    """Create the standard elements that are missing (the migration keeps its own frozen copy)."""
    created = 0
    for spec in STANDARD_ELEMENTS:
        if element_model.objects.filter(Q(code=spec["code"]) | Q(name=spec["name"])).exists():
            continue
        element_model.objects.create(**spec)
        created += 1
    return created


def normalise(name: str) -> str:
    """Names compare without any whitespace (full-width included) and without case."""
    return "".join((name or "").split()).casefold()


def element_index() -> dict[str, DataElement]:
    """Normalised name, synonym and code → element; a name claimed twice keeps the lower code."""
    index: dict[str, DataElement] = {}
    for el in DataElement.objects.order_by("code"):
        for label in (el.name, *(el.synonyms or []), el.code):
            if isinstance(label, str) and normalise(label):
                index.setdefault(normalise(label), el)
    return index


def names_of(element: DataElement) -> set[str]:
    return {normalise(n) for n in (element.name, *(element.synonyms or [])) if isinstance(n, str)} - {""}


# --- permissions -------------------------------------------------------------------------------------------


def _officer_department_ok(user):
    dept = user.department
    if dept is None or not dept.active_officers().exists():
        raise PermissionDenied("no_active_officer", "所在部门没有在岗的数据专员，不能办理（R-ORG-03）")


def _require_authority(user):
    if not user.has_role(Role.AUTHORITY):
        raise PermissionDenied("authority_only", "只有数据主管部门可以确认多源登记")
    _officer_department_ok(user)


def may_manage_sources(user, resource: Resource) -> bool:
    if user.has_role(Role.AUTHORITY):
        return True
    return user.has_role(Role.PROVIDER) and user.department_id in (
        resource.provider_id,
        resource.lead_department_id,
    )


def _require_provider_of(user, resource: Resource):
    if not may_manage_sources(user, resource):
        raise PermissionDenied(
            "not_maintainer", f"只有{resource.provider.name}的数据专员或数据主管部门可以登记该目录的数据元"
        )
    _officer_department_ok(user)


def _required(value: str, field: str, label: str, message: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationFailed([{"field": field, "label": label, "code": "required", "message": message}])
    return value


# --- binding (一数一源, R-COL-02) ---------------------------------------------------------------------------


def authoritative_departments(element: DataElement, exclude_resource_id=None) -> list[Department]:
    """Departments registered as authoritative for an element on live resources."""
    qs = ElementSource.objects.filter(element=element, authoritative=True, resource__status__in=LIVE)
    if exclude_resource_id is not None:
        qs = qs.exclude(resource_id=exclude_resource_id)
    ids = list(qs.values_list("department_id", flat=True).distinct())
    return list(Department.objects.filter(pk__in=ids).order_by("name"))


def _create_source(element: DataElement, resource: Resource, item_code: str, actor=None):
    dept = resource.provider
    holders = authoritative_departments(element, exclude_resource_id=resource.pk)
    authoritative = not holders or dept in holders
    source = ElementSource.objects.create(
        element=element,
        resource=resource,
        item_code=item_code,
        department=dept,
        authoritative=authoritative,
    )
    note = ""
    if not authoritative:
        names = "、".join(h.name for h in holders)
        note = f"一数一源：该数据元已有权威来源 {names}"
    audit.record(
        "elements.source.bind",
        actor=actor,
        object=source,
        detail={
            "element": element.code,
            "resource": resource.code,
            "item": item_code,
            "authoritative": authoritative,
        },
    )
    return source, note


def _notify_pending(resource: Resource, pending: list[tuple[ElementSource, str]]) -> None:
    if not pending:
        return
    lines = "\n".join(f"{s.element.name}（{s.item_code}）：{note}" for s, note in pending)
    notify_departments(
        [resource.provider],
        "elements.second_source",
        f"一数一源：{resource.name} 的 {len(pending)} 个信息项已有其他部门为权威来源",
        body=lines + "\n如有法律依据须另行采集，请由数据主管部门确认多源登记（R-COL-02）。",
        link="/elements/",
    )
    authority = platform_authority()
    if authority is not None:
        notify_departments(
            [authority],
            "elements.second_source",
            f"多源登记待确认：{resource.provider.name} · {resource.name}",
            body=lines,
            link="/elements/pending/",
        )


@transaction.atomic
def bind_items(resource: Resource) -> list[dict]:
    """Map the published items of a resource to the dictionary; called when the entry is published.

    Returns the new bindings, each with the 一数一源 note when another department already holds the
    element. Bindings of items the entry no longer has are dropped.
    """
    items = list(resource.items.all().order_by("position"))
    codes = {it.code for it in items}
    for stale in ElementSource.objects.filter(resource=resource).exclude(item_code__in=codes):
        audit.record(
            "elements.source.drop",
            object=stale,
            detail={"resource": resource.code, "item": stale.item_code, "reason": "信息项已从目录删除"},
        )
        stale.delete()
    # An item already bound (by name earlier, or by hand to another element) is left as it is.
    bound = set(ElementSource.objects.filter(resource=resource).values_list("item_code", flat=True))
    index = element_index()
    created, pending = [], []
    for it in items:
        element = index.get(normalise(it.name)) or index.get(normalise(it.code))
        if element is None or it.code in bound:
            continue
        source, note = _create_source(element, resource, it.code)
        bound.add(it.code)
        created.append(
            {"item": it.code, "element": element.code, "authoritative": source.authoritative, "note": note}
        )
        if note:
            pending.append((source, note))
    _notify_pending(resource, pending)
    return created


def bind_all_live() -> int:
    """Bind every live entry, e.g. once after upgrading an instance whose catalog predates the dictionary."""
    count = 0
    for resource in (
        Resource.objects.filter(status__in=LIVE).select_related("provider").order_by("publish_date", "pk")
    ):
        count += len(bind_items(resource))
    return count


@transaction.atomic
def bind_item(user, resource: Resource, item_code: str, element: DataElement) -> ElementSource:
    """A provider maps an item the names did not match (or maps it differently)."""
    _require_provider_of(user, resource)
    if not resource.items.filter(code=item_code).exists():
        raise NotFound("item_not_found", f"目录中没有信息项“{item_code}”")
    source = ElementSource.objects.filter(element=element, resource=resource, item_code=item_code).first()
    if source is not None:
        return source
    source, note = _create_source(element, resource, item_code, actor=user)
    if note:
        _notify_pending(resource, [(source, note)])
    return source


@transaction.atomic
def unbind(user, source: ElementSource) -> None:
    _require_provider_of(user, source.resource)
    audit.record(
        "elements.source.unbind",
        actor=user,
        object=source,
        detail={
            "element": source.element.code,
            "resource": source.resource.code,
            "item": source.item_code,
            "authoritative": source.authoritative,
        },
    )
    source.delete()


@transaction.atomic
def override_source(user, source: ElementSource, reason: str) -> ElementSource:
    """The authority confirms a second authoritative source on a legal basis (R-COL-02)."""
    _require_authority(user)
    reason = _required(
        reason, "reason", "多源登记理由（法律依据）", "确认多源登记须写明法律法规依据（R-COL-02）"
    )
    source = ElementSource.objects.select_for_update().select_related("element", "resource").get(pk=source.pk)
    if source.authoritative:
        raise IllegalTransition("already_authoritative", "该来源已是权威来源，无需确认")
    holders = authoritative_departments(source.element, exclude_resource_id=source.resource_id)
    source.authoritative = True
    source.override_reason = reason
    source.override_by = user
    source.save(update_fields=["authoritative", "override_reason", "override_by"])
    audit.record(
        "elements.source.override",
        actor=user,
        object=source,
        detail={
            "element": source.element.code,
            "resource": source.resource.code,
            "department": source.department.name,
            "reason": reason[:500],
        },
    )
    notify_departments(
        {source.department, *holders},
        "elements.source_override",
        f"多源登记已确认：{source.element.name} 增加权威来源 {source.department.name}",
        body=f"依据：{reason}",
        link="/elements/?q=" + source.element.code,
    )
    return source


# --- duplicate collection (R-COL-03) -----------------------------------------------------------------------


def _resource_link(r: Resource) -> dict:
    return {
        "code": r.code,
        "name": r.name,
        "provider": r.provider.name,
        "url": f"/catalog/resources/{r.code}/",
    }


def duplicate_warnings(item_names, exclude_resource=None) -> list[dict]:
    """Which of these items are already obtainable through sharing, with the resources providing them.

    An item matches when it maps to an element a live, shared resource provides, or when a live,
    shared resource has an item of the same name (any of the element's names, if it has one).
    """
    wanted: dict[str, str] = {}
    for name in item_names or ():
        if isinstance(name, str) and normalise(name) and normalise(name) not in wanted:
            wanted[normalise(name)] = name.strip()
    if not wanted:
        return []
    index = element_index()
    mapped = {n: index.get(n) for n in wanted}
    variants: dict[str, set[str]] = {n: ({n} | names_of(el) if el else {n}) for n, el in mapped.items()}

    shared = Q(resource__status__in=LIVE, resource__share_type__in=SHAREABLE) & ~Q(share_type=ShareType.NONE)
    if exclude_resource is not None:
        shared &= ~Q(resource_id=exclude_resource.pk)
    all_variants = set().union(*variants.values())
    spaced = Replace(Replace("name", Value(" "), Value("")), Value("\u3000"), Value(""))
    by_name = (
        InfoItem.objects.annotate(bare=spaced)
        .filter(shared, bare__in=all_variants)
        .values_list("bare", "resource_id")
    )
    hits: dict[str, set[int]] = defaultdict(set)
    for bare, rid in by_name:
        for n, vs in variants.items():
            if normalise(bare) in vs:
                hits[n].add(rid)
    element_ids = {el.pk for el in mapped.values() if el}
    if element_ids:
        item_shared = InfoItem.objects.filter(
            shared, resource_id=OuterRef("resource_id"), code=OuterRef("item_code")
        )
        sources = ElementSource.objects.filter(element_id__in=element_ids).filter(Exists(item_shared))
        by_element: dict[int, set[int]] = defaultdict(set)
        for eid, rid in sources.values_list("element_id", "resource_id"):
            by_element[eid].add(rid)
        for n, el in mapped.items():
            if el:
                hits[n] |= by_element.get(el.pk, set())
    if not hits:
        return []
    resources = {
        r.pk: r
        for r in Resource.objects.filter(pk__in=set().union(*hits.values())).select_related("provider")
    }
    out = []
    for n, original in wanted.items():
        rids = sorted(hits.get(n, ()), key=lambda rid: resources[rid].code)
        if not rids:
            continue
        el = mapped[n]
        out.append(
            {
                "item": original,
                "element": el.name if el else None,
                "element_code": el.code if el else None,
                "resources": [_resource_link(resources[rid]) for rid in rids[:LINKS_PER_ITEM]],
                "total": len(rids),
            }
        )
    return out


def demand_shared_items(demands) -> dict[int, list[dict]]:
    """Per demand, which of its items are already shared: one lookup for a whole page of demands."""
    demands = list(demands)
    names = [n for d in demands for n in (d.item_names or [])]
    by_name = {normalise(w["item"]): w for w in duplicate_warnings(names)}
    out: dict[int, list[dict]] = {}
    for d in demands:
        found = [by_name[normalise(n)] for n in (d.item_names or []) if normalise(n) in by_name]
        if found:
            out[d.pk] = found
    return out


# --- cross-source consistency (多元校核, R-COL-06) -----------------------------------------------------------


def _primary_code(resource_id: int) -> str | None:
    codes = list(
        InfoItem.objects.filter(resource_id=resource_id, is_primary=True).values_list("code", flat=True)
    )
    return codes[0] if len(codes) == 1 else None


def _sql_value(alias: str, code: str) -> tuple[str, list]:
    """The item's value as trimmed text, on either database."""
    expr, params = store.value_sql(code, alias)
    return f"{'btrim' if connection.vendor == 'postgresql' else 'trim'}({expr}, %s)", [*params, WHITESPACE]


def _differing(resource_id, other_id, batch_id, element_id, code, other_code, limit) -> list[tuple]:
    """Keys written by the batch whose non-empty values differ from the other resource's: one query."""
    qn = connection.ops.quote_name
    rec, cases, key = qn(Record._meta.db_table), qn(CoordinationCase._meta.db_table), qn("key")
    mine, p_mine = _sql_value("r", code)
    theirs, p_theirs = _sql_value("o", other_code)
    sql = f"""
        SELECT k, va, vb, COUNT(*) OVER () FROM (
            SELECT r.{key} AS k, {mine} AS va, {theirs} AS vb
            FROM {rec} r JOIN {rec} o ON o.resource_id = %s AND o.{key} = r.{key} AND o.deleted = %s
            WHERE r.resource_id = %s AND r.batch_id = %s AND r.deleted = %s
        ) t
        WHERE COALESCE(va, '') <> '' AND COALESCE(vb, '') <> '' AND va <> vb
          AND NOT EXISTS (
            SELECT 1 FROM {cases} c WHERE c.element_id = %s AND c.{key} = t.k AND c.status IN (%s, %s)
          )
        ORDER BY k LIMIT %s
    """
    params = [
        *p_mine,
        *p_theirs,
        other_id,
        False,
        resource_id,
        batch_id,
        False,
        element_id,
        *OPEN_STATES,
        limit,
    ]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _pairs(resource: Resource):
    """(element, my item, other resource, its item, its department) for every comparable pair.

    Comparable: the other resource is live, from another department, and keyed by the same element
    as this one (both primary items bound to it), so equal keys name the same person or organisation.
    """
    primary = _primary_code(resource.pk)
    if primary is None:
        return
    key_elements = list(
        ElementSource.objects.filter(resource=resource, item_code=primary).values_list(
            "element_id", flat=True
        )
    )
    if not key_elements:
        return
    mine: dict[int, str] = {}
    for eid, code in (
        ElementSource.objects.filter(resource=resource)
        .exclude(item_code=primary)
        .order_by("item_code")
        .values_list("element_id", "item_code")
    ):
        mine.setdefault(eid, code)
    if not mine:
        return
    is_primary = InfoItem.objects.filter(
        resource_id=OuterRef("resource_id"), code=OuterRef("item_code"), is_primary=True
    )
    others = (
        ElementSource.objects.filter(element_id__in=key_elements, resource__status__in=LIVE)
        .exclude(resource=resource)
        .exclude(resource__provider_id=resource.provider_id)
        .filter(Exists(is_primary))
        .values_list("resource_id", "item_code")
        .distinct()
    )
    for other_id, other_primary in sorted(set(others)):
        if _primary_code(other_id) != other_primary:
            continue
        theirs: dict[int, ElementSource] = {}
        for s in (
            ElementSource.objects.filter(resource_id=other_id, element_id__in=list(mine))
            .exclude(item_code=other_primary)
            .select_related("resource", "department")
            .order_by("item_code")
        ):
            theirs.setdefault(s.element_id, s)
        for eid, source in sorted(theirs.items()):
            yield eid, mine[eid], source


@transaction.atomic
def after_load(resource: Resource, batch_id: int) -> dict:
    """Compare the keys a committed load wrote with the other departments' sources (R-COL-06).

    Opens at most CASE_CAP new cases per call (one open case per element and key), reports how many
    disagreements were left beyond the cap, and notifies each department concerned once.
    """
    resource = Resource.objects.select_related("provider").get(pk=resource.pk)
    mine_dept = resource.provider
    remaining = CASE_CAP
    beyond = 0
    pairs = 0
    new: dict[tuple[int, str], dict] = {}
    touched: set[Department] = set()
    sealed = 0
    for element_id, code, other in _pairs(resource):
        if _sealed(resource.pk, code) or _sealed(other.resource_id, other.item_code):
            # Sealed values differ per record by design; comparing them needs both opened (R-SEC-04).
            sealed += 1
            continue
        pairs += 1
        rows = _differing(
            resource.pk, other.resource_id, batch_id, element_id, code, other.item_code, max(remaining, 1)
        )
        if not rows:
            continue
        total = rows[0][3]
        used = 0
        for key, va, vb, _ in rows:
            theirs = {
                "resource": other.resource.code,
                "resource_name": other.resource.name,
                "item": other.item_code,
                "department": other.department.name,
                "value": vb,
            }
            case = new.get((element_id, key))
            if case is None:
                if remaining <= 0:
                    continue
                remaining -= 1
                case = new[(element_id, key)] = {
                    "values": [
                        {
                            "resource": resource.code,
                            "resource_name": resource.name,
                            "item": code,
                            "department": mine_dept.name,
                            "value": va,
                        }
                    ],
                    "departments": {mine_dept},
                }
            case["values"].append(theirs)
            case["departments"].add(other.department)
            used += 1
        beyond += total - used
        if used:
            touched |= {mine_dept, other.department}
            audit.record(
                "elements.case.open",
                object=resource,
                detail={
                    "batch": batch_id,
                    "element": element_id,
                    "other_resource": other.resource.code,
                    "keys": used,
                },
            )
    if new:
        rows = [
            CoordinationCase(element_id=eid, key=key, values=case["values"])
            for (eid, key), case in new.items()
        ]
        if connection.features.can_return_rows_from_bulk_insert:
            CoordinationCase.objects.bulk_create(rows)
        else:  # the departments need the ids
            for row in rows:
                row.save()
        through = CoordinationCase.departments.through
        through.objects.bulk_create(
            [
                through(coordinationcase_id=row.pk, department_id=d.pk)
                for row, case in zip(rows, new.values(), strict=True)
                for d in case["departments"]
            ]
        )
        notify_departments(
            touched,
            "elements.conflict",
            f"多元校核：{resource.name} 与其他部门的数据有 {len(new)} 处不一致",
            body="同一数据元、同一主键的取值在不同部门之间不一致，已建立协调事项，请双方核实（R-COL-06）。"
            + (f"另有 {beyond} 处超出本次上限，将在后续归集时继续建立。" if beyond else ""),
            link="/elements/cases/",
        )
    return {"opened": len(new), "beyond_cap": beyond, "pairs": pairs, "sealed_pairs": sealed}


def _sealed(resource_id: int, code: str) -> bool:
    """Is the item, or the key it is compared by, stored sealed?"""
    return (
        InfoItem.objects.filter(resource_id=resource_id, is_sensitive=True)
        .filter(Q(code=code) | Q(is_primary=True))
        .exists()
    )


def _lock_case(case: CoordinationCase) -> CoordinationCase:
    return CoordinationCase.objects.select_for_update().select_related("element").get(pk=case.pk)


def may_act_on_case(user, case: CoordinationCase) -> bool:
    if user.has_role(Role.AUTHORITY):
        return True
    return (
        user.department_id is not None
        and user.has_role(*Role.officer_roles())
        and case.departments.filter(pk=user.department_id).exists()
    )


def escalation_target() -> tuple[str, str]:
    """The first step of the profile's escalation chain (R-ORG-05) and its article."""
    chain = profile_value("escalation_chain") or ()
    article = active_profile().param("escalation_chain").article or ""
    return (chain[0] if chain else "数据主管部门"), article


@transaction.atomic
def resolve_case(user, case: CoordinationCase, resolution: str) -> CoordinationCase:
    case = _lock_case(case)
    if not may_act_on_case(user, case):
        raise PermissionDenied("not_party", "只有协调双方部门的数据专员或数据主管部门可以办理该协调事项")
    _officer_department_ok(user)
    if case.status not in OPEN_STATES:
        raise IllegalTransition("case_closed", f"{case.get_status_display()}的协调事项不能再办结")
    resolution = _required(resolution, "resolution", "处理结果", "请写明核实后的处理结果")
    case.status = CaseStatus.RESOLVED
    case.resolved_at = timezone.now()
    case.resolved_by = user
    case.resolution = resolution
    case.save(update_fields=["status", "resolved_at", "resolved_by", "resolution"])
    audit.record(
        "elements.case.resolve",
        actor=user,
        object=case,
        detail={"element": case.element.code, "resolution": resolution[:500]},
    )
    notify_departments(
        set(case.departments.all()) - {user.department},
        "elements.case_resolved",
        f"多元校核协调已办结：{case.element.name}",
        body=resolution,
        link="/elements/cases/",
    )
    return case


@transaction.atomic
def escalate_case(user, case: CoordinationCase, reason: str) -> CoordinationCase:
    """Not settled between the departments: to the next step of the chain (CZ: 同级主管部门)."""
    case = _lock_case(case)
    if user.department_id is None or not case.departments.filter(pk=user.department_id).exists():
        raise PermissionDenied("not_party", "只有协调双方部门可以提请上级协调")
    if not user.has_role(*Role.officer_roles()):
        raise PermissionDenied("officer_only", "只有部门数据专员可以提请上级协调")
    _officer_department_ok(user)
    if case.status != CaseStatus.OPEN:
        raise IllegalTransition("not_open", f"{case.get_status_display()}的协调事项不能提请协调")
    reason = _required(reason, "reason", "提请理由", "请说明未能协商一致的情况")
    authority = platform_authority()
    if authority is None:
        raise DomainError("no_authority", "平台未设置数据主管部门，无法提请协调", status=409)
    target, article = escalation_target()
    case.status = CaseStatus.ESCALATED
    case.save(update_fields=["status"])
    audit.record(
        "elements.case.escalate",
        actor=user,
        object=case,
        detail={"element": case.element.code, "to": target, "article": article, "reason": reason[:500]},
    )
    others = set(case.departments.all()) - {user.department}
    notify_departments(
        {authority, *others},
        "elements.case_escalated",
        f"多元校核协调提请{target}：{case.element.name}（{user.department.name}）",
        body=f"{reason}\n依据：{article}" if article else reason,
        link="/elements/cases/",
    )
    return case


# --- selectors ---------------------------------------------------------------------------------------------


def search_elements(q: str = ""):
    """The dictionary, filtered by code, name, synonym or description (synonyms are matched in Python:
    JSON text escapes CJK on SQLite; the dictionary is small)."""
    elements = list(DataElement.objects.order_by("code"))
    q = normalise(q)
    if not q:
        return elements
    return [
        el
        for el in elements
        if q in normalise(el.code) or any(q in n for n in names_of(el)) or q in normalise(el.description)
    ]


def sources_by_element(elements) -> dict[int, list[ElementSource]]:
    out: dict[int, list[ElementSource]] = defaultdict(list)
    for s in (
        ElementSource.objects.filter(element__in=list(elements))
        .select_related("resource", "department", "override_by")
        .order_by("-authoritative", "department__name", "resource__code")
    ):
        out[s.element_id].append(s)
    return out


def pending_sources():
    """多源登记待确认: second departments on live resources the authority has not confirmed."""
    return (
        ElementSource.objects.filter(authoritative=False, resource__status__in=LIVE)
        .select_related("element", "resource", "department")
        .order_by("element__code", "created_at")
    )


def cases_for(user, status: str = ""):
    """The authority (and auditors) see every case, escalated first; a department sees its own."""
    qs = CoordinationCase.objects.select_related("element", "resolved_by").prefetch_related("departments")
    if user.has_role(Role.AUTHORITY, Role.AUDITOR):
        qs = qs.annotate(
            rank=Case(
                When(status=CaseStatus.ESCALATED, then=Value(0)),
                When(status=CaseStatus.OPEN, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        ).order_by("rank", "-opened_at", "-id")
    elif user.department_id is None:
        return qs.none()
    else:
        qs = qs.filter(departments=user.department_id).order_by("-opened_at", "-id")
    if status:
        qs = qs.filter(status=status)
    return qs


def get_case(user, case_id: int) -> CoordinationCase:
    case = cases_for(user).filter(pk=case_id).first()
    if case is None:
        raise NotFound("case_not_found", "该协调事项不存在或无权查看")
    return case


def get_source(source_id: int) -> ElementSource:
    source = (
        ElementSource.objects.select_related("element", "resource", "department").filter(pk=source_id).first()
    )
    if source is None:
        raise NotFound("source_not_found", "该数据元来源不存在")
    return source
