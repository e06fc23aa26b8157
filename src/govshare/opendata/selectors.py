"""Reads of the open portal shared by its pages and the CKAN-compatible API (R-OPEN-03/13).

Search is deliberately plain SQL over one table: a substring match on the lowercased `search_text`
and equality filters on indexed columns, then one GROUP BY per facet. At the scale of a city's open
catalog (thousands of datasets) this answers in milliseconds on SQLite and PostgreSQL alike, without
a search index to keep in step with every review.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When

from govshare.catalog.models import Resource, ResourceStatus
from govshare.errors import NotFound, PermissionDenied, ValidationFailed
from govshare.orgs.models import Department, Role
from govshare.sharing.services import authority_for

from . import services
from .models import DOMAINS, DatasetStatus, OpenDataset, OpenVersion, VersionStatus

DOMAIN_LABELS = dict(DOMAINS)
OPEN_TYPE_LABELS = {"unconditional": "无条件开放", "conditional": "有条件开放"}
FORMATS = (("csv", "CSV"), ("json", "JSON"), ("xlsx", "Excel (xlsx)"))
FACET_FIELDS = ("domain", "provider", "open_type", "format")
FACET_LABELS = {"domain": "开放领域", "provider": "提供部门", "open_type": "开放类型", "format": "数据格式"}
# sort key → ORDER BY; "relevance" puts title matches first, then the newest.
SORTS = {
    "relevance": ("title_miss", "-updated_at", "-id"),
    "newest": ("-updated_at", "-id"),
    "oldest": ("updated_at", "id"),
    "title": ("title", "id"),
    "name": ("name",),
}
SORT_LABELS = {"relevance": "相关度", "newest": "最近更新", "title": "名称"}  # offered on the search page
MAX_ROWS = 1000


class SearchResult(NamedTuple):
    count: int
    datasets: list[OpenDataset]
    facets: dict[str, list[dict]]  # field → [{"value", "label", "count"}], most frequent first


def published() -> QuerySet[OpenDataset]:
    """What the public sees in lists: open datasets with at least one written version."""
    qs = OpenDataset.objects.filter(status=DatasetStatus.OPEN, current__isnull=False)
    # The catalog entry must still allow it (it may have changed since the review). The entries that no
    # longer do are few — usually none — so they are fetched first rather than joined on every row.
    closed = list(
        Resource.objects.filter(open_dataset__status=DatasetStatus.OPEN)
        .filter(
            ~Q(status__in=(ResourceStatus.PUBLISHED, ResourceStatus.RETIRING))
            | Q(is_secret=True)
            | ~Q(open_type__in=services.OPENABLE)
        )
        .values_list("id", flat=True)
    )
    return qs.exclude(resource_id__in=closed) if closed else qs


def _values(raw) -> list[str]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, str | int):
        raw = [raw]
    return [str(v.pk if hasattr(v, "pk") else v).strip() for v in raw if str(v).strip()]


def _filter(qs: QuerySet, field: str, values: list[str]) -> QuerySet:
    if field == "domain":
        return qs.filter(domain__in=values)
    if field == "open_type":
        return qs.filter(open_type__in=values)
    if field == "provider":
        ids = [int(v) for v in values if v.isdecimal()]
        return qs.filter(provider_id__in=ids)
    # format: every published dataset has CSV and JSON; xlsx only where the current version has one.
    wanted = set(values)
    if wanted - {"csv", "json", "xlsx"}:
        return qs.none()
    if wanted == {"xlsx"}:
        return qs.filter(has_xlsx=True)
    return qs


def _count_facets(qs: QuerySet, fields: list[str]) -> tuple[int, dict[str, list[dict]]]:
    """The match count and the asked facets from one GROUP BY over the facet columns together.

    One scan of the matches instead of one per facet: the groups are few (domains × providers × open
    types × xlsx or not) and are summed per facet here.
    """
    rows = qs.values_list("domain", "provider_id", "open_type", "has_xlsx").annotate(n=Count("id")).order_by()
    total, xlsx = 0, 0
    sums: dict[str, dict] = {"domain": {}, "provider": {}, "open_type": {}}
    for domain, provider, open_type, has_xlsx, n in rows:
        total += n
        xlsx += n if has_xlsx else 0
        for field, value in (("domain", domain), ("provider", provider), ("open_type", open_type)):
            sums[field][value] = sums[field].get(value, 0) + n
    names = {}
    if "provider" in fields and sums["provider"]:
        names = dict(Department.objects.filter(pk__in=sums["provider"]).values_list("pk", "name"))
    labels = {"domain": DOMAIN_LABELS, "open_type": OPEN_TYPE_LABELS, "provider": names}
    out: dict[str, list[dict]] = {}
    for field in fields:
        if field == "format":
            counts = {"csv": total, "json": total, "xlsx": xlsx}
            out[field] = [
                {"value": k, "label": label, "count": counts[k]} for k, label in FORMATS if counts[k]
            ]
            continue
        values = [
            {"value": str(v), "label": labels[field].get(v, str(v)), "count": n}
            for v, n in sums[field].items()
        ]
        out[field] = sorted(values, key=lambda f: (-f["count"], f["label"]))
    return total, out


def search(
    q: str = "",
    facets: dict[str, Iterable[str] | str] | None = None,
    sort: str = "relevance",
    rows: int = 20,
    start: int = 0,
    *,
    facet_fields: Iterable[str] = FACET_FIELDS,
) -> SearchResult:
    """Search the published open datasets; returns (count, datasets of the page, facet counts).

    - `q`: words separated by spaces; a dataset matches when its title, description, catalog code,
      provider name or published item names contain every word (case-insensitive substring).
    - `facets`: {field: value or [values]} for field in domain (DOMAINS code), provider (department
      id), open_type ("unconditional"/"conditional"), format ("csv"/"json"/"xlsx"); values of one
      field are OR-ed, fields AND-ed.
    - `sort`: one of SORTS ("relevance": datasets whose title holds every word first, then newest).
    - `rows` (0..1000) and `start`: the page; rows=0 gives only the count and facets.
    - `facet_fields`: which facets to count (CKAN's facet.field; empty for none); each is counted
      over the whole filtered result, as CKAN does.

    Suspended and withdrawn datasets, and ones whose first version is not written yet, never match.
    Raises ValidationFailed for an unknown facet field or sort.
    """
    facets = facets or {}
    facet_fields = [facet_fields] if isinstance(facet_fields, str) else list(facet_fields)
    errors = [
        {"field": "facets", "label": "筛选条件", "code": "unknown_facet", "message": f"不支持按“{f}”筛选"}
        for f in list(facets) + list(facet_fields)
        if f not in FACET_FIELDS
    ]
    if sort not in SORTS:
        errors.append(
            {"field": "sort", "label": "排序", "code": "unknown_sort", "message": f"不支持的排序方式“{sort}”"}
        )
    if errors:
        raise ValidationFailed(errors)
    rows = max(0, min(int(rows), MAX_ROWS))
    start = max(0, int(start))

    qs = published()
    words = (q or "").lower().split()
    for word in words:
        qs = qs.filter(search_text__contains=word)
    for field, raw in facets.items():
        values = _values(raw)
        if values:
            qs = _filter(qs, field, values)

    fields = list(dict.fromkeys(facet_fields))
    if fields:
        count, counted = _count_facets(qs, fields)
    else:
        count, counted = qs.count(), {}
    page: list[OpenDataset] = []
    if rows and start < count:
        ordered = qs
        if sort == "relevance":
            in_title = Q(*(Q(title__icontains=w) for w in words)) if words else Q(pk__isnull=False)
            miss = Case(When(in_title, then=Value(0)), default=Value(1), output_field=IntegerField())
            ordered = qs.annotate(title_miss=miss)
        # Ids first (the sort reads only its keys), then the page's rows with their provider and version.
        ids = list(ordered.order_by(*SORTS[sort]).values_list("id", flat=True)[start : start + rows])
        found = OpenDataset.objects.select_related("provider", "current").defer("search_text").in_bulk(ids)
        page = [found[i] for i in ids]
    return SearchResult(count, page, counted)


def home() -> dict:
    """The portal home: totals, every domain with its count (R-OPEN-13), newest datasets, providers."""
    qs = published()
    total, facets = _count_facets(qs, ["domain", "provider"])
    by_domain = {f["value"]: f["count"] for f in facets["domain"]}
    return {
        "datasets": total,
        "providers": facets["provider"],
        "domains": [{"code": c, "label": label, "count": by_domain.get(c, 0)} for c, label in DOMAINS],
        "newest": list(
            qs.select_related("provider", "current").defer("search_text").order_by("-opened_at", "-id")[:6]
        ),
        "versions": OpenVersion.objects.filter(
            status=VersionStatus.READY, dataset__status=DatasetStatus.OPEN
        ).count(),
    }


def get_dataset(name: str) -> OpenDataset:
    """Any dataset by its package name, whatever its status: a suspended page still answers."""
    dataset = OpenDataset.objects.select_related("provider", "current", "resource").filter(name=name).first()
    if dataset is None:
        raise NotFound("dataset_not_found", f"没有标识为“{name}”的开放数据集")
    return dataset


def versions_of(dataset: OpenDataset) -> list[OpenVersion]:
    """The written versions, newest first: earlier versions stay citable and downloadable, except those
    retracted after an objection held (listed, without links)."""
    return list(
        dataset.versions.filter(status__in=(VersionStatus.READY, VersionStatus.RETRACTED)).order_by("-number")
    )


# ---------------------------------------------------------------- providers' side


def can_manage(user) -> bool:
    return user.is_authenticated and user.has_role(Role.PROVIDER, Role.AUTHORITY)


def _reviewable_providers(user) -> list[int]:
    ids = []
    if user.has_role(Role.PROVIDER) and user.department_id:
        ids.append(user.department_id)
    if user.has_role(Role.AUTHORITY):
        for dept in Department.objects.filter(is_active=True).select_related("region"):
            authority = authority_for(dept)
            if authority is not None and authority.pk == user.department_id and dept.pk not in ids:
                ids.append(dept.pk)
    return ids


def openable_resources(user) -> QuerySet[Resource]:
    """Catalog entries this officer may review for opening: open type unconditional or conditional."""
    return (
        Resource.objects.filter(
            provider_id__in=_reviewable_providers(user),
            open_type__in=services.OPENABLE,
            status__in=(ResourceStatus.PUBLISHED, ResourceStatus.RETIRING),
            is_secret=False,
        )
        .select_related("provider", "open_dataset", "open_dataset__current")
        .order_by("provider__name", "code")
    )


def manage_rows(user) -> list[dict]:
    """Each reviewable entry with its open status in words."""
    out = []
    for resource in openable_resources(user):
        dataset = getattr(resource, "open_dataset", None)
        out.append({"resource": resource, "dataset": dataset, **open_state(dataset)})
    return out


def open_state(dataset: OpenDataset | None) -> dict:
    if dataset is None:
        return {"state": "未开放", "tone": ""}
    if dataset.status == DatasetStatus.SUSPENDED:
        return {"state": "已中止", "tone": "danger"}
    if dataset.status == DatasetStatus.WITHDRAWN:
        return {"state": "已撤回", "tone": "danger"}
    building = dataset.versions.filter(status=VersionStatus.BUILDING).order_by("-number").first()
    if dataset.current is None:
        if building is not None:
            return {"state": f"版本 v{building.number} 生成中", "tone": "info"}
        return {"state": "版本生成失败", "tone": "danger"}
    state = f"开放中 v{dataset.current.number}"
    if building is not None:
        return {"state": f"{state}（v{building.number} 生成中）", "tone": "ok"}
    if services.has_new_data(dataset):
        if dataset.auto_publish:
            return {"state": f"{state}（有新数据，将自动发布）", "tone": "ok"}
        return {"state": f"{state}，有新数据待审查", "tone": "warn"}
    return {"state": state, "tone": "ok"}


def get_manageable(user, resource_id: int) -> Resource:
    """An entry the officer may review; another department's is simply not found."""
    if not can_manage(user):
        raise PermissionDenied("reviewer_only", "只有提供部门数据专员或数据主管部门可以管理数据开放")
    # an entry no longer openable but already open stays manageable, so it can be withdrawn
    resource = (
        Resource.objects.select_related("provider")
        .filter(Q(open_type__in=services.OPENABLE) | Q(open_dataset__isnull=False), pk=resource_id)
        .first()
    )
    if resource is None or not services.can_review(user, resource):
        raise NotFound("resource_not_found", "没有找到可开放的目录")
    return resource
