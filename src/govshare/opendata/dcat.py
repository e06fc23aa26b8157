"""The open catalog as DCAT-AP JSON-LD at /open/catalog.jsonld, for data portals that harvest DCAT.

One `dcat:Catalog` listing every published open dataset (`selectors.published`) as a `dcat:Dataset` with
one `dcat:Distribution` per download format of its current version — the same datasets, URLs and
digests the CKAN API gives. Themes are the R-OPEN-13 domains as a SKOS concept scheme (DCAT-AP's EU
data-theme vocabulary has no 信用 or 社保); frequency, file type and language use the EU vocabularies.

Limit: the whole catalog is one document, with no Hydra paging. A city's open catalog is thousands of
datasets: 5,000 make ≈ 16 MB, answered in ≈ 1.2 s (bench/open.py). A harvester that needs paging or
incremental updates should use the CKAN API's `package_search` (`sort=metadata_modified desc`).
"""

from __future__ import annotations

import json

from django.db.models import Max
from django.http import HttpResponse
from django.utils import timezone

from govshare.catalog.models import Resource
from govshare.orgs.models import Department, DepartmentKind

from . import selectors
from .ckan import FORMATS, LICENSE_TITLE, SITE_TITLE, base_url, cors, org_name
from .models import DOMAINS, OpenDataset

EU = "http://publications.europa.eu/resource/authority"
FREQUENCY = {  # catalog update cycle → EU frequency vocabulary
    "realtime": "CONT",
    "daily": "DAILY",
    "weekly": "WEEKLY",
    "monthly": "MONTHLY",
    "quarterly": "QUARTERLY",
    "half_yearly": "ANNUAL_2",
    "yearly": "ANNUAL",
    "irregular": "IRREG",
}

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "spdx": "http://spdx.org/rdf/terms#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "@language": "zh-Hans",
    "dct:identifier": {"@id": "dct:identifier", "@language": None},
    "dct:issued": {"@id": "dct:issued", "@type": "xsd:dateTime"},
    "dct:modified": {"@id": "dct:modified", "@type": "xsd:dateTime"},
    "dcat:byteSize": {"@id": "dcat:byteSize", "@type": "xsd:nonNegativeInteger"},
    "spdx:checksumValue": {"@id": "spdx:checksumValue", "@type": "xsd:hexBinary"},
    "spdx:algorithm": {"@id": "spdx:algorithm", "@type": "@id"},
    "dcat:landingPage": {"@id": "dcat:landingPage", "@type": "@id"},
    "dcat:accessURL": {"@id": "dcat:accessURL", "@type": "@id"},
    "dcat:downloadURL": {"@id": "dcat:downloadURL", "@type": "@id"},
    "dcat:mediaType": {"@id": "dcat:mediaType", "@type": "@id"},
    "dct:format": {"@id": "dct:format", "@type": "@id"},
    "dct:language": {"@id": "dct:language", "@type": "@id"},
    "dct:accrualPeriodicity": {"@id": "dct:accrualPeriodicity", "@type": "@id"},
    "foaf:homepage": {"@id": "foaf:homepage", "@type": "@id"},
}


def _time(value) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


def _agent(base: str, department: Department) -> dict:
    return {
        "@id": f"{base}/open/api/3/action/organization_show?id={org_name(department)}",
        "@type": "foaf:Agent",
        "foaf:name": department.name,
        "dct:identifier": department.uscc,
    }


def _theme(base: str, code: str) -> str:
    return f"{base}/open/datasets/?domain={code}"


