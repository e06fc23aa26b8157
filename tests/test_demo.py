"""The demo city loads through the real services, is complete, and loads only once however often it runs."""

import pytest

from govshare.catalog import rules, services
from govshare.catalog.models import (
    Demand,
    NegativeListEntry,
    NegativeStatus,
    Resource,
    ResourceRevision,
    ResourceStatus,
    ResourceVersion,
    Responsibility,
    RevisionStatus,
    ShareType,
    SupplyLink,
)
from govshare.catalog.search import search
from govshare.notifications.models import Notification
from govshare.orgs.identifiers import validate_uscc
from govshare.orgs.models import Department, DepartmentKind, Region, Role, User
from govshare.web.demo import DEMO_PASSWORD, load_demo

pytestmark = pytest.mark.django_db

COUNTED = (Region, Department, User, Resource, ResourceRevision, ResourceVersion, Demand, SupplyLink,
           NegativeListEntry, Responsibility, Notification)  # fmt: skip


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


@pytest.fixture
def demo(settings):
    # Argon2 is deliberately slow; the hasher is not what these tests are about.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return load_demo()


def test_second_run_creates_nothing(demo):
    first = counts()
    again = load_demo()
    assert counts() == first
    assert again == demo


def test_summary_lists_one_account_per_role_first(demo):
    assert demo["message"].startswith("演示城市已就绪：郴州市")
    usernames = [a["username"] for a in demo["accounts"]]
    assert usernames[:7] == ["authority", "provider", "consumer", "head", "operator", "auditor", "evaluator"]
    assert len(usernames) == len(set(usernames))
    for account in demo["accounts"]:
        assert account["role"] and account["department"]


def test_every_role_has_an_account_that_can_log_in(demo):
    for role in Role.values:
        assert User.objects.filter(roles__role=role, is_active=True).exists(), role
    user = User.objects.get(username="authority")
    assert user.check_password(DEMO_PASSWORD)
    assert user.department.kind == DepartmentKind.AUTHORITY
    head = User.objects.get(username="head")
    assert head.department.head == head


def test_departments_are_valid_and_headed(demo):
    depts = list(Department.objects.all())
    assert len(depts) >= 20
    for dept in depts:
        assert validate_uscc(dept.uscc).valid, dept.name
        assert dept.head is not None, dept.name
        dept.full_clean()
    kinds = {d.kind for d in depts}
    assert {
        DepartmentKind.STATIONED_UNIT,
        DepartmentKind.PUBLIC_UTILITY,
        DepartmentKind.PARK_COMMITTEE,
        DepartmentKind.OPERATOR,
        DepartmentKind.PUBLIC_INSTITUTION,
    } <= kinds
    assert Department.objects.get(name="桂阳县政务服务和大数据管理局").region_id == "431021"
    assert Region.objects.filter(parent_id="431000").count() >= 11


def test_catalog_workflow_states(demo):
    live = Resource.objects.filter(status__in=[ResourceStatus.PUBLISHED, ResourceStatus.RETIRING])
    assert 35 <= live.count() <= 45
    assert ResourceRevision.objects.filter(status=RevisionStatus.SUBMITTED).count() == 1
    returned = ResourceRevision.objects.get(status=RevisionStatus.RETURNED)
    assert returned.comments.filter(action="return").exists()
    assert ResourceRevision.objects.filter(status=RevisionStatus.DRAFT).count() == 1
    changed = Resource.objects.get(name="个体工商户营业执照信息")
    assert changed.version == 2
    latest = changed.versions.get(version=2)
    assert "市场主体登记管理条例" in latest.reason
    assert {"items.jyzzs", "items.djzt"} <= {change["field"] for change in latest.diff}
    assert Notification.objects.filter(kind="catalog.changed", department__name="郴州市民政局").exists()


def test_every_published_entry_passes_the_publishing_rules(demo):
    ctx = services.rule_context()
    for resource in Resource.objects.filter(status=ResourceStatus.PUBLISHED):
        snap = rules.normalise(services.snapshot(resource), ctx)
        assert rules.publish_errors(snap) == [], resource.name
        assert resource.versions.filter(version=resource.version).exists()
        assert resource.responsibilities.filter(until__isnull=True).exists()


