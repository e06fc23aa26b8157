"""The one gate for every read of shared data (DESIGN §3, idea 3).

credential → active grant (client system, method, validity, filing, quota) → rows within the grant's
filter → only granted items, masked → one audit event. Every delivery endpoint — lookup, verify,
change feed, export, proxied interface — opens an `Access` here and nothing else touches the record
store on a consumer's behalf. A refusal is audited too, then raised as a DomainError; a lookup that
finds nothing and a row outside the filter look the same to the caller.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from django.utils import timezone

from govshare import rawsql
from govshare.audit import services as audit
from govshare.catalog.models import InfoItem, Resource, ResourceStatus
from govshare.clients import auth as client_auth
from govshare.clients import tokens
from govshare.clients.auth import ClientBearer, TokenRefused
from govshare.collect import store
from govshare.collect.models import Record, RecordHistory
from govshare.corrections.selectors import open_ticket_sql, open_tickets_for
from govshare.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from govshare.security import fields

from . import masking, scope
from .models import Grant, GrantStatus, GrantUsage

ACTIONS = {
    "query": "share.records",
    "verify": "share.verify",
    "changes": "share.changes",
    "export": "share.export",
    "download": "share.download",
    "interface": "share.interface",
    "correction": "share.correction",
}
# Which granted delivery method each endpoint needs (Delivery in the catalog).
METHOD_OF = {
    "query": "query",
    "verify": "verify",
    "changes": "table_sync",
    "export": "batch",
    "download": "batch",
    "interface": "query",
    "correction": None,  # raising a doubt on a record needs a grant, not a particular method
}
MAX_LOOKUP_ROWS = 100


class Throttled(DomainError):
    status = 429


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    primary: bool
    indexed: bool


@dataclass(frozen=True)
class Schema:
    """A resource's items at one catalog version; cached per process, keyed by (id, version)."""

    items: tuple[Item, ...]
    by_code: dict[str, Item]
    by_name: dict[str, Item]
    primary: Item | None
    sealer: fields.Sealer  # opens the sensitive items; this gate is where delivered data is decrypted

    def find(self, name_or_code: str) -> Item | None:
        return self.by_code.get(name_or_code) or self.by_name.get(name_or_code)


_schemas: dict[tuple[int, int], Schema] = {}


def _schema(resource_id: int, version: int) -> Schema:
    key = (resource_id, version)
    hit = _schemas.get(key)
    if hit is None:
        rows = list(InfoItem.objects.filter(resource_id=resource_id).order_by("position"))
        items = tuple(Item(i.code, i.name, i.is_primary, i.is_indexed) for i in rows)
        hit = Schema(
            items,
            {i.code: i for i in items},
            {i.name: i for i in items},
            next((i for i in items if i.primary), None),
            fields.sealer_for(Resource(pk=resource_id)),
        )
        if len(_schemas) > 2000:
            _schemas.clear()
        _schemas[key] = hit
    return hit


