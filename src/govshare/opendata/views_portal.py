"""The public pages of the open portal: home, search and dataset pages; anyone may browse (R-OPEN-07).

Reads go through opendata.selectors. A suspended or withdrawn dataset is not listed but its page
still answers, with its status and reason and without preview or download links (R-OPEN-11).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import Http404
from django.shortcuts import render

from govshare.catalog.models import OpenType
from govshare.errors import NotFound

from . import selectors, services
from .models import DatasetStatus

PAGE_ROWS = 20
FILTER_PARAMS = ("domain", "provider", "open_type", "format")


def home(request):
    return render(request, "opendata/home.html", {"h": selectors.home()})


def _link(params: dict, **changes) -> str:
    """The search page's query string with some parameters changed; a filter change starts at page 1."""
    merged = {k: v for k, v in {**params, **changes}.items() if v not in (None, "", 1)}
    return "?" + urlencode(merged)


def datasets(request):
    q = request.GET.get("q", "").strip()[:200]
    default_sort = "relevance" if q else "newest"
    sort = request.GET.get("sort", default_sort)
    if sort not in selectors.SORTS:
        sort = default_sort
    chosen = {f: request.GET.get(f, "").strip() for f in FILTER_PARAMS}
    raw_page = request.GET.get("page", "1")
    page = int(raw_page) if raw_page.isdecimal() and int(raw_page) > 0 else 1
    result = selectors.search(
        q, {f: v for f, v in chosen.items() if v}, sort, rows=PAGE_ROWS, start=(page - 1) * PAGE_ROWS
    )
    params = {"q": q, "sort": sort if sort != default_sort else "", **chosen}
    facets = []
    for field in FILTER_PARAMS:
        values = [
            {
                **v,
                "checked": chosen[field] == v["value"],
                "href": _link(params, **{field: "" if chosen[field] == v["value"] else v["value"]}),
            }
            for v in result.facets.get(field, [])
        ]
        facets.append({"name": field, "label": selectors.FACET_LABELS[field], "values": values})
    pages = max(1, -(-result.count // PAGE_ROWS))
    return render(
        request,
        "opendata/datasets.html",
        {
            "q": q,
            "sort": sort,
            "sort_param": params["sort"],
            "sorts": [
                {
                    "key": k,
                    "label": label,
                    "href": _link(params, sort=k if k != default_sort else ""),
                    "active": k == sort,
                }
                for k, label in selectors.SORT_LABELS.items()
                if k != "relevance" or q
            ],
            "total": result.count,
            "hits": result.datasets,
            "facets": facets,
            "chosen": chosen,
            "page": page,
            "pages": pages,
            "prev_href": _link(params, page=page - 1) if page > 1 else "",
            "next_href": _link(params, page=page + 1) if page < pages else "",
            "domains": selectors.DOMAIN_LABELS,
            "open_types": selectors.OPEN_TYPE_LABELS,
        },
    )


def dataset(request, name: str):
    try:
        ds = selectors.get_dataset(name)
    except NotFound:
        raise Http404 from None
    current = ds.current
    versions = selectors.versions_of(ds)
    is_open = ds.status == DatasetStatus.OPEN and services.catalog_refusal(ds.resource) is None
    # Conditional data is obtained by application (CZ 27): no public preview or direct download links.
    downloadable = is_open and services.effective_open_type(ds) == OpenType.UNCONDITIONAL
    items = [{**i, "rule_label": services.rule_label(i["rule"])} for i in (current.items if current else [])]
    return render(
        request,
        "opendata/dataset.html",
        {
            "d": ds,
            "r": ds.resource,
            "is_open": is_open,
            "downloadable": downloadable,
            "current": current,
            "items": items,
            "versions": versions,
            "preview": current.preview[: services.PREVIEW_ROWS] if (downloadable and current) else [],
            "domain_label": selectors.DOMAIN_LABELS.get(ds.domain, ds.domain),
            "open_type_label": selectors.OPEN_TYPE_LABELS.get(ds.open_type, ds.open_type),
        },
    )
