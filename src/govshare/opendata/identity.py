"""Public accounts of the open portal: registration, identity check (NX 46, R-OPEN-07) and terms (R-OPEN-15).

A member of the public is an `orgs.User` with no department and no roles, plus a `PublicProfile`. The
identity check asks the platform's own verification gate (sharing.gate), as any client system would: the
configured client system must hold a live 'verify' grant on the population resource, and each check is
one audited `share.verify` call carrying the case id "open-identity-<profile id>". Without such a grant an
operator confirms each account by hand. The 公民身份号码 is never stored or audited in clear.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from govshare.audit import services as audit
from govshare.calendar.policy import active_profile
from govshare.catalog.models import InfoItem, Resource, ResourceStatus
from govshare.clients.models import ClientStatus, ClientSystem, Credential
from govshare.errors import DomainError, IllegalTransition, NotFound, PermissionDenied, ValidationFailed
from govshare.orgs.identifiers import validate_ric
from govshare.orgs.models import Role, User

from .models import IdentityAttempt, IdentityStatus, PublicProfile, TermsAcceptance

log = logging.getLogger(__name__)

# R-OPEN-15 (CZ 40; NX 53, 63). A changed text gets a new version, and every account accepts it again.
TERMS_VERSION = "2026-1"
TERMS = [
    "开放数据仅可在本人申明的合法用途和范围内使用，不得擅自改变用途或扩大使用范围。",
    "不得擅自转让、出售或以其他方式向第三方提供所获取的数据。",
    "未经授权，不得扩散、公开传播所获取的数据，或将其与其他数据关联以识别特定个人。",
    "不得将数据用于违法目的，或用于危害国家安全、公共利益和他人合法权益的活动。",
    "引用数据时注明来源（政务数据开放平台及数据提供部门）和数据集版本。",
    "每次下载均记录账号、数据集、版本和时间；违反本条款的，平台可停止其获取数据，并依法追究责任。",
]
# A platform setting against guessing, not a regulatory number: identity checks per account and day.
MAX_ATTEMPTS_PER_DAY = 5
NAME_ITEM = "姓名"  # the population resource's item checked together with the primary (ID number) item
_PHONE = re.compile(r"^[0-9+\- ]{5,32}$")


def _err(field: str, label: str, code: str, message: str) -> dict:
    return {"field": field, "label": label, "code": code, "message": message}


# ---------------------------------------------------------------- accounts


def is_public_user(user) -> bool:
    """No department, no role, not staff: a member of the public, kept out of the officers' pages."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.department_id is not None or user.is_staff or user.is_superuser:
        return False
    return not user.role_codes


def profile_of(user) -> PublicProfile:
    profile = PublicProfile.objects.filter(user=user).first()
    if profile is None:
        try:
            with transaction.atomic():
                profile = PublicProfile.objects.create(user=user)
        except IntegrityError:  # made by a concurrent request
            profile = PublicProfile.objects.get(user=user)
    return profile


def register(*, username: str, password1: str, password2: str, full_name: str, phone: str = "") -> User:
    """A public account: a user with no department and no roles, and its profile."""
    username, full_name, phone = (username or "").strip(), (full_name or "").strip(), (phone or "").strip()
    errors: list[dict] = []
    if not username:
        errors.append(_err("username", "用户名", "required", "请填写用户名"))
    else:
        try:
            User.username_validator(username)
        except ValidationError:
            errors.append(
                _err("username", "用户名", "invalid", "用户名只能包含字母、数字和 @ . + - _，不超过150个字符")
            )
        if len(username) > 150:
            errors.append(_err("username", "用户名", "too_long", "用户名不超过150个字符"))
        elif User.objects.filter(username__iexact=username).exists():
            errors.append(_err("username", "用户名", "taken", "该用户名已被使用，请换一个"))
    if not full_name:
        errors.append(_err("full_name", "姓名", "required", "请填写真实姓名"))
    elif len(full_name) > 64:
        errors.append(_err("full_name", "姓名", "too_long", "姓名不超过64个字符"))
    if phone and not _PHONE.match(phone):
        errors.append(_err("phone", "联系电话", "invalid", "联系电话只能包含数字、+ 和 -"))
    if not password1:
        errors.append(_err("password1", "密码", "required", "请设置密码"))
    elif password1 != password2:
        errors.append(_err("password2", "确认密码", "mismatch", "两次输入的密码不一致"))
    else:
        try:
            password_validation.validate_password(password1, User(username=username, full_name=full_name))
        except ValidationError as exc:
            for message in exc.messages:
                errors.append(_err("password1", "密码", "weak_password", message))
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        try:
            user = User.objects.create_user(
                username=username, password=password1, full_name=full_name, phone=phone
            )
        except IntegrityError:
            raise ValidationFailed(
                [_err("username", "用户名", "taken", "该用户名已被使用，请换一个")]
            ) from None
        profile = PublicProfile.objects.create(user=user)
        audit.record("open.account.register", actor=user, object=profile, detail={"username": username})
    return user


