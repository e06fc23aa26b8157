"""Every write to client systems and credentials; each one is audited in its own transaction.

Who may do what: data officers (provider or consumer) of the owning department manage its systems and
credentials. The data authority sees every system and may take the protective steps on any of them
(disable, enable, revoke a credential), but never obtains a secret: issuing and rotating stay with the
owning department.
"""

import datetime as dt
import re

from django.db import IntegrityError, transaction
from django.utils import timezone

from govshare.audit import services as audit
from govshare.errors import IllegalTransition, PermissionDenied, ValidationFailed
from govshare.orgs.models import Role

from . import tokens
from .models import ClientStatus, ClientSystem, Credential

# Token validity is a security setting of the platform, not a regulatory deadline, so it lives here
# rather than in the policy profile. Callers may ask for less, never for more than the ceiling.
DEFAULT_VALID_DAYS = 365
MAX_VALID_DAYS = 730
MAX_OVERLAP_HOURS = 7 * 24  # long enough to redeploy a client, short enough that an old token dies soon
_CODE = re.compile(r"^[a-z][a-z0-9-]{1,63}$")


# --- permissions -------------------------------------------------------------------------------------------


def is_owner_officer(user, client: ClientSystem) -> bool:
    return (
        user.has_role(Role.PROVIDER, Role.CONSUMER)
        and user.department_id is not None
        and user.department_id == client.department_id
    )


def can_manage(user, client: ClientSystem) -> bool:
    return is_owner_officer(user, client)


def can_disable(user, client: ClientSystem) -> bool:
    return is_owner_officer(user, client) or user.has_role(Role.AUTHORITY)


def can_enable(user, client: ClientSystem) -> bool:
    if user.has_role(Role.AUTHORITY):
        return True
    return is_owner_officer(user, client) and not client.disabled_by_outsider


def can_revoke(user, credential: Credential) -> bool:
    return can_disable(user, credential.client)


def _require_registrar(user):
    if not user.has_role(Role.PROVIDER, Role.CONSUMER) or user.department is None:
        raise PermissionDenied("officer_only", "只有部门数据专员可以登记应用系统")
    if not user.department.is_active:
        raise PermissionDenied("department_inactive", f"{user.department.name}已停用，不能登记应用系统")


def _require(allowed: bool, client: ClientSystem, what: str):
    if not allowed:
        raise PermissionDenied("not_client_owner", f"只有{client.department.name}的数据专员可以{what}")


# --- validation --------------------------------------------------------------------------------------------


def _err(field, label, code, message) -> dict:
    return {"field": field, "label": label, "code": code, "message": message}


def _valid_days(valid_days) -> int:
    if valid_days in (None, ""):
        return DEFAULT_VALID_DAYS
    try:
        days = int(valid_days)
    except (TypeError, ValueError):
        days = 0
    if not 1 <= days <= MAX_VALID_DAYS:
        raise ValidationFailed(
            [_err("valid_days", "有效期", "out_of_range", f"有效期须为 1 至 {MAX_VALID_DAYS} 天")]
        )
    return days


def _overlap_hours(overlap_hours) -> int:
    try:
        hours = int(overlap_hours or 0)
    except (TypeError, ValueError):
        hours = -1
    if not 0 <= hours <= MAX_OVERLAP_HOURS:
        raise ValidationFailed(
            [
                _err(
                    "overlap_hours",
                    "过渡期",
                    "out_of_range",
                    f"过渡期须为 0 至 {MAX_OVERLAP_HOURS} 小时（0 表示旧凭证立即失效）",
                )
            ]
        )
    return hours


# --- client systems ----------------------------------------------------------------------------------------


