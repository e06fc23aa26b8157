"""Second factor for sign-in: TOTP (RFC 6238) enrollment, verification, recovery codes, disabling.

Every outcome is an audit event (R-SEC-05). A refused code is counted and committed *before* the refusal
is raised, so a run of wrong guesses locks the device (`FAILURE_LIMIT` failures → `LOCKOUT`) even though
the caller sees an error. A code is accepted for the current 30-second step and one step either side
(clock drift); once a step has been used no code of that step or an earlier one is accepted again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
import time

import pyotp
import segno
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from govshare.audit import services as audit
from govshare.errors import DomainError
from govshare.orgs.models import Role

from . import crypto
from .models import RecoveryCode, TotpDevice

ISSUER = "政务数据共享交换平台"
STEP_SECONDS = 30
DRIFT_STEPS = 1
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off paper without mistakes
RECOVERY_LENGTH = 16  # 16 symbols of 32 = 80 bits: a plain SHA-256 of it cannot be brute-forced
REQUIRED_ROLES = (Role.AUTHORITY, Role.OPERATOR)


def failure_limit() -> int:
    return int(getattr(settings, "GOVSHARE_TOTP_FAILURE_LIMIT", 5))


def lockout() -> dt.timedelta:
    return dt.timedelta(minutes=int(getattr(settings, "GOVSHARE_TOTP_LOCKOUT_MINUTES", 15)))


def clock() -> float:
    """Seconds since the epoch; tests replace it to step through TOTP windows."""
    return time.time()


# --- policy ----------------------------------------------------------------------------------------------


def require_totp_setting() -> bool:
    """GOVSHARE_REQUIRE_TOTP=1 (a setting of that name wins over the environment variable)."""
    value = getattr(settings, "GOVSHARE_REQUIRE_TOTP", None)
    if value is None:
        value = os.environ.get("GOVSHARE_REQUIRE_TOTP", "0")
    return value is True or str(value).strip().lower() in ("1", "true", "yes", "on")


def totp_required(user) -> bool:
    return require_totp_setting() and user.has_role(*REQUIRED_ROLES)


def confirmed_device(user) -> TotpDevice | None:
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()


def second_factor_stage(user) -> str | None:
    """What a correct password leads to: "verify" (enter a code), "enroll" (set one up first) or None."""
    if confirmed_device(user) is not None:
        return "verify"
    if totp_required(user):
        return "enroll"
    return None


# --- enrollment ------------------------------------------------------------------------------------------


def start_enrollment(user, *, request=None) -> TotpDevice:
    """The unconfirmed device to scan; reused on reload so an already scanned QR code stays valid."""
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user).first()
        if device is not None and device.confirmed:
            raise DomainError("totp_already_enabled", "该账号已启用动态口令，如需更换请先停用", status=409)
        if device is None:
            device = TotpDevice(user=user)
            device.secret_encrypted = crypto.seal(pyotp.random_base32(32), user.pk)
            device.save()
            audit.record("security.totp.enroll_started", actor=user, object=device, request=request)
    return device


def provisioning(device: TotpDevice) -> dict:
    """Secret, otpauth:// URI and QR code of an unconfirmed device (never of a confirmed one)."""
    if device.confirmed:
        raise DomainError("totp_already_enabled", "动态口令已启用，密钥不再显示", status=409)
    secret = _secret(device)
    uri = pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=device.user.get_username(), issuer_name=ISSUER
    )
    qr = segno.make(uri, error="m")
    return {
        "secret": secret,
        "secret_grouped": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "uri": uri,
        "qr_data_uri": qr.svg_data_uri(scale=5, border=2),
    }


def confirm_enrollment(user, code: str, *, request=None) -> list[str]:
    """Switch the device on with a first valid code; returns the recovery codes, shown exactly once."""
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user).first()
        if device is None:
            raise DomainError("totp_not_started", "请先打开绑定页面，扫描二维码后再输入动态口令")
        if device.confirmed:
            raise DomainError("totp_already_enabled", "该账号已启用动态口令", status=409)
        outcome = _attempt(device, code, purpose="enroll", allow_recovery=False, request=request)
        if not isinstance(outcome, DomainError):
            device.confirmed_at = timezone.now()
            device.save(update_fields=["confirmed_at"])
            codes = _new_recovery_codes(user)
            audit.record(
                "security.totp.enrolled",
                actor=user,
                object=device,
                detail={"recovery_codes": len(codes)},
                request=request,
            )
    if isinstance(outcome, DomainError):
        raise outcome
    return codes


# --- verification ----------------------------------------------------------------------------------------


def verify(user, code: str, *, purpose: str = "login", request=None) -> str:
    """Check a code of a confirmed device: "totp" or "recovery" on success, DomainError otherwise."""
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
        if device is None:
            raise DomainError("totp_not_enabled", "该账号未启用动态口令")
        outcome = _attempt(device, code, purpose=purpose, allow_recovery=True, request=request)
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


