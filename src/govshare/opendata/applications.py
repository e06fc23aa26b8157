"""Conditional open applications (有条件开放申请, R-OPEN-08/09/15): apply, reply, agreement, access, revoke.

A member of the public with a verified identity asks to use a conditional dataset, stating purpose,
period of use and security measures (CZ 27). The provider replies within the profile's period (SR 22:
20 wd; NX 46: 10 wd, extendable by at most 10 with the principal head's approval; CZ: no number, the
reply is tracked without a deadline) — the deadline is a supervision obligation. A refusal gives
reasons, and the legal/policy basis where the profile requires it. Where the profile provides for a
data-use agreement (CZ 27, R-OPEN-09) the approval produces its text and access starts only once the
applicant accepts exactly that text. The approval is the grant: the download gate checks its status
and period on every download, so access ends on the last day of the period without any scheduled job,
and the provider may revoke it earlier with a reason (R-OPEN-15).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from govshare import dates
from govshare.audit import services as audit
from govshare.calendar.policy import active_profile
from govshare.catalog.models import OpenType
from govshare.errors import DomainError, IllegalTransition, NotFound, PermissionDenied, ValidationFailed
from govshare.notifications.services import notify_departments, notify_user
from govshare.orgs.models import Department, Role
from govshare.sharing.services import authority_for
from govshare.supervision import selectors as supervision_selectors
from govshare.supervision import services as duties
from govshare.supervision.models import Obligation, ObligationStatus
from govshare.supervision.selectors import is_overdue

from . import identity, services
from .models import (
    APPLICATION_TRANSITIONS,
    ApplicationStatus,
    DatasetStatus,
    OpenApplication,
    OpenDataset,
    ReplyExtension,
    ReplyExtensionStatus,
    UseAgreement,
)

DUTY_REPLY = "open.reply"
SUBJECT = "opendata.openapplication"
# What an application may be asked to state (CZ 27); a profile that is silent gets all three.
FIELDS = ("purpose", "period", "security_measures")
FIELD_LABELS = {"purpose": "数据用途", "period": "使用期限", "security_measures": "安全保障措施"}
FORM_FIELDS = (
    "purpose",
    "use_from",
    "use_until",
    "security_measures",
    "organization",
    "contact_name",
    "contact_phone",
    "contact_email",
)
# A platform setting, not a regulatory number: the longest period of use one approval can cover.
DEFAULT_MAX_USE_DAYS = 366
LIVE = (ApplicationStatus.PENDING, ApplicationStatus.AGREEMENT, ApplicationStatus.APPROVED)
_ACTIVE_DUTY = (ObligationStatus.OPEN, ObligationStatus.OVERDUE)


def _err(field: str, label: str, code: str, message: str) -> dict:
    return {"field": field, "label": label, "code": code, "message": message}


def _text(value, limit: int = 4000) -> str:
    return (value or "").strip()[:limit]


# ---------------------------------------------------------------- what the profile says


def param(key: str):
    """The profile parameter (value and article), or None where this profile does not define it."""
    try:
        return active_profile().param(key)
    except KeyError:
        return None


def _value(key: str):
    p = param(key)
    return p.value if p is not None else None


def required_fields() -> tuple[str, ...]:
    listed = _value("open_application_attachments")
    return tuple(f for f in FIELDS if f in listed) if listed else FIELDS


def agreement_required() -> bool:
    return bool(_value("open_use_agreement"))


def basis_required() -> bool:
    return bool(_value("open_refusal_basis_required"))


def approver_role() -> str:
    return Role.AUTHORITY if _value("open_reply_extension_approver") == "authority" else Role.HEAD


def approver_label() -> str:
    return "数据主管部门" if approver_role() == Role.AUTHORITY else "提供部门主要负责人"


def max_use_days() -> int:
    return int(getattr(settings, "GOVSHARE_OPEN_USE_MAX_DAYS", DEFAULT_MAX_USE_DAYS))


# ---------------------------------------------------------------- who may do what


def is_provider_officer(user, app: OpenApplication) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.has_role(Role.PROVIDER)
        and user.department_id == app.provider_id
    )


def can_decide_extension(user, app: OpenApplication) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if approver_role() == Role.HEAD:
        return user.has_role(Role.HEAD) and user.department_id == app.provider_id
    authority = authority_for(app.provider)
    return user.has_role(Role.AUTHORITY) and authority is not None and user.department_id == authority.pk


def _manageable_providers(user) -> list[int]:
    """The provider's officers and head see its applications; the authority those of its region."""
    if not getattr(user, "is_authenticated", False):
        return []
    ids = []
    if user.department_id and user.has_role(Role.PROVIDER, Role.HEAD):
        ids.append(user.department_id)
    if user.department_id and user.has_role(Role.AUTHORITY):
        for dept in Department.objects.filter(is_active=True).select_related("region"):
            found = authority_for(dept)
            if found is not None and found.pk == user.department_id and dept.pk not in ids:
                ids.append(dept.pk)
    return ids


