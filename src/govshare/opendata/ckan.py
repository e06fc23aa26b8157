"""CKAN-compatible read API of the open portal (issue #7): what harvesters and the `ckanapi` client speak.

Served at /open/api/3/action/<action> (and CKAN's unversioned /open/api/action/<action>), GET with query
parameters or POST with a JSON body or a form, in CKAN's envelope `{"help", "success", "result"}` and
its error shapes and statuses (Not Found 404, Validation 409, Search Query / bad request 400), so
existing CKAN tooling works unchanged. Read-only and public: CORS `*`, no CSRF, no login.

Only what the portal lists is visible: open datasets with a written version (`selectors.published`).
A suspended or withdrawn dataset is "Not found" here, as it is not published now (CZ 28).

Names: a package is `OpenDataset.name`; an organization is a provider department, named by its
统一社会信用代码 in lower case (stable, unique, ASCII as CKAN requires); a group is an R-OPEN-13 domain code.
Search goes through `selectors.search`, the same query the portal pages run; the `fq` subset it accepts is
`organization:`, `groups:`, `res_format:`, `open_type:` and `license_id:` terms, AND-ed, with `(a OR b)`.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import logging
import re
from collections.abc import Callable

from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from govshare.catalog.models import Resource, UpdateCycle
from govshare.errors import DomainError
from govshare.orgs.models import Department

from . import selectors
from .models import DOMAINS, OpenDataset

LICENSE_ID = "gov-open"
LICENSE_TITLE = "政务数据开放使用条款"
SITE_TITLE = "政务数据开放平台"
# The CKAN API level these actions follow (2.10's action API); clients that check it see a current CKAN.
CKAN_VERSION = "2.10.0"
MAX_ROWS = selectors.MAX_ROWS  # CKAN's ckan.search.rows_max default, applied silently as CKAN does
DEFAULT_ROWS = 10
DEFAULT_FACET_LIMIT = 50
LIST_LIMIT = 1000
FORMATS = {  # our download extension → CKAN format, IANA media type
    "csv": ("CSV", "text/csv"),
    "json": ("JSON", "application/json"),
    "xlsx": ("XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}
DOMAIN_LABELS = dict(DOMAINS)
OPEN_TYPE_LABELS = selectors.OPEN_TYPE_LABELS
CYCLE_LABELS = dict(UpdateCycle.choices)
JSON_TYPE = "application/json;charset=utf-8"
log = logging.getLogger(__name__)


class CkanError(Exception):
    """An action's failure, answered in CKAN's error shape with CKAN's status for that type."""

    STATUS = {
        "Not Found Error": 404,
        "Validation Error": 409,
        "Search Query Error": 400,
        "Bad Request": 400,
    }

    def __init__(self, kind: str, message: str, fields: dict | None = None):
        super().__init__(message)
        self.kind, self.message, self.fields = kind, message, fields or {}

    @property
    def status(self) -> int:
        return self.STATUS[self.kind]


def not_found(what: str) -> CkanError:
    return CkanError("Not Found Error", f"Not found: {what}")


def invalid(field: str, message: str) -> CkanError:
    return CkanError("Validation Error", f"{field}: {message}", {field: [message]})


# ---------------------------------------------------------------- parameters


def _scalar(params: dict, key: str, default=None):
    value = params.get(key, default)
    if isinstance(value, list):  # a repeated query parameter: CKAN takes it as a list; we want one
        value = value[-1] if value else default
    return value