@dataclass
class Access:
    """An opened, permitted call: everything the endpoint needs to answer within the grant."""

    request: object
    endpoint: str
    resource: Resource
    schema: Schema
    grant: Grant
    client: object
    credential: object
    case_id: str
    items: list[str] = field(default_factory=list)  # granted codes, in catalog order
    disputed: bool = False  # the resource has an open correction ticket on some record (R-CORR-07)
    keyed: tuple[str, list] | None = None  # (primary key, its live record's raw row or none) read early
    _masks: dict[str, Callable] | None = None
    _in_scope: Callable[[dict | None], bool] | None = None

    @property
    def masks(self) -> dict[str, Callable]:
        if self._masks is None:
            self._masks = _compiled_masks(self.grant.masks, self.grant.hash_salt)
        return self._masks

    @property
    def in_scope(self) -> Callable[[dict | None], bool]:
        if self._in_scope is None:
            self._in_scope = scope.compile_filter(self.grant.row_filter)
        return self._in_scope

    def select(self, wanted: Iterable[str] | None) -> list[str]:
        """The item codes to return: all granted, or the asked subset, which must lie inside the grant."""
        if not wanted:
            return self.items
        chosen = []
        for name in wanted:
            item = self.schema.find(name)
            if item is None or item.code not in self.grant.items:
                self.deny("item_not_granted", f"信息项“{name}”不在授权范围内", {"item": name})
            chosen.append(item.code)
        return chosen

    def shape(self, data: dict, codes: list[str]) -> dict:
        masks = self.masks
        out = {}
        for code in codes:
            value = data.get(code)
            fn = masks.get(code)
            out[code] = fn(value) if fn is not None and value is not None else value
        return out

    def deny(self, code: str, message: str, detail: dict | None = None, status: int = 403):
        _audit(self.request, self.endpoint, self.resource.code, grant=self.grant, reason=code, detail=detail)
        raise DomainError(code, message, detail or {}, status=status)

    def error(self, reason: str, detail: dict | None = None) -> None:
        """Record a permitted call that failed on the way (provider down, export not written)."""
        _audit(
            self.request,
            self.endpoint,
            self.resource.code,
            grant=self.grant,
            result="error",
            reason=reason,
            detail=detail,
            case_id=self.case_id,
        )

    def done(self, returned: int, codes: Iterable[str] = (), **extra) -> None:
        detail = {"items": ",".join(codes), "returned": returned}
        detail.update(extra)
        _audit(
            self.request,
            self.endpoint,
            self.resource.code,
            grant=self.grant,
            result="ok",
            detail=detail,
            case_id=self.case_id,
        )


@functools.lru_cache(maxsize=1024)
def _masks_by_spec(specs: tuple, salt: str) -> dict[str, Callable]:
    return masking.compile_masks(dict(specs), salt)


def _compiled_masks(masks: dict | None, salt: str) -> dict[str, Callable]:
    """The grant's compiled masks, shared per (rules, salt): compiling them cost more than applying them.
    The result is only read."""
    try:
        return _masks_by_spec(tuple((masks or {}).items()), salt)
    except TypeError:  # a rule that is not a string: compiled (and refused) as before
        return masking.compile_masks(masks, salt)


def _audit(
    request,
    endpoint: str,
    resource_code: str,
    *,
    grant=None,
    result: str = "denied",
    reason: str = "",
    detail: dict | None = None,
    case_id: str | None = None,
) -> None:
    client = getattr(request, "client_system", None)
    credential = getattr(request, "credential", None)
    info = {"resource": _storable(resource_code), "method": METHOD_OF.get(endpoint, endpoint)}
    if reason:
        info["reason"] = reason
    if credential is not None:
        info["credential"] = credential.prefix
    for k, v in (detail or {}).items():
        if v is None or isinstance(v, str | int | bool):
            info[k] = v if not isinstance(v, str) else _storable(v)[:500]
    audit.record(
        ACTIONS.get(endpoint, "share.denied"),
        object_type="sharing.grant" if grant is not None else "",
        object_id=grant.pk if grant is not None else "",
        result=result,
        purpose=grant.purpose[:500] if grant is not None else "",
        case_id=case_id if case_id is not None else _case_id(request),
        client_system=client.code if client is not None else "",
        department=client.department if client is not None else None,
        detail=info,
    )


def _storable(text: str) -> str:
    """Refused calls are recorded with what the caller sent, which may hold a NUL (PostgreSQL jsonb and
    text cannot); it is kept visible as U+FFFD."""
    return text.replace("\x00", "\ufffd")


def _case_id(request) -> str:
    return _storable((request.headers.get("X-Case-Id", "") or "").strip()[:64])


