"""Catalog API: search, entries, review workflow, lists, exchange formats."""

import datetime as dt

from django.http import HttpResponse
from ninja import File, Query, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status

from govshare.errors import NotFound
from govshare.security.inputs import DbInt, Text

from . import exchange, selectors, services
from .models import Classification, Demand, NegativeListEntry, Resource, Responsibility
from .search import FACETS, search

router = Router(tags=["资源目录"])


class ItemSchema(Schema):
    code: Text = ""
    name: Text = ""
    data_type: Text = ""
    length: DbInt | None = None
    is_primary: bool = False
    is_required: bool = False
    is_indexed: bool = False
    is_basic: bool = False
    is_sensitive: bool = False
    share_type: Text = ""
    enum_values: list[Text] = []
    description: Text = ""


class ResourcePayload(Schema):
    """A catalog entry as proposed; drafts may be partial, submission checks R-CAT-03/08/09."""

    classification: Text = ""
    name: Text = ""
    abstract: Text = ""
    provider: DbInt | None = None
    lead_department: DbInt | None = None
    format_category: Text = ""
    format_type: Text = ""
    share_type: Text = ""
    share_condition: Text = ""
    share_methods: list[Text] = []
    usage_requirements: Text = ""
    open_type: Text = ""
    open_condition: Text = ""
    legal_basis: Text = ""
    update_cycle: Text = ""
    mount_kind: Text = ""
    mount_ref: Text = ""
    related_codes: list[Text] = []
    is_secret: bool = False
    items: list[ItemSchema] = []


class CreateIn(ResourcePayload):
    reason: Text = "新编目录"


class ResourceSummary(Schema):
    code: str
    name: str
    catalog_kind: str
    provider: str
    share_type: str
    open_type: str
    format_category: str
    update_cycle: str
    status: str
    version: int
    publish_date: dt.date | None


class ItemOut(ItemSchema):
    position: int


class ResourceOut(ResourceSummary):
    abstract: str
    classification: str
    provider_id: int
    provider_code: str
    lead_department: str | None
    share_condition: str
    share_methods: list[str]
    usage_requirements: str
    open_condition: str
    legal_basis: str
    mount_kind: str
    mount_ref: str
    related_codes: list[str]
    retire_effective_on: dt.date | None
    items: list[ItemOut]


class FacetValue(Schema):
    value: str
    count: int


class SearchOut(Schema):
    total: int
    page: int
    per_page: int
    items: list[ResourceSummary]
    facets: dict[str, list[FacetValue]]


class CommentOut(Schema):
    author: str
    action: str
    body: str
    created_at: dt.datetime


class RevisionOut(Schema):
    id: int
    resource_code: str
    status: str
    reason: str
    base_version: int
    narrows_unconditional: bool
    effective_on: dt.date | None
    author: str
    submitted_at: dt.datetime | None
    payload: dict
    comments: list[CommentOut]


class VersionOut(Schema):
    version: int
    reason: str
    changed_by: str
    approved_by: str | None
    changed_at: dt.datetime
    diff: list[dict]


class ChangeReasonIn(Schema):
    reason: Text


class CommentIn(Schema):
    comment: Text = ""


class PublishIn(Schema):
    comment: Text = ""
    confirm_narrowing: bool = False
    narrowing_reason: Text = ""


class UpdateIn(ResourcePayload):
    reason: Text | None = None


def summary(r: Resource) -> dict:
    return dict(
        code=r.code,
        name=r.name,
        catalog_kind=r.catalog_kind,
        provider=r.provider.name,
        share_type=r.share_type,
        open_type=r.open_type,
        format_category=r.format_category,
        update_cycle=r.update_cycle,
        status=r.status,
        version=r.version,
        publish_date=r.publish_date,
    )


def detail(r: Resource) -> dict:
    d = summary(r)
    d.update(
        abstract=r.abstract,
        classification=r.classification_id,
        provider_id=r.provider_id,
        provider_code=r.provider_code,
        lead_department=r.lead_department.name if r.lead_department else None,
        share_condition=r.share_condition,
        share_methods=r.share_methods,
        usage_requirements=r.usage_requirements,
        open_condition=r.open_condition,
        legal_basis=r.legal_basis,
        mount_kind=r.mount_kind,
        mount_ref=r.mount_ref,
        related_codes=r.related_codes,
        retire_effective_on=r.retire_effective_on,
        items=[{**{f: getattr(it, f) for f in ItemOut.model_fields}} for it in r.items.all()],
    )
    return d