def can_manage(user) -> bool:
    return bool(_manageable_providers(user))


# ---------------------------------------------------------------- reads


def _base() -> QuerySet[OpenApplication]:
    return OpenApplication.objects.select_related("dataset", "provider", "applicant", "agreement")


def for_applicant(user) -> QuerySet[OpenApplication]:
    if not getattr(user, "is_authenticated", False):
        return OpenApplication.objects.none()
    return _base().filter(applicant=user)


def get_for_applicant(user, pk: int) -> OpenApplication:
    """The applicant's own application; anyone else's is simply not found."""
    app = for_applicant(user).filter(pk=pk).first()
    if app is None:
        raise NotFound("application_not_found", "申请不存在")
    return app


def manageable(user) -> QuerySet[OpenApplication]:
    return _base().filter(provider_id__in=_manageable_providers(user))


def get_manageable(user, pk: int) -> OpenApplication:
    app = manageable(user).filter(pk=pk).first()
    if app is None:
        raise NotFound("application_not_found", "申请不存在")
    return app


def reply_obligation(app: OpenApplication) -> Obligation | None:
    return duties.find_active(SUBJECT, app.pk, DUTY_REPLY).first()


def obligations_of(app: OpenApplication) -> list[Obligation]:
    return supervision_selectors.obligations_of(app, duty=DUTY_REPLY)


def pending_extension(app: OpenApplication) -> ReplyExtension | None:
    return app.extensions.filter(status=ReplyExtensionStatus.PENDING).first()


def inbox(user, today: dt.date | None = None) -> dict:
    """Pending applications in due-date order (no deadline last), extensions awaiting this person, and
    recent answers."""
    today = today or timezone.localdate()
    qs = manageable(user)
    pending = list(qs.filter(status=ApplicationStatus.PENDING))
    running: dict[str, Obligation] = {}
    for ob in Obligation.objects.filter(
        subject_type=SUBJECT,
        subject_id__in=[str(a.pk) for a in pending],
        duty=DUTY_REPLY,
        status__in=_ACTIVE_DUTY,
    ):
        running.setdefault(ob.subject_id, ob)
    waiting = {
        e.application_id: e
        for e in ReplyExtension.objects.filter(application__in=pending, status=ReplyExtensionStatus.PENDING)
    }
    rows = []
    for app in pending:
        ob = running.get(str(app.pk))
        rows.append(
            {
                "app": app,
                "ob": ob,
                "overdue": ob is not None and is_overdue(ob, today),
                "extension": waiting.get(app.pk),
            }
        )
    far = dt.date.max
    rows.sort(key=lambda r: ((r["ob"].due_on if r["ob"] and r["ob"].due_on else far), r["app"].submitted_at))
    to_approve = [r for r in rows if r["extension"] is not None and can_decide_extension(user, r["app"])]
    answered = qs.exclude(status=ApplicationStatus.PENDING).order_by("-decided_at", "-submitted_at", "-id")
    return {
        "rows": rows,
        "to_approve": to_approve,
        "answered": [{"app": a, **state_of(a, today)} for a in answered[:100]],
    }


