"""Catalog registration, review and publication rules (R-CAT-01..17, R-ORG-03, R-ORG-08)."""

import pytest

from govshare.catalog import services
from govshare.catalog.models import (
    NarrowingRecord,
    NegativeListEntry,
    Resource,
    ResourceRevision,
    Responsibility,
    RevisionStatus,
)
from govshare.catalog.search import search
from govshare.errors import IllegalTransition, PermissionDenied, ValidationFailed
from govshare.notifications.models import Notification

pytestmark = pytest.mark.django_db


def codes(exc: ValidationFailed) -> set[str]:
    return {e["code"] for e in exc.errors}


def fields(exc: ValidationFailed) -> set[str]:
    return {e["field"] for e in exc.errors}


def test_new_entry_gets_classification_code_and_stays_invisible_until_published(city, payload):  # R-CAT-01
    rev = services.create_resource(city.market_officer, payload())
    assert rev.resource.code == "301/000001"
    assert rev.status == RevisionStatus.DRAFT
    assert search("营业执照").total == 0
    services.submit_revision(city.market_officer, rev)
    assert search("营业执照").total == 0
    services.publish_revision(city.reviewer, rev)
    resource = Resource.objects.get(pk=rev.resource_id)
    assert resource.status == "published" and resource.version == 1
    assert resource.items.count() == 4
    assert resource.provider_code == city.market.uscc
    assert search("营业执照").ids == [resource.pk]


def test_second_entry_in_same_classification_gets_next_sequence(city, payload, published):
    published()
    rev = services.create_resource(city.market_officer, payload(name="个体工商户营业执照信息"))
    assert rev.resource.code == "301/000002"


@pytest.mark.parametrize(
    "field, value, code",
    [
        ("update_cycle", "", "required"),
        ("share_type", "", "required"),
        ("open_type", "", "required"),
        ("usage_requirements", "", "required"),
        ("mount_kind", "", "required"),
        ("abstract", "", "required"),
        ("items", [], "required"),
        ("format_category", "", "required"),
    ],
)
def test_submit_refuses_empty_mandatory_field_naming_it(city, payload, field, value, code):  # R-CAT-03
    rev = services.create_resource(city.market_officer, payload(**{field: value}))
    with pytest.raises(ValidationFailed) as exc:
        services.submit_revision(city.market_officer, rev)
    assert field in fields(exc.value)
    assert code in codes(exc.value)
    err = next(e for e in exc.value.errors if e["field"] == field)
    assert err["label"] and any("\u4e00" <= ch <= "\u9fff" for ch in err["message"])
    rev.refresh_from_db()
    assert rev.status == RevisionStatus.DRAFT


def test_conditional_share_needs_condition_and_legal_basis(city, payload):  # R-CAT-08
    rev = services.create_resource(city.market_officer, payload(share_type="conditional", open_type="none"))
    with pytest.raises(ValidationFailed) as exc:
        services.submit_revision(city.market_officer, rev)
    assert {"share_condition", "legal_basis"} <= fields(exc.value)
    assert "legal_basis_required" in codes(exc.value)


def test_not_shared_entry_needs_basis_and_lands_on_negative_list(city, payload):  # R-CAT-08, R-CAT-20
    p = payload(share_type="none", share_methods=[], open_type="none")
    rev = services.create_resource(city.market_officer, p)
    with pytest.raises(ValidationFailed):
        services.submit_revision(city.market_officer, rev)
    p["legal_basis"] = "《中华人民共和国保守国家秘密法》"
    services.update_revision(city.market_officer, rev, p)
    services.submit_revision(city.market_officer, rev)
    services.publish_revision(city.reviewer, rev)
    entry = NegativeListEntry.objects.get(resource=rev.resource)
    assert entry.status == "confirmed" and "保守国家秘密法" in entry.legal_basis


def test_secret_entry_is_refused(city, payload):  # R-ORG-08
    rev = services.create_resource(city.market_officer, payload(is_secret=True))
    with pytest.raises(ValidationFailed) as exc:
        services.submit_revision(city.market_officer, rev)
    assert "secret_refused" in codes(exc.value)