def revision_out(rev) -> dict:
    return dict(
        id=rev.id,
        resource_code=rev.resource.code,
        status=rev.status,
        reason=rev.reason,
        base_version=rev.base_version,
        narrows_unconditional=rev.narrows_unconditional,
        effective_on=rev.effective_on,
        author=str(rev.author),
        submitted_at=rev.submitted_at,
        payload=rev.payload,
        comments=[
            dict(author=str(c.author), action=c.action, body=c.body, created_at=c.created_at)
            for c in rev.comments.select_related("author")
        ],
    )


class SearchQuery(Schema):
    q: Text = ""
    catalog_kind: list[Text] = []
    provider_id: list[Text] = []
    share_type: list[Text] = []
    open_type: list[Text] = []
    format_category: list[Text] = []
    update_cycle: list[Text] = []
    page: int = 1
    per_page: int = 20
    order: Text = "relevance"


def run_search(params: SearchQuery) -> dict:
    per_page = max(1, min(params.per_page, 100))
    page = max(1, params.page)
    filters = {f: getattr(params, f) for f in FACETS}
    result = search(params.q, filters, page=page, per_page=per_page, order=params.order)
    by_id = {r.id: r for r in Resource.objects.filter(id__in=result.ids).select_related("provider")}
    return dict(
        total=result.total,
        page=page,
        per_page=per_page,
        items=[summary(by_id[i]) for i in result.ids if i in by_id],
        facets={k: [dict(value=v, count=c) for v, c in vals] for k, vals in result.facets.items()},
    )


@router.get("/resources", response=SearchOut, summary="检索目录（中文全文检索，分面）")
def search_resources(request, params: Query[SearchQuery]):
    return run_search(params)


@router.post("/resources", response={201: RevisionOut}, summary="新编目录（草稿）")
def create_resource(request, body: CreateIn):
    payload = body.model_dump(exclude={"reason"})
    rev = services.create_resource(request.auth, payload, reason=body.reason)
    return Status(201, revision_out(rev))


@router.get("/resources/{cls}/{seq}", response=ResourceOut, summary="目录详情")
def get_resource(request, cls: Text, seq: Text):
    return detail(selectors.get_resource(request.auth, f"{cls}/{seq}"))


@router.get("/resources/{cls}/{seq}/versions", response=list[VersionOut], summary="版本历史")
def resource_versions(request, cls: Text, seq: Text):
    r = selectors.get_resource(request.auth, f"{cls}/{seq}")
    return [
        dict(
            version=v.version,
            reason=v.reason,
            changed_by=str(v.changed_by),
            approved_by=str(v.approved_by) if v.approved_by else None,
            changed_at=v.changed_at,
            diff=v.diff,
        )
        for v in r.versions.select_related("changed_by", "approved_by")
    ]


@router.post("/resources/{cls}/{seq}/revisions", response={201: RevisionOut}, summary="发起目录变更")
def start_revision(request, cls: Text, seq: Text, body: ChangeReasonIn):
    r = selectors.get_resource(request.auth, f"{cls}/{seq}")
    return Status(201, revision_out(services.start_revision(request.auth, r, body.reason)))


@router.post("/resources/{cls}/{seq}/retire", response=ResourceOut, summary="目录下线（按配置提前通知）")
def retire(request, cls: Text, seq: Text, body: ChangeReasonIn):
    r = selectors.get_resource(request.auth, f"{cls}/{seq}")
    return detail(services.retire_resource(request.auth, r, body.reason))


@router.get("/revisions", response=list[RevisionOut], summary="目录变更列表（本部门；主管部门含待审核）")
def list_revisions(request, status: Text | None = None):
    qs = selectors.revisions_for(request.auth)
    if status:
        qs = qs.filter(status=status)
    return [revision_out(r) for r in qs[:200]]


@router.get("/revisions/{rev_id}", response=RevisionOut, summary="目录变更详情")
def get_revision(request, rev_id: DbInt):
    return revision_out(selectors.get_revision(request.auth, rev_id))