def state_of(app: OpenApplication, today: dt.date | None = None) -> dict:
    """The status a person reads, with the period taken into account: approved is not forever."""
    today = today or timezone.localdate()
    if app.status == ApplicationStatus.APPROVED:
        if today > app.use_until:
            return {"label": "已到期", "tone": "", "active": False}
        if today < app.use_from:
            return {"label": "已同意，使用期限未开始", "tone": "info", "active": False}
        return {"label": "已同意，可下载", "tone": "ok", "active": True}
    tone = {
        ApplicationStatus.PENDING: "info",
        ApplicationStatus.AGREEMENT: "warn",
        ApplicationStatus.REFUSED: "danger",
        ApplicationStatus.REVOKED: "danger",
    }.get(app.status, "")
    return {"label": app.get_status_display(), "tone": tone, "active": False}


def live_application(user, dataset: OpenDataset, today: dt.date | None = None) -> OpenApplication | None:
    """An application that still runs or grants: asking again would be a duplicate."""
    today = today or timezone.localdate()
    return (
        for_applicant(user)
        .filter(dataset=dataset, status__in=LIVE)
        .exclude(status=ApplicationStatus.APPROVED, use_until__lt=today)
        .order_by("-submitted_at", "-id")
        .first()
    )


# ---------------------------------------------------------------- the download gate's question


def access_problem(user, dataset: OpenDataset, today: dt.date | None = None) -> DomainError | None:
    """None when the user holds an approved application for the dataset valid today; else the refusal."""
    today = today or timezone.localdate()
    apps = list(for_applicant(user).filter(dataset=dataset).order_by("-submitted_at", "-id"))
    for app in apps:
        if (
            app.status == ApplicationStatus.APPROVED
            and app.use_from <= today <= app.use_until
            and _agreement_ok(app)
        ):
            return None
    apply_url = f"/open/datasets/{dataset.name}/apply/"
    if not apps or apps[0].status == ApplicationStatus.WITHDRAWN:
        return PermissionDenied(
            "application_required",
            "有条件开放数据须经申请同意后获取，请在数据集页面提出使用申请",
            {
                "dataset": dataset.name,
                "provider": dataset.provider.name,
                "action_url": apply_url,
                "action_label": "申请使用",
            },
        )
    app = apps[0]
    detail = {
        "dataset": dataset.name,
        "application": app.number,
        "action_url": f"/open/account/applications/{app.pk}/",
        "action_label": "查看我的申请",
    }
    if app.status == ApplicationStatus.PENDING:
        return PermissionDenied(
            "application_pending", f"您的使用申请（{app.number}）正在等待提供部门答复，同意后方可下载", detail
        )
    if app.status == ApplicationStatus.REFUSED:
        return PermissionDenied(
            "application_refused",
            f"您的使用申请（{app.number}）未获同意，可查看理由后重新申请",
            {**detail, "reason": app.refusal_reason[:300]},
        )
    if app.status == ApplicationStatus.AGREEMENT or not _agreement_ok(app):
        return PermissionDenied(
            "agreement_not_accepted",
            f"您的使用申请（{app.number}）已同意，请先阅读并签署《数据利用协议》后下载",
            {**detail, "action_label": "阅读并签署协议"},
        )
    if app.status == ApplicationStatus.REVOKED:
        return PermissionDenied(
            "application_revoked",
            f"提供部门已撤销您获取该数据的授权（申请 {app.number}）",
            {**detail, "reason": app.revoke_reason[:300]},
        )
    if today < app.use_from:
        return PermissionDenied(
            "application_not_started",
            f"您的数据使用期限自 {app.use_from:%Y-%m-%d} 开始，届时方可下载",
            {**detail, "use_from": app.use_from.isoformat()},
        )
    return PermissionDenied(
        "application_expired",
        f"您的数据使用期限已于 {app.use_until:%Y-%m-%d} 届满，如需继续使用请重新申请",
        {
            **detail,
            "use_until": app.use_until.isoformat(),
            "action_url": apply_url,
            "action_label": "重新申请",
        },
    )


def _agreement_ok(app: OpenApplication) -> bool:
    agreement = getattr(app, "agreement", None)
    return agreement is None or agreement.accepted_at is not None


def check_access(user, dataset: OpenDataset) -> None:
    problem = access_problem(user, dataset)
    if problem is not None:
        raise problem


# ---------------------------------------------------------------- applying


