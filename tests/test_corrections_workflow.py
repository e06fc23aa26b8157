"""Correction tickets under each policy profile: routing, deadlines, extension, proof of the fix, who is told,
and the delivery gate serving a disputed record flagged 核校中 (issue #8)."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from tests.test_collect_load import A, B
from tests.test_sharing_gate import call, loaded, make_grant, systems, url  # noqa: F401

from govshare.audit.models import AuditEvent
from govshare.calendar.policy import active_profile, work_calendar
from govshare.collect.models import Record
from govshare.collect.services import load_rows
from govshare.corrections import selectors, services
from govshare.corrections.models import ExtensionStatus, Outcome, TicketStatus
from govshare.errors import DomainError, IllegalTransition, NotFound, PermissionDenied, ValidationFailed
from govshare.notifications.models import Notification
from govshare.orgs.models import Role
from govshare.supervision.models import Obligation, ObligationStatus

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"


@pytest.fixture(autouse=True)
def media(media):  # every test here writes files: into the throwaway directory
    return media


@pytest.fixture
def cz(settings):
    settings.GOVSHARE_PROFILE = "chenzhou"
    return settings


@pytest.fixture
def nx(settings):
    settings.GOVSHARE_PROFILE = "neixiang"
    return settings


@pytest.fixture
def grant(city, loaded, systems):
    return make_grant(city, loaded, systems["civil"], masks={"sfzh": "keep:6:4"})


@pytest.fixture
def head(city):
    return city.person("police_head", city.police, Role.HEAD, full_name="公安局局长")


def raise_on(city, grant, key=A, **kw):
    kw.setdefault("description", "姓名与户口簿不一致")
    kw.setdefault("items", ["xm"])
    return services.raise_ticket(city.civil_officer, resource=grant.resource, record_key=key, **kw)


def verify_duty(ticket):
    return Obligation.objects.get(subject_id=str(ticket.pk), duty=services.DUTY_VERIFY)


def notified(dept, kind):
    return Notification.objects.filter(department=dept, kind=kind)


# --- raising and routing ------------------------------------------------------------------------------------


def test_cz_ticket_goes_to_the_provider_with_a_5_working_day_clock(city, grant, cz):  # R-CORR-01, R-CORR-03
    ticket = raise_on(city, grant)
    assert ticket.status == TicketStatus.VERIFYING
    assert ticket.record_label == f"公民身份号码 {A[:6]}{'*' * 8}{A[-4:]}"  # as the grant shows it
    duty = verify_duty(ticket)
    param = active_profile().param("correction_verify_working_days")
    assert param.value == 5
    assert duty.department == city.police
    assert duty.due_on == work_calendar().add_working_days(timezone.localdate(), 5).due
    assert duty.article == param.article and "第二十四条" in duty.article
    assert notified(city.police, "corrections.raised").exists()
    assert AuditEvent.objects.filter(action="corrections.raise", object_id=str(ticket.pk)).exists()


def test_profile_without_a_number_tracks_the_ticket_without_a_deadline(city, grant, settings):  # R-CORR-03
    settings.GOVSHARE_PROFILE = "changshu"
    ticket = raise_on(city, grant)
    duty = verify_duty(ticket)
    assert duty.due_on is None and duty.status == ObligationStatus.OPEN
    with pytest.raises(IllegalTransition) as err:
        services.request_extension(city.police_officer, ticket, working_days=3, reason="需要外调")
    assert err.value.code == "not_extendable"


def test_nx_requires_evidence_and_routes_through_authority_and_operator(
    city, grant, nx, operator
):  # R-CORR-02
    with pytest.raises(ValidationFailed) as err:
        raise_on(city, grant)
    assert [e["code"] for e in err.value.detail["errors"]] == ["required"]
    assert "第六十四条" in err.value.detail["errors"][0]["message"]
    assert not selectors.visible_tickets(city.reviewer).exists()  # nothing half-written

    ticket = raise_on(city, grant, evidence=[SimpleUploadedFile("户口簿.pdf", PDF)])
    assert ticket.status == TicketStatus.REPORTED and ticket.evidence.count() == 1
    assert not Obligation.objects.filter(subject_id=str(ticket.pk)).exists()  # the provider has no duty yet
    assert notified(city.authority, "corrections.reported").exists()

    with pytest.raises(IllegalTransition):
        services.dispatch_ticket(operator, ticket, analysis="x")  # the authority has not accepted it yet
    ticket = services.accept_ticket(city.reviewer, ticket)
    assert ticket.status == TicketStatus.DISPATCHING
    with pytest.raises(PermissionDenied):
        services.dispatch_ticket(city.police_officer, ticket, analysis="查看")
    ticket = services.dispatch_ticket(operator, ticket, analysis="经分析为户籍数据录入错误，分发公安局")
    assert ticket.status == TicketStatus.VERIFYING
    assert verify_duty(ticket).due_on == work_calendar().add_working_days(timezone.localdate(), 5).due


def test_evidence_must_be_a_document_not_anything(city, grant, cz):  # R-CORR-02
    with pytest.raises(ValidationFailed) as err:
        raise_on(city, grant, evidence=[SimpleUploadedFile("x.pdf", b"MZ\x90\x00 not a pdf")])
    assert err.value.detail["errors"][0]["code"] == "invalid_file_type"


def test_only_a_grant_holder_can_dispute_a_record_and_only_what_it_sees(city, grant, cz, people):  # R-CORR-01
    with pytest.raises(PermissionDenied) as err:
        services.raise_ticket(
            city.market_officer, resource=grant.resource, record_key=A, description="错", items=["xm"]
        )
    assert err.value.code == "no_grant"
    with pytest.raises(DomainError) as err:
        services.raise_ticket(city.police_officer, resource=grant.resource, record_key=A, description="错")
    assert err.value.code == "own_resource"
    with pytest.raises(NotFound):
        raise_on(city, grant, key="430000000000000000")
    narrow = make_grant(city, grant.resource, grant.clients.first(), items=["xm", "xb"])
    with pytest.raises(ValidationFailed) as err:
        services.raise_ticket(
            city.civil_officer, resource=grant.resource, grant=narrow, record_key=A, description="错"
        )
    assert err.value.detail["errors"][0]["code"] == "key_not_granted"  # it never saw the key


def test_catalog_doubt_needs_no_grant_and_closes_on_a_new_catalog_version(
    city, cz, published, payload
):  # R-CORR-08
    from govshare.catalog import services as catalog

    resource = published()
    ticket = services.raise_ticket(
        city.civil_officer,
        resource=resource,
        scope_="catalog",
        description="“法定代表人”应为必填项",
        items=["法定代表人"],
    )
    assert ticket.items == ["fddbr"] and ticket.provider == city.market
    ticket = services.decide_ticket(city.market_officer, ticket, correct=True, note="将修订目录")
    with pytest.raises(DomainError) as err:
        services.close_corrected(city.market_officer, ticket)
    assert err.value.code == "correction_not_arrived"
    rev = catalog.start_revision(city.market_officer, resource, "疑义更正：法定代表人必填")
    items = [dict(i, is_required=True) if i["code"] == "fddbr" else i for i in payload()["items"]]
    catalog.update_revision(city.market_officer, rev, payload(items=items))
    catalog.submit_revision(city.market_officer, rev)
    catalog.publish_revision(city.reviewer, rev)
    catalog.apply_due_changes(timezone.localdate() + dt.timedelta(days=400))  # past any notice period
    ticket = services.close_corrected(city.market_officer, ticket, note="已修订")
    assert ticket.outcome == Outcome.CORRECTED


# --- the clock: extension (CZ 24) -----------------------------------------------------------------------------


def test_cz_extension_is_approved_by_the_provider_head_within_15_days(city, grant, cz, head):  # R-CORR-04
    ticket = raise_on(city, grant)
    due = verify_duty(ticket).due_on
    with pytest.raises(ValidationFailed) as err:
        services.request_extension(city.police_officer, ticket, working_days=16, reason="需要外调")
    assert err.value.detail["errors"][0]["code"] == "extension_exceeds_limit"
    req = services.request_extension(city.police_officer, ticket, working_days=10, reason="需要外调核实")
    with pytest.raises(IllegalTransition):
        services.request_extension(city.police_officer, ticket, working_days=2, reason="再延")
    with pytest.raises(PermissionDenied):
        services.approve_extension(city.reviewer, req)  # the authority is not the approver in CZ
    other_head = city.person("market_head", city.market, Role.HEAD)
    with pytest.raises(PermissionDenied):
        services.approve_extension(other_head, req)
    req = services.approve_extension(head, req, note="同意")
    assert req.status == ExtensionStatus.APPROVED
    assert verify_duty(ticket).due_on == req.new_due_on == work_calendar().add_working_days(due, 10).due
    told = notified(city.civil, "corrections.extended").get()
    assert f"{req.new_due_on:%Y-%m-%d}" in told.title
    # 10 used of 15: five more may still be asked, six may not
    with pytest.raises(ValidationFailed):
        services.request_extension(city.police_officer, ticket, working_days=6, reason="再延")
    req2 = services.request_extension(city.police_officer, ticket, working_days=5, reason="再延")
    with pytest.raises(ValidationFailed) as err:
        services.refuse_extension(head, req2, note="  ")  # a refusal says why
    assert err.value.detail["errors"][0]["field"] == "note"
    req2 = services.refuse_extension(head, req2, note="请按期核校")
    assert req2.status == ExtensionStatus.REFUSED and req2.decided_by == head
    assert verify_duty(ticket).due_on == req.new_due_on
    for decide in (services.approve_extension, services.refuse_extension):  # decided once only
        with pytest.raises(IllegalTransition) as err:
            decide(head, req2, note="改为同意")
        assert err.value.code == "extension_decided"
    assert verify_duty(ticket).due_on == req.new_due_on


# --- decision, proof of the fix, who is told (R-CORR-05/06) ---------------------------------------------------


def test_fix_closes_only_after_the_corrected_record_arrives_and_every_grant_holder_hears(
    city, grant, systems, cz
):
    market_grant = make_grant(city, grant.resource, systems["market"])
    ticket = raise_on(city, grant, suggestion="张三")
    with pytest.raises(PermissionDenied):
        services.decide_ticket(city.civil_officer, ticket, correct=True, note="我说是错的")
    ticket = services.decide_ticket(city.police_officer, ticket, correct=True, note="户籍录入错误")
    assert ticket.status == TicketStatus.FIXING
    assert verify_duty(ticket).status == ObligationStatus.FULFILLED
    fix = Obligation.objects.get(subject_id=str(ticket.pk), duty=services.DUTY_FIX)
    assert fix.due_on is None  # CZ names no fix period; the duty is tracked without a date

    with pytest.raises(DomainError) as err:
        services.close_corrected(city.police_officer, ticket)
    assert err.value.code == "correction_not_arrived" and err.value.status == 409
    assert services.CorrectionTicket.objects.get(pk=ticket.pk).status == TicketStatus.FIXING

    load_rows(
        grant.resource,
        [{"sfzh": A, "xm": "张三", "xb": "男", "csrq": "1980-01-01"}],
        actor=city.police_officer,
    )
    ticket = services.close_corrected(city.police_officer, ticket, note="已从源头更正")
    assert (ticket.status, ticket.outcome) == (TicketStatus.CLOSED, Outcome.CORRECTED)
    fix.refresh_from_db()
    assert fix.status == ObligationStatus.FULFILLED
    assert notified(city.civil, "corrections.closed").exists()  # the reporter
    assert notified(market_grant.consumer, "corrections.closed").exists()  # every grant holder
    assert not notified(city.police, "corrections.closed").exists()
    with pytest.raises(IllegalTransition):
        services.withdraw_ticket(city.civil_officer, ticket)


def test_nx_decision_opens_the_10_day_fix_and_tells_the_authority(city, grant, nx, operator):  # R-CORR-05
    ticket = raise_on(city, grant, evidence=[SimpleUploadedFile("证明.pdf", PDF)])
    services.accept_ticket(city.reviewer, ticket)
    services.dispatch_ticket(operator, ticket, analysis="分发")
    ticket = services.decide_ticket(city.police_officer, ticket, correct=True, note="确有错误")
    fix = Obligation.objects.get(subject_id=str(ticket.pk), duty=services.DUTY_FIX)
    assert fix.due_on == work_calendar().add_working_days(timezone.localdate(), 10).due
    assert fix.article == active_profile().param("correction_fix_working_days").article
    assert notified(city.authority, "corrections.decided").exists()


def test_not_an_error_closes_at_once_and_the_reporter_hears_why(city, grant, cz):  # R-CORR-06
    ticket = raise_on(city, grant)
    ticket = services.decide_ticket(city.police_officer, ticket, correct=False, note="与户籍底册一致")
    assert (ticket.status, ticket.outcome) == (TicketStatus.CLOSED, Outcome.NOT_ERROR)
    assert "与户籍底册一致" in notified(city.civil, "corrections.closed").get().body
    with pytest.raises(IllegalTransition):
        services.decide_ticket(city.police_officer, ticket, correct=True, note="again")


def test_withdrawing_cancels_the_providers_duty(city, grant, cz):
    ticket = raise_on(city, grant)
    ticket = services.withdraw_ticket(city.civil_officer, ticket, reason="已自行核实")
    assert ticket.status == TicketStatus.WITHDRAWN
    assert verify_duty(ticket).status == ObligationStatus.CANCELLED


def test_overdue_verification_counts_against_the_provider(city, grant, cz):  # R-CORR-09
    from govshare.supervision.services import check_due

    raise_on(city, grant)
    closed = raise_on(city, grant, key=B)
    services.decide_ticket(city.police_officer, closed, correct=False, note="无误")
    check_due(timezone.localdate() + dt.timedelta(days=30))
    row = next(r for r in selectors.provider_counts() if r["provider_id"] == city.police.pk)
    assert (row["received"], row["open"], row["not_error"], row["overdue"]) == (2, 1, 1, 1)


# --- the gate keeps serving, flagged 核校中 (R-CORR-07) ----------------------------------------------------


def test_disputed_record_is_still_served_and_flagged(city, grant, systems, cz):
    token = systems["civil_token"]
    before = call(token, "get", url(grant.resource, "records"), data={"sfzh": A}).json()
    assert before["record_info"][0]["under_verification"] is False
    ticket = services.raise_ticket(
        None,
        client=systems["civil"],
        grant=grant,
        resource=grant.resource,
        record_ref=before["record_info"][0]["ref"],
        description="姓名错误",
        items=["xm"],
    )
    assert ticket.reporter_department == city.civil and ticket.reporter_client == systems["civil"]
    body = call(token, "get", url(grant.resource, "records"), data={"sfzh": A}).json()
    assert body["records"] == before["records"]  # service goes on
    assert body["record_info"][0] == {
        "ref": before["record_info"][0]["ref"],
        "under_verification": True,
        "ticket": ticket.number,
    }
    other = call(token, "get", url(grant.resource, "records"), data={"sfzh": B}).json()
    assert other["record_info"][0]["under_verification"] is False
    verified = call(token, "post", url(grant.resource, "verify"), data={"items": {"sfzh": A, "xm": "张三丰"}})
    assert verified.json()["under_verification"] is True and verified.json()["match"] is True
    feed = call(token, "get", url(grant.resource, "changes"), data={"cursor": 0}).json()
    flags = {c["record"]["sfzh"][-4:]: c["under_verification"] for c in feed["changes"]}
    assert flags[A[-4:]] is True and flags[B[-4:]] is False

    services.decide_ticket(city.police_officer, ticket, correct=False, note="无误")
    after = call(token, "get", url(grant.resource, "records"), data={"sfzh": A}).json()
    assert after["record_info"][0]["under_verification"] is False


def test_a_ref_outside_the_grant_rows_is_not_found(city, loaded, systems, cz):
    narrow = make_grant(
        city, loaded, systems["civil"], row_filter=[{"item": "xb", "op": "eq", "values": ["女"]}]
    )
    outside = Record.objects.get(resource=loaded, key=A)  # 男: outside the filter
    with pytest.raises(NotFound):
        services.raise_ticket(
            None,
            client=systems["civil"],
            grant=narrow,
            resource=loaded,
            record_ref=outside.pk,
            description="错",
        )


def test_evidence_goes_to_the_parties_only(city, grant, cz, operator, head):  # R-SEC-05
    ticket = raise_on(city, grant, evidence=[SimpleUploadedFile("户口簿.pdf", PDF)])
    ev = ticket.evidence.get()
    assert services.read_evidence(city.police_officer, ticket, ev.pk) == ev
    assert services.read_evidence(head, ticket, ev.pk) == ev
    assert services.read_evidence(city.reviewer, ticket, ev.pk) == ev  # the authority answering for it
    with pytest.raises(PermissionDenied):
        services.read_evidence(operator, ticket, ev.pk)  # CZ: the operator did not dispatch this one
    assert AuditEvent.objects.filter(action="corrections.evidence_download").count() == 3