class ShareBearer(ClientBearer):
    """ClientBearer whose refusals (no token, bad, revoked, expired token) are audited as well.

    On a path that names a resource it authenticates as the fast routes do (`authenticate_call`): the
    credential, the resource and this client system's grants in one query, left for `open_access`."""

    def authenticate(self, request, token: str):
        cls, seq = _path_resource(request)
        if cls is not None:
            authenticate_call(request, cls, seq, token)  # audits its own refusals
            return request.auth
        try:
            return super().authenticate(request, token)
        except TokenRefused as exc:
            _audit(request, _endpoint_of(request), _resource_of(request), reason=exc.code)
            raise

    def __call__(self, request):
        credential = super().__call__(request)
        if credential is None:
            _audit(request, _endpoint_of(request), _resource_of(request), reason="not_authenticated")
        return credential


def _endpoint_of(request) -> str:
    if "/interface/" in request.path:
        return "interface"
    parts = request.path.rstrip("/").split("/")
    if "exports" in parts:
        return "export"
    return {"records": "query", "verify": "verify", "changes": "changes", "corrections": "correction"}.get(
        parts[-1], "denied"
    )


def _path_resource(request) -> tuple[str | None, str | None]:
    """(cls, seq) of `/api/v1/share/<cls>/<seq>/…`, or (None, None) when the path names no resource the
    joined read could take (ninja has not checked the path parameters yet: no NUL, none too long)."""
    parts = request.path_info.split("/")
    if len(parts) < 7 or parts[:4] != ["", "api", "v1", "share"] or parts[4] == "exports":
        return None, None
    cls, seq = parts[4], parts[5]
    if not cls or not seq or len(cls) + len(seq) > 64 or "\x00" in cls + seq:
        return None, None
    return cls, seq


def _resource_of(request) -> str:
    parts = request.path.split("/")
    try:
        i = parts.index("share")
        return f"{parts[i + 1]}/{parts[i + 2]}"[:40]
    except (ValueError, IndexError):
        return ""


# ---------------------------------------------------------------- opening a call


def _grant_problem(grant: Grant, method: str, today: dt.date) -> tuple[str, str] | None:
    if grant.status == GrantStatus.SUSPENDED:
        return "grant_suspended", f"授权{grant.number}已暂停：{grant.status_reason or '请联系提供部门'}"
    if grant.status == GrantStatus.TERMINATED:
        return "grant_terminated", f"授权{grant.number}已终止：{grant.status_reason or '请联系提供部门'}"
    if today > grant.valid_until:
        return "grant_expired", f"授权{grant.number}已于{grant.valid_until:%Y-%m-%d}到期，请重新申请"
    if today < grant.valid_from:
        return "grant_not_started", f"授权{grant.number}自{grant.valid_from:%Y-%m-%d}起生效"
    if grant.filing_required and grant.filed_at is None:
        return "grant_not_filed", f"授权{grant.number}尚未向数据主管部门备案，备案后方可使用"
    if method is not None and method not in grant.methods:
        return "method_not_granted", f"授权{grant.number}未包含该共享方式"
    return None


_RES = ("id", "code", "name", "version", "status", "provider_id")
_GRANT = (
    "id",
    "number",
    "application_id",
    "resource_id",
    "consumer_id",
    "purpose",
    "items",
    "masks",
    "row_filter",
    "methods",
    "valid_from",
    "valid_until",
    "daily_quota",
    "hash_salt",
    "status",
    "status_reason",
    "filing_required",
    "filed_at",
    "created_at",
)


@functools.cache
def _read_columns() -> str:
    """The resource, its open-ticket flag and a grant: what `_found` reads, in both queries below."""
    return (
        f"{rawsql.columns('r', Resource, _RES)}, {open_ticket_sql('r')}, {rawsql.columns('g', Grant, _GRANT)}"
    )


def _grants_join(client_id_sql: str) -> str:
    through = Grant.clients.through._meta.db_table
    return (
        f"LEFT JOIN {Grant._meta.db_table} g ON g.resource_id = r.id "
        f"AND g.id IN (SELECT grant_id FROM {through} WHERE clientsystem_id = {client_id_sql})"
    )