def test_base_resource_basic_items_must_be_unconditional(city, payload):  # R-CAT-09
    items = [
        {
            "code": "gmsfhm",
            "name": "公民身份号码",
            "data_type": "C",
            "length": 18,
            "is_primary": True,
            "is_basic": True,
        },
        {"code": "xm", "name": "姓名", "data_type": "C", "is_basic": True, "share_type": "conditional"},
        {"code": "hyzk", "name": "婚姻状况", "data_type": "C", "share_type": "conditional"},
    ]
    p = payload(
        classification=city.base.code,
        name="人口基础信息",
        provider=city.police.pk,
        items=items,
        legal_basis="《个人信息保护法》",
    )
    rev = services.create_resource(city.police_officer, p)
    assert rev.payload["lead_department"] == city.police.pk  # taken from the classification (R-CAT-02)
    with pytest.raises(ValidationFailed) as exc:
        services.submit_revision(city.police_officer, rev)
    bad = [e for e in exc.value.errors if e["code"] == "basic_item_not_unconditional"]
    assert len(bad) == 1 and "姓名" in bad[0]["message"]
    items[1]["share_type"] = ""
    services.update_revision(city.police_officer, rev, {**p, "items": items})
    services.submit_revision(
        city.police_officer, rev
    )  # 婚姻状况 is not a basic item, so it may stay conditional


def test_only_the_maintainer_officer_may_register(city, payload):  # R-ORG-07
    with pytest.raises(PermissionDenied) as exc:
        services.create_resource(city.police_officer, payload())  # market's entry, police officer
    assert exc.value.code == "not_maintainer"
    with pytest.raises(PermissionDenied):
        services.create_resource(city.civil_officer, payload(provider=city.civil.pk))  # consumer role only
    assert not Resource.objects.exists()


def test_department_without_active_officer_cannot_submit(city, payload):  # R-ORG-03
    rev = services.create_resource(city.market_officer, payload())
    city.market_officer.is_active = False
    city.market_officer.save()
    with pytest.raises(PermissionDenied):
        services.submit_revision(city.market_officer, rev)
    rev.refresh_from_db()
    assert rev.status == RevisionStatus.DRAFT


def test_authority_without_active_officer_cannot_approve(city, payload):  # R-ORG-03
    rev = services.create_resource(city.market_officer, payload())
    services.submit_revision(city.market_officer, rev)
    from govshare.orgs.models import UserRole

    UserRole.objects.filter(user=city.reviewer).delete()
    UserRole.objects.create(user=city.reviewer, role="head")
    head_only = type(city.reviewer).objects.get(pk=city.reviewer.pk)
    with pytest.raises(PermissionDenied):
        services.publish_revision(head_only, rev)


def test_return_requires_comment_and_resubmission_works(city, payload):  # R-CAT-05
    rev = services.create_resource(city.market_officer, payload())
    services.submit_revision(city.market_officer, rev)
    with pytest.raises(ValidationFailed):
        services.return_revision(city.reviewer, rev, "   ")
    services.return_revision(city.reviewer, rev, "摘要请补充数据来源")
    rev.refresh_from_db()
    assert rev.status == RevisionStatus.RETURNED
    assert Notification.objects.filter(department=city.market, kind="catalog.returned").exists()
    services.update_revision(city.market_officer, rev, payload(abstract="来源：市场主体登记系统。"))
    services.submit_revision(city.market_officer, rev)
    services.publish_revision(city.reviewer, rev)
    rev.refresh_from_db()
    assert rev.status == RevisionStatus.PUBLISHED
    assert [c.action for c in rev.comments.all()] == ["submit", "return", "submit", "publish"]


def test_illegal_transitions_are_refused(city, payload):
    rev = services.create_resource(city.market_officer, payload())
    with pytest.raises(IllegalTransition):
        services.publish_revision(city.reviewer, rev)  # not submitted
    with pytest.raises(IllegalTransition):
        services.return_revision(city.reviewer, rev, "x")
    services.submit_revision(city.market_officer, rev)
    with pytest.raises(IllegalTransition):
        services.submit_revision(city.market_officer, rev)
    with pytest.raises(IllegalTransition):
        services.update_revision(city.market_officer, rev, payload(name="改名"))
    services.publish_revision(city.reviewer, rev)
    with pytest.raises(IllegalTransition):
        services.withdraw_revision(city.market_officer, rev)


