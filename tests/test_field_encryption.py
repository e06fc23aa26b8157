"""Sensitive items are sealed at rest and opened only where data is delivered (R-SEC-04, issue #6)."""

import base64
import hashlib
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from tests.conftest import PEOPLE_ITEMS
from tests.test_collect_load import A, B, C
from tests.test_sharing_gate import call, make_grant, url

from govshare.audit.models import AuditEvent
from govshare.catalog import services as catalog
from govshare.clients import services as clients
from govshare.collect.models import BatchError, Record, RecordHistory, Series
from govshare.collect.services import load_rows
from govshare.errors import DomainError
from govshare.security import fieldcrypt

K1 = base64.b64encode(b"a" * 32).decode()
K2 = base64.b64encode(b"b" * 32).decode()
SENSITIVE = {"sfzh", "sjhm"}
ROWS = [
    {"sfzh": A, "xm": "张三丰", "xb": "男", "csrq": "1980-01-01", "sjhm": "13812345678"},
    {"sfzh": B, "xm": "李四", "xb": "女", "csrq": "1990-02-15", "sjhm": "13912345678"},
    {"sfzh": C, "xm": "王五", "xb": "男", "csrq": "1949-12-31", "sjhm": "13812345678"},
]


@pytest.fixture(autouse=True)
def field_key(settings):
    settings.GOVSHARE_FIELD_KEY = f"k1:{K1}"


def sealed_items():
    return [it | {"is_sensitive": it["code"] in SENSITIVE} for it in PEOPLE_ITEMS]


@pytest.fixture
def sealed(city, published):
    resource = published(
        officer=city.police_officer, name="户籍人口（敏感）", provider=city.police.pk, items=sealed_items()
    )
    assert load_rows(resource, ROWS, actor=city.police_officer).batch.inserted == 3
    return resource


@pytest.fixture
def civil(city):
    system = clients.register_client(city.civil_officer, "低保审核系统", "dibao")
    _, token = clients.issue_credential(city.civil_officer, system)
    return system, token


def raw_rows(resource):
    with connection.cursor() as cur:
        cur.execute("SELECT key, data FROM collect_record WHERE resource_id = %s", [resource.pk])
        return [(k, str(d)) for k, d in cur.fetchall()]


def test_the_database_holds_no_sensitive_value_in_the_clear(sealed):  # R-SEC-04
    stored = raw_rows(sealed)
    assert len(stored) == 3
    dump = " ".join(k + d for k, d in stored)
    for value in (A, B, C, "13812345678", "13912345678"):
        assert value not in dump
    assert "张三丰" in dump  # items not marked 敏感 stay plain (quality, search and conflicts read them)
    assert all(len(k) == fieldcrypt.BLIND_LEN for k, _ in stored)  # the key is a blind index
    # and the row digest is keyed: a bare SHA-256 of the plain row would let a dump test guesses
    text = '{"sfzh":"' + A + '","xm":"张三丰","xb":"男","csrq":"1980-01-01","sjhm":"13812345678"}'
    digests = set(Record.objects.filter(resource=sealed).values_list("digest", flat=True))
    assert hashlib.sha256(text.encode()).hexdigest() not in digests


def test_a_reload_of_the_same_rows_changes_nothing(city, sealed):  # R-COL-09
    before = raw_rows(sealed)
    out = load_rows(sealed, ROWS, actor=city.police_officer)
    assert (out.batch.inserted, out.batch.updated, out.batch.unchanged) == (0, 0, 3)
    assert raw_rows(sealed) == before


def test_the_gate_finds_by_sealed_key_and_sealed_index_and_returns_plain_masked_values(city, sealed, civil):
    system, token = civil
    make_grant(city, sealed, system, items=["sfzh", "xm", "sjhm"], masks={"sfzh": "keep:6:4"})
    r = call(token, "get", url(sealed, "records"), data={"公民身份号码": A})
    assert r.status_code == 200, r.content
    assert r.json()["records"] == [
        {"sfzh": A[:6] + "********" + A[-4:], "xm": "张三丰", "sjhm": "13812345678"}
    ]
    by_phone = call(token, "get", url(sealed, "records"), data={"sjhm": "13812345678"}).json()
    assert sorted(rec["xm"] for rec in by_phone["records"]) == ["张三丰", "王五"]
    assert call(token, "get", url(sealed, "records"), data={"sjhm": "13800000000"}).json()["count"] == 0
    v = call(
        token, "post", url(sealed, "verify"), data={"items": {"公民身份号码": B, "手机号码": "13912345678"}}
    )
    assert v.json()["match"] is True