@functools.cache
def _grants_sql() -> str:
    return (
        f"SELECT {_read_columns()} FROM {Resource._meta.db_table} r {_grants_join('%s')} "
        "WHERE r.code = %s AND r.status IN (%s, %s) ORDER BY g.created_at DESC, g.id DESC"
    )


def _resource_and_grants(code: str, client_id: int) -> tuple[Resource | None, bool, list[Grant]]:
    """The live resource, whether it has an open correction ticket, and this client system's grants on
    it, newest first, in one fixed query."""
    rows = rawsql.fetch(_grants_sql(), [client_id, code, ResourceStatus.PUBLISHED, ResourceStatus.RETIRING])
    return _found(rows, 0)


@functools.cache
def _call_sql(keyed: bool = False) -> str:
    """`_grants_sql` joined to the credential lookup: the whole of a delivery call's reading, one query.

    `keyed`: the live record under a given primary key is joined as well (its id, key and data last in
    each row), so a lookup by the primary item needs no query of its own (`lookup_key`)."""
    columns, joins = client_auth.credential_sql()
    last = record = ""
    if keyed:
        last = ", k.id, k.key, k.data"
        record = (
            f"LEFT JOIN {Record._meta.db_table} k ON k.resource_id = r.id AND k.key = %s AND NOT k.deleted "
        )
    return (
        f"SELECT {columns}, {_read_columns()}{last} {joins} "
        f"LEFT JOIN {Resource._meta.db_table} r ON r.code = %s AND r.status IN (%s, %s) "
        f"{_grants_join('c.client_id')} {record}"
        "WHERE c.prefix = %s"  # ordered newest first by _found (a sort in SQL cost more)
    )


# resource code -> its primary item's code and name, as last seen; only a guess (lookup_key), never trusted
_primary_names: dict[str, tuple[str, str]] = {}


def lookup_key(code: str, route: str, given: dict) -> str | None:
    """The value a /records or /verify call would look its record up by, if that is the primary item:
    worth reading with the credential. A wrong guess costs an index probe that finds nothing and the
    lookup's own query; `_rows_by` uses what was read only for the primary key it would have asked."""
    if route == "records":
        found = [v for k, v in given.items() if k not in ("items", "limit")]
        value = found[0] if len(found) == 1 else None
    else:
        names = _primary_names.get(code, ())
        value = next((given[n] for n in names if n in given), None)
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    value = str(value).strip()
    if not value or len(value) > 200 or "\x00" in value:
        return None
    try:
        value.encode("utf-8")  # a lone surrogate would fail the query before the credential is checked
    except UnicodeEncodeError:
        return None
    return value


def authenticate_call(request, cls: str, seq: str, token: str, key: str | None = None) -> None:
    """ShareBearer's authentication, reading in the same query what `open_access` will need: the
    credential by its prefix, with the resource, its open-ticket flag and this client system's grants
    joined to it, and with `key`, the record under that primary key. Same checks, refusals and audit
    events; nothing is cached, so a revocation or a suspension holds on the very next call. The record
    is read before the token's secret and the grant are checked and goes no further than `_rows_by`,
    which applies the grant; what a refused caller could time is one index probe more or less."""
    parsed = tokens.parse((token or "").strip())
    wrapper = rawsql.current()
    rows = []
    if parsed is not None:
        params = [f"{cls}/{seq}", ResourceStatus.PUBLISHED, ResourceStatus.RETIRING, parsed[0]]
        if key is not None:
            params.insert(3, key)
        rows = rawsql.fetch(_call_sql(key is not None), params, wrapper)
    try:
        if parsed is None:
            raise client_auth._invalid()
        found = client_auth.credential_from(rows[0], wrapper) if rows else None
        credential = client_auth.accept(found, parsed[1])
    except TokenRefused as exc:
        _audit(request, _endpoint_of(request), _resource_of(request), reason=exc.code)
        raise
    ClientBearer.attach(request, credential)
    request.auth = credential
    read = _found(rows, client_auth.CREDENTIAL_WIDTH, wrapper)
    keyed = None
    if key is not None and read[0] is not None:
        keyed = (key, [] if rows[0][-3] is None else [rows[0][-3:]])
    request._share_read = (f"{cls}/{seq}", read, keyed)


