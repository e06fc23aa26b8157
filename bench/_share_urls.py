"""Bench-only urlconf: the product's URLs plus a BARE record lookup, the baseline of the gate's cost.

The bare lookup is what /api/v1/share/<cls>/<seq>/records does minus the gate: the same ClientBearer
authentication, resource resolution (the gate's fixed SQL minus the grants), cached schema and
`gate._rows_by` query, the same response schema (`RecordsOut`) and error rendering — but no grant, no
masking and no audit event. It lives here, under
bench/, so that the product keeps exactly one path to records (DESIGN §3, idea 3).
"""

from django.db import connection
from django.urls import path
from ninja import NinjaAPI, Router

from govshare import rawsql
from govshare.catalog.models import Resource, ResourceStatus
from govshare.clients.auth import ClientBearer
from govshare.errors import DomainError, NotFound
from govshare.sharing import gate
from govshare.sharing.api import RecordsOut
from govshare.urls import urlpatterns as product_urlpatterns

bare_api = NinjaAPI(title="bench bare lookup", urls_namespace="bench_bare", docs_url=None, openapi_url=None)
router = Router(auth=ClientBearer())


@bare_api.exception_handler(DomainError)
def domain_error(request, exc: DomainError):
    return bare_api.create_response(
        request, {"code": exc.code, "message": exc.message, "detail": exc.detail or {}}, status=exc.status
    )


def _resource(code: str) -> Resource | None:
    """The gate's resource lookup without its grants: the same fixed SQL, columns and model building."""
    sql = (
        f"SELECT {rawsql.columns('r', Resource, gate._RES)} FROM {Resource._meta.db_table} r "
        "WHERE r.code = %s AND r.status IN (%s, %s)"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [code, ResourceStatus.PUBLISHED, ResourceStatus.RETIRING])
        row = cur.fetchone()
    return rawsql.build(Resource, gate._RES, row) if row is not None else None


@router.get("/{cls}/{seq}/records", response=RecordsOut)
def bare_records(request, cls: str, seq: str):
    code = f"{cls}/{seq}"
    resource = _resource(code)
    if resource is None:
        raise NotFound("resource_not_found", f"目录“{code}”不存在或未发布")
    schema = gate._schema(resource.pk, resource.version)
    given = [(k, v) for k, v in request.GET.items() if k not in ("items", "limit")]
    if len(given) != 1:
        raise DomainError("lookup_invalid", "请以一个查询条件调用", {}, status=422)
    item = schema.find(given[0][0])
    if item is None or not (item.primary or item.indexed):
        raise DomainError("lookup_not_indexed", "不是主键或检索项", {}, status=422)
    rows = gate._rows_by(resource.pk, item, given[0][1].strip(), gate.MAX_LOOKUP_ROWS)
    codes = [i.code for i in schema.items]
    return {
        "resource": resource.code,
        "grant": "",
        "count": len(rows),
        "items": [{"code": i.code, "name": i.name} for i in schema.items],
        "records": [{c: d.get(c) for c in codes} for _, _, d in rows],
        "record_info": [{"ref": str(rid), "under_verification": False, "ticket": None} for rid, _, _ in rows],
    }


bare_api.add_router("/share", router)

urlpatterns = [path("bench/", bare_api.urls), *product_urlpatterns]