def test_the_served_fast_route_looks_a_sealed_key_up_by_its_blind_index(city, sealed, civil):
    """As deployed, the record read with the credential is under the plain key, which a sealed resource
    does not store; the lookup then asks by the blind index itself.  # R-SEC-04, R-SHARE-20"""
    from tests.test_sharing_fast import bearer, wsgi

    from govshare.wsgi import make_application

    system, token = civil
    make_grant(city, sealed, system, items=["sfzh", "xm"], masks={})
    app = make_application()
    status, _, content = wsgi(app, "GET", url(sealed, "records"), query=f"sfzh={A}", headers=bearer(token))
    assert status == 200 and json.loads(content)["records"] == [{"sfzh": A, "xm": "张三丰"}]
    body = {"items": {"公民身份号码": B, "姓名": "李四"}}
    status, _, content = wsgi(app, "POST", url(sealed, "verify"), body=body, headers=bearer(token))
    assert status == 200 and json.loads(content)["match"] is True


def test_change_feed_and_deletes_name_the_record_by_its_plain_key(city, sealed, civil):  # R-SHARE-13
    system, token = civil
    make_grant(city, sealed, system, items=["sfzh", "xm"])
    first = call(token, "get", url(sealed, "changes"), data={"cursor": 0}).json()
    assert sorted(c["record"]["sfzh"] for c in first["changes"]) == sorted([A, B, C])
    load_rows(sealed, [], deletes=[C], actor=city.police_officer)
    nxt = call(token, "get", url(sealed, "changes"), data={"cursor": first["cursor"]}).json()
    assert [(c["op"], c["record"]) for c in nxt["changes"]] == [("delete", {"sfzh": C})]


def test_the_provider_reads_its_own_records_opened_and_the_read_is_audited(city, sealed):  # R-SEC-05
    c = Client()
    c.force_login(city.police_officer)
    r = c.get(f"/api/v1/collect/{sealed.code}/records/{A}")
    assert r.status_code == 200, r.content
    assert r.json()["key"] == A and r.json()["data"]["sjhm"] == "13812345678"
    listed = c.get(f"/api/v1/collect/{sealed.code}/records").json()["records"]
    assert sorted(x["key"] for x in listed) == sorted([A, B, C])
    assert AuditEvent.objects.filter(action="collect.records.read", object_id=str(sealed.pk)).count() == 2
    page = c.get(f"/collect/{sealed.code}/")
    assert page.status_code == 200
    assert "13812345678" not in page.content.decode()  # the page preview shows sensitive items masked


def test_a_token_copied_onto_another_record_is_refused_not_served_and_audited(city, sealed, civil):
    system, token = civil
    make_grant(city, sealed, system, items=["sfzh", "sjhm"])
    a = Record.objects.get(resource=sealed, key=_blind(A))
    b = Record.objects.get(resource=sealed, key=_blind(B))
    b.data = b.data | {"sjhm": a.data["sjhm"]}
    b.save(update_fields=["data"])
    r = call(token, "get", url(sealed, "records"), data={"公民身份号码": B})
    assert r.status_code == 500 and r.json()["code"] == "sealed_value_unreadable"
    assert "13812345678" not in r.content.decode()
    ev = AuditEvent.objects.filter(action="share.records").order_by("-seq").first()
    assert ev.result == "error" and ev.detail["reason"] == "sealed_value_unreadable"


def test_lookups_accept_the_number_as_people_type_it(city, sealed, civil):  # R-SHARE-10
    system, token = civil
    make_grant(city, sealed, system, items=["sfzh", "xm"])
    lower = C.lower()  # 11010519491231002x: the loader stored it upper-cased
    assert (
        call(token, "get", url(sealed, "records"), data={"公民身份号码": f" {lower} "}).json()["count"] == 1
    )


def _blind(value):
    from govshare.security import fields

    return fields.cipher().blind(value)


def test_marking_an_item_sensitive_later_reseals_rows_already_loaded(
    city, published, civil, django_capture_on_commit_callbacks
):  # R-SEC-04
    resource = published(
        officer=city.police_officer, name="户籍人口", provider=city.police.pk, items=PEOPLE_ITEMS
    )
    load_rows(resource, ROWS, actor=city.police_officer)
    load_rows(resource, [ROWS[0] | {"xm": "张三"}], actor=city.police_officer)  # one earlier value in history
    rev = catalog.start_revision(city.police_officer, resource, "标记敏感项")
    catalog.update_revision(city.police_officer, rev, rev.payload | {"items": sealed_items()})
    catalog.submit_revision(city.police_officer, rev)
    with django_capture_on_commit_callbacks(execute=True):
        catalog.publish_revision(city.reviewer, rev)  # queues the reseal task, run at once in tests
    dump = " ".join(k + d for k, d in raw_rows(resource))
    assert A not in dump and "13812345678" not in dump
    history = list(RecordHistory.objects.filter(resource=resource).values_list("key", "data"))
    assert history and all(A not in k + str(d) for k, d in history)
    system, token = civil
    make_grant(city, resource, system, items=["sfzh", "xm", "sjhm"])
    assert (
        call(token, "get", url(resource, "records"), data={"公民身份号码": A}).json()["records"][0]["xm"]
        == "张三"
    )
    assert call(token, "get", url(resource, "records"), data={"sjhm": "13912345678"}).json()["count"] == 1
    assert not Series.objects.get(resource=resource).reseal_pending  # loads may go on