def application_problem(user, dataset: OpenDataset) -> DomainError | None:
    """Why this person cannot apply for this dataset now, or None."""
    if not identity.is_public_user(user):
        return PermissionDenied("public_account_only", "有条件开放申请须使用公众账号提出")
    if services.effective_open_type(dataset) != OpenType.CONDITIONAL:
        return IllegalTransition("application_not_needed", "该数据集为无条件开放，无需申请，可直接下载")
    if dataset.status != DatasetStatus.OPEN or dataset.current_id is None:
        return IllegalTransition("dataset_not_open", "该数据集当前未开放，暂不受理使用申请")
    if identity.profile_of(user).identity_status != "verified":
        return PermissionDenied("identity_required", "提出有条件开放申请须先通过身份认证")
    if identity.accepted_terms(user) is None:
        return PermissionDenied("terms_not_accepted", "提出申请前请阅读并接受《数据使用条款》")
    live = live_application(user, dataset)
    if live is not None:
        return IllegalTransition(
            "application_exists",
            f"您已有该数据集的申请（{live.number}，{state_of(live)['label']}），无需重复申请",
            {"application": live.number, "action_url": f"/open/account/applications/{live.pk}/"},
        )
    return None


def _cleaned(user, data: dict) -> dict:
    required = required_fields()
    today = timezone.localdate()
    errors: list[dict] = []
    purpose = _text(data.get("purpose"))
    security = _text(data.get("security_measures"))
    if "purpose" in required and not purpose:
        errors.append(_err("purpose", "数据用途", "required", "请说明数据用途"))
    if "security_measures" in required and not security:
        errors.append(_err("security_measures", "安全保障措施", "required", "请说明数据安全保障措施"))
    use_from = dates.field_day(data.get("use_from"), "use_from", "使用期限起", errors)
    use_until = dates.field_day(data.get("use_until"), "use_until", "使用期限止", errors)
    longest = max_use_days()
    if use_from is None and use_until is None and "period" not in required and not errors:
        use_from, use_until = today, today + dt.timedelta(days=longest - 1)
    if use_from is None and not any(e["field"] == "use_from" for e in errors):
        errors.append(_err("use_from", "使用期限起", "required", "请填写使用期限的起始日期"))
    if use_until is None and not any(e["field"] == "use_until" for e in errors):
        errors.append(_err("use_until", "使用期限止", "required", "请填写使用期限的截止日期"))
    if use_from and use_until:
        if use_from < today:
            errors.append(_err("use_from", "使用期限起", "in_past", "使用期限的起始日期不得早于今天"))
        if use_until < use_from:
            errors.append(_err("use_until", "使用期限止", "before_start", "截止日期不得早于起始日期"))
        elif (use_until - use_from).days + 1 > longest:
            errors.append(
                _err("use_until", "使用期限止", "period_too_long", f"使用期限最长 {longest} 天（含起止日）")
            )
    contact_name = _text(data.get("contact_name"), 64)
    contact_phone = _text(data.get("contact_phone"), 32)
    contact_email = _text(data.get("contact_email"), 254)
    if not contact_name:
        errors.append(_err("contact_name", "联系人", "required", "请填写联系人"))
    if not contact_phone:
        errors.append(_err("contact_phone", "联系电话", "required", "请填写联系电话"))
    elif not identity._PHONE.match(contact_phone):
        errors.append(_err("contact_phone", "联系电话", "invalid", "联系电话只能包含数字、+ 和 -"))
    if contact_email:
        try:
            validate_email(contact_email)
        except ValidationError:
            errors.append(_err("contact_email", "电子邮箱", "invalid", "电子邮箱格式不正确"))
    if errors:
        raise ValidationFailed(errors)
    return {
        "purpose": purpose,
        "security_measures": security,
        "use_from": use_from,
        "use_until": use_until,
        "organization": _text(data.get("organization"), 200),
        "contact_name": contact_name,
        "contact_phone": contact_phone,
        "contact_email": contact_email,
    }


def _label(app: OpenApplication) -> str:
    who = app.contact_name or app.applicant.full_name or app.applicant.username
    return f"{app.number} {app.dataset.title}（申请人 {who}）"[:200]


def _manage_link(app: OpenApplication) -> str:
    return f"/open/manage/applications/{app.pk}/"


def _my_link(app: OpenApplication) -> str:
    return f"/open/account/applications/{app.pk}/"