def _found(rows: list, start: int, wrapper=None) -> tuple[Resource | None, bool, list[Grant]]:
    """(resource, open-ticket flag, grants) from rows whose columns from `start` on are `_grants_sql`'s."""
    n = start + len(_RES)
    if not rows or rows[0][start] is None:
        return None, False, []
    resource = rawsql.build(Resource, _RES, rows[0][start:n], wrapper)
    end = n + 1 + len(_GRANT)
    grants = [
        rawsql.build(Grant, _GRANT, row[n + 1 : end], wrapper) for row in rows if row[n + 1] is not None
    ]
    if len(grants) > 1:  # newest first, as ORDER BY g.created_at DESC, g.id DESC
        grants.sort(key=lambda g: (g.created_at, g.pk), reverse=True)
    return resource, bool(rows[0][n]), grants


def open_access(request, cls: str, seq: str, endpoint: str) -> Access:
    """Find the grant that lets this client system make this call, or refuse (audited)."""
    code = f"{cls}/{seq}"
    client, credential = request.client_system, request.credential
    read = request.__dict__.pop("_share_read", None)  # read with the credential (authenticate_call)
    keyed = None
    if read is not None and read[0] == code:
        (resource, disputed, grants), keyed = read[1], read[2]
    else:
        resource, disputed, grants = _resource_and_grants(code, client.pk)
    if resource is None:
        _audit(request, endpoint, code, reason="resource_not_found")
        raise NotFound("resource_not_found", f"目录“{code}”不存在或未发布")
    method = METHOD_OF[endpoint]
    wanted_grant = (request.headers.get("X-Grant", "") or "").strip()
    if wanted_grant:
        grants = [g for g in grants if g.number == wanted_grant]
    today = timezone.localdate()
    problem = None
    chosen = None
    for grant in grants:
        p = _grant_problem(grant, method, today)
        if p is None:
            chosen = grant
            break
        problem = problem or (p, grant)
    if chosen is None:
        if problem is None:
            _audit(request, endpoint, code, reason="no_grant")
            raise PermissionDenied(
                "no_grant", f"应用系统“{client.name}”没有资源“{resource.name}”的有效授权，请先申请"
            )
        (reason, message), grant = problem
        _audit(request, endpoint, code, grant=grant, reason=reason)
        raise PermissionDenied(reason, message, {"grant": grant.number})
    schema = _schema(resource.pk, resource.version)
    if schema.primary is not None and _primary_names.get(code) != (schema.primary.code, schema.primary.name):
        if len(_primary_names) > 2000:
            _primary_names.clear()
        _primary_names[code] = (schema.primary.code, schema.primary.name)
    granted = set(chosen.items)
    access = Access(
        request=request,
        endpoint=endpoint,
        resource=resource,
        schema=schema,
        grant=chosen,
        client=client,
        credential=credential,
        case_id=_case_id(request),
        items=[i.code for i in schema.items if i.code in granted],
        disputed=disputed,
        keyed=keyed,
    )
    if chosen.daily_quota and method is not None:
        _count_call(access, today)
    return access


def _count_call(access: Access, today: dt.date) -> None:
    grant = access.grant
    usage, _ = GrantUsage.objects.get_or_create(grant=grant, day=today)
    # Check and count in one conditional UPDATE, so concurrent calls cannot all pass the last free slot.
    counted = GrantUsage.objects.filter(pk=usage.pk, calls__lt=grant.daily_quota).update(calls=F("calls") + 1)
    if not counted:
        access.deny(
            "quota_exceeded",
            f"授权{grant.number}今日调用已达上限（{grant.daily_quota}次），请明日再试",
            {"quota": grant.daily_quota},
            status=429,
        )


