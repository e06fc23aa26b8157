"""Bench-only: a BARE record lookup, the baseline of the gate's cost, on the same stack as /records.

The bare lookup is what /api/v1/share/<cls>/<seq>/records does minus the gate, mounted the same way
(a middleware at the end of the short chain, like govshare.sharing.fast.FastRoutes): the same bearer
parsing and credential checks, one query for the credential, the resource and the record under the
asked key (the gate's query minus the grants and the open-ticket flag), the cached schema,
`gate._rows_by` (which takes that record as /records does), the same JSON shape (`RecordsOut`),
rendered the same way, and the API's error rendering — but no grant, no masking and no audit event.
It lives here, under bench/, so that the product keeps exactly one path to records (DESIGN §3, idea 3).
"""

import functools
import re

from django.db import connection
from ninja.errors import AuthenticationError

from govshare import rawsql
from govshare.catalog.models import Resource, ResourceStatus
from govshare.clients import auth, tokens
from govshare.clients.auth import ClientBearer
from govshare.errors import DomainError, NotFound
from govshare.sharing import fast, gate
from govshare.urls import urlpatterns  # noqa: F401 - the product's URLs, unchanged

_ROUTE = re.compile(r"/bench/share/([^/]+)/([^/]+)/records")


@functools.cache
def _sql() -> str:
    columns, joins = auth.credential_sql()
    return (
        f"SELECT {columns}, {rawsql.columns('r', Resource, gate._RES)}, k.id, k.key, k.data {joins} "
        f"LEFT JOIN {Resource._meta.db_table} r ON r.code = %s AND r.status IN (%s, %s) "
        "LEFT JOIN collect_record k ON k.resource_id = r.id AND k.key = %s AND NOT k.deleted "
        "WHERE c.prefix = %s"
    )


def bare_records(request, cls: str, seq: str, token: str) -> dict:
    code = f"{cls}/{seq}"
    parsed = tokens.parse((token or "").strip())
    key = gate.lookup_key(code, "records", request.GET)
    row = None
    if parsed is not None:
        with connection.cursor() as cur:
            cur.execute(_sql(), [code, ResourceStatus.PUBLISHED, ResourceStatus.RETIRING, key, parsed[0]])
            row = cur.fetchone()
    if parsed is None:
        raise auth._invalid()
    ClientBearer.attach(request, auth.accept(auth.credential_from(row) if row else None, parsed[1]))
    if row[auth.CREDENTIAL_WIDTH] is None:
        raise NotFound("resource_not_found", f"目录“{code}”不存在或未发布")
    resource = rawsql.build(Resource, gate._RES, row[auth.CREDENTIAL_WIDTH : -3])
    keyed = (key, [] if row[-3] is None else [row[-3:]])
    schema = gate._schema(resource.pk, resource.version)
    given = [(k, v) for k, v in request.GET.items() if k not in ("items", "limit")]
    if len(given) != 1:
        raise DomainError("lookup_invalid", "请以一个查询条件调用", {}, status=422)
    item = schema.find(given[0][0])
    if item is None or not (item.primary or item.indexed):
        raise DomainError("lookup_not_indexed", "不是主键或检索项", {}, status=422)
    rows = gate._rows_by(schema, resource.pk, item, given[0][1].strip(), gate.MAX_LOOKUP_ROWS, keyed)
    codes = [i.code for i in schema.items]
    return {
        "resource": resource.code,
        "grant": "",
        "count": len(rows),
        "items": [{"code": i.code, "name": i.name} for i in schema.items],
        "records": [{c: d.get(c) for c in codes} for _, _, d in rows],
        "record_info": [{"ref": str(rid), "under_verification": False, "ticket": None} for rid, _, _ in rows],
    }


class BareRoutes:
    """Middleware after FastRoutes (bench._share_settings): answers the bare lookup, passes on the rest."""

    def __init__(self, get_response):
        self.get_response = get_response
        from govshare.api import api

        self.api = api
        self.answer = fast.JsonAnswer(api)

    def __call__(self, request):
        m = _ROUTE.fullmatch(request.path_info)
        if m is None or request.method != "GET":
            return self.get_response(request)
        try:
            token = fast.bearer_token(request)
            if token is None:
                raise AuthenticationError()
            result = bare_records(request, *m.groups(), token)
        except Exception as exc:
            return self.api.on_exception(request, exc)
        return self.answer(request, result)