def _int(params: dict, key: str, default: int, minimum: int = 0) -> int:
    value = _scalar(params, key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise invalid(key, "Invalid integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid(key, "Invalid integer") from None
    if number < minimum:
        raise invalid(key, "Must be a natural number")
    return number


def _bool(params: dict, key: str, default: bool = False) -> bool:
    value = _scalar(params, key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def _json_list(params: dict, key: str) -> list[str]:
    """CKAN's `facet.field`: a JSON list in a query string, or a list in a JSON body."""
    value = params.get(key)
    if value in (None, ""):
        return []
    if isinstance(value, str):
        if re.fullmatch(r"[A-Za-z_]+", value):  # one bare field name, as GET clients often send it
            return [value]
        try:
            value = json.loads(value)
        except ValueError:
            raise invalid(key, "Could not parse as valid JSON") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(key, "Not a list of strings")
    return value


# ---------------------------------------------------------------- dictionaries


def base_url(request) -> str:
    """Absolute URLs for harvesters: the configured public address, else the address asked."""
    configured = getattr(settings, "GOVSHARE_BASE_URL", "").rstrip("/")
    return configured or f"{request.scheme}://{request.get_host()}"


def ckan_time(value: dt.datetime | None) -> str | None:
    """CKAN's timestamps: naive UTC ISO 8601 with microseconds, e.g. 2026-03-01T08:00:00.000000."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def org_name(department: Department) -> str:
    return department.uscc.lower()


def organization_dict(department: Department, count: int | None = None) -> dict:
    out = {
        "id": str(department.pk),
        "name": org_name(department),
        "title": department.name,
        "display_name": department.name,
        "description": "",
        "image_url": "",
        "image_display_url": "",
        "created": None,
        "is_organization": True,
        "type": "organization",
        "state": "active",
        "approval_status": "approved",
    }
    if count is not None:
        out["package_count"] = count
    return out


def group_dict(code: str, count: int | None = None) -> dict:
    out = {
        "id": code,
        "name": code,
        "title": DOMAIN_LABELS[code],
        "display_name": DOMAIN_LABELS[code],
        "description": "",
        "image_url": "",
        "image_display_url": "",
        "is_organization": False,
        "type": "group",
        "state": "active",
        "approval_status": "approved",
    }
    if count is not None:
        out["package_count"] = count
    return out


def resource_dicts(dataset: OpenDataset, base: str) -> list[dict]:
    """One resource per download format of the current version (xlsx only where it was written)."""
    version = dataset.current
    if version is None:
        return []
    formats = ["csv", "json"] + (["xlsx"] if version.xlsx_file else [])
    out = []
    for position, ext in enumerate(formats):
        fmt, mimetype = FORMATS[ext]
        out.append(
            {
                "id": f"{dataset.pk}-{version.number}-{ext}",
                "package_id": str(dataset.pk),
                "name": f"{dataset.title}（第{version.number}版，{fmt}）",
                "description": f"{version.rows}行，{len(version.items)}个信息项",
                "format": fmt,
                "mimetype": mimetype,
                "url": f"{base}/open/datasets/{dataset.name}/download/{version.number}.{ext}",
                "url_type": None,
                # only the CSV file is stored: its size and digest are known; JSON is streamed from it
                "size": version.size if ext == "csv" else None,
                "hash": f"sha256:{version.sha256}" if ext == "csv" and version.sha256 else "",
                "last_modified": ckan_time(version.finished_at),
                "created": ckan_time(version.created_at),
                "position": position,
                "state": "active",
            }
        )
    return out


def package_dict(dataset: OpenDataset, base: str, cycle: str = "") -> dict:
    version = dataset.current
    provider = dataset.provider
    resources = resource_dicts(dataset, base)
    extras = {
        "provider": provider.name,
        "domain": DOMAIN_LABELS.get(dataset.domain, dataset.domain),
        "open_type": OPEN_TYPE_LABELS.get(dataset.open_type, dataset.open_type),
        "update_cycle": CYCLE_LABELS.get(cycle, cycle),
        "rows": str(version.rows) if version else "0",
        "items": "、".join(i["name"] for i in version.items) if version else "",
    }
    return {
        "id": str(dataset.pk),
        "name": dataset.name,
        "title": dataset.title,
        "notes": dataset.description,
        "type": "dataset",
        "state": "active",
        "private": False,
        "isopen": True,
        "metadata_created": ckan_time(dataset.opened_at),
        "metadata_modified": ckan_time(dataset.updated_at),
        "owner_org": str(provider.pk),
        "organization": organization_dict(provider),
        "author": provider.name,
        "author_email": None,
        "maintainer": provider.name,
        "maintainer_email": None,
        "groups": [
            {
                "id": dataset.domain,
                "name": dataset.domain,
                "title": DOMAIN_LABELS.get(dataset.domain, dataset.domain),
                "display_name": DOMAIN_LABELS.get(dataset.domain, dataset.domain),
                "description": "",
                "image_display_url": "",
            }
        ],
        "tags": [],
        "num_tags": 0,
        "license_id": LICENSE_ID,
        "license_title": LICENSE_TITLE,
        "license_url": f"{base}/open/terms/",
        "url": f"{base}/open/datasets/{dataset.name}/",
        "version": str(version.number) if version else None,
        "num_resources": len(resources),
        "resources": resources,
        "extras": [{"key": k, "value": v} for k, v in extras.items()],
        "relationships_as_object": [],
        "relationships_as_subject": [],
    }


def package_dicts(datasets: list[OpenDataset], base: str) -> list[dict]:
    """Many packages with one extra query (the catalog entries' update cycles)."""
    cycles = dict(
        Resource.objects.filter(pk__in=[d.resource_id for d in datasets]).values_list("pk", "update_cycle")
    )
    return [package_dict(d, base, cycles.get(d.resource_id, "")) for d in datasets]


# ---------------------------------------------------------------- search translation

FQ_TERM = re.compile(r'(?P<sign>[+-]?)(?P<field>[A-Za-z_.]+):(?P<value>"[^"]*"|\([^)]*\)|[^\s()"]+)')
FQ_FIELDS = {"organization", "owner_org", "groups", "res_format", "open_type", "license_id"}
# CKAN sort clause → the selector's sort
SORTS = {
    ("score", "desc"): "relevance",
    ("metadata_modified", "desc"): "newest",
    ("metadata_modified", "asc"): "oldest",
    ("metadata_created", "desc"): "newest",
    ("metadata_created", "asc"): "oldest",
    ("name", "asc"): "name",
    ("title_string", "asc"): "title",
    ("title", "asc"): "title",
}
FACETS = {"organization": "provider", "groups": "domain", "res_format": "format", "open_type": "open_type"}


def _values_of(raw: str) -> list[str]:
    raw = raw.strip()
    if raw.startswith("(") and raw.endswith(")"):
        parts = [p.strip().strip('"') for p in re.split(r"\s+OR\s+", raw[1:-1].strip())]
        return [p for p in parts if p]
    return [raw.strip('"')]


def parse_terms(text: str) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """Split a CKAN query into (field, values) terms and free words; AND is implied, as CKAN's default."""
    terms: list[tuple[str, list[str]]] = []
    for match in FQ_TERM.finditer(text):
        field = match["field"]
        if match["sign"] == "-":
            raise CkanError(
                "Search Query Error", f"Search Query is invalid: negated terms are not supported: {match[0]}"
            )
        if field not in FQ_FIELDS:
            raise CkanError(
                "Search Query Error",
                f"Search Query is invalid: unsupported field {field!r}; "
                f"supported: {', '.join(sorted(FQ_FIELDS))}",
            )
        terms.append((field, _values_of(match["value"])))
    rest = FQ_TERM.sub(" ", text).replace("*:*", " ")
    words = [w for w in rest.split() if w not in ("AND", "&&", "+")]
    if any(w in ("OR", "NOT", "||") or w.startswith("-") for w in words):
        raise CkanError(
            "Search Query Error", "Search Query is invalid: only AND-ed words and terms are supported"
        )
    return terms, [w.lstrip("+") for w in words]


def _org_ids(field: str, names: list[str]) -> set[str]:
    """`organization:` names a provider by its code (lower-case USCC); `owner_org:` by its id."""
    if field == "owner_org":
        return {n for n in names if n.isdecimal()}
    found = Department.objects.filter(uscc__in=[n.upper() for n in names]).values_list("pk", flat=True)
    return {str(pk) for pk in found}


def to_selector_filters(terms: list[tuple[str, list[str]]]) -> dict[str, list[str]] | None:
    """CKAN terms → the selector's {field: values}; None when they cannot all match (nothing is found).

    Values of one term are OR-ed; repeated terms of one field are AND-ed: for single-valued fields that
    is the intersection, for res_format (a dataset has CSV, JSON and maybe XLSX) a term that offers
    only XLSX narrows to datasets with an xlsx file.
    """
    sets: dict[str, set[str]] = {}
    formats: list[set[str]] = []
    for field, values in terms:
        if field == "license_id":
            if LICENSE_ID not in values:
                return None
            continue
        if field in ("organization", "owner_org"):
            wanted = _org_ids(field, values)
            field = "provider"
        elif field == "groups":
            wanted = set(values)
            field = "domain"
        elif field == "open_type":
            wanted = set(values)
        else:  # res_format
            formats.append({v.lower() for v in values} & set(FORMATS))
            continue
        sets[field] = sets[field] & wanted if field in sets else wanted
        if not sets[field]:
            return None
    out = {field: sorted(values) for field, values in sets.items()}
    if formats:
        if not all(formats):
            return None
        if any(not (f & {"csv", "json"}) for f in formats):
            out["format"] = ["xlsx"]
    return out


def to_selector_sort(text: str) -> str:
    clauses = [c.split() for c in (text or "").split(",") if c.strip()]
    if not clauses:
        return "relevance"
    key = (clauses[0][0], (clauses[0][1] if len(clauses[0]) > 1 else "asc").lower())
    if key not in SORTS or any(len(c) > 2 for c in clauses):
        raise CkanError(
            "Search Query Error",
            f"Search Query is invalid: unsupported sort {text!r}; supported: "
            + ", ".join(f"{f} {d}" for f, d in SORTS),
        )
    return SORTS[key]


def _facet_entries(field: str, values: list[dict]) -> list[dict]:
    """The selector's facet values as CKAN facet items (name, display_name, count)."""
    if field == "organization":
        ids = [int(v["value"]) for v in values]
        names = dict(Department.objects.filter(pk__in=ids).values_list("pk", "uscc"))
        return [
            {"name": names[int(v["value"])].lower(), "display_name": v["label"], "count": v["count"]}
            for v in values
            if int(v["value"]) in names
        ]
    if field == "res_format":
        return [
            {"name": FORMATS[v["value"]][0], "display_name": FORMATS[v["value"]][0], "count": v["count"]}
            for v in values
        ]
    return [{"name": v["value"], "display_name": v["label"], "count": v["count"]} for v in values]


# ---------------------------------------------------------------- actions


def package_list(request, params: dict) -> list[str]:
    """Names of the published open datasets, by name; `limit` and `offset` page them."""
    offset = _int(params, "offset", 0)
    limit = _int(params, "limit", 0)
    names = selectors.published().order_by("name").values_list("name", flat=True)
    return list(names[offset : offset + limit] if limit else names[offset:])


def _published_by_id(ident: str) -> OpenDataset:
    qs = selectors.published().select_related("provider", "current")
    dataset = qs.filter(name=ident).first()
    if dataset is None and ident.isdecimal():
        dataset = qs.filter(pk=int(ident)).first()
    if dataset is None:
        raise not_found("Dataset not found")
    return dataset


def package_show(request, params: dict) -> dict:
    """One open dataset by name or id (`include_tracking` and the like are ignored)."""
    ident = str(_scalar(params, "id") or _scalar(params, "name_or_id") or "").strip()
    if not ident:
        raise invalid("name_or_id", "Missing value")
    return package_dicts([_published_by_id(ident)], base_url(request))[0]


def package_search(request, params: dict) -> dict:
    """Search: q (words; field:value terms as in fq), fq, rows (≤ 1000), start, sort, facet.field."""
    q = str(_scalar(params, "q") or "")
    fq = str(_scalar(params, "fq") or "")
    fq_list = params.get("fq_list") or []
    rows = min(_int(params, "rows", DEFAULT_ROWS), MAX_ROWS)
    start = _int(params, "start", 0)
    sort = to_selector_sort(str(_scalar(params, "sort") or ""))
    fields = _json_list(params, "facet.field") if _bool(params, "facet", True) else []
    facet_limit = _int(params, "facet.limit", DEFAULT_FACET_LIMIT, minimum=-1)

    q_terms, words = parse_terms(q)
    terms = list(q_terms)
    for text in [fq, *(fq_list if isinstance(fq_list, list) else [fq_list])]:
        fq_terms, loose = parse_terms(str(text))
        if loose:
            raise CkanError(
                "Search Query Error", f"Search Query is invalid: fq must be field:value terms: {text!r}"
            )
        terms += fq_terms
    filters = to_selector_filters(terms)
    wanted = [f for f in dict.fromkeys(fields) if f in FACETS]
    if filters is None:
        count, page, counted = 0, [], {}
    else:
        found = selectors.search(
            " ".join(words), filters, sort, rows=rows, start=start, facet_fields=[FACETS[f] for f in wanted]
        )
        count, page, counted = found.count, found.datasets, found.facets
    facets, search_facets = {}, {}
    for field in dict.fromkeys(fields):
        if field in FACETS:
            items = _facet_entries(field, counted.get(FACETS[field], []))
        elif field == "license_id" and count:
            items = [{"name": LICENSE_ID, "display_name": LICENSE_TITLE, "count": count}]
        else:  # tags and other CKAN fields we do not have: an empty facet, as CKAN gives for an unused one
            items = []
        if facet_limit >= 0:
            items = items[:facet_limit]
        facets[field] = {i["name"]: i["count"] for i in items}
        search_facets[field] = {"title": field, "items": items}
    return {
        "count": count,
        "sort": str(_scalar(params, "sort") or "score desc, metadata_modified desc"),
        "results": package_dicts(page, base_url(request)),
        "facets": facets,
        "search_facets": search_facets,
    }


def current_package_list_with_resources(request, params: dict) -> list[dict]:
    """The most recently modified open datasets with their resources (`limit`, `offset`)."""
    limit = min(_int(params, "limit", LIST_LIMIT), LIST_LIMIT)
    offset = _int(params, "offset", 0)
    page = list(
        selectors.published()
        .select_related("provider", "current")
        .order_by("-updated_at", "-id")[offset : offset + limit]
    )
    return package_dicts(page, base_url(request))


def _counts_by_provider() -> dict[int, int]:
    return dict(selectors.published().values_list("provider_id").annotate(n=Count("id")).order_by())


def _sort_list(items: list[dict], params: dict, allowed: tuple[str, ...]) -> list[dict]:
    text = str(_scalar(params, "sort") or _scalar(params, "order_by") or "name asc")
    parts = text.split()
    field, direction = parts[0], (parts[1].lower() if len(parts) > 1 else "asc")
    if field not in allowed or direction not in ("asc", "desc") or len(parts) > 2:
        raise invalid("sort", f"Cannot sort by field `{text}`")
    key = "package_count" if field == "packages" else field
    return sorted(items, key=lambda d: (d.get(key) or 0, d["name"]) if key == "package_count" else d[key],
                  reverse=direction == "desc")  # fmt: skip


def _listing(items: list[dict], params: dict, all_fields: bool):
    offset = _int(params, "offset", 0)
    limit = _int(params, "limit", LIST_LIMIT)
    items = items[offset : offset + limit]
    return items if all_fields else [d["name"] for d in items]


def organization_list(request, params: dict):
    """Provider departments that have open datasets (`all_fields`, `sort`, `limit`, `offset`)."""
    counts = _counts_by_provider()
    items = [organization_dict(d, counts[d.pk]) for d in Department.objects.filter(pk__in=list(counts))]
    wanted = params.get("organizations")
    if wanted:
        wanted = set(wanted if isinstance(wanted, list) else str(wanted).split(","))
        items = [d for d in items if d["name"] in wanted]
    items = _sort_list(items, params, ("name", "title", "package_count", "packages"))
    return _listing(items, params, _bool(params, "all_fields"))


def _department(ident: str) -> Department:
    """A provider with open datasets; any other department is not an organization here."""
    providers = Department.objects.filter(pk__in=selectors.published().values("provider_id"))
    dept = providers.filter(uscc=ident.upper()).first()
    if dept is None and ident.isdecimal():
        dept = providers.filter(pk=int(ident)).first()
    if dept is None:
        raise not_found("Organization not found")
    return dept


def organization_show(request, params: dict) -> dict:
    """A provider with its open-dataset count; `include_datasets` adds its datasets (up to 1000)."""
    ident = str(_scalar(params, "id") or "").strip()
    if not ident:
        raise invalid("id", "Missing value")
    dept = _department(ident)
    mine = selectors.published().filter(provider=dept)
    out = organization_dict(dept, mine.count())
    if _bool(params, "include_datasets"):
        page = list(mine.select_related("provider", "current").order_by("name")[:LIST_LIMIT])
        out["packages"] = package_dicts(page, base_url(request))
    return out


def _counts_by_domain() -> dict[str, int]:
    return dict(selectors.published().values_list("domain").annotate(n=Count("id")).order_by())


def group_list(request, params: dict):
    """The open-data domains of R-OPEN-13, every one, with `package_count` under `all_fields`."""
    counts = _counts_by_domain()
    items = [group_dict(code, counts.get(code, 0)) for code, _ in DOMAINS]
    wanted = params.get("groups")
    if wanted:
        wanted = set(wanted if isinstance(wanted, list) else str(wanted).split(","))
        items = [d for d in items if d["name"] in wanted]
    items = _sort_list(items, params, ("name", "title", "package_count", "packages"))
    return _listing(items, params, _bool(params, "all_fields"))


def group_show(request, params: dict) -> dict:
    """One domain with its open-dataset count; `include_datasets` adds its datasets (up to 1000)."""
    ident = str(_scalar(params, "id") or "").strip()
    if not ident:
        raise invalid("id", "Missing value")
    if ident not in DOMAIN_LABELS:
        raise not_found("Group not found")
    mine = selectors.published().filter(domain=ident)
    out = group_dict(ident, mine.count())
    if _bool(params, "include_datasets"):
        page = list(mine.select_related("provider", "current").order_by("name")[:LIST_LIMIT])
        out["packages"] = package_dicts(page, base_url(request))
    return out


def license_list(request, params: dict) -> list[dict]:
    """The one licence every open dataset is published under: the portal's terms of use."""
    base = base_url(request)
    return [
        {"id": LICENSE_ID, "title": LICENSE_TITLE, "url": f"{base}/open/terms/", "status": "active"},
    ]


def status_show(request, params: dict) -> dict:
    """Who we are, as CKAN says it: site, CKAN API level, default locale."""
    base = base_url(request)
    return {
        "site_title": SITE_TITLE,
        "site_description": "政务数据开放平台的数据集目录与下载地址（CKAN 兼容只读接口）",
        "site_url": f"{base}/open",
        "ckan_version": CKAN_VERSION,
        "error_emails_to": None,
        "locale_default": "zh_Hans_CN",
        "extensions": [],
    }


def help_show(request, params: dict) -> str:
    """The documentation of an action (the `help` link of every answer points here)."""
    name = str(_scalar(params, "name") or "").strip()
    if name not in ACTIONS:
        raise not_found("Action not found")
    return inspect.getdoc(ACTIONS[name]) or ""


ACTIONS: dict[str, Callable] = {
    f.__name__: f
    for f in (
        package_list,
        package_show,
        package_search,
        current_package_list_with_resources,
        organization_list,
        organization_show,
        group_list,
        group_show,
        license_list,
        status_show,
        help_show,
    )
}


# ---------------------------------------------------------------- the view


def _request_params(request) -> dict:
    """CKAN's reading of a call: query parameters for GET; a JSON body (or a form) for POST."""
    if request.method != "POST":
        return _mixed(request.GET)
    if request.POST:
        keys = list(request.POST)
        if len(keys) == 1 and request.POST[keys[0]] in ("", "1"):  # JSON posted as a form's only key
            return _json_body(keys[0])
        return _mixed(request.POST)
    return _json_body(request.body.decode("utf-8", "replace")) if request.body.strip() else {}


def _mixed(querydict) -> dict:
    return {k: (v[0] if len(v) == 1 else v) for k, v in querydict.lists()}


def _json_body(text: str) -> dict:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CkanError("Bad Request", f"Bad request - JSON Error: {exc}") from None
    if not isinstance(data, dict):
        raise CkanError(
            "Bad Request",
            f"Bad request - JSON Error: Request data JSON decoded to {data!r} but it needs to be a dictionary.",
        )
    return data


def _respond(body: dict, status: int = 200) -> HttpResponse:
    response = HttpResponse(json.dumps(body, ensure_ascii=False), status=status, content_type=JSON_TYPE)
    return cors(response)


def cors(response: HttpResponse) -> HttpResponse:
    """Public read-only data: any web page may read it (no cookies are needed or honoured)."""
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type, Authorization, X-CKAN-API-Key"
    response["Access-Control-Max-Age"] = "86400"
    return response


@csrf_exempt
def action(request, action: str):
    """/open/api/3/action/<action>: one CKAN action, answered in CKAN's envelope."""
    if request.method == "OPTIONS":
        return cors(HttpResponse(status=200))
    help_url = f"{base_url(request)}/open/api/3/action/help_show?name={action}"
    envelope: dict = {"help": help_url}
    if request.method not in ("GET", "POST"):
        return _respond(envelope | {"success": False, "error": {"__type": "Bad Request", "message": "Bad request - Method not allowed"}}, 405)  # fmt: skip
    function = ACTIONS.get(action)
    try:
        if function is None:
            raise CkanError("Bad Request", f"Bad request - Action name not known: {action}")
        result = function(request, _request_params(request))
    except CkanError as exc:
        error = {"__type": exc.kind, "message": exc.message, **exc.fields}
        return _respond(envelope | {"success": False, "error": error}, exc.status)
    except DomainError as exc:  # a selector refused the arguments
        error = {"__type": "Validation Error", "message": exc.message}
        return _respond(envelope | {"success": False, "error": error}, 409)
    except Exception:  # CKAN answers its envelope even then; the traceback goes to the log
        log.exception("CKAN action %s failed", action)
        error = {"__type": "Internal Server Error", "message": "Internal Server Error"}
        return _respond(envelope | {"success": False, "error": error}, 500)
    return _respond(envelope | {"success": True, "result": result})