# ---------------------------------------------------------------- identity check


def id_hmac(number: str) -> str:
    """Recognises the same number again without keeping it: keyed by a SECRET_KEY-derived key."""
    return salted_hmac("govshare.opendata.identity", number, algorithm="sha256").hexdigest()


def mask(number: str) -> str:
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


@dataclass
class PopulationGate:
    """The configured route through the sharing gate: who calls, with which credential, on what."""

    client: ClientSystem
    credential: Credential
    resource_code: str
    primary: str  # item code of the ID number (the resource's primary item)
    name: str  # item code of 姓名


@dataclass
class _GateRequest:
    """What sharing.gate reads from a request: the calling system, its credential, headers, path."""

    client_system: ClientSystem
    credential: Credential
    headers: dict
    path: str = "/open/account/identity/"
    META: dict = field(default_factory=dict)


def population_gate() -> PopulationGate | None:
    """The verification route when one is configured and usable now, else None (manual check)."""
    code = getattr(settings, "GOVSHARE_IDENTITY_RESOURCE", "") or ""
    client_code = getattr(settings, "GOVSHARE_IDENTITY_CLIENT", "") or ""
    if not code or not client_code:
        return None
    from govshare.sharing.models import Grant, GrantStatus

    client = (
        ClientSystem.objects.select_related("department")
        .filter(code=client_code, status=ClientStatus.ACTIVE, department__is_active=True)
        .first()
    )
    resource = Resource.objects.filter(
        code=code, status__in=(ResourceStatus.PUBLISHED, ResourceStatus.RETIRING)
    ).first()
    if client is None or resource is None:
        log.warning("identity check: client %r or resource %r not found; manual checks", client_code, code)
        return None
    items = list(InfoItem.objects.filter(resource=resource).order_by("position"))
    primary = next((i for i in items if i.is_primary), None)
    name = next((i for i in items if i.name == NAME_ITEM), None)
    from govshare.sharing.gate import _grant_problem  # the gate's own test of a usable grant

    today = timezone.localdate()
    usable = [
        g
        for g in Grant.objects.filter(resource=resource, clients=client, status=GrantStatus.ACTIVE)
        if _grant_problem(g, "verify", today) is None
        and primary is not None
        and name is not None
        and {primary.code, name.code} <= set(g.items)
    ]
    now = timezone.now()
    credential = (
        Credential.objects.filter(client=client, revoked_at__isnull=True, expires_at__gt=now)
        .order_by("-created_at", "-id")
        .first()
    )
    if not usable or credential is None:
        log.warning("identity check: %r has no usable verify grant or credential on %r", client_code, code)
        return None
    return PopulationGate(client, credential, resource.code, primary.code, name.code)


def _verify(route: PopulationGate, profile: PublicProfile, name: str, number: str) -> bool:
    """One call through the delivery gate, audited there as share.verify; never returns data."""
    from govshare.sharing import gate

    request = _GateRequest(
        client_system=route.client,
        credential=route.credential,
        headers={"X-Case-Id": f"open-identity-{profile.pk}"},
    )
    cls, seq = route.resource_code.split("/", 1)
    access = gate.open_access(request, cls, seq, "verify")
    return bool(gate.verify(access, {route.primary: number, route.name: name})["match"])