def test_loads_wait_while_rows_are_resealed_and_unmarking_opens_them_again(city, sealed, civil):  # R-SEC-04
    series = Series.objects.get(resource=sealed)
    Series.objects.filter(pk=series.pk).update(reseal_pending=True)
    with pytest.raises(DomainError) as exc:
        load_rows(sealed, [ROWS[0] | {"xm": "张三"}], actor=city.police_officer)
    assert exc.value.code == "reseal_pending" and exc.value.status == 409
    Series.objects.filter(pk=series.pk).update(reseal_pending=False)
    # the marks come off: until the reseal ran, readers already open the old tokens
    system, token = civil
    make_grant(city, sealed, system, items=["sfzh", "sjhm"])
    rev = catalog.start_revision(city.police_officer, sealed, "取消敏感标记")
    catalog.update_revision(city.police_officer, rev, rev.payload | {"items": PEOPLE_ITEMS})
    catalog.submit_revision(city.police_officer, rev)
    catalog.publish_revision(city.reviewer, rev)
    dump = " ".join(k + d for k, d in raw_rows(sealed))
    assert A in dump and "ENC1." not in dump  # plain again, keyed by the number again
    body = call(token, "get", url(sealed, "records"), data={"公民身份号码": A}).json()
    assert body["records"] == [{"sfzh": A, "sjhm": "13812345678"}]
    sealed.refresh_from_db()
    assert load_rows(sealed, ROWS, actor=city.police_officer).batch.unchanged == 3


def test_key_rotation_then_reseal_moves_every_value_to_the_new_key(city, sealed, civil, settings):
    settings.GOVSHARE_FIELD_KEY = f"k2:{K2},k1:{K1}"
    call_command("reseal", sealed.code, stdout=open("/dev/null", "w"))
    tokens = [
        v for _, d in Record.objects.filter(resource=sealed).values_list("key", "data") for v in d.values()
    ]
    sealed_tokens = [t for t in tokens if fieldcrypt.is_sealed(t)]
    assert len(sealed_tokens) == 6 and {fieldcrypt.token_key(t) for t in sealed_tokens} == {"k2"}
    system, token = civil
    make_grant(city, sealed, system, items=["sfzh", "xm"])
    # k1 may now be dropped, provided the blind index keeps its key (it came from k1, the oldest listed)
    settings.GOVSHARE_FIELD_KEY, settings.GOVSHARE_FIELD_INDEX_KEY = f"k2:{K2}", K1
    assert call(token, "get", url(sealed, "records"), data={"公民身份号码": A}).json()["count"] == 1
    assert AuditEvent.objects.filter(action="collect.resource.reseal").exists()


def test_bad_rows_report_masks_sensitive_values(city, sealed):  # R-SEC-04
    out = load_rows(sealed, [ROWS[0] | {"sfzh": "430102199913321234"}], actor=city.police_officer)
    assert out.batch.status == "rejected"
    values = list(BatchError.objects.filter(batch=out.batch).values_list("value", flat=True))
    assert values and all("430102199913321234" not in v for v in values)


def test_a_doubt_on_a_sealed_record_is_raised_and_shown_by_the_number_people_know(
    city, sealed, civil
):  # R-CORR-01
    from govshare.corrections.services import raise_ticket

    system, _ = civil
    make_grant(city, sealed, system, items=["sfzh", "xm"], masks={"sfzh": "keep:6:4"})
    ticket = raise_ticket(
        city.civil_officer, resource=sealed, record_key=A, items=["xm"], description="姓名有误"
    )
    assert ticket.record_key == _blind(A)  # stored as the records are: blinded
    assert A not in ticket.record_label  # the reporter's label is masked per the grant
    c = Client()
    c.force_login(city.police_officer)
    shown = c.get(f"/api/v1/corrections/{ticket.pk}").json()
    assert shown["record_key"] == A  # the provider reads its own key back
