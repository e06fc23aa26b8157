"""The sharing workflow under each policy profile: who answers, by when, under which article, and what
a grant ends up allowing (R-SHARE-04..18)."""

import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from conftest import PEOPLE_ITEMS
from govshare.audit.models import AuditEvent
from govshare.calendar.policy import active_profile, profile_value, work_calendar
from govshare.clients.services import disable_client, register_client
from govshare.errors import DomainError, IllegalTransition, NotFound, PermissionDenied, ValidationFailed
from govshare.notifications.models import Notification
from govshare.sharing import selectors, services
from govshare.sharing.models import (
    ApplicationKind,
    ApplicationStatus,
    CaseStatus,
    Decider,
    GrantStatus,
    ShareApplication,
)
from govshare.supervision.models import Obligation, ObligationStatus

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def media(media):  # every test here writes files: into the throwaway directory
    return media


@pytest.fixture
def aid(city):
    return register_client(city.civil_officer, "社会救助信息系统", "civil-aid", "低保审核比对")


@pytest.fixture
def resource(city, published):
    """A published police population table with the given share type (publish after setting the profile)."""

    def make(share_type="conditional", methods=("query", "verify", "batch"), name=None):
        return published(
            officer=city.police_officer,
            name=name or f"户籍人口基本信息（{share_type}）",
            provider=city.police.pk,
            items=PEOPLE_ITEMS,
            share_type=share_type,
            share_condition="仅限履行法定职责需要",
            share_methods=list(methods) if share_type != "none" else [],
            open_type="none",
            legal_basis="《中华人民共和国居民身份证法》第十九条",
        )

    return make


def today():
    return timezone.localdate()


def letter(content=PDF, name="申请函.pdf"):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def submit(city, res, aid, user=None, **kw):
    args = dict(
        purpose="低保家庭经济状况核对",
        duty_basis="《社会救助暂行办法》第十一条",
        scenario="低保申请审核",
        clients=[aid],
        items=["sfzh", "xm", "csrq"],
        methods=["query"],
        valid_from=today(),
        valid_until=today() + dt.timedelta(days=180),
        terms_accepted=True,
    )
    if "sealed_letter" in (profile_value("share_application_attachments") or ()):
        args["letter"] = letter()
    args.update(kw)
    return services.submit_application(user or city.civil_officer, res, **args)


def pending(city, res, aid, **kw):
    app = submit(city, res, aid, **kw)
    if app.status == ApplicationStatus.PREREVIEW:
        app = services.prereview_application(city.reviewer, app, forward=True, comment="材料齐全，转提供部门")
    return app


def decider(city, app):
    return city.reviewer if app.decider == Decider.AUTHORITY else city.police_officer


def approve(city, app, **kw):
    args = dict(
        items=list(app.items),
        masks={},
        row_filter=[],
        methods=list(app.methods),
        valid_from=app.valid_from,
        valid_until=app.valid_until,
        comment="同意共享，仅限低保审核使用",
    )
    args.update(kw)
    return services.approve_application(decider(city, app), app, **args)


def obligation(obj, duty):
    return Obligation.objects.get(
        subject_type=f"sharing.{obj._meta.model_name}", subject_id=str(obj.pk), duty=duty
    )


def due(start, days):
    return work_calendar().add_working_days(start, days).due


def errors_of(exc) -> set[str]:
    return {e["field"] for e in exc.value.errors}


def notices(dept, kind):
    return list(Notification.objects.filter(department=dept, kind=kind))


# --- per-profile deadlines ---------------------------------------------------------------------------------


def test_shangrao_prereview_three_days_then_reply_ten_days_from_forwarding(city, resource, aid, settings):
    # R-SHARE-06, R-SHARE-07
    settings.GOVSHARE_PROFILE = "shangrao"
    res = resource()
    app = submit(city, res, aid)
    assert app.status == ApplicationStatus.PREREVIEW and app.decider == Decider.PROVIDER
    pre = obligation(app, "sharing.prereview")
    param = active_profile().param("share_prereview_working_days")
    assert pre.department == city.authority
    assert pre.due_on == due(today(), 3)
    assert pre.article == param.article and pre.article.startswith("饶智组办发")
    assert pre.requirement == "R-SHARE-06"
    assert app.number in pre.title and res.name in pre.title
    assert not Obligation.objects.filter(subject_id=str(app.pk), duty="sharing.reply").exists()
    assert notices(city.authority, "sharing.application_submitted")

    # the application reached the platform a week ago; the provider's 10 days still start at forwarding
    week_ago = today() - dt.timedelta(days=7)
    ShareApplication.objects.filter(pk=app.pk).update(received_on=week_ago)
    app = services.prereview_application(city.reviewer, app, forward=True, comment="材料齐全")
    assert app.status == ApplicationStatus.PENDING and app.forwarded_on == today()
    pre.refresh_from_db()
    assert pre.status == ObligationStatus.FULFILLED
    reply = obligation(app, "sharing.reply")
    assert reply.department == city.police
    assert reply.started_on == today() and reply.due_on == due(today(), 10)
    assert reply.due_on != due(week_ago, 10)
    assert reply.article == active_profile().param("share_reply_working_days").article
    assert reply.requirement == "R-SHARE-07"
    assert notices(city.police, "sharing.application_submitted")
    assert notices(city.civil, "sharing.application_forwarded")