# ---------------------------------------------------------------- reading records


_DATA = Record._meta.get_field("data")


def _rows_by(
    schema: Schema, resource_id: int, item: Item, value: str, limit: int, keyed: tuple | None = None
) -> list[tuple[int, str, dict]]:
    """(record id, key as stored, opened data) of the live records whose item equals the value.

    `keyed`: Access.keyed, the record read with the credential, used when it answers this very lookup."""
    sealer, asked = schema.sealer, value
    if sealer:
        value = sealer.lookup_value(item.code, value)
    wrapper = rawsql.current()
    if item.primary and keyed is not None and keyed[0] == value:
        raw = keyed[1]
    elif item.primary:
        raw = rawsql.fetch(
            "SELECT id, key, data FROM collect_record WHERE resource_id = %s AND key = %s AND NOT deleted",
            [resource_id, value],
            wrapper,
        )
    else:
        # The partial expression index carries the resource id as a literal; repeat it so the
        # planner can match the index predicate.
        expr = store.lookup_sql(item.code, sealed=item.code in sealer.lookups)
        raw = rawsql.fetch(
            f"SELECT id, key, data FROM collect_record WHERE resource_id = {int(resource_id)} "
            f"AND {expr} = %s AND NOT deleted LIMIT %s",
            [value, limit],
            wrapper,
        )
    from_db = _DATA.from_db_value
    # Every row is opened, marked or not: rows written before a change of the 敏感 marks stay readable.
    rows = [(r[0], r[1], sealer.open(r[1], from_db(r[2], None, wrapper))) for r in raw]
    if item.code in sealer.lookups:  # the blind prefix found the rows; the opened value must agree
        rows = [r for r in rows if sealer.matches(item.code, asked, r[2])]
    return rows


def _unreadable_audited(fn):
    """A sealed value that does not open is the platform's fault, not the caller's: record it, answer 500."""

    @functools.wraps(fn)
    def wrapped(access: Access, *args, **kwargs):
        try:
            return fn(access, *args, **kwargs)
        except fields.Unreadable as exc:
            access.error(exc.code, exc.detail)
            raise

    return wrapped


def _disputed(access: Access, keys: list[str]) -> dict[str, str]:
    """Record key → open correction ticket; no query unless the resource has one (R-CORR-07)."""
    return open_tickets_for(access.resource.pk, keys) if access.disputed and keys else {}


def _info(record_id: int, ticket: str | None) -> dict:
    """How a consumer refers to a record (to raise a doubt on it) and whether it is under verification."""
    return {"ref": str(record_id), "under_verification": ticket is not None, "ticket": ticket}


def lookup_item(access: Access, params: dict[str, str]) -> tuple[Item, str]:
    """The one lookup parameter: the primary item or an indexed one, by code or name, inside the grant."""
    given = [(k, v) for k, v in params.items() if k not in ("items", "limit")]
    if len(given) != 1:
        access.deny(
            "lookup_invalid",
            "请以一个查询条件调用：主键或检索项，例如 ?信息项代码=取值",
            {"given": len(given)},
            status=422,
        )
    name, value = given[0]
    if "\x00" in name or "\x00" in value:
        access.deny("lookup_invalid", "查询条件不能包含 NUL 字符", status=422)
    item = access.schema.find(name)
    if item is None or item.code not in access.grant.items:
        access.deny("item_not_granted", f"信息项“{name}”不在授权范围内", {"item": name})
    if not (item.primary or item.indexed):
        access.deny(
            "lookup_not_indexed", f"信息项“{item.name}”不是主键或检索项，不能作为查询条件", status=422
        )
    value = value.strip()
    if not value or len(value) > 200:
        access.deny("lookup_invalid", "查询取值不能为空，且不超过200个字符", status=422)
    return item, value