@router.put("/revisions/{rev_id}", response=RevisionOut, summary="修改草稿或退回的目录")
def update_revision(request, rev_id: DbInt, body: UpdateIn):
    rev = selectors.get_revision(request.auth, rev_id)
    payload = body.model_dump(exclude={"reason"})
    return revision_out(services.update_revision(request.auth, rev, payload, reason=body.reason))


@router.post("/revisions/{rev_id}/submit", response=RevisionOut, summary="提交审核")
def submit(request, rev_id: DbInt):
    return revision_out(services.submit_revision(request.auth, selectors.get_revision(request.auth, rev_id)))


@router.post("/revisions/{rev_id}/return", response=RevisionOut, summary="退回（须填写意见）")
def return_(request, rev_id: DbInt, body: CommentIn):
    rev = selectors.get_revision(request.auth, rev_id)
    return revision_out(services.return_revision(request.auth, rev, body.comment))


@router.post("/revisions/{rev_id}/publish", response=RevisionOut, summary="审核通过并发布")
def publish(request, rev_id: DbInt, body: PublishIn):
    rev = selectors.get_revision(request.auth, rev_id)
    return revision_out(
        services.publish_revision(
            request.auth,
            rev,
            comment=body.comment,
            confirm_narrowing=body.confirm_narrowing,
            narrowing_reason=body.narrowing_reason,
        )
    )


@router.post("/revisions/{rev_id}/withdraw", response=RevisionOut, summary="撤回")
def withdraw(request, rev_id: DbInt):
    return revision_out(
        services.withdraw_revision(request.auth, selectors.get_revision(request.auth, rev_id))
    )


class ClassificationOut(Schema):
    code: str
    name: str
    kind: str
    parent: str | None
    lead_department: str | None


@router.get("/classifications", response=list[ClassificationOut], summary="目录分类")
def classifications(request):
    return [
        dict(
            code=c.code,
            name=c.name,
            kind=c.kind,
            parent=c.parent_id,
            lead_department=c.lead_department.name if c.lead_department else None,
        )
        for c in Classification.objects.select_related("lead_department")
    ]


# --- lists -------------------------------------------------------------------------------------------------


class DemandIn(Schema):
    service_item: Text
    service_item_code: Text = ""
    data_name: Text
    item_names: list[Text] = []
    source_department: DbInt | None = None
    note: Text = ""


class DemandOut(Schema):
    id: int
    department: str
    service_item: str
    service_item_code: str
    data_name: str
    item_names: list[str]
    source_department: str | None
    supplied_by: list[str]


def demand_out(d: Demand) -> dict:
    return dict(
        id=d.id,
        department=d.department.name,
        service_item=d.service_item,
        service_item_code=d.service_item_code,
        data_name=d.data_name,
        item_names=d.item_names,
        source_department=d.source_department.name if d.source_department else None,
        supplied_by=[s.resource.code for s in d.supplies.all()],
    )


@router.get("/demands", response=list[DemandOut], summary="需求清单")
def list_demands(request, department: DbInt | None = None):
    qs = Demand.objects.select_related("department", "source_department").prefetch_related(
        "supplies__resource"
    )
    if department:
        qs = qs.filter(department_id=department)
    return [demand_out(d) for d in qs]


@router.post("/demands", response={201: DemandOut}, summary="登记需求")
def create_demand(request, body: DemandIn):
    from govshare.orgs.models import Department

    src = Department.objects.filter(pk=body.source_department).first() if body.source_department else None
    d = services.create_demand(
        request.auth,
        service_item=body.service_item,
        data_name=body.data_name,
        item_names=body.item_names,
        source_department=src,
        service_item_code=body.service_item_code,
        note=body.note,
    )
    return Status(201, demand_out(d))


class SupplyIn(Schema):
    resource_code: Text


@router.post(
    "/demands/{demand_id}/supplies", response={201: DemandOut}, summary="供给清单：以已发布目录响应需求"
)
def link_supply(request, demand_id: DbInt, body: SupplyIn):
    demand = Demand.objects.filter(pk=demand_id).first()
    if demand is None:
        raise NotFound("demand_not_found", "需求不存在")
    services.link_supply(request.auth, demand, selectors.get_resource(request.auth, body.resource_code))
    return Status(201, demand_out(demand))