def test_provider_cannot_publish_its_own_entry(city, payload):
    rev = services.create_resource(city.market_officer, payload())
    services.submit_revision(city.market_officer, rev)
    with pytest.raises(PermissionDenied):
        services.publish_revision(city.market_officer, rev)


def test_change_to_published_entry_is_new_version_with_diff(city, payload, published):  # R-CAT-05
    resource = published()
    rev = services.start_revision(city.market_officer, resource, "依据《市场主体登记管理条例》调整信息项")
    assert Resource.objects.get(pk=resource.pk).name == "企业营业执照信息"  # live entry untouched
    p = dict(rev.payload)
    p["items"] = [*p["items"], {"code": "zczb", "name": "注册资本", "data_type": "Y"}]
    p["update_cycle"] = "realtime"
    services.update_revision(city.market_officer, rev, p)
    with pytest.raises(IllegalTransition):
        services.start_revision(city.market_officer, resource, "再改一次")  # one open change at a time
    services.submit_revision(city.market_officer, rev)
    services.publish_revision(city.reviewer, rev)
    resource.refresh_from_db()
    assert resource.version == 2 and resource.update_cycle == "realtime"
    v2 = resource.versions.get(version=2)
    assert (
        v2.reason.startswith("依据")
        and v2.changed_by == city.market_officer
        and v2.approved_by == city.reviewer
    )
    changed = {d["field"]: d for d in v2.diff}
    assert changed["update_cycle"]["old"] == "daily" and changed["update_cycle"]["new"] == "realtime"
    assert "items.zczb" in changed


def test_narrowing_unconditional_needs_confirmation_and_is_recorded(city, payload, published):  # R-CAT-11
    resource = published()
    rev = services.start_revision(city.market_officer, resource, "调整共享范围")
    p = dict(rev.payload)
    p.update(
        share_type="conditional",
        share_condition="仅限登记监管用途",
        legal_basis="《市场主体登记管理条例》",
        open_type="none",
    )
    services.update_revision(city.market_officer, rev, p)
    services.submit_revision(city.market_officer, rev)
    rev.refresh_from_db()
    assert rev.narrows_unconditional
    with pytest.raises(Exception) as exc:
        services.publish_revision(city.reviewer, rev)
    assert exc.value.code == "narrowing_needs_confirmation"
    assert Resource.objects.get(pk=resource.pk).share_type == "unconditional"
    services.publish_revision(
        city.reviewer, rev, confirm_narrowing=True, narrowing_reason="经主管部门研究同意"
    )
    record = NarrowingRecord.objects.get(resource=resource)
    assert "无条件共享改为有条件共享" in record.description and record.approved_by == city.reviewer


def test_removing_item_from_unconditional_entry_is_narrowing(city, published):  # R-CAT-11
    resource = published()
    rev = services.start_revision(city.market_officer, resource, "删除法定代表人")
    p = dict(rev.payload)
    p["items"] = [it for it in p["items"] if it["code"] != "fddbr"]
    services.update_revision(city.market_officer, rev, p)
    services.submit_revision(city.market_officer, rev)
    rev.refresh_from_db()
    assert rev.narrows_unconditional


def test_shangrao_open_entry_is_automatically_unconditional(city, payload, settings):  # R-CAT-12
    settings.GOVSHARE_PROFILE = "shangrao"
    rev = services.create_resource(
        city.market_officer, payload(share_type="conditional", open_type="unconditional")
    )
    assert rev.payload["share_type"] == "unconditional"
    settings.GOVSHARE_PROFILE = "chenzhou"
    rev2 = services.create_resource(
        city.market_officer, payload(name="其他", share_type="conditional", open_type="unconditional")
    )
    assert rev2.payload["share_type"] == "conditional"


