"""Data-element API: the dictionary, 多源登记 confirmation, 多元校核 cases, duplicate-collection check."""

import datetime as dt

from ninja import Router, Schema

from govshare.catalog.selectors import can_see_resource
from govshare.catalog.selectors import get_resource as get_catalog_resource
from govshare.security.inputs import DbInt, Text

from . import elements
from .models import CaseStatus

router = Router(tags=["数据元"])
MAX_PAGE = 1_000_000


class SourceOut(Schema):
    id: int
    department: str
    resource_code: str
    resource_name: str
    item_code: str
    authoritative: bool
    override_reason: str


class ElementOut(Schema):
    code: str
    name: str
    synonyms: list[str]
    data_type: str
    format_check: str
    description: str
    sources: list[SourceOut]


def source_out(s) -> dict:
    return dict(
        id=s.pk,
        department=s.department.name,
        resource_code=s.resource.code,
        resource_name=s.resource.name,
        item_code=s.item_code,
        authoritative=s.authoritative,
        override_reason=s.override_reason,
    )


@router.get("", response=list[ElementOut], summary="数据元目录（q= 按名称、同义名称、标识检索）")
def list_elements(request, q: Text = ""):
    found = elements.search_elements(q)
    sources = elements.sources_by_element(found)
    return [
        dict(
            code=el.code,
            name=el.name,
            synonyms=list(el.synonyms or []),
            data_type=el.data_type,
            format_check=el.format_check,
            description=el.description,
            sources=[
                source_out(s) for s in sources.get(el.pk, []) if can_see_resource(request.auth, s.resource)
            ],
        )
        for el in found
    ]


class CoordinationValueOut(Schema):
    resource: str
    resource_name: str = ""
    item: str = ""
    department: str
    value: str | None


class CoordinationCaseOut(Schema):
    id: int
    element_code: str
    element_name: str
    key: str
    values: list[CoordinationValueOut]
    departments: list[str]
    status: str
    opened_at: dt.datetime
    resolved_at: dt.datetime | None
    resolution: str


def case_out(c) -> dict:
    return dict(
        id=c.pk,
        element_code=c.element.code,
        element_name=c.element.name,
        key=c.key,
        values=[{**v, "value": None if v.get("value") is None else str(v["value"])} for v in c.values],
        departments=sorted(d.name for d in c.departments.all()),
        status=c.status,
        opened_at=c.opened_at,
        resolved_at=c.resolved_at,
        resolution=c.resolution,
    )


@router.get(
    "/cases",
    response=list[CoordinationCaseOut],
    summary="多元校核协调事项（本部门；主管部门为全部，已提请者在前）",
)
def list_cases(request, status: CaseStatus | None = None, page: DbInt = 1):
    size = 100
    page = max(1, min(page, MAX_PAGE))  # an offset past any real list, not a database error
    qs = elements.cases_for(request.auth, status or "")[(page - 1) * size : page * size]
    return [case_out(c) for c in qs]


class ResolveIn(Schema):
    resolution: Text


class EscalateIn(Schema):
    reason: Text


@router.post("/cases/{case_id}/resolve", response=CoordinationCaseOut, summary="办结协调事项")
def resolve(request, case_id: DbInt, body: ResolveIn):
    case = elements.resolve_case(request.auth, elements.get_case(request.auth, case_id), body.resolution)
    return case_out(elements.get_case(request.auth, case.pk))


@router.post(
    "/cases/{case_id}/escalate",
    response=CoordinationCaseOut,
    summary="提请主管部门协调（R-COL-06, R-ORG-05）",
)
def escalate(request, case_id: DbInt, body: EscalateIn):
    case = elements.escalate_case(request.auth, elements.get_case(request.auth, case_id), body.reason)
    return case_out(elements.get_case(request.auth, case.pk))


class OverrideIn(Schema):
    reason: Text


@router.post(
    "/sources/{source_id}/override", response=SourceOut, summary="确认多源登记（一数一源，R-COL-02）"
)
def override(request, source_id: DbInt, body: OverrideIn):
    source = elements.override_source(request.auth, elements.get_source(source_id), body.reason)
    return source_out(source)


class DuplicatesIn(Schema):
    items: list[Text]
    exclude_resource: Text = ""


class DuplicateResourceOut(Schema):
    code: str
    name: str
    provider: str
    url: str


class DuplicateOut(Schema):
    item: str
    element: str | None
    element_code: str | None
    resources: list[DuplicateResourceOut]
    total: int


@router.post(
    "/duplicates", response=list[DuplicateOut], summary="重复采集检查：哪些信息项已可通过共享获取（R-COL-03）"
)
def duplicates(request, body: DuplicatesIn):
    exclude = get_catalog_resource(request.auth, body.exclude_resource) if body.exclude_resource else None
    return elements.duplicate_warnings(body.items[:500], exclude_resource=exclude)