def register_client(user, name: str, code: str, description: str = "") -> ClientSystem:
    _require_registrar(user)
    name, code, description = (name or "").strip(), (code or "").strip().lower(), (description or "").strip()
    errors = []
    if not name:
        errors.append(_err("name", "系统名称", "required", "系统名称为必填项"))
    elif len(name) > 128:
        errors.append(_err("name", "系统名称", "too_long", "系统名称不能超过 128 个字符"))
    if not _CODE.match(code):
        errors.append(
            _err(
                "code",
                "系统编码",
                "invalid",
                "系统编码须以小写字母开头，由 2 至 64 个小写字母、数字或连字符组成，如 civil-aid",
            )
        )
    elif ClientSystem.objects.filter(code=code).exists():
        errors.append(_err("code", "系统编码", "duplicate", f"系统编码“{code}”已被使用"))
    if name and ClientSystem.objects.filter(department=user.department, name=name).exists():
        errors.append(_err("name", "系统名称", "duplicate", f"本部门已登记名为“{name}”的应用系统"))
    if errors:
        raise ValidationFailed(errors)
    try:
        with transaction.atomic():
            client = ClientSystem.objects.create(
                department=user.department,
                name=name,
                code=code,
                description=description,
                created_by=user,
            )
            audit.record(
                "clients.system.register",
                actor=user,
                object=client,
                detail={"code": client.code, "name": client.name},
            )
    except IntegrityError:  # a concurrent registration took the code or name between check and insert
        raise ValidationFailed(
            [_err("code", "系统编码", "duplicate", f"系统编码“{code}”或系统名称已被使用")]
        ) from None
    return client


def _locked(client: ClientSystem) -> ClientSystem:
    return (
        ClientSystem.objects.select_for_update(of=("self",))
        .select_related("department", "disabled_by")
        .get(pk=client.pk)
    )


@transaction.atomic
def disable_client(user, client: ClientSystem, reason: str = "") -> ClientSystem:
    client = _locked(client)
    _require(can_disable(user, client), client, "停用该应用系统")
    if client.status == ClientStatus.DISABLED:
        raise IllegalTransition("already_disabled", "该应用系统已停用")
    client.status = ClientStatus.DISABLED
    client.disabled_at = timezone.now()
    client.disabled_by = user
    client.disable_reason = (reason or "").strip()[:500]
    client.save(update_fields=["status", "disabled_at", "disabled_by", "disable_reason"])
    audit.record(
        "clients.system.disable",
        actor=user,
        object=client,
        detail={"code": client.code, "reason": client.disable_reason},
    )
    return client


@transaction.atomic
def enable_client(user, client: ClientSystem) -> ClientSystem:
    client = _locked(client)
    if not can_enable(user, client) and is_owner_officer(user, client):
        raise PermissionDenied(
            "disabled_by_authority", "该应用系统由数据主管部门停用，只能由数据主管部门重新启用"
        )
    _require(can_enable(user, client), client, "启用该应用系统")
    if client.status == ClientStatus.ACTIVE:
        raise IllegalTransition("already_active", "该应用系统已是启用状态")
    client.status = ClientStatus.ACTIVE
    client.disabled_at = None
    client.disabled_by = None
    client.disable_reason = ""
    client.save(update_fields=["status", "disabled_at", "disabled_by", "disable_reason"])
    audit.record("clients.system.enable", actor=user, object=client, detail={"code": client.code})
    return client


# --- credentials -------------------------------------------------------------------------------------------


def _new_credential(user, client, label, days, now, rotated_from=None) -> tuple[Credential, str]:
    secret = tokens.new_secret()
    for _ in range(5):  # 48-bit prefixes: a collision is astronomically rare, but never a 500
        prefix = tokens.new_prefix()
        try:
            with transaction.atomic():
                credential = Credential.objects.create(
                    client=client,
                    label=label,
                    prefix=prefix,
                    secret_hash=tokens.hash_secret(secret),
                    created_by=user,
                    created_at=now,
                    expires_at=now + dt.timedelta(days=days),
                    rotated_from=rotated_from,
                )
        except IntegrityError:
            if Credential.objects.filter(prefix=prefix).exists():
                continue
            raise
        return credential, tokens.assemble(prefix, secret)
    raise RuntimeError("could not allocate a unique credential prefix")