def test_retire_without_notice_period_is_immediate_and_notifies_users(city, published):  # R-CAT-15
    resource = published()
    demand = services.create_demand(city.civil_officer, service_item="低保审核", data_name="营业执照")
    services.link_supply(city.market_officer, demand, resource)
    services.retire_resource(city.market_officer, resource, "职能划转")
    resource.refresh_from_db()
    assert resource.status == "retired"
    assert Notification.objects.filter(department=city.civil, kind="catalog.retired").exists()
    assert search("营业执照").total == 0
    assert not Responsibility.objects.filter(resource=resource, until__isnull=True).exists()


def test_shangrao_retirement_waits_one_month_and_needs_authority(city, published, settings):  # R-CAT-15
    resource = published()
    demand = services.create_demand(city.civil_officer, service_item="低保审核", data_name="营业执照")
    services.link_supply(city.market_officer, demand, resource)
    settings.GOVSHARE_PROFILE = "shangrao"
    with pytest.raises(PermissionDenied):
        services.retire_resource(city.market_officer, resource, "职能划转")
    import datetime as dt

    from django.utils import timezone

    services.retire_resource(city.reviewer, resource, "职能划转")
    resource.refresh_from_db()
    assert resource.status == "retiring"
    today = timezone.localdate()
    assert resource.retire_effective_on >= today + dt.timedelta(days=28)
    notice = Notification.objects.get(department=city.civil, kind="catalog.retire_announced")
    assert resource.retire_effective_on.isoformat() in notice.title
    assert services.apply_due_changes(today)["retired"] == 0
    assert search("营业执照").total == 1  # still usable during the notice period
    assert services.apply_due_changes(resource.retire_effective_on)["retired"] == 1
    resource.refresh_from_db()
    assert resource.status == "retired"


def test_shangrao_change_is_scheduled_after_notice(city, published, settings):  # R-CAT-15
    resource = published()
    settings.GOVSHARE_PROFILE = "shangrao"
    rev = services.start_revision(city.market_officer, resource, "更新周期调整")
    p = dict(rev.payload, update_cycle="weekly")
    services.update_revision(city.market_officer, rev, p)
    services.submit_revision(city.market_officer, rev)
    services.publish_revision(city.reviewer, rev)
    rev.refresh_from_db()
    assert rev.status == RevisionStatus.SCHEDULED and rev.effective_on
    assert Resource.objects.get(pk=resource.pk).update_cycle == "daily"
    services.apply_due_changes(rev.effective_on)
    assert Resource.objects.get(pk=resource.pk).update_cycle == "weekly"


def test_responsibility_list_follows_catalog(city, published):  # R-CAT-22
    resource = published()
    duties = set(
        Responsibility.objects.filter(resource=resource, until__isnull=True).values_list("duty", flat=True)
    )
    assert duties == {"provide", "share", "open"}
    rev = services.start_revision(city.market_officer, resource, "不再开放")
    services.update_revision(
        city.market_officer, rev, dict(rev.payload, open_type="none", legal_basis="《个人信息保护法》")
    )
    services.submit_revision(city.market_officer, rev)
    services.publish_revision(city.reviewer, rev)
    duties = set(
        Responsibility.objects.filter(resource=resource, until__isnull=True).values_list("duty", flat=True)
    )
    assert duties == {"provide", "share"}
    assert Responsibility.objects.filter(resource=resource, duty="open", until__isnull=False).exists()


def test_gap_report_and_supply_links(city, published):  # R-CAT-18, R-CAT-19
    from govshare.catalog.selectors import gap_report

    licence = published()
    unused = published(name="企业年报信息")
    met = services.create_demand(
        city.civil_officer, service_item="社会组织登记", data_name="营业执照", source_department=city.market
    )
    unmet = services.create_demand(city.civil_officer, service_item="低保审核", data_name="不动产登记信息")
    with pytest.raises(PermissionDenied):
        services.link_supply(city.police_officer, met, licence)  # only the provider confirms supply
    services.link_supply(city.market_officer, met, licence)
    demands, resources = gap_report()
    assert [d.pk for d in demands] == [unmet.pk]
    assert [r.pk for r in resources] == [unused.pk]


