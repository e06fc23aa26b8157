"""Client systems and credentials: managed by people (session), plus `whoami` for the systems themselves."""

import datetime as dt

from django.http import HttpResponse
from ninja import Router, Schema
from ninja.responses import Status

from govshare.security.inputs import DbInt, Text

from . import selectors, services
from .auth import ClientBearer
from .models import ClientSystem, Credential

router = Router(tags=["应用系统与凭证"])

TOKEN_NOTICE = "令牌只显示这一次，平台不保存明文，请立即妥善保存。"


class SystemIn(Schema):
    name: Text
    code: Text
    description: Text = ""


class ReasonIn(Schema):
    reason: Text = ""


class RevokeIn(Schema):
    reason: Text


class IssueIn(Schema):
    label: Text = ""
    valid_days: DbInt | None = None


class RotateIn(Schema):
    overlap_hours: DbInt = 0
    valid_days: DbInt | None = None


class CredentialOut(Schema):
    id: int
    prefix: str
    label: str
    state: str
    created_at: dt.datetime
    created_by: str
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    revoke_reason: str
    rotated_from: str | None
    rotated_to: str | None


class SystemOut(Schema):
    id: int
    code: str
    name: str
    description: str
    status: str
    department_id: int
    department: str
    created_by: str
    created_at: dt.datetime
    disabled_at: dt.datetime | None
    disable_reason: str


class SystemDetail(SystemOut):
    credentials: list[CredentialOut]


class IssuedOut(Schema):
    credential: CredentialOut
    token: str
    notice: str


class WhoamiOut(Schema):
    client_id: int
    client_code: str
    client_name: str
    department_id: int
    department: str
    department_uscc: str
    credential_prefix: str
    credential_label: str
    expires_at: dt.datetime


def credential_out(c: Credential) -> dict:
    successor = getattr(c, "rotated_to", None)
    return dict(
        id=c.id,
        prefix=c.prefix,
        label=c.label,
        state=c.state(),
        created_at=c.created_at,
        created_by=str(c.created_by),
        expires_at=c.expires_at,
        last_used_at=c.last_used_at,
        revoked_at=c.revoked_at,
        revoke_reason=c.revoke_reason,
        rotated_from=c.rotated_from.prefix if c.rotated_from_id else None,
        rotated_to=successor.prefix if successor else None,
    )


def system_out(s: ClientSystem) -> dict:
    return dict(
        id=s.id,
        code=s.code,
        name=s.name,
        description=s.description,
        status=s.status,
        department_id=s.department_id,
        department=s.department.name,
        created_by=str(s.created_by),
        created_at=s.created_at,
        disabled_at=s.disabled_at,
        disable_reason=s.disable_reason,
    )


def system_detail(s: ClientSystem) -> dict:
    return {**system_out(s), "credentials": [credential_out(c) for c in selectors.credentials_of(s)]}


def _issued(response: HttpResponse, credential: Credential, token: str):
    response["Cache-Control"] = "no-store"  # the plaintext must not linger in any cache
    return Status(201, dict(credential=credential_out(credential), token=token, notice=TOKEN_NOTICE))


@router.get("/systems", response=list[SystemOut], summary="应用系统列表（本部门；主管部门为全部）")
def list_systems(request):
    return [system_out(s) for s in selectors.systems_for(request.auth)[:500]]


@router.post("/systems", response={201: SystemDetail}, summary="登记应用系统")
def register_system(request, body: SystemIn):
    s = services.register_client(request.auth, body.name, body.code, body.description)
    return Status(201, system_detail(selectors.get_system(request.auth, s.pk)))


@router.get("/systems/{system_id}", response=SystemDetail, summary="应用系统详情与凭证")
def get_system(request, system_id: DbInt):
    return system_detail(selectors.get_system(request.auth, system_id))


@router.post("/systems/{system_id}/disable", response=SystemDetail, summary="停用应用系统")
def disable_system(request, system_id: DbInt, body: ReasonIn | None = None):
    s = selectors.get_system(request.auth, system_id)
    services.disable_client(request.auth, s, body.reason if body else "")
    return system_detail(selectors.get_system(request.auth, system_id))


@router.post("/systems/{system_id}/enable", response=SystemDetail, summary="启用应用系统")
def enable_system(request, system_id: DbInt):
    services.enable_client(request.auth, selectors.get_system(request.auth, system_id))
    return system_detail(selectors.get_system(request.auth, system_id))


@router.post(
    "/systems/{system_id}/credentials",
    response={201: IssuedOut},
    summary="签发凭证（令牌明文仅在此响应中出现一次）",
)
def issue(request, system_id: DbInt, body: IssueIn, response: HttpResponse):
    s = selectors.get_system(request.auth, system_id)
    credential, token = services.issue_credential(request.auth, s, body.label, body.valid_days)
    return _issued(response, credential, token)


@router.post(
    "/credentials/{credential_id}/rotate",
    response={201: IssuedOut},
    summary="轮换凭证（新令牌仅显示一次；旧凭证在过渡期后失效）",
)
def rotate(request, credential_id: DbInt, body: RotateIn, response: HttpResponse):
    c = selectors.get_credential(request.auth, credential_id)
    credential, token = services.rotate_credential(request.auth, c, body.overlap_hours, body.valid_days)
    return _issued(response, credential, token)


@router.post("/credentials/{credential_id}/revoke", response=CredentialOut, summary="吊销凭证")
def revoke(request, credential_id: DbInt, body: RevokeIn):
    c = selectors.get_credential(request.auth, credential_id)
    services.revoke_credential(request.auth, c, body.reason)
    return credential_out(selectors.get_credential(request.auth, credential_id))


@router.get("/whoami", response=WhoamiOut, auth=ClientBearer(), summary="应用系统自检（Bearer 令牌）")
def whoami(request):
    credential = request.auth
    client = credential.client
    return dict(
        client_id=client.id,
        client_code=client.code,
        client_name=client.name,
        department_id=client.department_id,
        department=client.department.name,
        department_uscc=client.department.uscc,
        credential_prefix=credential.prefix,
        credential_label=credential.label,
        expires_at=credential.expires_at,
    )