def test_prereview_is_for_the_authority_only_and_refusing_needs_reasons_and_basis(
    city, resource, aid, settings
):
    # R-SHARE-06, R-SHARE-08
    settings.GOVSHARE_PROFILE = "shangrao"
    app = submit(city, resource(), aid)
    with pytest.raises(PermissionDenied):
        services.prereview_application(city.police_officer, app, forward=True)
    with pytest.raises(ValidationFailed) as exc:
        services.prereview_application(city.reviewer, app, forward=False, comment="", basis="")
    assert errors_of(exc) == {"comment", "basis"}
    app = services.prereview_application(
        city.reviewer, app, forward=False, comment="用途与职责不符", basis="饶智组办发〔2020〕1号 第十四条"
    )
    assert app.status == ApplicationStatus.REFUSED and app.refusal_basis
    assert obligation(app, "sharing.prereview").status == ObligationStatus.FULFILLED
    assert notices(city.civil, "sharing.application_refused")


def test_chenzhou_ten_days_and_the_reply_must_be_written(city, resource, aid, settings):
    # R-SHARE-07
    settings.GOVSHARE_PROFILE = "chenzhou"
    app = submit(city, resource(), aid)
    assert app.status == ApplicationStatus.PENDING
    reply = obligation(app, "sharing.reply")
    assert reply.department == city.police and reply.due_on == due(today(), 10)
    assert reply.article == active_profile().param("share_reply_working_days").article
    assert "第二十一条" in reply.article
    with pytest.raises(ValidationFailed) as exc:
        approve(city, app, comment="  ")
    assert errors_of(exc) == {"comment"}
    assert "书面答复" in exc.value.message
    grant = approve(city, app, comment="同意共享，限低保审核用途")
    app.refresh_from_db()
    assert app.status == ApplicationStatus.APPROVED and app.decision_comment == "同意共享，限低保审核用途"
    assert grant.status == GrantStatus.ACTIVE
    reply.refresh_from_db()
    assert reply.status == ObligationStatus.FULFILLED


def test_chenzhou_offplatform_application_counts_from_the_day_it_was_received(city, resource, aid, settings):
    # R-SHARE-05 (CZ: through the platform or other means)
    settings.GOVSHARE_PROFILE = "chenzhou"
    received = today() - dt.timedelta(days=4)
    app = submit(city, resource(), aid, offplatform=True, received_on=received)
    assert app.offplatform and app.received_on == received
    reply = obligation(app, "sharing.reply")
    assert reply.started_on == received and reply.due_on == due(received, 10)
    with pytest.raises(ValidationFailed) as exc:
        submit(city, resource(name="人口2"), aid, offplatform=True, received_on=None)
    assert errors_of(exc) == {"received_on"}


def test_offplatform_registration_is_refused_where_the_profile_does_not_allow_it(
    city, resource, aid, settings
):
    # R-SHARE-05
    settings.GOVSHARE_PROFILE = "shangrao"
    with pytest.raises(ValidationFailed) as exc:
        submit(city, resource(), aid, offplatform=True, received_on=today())
    assert errors_of(exc) == {"offplatform"}


def test_changshu_five_days(city, resource, aid, settings):
    # R-SHARE-07
    settings.GOVSHARE_PROFILE = "changshu"
    app = submit(city, resource(), aid)
    reply = obligation(app, "sharing.reply")
    assert reply.due_on == due(today(), 5)
    assert reply.article == active_profile().param("share_reply_working_days").article


