"""Every write of the sharing workflow: applications, grants and negotiation cases (R-SHARE-04..18).

Each use case checks who may act, validates against the catalog entry and the active policy profile,
moves the state along the transition tables of models.py, opens or closes the legal deadline as an
`Obligation`, writes the audit event in the same transaction and notifies the other party. Which steps
exist, who decides and what an application must carry all come from the profile, never from code.
"""

from __future__ import annotations

import datetime as dt
import json

from django.db import transaction
from django.utils import timezone

from govshare.audit import services as audit
from govshare.calendar.policy import active_profile, profile_value
from govshare.catalog.models import Delivery, Resource, ResourceStatus, ShareType
from govshare.errors import DomainError, IllegalTransition, PermissionDenied, ValidationFailed
from govshare.notifications.services import notify_departments
from govshare.numbering import save_numbered
from govshare.orgs.models import Department, DepartmentKind, Role
from govshare.orgs.selectors import platform_authority
from govshare.supervision import services as duties
from govshare.supervision.models import Obligation, ObligationStatus

from . import masking, scope
from .models import (
    APPLICATION_TRANSITIONS,
    CASE_TRANSITIONS,
    GRANT_TRANSITIONS,
    ApplicationKind,
    ApplicationStatus,
    CaseMessage,
    CaseStatus,
    Decider,
    Grant,
    GrantStatus,
    NegotiationCase,
    ShareApplication,
)

APP_SUBJECT = "sharing.shareapplication"
CASE_SUBJECT = "sharing.negotiationcase"
DUTY_PREREVIEW = "sharing.prereview"
DUTY_REPLY = "sharing.reply"
DUTY_COORDINATE = "sharing.coordinate"
ACTIVE_DUTIES = (ObligationStatus.OPEN, ObligationStatus.OVERDUE)