@transaction.atomic
def submit(user, dataset: OpenDataset, data: dict) -> OpenApplication:
    """File the application and start the provider's reply deadline from the profile."""
    dataset = OpenDataset.objects.select_for_update().select_related("provider").get(pk=dataset.pk)
    problem = application_problem(user, dataset)
    if problem is not None:
        raise problem
    fields = _cleaned(user, data)
    now = timezone.now()
    app = OpenApplication.objects.create(
        number=f"tmp-{uuid.uuid4().hex[:24]}",
        dataset=dataset,
        provider=dataset.provider,
        applicant=user,
        submitted_at=now,
        **fields,
    )
    app.number = f"KF-{timezone.localdate():%Y}-{app.pk:06d}"
    app.save(update_fields=["number"])
    duties.open_obligation(
        department=dataset.provider,
        duty=DUTY_REPLY,
        title=f"答复有条件开放申请 {app.number}：{dataset.title}"[:200],
        subject=app,
        subject_label=_label(app),
        parameter="open_reply_working_days",
        link=_manage_link(app),
        extension_parameter="open_reply_extension_max_working_days",
        extension_approver_role=approver_role(),
    )
    audit.record(
        "open.application.submit",
        actor=user,
        object=app,
        case_id=app.number,
        purpose=fields["purpose"][:200],
        detail={
            "dataset": dataset.name,
            "use_from": app.use_from.isoformat(),
            "use_until": app.use_until.isoformat(),
        },
    )
    notify_departments(
        [dataset.provider],
        "open.application_submitted",
        f"有条件开放申请待答复：{app.number} {dataset.title}",
        body=fields["purpose"][:200],
        link=_manage_link(app),
    )
    return app


# ---------------------------------------------------------------- transitions


def _lock(app: OpenApplication) -> OpenApplication:
    return (
        OpenApplication.objects.select_for_update(of=("self",))
        .select_related("dataset", "provider", "applicant")
        .get(pk=app.pk)
    )


def _move(app: OpenApplication, to: str) -> None:
    if to not in APPLICATION_TRANSITIONS.get(app.status, set()):
        raise IllegalTransition(
            "illegal_transition",
            f"该申请{app.get_status_display()}，不能{_VERBS.get(to, '办理')}",
            {"status": app.status, "to": to},
        )
    app.status = to


_VERBS = {
    ApplicationStatus.APPROVED: "同意",
    ApplicationStatus.AGREEMENT: "同意",
    ApplicationStatus.REFUSED: "答复不同意",
    ApplicationStatus.WITHDRAWN: "撤回",
    ApplicationStatus.REVOKED: "撤销授权",
}


def _require_provider(user, app: OpenApplication) -> None:
    if not is_provider_officer(user, app):
        raise PermissionDenied("provider_only", "只有数据提供部门的数据专员可以答复和撤销有条件开放申请")


def _close_reply(app: OpenApplication, by, note: str) -> None:
    duties.fulfil(SUBJECT, app.pk, DUTY_REPLY, by=by, note=note)
    ReplyExtension.objects.filter(application=app, status=ReplyExtensionStatus.PENDING).update(
        status=ReplyExtensionStatus.CANCELLED, decided_at=timezone.now()
    )


def agreement_text(app: OpenApplication, conditions: str) -> str:
    """The agreement as the applicant reads and accepts it: every term that binds the use (R-OPEN-09/15)."""
    profile = identity.profile_of(app.applicant)
    basis = param("open_use_agreement")
    who = profile.id_name or app.applicant.full_name or app.applicant.username
    lines = [
        "数据利用协议",
        f"协议编号：{app.number}",
        f"数据提供方：{app.provider.name}",
        f"数据利用方：{who}（公民身份号码 {profile.id_masked or '—'}；平台账号 {app.applicant.username}）"
        + (f"，申请单位：{app.organization}" if app.organization else ""),
        f"数据集：{app.dataset.title}（{app.dataset.name}）",
        f"数据用途：{app.purpose or '—'}",
        f"使用期限：{app.use_from:%Y-%m-%d} 至 {app.use_until:%Y-%m-%d}，期满后不得继续使用",
        f"安全保障措施：{app.security_measures or '—'}",
        f"提供方附加条件：{conditions or '无'}",
        "数据利用方承诺：",
        *[f"{n}. {t}" for n, t in enumerate(identity.TERMS, 1)],
        f"{len(identity.TERMS) + 1}. 仅按上述用途、期限和安全保障措施使用数据；违反本协议的，数据提供方可撤销其获取数据的授权，并依法追究责任。",
        f"依据：{basis.article}" if basis is not None and basis.article else "依据：本地政务数据开放管理办法",
        "本协议经数据利用方在政务数据开放平台以电子方式确认后生效。",
    ]
    return "\n".join(lines)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@transaction.atomic