class GapOut(Schema):
    unmet_demands: list[DemandOut]
    undemanded_resources: list[ResourceSummary]


@router.get("/gaps", response=GapOut, summary="供需缺口分析")
def gaps(request):
    unmet, unused = selectors.gap_report()
    return dict(
        unmet_demands=[demand_out(d) for d in unmet], undemanded_resources=[summary(r) for r in unused]
    )


class NegativeIn(Schema):
    resource_code: Text
    item_code: Text = ""
    legal_basis: Text


class NegativeOut(Schema):
    id: int
    resource_code: str
    resource_name: str
    item_name: str
    legal_basis: str
    status: str
    review_comment: str


class ReviewIn(Schema):
    approve: bool
    comment: Text = ""


def negative_out(n: NegativeListEntry) -> dict:
    return dict(
        id=n.id,
        resource_code=n.resource.code,
        resource_name=n.resource.name,
        item_name=n.item_name,
        legal_basis=n.legal_basis,
        status=n.status,
        review_comment=n.review_comment,
    )


@router.get("/negative", response=list[NegativeOut], summary="负面清单（默认只列已生效条目）")
def negative_list(request, status: Text = "confirmed"):
    """Entries in force are public within government; proposals only to the authority and their proposer."""
    entries = NegativeListEntry.objects.filter(status=status).select_related("resource")
    return [
        negative_out(n)
        for n in entries
        if status == "confirmed" or selectors.can_review_negative(request.auth, n)
    ]


@router.post("/negative", response={201: NegativeOut}, summary="申报负面清单条目")
def propose_negative(request, body: NegativeIn):
    r = selectors.get_resource(request.auth, body.resource_code)
    item = r.items.filter(code=body.item_code).first() if body.item_code else None
    if body.item_code and item is None:
        raise NotFound("item_not_found", f"信息项“{body.item_code}”不存在")
    return Status(201, negative_out(services.propose_negative(request.auth, r, body.legal_basis, item)))


@router.post("/negative/{entry_id}/review", response=NegativeOut, summary="审核负面清单条目")
def review_negative(request, entry_id: DbInt, body: ReviewIn):
    entry = NegativeListEntry.objects.filter(pk=entry_id).first()
    if entry is None:
        raise NotFound("negative_not_found", "负面清单条目不存在")
    return negative_out(services.review_negative(request.auth, entry, body.approve, body.comment))


class ResponsibilityOut(Schema):
    department: str
    resource_code: str
    resource_name: str
    duty: str
    detail: str
    since: dt.date


@router.get("/responsibilities", response=list[ResponsibilityOut], summary="责任清单（随目录自动更新）")
def responsibilities(request, department: DbInt | None = None):
    qs = Responsibility.objects.filter(until__isnull=True).select_related("department", "resource")
    if department:
        qs = qs.filter(department_id=department)
    return [
        dict(
            department=r.department.name,
            resource_code=r.resource.code,
            resource_name=r.resource.name,
            duty=r.duty,
            detail=r.detail,
            since=r.since,
        )
        for r in qs
    ]


# --- exchange formats --------------------------------------------------------------------------------------


@router.get("/export/dcat.jsonld", summary="DCAT-AP JSON-LD 导出", response=dict)
def export_dcat(request):
    return exchange.dcat_catalog(request.build_absolute_uri("/"))


@router.get("/export/catalog.xlsx", summary="按编制指南列格式导出 xlsx")
def export_xlsx(request):
    data = exchange.export_xlsx(selectors.live_resources())
    resp = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    resp["Content-Disposition"] = 'attachment; filename="catalog.xlsx"'
    return resp


class ImportOut(Schema):
    created: int
    revisions: list[int]


@router.post("/import", response={201: ImportOut}, summary="按编制指南 xlsx 批量登记（全部成功或全部不写入）")
def import_xlsx(request, file: File[UploadedFile], submit: bool = False):
    revs = exchange.import_xlsx(request.auth, file.read(), submit=submit)
    return Status(201, dict(created=len(revs), revisions=[r.id for r in revs]))