def test_changshu_unconditional_use_is_registered_with_purpose_and_system(city, resource, aid, settings):
    # R-SHARE-04, R-SHARE-17
    settings.GOVSHARE_PROFILE = "changshu"
    res = resource("unconditional", methods=("query", "verify"))
    with pytest.raises(ValidationFailed) as exc:
        services.obtain_unconditional(
            city.civil_officer, res, purpose="", clients=[], methods=["query"], terms_accepted=False
        )
    assert errors_of(exc) == {"purpose", "clients", "terms_accepted"}
    grant = services.obtain_unconditional(
        city.civil_officer,
        res,
        purpose="低保家庭成员核对",
        clients=[aid],
        methods=["query"],
        terms_accepted=True,
    )
    app = grant.application
    assert app.kind == ApplicationKind.REGISTRATION and app.status == ApplicationStatus.APPROVED
    assert grant.items == [i["code"] for i in PEOPLE_ITEMS]
    assert list(grant.clients.all()) == [aid] and grant.purpose == "低保家庭成员核对"
    assert AuditEvent.objects.filter(action="sharing.registration.create", object_id=str(app.pk)).exists()
    assert AuditEvent.objects.filter(action="sharing.grant.create", object_id=str(grant.pk)).exists()
    assert any("登记使用" in n.title for n in notices(city.police, "sharing.registered"))
    # an unconditional entry is not applied for where registration suffices
    with pytest.raises(DomainError) as exc:
        submit(city, res, aid)
    assert exc.value.code == "unconditional_resource"


def test_template_unconditional_use_is_direct_but_still_audited(city, resource, aid, settings):
    # R-SHARE-04
    settings.GOVSHARE_PROFILE = "template"
    res = resource("unconditional", methods=("query", "verify"))
    grant = services.obtain_unconditional(
        city.civil_officer,
        res,
        purpose="核对",
        clients=[aid],
        items=["sfzh", "xm"],
        methods=["query"],
        terms_accepted=True,
    )
    assert grant.items == ["sfzh", "xm"] and grant.methods == ["query"]
    assert AuditEvent.objects.filter(action="sharing.unconditional.obtain").count() == 1
    with pytest.raises(DomainError) as exc:
        services.obtain_unconditional(
            city.civil_officer,
            resource(),
            purpose="核对",
            clients=[aid],
            methods=["query"],
            terms_accepted=True,
        )
    assert exc.value.code == "not_unconditional"


def test_neixiang_unconditional_data_needs_an_application_and_the_authority_decides(
    city, resource, aid, settings
):
    # R-SHARE-04, R-SHARE-09
    settings.GOVSHARE_PROFILE = "neixiang"
    res = resource("unconditional")
    with pytest.raises(DomainError) as exc:
        services.obtain_unconditional(
            city.civil_officer, res, purpose="核对", clients=[aid], methods=["query"], terms_accepted=True
        )
    assert exc.value.code == "application_required"
    with pytest.raises(ValidationFailed) as exc:
        submit(city, res, aid, scenario="")
    assert errors_of(exc) == {"scenario"}
    app = submit(city, res, aid)
    assert app.status == ApplicationStatus.PENDING and app.decider == Decider.AUTHORITY
    reply = obligation(app, "sharing.reply")
    # NX sets no reply period: tracked on the authority without a due date, under NX 第十二条
    assert reply.department == city.authority and reply.due_on is None
    assert reply.article == active_profile().param("share_reply_working_days").article
    assert "第十二条" in reply.article
    assert selectors.can_decide(city.reviewer, app) and not selectors.can_decide(city.police_officer, app)
    with pytest.raises(PermissionDenied):
        services.approve_application(
            city.police_officer,
            app,
            items=app.items,
            masks={},
            row_filter=[],
            methods=app.methods,
            valid_from=app.valid_from,
            valid_until=app.valid_until,
        )
    grant = approve(city, app, items=["sfzh", "xm"], comment="")
    assert grant.items == ["sfzh", "xm"]
    assert notices(city.police, "sharing.application_approved")  # the producer learns what was granted


def test_neixiang_batch_needs_a_justification_where_query_or_verify_would_do(city, resource, aid, settings):
    # R-SHARE-14
    settings.GOVSHARE_PROFILE = "neixiang"
    res = resource()
    with pytest.raises(ValidationFailed) as exc:
        submit(city, res, aid, methods=["batch"])
    assert errors_of(exc) == {"batch_justification"}
    assert "第三十八条" in exc.value.message
    app = submit(city, res, aid, methods=["batch"], batch_justification="全县低保对象年度复核需全量比对")
    assert app.batch_justification == "全县低保对象年度复核需全量比对"
    # a batch-only entry has nothing lighter to offer, so no justification is asked
    submit(city, resource(name="人口批量", methods=("batch",)), aid, methods=["batch"])