def approve(user, app: OpenApplication, conditions: str = "") -> OpenApplication:
    """Approval is the grant; where the profile provides for it, an agreement to accept comes first."""
    app = _lock(app)
    _require_provider(user, app)
    if app.dataset.status != DatasetStatus.OPEN:
        raise IllegalTransition(
            "dataset_not_open", f"数据集当前{app.dataset.get_status_display()}，请处理后再答复申请"
        )
    needs_agreement = agreement_required()
    _move(app, ApplicationStatus.AGREEMENT if needs_agreement else ApplicationStatus.APPROVED)
    now = timezone.now()
    app.conditions = _text(conditions)
    app.decided_at, app.decided_by = now, user
    app.save()
    agreement = None
    if needs_agreement:
        text = agreement_text(app, app.conditions)
        agreement = UseAgreement.objects.create(
            application=app, text=text, sha256=sha256(text), created_at=now
        )
    _close_reply(app, user, "同意")
    audit.record(
        "open.application.approve",
        actor=user,
        object=app,
        case_id=app.number,
        detail={
            "dataset": app.dataset.name,
            "conditions": app.conditions[:300],
            "agreement_sha256": agreement.sha256 if agreement else "",
        },
    )
    message = (
        f"您的有条件开放申请 {app.number} 已同意，请阅读并签署《数据利用协议》后下载"
        if agreement
        else f"您的有条件开放申请 {app.number} 已同意，可在 {app.use_from:%Y-%m-%d} 至 {app.use_until:%Y-%m-%d} 下载"
    )
    notify_user(
        app.applicant, "open.application_approved", message, body=app.conditions[:200], link=_my_link(app)
    )
    return app


@transaction.atomic
def refuse(user, app: OpenApplication, reason: str, basis: str = "") -> OpenApplication:
    """A refusal always gives reasons; SR 22 and NX 46 add the legal or policy basis."""
    app = _lock(app)
    _require_provider(user, app)
    _move(app, ApplicationStatus.REFUSED)
    reason, basis = _text(reason), _text(basis, 1000)
    errors = []
    if not reason:
        errors.append(_err("reason", "不同意理由", "required", "不同意开放须说明理由"))
    if basis_required() and not basis:
        article = param("open_refusal_basis_required").article
        errors.append(_err("basis", "法律政策依据", "required", f"不同意开放须说明法律政策依据（{article}）"))
    if errors:
        raise ValidationFailed(errors)
    app.refusal_reason, app.refusal_basis = reason, basis
    app.decided_at, app.decided_by = timezone.now(), user
    app.save()
    _close_reply(app, user, "不同意")
    audit.record(
        "open.application.refuse",
        actor=user,
        object=app,
        case_id=app.number,
        detail={"dataset": app.dataset.name, "reason": reason[:300], "basis": basis[:300]},
    )
    notify_user(
        app.applicant,
        "open.application_refused",
        f"您的有条件开放申请 {app.number} 未获同意",
        body=(reason + (f"\n依据：{basis}" if basis else ""))[:500],
        link=_my_link(app),
    )
    return app