def test_negative_list_entry_only_in_force_after_review(city, published):  # R-CAT-20
    resource = published()
    item = resource.items.get(code="fddbr")
    with pytest.raises(ValidationFailed):
        services.propose_negative(city.market_officer, resource, "  ", item)
    entry = services.propose_negative(city.market_officer, resource, "《个人信息保护法》第二十八条", item)
    assert entry.status == "proposed"
    with pytest.raises(PermissionDenied):
        services.review_negative(city.market_officer, entry, True)
    with pytest.raises(ValidationFailed):
        services.review_negative(city.reviewer, entry, False, "")
    services.review_negative(city.reviewer, entry, True)
    entry.refresh_from_db()
    assert entry.status == "confirmed"
    with pytest.raises(IllegalTransition):
        services.review_negative(city.reviewer, entry, True)


def test_withdrawn_draft_leaves_no_live_entry(city, payload):
    rev = services.create_resource(city.market_officer, payload())
    services.withdraw_revision(city.market_officer, rev)
    assert ResourceRevision.objects.get(pk=rev.pk).status == RevisionStatus.WITHDRAWN
    assert search("").total == 0


def test_entry_with_an_open_change_cannot_be_retired(city, published):  # review finding: no resurrection
    resource = published()
    rev = services.start_revision(city.market_officer, resource, "调整")
    services.submit_revision(city.market_officer, rev)
    with pytest.raises(IllegalTransition) as exc:
        services.retire_resource(city.reviewer, resource, "职能划转")
    assert exc.value.code == "revision_open"
    services.withdraw_revision(city.market_officer, rev)
    services.retire_resource(city.reviewer, resource, "职能划转")
    assert Resource.objects.get(pk=resource.pk).status == "retired"


def test_classification_fixed_at_registration_and_draft_cannot_change_hands(city, payload):
    rev = services.create_resource(city.market_officer, payload())
    with pytest.raises(ValidationFailed) as exc:
        services.update_revision(city.market_officer, rev, payload(classification=city.theme.code))
    assert "immutable" in codes(exc.value)
    with pytest.raises(PermissionDenied):  # the police officer cannot take over the market regulator's draft
        services.update_revision(city.police_officer, rev, payload(provider=city.police.pk))
    rev.refresh_from_db()
    assert rev.payload["provider"] == city.market.pk


def test_withdrawal_cancels_the_authoritys_review_deadline(city, payload, settings):  # NX 22
    from govshare.supervision.models import Obligation

    settings.GOVSHARE_PROFILE = "neixiang"
    rev = services.create_resource(city.market_officer, payload())
    services.submit_revision(city.market_officer, rev)
    review = Obligation.objects.get(duty="catalog.review")
    services.withdraw_revision(city.market_officer, rev)
    review.refresh_from_db()
    assert review.status == "cancelled"


def test_one_failing_scheduled_change_does_not_block_the_others(city, published, settings, monkeypatch):
    settings.GOVSHARE_PROFILE = "shangrao"
    first, second = published(), published(name="企业年报信息")
    for resource in (first, second):
        rev = services.start_revision(city.market_officer, resource, "更新周期调整")
        services.update_revision(city.market_officer, rev, dict(rev.payload, update_cycle="weekly"))
        services.submit_revision(city.market_officer, rev)
        services.publish_revision(city.reviewer, rev)
    effective = ResourceRevision.objects.filter(status=RevisionStatus.SCHEDULED).first().effective_on
    real_apply = services._apply

    def flaky(revision, resource, *args, **kwargs):
        if resource.pk == first.pk:
            raise RuntimeError("disk full")
        return real_apply(revision, resource, *args, **kwargs)

    monkeypatch.setattr(services, "_apply", flaky)
    assert services.apply_due_changes(effective) == {"applied": 1, "retired": 0, "failed": 1}
    assert Resource.objects.get(pk=second.pk).update_cycle == "weekly"
    assert Resource.objects.get(pk=first.pk).update_cycle == "daily"
    monkeypatch.setattr(services, "_apply", real_apply)
    assert services.apply_due_changes(effective)["applied"] == 1  # retried on the next tick