def test_batch_justification_is_asked_where_the_profile_is_silent_too(city, resource, aid, settings):
    # R-SHARE-14: NX writes it down; elsewhere the platform still asks, citing the requirement
    settings.GOVSHARE_PROFILE = "chenzhou"
    with pytest.raises(ValidationFailed) as exc:
        submit(city, resource(), aid, methods=["batch"])
    assert errors_of(exc) == {"batch_justification"} and "R-SHARE-14" in exc.value.message
    app = submit(city, resource(), aid, methods=["batch"], batch_justification="年度全量复核")
    assert app.methods == ["batch"]


# --- submission checks -------------------------------------------------------------------------------------


def test_shangrao_sealed_letter_is_mandatory_and_checked_by_its_content(city, resource, aid, settings):
    # R-SHARE-05
    settings.GOVSHARE_PROFILE = "shangrao"
    res = resource()
    with pytest.raises(ValidationFailed) as exc:
        submit(city, res, aid, letter=None)
    assert errors_of(exc) == {"letter"}
    with pytest.raises(ValidationFailed) as exc:
        submit(city, res, aid, letter=letter(b"MZ\x90\x00 not a pdf", "申请函.pdf"))
    assert [e["code"] for e in exc.value.errors] == ["invalid_file_type"]
    big = letter(PDF + b"0" * (10 * 1024 * 1024), "大.pdf")
    with pytest.raises(ValidationFailed) as exc:
        submit(city, res, aid, letter=big)
    assert [e["code"] for e in exc.value.errors] == ["file_too_large"]
    app = submit(city, res, aid, letter=letter(PNG, "scan.pdf"))
    assert app.letter.name.endswith(".png")
    with app.letter.open("rb") as f:
        assert f.read() == PNG


def test_shangrao_needs_the_consuming_system_and_enabled_methods_only(city, resource, aid, settings):
    # R-SHARE-05, R-SHARE-13
    settings.GOVSHARE_PROFILE = "shangrao"
    with pytest.raises(ValidationFailed) as exc:
        submit(city, resource(), aid, clients=[], methods=["verify"])
    assert errors_of(exc) == {"clients", "methods"}
    assert "饶智组办发" in next(e for e in exc.value.errors if e["field"] == "methods")["message"]


def test_submission_is_checked_against_the_catalog_and_the_applicant(city, resource, aid, settings):
    # R-SHARE-05, R-SHARE-17
    settings.GOVSHARE_PROFILE = "chenzhou"
    res = resource(methods=("query",))
    other = register_client(city.market_officer, "市场监管系统", "market-sys")
    with pytest.raises(ValidationFailed) as exc:
        submit(
            city,
            res,
            aid,
            purpose="",
            duty_basis="",
            clients=[other],
            items=["sfzh", "nope"],
            methods=["table_sync"],
            valid_from=today() - dt.timedelta(days=1),
            terms_accepted=False,
        )
    assert errors_of(exc) == {
        "purpose",
        "duty_basis",
        "clients",
        "items",
        "methods",
        "valid_from",
        "terms_accepted",
    }
    with pytest.raises(ValidationFailed) as exc:
        submit(city, res, aid, items=[], valid_until=today() - dt.timedelta(days=1), valid_from=today())
    assert errors_of(exc) == {"items", "valid_until"}
    disable_client(city.civil_officer, aid, "系统升级")
    aid.refresh_from_db()
    with pytest.raises(ValidationFailed) as exc:
        submit(city, res, aid)
    assert [e["code"] for e in exc.value.errors] == ["client_disabled"]
    with pytest.raises(PermissionDenied):
        submit(city, res, aid, user=city.reviewer)  # the authority is not a consumer
    with pytest.raises(DomainError) as exc:
        submit(city, res, aid, user=city.police_officer)
    assert exc.value.code == "own_resource"


def test_not_shared_resources_point_to_negotiation(city, resource, aid, settings):
    # R-SHARE-11
    settings.GOVSHARE_PROFILE = "chenzhou"
    with pytest.raises(DomainError) as exc:
        submit(city, resource("none"), aid)
    assert exc.value.code == "resource_not_shared" and "协商" in exc.value.message