@transaction.atomic
def accept_agreement(user, app: OpenApplication, digest: str, agree: bool) -> UseAgreement:
    """The applicant accepts exactly the text shown: its SHA-256 comes back with the form."""
    app = _lock(app)
    if app.applicant_id != getattr(user, "pk", None):
        raise NotFound("application_not_found", "申请不存在")
    if app.status != ApplicationStatus.AGREEMENT:
        raise IllegalTransition(
            "agreement_not_pending", f"该申请{app.get_status_display()}，没有待签署的数据利用协议"
        )
    if not agree:
        raise ValidationFailed([_err("agree", "", "required", "请勾选“我已阅读并同意本协议”")])
    agreement = UseAgreement.objects.select_for_update().get(application=app)
    if (digest or "").strip().lower() != agreement.sha256:
        raise IllegalTransition("agreement_changed", "协议文本与您阅读的版本不一致，请刷新页面重新阅读后签署")
    agreement.accepted_at, agreement.accepted_by = timezone.now(), user
    agreement.save()
    _move(app, ApplicationStatus.APPROVED)
    app.save(update_fields=["status"])
    audit.record(
        "open.agreement.accept",
        actor=user,
        object=agreement,
        case_id=app.number,
        detail={"application": app.number, "dataset": app.dataset.name, "sha256": agreement.sha256},
    )
    notify_departments(
        [app.provider],
        "open.agreement_accepted",
        f"数据利用协议已签署：{app.number} {app.dataset.title}",
        link=_manage_link(app),
    )
    return agreement


@transaction.atomic
def withdraw(user, app: OpenApplication) -> OpenApplication:
    app = _lock(app)
    if app.applicant_id != getattr(user, "pk", None):
        raise NotFound("application_not_found", "申请不存在")
    was_pending = app.status == ApplicationStatus.PENDING
    _move(app, ApplicationStatus.WITHDRAWN)
    app.withdrawn_at = timezone.now()
    app.save()
    if was_pending:
        for ob in duties.find_active(SUBJECT, app.pk, DUTY_REPLY):
            duties.cancel_obligation(ob, user, "申请人撤回申请")
        ReplyExtension.objects.filter(application=app, status=ReplyExtensionStatus.PENDING).update(
            status=ReplyExtensionStatus.CANCELLED, decided_at=timezone.now()
        )
    audit.record("open.application.withdraw", actor=user, object=app, case_id=app.number)
    notify_departments(
        [app.provider],
        "open.application_withdrawn",
        f"有条件开放申请已撤回：{app.number} {app.dataset.title}",
        link=_manage_link(app),
    )
    return app


@transaction.atomic
def revoke(user, app: OpenApplication, reason: str) -> OpenApplication:
    """R-OPEN-15: the provider stops a use that breaks the terms or the agreement; the gate refuses at once."""
    app = _lock(app)
    _require_provider(user, app)
    _move(app, ApplicationStatus.REVOKED)
    reason = _text(reason)
    if not reason:
        raise ValidationFailed([_err("reason", "撤销理由", "required", "撤销授权须说明理由")])
    app.revoked_at, app.revoked_by, app.revoke_reason = timezone.now(), user, reason
    app.save()
    audit.record(
        "open.application.revoke",
        actor=user,
        object=app,
        case_id=app.number,
        detail={"dataset": app.dataset.name, "reason": reason[:300]},
    )
    notify_user(
        app.applicant,
        "open.application_revoked",
        f"您对“{app.dataset.title}”的数据使用授权已被撤销（{app.number}）",
        body=reason[:500],
        link=_my_link(app),
    )
    return app


# ---------------------------------------------------------------- extending the reply (NX 46)


def extension_info(app: OpenApplication) -> dict:
    ob = reply_obligation(app)
    ceiling = param("open_reply_extension_max_working_days")
    used = sum(e.working_days for e in ob.extensions.all()) if ob is not None else 0
    extendable = (
        app.status == ApplicationStatus.PENDING
        and ob is not None
        and ob.due_on is not None
        and ceiling is not None
        and ceiling.value is not None
    )
    return {"ob": ob, "ceiling": ceiling, "used": used, "extendable": extendable}