def attempts_today(profile: PublicProfile) -> int:
    return IdentityAttempt.objects.filter(profile=profile, at__date=timezone.localdate()).count()


def _checked(full_name: str, number: str) -> tuple[str, str]:
    name = (full_name or "").strip()
    errors = []
    if not name:
        errors.append(_err("full_name", "姓名", "required", "请填写与身份证件一致的姓名"))
    elif len(name) > 64:
        errors.append(_err("full_name", "姓名", "too_long", "姓名不超过64个字符"))
    result = validate_ric(number or "")
    if not result.valid:
        errors.append(
            _err("id_number", "公民身份号码", result.code or "invalid", result.reason or "号码无效")
        )
    if errors:
        raise ValidationFailed(errors)
    return name, result.value


def _finish(profile: PublicProfile, attempt: IdentityAttempt, user, outcome: str, method: str, note: str):
    profile.identity_status = {
        "verified": IdentityStatus.VERIFIED,
        "failed": IdentityStatus.FAILED,
        "pending": IdentityStatus.PENDING,
    }[outcome]
    profile.identity_method = method
    profile.identity_note = note
    profile.identity_checked_at = timezone.now() if outcome != "pending" else None
    profile.identity_checked_by = None
    profile.save()
    attempt.outcome = outcome
    attempt.save(update_fields=["outcome"])
    audit.record(
        "open.identity.check",
        actor=user,
        object=profile,
        case_id=f"open-identity-{profile.pk}",
        result="ok" if outcome != "failed" else "denied",
        detail={"method": method, "outcome": outcome, "id_masked": profile.id_masked},
    )


def submit_identity(user, full_name: str, number: str) -> PublicProfile:
    """Check name + 公民身份号码: through the verification gate when configured, else queue it for an operator.

    At most MAX_ATTEMPTS_PER_DAY submissions a day per account, matched or not.
    """
    name, number = _checked(full_name, number)
    with transaction.atomic():
        profile = PublicProfile.objects.select_for_update().get(pk=profile_of(user).pk)
        if profile.identity_status == IdentityStatus.VERIFIED:
            raise IllegalTransition("identity_already_verified", "该账号已通过身份认证")
        if profile.identity_status == IdentityStatus.PENDING:
            raise IllegalTransition("identity_pending", "已提交人工核验，请等待平台运维人员确认")
        if attempts_today(profile) >= MAX_ATTEMPTS_PER_DAY:
            audit.record(
                "open.identity.check",
                actor=user,
                object=profile,
                result="denied",
                detail={"reason": "identity_attempts_exceeded"},
            )
            raise DomainError(
                "identity_attempts_exceeded",
                f"今日身份核验次数已达上限（{MAX_ATTEMPTS_PER_DAY}次），请明日再试",
                {"limit": MAX_ATTEMPTS_PER_DAY},
                status=429,
            )
        # Accounts are free, so the limits that matter are per number: it cannot be tried from many
        # accounts (a name ↔ number lookup), nor verify a second account (someone else's identity).
        hashed = id_hmac(number)
        if (
            PublicProfile.objects.filter(id_hmac=hashed, identity_status=IdentityStatus.VERIFIED)
            .exclude(pk=profile.pk)
            .exists()
        ):
            raise DomainError(
                "identity_in_use",
                "该公民身份号码已用于另一账号的实名认证；如非本人操作，请联系平台运维单位",
                status=409,
            )
        if (
            IdentityAttempt.objects.filter(id_hmac=hashed, at__date=timezone.localdate()).count()
            >= MAX_ATTEMPTS_PER_DAY
        ):
            raise DomainError(
                "identity_attempts_exceeded",
                f"该公民身份号码今日核验次数已达上限（{MAX_ATTEMPTS_PER_DAY}次），请明日再试",
                {"limit": MAX_ATTEMPTS_PER_DAY},
                status=429,
            )
        route = population_gate()
        method = "population" if route is not None else "manual"
        attempt = IdentityAttempt.objects.create(profile=profile, method=method, id_hmac=hashed)
        profile.id_name = name
        profile.id_hmac = hashed
        profile.id_masked = mask(number)
        profile.identity_submitted_at = timezone.now()
        profile.save()
        if route is None:
            _finish(profile, attempt, user, "pending", "manual", "")
            return profile
    # The gate's own audit events (share.verify, or its refusal) commit apart from the outcome below.
    try:
        matched = _verify(route, profile, name, number)
    except DomainError as exc:
        if exc.status == 429:
            IdentityAttempt.objects.filter(pk=attempt.pk).delete()  # not the citizen's doing: not counted
            audit.record(
                "open.identity.check",
                actor=user,
                object=profile,
                result="error",
                case_id=f"open-identity-{profile.pk}",
                detail={"method": "population", "reason": exc.code},
            )
            raise DomainError(
                "identity_service_busy", "身份核验服务繁忙，请稍后再试", {"reason": exc.code}, status=429
            ) from None
        log.warning("identity check through the gate refused (%s); queued for an operator", exc.code)
        with transaction.atomic():
            _finish(profile, attempt, user, "pending", "manual", f"自动核验不可用（{exc.code}），转人工核验")
        return profile
    with transaction.atomic():
        if matched:
            _finish(profile, attempt, user, "verified", "population", "")
        else:
            _finish(
                profile,
                attempt,
                user,
                "failed",
                "population",
                "姓名与公民身份号码不一致，请核对后重新提交",
            )
    return profile