# --- decisions ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["shangrao", "chenzhou", "changshu", "neixiang", "template"])
def test_a_refusal_without_reasons_is_never_saved(city, resource, aid, settings, profile):
    # R-SHARE-08 (NX is silent on reasons; a refusal still carries them)
    settings.GOVSHARE_PROFILE = profile
    app = pending(city, resource(), aid)
    with pytest.raises(ValidationFailed) as exc:
        services.refuse_application(decider(city, app), app, reason="  ", basis="x")
    assert "reason" in errors_of(exc)
    app.refresh_from_db()
    assert app.status == ApplicationStatus.PENDING
    basis = "《居民身份证法》第十九条" if profile_value("share_refusal_basis_required") else ""
    app = services.refuse_application(decider(city, app), app, reason="超出履职需要", basis=basis)
    assert app.status == ApplicationStatus.REFUSED
    assert obligation(app, "sharing.reply").status == ObligationStatus.FULFILLED
    assert notices(city.civil, "sharing.application_refused")


def test_shangrao_refusal_needs_the_legal_basis(city, resource, aid, settings):
    # R-SHARE-08
    settings.GOVSHARE_PROFILE = "shangrao"
    app = pending(city, resource(), aid)
    with pytest.raises(ValidationFailed) as exc:
        services.refuse_application(city.police_officer, app, reason="超出履职需要")
    assert errors_of(exc) == {"basis"}
    assert active_profile().param("share_refusal_basis_required").article in exc.value.message


def test_chenzhou_refusal_does_not_demand_a_basis(city, resource, aid, settings):
    # R-SHARE-08
    settings.GOVSHARE_PROFILE = "chenzhou"
    app = pending(city, resource(), aid)
    assert services.refuse_application(city.police_officer, app, reason="超出履职需要").status == "refused"


def test_approval_may_narrow_items_mask_filter_and_quota_but_never_widen(city, resource, aid, settings):
    # R-SHARE-09, R-SHARE-10
    settings.GOVSHARE_PROFILE = "chenzhou"
    app = pending(city, resource(), aid, items=["sfzh", "xm", "csrq"], methods=["query", "verify"])
    bad = dict(
        items=["sfzh", "sjhm"],
        masks={"sfzh": "keep:x"},
        row_filter=[{"item": "nope", "op": "eq", "values": ["1"]}],
        methods=["batch"],
        valid_until=app.valid_until + dt.timedelta(days=1),
        daily_quota=0,
    )
    with pytest.raises(ValidationFailed) as exc:
        approve(city, app, **bad)
    assert errors_of(exc) == {"items", "masks", "row_filter", "methods", "valid_until", "daily_quota"}
    with pytest.raises(ValidationFailed) as exc:
        approve(city, app, items=[])
    assert errors_of(exc) == {"items"}
    with pytest.raises(ValidationFailed) as exc:
        approve(city, app, masks={"sjhm": "hash"})  # a mask on an item not granted
    assert errors_of(exc) == {"masks"}
    until = app.valid_from + dt.timedelta(days=30)
    proposed = services.default_masks(app.resource, ["sfzh", "xm"])
    assert proposed == {"sfzh": "keep:6:4", "xm": "keep:1:0"}
    grant = approve(
        city,
        app,
        items=["xm", "sfzh"],
        masks={**proposed, "xm": "plain"},
        row_filter=[{"item": "sfzh", "op": "prefix", "values": ["4310"]}],
        methods=["verify"],
        valid_until=until,
        daily_quota=500,
    )
    assert grant.items == ["sfzh", "xm"]
    assert grant.masks == {"sfzh": "keep:6:4"}
    assert grant.row_filter == [{"item": "sfzh", "op": "prefix", "values": ["4310"]}]
    assert grant.methods == ["verify"] and grant.valid_until == until and grant.daily_quota == 500
    assert re.fullmatch(r"GR\d{8}-\d{4}", grant.number) and re.fullmatch(r"SQ\d{8}-\d{4}", app.number)
    assert list(grant.clients.all()) == [aid] and grant.consumer == city.civil
    assert len(grant.hash_salt) == 32
    assert AuditEvent.objects.filter(action="sharing.application.approve", object_id=str(app.pk)).exists()
    assert any("少于申请" in n.body for n in notices(city.civil, "sharing.application_approved"))


def test_only_the_provider_answers_where_it_decides(city, resource, aid, settings):
    # R-SHARE-07, R-SHARE-09
    settings.GOVSHARE_PROFILE = "chenzhou"
    app = pending(city, resource(), aid)
    for outsider in (city.market_officer, city.civil_officer, city.reviewer):
        with pytest.raises(PermissionDenied):
            services.refuse_application(outsider, app, reason="不行")