@transaction.atomic
def request_extension(user, app: OpenApplication, working_days, reason: str) -> ReplyExtension:
    app = _lock(app)
    if not is_provider_officer(user, app) and not (
        user.has_role(Role.HEAD) and user.department_id == app.provider_id
    ):
        raise PermissionDenied("provider_only", "只有数据提供部门可以申请延期答复")
    if app.status != ApplicationStatus.PENDING:
        raise IllegalTransition("illegal_transition", f"该申请{app.get_status_display()}，无需延期答复")
    info = extension_info(app)
    if not info["extendable"]:
        raise IllegalTransition("not_extendable", "本地办法未规定有条件开放申请答复的时限或延期")
    if pending_extension(app) is not None:
        raise IllegalTransition("extension_pending", "已有待审批的延期申请")
    ceiling = info["ceiling"]
    reason = _text(reason)
    errors = duties.extension_problems(reason, working_days, info["used"], ceiling)
    if errors:
        raise ValidationFailed(errors)
    ext = ReplyExtension.objects.create(
        application=app, working_days=working_days, reason=reason, requested_by=user
    )
    audit.record(
        "open.application.extension_request",
        actor=user,
        object=app,
        case_id=app.number,
        detail={"working_days": working_days, "reason": reason[:300]},
    )
    target = app.provider if approver_role() == Role.HEAD else authority_for(app.provider)
    notify_departments(
        [target] if target is not None else [],
        "open.extension_requested",
        f"有条件开放申请答复延期待审批：{app.number}（{working_days} 个工作日）",
        body=reason[:200],
        link=_manage_link(app),
    )
    return ext


def _lock_extension(ext: ReplyExtension) -> ReplyExtension:
    return duties.lock_pending_request(ReplyExtension, ext.pk)


@transaction.atomic
def approve_extension(user, ext: ReplyExtension, note: str = "") -> ReplyExtension:
    ext = _lock_extension(ext)
    app = _lock(ext.application)
    if not can_decide_extension(user, app):
        raise PermissionDenied("extension_approver", f"延期须由{approver_label()}批准")
    ob = reply_obligation(app)
    if ob is None or app.status != ApplicationStatus.PENDING:
        raise IllegalTransition("illegal_transition", "该申请已答复，无需延期")
    ext = duties.decide_request(ext, user, approve=True, note=_text(note), ob=ob)
    audit.record(
        "open.application.extension_approve",
        actor=user,
        object=app,
        case_id=app.number,
        detail={"working_days": ext.working_days, "new_due_on": ext.new_due_on.isoformat()},
    )
    notify_user(
        app.applicant,
        "open.reply_extended",
        f"您的有条件开放申请 {app.number} 答复期限延长至 {ext.new_due_on:%Y-%m-%d}",
        body=ext.reason[:200],
        link=_my_link(app),
    )
    return ext


@transaction.atomic
def refuse_extension(user, ext: ReplyExtension, note: str) -> ReplyExtension:
    ext = _lock_extension(ext)
    app = _lock(ext.application)
    if not can_decide_extension(user, app):
        raise PermissionDenied("extension_approver", f"延期须由{approver_label()}审批")
    ext = duties.decide_request(ext, user, approve=False, note=_text(note))
    note = ext.decision_note
    audit.record(
        "open.application.extension_refuse",
        actor=user,
        object=app,
        case_id=app.number,
        detail={"note": note[:300]},
    )
    notify_departments(
        [app.provider],
        "open.extension_refused",
        f"有条件开放申请答复延期未获批准：{app.number}",
        body=note[:200],
        link=_manage_link(app),
    )
    return ext


def my_rows(user, today: dt.date | None = None) -> list[dict]:
    today = today or timezone.localdate()
    return [{"app": a, **state_of(a, today)} for a in for_applicant(user)[:200]]


def box_for(user, dataset: OpenDataset, today: dt.date | None = None) -> dict:
    """What the conditional dataset page shows this visitor: apply, the state of their application, or
    the download links while their approval runs."""
    today = today or timezone.localdate()
    latest = None
    if getattr(user, "is_authenticated", False):
        latest = (
            for_applicant(user)
            .filter(dataset=dataset)
            .filter(~Q(status=ApplicationStatus.WITHDRAWN))
            .order_by("-submitted_at", "-id")
            .first()
        )
    active = (
        for_applicant(user)
        .filter(
            dataset=dataset,
            status=ApplicationStatus.APPROVED,
            use_from__lte=today,
            use_until__gte=today,
        )
        .order_by("-use_until")
        .first()
        if latest is not None
        else None
    )
    if active is not None and not _agreement_ok(active):
        active = None
    state = state_of(latest, today) if latest is not None else None
    can_apply = dataset.status == DatasetStatus.OPEN and (
        latest is None
        or latest.status in (ApplicationStatus.REFUSED, ApplicationStatus.REVOKED)
        or (latest.status == ApplicationStatus.APPROVED and today > latest.use_until)
    )
    return {"latest": latest, "state": state, "active": active, "can_apply": can_apply}
