"""The collection API: JSON batches and file uploads, idempotency, reports, reading back (issue #4)."""

import io

import pytest
from django.test import Client
from tests.test_collect_load import A, B

from govshare.collect.models import Batch, Record


@pytest.fixture
def police(city):
    c = Client()
    c.force_login(city.police_officer)
    return c


def url(resource, tail):
    return f"/api/v1/collect/{resource.code}/{tail}"


def test_push_commits_and_reports_sequence(city, people, police):  # R-COL-01
    r = police.post(
        url(people, "records"),
        {"upserts": [{"公民身份号码": A, "姓名": "张三"}, {"sfzh": B, "xm": "李四", "csrq": "19900215"}]},
        content_type="application/json",
        headers={"Idempotency-Key": "push-1"},
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["inserted"], body["seq_from"], body["seq_to"], body["last_seq"]) == (2, 1, 2, 2)
    again = police.post(
        url(people, "records"),
        {"upserts": [{"公民身份号码": A, "姓名": "张三"}, {"sfzh": B, "xm": "李四", "csrq": "19900215"}]},
        content_type="application/json",
        headers={"Idempotency-Key": "push-1"},
    )
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["id"] == body["id"]
    assert Batch.objects.count() == 1
    changes = police.get(url(people, "records") + "?cursor=1").json()
    assert [x["key"] for x in changes["records"]] == [B]
    assert changes["records"][0]["data"]["csrq"] == "1990-02-15"


def test_rejected_batch_answers_422_with_every_problem(city, people, police):  # R-COL-04
    r = police.post(
        url(people, "records"),
        {"upserts": [{"sfzh": A, "xm": "张三"}, {"sfzh": "431002198001010010", "xm": ""}]},
        content_type="application/json",
    )
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "batch_rejected"
    problems = {(p["row"], p["item_code"], p["code"]) for p in body["detail"]["batch"]["errors"]}
    assert problems == {(1, "sfzh", "check_digit"), (1, "xm", "required")}
    assert not Record.objects.exists()
    report = police.get(f"/api/v1/collect/batches/{body['detail']['batch']['id']}/report.csv")
    assert report.status_code == 200
    text = report.content.decode("utf-8-sig")
    assert "校验码错误" in text and "姓名" in text


def test_unknown_column_is_refused_by_name(city, people, police):
    r = police.post(
        url(people, "records"), {"upserts": [{"sfzh": A, "工资": "1"}]}, content_type="application/json"
    )
    assert r.status_code == 422
    assert r.json()["code"] == "unknown_column" and "工资" in r.json()["message"]


def test_gbk_csv_upload_is_detected_and_loaded(city, people, police):  # R-COL-04
    text = f"公民身份号码,姓名,性别\n{A},张三,男\n{B},李四,女\n"
    f = io.BytesIO(text.encode("gbk"))
    f.name = "people.csv"
    r = police.post(url(people, "files"), {"file": f, "mode": "upsert"})
    assert r.status_code == 201, r.content
    assert r.json()["encoding"] == "gb18030"
    assert Record.objects.get(key=B).data["xm"] == "李四"


def test_other_department_cannot_push_or_read(city, people):
    c = Client()
    c.force_login(city.market_officer)
    r = c.post(url(people, "records"), {"upserts": [{"sfzh": A, "xm": "x"}]}, content_type="application/json")
    assert r.status_code == 403
    assert c.get(url(people, "records")).status_code == 403


def test_client_system_token_pushes_for_its_department(city, people):
    from govshare.clients import services as clients

    system = clients.register_client(
        city.police_officer, name="人口库同步", code="hukou-sync", description=""
    )
    _, token = clients.issue_credential(city.police_officer, system, label="sync", valid_days=30)
    c = Client()
    r = c.post(
        url(people, "records"),
        {"upserts": [{"sfzh": A, "xm": "张三"}]},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 201, r.content
    assert Batch.objects.get().client_label
    other = clients.register_client(city.market_officer, name="市场系统", code="market-sys", description="")
    _, token2 = clients.issue_credential(city.market_officer, other, label="x", valid_days=30)
    r2 = c.post(
        url(people, "records"),
        {"upserts": [{"sfzh": B, "xm": "李四"}]},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token2}"},
    )
    assert r2.status_code == 404


def test_batch_list_limit_out_of_range_is_clamped(city, people, police):  # R-COL-04
    # Found by tests/test_api_fuzz.py: a negative limit sliced the query backwards and answered 500.
    police.post(
        url(people, "records"), {"upserts": [{"sfzh": A, "xm": "张三"}]}, content_type="application/json"
    )
    for limit in (-1, 0, -(2**62)):
        r = police.get(url(people, "batches"), {"limit": limit})
        assert r.status_code == 200, r.content[:200]
        assert len(r.json()) == 1