def test_illegal_transitions_are_refused(city, resource, aid, settings):
    # DESIGN §4
    settings.GOVSHARE_PROFILE = "shangrao"
    app = submit(city, resource(), aid)
    with pytest.raises(IllegalTransition):  # the provider cannot answer before the pre-review
        approve(city, app)
    app = services.prereview_application(city.reviewer, app, forward=True)
    with pytest.raises(IllegalTransition):
        services.prereview_application(city.reviewer, app, forward=True)
    approve(city, app)
    with pytest.raises(IllegalTransition):
        approve(city, app)
    with pytest.raises(IllegalTransition):
        services.withdraw_application(city.civil_officer, app)
    assert ShareApplication.objects.get(pk=app.pk).grant is not None


def test_withdrawal_cancels_the_running_deadline_and_blocks_approval(city, resource, aid, settings):
    # R-SHARE-07
    settings.GOVSHARE_PROFILE = "chenzhou"
    app = submit(city, resource(), aid)
    with pytest.raises(PermissionDenied):
        services.withdraw_application(city.market_officer, app)
    app = services.withdraw_application(city.civil_officer, app)
    assert app.status == ApplicationStatus.WITHDRAWN and app.withdrawn_at
    assert obligation(app, "sharing.reply").status == ObligationStatus.CANCELLED
    assert notices(city.police, "sharing.application_withdrawn")
    with pytest.raises(IllegalTransition):
        approve(city, app)


# --- grants ------------------------------------------------------------------------------------------------


def granted(city, resource, aid):
    return approve(city, pending(city, resource(), aid))


def test_chenzhou_provider_suspends_and_the_authority_is_told(city, resource, aid, settings):
    # R-SHARE-18 (CZ 第十九条)
    settings.GOVSHARE_PROFILE = "chenzhou"
    grant = granted(city, resource, aid)
    with pytest.raises(PermissionDenied):
        services.suspend_grant(city.reviewer, grant, "违规使用")
    with pytest.raises(PermissionDenied):
        services.suspend_grant(city.civil_officer, grant, "违规使用")
    with pytest.raises(ValidationFailed):
        services.suspend_grant(city.police_officer, grant, " ")
    grant = services.suspend_grant(city.police_officer, grant, "发现超范围使用")
    assert grant.status == GrantStatus.SUSPENDED and grant.status_reason == "发现超范围使用"
    assert notices(city.civil, "sharing.grant_suspended") and notices(city.police, "sharing.grant_suspended")
    told = notices(city.authority, "sharing.grant_suspended")
    assert told and "须报告主管部门" in told[0].title and "第十九条" in told[0].title
    assert AuditEvent.objects.filter(action="sharing.grant.suspend", object_id=str(grant.pk)).exists()
    with pytest.raises(IllegalTransition):
        services.suspend_grant(city.police_officer, grant, "再次暂停")
    grant = services.resume_grant(city.police_officer, grant, "已整改")
    assert grant.status == GrantStatus.ACTIVE
    grant = services.terminate_grant(city.police_officer, grant, "不再需要")
    assert grant.status == GrantStatus.TERMINATED
    with pytest.raises(IllegalTransition):
        services.resume_grant(city.police_officer, grant, "恢复")


def test_neixiang_only_the_authority_suspends(city, resource, aid, settings):
    # R-SHARE-18 (NX 第四十一条)
    settings.GOVSHARE_PROFILE = "neixiang"
    grant = granted(city, resource, aid)
    with pytest.raises(PermissionDenied) as exc:
        services.suspend_grant(city.police_officer, grant, "违规使用")
    assert "第四十一条" in exc.value.message
    grant = services.terminate_grant(city.reviewer, grant, "存在安全风险")
    assert grant.status == GrantStatus.TERMINATED
    assert notices(city.civil, "sharing.grant_terminated") and notices(
        city.police, "sharing.grant_terminated"
    )


def test_where_the_profile_is_silent_provider_or_authority_may_suspend(city, resource, aid, settings):
    # R-SHARE-18
    settings.GOVSHARE_PROFILE = "changshu"
    grant = granted(city, resource, aid)
    grant = services.suspend_grant(city.reviewer, grant, "核查中")
    grant = services.resume_grant(city.police_officer, grant, "核查完毕")
    assert grant.status == GrantStatus.ACTIVE
    assert not notices(city.authority, "sharing.grant_resumed")
    with pytest.raises(PermissionDenied):
        services.suspend_grant(city.market_officer, grant, "无关部门")