def issue_credential(
    user, client: ClientSystem, label: str = "", valid_days: int | None = None, now: dt.datetime | None = None
) -> tuple[Credential, str]:
    """A new credential and its plaintext token. The token is returned here once and stored nowhere."""
    days = _valid_days(valid_days)
    label = (label or "").strip()
    if len(label) > 100:
        raise ValidationFailed([_err("label", "用途说明", "too_long", "用途说明不能超过 100 个字符")])
    now = now or timezone.now()
    with transaction.atomic():
        client = _locked(client)
        _require(can_manage(user, client), client, "为该应用系统签发凭证")
        if client.status != ClientStatus.ACTIVE:
            raise IllegalTransition("client_disabled", "应用系统已停用，不能签发凭证")
        credential, plaintext = _new_credential(user, client, label, days, now)
        audit.record(
            "clients.credential.issue",
            actor=user,
            object=credential,
            detail={
                "client": client.code,
                "prefix": credential.prefix,
                "label": label,
                "expires_at": credential.expires_at.isoformat(),
            },
        )
    return credential, plaintext


def rotate_credential(
    user,
    credential: Credential,
    overlap_hours: int = 0,
    valid_days: int | None = None,
    now: dt.datetime | None = None,
) -> tuple[Credential, str]:
    """Issue a successor; the old token keeps working for `overlap_hours` (0 = it stops now)."""
    hours = _overlap_hours(overlap_hours)
    days = _valid_days(valid_days)
    now = now or timezone.now()
    with transaction.atomic():
        old = (
            Credential.objects.select_for_update(of=("self",))
            .select_related("client__department")
            .get(pk=credential.pk)
        )
        client = old.client
        _require(can_manage(user, client), client, "轮换该应用系统的凭证")
        if client.status != ClientStatus.ACTIVE:
            raise IllegalTransition("client_disabled", "应用系统已停用，不能轮换凭证")
        if Credential.objects.filter(rotated_from=old).exists():
            raise IllegalTransition("already_rotated", "该凭证已轮换过，请轮换新凭证")
        if old.revoked_at is not None:
            raise IllegalTransition("credential_revoked", "已吊销的凭证不能轮换，请签发新凭证")
        if old.expires_at <= now:
            raise IllegalTransition("credential_expired", "已过期的凭证不能轮换，请签发新凭证")
        new, plaintext = _new_credential(user, client, old.label, days, now, rotated_from=old)
        old.expires_at = min(old.expires_at, now + dt.timedelta(hours=hours))
        old.save(update_fields=["expires_at"])
        audit.record(
            "clients.credential.rotate",
            actor=user,
            object=new,
            detail={
                "client": client.code,
                "old_prefix": old.prefix,
                "prefix": new.prefix,
                "overlap_hours": hours,
                "old_expires_at": old.expires_at.isoformat(),
                "expires_at": new.expires_at.isoformat(),
            },
        )
    return new, plaintext


@transaction.atomic
def revoke_credential(
    user, credential: Credential, reason: str, now: dt.datetime | None = None
) -> Credential:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed([_err("reason", "吊销原因", "required", "请填写吊销原因")])
    credential = (
        Credential.objects.select_for_update(of=("self",))
        .select_related("client__department")
        .get(pk=credential.pk)
    )
    client = credential.client
    _require(can_revoke(user, credential), client, "吊销该应用系统的凭证")
    if credential.revoked_at is not None:
        raise IllegalTransition("already_revoked", "该凭证已吊销")
    credential.revoked_at = now or timezone.now()
    credential.revoked_by = user
    credential.revoke_reason = reason[:500]
    credential.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    audit.record(
        "clients.credential.revoke",
        actor=user,
        object=credential,
        detail={"client": client.code, "prefix": credential.prefix, "reason": credential.revoke_reason},
    )
    return credential