def disable(user, code: str, *, request=None) -> str:
    """Switch the second factor off; needs a current code (or a recovery code, for a lost phone)."""
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
        if device is None:
            raise DomainError("totp_not_enabled", "该账号未启用动态口令")
        outcome = _attempt(device, code, purpose="disable", allow_recovery=True, request=request)
        if not isinstance(outcome, DomainError):
            device_id = device.pk
            RecoveryCode.objects.filter(user=user).delete()
            device.delete()
            audit.record(
                "security.totp.disabled",
                actor=user,
                object_type="security.totpdevice",
                object_id=device_id,
                detail={"method": outcome},
                request=request,
            )
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


def recovery_codes_left(user) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


# --- internals -------------------------------------------------------------------------------------------


def _secret(device: TotpDevice) -> str:
    return crypto.unseal(device.secret_encrypted, device.user_id)


def _normalize(code: str) -> str:
    return re.sub(r"[\s-]", "", str(code or "")).upper()[:64]


def recovery_hash(code: str) -> str:
    return hashlib.sha256(_normalize(code).encode("ascii", "ignore")).hexdigest()


def _new_recovery_codes(user) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, RECOVERY_LENGTH, 4)))
    RecoveryCode.objects.bulk_create(RecoveryCode(user=user, code_hash=recovery_hash(c)) for c in codes)
    return codes


def _match_step(device: TotpDevice, code: str) -> int | None:
    totp = pyotp.TOTP(_secret(device), interval=STEP_SECONDS)
    now_step = int(clock()) // STEP_SECONDS
    found = None
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def _attempt(
    device: TotpDevice, code: str, *, purpose: str, allow_recovery: bool, request
) -> str | DomainError:
    """One try against a row-locked device. Success updates the device and returns the method; a refusal
    is counted, audited and returned (the caller raises it after the transaction commits)."""
    user = device.user
    now = timezone.now()
    if device.locked_until and device.locked_until > now:
        audit.record(
            "security.totp.verify",
            actor=user,
            object=device,
            result="denied",
            detail={"purpose": purpose, "reason": "locked"},
            request=request,
        )
        return _locked_error(device.locked_until)
    normalized = _normalize(code)
    reason = "wrong_code"
    if re.fullmatch(r"\d{6}", normalized):
        step = _match_step(device, normalized)
        if step is not None and device.last_used_step is not None and step <= device.last_used_step:
            reason = "replay"
        elif step is not None:
            device.last_used_step = step
            device.last_used_at = now
            device.failures = 0
            device.locked_until = None
            device.save(update_fields=["last_used_step", "last_used_at", "failures", "locked_until"])
            audit.record(
                "security.totp.verify",
                actor=user,
                object=device,
                detail={"purpose": purpose, "method": "totp"},
                request=request,
            )
            return "totp"
    elif allow_recovery and len(normalized) == RECOVERY_LENGTH:
        used = RecoveryCode.objects.filter(
            user=user, code_hash=recovery_hash(normalized), used_at__isnull=True
        ).update(used_at=now)
        if used:
            device.failures = 0
            device.locked_until = None
            device.save(update_fields=["failures", "locked_until"])
            audit.record(
                "security.totp.recovery_used",
                actor=user,
                object=device,
                detail={"purpose": purpose, "remaining": recovery_codes_left(user)},
                request=request,
            )
            return "recovery"
    return _refuse(device, purpose, reason, request)


def _refuse(device: TotpDevice, purpose: str, reason: str, request) -> DomainError:
    device.failures += 1
    limit = failure_limit()
    locked = device.failures >= limit
    if locked:
        device.locked_until = timezone.now() + lockout()
        device.failures = 0
    device.save(update_fields=["failures", "locked_until"])
    audit.record(
        "security.totp.verify",
        actor=device.user,
        object=device,
        result="denied",
        detail={"purpose": purpose, "reason": reason, "failures": limit if locked else device.failures},
        request=request,
    )
    if locked:
        audit.record(
            "security.totp.locked",
            actor=device.user,
            object=device,
            result="denied",
            detail={"purpose": purpose, "minutes": int(lockout().total_seconds() // 60)},
            request=request,
        )
        return _locked_error(device.locked_until)
    left = limit - device.failures
    if reason == "replay":
        return DomainError(
            "totp_replayed", f"该动态口令已使用过，请等待手机上出现新的口令（还可尝试 {left} 次）"
        )
    return DomainError("totp_invalid", f"动态口令或恢复码不正确（还可尝试 {left} 次）")


def _locked_error(until: dt.datetime) -> DomainError:
    local = timezone.localtime(until).strftime("%H:%M")
    return DomainError(
        "totp_locked",
        f"动态口令连续错误次数过多，已临时锁定至 {local}，请稍后再试或联系平台运维",
        detail={"locked_until": until.isoformat()},
        status=429,
    )
