"""Bearer-token authentication of client systems (DESIGN §6).

`authenticate_token` is the whole check: one indexed query by prefix (with the client system and its
department joined in), a constant-time comparison of the secret's SHA-256, then revocation, expiry and
the system's status. It writes at most once a minute per credential (`last_used_at`), never per call.

`ClientBearer` plugs it into django-ninja: `@router.get(..., auth=ClientBearer())`. Refusals propagate
as `TokenRefused` (a DomainError with status 401), which the API renders as {"code","message","detail"}.
"""

import datetime as dt
from functools import cache

from django.db import connection
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from govshare import rawsql
from govshare.audit import services as audit
from govshare.errors import DomainError
from govshare.orgs.models import Department

from . import tokens
from .models import ClientStatus, ClientSystem, Credential

LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class TokenRefused(DomainError):
    status = 401


def _invalid() -> TokenRefused:
    # One answer for malformed, unknown and wrong-secret tokens: the caller learns nothing about which.
    return TokenRefused("invalid_token", "凭证无效：请检查 Authorization 请求头中的令牌是否完整、正确")


def authenticate_token(raw: str, now: dt.datetime | None = None) -> Credential:
    parsed = tokens.parse((raw or "").strip())
    if parsed is None:
        raise _invalid()
    prefix, secret = parsed
    return accept(_by_prefix(prefix), secret, now)


def accept(credential: Credential | None, secret: str, now: dt.datetime | None = None) -> Credential:
    """The checks on the credential found by the token's prefix (None: no such prefix): the secret,
    revocation, expiry, the system's and its department's status; then `last_used_at`."""
    if credential is None or not tokens.secret_matches(secret, credential.secret_hash):
        raise _invalid()
    now = now or timezone.now()
    detail = {"prefix": credential.prefix}
    if credential.revoked_at is not None:
        raise TokenRefused("token_revoked", "凭证已吊销，请联系应用系统所属部门重新签发", detail)
    if credential.expires_at <= now:
        detail["expired_at"] = credential.expires_at.isoformat()
        raise TokenRefused("token_expired", "凭证已过期，请联系应用系统所属部门轮换或重新签发", detail)
    client = credential.client
    if client.status != ClientStatus.ACTIVE or not client.department.is_active:
        raise TokenRefused(
            "client_disabled",
            f"应用系统“{client.name}”已停用，其凭证暂不可用",
            {**detail, "client": client.code},
        )
    _touch(credential, now)
    return credential


_CRED = ("id", "client_id", "prefix", "secret_hash", "expires_at", "revoked_at", "last_used_at")
_CLIENT = ("id", "department_id", "name", "code", "status")
_DEPT = ("id", "name", "short_name", "uscc", "is_active")


@cache
def credential_sql() -> tuple[str, str]:
    """(columns, FROM … JOIN …) of the credential with its client system and department, aliased c, s, d:
    the lookup by prefix, and the delivery gate's one query, which adds its own joins to it."""
    return (
        f"{rawsql.columns('c', Credential, _CRED)}, {rawsql.columns('s', ClientSystem, _CLIENT)}, "
        f"{rawsql.columns('d', Department, _DEPT)}",
        f"FROM {Credential._meta.db_table} c JOIN {ClientSystem._meta.db_table} s ON s.id = c.client_id "
        f"JOIN {Department._meta.db_table} d ON d.id = s.department_id",
    )


CREDENTIAL_WIDTH = len(_CRED) + len(_CLIENT) + len(_DEPT)  # values of credential_sql()'s columns


def credential_from(row, wrapper=None) -> Credential:
    """The credential, its client system and department from the first CREDENTIAL_WIDTH values of a row."""
    a, b = len(_CRED), len(_CRED) + len(_CLIENT)
    credential = rawsql.build(Credential, _CRED, row[:a], wrapper)
    client = rawsql.build(ClientSystem, _CLIENT, row[a:b], wrapper)
    rawsql.relate(client, "department", rawsql.build(Department, _DEPT, row[b:CREDENTIAL_WIDTH], wrapper))
    rawsql.relate(credential, "client", client)
    return credential


@cache
def _by_prefix_sql() -> str:
    columns, joins = credential_sql()
    return f"SELECT {columns} {joins} WHERE c.prefix = %s"


def _by_prefix(prefix: str) -> Credential | None:
    """The credential with its client system and department, in one fixed query (runs on every call)."""
    with connection.cursor() as cur:
        cur.execute(_by_prefix_sql(), [prefix])
        row = cur.fetchone()
    return credential_from(row) if row is not None else None


def _touch(credential: Credential, now: dt.datetime) -> None:
    """Record use at minute resolution; the conditional UPDATE keeps concurrent callers from piling on."""
    last = credential.last_used_at
    if last is not None and now - last < LAST_USED_RESOLUTION:
        return
    Credential.objects.filter(pk=credential.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
    credential.last_used_at = now


class ClientBearer(HttpBearer):
    """`Authorization: Bearer gs_…` for client systems; request.auth is the `Credential`.

    Also sets `request.client_system` and `request.credential`, and binds the system's code into the
    audit context so events recorded during the call (without an explicit `request=`) name it. The
    binding is undone by RequestIdMiddleware when the request ends, so it is only made when that
    middleware is in the chain.
    """

    def authenticate(self, request: HttpRequest, token: str) -> Credential:
        credential = authenticate_token(token)
        self.attach(request, credential)
        return credential

    @staticmethod
    def attach(request: HttpRequest, credential: Credential) -> None:
        """What an accepted credential leaves on the request (also for the delivery API's fast routes)."""
        request.client_system = credential.client
        request.credential = credential
        request_id = getattr(request, "audit_request_id", None)
        if request_id:
            audit.bind_request(request_id, request.META.get("REMOTE_ADDR", ""), credential.client.code)