def _distributions(base: str, dataset: OpenDataset) -> list[dict]:
    version = dataset.current
    page = f"{base}/open/datasets/{dataset.name}/"
    out = []
    for ext in ["csv", "json"] + (["xlsx"] if version.xlsx_file else []):
        fmt, media = FORMATS[ext]
        url = f"{base}/open/datasets/{dataset.name}/download/{version.number}.{ext}"
        dist = {
            "@id": url,
            "@type": "dcat:Distribution",
            "dct:title": f"{dataset.title}（第{version.number}版，{fmt}）",
            "dcat:accessURL": page,
            "dcat:downloadURL": url,
            "dcat:mediaType": f"https://www.iana.org/assignments/media-types/{media}",
            "dct:format": f"{EU}/file-type/{fmt}",
            "dct:issued": _time(version.created_at),
            "dct:modified": _time(version.finished_at),
            "dct:license": {
                "@id": f"{base}/open/terms/",
                "@type": "dct:LicenseDocument",
                "dct:title": LICENSE_TITLE,
            },
        }
        if ext == "csv":  # the stored file: its size and digest are what a download is checked against
            dist["dcat:byteSize"] = version.size
            dist["spdx:checksum"] = {
                "@type": "spdx:Checksum",
                "spdx:algorithm": "spdx:checksumAlgorithm_sha256",
                "spdx:checksumValue": version.sha256,
            }
        out.append(dist)
    return out


def dataset_node(base: str, dataset: OpenDataset, cycle: str = "") -> dict:
    version = dataset.current
    node = {
        "@id": f"{base}/open/datasets/{dataset.name}/",
        "@type": "dcat:Dataset",
        "dct:identifier": dataset.name,
        "dct:title": dataset.title,
        "dct:description": dataset.description or dataset.title,
        "dct:publisher": _agent(base, dataset.provider),
        "dcat:theme": _theme(base, dataset.domain),
        "dct:issued": _time(dataset.opened_at),
        "dct:modified": _time(dataset.updated_at),
        "dcat:landingPage": f"{base}/open/datasets/{dataset.name}/",
        "dct:language": f"{EU}/language/ZHO",
        "owl:versionInfo": str(version.number),
        "dcat:keyword": [i["name"] for i in version.items],
        "dcat:distribution": _distributions(base, dataset),
    }
    if cycle in FREQUENCY:
        node["dct:accrualPeriodicity"] = f"{EU}/frequency/{FREQUENCY[cycle]}"
    return node


def catalog(base: str) -> dict:
    """The whole catalog document (see the module's note on its size)."""
    qs = selectors.published().select_related("provider", "current").order_by("name")
    cycles = dict(
        Resource.objects.filter(open_dataset__in=selectors.published()).values_list("pk", "update_cycle")
    )
    authority = (
        Department.objects.filter(kind=DepartmentKind.AUTHORITY, is_active=True).order_by("pk").first()
    )
    publisher = (
        _agent(base, authority)
        if authority
        else {"@id": f"{base}/open/", "@type": "foaf:Agent", "foaf:name": SITE_TITLE}
    )
    scheme = f"{base}/open/catalog.jsonld#domains"
    return {
        "@context": CONTEXT,
        "@id": f"{base}/open/catalog.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": SITE_TITLE,
        "dct:description": "政务部门依法开放的公共数据集目录（DCAT-AP）",
        "dct:publisher": publisher,
        "foaf:homepage": f"{base}/open/",
        "dct:language": f"{EU}/language/ZHO",
        "dct:license": {
            "@id": f"{base}/open/terms/",
            "@type": "dct:LicenseDocument",
            "dct:title": LICENSE_TITLE,
        },
        "dct:modified": _time(qs.aggregate(m=Max("updated_at"))["m"]),
        "dcat:themeTaxonomy": {
            "@id": scheme,
            "@type": "skos:ConceptScheme",
            "skos:prefLabel": "开放领域",
            "skos:hasTopConcept": [
                {
                    "@id": _theme(base, code),
                    "@type": "skos:Concept",
                    "skos:prefLabel": label,
                    "skos:inScheme": {"@id": scheme},
                }
                for code, label in DOMAINS
            ],
        },
        "dcat:dataset": [
            dataset_node(base, d, cycles.get(d.resource_id, "")) for d in qs.iterator(chunk_size=500)
        ],
    }


def catalog_view(request):
    """/open/catalog.jsonld: the catalog as application/ld+json, readable from any page (CORS)."""
    body = json.dumps(catalog(base_url(request)), ensure_ascii=False)
    return cors(HttpResponse(body, content_type="application/ld+json; charset=utf-8"))