# --- negotiation -------------------------------------------------------------------------------------------


def test_chenzhou_negotiation_escalates_and_agreed_supply_must_be_filed(city, resource, aid, settings):
    # R-SHARE-11, R-SHARE-12
    settings.GOVSHARE_PROFILE = "chenzhou"
    res = resource("none")
    case = services.open_negotiation(city.civil_officer, res, subject="低保审核需核对户籍人口")
    assert case.status == CaseStatus.OPEN and case.provider == city.police
    assert notices(city.police, "sharing.case_opened")
    with pytest.raises(IllegalTransition):
        services.open_negotiation(city.civil_officer, res, subject="再来一次")
    services.post_case_message(city.police_officer, case, "该资源涉及个人隐私，暂不提供")
    with pytest.raises(PermissionDenied):
        services.post_case_message(city.market_officer, case, "旁观")
    with pytest.raises(PermissionDenied):  # the authority coordinates, it does not escalate
        services.escalate_negotiation(city.reviewer, case, reason="x")
    with pytest.raises(PermissionDenied):  # before escalation only the provider can agree
        services.agree_supply(
            city.reviewer,
            case,
            clients=[aid],
            purpose="低保审核",
            items=["sfzh"],
            masks={},
            row_filter=[],
            methods=["query"],
            valid_from=today(),
            valid_until=today(),
        )
    case = services.escalate_negotiation(city.civil_officer, case, reason="双方未能达成一致")
    assert case.status == CaseStatus.ESCALATED
    coord = obligation(case, "sharing.coordinate")
    chain = active_profile().param("escalation_chain")
    assert coord.department == city.authority and coord.due_on is None
    assert coord.article == chain.article and coord.requirement == "R-ORG-05"
    assert case.number in coord.title
    assert any(chain.value[0] in n.title for n in notices(city.authority, "sharing.case_escalated"))
    assert case.messages.count() == 2

    grant = services.agree_supply(
        city.reviewer,
        case,
        clients=[aid],
        purpose="低保审核",
        items=["sfzh", "xm"],
        masks={"sfzh": "hash"},
        row_filter=[],
        methods=["query"],
        valid_from=today(),
        valid_until=today() + dt.timedelta(days=90),
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.AGREED and grant.number in case.outcome and case.grant == grant
    assert grant.application.kind == ApplicationKind.NEGOTIATED
    assert grant.application.status == ApplicationStatus.APPROVED
    assert grant.filing_required and grant.filed_at is None and grant.state_label == "待备案"
    assert grant.masks == {"sfzh": "hash"}
    coord.refresh_from_db()
    assert coord.status == ObligationStatus.FULFILLED
    assert notices(city.authority, "sharing.grant_filing_required")
    with pytest.raises(PermissionDenied):
        services.file_grant(city.police_officer, grant)
    grant = services.file_grant(city.reviewer, grant)
    assert grant.filed_at and grant.filed_by == city.reviewer and grant.state_label == "有效"
    with pytest.raises(IllegalTransition):
        services.file_grant(city.reviewer, grant)
    with pytest.raises(IllegalTransition):
        services.post_case_message(city.civil_officer, case, "谢谢")


def test_refused_application_may_be_negotiated_and_supply_needs_no_filing_for_shared_data(
    city, resource, aid, settings
):
    # R-SHARE-11
    settings.GOVSHARE_PROFILE = "chenzhou"
    res = resource()
    with pytest.raises(DomainError) as exc:
        services.open_negotiation(city.civil_officer, res, subject="需要")
    assert exc.value.code == "negotiation_not_applicable"
    app = pending(city, res, aid)
    with pytest.raises(DomainError) as exc:
        services.open_negotiation(city.civil_officer, res, subject="需要", application=app)
    assert exc.value.code == "application_not_refused"
    services.refuse_application(city.police_officer, app, reason="用途不明确")
    app.refresh_from_db()
    case = services.open_negotiation(city.civil_officer, res, subject="补充说明用途", application=app)
    assert case.application == app
    grant = services.agree_supply(
        city.police_officer,
        case,
        clients=[aid],
        purpose="低保审核",
        items=["sfzh"],
        masks={},
        row_filter=[],
        methods=["verify"],
        valid_from=today(),
        valid_until=today() + dt.timedelta(days=30),
    )
    assert not grant.filing_required and grant.state_label == "有效"
    assert grant.application.duty_basis == app.duty_basis


def test_closing_a_case_without_supply(city, resource, aid, settings):
    # R-SHARE-12
    settings.GOVSHARE_PROFILE = "neixiang"
    case = services.open_negotiation(city.civil_officer, resource("none"), subject="需要")
    case = services.escalate_negotiation(city.police_officer, case, reason="无法提供")
    with pytest.raises(PermissionDenied):
        services.close_negotiation(city.police_officer, case, outcome="不提供")
    with pytest.raises(ValidationFailed):
        services.close_negotiation(city.reviewer, case, outcome="")
    case = services.close_negotiation(city.reviewer, case, outcome="经协调，依法不予提供")
    assert case.status == CaseStatus.CLOSED and case.closed_by == city.reviewer
    assert obligation(case, "sharing.coordinate").status == ObligationStatus.FULFILLED
    assert notices(city.civil, "sharing.case_closed")


# --- who sees what -----------------------------------------------------------------------------------------


def test_visibility_and_inboxes(city, resource, aid, settings):
    # R-SHARE-10 (deny by default)
    settings.GOVSHARE_PROFILE = "shangrao"
    app = submit(city, resource(), aid)
    assert selectors.get_application(city.civil_officer, app.pk) == app
    assert selectors.get_application(city.police_officer, app.pk) == app
    assert selectors.get_application(city.reviewer, app.pk) == app
    with pytest.raises(NotFound):
        selectors.get_application(city.market_officer, app.pk)
    assert list(selectors.inbox_for(city.reviewer)) == [app]
    assert list(selectors.inbox_for(city.police_officer)) == []
    services.prereview_application(city.reviewer, app, forward=True)
    assert list(selectors.inbox_for(city.reviewer)) == []
    assert list(selectors.inbox_for(city.police_officer)) == [app]
    assert [o.duty for o in selectors.obligations_of(app)] == ["sharing.prereview", "sharing.reply"]
    grant = approve(city, app)
    assert selectors.get_grant(city.civil_officer, grant.pk) == grant
    with pytest.raises(NotFound):
        selectors.get_grant(city.market_officer, grant.pk)
    assert list(selectors.grants_for(city.market_officer)) == []


def test_both_sides_are_told_once_when_a_grant_lapses(city, resource, aid, settings):
    # R-SHARE-10: expiry needs no action to take effect; the tick tells both departments, once
    from govshare.sharing.services import notify_expired_grants

    settings.GOVSHARE_PROFILE = "chenzhou"
    grant = approve(city, submit(city, resource(), aid), comment="同意")
    assert notify_expired_grants() == 0
    later = grant.valid_until + dt.timedelta(days=1)
    assert notify_expired_grants(today=later) == 1
    assert notify_expired_grants(today=later) == 0
    assert len(notices(city.civil, "sharing.grant_expired")) == 1
    assert len(notices(city.police, "sharing.grant_expired")) == 1


def test_an_authority_of_another_region_cannot_act(city, resource, aid, settings):
    # R-SHARE-09, R-SHARE-18: the authority that answers for the provider decides, not any authority officer
    from conftest import make_uscc
    from govshare.orgs.models import Department, DepartmentKind, Region, Role

    settings.GOVSHARE_PROFILE = "neixiang"
    elsewhere = Region.objects.create(code="411325", name="内乡县", level="county")
    other = Department.objects.create(
        name="内乡县大数据局",
        uscc=make_uscc(90),
        region=elsewhere,
        level="county",
        kind=DepartmentKind.AUTHORITY,
    )
    outsider = city.person("outsider", other, Role.AUTHORITY)
    app = submit(city, resource(), aid)
    assert not selectors.can_decide(outsider, app)
    with pytest.raises(PermissionDenied):
        services.refuse_application(outsider, app, reason="不同意", basis="")
    grant = approve(city, app, items=["sfzh"], comment="")
    with pytest.raises(PermissionDenied):
        services.suspend_grant(outsider, grant, "越权暂停")
    services.suspend_grant(city.reviewer, grant, "核查")


def test_malformed_row_filters_are_refused_not_crashed(city, resource, aid, settings):
    # R-SHARE-10
    settings.GOVSHARE_PROFILE = "chenzhou"
    app = submit(city, resource(), aid)
    with pytest.raises(ValidationFailed) as exc:
        approve(city, app, row_filter=[{"item": ["xm"], "op": "eq", "values": ["张三"]}])
    assert errors_of(exc) == {"row_filter"}