# Upload limits for the sealed application letter: a platform setting, not a regulatory number.
LETTER_MAX_BYTES = 10 * 1024 * 1024
LETTER_TYPES = (
    (b"%PDF-", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
)
# A registration that names no end date runs for a year: a platform setting, the regulations are silent.
UNCONDITIONAL_DEFAULT_DAYS = 365


# --- small helpers -----------------------------------------------------------------------------------------


def _err(field: str, label: str, code: str, message: str) -> dict:
    return {"field": field, "label": label, "code": code, "message": message}


def _csv(values) -> str:
    """Audit details hold scalars only; lists are written the way the gate writes them ("a,b")."""
    return ",".join(str(v) for v in values)


def _text(value) -> str:
    return (value or "").strip()


def _article(key: str) -> str:
    return active_profile().param(key).article or ""


def authority_for(department: Department | None) -> Department | None:
    """The data authority of the department's region or the nearest region above it; else the platform's."""
    region = department.region if department is not None else None
    seen = 0
    while region is not None and seen < 5:
        found = (
            Department.objects.filter(kind=DepartmentKind.AUTHORITY, is_active=True, region=region)
            .order_by("id")
            .first()
        )
        if found is not None:
            return found
        region, seen = region.parent, seen + 1
    return platform_authority()


def _require_authority_dept(department: Department | None) -> Department:
    authority = authority_for(department)
    if authority is None:
        raise DomainError("no_authority", "平台未设置数据主管部门，无法办理", status=409)
    return authority


def _create_numbered(model, prefix: str, **fields):
    return save_numbered(model(**fields), prefix)


def _move(obj, table: dict, target: str, what: str):
    if target not in table.get(obj.status, set()):
        raise IllegalTransition(
            "illegal_transition",
            f"{what}当前为“{obj.get_status_display()}”，不能执行该操作",
            {"status": obj.status, "target": target},
        )
    obj.status = target


def _app_link(app: ShareApplication) -> str:
    return f"/sharing/applications/{app.pk}/"


def _grant_link(grant: Grant) -> str:
    return f"/sharing/grants/{grant.pk}/"


def _case_link(case: NegotiationCase) -> str:
    return f"/sharing/cases/{case.pk}/"


def _label(app: ShareApplication) -> str:
    return f"{app.number} {app.resource.name}（{app.consumer.name}）"


def _running(subject_type: str, pk, duty: str):
    return Obligation.objects.filter(
        subject_type=subject_type, subject_id=str(pk), duty=duty, status__in=ACTIVE_DUTIES
    )


MAX_DAILY_QUOTA = 100_000_000  # fits the column on every database; more is "no quota"


def _is_authority(user, resource: Resource | None = None) -> bool:
    """An authority officer; for acting on a resource, of the authority that answers for its provider."""
    if not (user.has_role(Role.AUTHORITY) and user.department_id is not None):
        return False
    if resource is None:
        return True
    responsible = authority_for(resource.provider)
    return responsible is not None and responsible.pk == user.department_id


def _is_provider_officer(user, resource: Resource) -> bool:
    return user.has_role(Role.PROVIDER) and user.department_id == resource.provider_id


def _require_consumer(user) -> Department:
    dept = user.department
    if dept is None or not user.has_role(Role.CONSUMER):
        raise PermissionDenied("consumer_only", "只有使用部门的数据专员可以申请共享数据")
    if not dept.is_active:
        raise PermissionDenied("department_inactive", f"{dept.name}已停用，不能申请共享数据")
    return dept


def _check_resource(user, resource: Resource) -> None:
    if resource.status != ResourceStatus.PUBLISHED:
        raise DomainError(
            "resource_not_published", f"目录“{resource.code}”未发布或已下线，不能申请", status=409
        )
    if resource.is_secret:
        raise DomainError("resource_secret", "涉密资源不通过共享平台共享", status=409)
    if resource.provider_id == user.department_id:
        raise DomainError("own_resource", "本部门提供的资源无需申请共享", status=409)


def _item_codes(resource: Resource) -> list[str]:
    return list(resource.items.order_by("position").values_list("code", flat=True))


def _check_items(resource: Resource, items, errors: list[dict], field: str = "items") -> list[str]:
    codes = _item_codes(resource)
    wanted = list(dict.fromkeys(items or []))
    if not wanted:
        errors.append(_err(field, "信息项", "required", "请至少选择一个信息项"))
        return []
    unknown = [c for c in wanted if c not in codes]
    if unknown:
        errors.append(
            _err(field, "信息项", "invalid_choice", f"信息项“{'、'.join(map(str, unknown))}”不属于该资源")
        )
    return [c for c in codes if c in wanted]


def _check_methods(
    resource: Resource, methods, errors: list[dict], *, catalog_bound: bool = True
) -> list[str]:
    wanted = list(dict.fromkeys(methods or []))
    if not wanted:
        errors.append(_err("methods", "共享方式", "required", "请至少选择一种共享方式"))
        return []
    labels = dict(Delivery.choices)
    unknown = [m for m in wanted if m not in labels]
    if unknown:
        errors.append(
            _err("methods", "共享方式", "invalid_choice", f"共享方式“{'、'.join(unknown)}”无法识别")
        )
        return []
    if catalog_bound:
        offered = set(resource.share_methods or [])
        outside = [labels[m] for m in wanted if m not in offered]
        if outside:
            errors.append(
                _err(
                    "methods",
                    "共享方式",
                    "not_offered",
                    f"该资源目录未提供以下共享方式：{'、'.join(outside)}",
                )
            )
    enabled = profile_value("share_delivery_methods")
    if enabled:
        off = [labels[m] for m in wanted if m not in enabled]
        if off:
            errors.append(
                _err(
                    "methods",
                    "共享方式",
                    "method_not_enabled",
                    f"本地办法未规定以下共享方式：{'、'.join(off)}（{_article('share_delivery_methods')}）",
                )
            )
    return wanted


def _check_clients(user, clients, errors: list[dict], department: Department | None = None) -> list:
    department = department or user.department
    clients = list(dict.fromkeys(clients or []))
    for c in clients:
        if c.department_id != department.pk:
            errors.append(
                _err("clients", "应用系统", "not_own_client", f"应用系统“{c.name}”不属于{department.name}")
            )
        elif not c.is_active:
            errors.append(_err("clients", "应用系统", "client_disabled", f"应用系统“{c.name}”已停用"))
    return clients


def _check_period(valid_from, valid_until, errors: list[dict]) -> None:
    today = timezone.localdate()
    if valid_from is None:
        errors.append(_err("valid_from", "使用期限自", "required", "请填写使用期限起始日"))
    elif valid_from < today:
        errors.append(_err("valid_from", "使用期限自", "past_date", "使用期限不能早于今天"))
    if valid_until is None:
        errors.append(_err("valid_until", "使用期限至", "required", "请填写使用期限截止日"))
    elif valid_from is not None and valid_until < valid_from:
        errors.append(_err("valid_until", "使用期限至", "before_start", "使用期限截止日不能早于起始日"))


def _check_terms(terms_accepted: bool, resource: Resource, errors: list[dict]) -> None:
    if not terms_accepted:
        rules = _text(resource.usage_requirements)
        errors.append(
            _err(
                "terms_accepted",
                "使用要求",
                "terms_not_accepted",
                "须承诺仅用于本部门履职用途、不向第三方提供，并接受该资源的使用要求（R-SHARE-17）"
                + (f"：{rules}" if rules else ""),
            )
        )


def _check_letter(letter, errors: list[dict]) -> str:
    """The file type comes from its first bytes, never from the name a browser sends."""
    size = getattr(letter, "size", None)
    if size is not None and size > LETTER_MAX_BYTES:
        errors.append(_err("letter", "申请函", "file_too_large", "申请函不能超过 10 MB"))
        return ""
    letter.seek(0)
    head = letter.read(8)
    letter.seek(0)
    for magic, ext in LETTER_TYPES:
        if head.startswith(magic):
            return ext
    errors.append(_err("letter", "申请函", "invalid_file_type", "申请函须为 PDF 或图片（PNG、JPEG）扫描件"))
    return ""


def default_masks(resource: Resource, items: list[str]) -> dict[str, str]:
    """A proposal for the approver: personal items masked by their names, the rest shown as stored."""
    names = dict(resource.items.values_list("code", "name"))
    return {code: masking.default_rule(names.get(code, "")) for code in items if code in names}


def _check_masks(masks, items: list[str], errors: list[dict]) -> dict[str, str]:
    out = {}
    for code, spec in (masks or {}).items():
        if code not in items:
            errors.append(
                _err("masks", "脱敏规则", "invalid_choice", f"脱敏规则所指信息项“{code}”不在授权范围内")
            )
            continue
        try:
            rule = masking.parse(spec)
        except masking.RuleError as exc:
            errors.append(_err("masks", "脱敏规则", "invalid_rule", str(exc)))
            continue
        if rule.kind != "plain":
            out[code] = rule.spec
    return out


def _check_row_filter(row_filter, items: list[str], errors: list[dict]) -> list:
    problems = scope.validate(row_filter, items)
    for p in problems:
        errors.append(_err("row_filter", "行范围", "invalid_filter", p))
    return list(row_filter or [])


def _raise(errors: list[dict]) -> None:
    if errors:
        raise ValidationFailed(errors)


def _open_reply(app: ShareApplication, started_on: dt.date) -> None:
    if app.decider == Decider.AUTHORITY:
        dept = _require_authority_dept(app.resource.provider)
        title = f"审查决定共享申请 {app.number}：{app.resource.name}"
    else:
        dept = app.resource.provider
        title = f"答复共享申请 {app.number}：{app.resource.name}"
    duties.open_obligation(
        department=dept,
        duty=DUTY_REPLY,
        title=title[:200],
        subject=app,
        subject_label=_label(app),
        parameter="share_reply_working_days",
        started_on=started_on,
        link=_app_link(app),
        extension_parameter="share_reply_extension_max_working_days",
    )


def _create_grant(user, app: ShareApplication, **fields) -> Grant:
    grant = _create_numbered(
        Grant,
        "GR",
        application=app,
        resource=app.resource,
        consumer=app.consumer,
        created_by=user,
        **fields,
    )
    grant.clients.set(app.clients.all())
    audit.record(
        "sharing.grant.create",
        actor=user,
        object=grant,
        purpose=grant.purpose,
        detail={
            "number": grant.number,
            "application": app.number,
            "resource": app.resource.code,
            "consumer": app.consumer.name,
            "items": _csv(grant.items),
            "methods": _csv(grant.methods),
            "masks": json.dumps(grant.masks, ensure_ascii=False, sort_keys=True),
            "row_filter": json.dumps(grant.row_filter, ensure_ascii=False),
            "valid_from": grant.valid_from.isoformat(),
            "valid_until": grant.valid_until.isoformat(),
            "daily_quota": grant.daily_quota,
            "clients": _csv(c.code for c in grant.clients.all()),
            "filing_required": grant.filing_required,
        },
    )
    return grant


# --- unconditional resources (R-SHARE-04) ------------------------------------------------------------------


@transaction.atomic
def obtain_unconditional(
    user,
    resource: Resource,
    *,
    purpose: str,
    clients: list,
    items: list[str] | None = None,
    methods: list[str],
    valid_until: dt.date | None = None,
    terms_accepted: bool = False,
) -> Grant:
    """Unconditional data is usable at once — after 登记 where the profile says so (CS) — but it is still a
    grant naming the purpose and the systems, so the gate can check and the log can tell who used what."""
    dept = _require_consumer(user)
    _check_resource(user, resource)
    if resource.share_type != ShareType.UNCONDITIONAL:
        raise DomainError(
            "not_unconditional",
            f"“{resource.name}”为{resource.get_share_type_display() or '未标明共享类型'}资源，请提交共享申请",
            status=409,
        )
    precondition = profile_value("unconditional_access_precondition") or "none"
    if precondition == "application":
        raise DomainError(
            "application_required",
            f"本地办法规定无条件共享资源也须通过平台申请数据服务（{_article('unconditional_access_precondition')}），"
            "请提交共享申请",
            {"article": _article("unconditional_access_precondition")},
            status=409,
        )
    errors: list[dict] = []
    purpose = _text(purpose)
    if not purpose:
        errors.append(_err("purpose", "使用用途", "required", "请填写使用用途（R-SHARE-17）"))
    clients = _check_clients(user, clients, errors)
    if not clients:
        errors.append(_err("clients", "应用系统", "required", "请选择使用数据的应用系统"))
    items = _check_items(resource, items if items is not None else _item_codes(resource), errors)
    methods = _check_methods(resource, methods, errors)
    today = timezone.localdate()
    valid_until = valid_until or today + dt.timedelta(days=UNCONDITIONAL_DEFAULT_DAYS - 1)
    if valid_until < today:
        errors.append(_err("valid_until", "使用期限至", "past_date", "使用期限截止日不能早于今天"))
    _check_terms(terms_accepted, resource, errors)
    _raise(errors)

    registration = precondition == "registration"
    now = timezone.now()
    app = _create_numbered(
        ShareApplication,
        "SQ",
        kind=ApplicationKind.REGISTRATION,
        resource=resource,
        resource_version=resource.version,
        consumer=dept,
        applicant=user,
        purpose=purpose,
        items=items,
        methods=methods,
        valid_from=today,
        valid_until=valid_until,
        received_on=today,
        terms_accepted_at=now,
        decider=Decider.PROVIDER,
        status=ApplicationStatus.APPROVED,
        decided_by=user,
        decided_at=now,
        decision_comment="无条件共享登记" if registration else "无条件共享直接获取",
    )
    app.clients.set(clients)
    audit.record(
        "sharing.registration.create" if registration else "sharing.unconditional.obtain",
        actor=user,
        object=app,
        purpose=purpose,
        detail={
            "number": app.number,
            "resource": resource.code,
            "items": _csv(items),
            "methods": _csv(methods),
            "clients": _csv(c.code for c in clients),
            "precondition": precondition,
            "article": _article("unconditional_access_precondition"),
        },
    )
    grant = _create_grant(
        user,
        app,
        purpose=purpose,
        items=items,
        methods=methods,
        valid_from=today,
        valid_until=valid_until,
    )
    verb = "登记使用" if registration else "获取使用"
    notify_departments(
        [resource.provider],
        "sharing.registered",
        f"{dept.name}已{verb}无条件共享资源“{resource.name}”（{grant.number}）",
        body=f"使用用途：{purpose}\n应用系统：{'、'.join(c.name for c in clients)}",
        link=_grant_link(grant),
    )
    return grant


# --- conditional applications (R-SHARE-05..09, 14, 17) -----------------------------------------------------


@transaction.atomic
def submit_application(
    user,
    resource: Resource,
    *,
    purpose: str,
    duty_basis: str = "",
    scenario: str = "",
    clients: list,
    items: list[str],
    methods: list[str],
    valid_from: dt.date,
    valid_until: dt.date,
    batch_justification: str = "",
    letter=None,
    terms_accepted: bool = False,
    offplatform: bool = False,
    received_on: dt.date | None = None,
) -> ShareApplication:
    dept = _require_consumer(user)
    _check_resource(user, resource)
    precondition = profile_value("unconditional_access_precondition") or "none"
    if resource.share_type == ShareType.NONE or not resource.share_type:
        raise DomainError(
            "resource_not_shared",
            f"“{resource.name}”为不予共享资源，不能提交共享申请；确有需要请发起共享协商（R-SHARE-11）",
            status=409,
        )
    if resource.share_type == ShareType.UNCONDITIONAL and precondition != "application":
        word = "登记后直接使用" if precondition == "registration" else "直接获取"
        raise DomainError(
            "unconditional_resource",
            f"“{resource.name}”为无条件共享资源，无需申请，请{word}（{_article('unconditional_access_precondition')}）",
            status=409,
        )

    errors: list[dict] = []
    required = set(profile_value("share_application_attachments") or ())
    attach_article = _article("share_application_attachments")
    purpose, duty_basis, scenario = _text(purpose), _text(duty_basis), _text(scenario)
    batch_justification = _text(batch_justification)
    if not purpose:
        suffix = f"（{attach_article}）" if "purpose" in required else "（R-SHARE-05）"
        errors.append(_err("purpose", "使用用途", "required", f"请填写使用用途{suffix}"))
    if not duty_basis:
        errors.append(_err("duty_basis", "履职依据", "required", "请填写申请部门的履职依据（R-SHARE-05）"))
    if "scenario" in required and not scenario:
        errors.append(_err("scenario", "应用场景", "required", f"请填写应用场景（{attach_article}）"))
    clients = _check_clients(user, clients, errors)
    if "system_name" in required and not clients:
        errors.append(
            _err("clients", "应用系统", "required", f"请选择使用数据的信息系统（{attach_article}）")
        )
    items = _check_items(resource, items, errors)
    methods = _check_methods(resource, methods, errors)
    # R-SHARE-14: batch exchange where an interface or verification would do needs a stated reason. NX
    # writes it down (第三十八条); the platform asks it everywhere, since minimum-necessary delivery is the
    # platform's default and the reviewer needs the reason to decide.
    if (
        Delivery.BATCH in methods
        and {Delivery.QUERY, Delivery.VERIFY} & set(resource.share_methods or [])
        and not batch_justification
    ):
        errors.append(
            _err(
                "batch_justification",
                "批量交换理由",
                "required",
                "该资源提供接口查询或核验，申请批量交换须说明接口、核验不能满足需要的理由"
                f"（{_article('batch_requires_justification') or 'R-SHARE-14'}）",
            )
        )
    _check_period(valid_from, valid_until, errors)
    letter_ext = ""
    if letter is not None:
        letter_ext = _check_letter(letter, errors)
    elif "sealed_letter" in required:
        errors.append(
            _err("letter", "申请函", "required", f"请上传加盖公章的信息资源使用申请函（{attach_article}）")
        )
    today = timezone.localdate()
    if offplatform:
        if not profile_value("offplatform_application_allowed"):
            errors.append(
                _err("offplatform", "线下申请补录", "not_allowed", "本地办法未规定可通过平台以外的方式申请")
            )
        elif received_on is None:
            errors.append(
                _err("received_on", "收到申请日期", "required", "补录线下申请须填写提供方收到申请的日期")
            )
        elif received_on > today:
            errors.append(_err("received_on", "收到申请日期", "future_date", "收到申请日期不能晚于今天"))
    _check_terms(terms_accepted, resource, errors)
    _raise(errors)

    received = received_on if offplatform else today
    prereview = profile_value("share_prereview_working_days") is not None
    decider = Decider.AUTHORITY if profile_value("authority_decides_share") else Decider.PROVIDER
    authority = (
        _require_authority_dept(resource.provider) if prereview or decider == Decider.AUTHORITY else None
    )
    app = ShareApplication(
        kind=ApplicationKind.APPLICATION,
        resource=resource,
        resource_version=resource.version,
        consumer=dept,
        applicant=user,
        purpose=purpose,
        duty_basis=duty_basis,
        scenario=scenario,
        items=items,
        methods=methods,
        valid_from=valid_from,
        valid_until=valid_until,
        batch_justification=batch_justification,
        offplatform=bool(offplatform),
        received_on=received,
        terms_accepted_at=timezone.now(),
        decider=decider,
        status=ApplicationStatus.PREREVIEW if prereview else ApplicationStatus.PENDING,
    )

    def attach_letter(app):  # the file is named after the number, so it is stored once the number is known
        if letter is not None and not app.letter:
            app.letter.save(f"{app.number}{letter_ext}", letter, save=False)

    save_numbered(app, "SQ", attach_letter)
    app.clients.set(clients)
    audit.record(
        "sharing.application.submit",
        actor=user,
        object=app,
        purpose=purpose,
        detail={
            "number": app.number,
            "resource": resource.code,
            "items": _csv(items),
            "methods": _csv(methods),
            "clients": _csv(c.code for c in clients),
            "status": app.status,
            "decider": decider,
            "offplatform": app.offplatform,
            "received_on": received.isoformat(),
            "batch_justification": batch_justification,
        },
    )
    if prereview:
        duties.open_obligation(
            department=authority,
            duty=DUTY_PREREVIEW,
            title=f"初审共享申请 {app.number}：{resource.name}"[:200],
            subject=app,
            subject_label=_label(app),
            parameter="share_prereview_working_days",
            started_on=received,
            link=_app_link(app),
        )
        to = [authority]
    else:
        _open_reply(app, received)
        to = [authority] if decider == Decider.AUTHORITY else [resource.provider]
    notify_departments(
        to,
        "sharing.application_submitted",
        f"{dept.name}申请共享“{resource.name}”（{app.number}）",
        body=f"使用用途：{purpose}",
        link=_app_link(app),
    )
    return app


def can_prereview(user, app: ShareApplication) -> bool:
    return app.status == ApplicationStatus.PREREVIEW and _is_authority(user, app.resource)


def can_decide(user, app: ShareApplication) -> bool:
    if app.decider == Decider.AUTHORITY:
        return _is_authority(user, app.resource)
    return _is_provider_officer(user, app.resource)


def _refusal_errors(reason: str, basis: str, field: str, label: str, message: str) -> list[dict]:
    """Reasons are always required (R-SHARE-08); the legal or policy basis where the profile says so (SR)."""
    errors = []
    if not reason:
        errors.append(_err(field, label, "required", message))
    if profile_value("share_refusal_basis_required") and not basis:
        article = _article("share_refusal_basis_required")
        errors.append(_err("basis", "法律政策依据", "required", f"不予共享须说明法律或政策依据（{article}）"))
    return errors


def _lock_app(app: ShareApplication) -> ShareApplication:
    return (
        ShareApplication.objects.select_for_update(of=("self",))
        .select_related("resource__provider", "consumer")
        .get(pk=app.pk)
    )


@transaction.atomic
def prereview_application(user, app: ShareApplication, *, forward: bool, comment: str = "", basis: str = ""):
    """SR: the platform unit checks the application first and forwards it; the provider's 10 working days
    then run from the day it receives it (R-SHARE-06/07)."""
    app = _lock_app(app)
    if not _is_authority(user, app.resource):
        raise PermissionDenied("authority_only", "只有数据主管部门（平台管理单位）可以初审共享申请")
    comment, basis = _text(comment), _text(basis)
    now, today = timezone.now(), timezone.localdate()
    if forward:
        _move(app, APPLICATION_TRANSITIONS, ApplicationStatus.PENDING, "该申请")
        app.forwarded_on = today
    else:
        _move(app, APPLICATION_TRANSITIONS, ApplicationStatus.REFUSED, "该申请")
        _raise(
            _refusal_errors(comment, basis, "comment", "不予通过理由", "初审不予通过须说明理由（R-SHARE-08）")
        )
        app.refusal_reason, app.refusal_basis = comment, basis
        app.decided_by, app.decided_at = user, now
    app.prereviewed_by, app.prereviewed_at, app.prereview_comment = user, now, comment
    app.save()
    duties.fulfil(
        APP_SUBJECT, app.pk, DUTY_PREREVIEW, by=user, note="已转提供部门" if forward else "初审不予通过"
    )
    audit.record(
        "sharing.application.prereview",
        actor=user,
        object=app,
        detail={"number": app.number, "forward": forward, "comment": comment, "basis": basis},
    )
    if forward:
        _open_reply(app, today)
        reply_to = (
            app.resource.provider
            if app.decider == Decider.PROVIDER
            else _require_authority_dept(app.resource.provider)
        )
        notify_departments(
            {reply_to},
            "sharing.application_submitted",
            f"共享申请已初审转来，请答复：{app.resource.name}（{app.number}）",
            body=comment,
            link=_app_link(app),
        )
        notify_departments(
            [app.consumer],
            "sharing.application_forwarded",
            f"共享申请已通过初审并转提供部门：{app.resource.name}（{app.number}）",
            body=comment,
            link=_app_link(app),
        )
    else:
        notify_departments(
            [app.consumer],
            "sharing.application_refused",
            f"共享申请初审未通过：{app.resource.name}（{app.number}）",
            body=f"理由：{comment}" + (f"\n依据：{basis}" if basis else ""),
            link=_app_link(app),
        )
    return app


@transaction.atomic
def approve_application(
    user,
    app: ShareApplication,
    *,
    items: list[str],
    masks: dict[str, str],
    row_filter: list[dict],
    methods: list[str],
    valid_from: dt.date,
    valid_until: dt.date,
    daily_quota: int | None = None,
    comment: str = "",
) -> Grant:
    """The decider may narrow what was asked — fewer items, fewer methods, a shorter period, masks, a row
    filter, a quota — never widen it (R-SHARE-09/10)."""
    app = _lock_app(app)
    if not can_decide(user, app):
        who = (
            "数据主管部门" if app.decider == Decider.AUTHORITY else f"{app.resource.provider.name}的数据专员"
        )
        raise PermissionDenied("not_decider", f"只有{who}可以答复该申请")
    _move(app, APPLICATION_TRANSITIONS, ApplicationStatus.APPROVED, "该申请")
    errors: list[dict] = []
    comment = _text(comment)
    requested_items = list(app.items)
    given = list(dict.fromkeys(items or []))
    outside = [str(c) for c in given if c not in requested_items]
    if not given:
        errors.append(_err("items", "授权信息项", "required", "请至少授权一个信息项"))
    elif outside:
        errors.append(
            _err("items", "授权信息项", "not_requested", f"信息项“{'、'.join(outside)}”超出申请范围")
        )
    items = [c for c in requested_items if c in given]
    wanted_methods = list(dict.fromkeys(methods or []))
    if not wanted_methods:
        errors.append(_err("methods", "共享方式", "required", "请至少选择一种共享方式"))
    elif any(m not in app.methods for m in wanted_methods):
        errors.append(_err("methods", "共享方式", "not_requested", "共享方式只能在申请的范围内选择"))
    masks = _check_masks(masks, items, errors)
    row_filter = _check_row_filter(row_filter, items, errors)
    if valid_from is None or valid_until is None:
        errors.append(_err("valid_until", "有效期", "required", "请填写授权有效期"))
    else:
        if valid_from < app.valid_from or valid_until > app.valid_until:
            errors.append(
                _err(
                    "valid_until",
                    "有效期",
                    "outside_requested",
                    f"有效期须在申请的使用期限内（{app.valid_from:%Y-%m-%d} 至 {app.valid_until:%Y-%m-%d}）",
                )
            )
        if valid_until < valid_from:
            errors.append(_err("valid_until", "有效期", "before_start", "有效期截止日不能早于起始日"))
        if valid_until < timezone.localdate():
            errors.append(_err("valid_until", "有效期", "past_date", "有效期截止日不能早于今天"))
    if daily_quota is not None and (
        isinstance(daily_quota, bool) or not 1 <= int(daily_quota) <= MAX_DAILY_QUOTA
    ):
        errors.append(
            _err(
                "daily_quota",
                "每日调用上限",
                "invalid",
                f"每日调用上限须为 1 到 {MAX_DAILY_QUOTA} 之间的整数",
            )
        )
    if profile_value("share_reply_written") and not comment:
        errors.append(
            _err(
                "comment",
                "书面答复意见",
                "required",
                f"本地办法要求书面答复，请填写答复意见（{_article('share_reply_written')}）",
            )
        )
    if profile_value("share_minimum_necessary") and not _text(app.scenario):
        errors.append(
            _err(
                "scenario",
                "应用场景",
                "required",
                f"按场景授权、最少够用：申请未写明应用场景，不能授权（{_article('share_minimum_necessary')}）",
            )
        )
    _raise(errors)
    now = timezone.now()
    app.decided_by, app.decided_at, app.decision_comment = user, now, comment
    app.save()
    grant = _create_grant(
        user,
        app,
        purpose=app.purpose,
        items=items,
        masks=masks,
        row_filter=row_filter,
        methods=wanted_methods,
        valid_from=valid_from,
        valid_until=valid_until,
        daily_quota=daily_quota,
    )
    duties.fulfil(APP_SUBJECT, app.pk, DUTY_REPLY, by=user, note=f"同意共享（{grant.number}）")
    audit.record(
        "sharing.application.approve",
        actor=user,
        object=app,
        purpose=app.purpose,
        detail={
            "number": app.number,
            "grant": grant.number,
            "requested_items": _csv(requested_items),
            "items": _csv(items),
            "comment": comment,
        },
    )
    narrowed = len(items) < len(requested_items)
    to = {app.consumer}
    if app.decider == Decider.AUTHORITY:
        to.add(app.resource.provider)
    notify_departments(
        to,
        "sharing.application_approved",
        f"共享申请已同意：{app.resource.name}（{app.number}，授权 {grant.number}）",
        body=(comment + "\n" if comment else "") + ("授权的信息项少于申请的范围。" if narrowed else ""),
        link=_grant_link(grant),
    )
    return grant


@transaction.atomic
def refuse_application(user, app: ShareApplication, *, reason: str, basis: str = "") -> ShareApplication:
    """A refusal is never saved without its reasons (R-SHARE-08), and SR also wants the legal basis."""
    app = _lock_app(app)
    if not can_decide(user, app):
        who = (
            "数据主管部门" if app.decider == Decider.AUTHORITY else f"{app.resource.provider.name}的数据专员"
        )
        raise PermissionDenied("not_decider", f"只有{who}可以答复该申请")
    _move(app, APPLICATION_TRANSITIONS, ApplicationStatus.REFUSED, "该申请")
    reason, basis = _text(reason), _text(basis)
    art = _article("share_refusal_reasons_required")
    message = "不同意共享须说明理由" + (f"（{art}）" if art else "（R-SHARE-08）")
    _raise(_refusal_errors(reason, basis, "reason", "不予共享理由", message))
    app.refusal_reason, app.refusal_basis = reason, basis
    app.decided_by, app.decided_at = user, timezone.now()
    app.save()
    duties.fulfil(APP_SUBJECT, app.pk, DUTY_REPLY, by=user, note="不同意共享")
    audit.record(
        "sharing.application.refuse",
        actor=user,
        object=app,
        detail={"number": app.number, "reason": reason, "basis": basis},
    )
    notify_departments(
        [app.consumer],
        "sharing.application_refused",
        f"共享申请未获同意：{app.resource.name}（{app.number}）",
        body=f"理由：{reason}"
        + (f"\n依据：{basis}" if basis else "")
        + "\n如有异议，可发起共享协商（R-SHARE-11）。",
        link=_app_link(app),
    )
    return app


@transaction.atomic
def withdraw_application(user, app: ShareApplication) -> ShareApplication:
    app = _lock_app(app)
    if not (user.has_role(Role.CONSUMER) and user.department_id == app.consumer_id):
        raise PermissionDenied("not_applicant", f"只有{app.consumer.name}的数据专员可以撤回该申请")
    was = app.status
    _move(app, APPLICATION_TRANSITIONS, ApplicationStatus.WITHDRAWN, "该申请")
    app.withdrawn_at = timezone.now()
    app.save()
    for duty in (DUTY_PREREVIEW, DUTY_REPLY):
        for ob in _running(APP_SUBJECT, app.pk, duty):
            duties.cancel_obligation(ob, user, "申请部门已撤回申请")
    audit.record("sharing.application.withdraw", actor=user, object=app, detail={"number": app.number})
    to = {app.resource.provider}
    if was == ApplicationStatus.PREREVIEW or app.decider == Decider.AUTHORITY:
        authority = authority_for(app.resource.provider)
        if authority is not None:
            to.add(authority)
    notify_departments(
        to,
        "sharing.application_withdrawn",
        f"{app.consumer.name}已撤回共享申请：{app.resource.name}（{app.number}）",
        link=_app_link(app),
    )
    return app


# --- grants (R-SHARE-10, R-SHARE-18) -----------------------------------------------------------------------


def can_manage_grant(user, grant: Grant) -> bool:
    who = profile_value("grant_suspension_by")
    provider = _is_provider_officer(user, grant.resource)
    authority = _is_authority(user, grant.resource)
    if who == "provider":
        return provider
    if who == "authority":
        return authority
    return provider or authority


def _change_grant(user, grant: Grant, target: str, reason: str, action: str, verb: str, kind: str) -> Grant:
    grant = (
        Grant.objects.select_for_update(of=("self",))
        .select_related("resource__provider", "consumer")
        .get(pk=grant.pk)
    )
    if not can_manage_grant(user, grant):
        who = profile_value("grant_suspension_by")
        whom = {"provider": "提供部门的数据专员", "authority": "数据主管部门"}.get(
            who, "提供部门数据专员或数据主管部门"
        )
        art = _article("grant_suspension_by")
        raise PermissionDenied(
            "not_grant_manager", f"只有{whom}可以{verb}该授权" + (f"（{art}）" if art else "")
        )
    reason = _text(reason)
    if not reason:
        raise ValidationFailed([_err("reason", "原因", "required", f"{verb}授权须说明原因")])
    _move(grant, GRANT_TRANSITIONS, target, "该授权")
    grant.status_reason, grant.status_changed_by, grant.status_changed_at = reason, user, timezone.now()
    grant.save(update_fields=["status", "status_reason", "status_changed_by", "status_changed_at"])
    audit.record(
        action,
        actor=user,
        object=grant,
        purpose=grant.purpose,
        detail={"number": grant.number, "reason": reason, "status": grant.status},
    )
    notify_departments(
        {grant.consumer, grant.resource.provider},
        kind,
        f"共享授权已{verb}：{grant.resource.name} → {grant.consumer.name}（{grant.number}）",
        body=f"原因：{reason}",
        link=_grant_link(grant),
    )
    if profile_value("grant_suspension_by") == "provider" and not _is_authority(user):
        authority = authority_for(grant.resource.provider)
        if authority is not None:
            notify_departments(
                [authority],
                kind,
                f"{grant.resource.provider.name}{verb}了共享授权 {grant.number}，须报告主管部门"
                f"（{_article('grant_suspension_by')}）",
                body=f"资源：{grant.resource.name}\n使用部门：{grant.consumer.name}\n原因：{reason}",
                link=_grant_link(grant),
            )
    return grant


@transaction.atomic
def suspend_grant(user, grant: Grant, reason: str) -> Grant:
    return _change_grant(
        user, grant, GrantStatus.SUSPENDED, reason, "sharing.grant.suspend", "暂停", "sharing.grant_suspended"
    )


@transaction.atomic
def resume_grant(user, grant: Grant, reason: str) -> Grant:
    return _change_grant(
        user, grant, GrantStatus.ACTIVE, reason, "sharing.grant.resume", "恢复", "sharing.grant_resumed"
    )


@transaction.atomic
def terminate_grant(user, grant: Grant, reason: str) -> Grant:
    return _change_grant(
        user,
        grant,
        GrantStatus.TERMINATED,
        reason,
        "sharing.grant.terminate",
        "终止",
        "sharing.grant_terminated",
    )


@transaction.atomic
def file_grant(user, grant: Grant) -> Grant:
    """CZ 第二十一条第（三）项: the authority records the 备案 of a negotiated supply; only then does the gate
    deliver."""
    grant = (
        Grant.objects.select_for_update(of=("self",))
        .select_related("resource__provider", "consumer")
        .get(pk=grant.pk)
    )
    if not _is_authority(user, grant.resource):
        raise PermissionDenied("authority_only", "只有主管部门可以办理备案")
    if not grant.filing_required:
        raise IllegalTransition("filing_not_required", "该授权无需备案")
    if grant.filed_at is not None:
        raise IllegalTransition(
            "already_filed", f"该授权已于 {timezone.localtime(grant.filed_at):%Y-%m-%d} 备案"
        )
    grant.filed_at, grant.filed_by = timezone.now(), user
    grant.save(update_fields=["filed_at", "filed_by"])
    audit.record("sharing.grant.file", actor=user, object=grant, detail={"number": grant.number})
    notify_departments(
        {grant.consumer, grant.resource.provider},
        "sharing.grant_filed",
        f"协商供给已备案，可以开始使用：{grant.resource.name}（{grant.number}）",
        link=_grant_link(grant),
    )
    return grant


# --- negotiation (R-SHARE-11/12) ---------------------------------------------------------------------------


def _lock_case(case: NegotiationCase) -> NegotiationCase:
    return (
        NegotiationCase.objects.select_for_update(of=("self",))
        .select_related("resource__provider", "consumer", "provider", "application")
        .get(pk=case.pk)
    )


def case_party(user, case: NegotiationCase) -> str:
    """ "consumer", "provider", "authority" or "" — how this person takes part in the case."""
    if user.department_id is not None and user.has_role(Role.PROVIDER, Role.CONSUMER):
        if user.department_id == case.consumer_id:
            return "consumer"
        if user.department_id == case.provider_id:
            return "provider"
    if _is_authority(user, case.resource):
        return "authority"
    return ""


@transaction.atomic
def open_negotiation(user, resource: Resource, *, subject: str, application: ShareApplication | None = None):
    dept = _require_consumer(user)
    if resource.provider_id == dept.pk:
        raise DomainError("own_resource", "本部门提供的资源无需协商", status=409)
    if resource.is_secret:
        raise DomainError("resource_secret", "涉密资源不通过共享平台共享", status=409)
    if application is not None:
        if application.consumer_id != dept.pk or application.resource_id != resource.pk:
            raise DomainError("application_mismatch", "所附申请不是本部门对该资源的申请", status=409)
        if application.status != ApplicationStatus.REFUSED:
            raise DomainError("application_not_refused", "只有未获同意的共享申请可以转为协商", status=409)
    elif resource.share_type != ShareType.NONE:
        raise DomainError(
            "negotiation_not_applicable",
            "该资源可以申请共享，请先提交共享申请；申请未获同意后可发起协商（R-SHARE-11）",
            status=409,
        )
    if resource.status not in (ResourceStatus.PUBLISHED, ResourceStatus.RETIRING):
        raise DomainError("resource_not_published", f"目录“{resource.code}”未发布或已下线", status=409)
    subject = _text(subject)
    if not subject:
        raise ValidationFailed([_err("subject", "需求说明", "required", "请说明需要的数据及用途")])
    if NegotiationCase.objects.filter(
        consumer=dept, resource=resource, status__in=[CaseStatus.OPEN, CaseStatus.ESCALATED]
    ).exists():
        raise IllegalTransition("case_exists", "本部门就该资源已有进行中的协商")
    case = _create_numbered(
        NegotiationCase,
        "XS",
        resource=resource,
        consumer=dept,
        provider=resource.provider,
        application=application,
        subject=subject,
        opened_by=user,
    )
    audit.record(
        "sharing.case.open",
        actor=user,
        object=case,
        detail={
            "number": case.number,
            "resource": resource.code,
            "application": application.number if application else "",
        },
    )
    notify_departments(
        [resource.provider],
        "sharing.case_opened",
        f"{dept.name}就“{resource.name}”发起共享协商（{case.number}）",
        body=subject,
        link=_case_link(case),
    )
    return case


def _others(case: NegotiationCase, user) -> set:
    out = {case.consumer, case.provider}
    if case.status == CaseStatus.ESCALATED:
        authority = authority_for(case.provider)
        if authority is not None:
            out.add(authority)
    return {d for d in out if d.pk != user.department_id}


@transaction.atomic
def post_case_message(user, case: NegotiationCase, body: str) -> CaseMessage:
    case = _lock_case(case)
    if not case_party(user, case):
        raise PermissionDenied("not_party", "只有协商双方部门和数据主管部门可以发表意见")
    if case.status not in (CaseStatus.OPEN, CaseStatus.ESCALATED):
        raise IllegalTransition("case_closed", f"{case.get_status_display()}的协商不能再发表意见")
    body = _text(body)
    if not body:
        raise ValidationFailed([_err("body", "意见", "required", "意见不能为空")])
    msg = CaseMessage.objects.create(case=case, author=user, body=body)
    audit.record(
        "sharing.case.message", actor=user, object=case, detail={"number": case.number, "message": msg.pk}
    )
    notify_departments(
        _others(case, user),
        "sharing.case_message",
        f"共享协商有新意见：{case.resource.name}（{case.number}）",
        body=body[:500],
        link=_case_link(case),
    )
    return msg


@transaction.atomic
def escalate_negotiation(user, case: NegotiationCase, *, reason: str) -> NegotiationCase:
    """Not settled between the two: the authority coordinates (R-SHARE-12), along the profile's chain."""
    case = _lock_case(case)
    if case_party(user, case) not in ("consumer", "provider"):
        raise PermissionDenied("not_party", "只有协商双方部门可以提请协调")
    reason = _text(reason)
    if not reason:
        raise ValidationFailed([_err("reason", "提请理由", "required", "请说明未能协商一致的情况")])
    _move(case, CASE_TRANSITIONS, CaseStatus.ESCALATED, "该协商")
    authority = _require_authority_dept(case.provider)
    chain = profile_value("escalation_chain") or ()
    target = chain[0] if chain else authority.name
    article = _article("escalation_chain")
    case.escalated_at, case.escalated_by = timezone.now(), user
    case.save(update_fields=["status", "escalated_at", "escalated_by"])
    CaseMessage.objects.create(case=case, author=user, body=f"提请{target}协调：{reason}")
    # No profile sets a coordination deadline, so the duty is tracked without a due date, under the
    # article that names who coordinates (R-ORG-05).
    duties.open_obligation(
        department=authority,
        duty=DUTY_COORDINATE,
        title=f"协调共享争议 {case.number}：{case.resource.name}"[:200],
        subject=case,
        subject_label=f"{case.number} {case.resource.name}（{case.consumer.name} ↔ {case.provider.name}）",
        parameter="escalation_chain",
        link=_case_link(case),
        skip_if_unset=False,
    )
    audit.record(
        "sharing.case.escalate",
        actor=user,
        object=case,
        detail={"number": case.number, "to": target, "article": article, "reason": reason},
    )
    notify_departments(
        {authority, case.consumer, case.provider} - {user.department},
        "sharing.case_escalated",
        f"共享协商提请{target}协调：{case.resource.name}（{case.number}，{user.department.name}）",
        body=f"{reason}\n依据：{article}" if article else reason,
        link=_case_link(case),
    )
    return case


@transaction.atomic
def agree_supply(
    user,
    case: NegotiationCase,
    *,
    clients: list,
    purpose: str,
    items: list[str],
    masks: dict[str, str],
    row_filter: list[dict],
    methods: list[str],
    valid_from: dt.date,
    valid_until: dt.date,
) -> Grant:
    """The provider agrees (or the authority settles an escalated case): a negotiated application and its
    grant. Supplying a not-shared resource is filed with the authority first where the profile says so."""
    case = _lock_case(case)
    party = case_party(user, case)
    if not (party == "provider" and user.has_role(Role.PROVIDER)) and not (
        party == "authority" and case.status == CaseStatus.ESCALATED
    ):
        raise PermissionDenied(
            "not_supplier", f"只有{case.provider.name}的数据专员（或提请协调后的数据主管部门）可以同意供给"
        )
    _move(case, CASE_TRANSITIONS, CaseStatus.AGREED, "该协商")
    resource = case.resource
    errors: list[dict] = []
    purpose = _text(purpose)
    if not purpose:
        errors.append(_err("purpose", "使用用途", "required", "请写明供给的数据用途"))
    clients = _check_clients(user, clients, errors, department=case.consumer)
    if not clients:
        errors.append(_err("clients", "应用系统", "required", "请选择使用部门接收数据的应用系统"))
    items = _check_items(resource, items, errors)
    # A not-shared entry lists no share methods; the parties choose among the profile's methods.
    methods = _check_methods(resource, methods, errors, catalog_bound=resource.share_type != ShareType.NONE)
    masks = _check_masks(masks, items, errors)
    row_filter = _check_row_filter(row_filter, items, errors)
    _check_period(valid_from, valid_until, errors)
    _raise(errors)

    now = timezone.now()
    filing = resource.share_type == ShareType.NONE and bool(profile_value("nonshare_supply_filing_required"))
    app = _create_numbered(
        ShareApplication,
        "SQ",
        kind=ApplicationKind.NEGOTIATED,
        resource=resource,
        resource_version=resource.version,
        consumer=case.consumer,
        applicant=case.opened_by,
        purpose=purpose,
        duty_basis=case.application.duty_basis if case.application else "",
        scenario=case.application.scenario if case.application else "",
        items=items,
        methods=methods,
        valid_from=valid_from,
        valid_until=valid_until,
        received_on=timezone.localdate(case.opened_at),
        decider=Decider.AUTHORITY if party == "authority" else Decider.PROVIDER,
        status=ApplicationStatus.APPROVED,
        decided_by=user,
        decided_at=now,
        decision_comment=f"协商供给（{case.number}）",
    )
    app.clients.set(clients)
    grant = _create_grant(
        user,
        app,
        purpose=purpose,
        items=items,
        masks=masks,
        row_filter=row_filter,
        methods=methods,
        valid_from=valid_from,
        valid_until=valid_until,
        filing_required=filing,
    )
    case.outcome, case.grant = f"同意供给，授权 {grant.number}", grant
    case.closed_at, case.closed_by = now, user
    case.save(update_fields=["status", "outcome", "grant", "closed_at", "closed_by"])
    duties.fulfil(CASE_SUBJECT, case.pk, DUTY_COORDINATE, by=user, note=case.outcome)
    audit.record(
        "sharing.case.agree",
        actor=user,
        object=case,
        purpose=purpose,
        detail={
            "number": case.number,
            "grant": grant.number,
            "application": app.number,
            "filing_required": filing,
        },
    )
    notify_departments(
        {case.consumer, case.provider} - {user.department},
        "sharing.case_agreed",
        f"共享协商达成供给：{resource.name}（{case.number}，授权 {grant.number}）"
        + ("，须报主管部门备案后方可使用" if filing else ""),
        link=_grant_link(grant),
    )
    if filing:
        authority = _require_authority_dept(case.provider)
        art = _article("nonshare_supply_filing_required")
        notify_departments(
            [authority],
            "sharing.grant_filing_required",
            f"协商提供不予共享资源，请办理备案：{resource.name} → {case.consumer.name}（{grant.number}）",
            body=f"依据：{art}" if art else "",
            link=_grant_link(grant),
        )
    return grant


@transaction.atomic
def close_negotiation(user, case: NegotiationCase, *, outcome: str) -> NegotiationCase:
    """Ends a case without supply: the consumer gives up, or the authority records its coordination result."""
    case = _lock_case(case)
    party = case_party(user, case)
    if party not in ("consumer", "authority"):
        raise PermissionDenied("not_party", "只有发起协商的部门或数据主管部门可以办结协商")
    outcome = _text(outcome)
    if not outcome:
        raise ValidationFailed([_err("outcome", "协调结果", "required", "请写明办结结果")])
    escalated = case.status == CaseStatus.ESCALATED
    _move(case, CASE_TRANSITIONS, CaseStatus.CLOSED, "该协商")
    case.outcome, case.closed_at, case.closed_by = outcome, timezone.now(), user
    case.save(update_fields=["status", "outcome", "closed_at", "closed_by"])
    for ob in _running(CASE_SUBJECT, case.pk, DUTY_COORDINATE):
        if party == "authority":
            duties.fulfil_obligation(ob, user, outcome)
        else:
            duties.cancel_obligation(ob, user, f"使用部门办结协商：{outcome}")
    audit.record(
        "sharing.case.close", actor=user, object=case, detail={"number": case.number, "outcome": outcome}
    )
    to = {case.consumer, case.provider}
    if escalated:
        authority = authority_for(case.provider)
        if authority is not None:
            to.add(authority)
    notify_departments(
        {d for d in to if d.pk != user.department_id},
        "sharing.case_closed",
        f"共享协商已办结：{case.resource.name}（{case.number}）",
        body=outcome,
        link=_case_link(case),
    )
    return case


def notify_expired_grants(today: dt.date | None = None) -> int:
    """Tell both departments once that a grant has lapsed (the periodic tick); the gate already refuses it."""
    today = today or timezone.localdate()
    done = 0
    lapsed = Grant.objects.filter(
        status=GrantStatus.ACTIVE, valid_until__lt=today, expiry_notified_at__isnull=True
    ).select_related("resource__provider", "consumer")
    for grant in lapsed:
        with transaction.atomic():
            if not Grant.objects.filter(pk=grant.pk, expiry_notified_at__isnull=True).update(
                expiry_notified_at=timezone.now()
            ):
                continue
            audit.record(
                "sharing.grant.expire", object=grant, detail={"valid_until": grant.valid_until.isoformat()}
            )
            notify_departments(
                [grant.consumer, grant.resource.provider],
                "sharing.grant_expired",
                f"授权{grant.number}（{grant.resource.name}）已于{grant.valid_until:%Y-%m-%d}到期，调用将被拒绝",
                body="如需继续使用，请使用部门重新申请。",
                link=f"/sharing/grants/{grant.pk}/",
            )
            done += 1
    return done