@_unreadable_audited
def records(access: Access, params: dict[str, str], wanted: list[str] | None) -> dict:
    item, value = lookup_item(access, params)
    codes = access.select(wanted)
    rows = [
        r
        for r in _rows_by(access.schema, access.resource.pk, item, value, MAX_LOOKUP_ROWS, access.keyed)
        if access.in_scope(r[2])
    ]
    out = [access.shape(d, codes) for _, _, d in rows]
    flagged = _disputed(access, [k for _, k, _ in rows])
    access.done(len(out), codes, lookup=item.code)
    return {
        "resource": access.resource.code,
        "grant": access.grant.number,
        "count": len(out),
        "items": [{"code": c, "name": access.schema.by_code[c].name} for c in codes],
        "records": out,
        "record_info": [_info(rid, flagged.get(k)) for rid, k, _ in rows],
    }


def _same(a, b) -> bool:
    if a is None or b is None:
        return False
    return str(a).strip().casefold() == str(b).strip().casefold()


def _window_key(kind: str, access: Access, seconds: int) -> str:
    return f"gs:{kind}:{access.credential.prefix}:{int(timezone.now().timestamp()) // seconds}"


def _bump(key: str, ttl: int) -> None:
    """Count one in a cache window; the key expires a window after it is made. Incremented first: after
    a window's first call the key exists, and one cache operation is cheaper than two."""
    try:
        cache.incr(key)
    except ValueError:  # not made yet in this window (or expired)
        if not cache.add(key, 1, ttl):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, ttl)


def _throttle_verify(access: Access) -> None:
    """Per credential: a ceiling on calls a minute and on non-matching answers an hour (anti-enumeration)."""
    per_minute = settings.GOVSHARE_VERIFY_PER_MINUTE
    calls, misses = _window_key("verify", access, 60), _window_key("verify-miss", access, 3600)
    counts = cache.get_many([calls, misses])  # one round trip to a shared cache (GOVSHARE_CACHE_URL)
    if counts.get(calls, 0) >= per_minute:
        access.deny(
            "verify_throttled", f"核验调用过于频繁（每分钟不超过{per_minute}次），请稍后再试", status=429
        )
    if counts.get(misses, 0) >= settings.GOVSHARE_VERIFY_MISSES_PER_HOUR:
        access.deny(
            "verify_throttled",
            "核验不一致次数过多，已暂停该凭证的核验至下一小时，请检查调用方数据",
            status=429,
        )
    _bump(calls, 120)


def _count_miss(access: Access) -> None:
    _bump(_window_key("verify-miss", access, 3600), 7200)


@_unreadable_audited
def verify(access: Access, given: dict[str, object]) -> dict:
    """核验: does a record with these values exist, and which items match. Never returns data."""
    if not given or not isinstance(given, dict) or len(given) > 50:
        access.deny("verify_invalid", "请在 items 中给出待核验的信息项及取值", status=422)
    resolved: list[tuple[str, Item, object]] = []
    for name, value in given.items():
        item = access.schema.find(name)
        if item is None or item.code not in access.grant.items:
            access.deny("item_not_granted", f"信息项“{name}”不在授权范围内", {"item": name})
        if value is not None and not isinstance(value, str | int | float | bool):
            raise ValidationFailed(
                [{"field": name, "label": item.name, "code": "invalid", "message": "核验取值须为文本或数字"}]
            )
        resolved.append((name, item, value))
    locator = next((r for r in resolved if r[1].primary), None) or next(
        (r for r in resolved if r[1].indexed), None
    )
    if locator is None:
        access.deny("verify_invalid", "核验须包含主键或检索项，用以定位记录", status=422)
    _throttle_verify(access)
    _, item, value = locator
    rows = [
        r
        for r in _rows_by(
            access.schema, access.resource.pk, item, str(value).strip(), MAX_LOOKUP_ROWS, access.keyed
        )
        if access.in_scope(r[2])
    ]
    best: dict[str, bool] = {name: False for name, _, _ in resolved}
    best_key = None
    for _, key, data in rows:
        answer = {name: _same(data.get(it.code), v) for name, it, v in resolved}
        if best_key is None or sum(answer.values()) > sum(best.values()):
            best, best_key = answer, key
    match = bool(rows) and all(best.values())
    if not match:
        _count_miss(access)
    # 核校中 is told only about a record the caller has located; it reveals no value (R-CORR-07)
    ticket = _disputed(access, [best_key] if best_key is not None else []).get(best_key)
    access.done(0, [it.code for _, it, _ in resolved], match=match)
    return {
        "resource": access.resource.code,
        "grant": access.grant.number,
        "match": match,
        "items": best,
        "under_verification": ticket is not None,
    }