def pending_profiles():
    return (
        PublicProfile.objects.filter(identity_status=IdentityStatus.PENDING)
        .select_related("user")
        .order_by("identity_submitted_at", "id")
    )


def manual_decisions():
    return (
        PublicProfile.objects.filter(identity_method="manual", identity_checked_by__isnull=False)
        .select_related("user", "identity_checked_by")
        .order_by("-identity_checked_at", "-id")
    )


def can_check_by_hand(user) -> bool:
    return user.has_role(Role.OPERATOR)


@transaction.atomic
def decide_identity(operator, profile_id: int, *, confirm: bool, note: str = "") -> PublicProfile:
    """An operator's manual check of a pending account: confirmed, or rejected with a reason."""
    if not can_check_by_hand(operator):
        raise PermissionDenied("operator_only", "只有平台运维/技术服务人员可以人工核验身份")
    profile = PublicProfile.objects.select_for_update().filter(pk=profile_id).first()
    if profile is None:
        raise NotFound("profile_not_found", "账号不存在")
    if profile.identity_status != IdentityStatus.PENDING:
        raise IllegalTransition("identity_not_pending", "该账号不在待人工核验状态")
    note = (note or "").strip()
    if not confirm and not note:
        raise ValidationFailed([_err("note", "说明", "required", "不通过时请说明理由")])
    profile.identity_status = IdentityStatus.VERIFIED if confirm else IdentityStatus.FAILED
    profile.identity_method = "manual"
    profile.identity_note = note[:1000]
    profile.identity_checked_at = timezone.now()
    profile.identity_checked_by = operator
    profile.save()
    audit.record(
        "open.identity.confirm" if confirm else "open.identity.reject",
        actor=operator,
        object=profile,
        case_id=f"open-identity-{profile.pk}",
        detail={"user": profile.user.username, "id_masked": profile.id_masked, "note": note[:300]},
    )
    return profile


def identity_required() -> bool:
    """R-OPEN-07: the platform setting, or a profile whose regulation requires it (NX 46)."""
    if settings.GOVSHARE_OPEN_DOWNLOAD_REQUIRES_IDENTITY:
        return True
    try:
        return bool(active_profile().value("open_unconditional_requires_identity_auth"))
    except KeyError:
        return False


# ---------------------------------------------------------------- terms of use


def accepted_terms(user) -> TermsAcceptance | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return TermsAcceptance.objects.filter(user=user, version=TERMS_VERSION).first()


@transaction.atomic
def accept_terms(user, version: str) -> TermsAcceptance:
    if version != TERMS_VERSION:
        raise IllegalTransition("terms_changed", "使用条款已更新，请阅读新版本后再确认接受")
    done = accepted_terms(user)
    if done is not None:
        return done
    acceptance = TermsAcceptance.objects.create(user=user, version=version, accepted_at=timezone.now())
    audit.record("open.terms.accept", actor=user, object=acceptance, detail={"version": version})
    return acceptance