def test_not_shared_entries_are_on_the_negative_list(demo):
    none = Resource.objects.filter(status=ResourceStatus.PUBLISHED, share_type=ShareType.NONE)
    assert 3 <= none.count() <= 4
    for resource in none:
        assert resource.negative_entries.filter(status=NegativeStatus.CONFIRMED, item__isnull=True).exists()
    pending = NegativeListEntry.objects.get(status=NegativeStatus.PROPOSED)
    assert pending.item is not None


def test_demands_with_supplies_and_gaps(demo):
    assert Demand.objects.count() >= 12
    assert Demand.objects.values("department").distinct().count() >= 5
    unmet = Demand.objects.filter(supplies__isnull=True)
    assert 2 <= unmet.count() <= 3
    demanded = set(SupplyLink.objects.values_list("resource_id", flat=True))
    assert Resource.objects.filter(status=ResourceStatus.PUBLISHED).exclude(pk__in=demanded).exists()


def test_search_ranks_the_business_licence_first(demo):
    licence = Resource.objects.get(name="企业营业执照信息")
    assert search("营业执照").ids[0] == licence.pk


def test_demo_has_shared_data_a_grant_and_a_pending_application(demo):  # R-SHARE-10
    from django.test import Client

    from govshare.collect.models import Record
    from govshare.sharing.models import ApplicationStatus, Grant, ShareApplication
    from govshare.web.demo_sharing import demo_credential

    assert Record.objects.filter(deleted=False, resource__provider__name="郴州市公安局").count() == 600
    assert Grant.objects.count() == 1
    assert ShareApplication.objects.filter(status=ApplicationStatus.PENDING).count() == 1
    _, token, example = demo_credential()
    got = Client().get(example, headers={"Authorization": f"Bearer {token}"})
    assert got.status_code == 200 and got.json()["count"] == 1
    assert got.json()["records"][0]["hjdz"].endswith("*")  # the address is masked as granted
    _, second, _ = demo_credential()
    stale = Client().get(example, headers={"Authorization": f"Bearer {token}"})
    assert stale.status_code == 401 and stale.json()["code"] == "token_revoked"
    assert second != token


def test_demo_has_a_correction_under_verification(demo):  # R-CORR-03, R-CORR-07
    from django.test import Client

    from govshare.corrections.models import CorrectionTicket, TicketStatus
    from govshare.supervision.models import Obligation
    from govshare.web.demo_sharing import demo_credential

    ticket = CorrectionTicket.objects.get()
    assert ticket.status == TicketStatus.VERIFYING and ticket.evidence.count() == 1
    assert Obligation.objects.get(subject_id=str(ticket.pk), duty="corrections.verify").due_on is not None
    _, token, example = demo_credential()
    # 公民身份号码 is sealed in the demo (敏感): the ticket keeps the stored blind index, a caller the number
    from govshare.collect.models import Record
    from govshare.collect.selectors import opened

    record = Record.objects.get(resource=ticket.resource, key=ticket.record_key)
    number = opened(ticket.resource, [record])[0].key
    assert len(number) == 18 and number != ticket.record_key
    path = example.split("?")[0] + f"?gmsfhm={number}"
    info = Client().get(path, headers={"Authorization": f"Bearer {token}"}).json()["record_info"]
    assert info == [{"ref": info[0]["ref"], "under_verification": True, "ticket": ticket.number}]


def test_demo_opens_a_dataset_the_citizen_can_download(demo):  # R-OPEN-05, R-OPEN-07
    from django.test import Client

    from govshare.opendata.models import OpenDataset
    from govshare.web.demo import DEMO_PASSWORD

    dataset = OpenDataset.objects.get()
    assert dataset.is_open and dataset.current.rows == 120 and dataset.reviews.count() == 1
    assert any(a["username"] == "citizen" for a in demo["accounts"])
    citizen = User.objects.get(username="citizen")
    assert citizen.check_password(DEMO_PASSWORD)
    c = Client()
    c.force_login(citizen)
    got = c.get(f"/open/datasets/{dataset.name}/download/1.csv")
    assert got.status_code == 200
    body = b"".join(got.streaming_content).decode("utf-8-sig")
    assert body.splitlines()[0].startswith("定点机构编码,机构名称") and len(body.splitlines()) == 121