@_unreadable_audited
def changes(access: Access, cursor: int, limit: int, wanted: list[str] | None) -> dict:
    """Records changed after `cursor` (a change sequence), in order; leaving the grant's rows is a delete."""
    codes = access.select(wanted)
    sealer = access.schema.sealer
    rows = list(
        Record.objects.filter(resource_id=access.resource.pk, seq__gt=cursor)
        .order_by("seq")
        .values_list("key", "seq", "deleted", "data")[: limit + 1]
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    rows = [(k, s, d, sealer.open(k, data)) for k, s, d, data in rows]
    # A record now gone or out of scope is a delete only for a consumer who saw it: its version current
    # at `cursor` (the one the consumer holds) existed and was in scope.
    left = [k for k, _, deleted, data in rows if deleted or not access.in_scope(data)]
    seen: dict[str, dict] = {}  # key → the version the consumer holds
    if left and cursor > 0:
        for key, data in RecordHistory.objects.filter(
            resource_id=access.resource.pk, key__in=left, seq__lte=cursor, superseded_seq__gt=cursor
        ).values_list("key", "data"):
            data = sealer.open(key, data)
            if access.in_scope(data):
                seen[key] = data or {}
    primary = access.schema.primary
    key_code = primary.code if primary is not None and primary.code in access.grant.items else None
    flagged = _disputed(access, [k for k, _, deleted, _ in rows if not deleted])
    out = []
    for key, rseq, deleted, data in rows:
        if not deleted and access.in_scope(data):
            out.append(
                {
                    "seq": rseq,
                    "op": "upsert",
                    "record": access.shape(data, codes),
                    "under_verification": key in flagged,
                }
            )
        elif key in seen:
            # The key as the consumer knows it: a blinded key is read back from the held version.
            plain = seen[key].get(key_code, key) if sealer.primary_sealed else key
            ident = access.shape({key_code: plain}, [key_code]) if key_code else {}
            out.append({"seq": rseq, "op": "delete", "record": ident})
    next_cursor = rows[-1][1] if rows else cursor
    access.done(len(out), codes, cursor=cursor)
    return {
        "resource": access.resource.code,
        "grant": access.grant.number,
        "cursor": next_cursor,
        "has_more": has_more,
        "items": [{"code": c, "name": access.schema.by_code[c].name} for c in codes],
        "changes": out,
    }


def iter_rows(access: Access, codes: list[str], chunk: int = 5000):
    """Every live in-scope record of the grant, shaped, in key order: the export job's only source."""
    last = ""
    while True:
        batch = list(
            Record.objects.filter(resource_id=access.resource.pk, deleted=False, key__gt=last)
            .order_by("key")
            .values_list("key", "data")[:chunk]
        )
        if not batch:
            return
        sealer = access.schema.sealer
        for key, data in batch:
            data = sealer.open(key, data)
            if access.in_scope(data):
                yield access.shape(data, codes)
        last = batch[-1][0]
