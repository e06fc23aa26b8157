"""Batch export through the gate: files hold exactly the granted, masked, in-scope rows (R-SHARE-13)."""

import csv
import hashlib
import io
import time

import pyarrow.parquet as pq
import pytest
from django.core import signing
from python_calamine import CalamineWorkbook
from tests import test_sharing_gate as g
from tests.test_collect_load import A, B, C

from govshare.audit.models import AuditEvent
from govshare.sharing.models import ExportJob, ExportStatus, GrantStatus

loaded = g.loaded
systems = g.systems
call, url, make_grant = g.call, g.url, g.make_grant

# The grant used throughout: three items, two masked, men only (A and C, not B).
GRANT = {
    "items": ["sfzh", "xm", "xb"],
    "masks": {"sfzh": "keep:6:4", "xm": "keep:1:0"},
    "row_filter": [{"item": "xb", "op": "eq", "values": ["男"]}],
    "methods": ["query", "batch"],
}
HEADER = ["公民身份号码", "姓名", "性别"]
EXPECTED = sorted(
    [
        [A[:6] + "********" + A[-4:], "张**", "男"],
        [C[:6] + "********" + C[-4:], "王*", "男"],
    ]
)


@pytest.fixture(autouse=True)
def media(media):  # every test here writes files: into the throwaway directory
    return media


def export(token, resource, fmt="csv", items=None, headers=None):
    data = {"format": fmt}
    if items is not None:
        data["items"] = items
    return call(token, "post", url(resource, "exports"), data=data, headers=headers or {})


def status(token, resource, job_id):
    return call(token, "get", url(resource, f"exports/{job_id}"))


def download(link):
    r = g.Client().get(link)
    # Reading the stream to its end closes the response (and the file) the way the test client wants.
    body = b"".join(r.streaming_content) if r.status_code == 200 else r.content
    return r, body


def events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def test_csv_export_holds_the_granted_masked_in_scope_rows(city, loaded, systems):  # R-SHARE-13
    grant = make_grant(city, loaded, systems["civil"], **GRANT)
    r = export(systems["civil_token"], loaded, headers={"X-Case-Id": "BJ-2026-007"})
    assert r.status_code == 202, r.content
    queued = r.json()
    assert queued["status_url"].endswith(f"/api/v1/share/{loaded.code}/exports/{queued['id']}")
    s = status(systems["civil_token"], loaded, queued["id"])
    assert s.status_code == 200, s.content
    body = s.json()
    assert (body["status"], body["rows"], body["grant"]) == ("done", 2, grant.number)
    assert body["download_url"] and body["expires_at"]

    r, content = download(body["download_url"])
    assert r.status_code == 200
    assert r["Content-Type"] == "text/csv; charset=utf-8"
    assert f"{loaded.code.replace('/', '_')}-{grant.number}.csv" in r["Content-Disposition"]
    assert content.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens the Chinese header intact
    assert hashlib.sha256(content).hexdigest() == body["sha256"]
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == HEADER
    assert sorted(rows[1:]) == EXPECTED
    text = content.decode("utf-8-sig")
    assert "李四" not in text and B[:6] + "********" + B[-4:] not in text and A not in text

    # The request, the finished export and the download are each audited in the gate's format.
    queued_ev, done_ev = events("share.export")
    assert (queued_ev.result, queued_ev.detail["stage"], queued_ev.detail["returned"]) == ("ok", "queued", 0)
    assert (done_ev.result, done_ev.detail["stage"], done_ev.detail["returned"]) == ("ok", "done", 2)
    assert done_ev.detail["items"] == "sfzh,xm,xb" and done_ev.detail["sha256"] == body["sha256"]
    assert done_ev.object_id == str(grant.pk) and done_ev.case_id == "BJ-2026-007"
    assert done_ev.client_system == "dibao" and done_ev.department_id == city.civil.pk
    (dl,) = events("share.download")
    assert (dl.result, dl.detail["returned"], dl.detail["method"]) == ("ok", 2, "batch")
    assert dl.client_system == "dibao" and dl.case_id == "BJ-2026-007"


@pytest.mark.parametrize("fmt", ["xlsx", "parquet"])
def test_xlsx_and_parquet_hold_the_same_rows_as_text(city, loaded, systems, fmt):  # R-SHARE-13
    grant = make_grant(city, loaded, systems["civil"], **GRANT)
    job_id = export(systems["civil_token"], loaded, fmt).json()["id"]
    body = status(systems["civil_token"], loaded, job_id).json()
    r, content = download(body["download_url"])
    assert r.status_code == 200
    assert r["Content-Disposition"].endswith(f'{grant.number}.{fmt}"')
    if fmt == "xlsx":
        assert r["Content-Type"].startswith("application/vnd.openxmlformats")
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_name("数据").to_python()
        header, rows = sheet[0], [list(map(str, row)) for row in sheet[1:]]
    else:
        table = pq.read_table(io.BytesIO(content))
        assert all(str(f.type) == "string" for f in table.schema)
        header = table.column_names
        rows = [list(r.values()) for r in table.to_pylist()]
    assert header == HEADER
    assert sorted(rows) == EXPECTED


def test_export_of_chosen_items_only_and_never_beyond_the_grant(city, loaded, systems):  # R-SHARE-13
    make_grant(city, loaded, systems["civil"], **GRANT)
    job_id = export(systems["civil_token"], loaded, items=["姓名"]).json()["id"]
    r, content = download(status(systems["civil_token"], loaded, job_id).json()["download_url"])
    assert list(csv.reader(io.StringIO(content.decode("utf-8-sig")))) == [
        ["姓名"],
        ["王*"],
        ["张**"],
    ]  # key order

    r = export(systems["civil_token"], loaded, items=["xm", "sjhm"])
    assert r.status_code == 403 and r.json()["code"] == "item_not_granted"
    assert ExportJob.objects.count() == 1
    bad = export(systems["civil_token"], loaded, fmt="pdf")
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_format"


def test_export_needs_the_batch_method(city, loaded, systems):  # R-SHARE-13, R-SHARE-14
    grant = make_grant(city, loaded, systems["civil"], methods=["query", "verify"])
    r = export(systems["civil_token"], loaded)
    assert r.status_code == 403 and r.json()["code"] == "method_not_granted"
    assert not ExportJob.objects.exists()
    ev = AuditEvent.objects.order_by("-seq").first()
    assert (ev.action, ev.result, ev.object_id, ev.detail["reason"]) == (
        "share.export",
        "denied",
        str(grant.pk),
        "method_not_granted",
    )


def test_another_client_systems_job_does_not_exist_for_it(city, loaded, systems):  # R-SEC-05
    make_grant(city, loaded, systems["civil"], **GRANT)
    make_grant(city, loaded, systems["market"], **GRANT)
    job_id = export(systems["civil_token"], loaded).json()["id"]
    r = status(systems["market_token"], loaded, job_id)
    assert r.status_code == 404 and r.json()["code"] == "export_not_found"
    assert "download_url" not in r.json()
    assert status(systems["civil_token"], loaded, job_id).status_code == 200


def test_a_grant_suspended_after_the_export_refuses_the_download(city, loaded, systems):  # R-SHARE-18
    grant = make_grant(city, loaded, systems["civil"], **GRANT)
    job_id = export(systems["civil_token"], loaded).json()["id"]
    link = status(systems["civil_token"], loaded, job_id).json()["download_url"]
    grant.status, grant.status_reason = GrantStatus.SUSPENDED, "超范围使用"
    grant.save()
    r, content = download(link)
    assert r.status_code == 403 and r.json()["code"] == "grant_suspended"
    assert "张" not in content.decode()
    ev = AuditEvent.objects.order_by("-seq").first()
    assert (ev.action, ev.result, ev.detail["reason"], ev.object_id) == (
        "share.download",
        "denied",
        "grant_suspended",
        str(grant.pk),
    )
    assert ev.client_system == "dibao"


def test_revoking_the_token_that_asked_kills_the_link(city, loaded, systems):  # R-SEC-05, R-SHARE-13
    make_grant(city, loaded, systems["civil"], **GRANT)
    job_id = export(systems["civil_token"], loaded).json()["id"]
    link = status(systems["civil_token"], loaded, job_id).json()["download_url"]
    assert download(link)[0].status_code == 200
    g._revoke(city, systems)
    r, content = download(link)
    assert r.status_code == 401 and r.json()["code"] == "token_revoked"
    assert "张" not in content.decode()
    ev = AuditEvent.objects.order_by("-seq").first()
    assert (ev.action, ev.result, ev.detail["reason"]) == ("share.download", "denied", "token_revoked")


def test_a_grant_suspended_before_the_job_runs_fails_the_job(city, loaded, systems, settings):  # R-SHARE-18
    from django_tasks import default_task_backend

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    grant = make_grant(city, loaded, systems["civil"], **GRANT)
    job_id = export(systems["civil_token"], loaded).json()["id"]
    waiting = status(systems["civil_token"], loaded, job_id).json()
    assert (waiting["status"], waiting["download_url"]) == ("queued", None)
    grant.status, grant.status_reason = GrantStatus.SUSPENDED, "超范围使用"
    grant.save()
    (queued,) = default_task_backend.results
    queued.task.call(*queued.args, **queued.kwargs)  # the worker picks it up now
    failed = status(systems["civil_token"], loaded, job_id).json()
    assert failed["status"] == "failed" and "已暂停" in failed["error"] and "超范围使用" in failed["error"]
    assert failed["download_url"] is None and failed["rows"] == 0
    ev = AuditEvent.objects.filter(action="share.export").order_by("-seq").first()
    assert (ev.result, ev.detail["reason"]) == ("denied", "grant_suspended")
    # A second run of the same task (a retry) does nothing.
    queued.task.call(*queued.args, **queued.kwargs)
    assert ExportJob.objects.get(pk=job_id).status == ExportStatus.FAILED


def test_an_expired_link_answers_410(city, loaded, systems, monkeypatch, settings):  # R-SHARE-13
    settings.GOVSHARE_EXPORT_TTL_HOURS = 24
    make_grant(city, loaded, systems["civil"], **GRANT)
    job_id = export(systems["civil_token"], loaded).json()["id"]
    # A link handed out 25 hours ago.
    past = signing.b62_encode(int(time.time()) - 25 * 3600)
    with monkeypatch.context() as m:
        m.setattr(signing.TimestampSigner, "timestamp", lambda self: past)
        old_link = status(systems["civil_token"], loaded, job_id).json()["download_url"]
    r, _ = download(old_link)
    assert r.status_code == 410 and r.json()["code"] == "export_link_expired"
    ev = AuditEvent.objects.order_by("-seq").first()
    assert (ev.action, ev.result, ev.detail["reason"]) == ("share.download", "denied", "export_link_expired")
    fresh = status(systems["civil_token"], loaded, job_id).json()["download_url"]
    assert download(fresh)[0].status_code == 200


def test_a_tampered_link_is_refused(city, loaded, systems):  # R-SEC-05
    make_grant(city, loaded, systems["civil"], **GRANT)
    job_id = export(systems["civil_token"], loaded).json()["id"]
    link = status(systems["civil_token"], loaded, job_id).json()["download_url"]
    token = link.rsplit("/", 1)[1]
    other = str(job_id + 1) + token[len(str(job_id)) :]
    r, _ = download(link.replace(token, other))
    assert r.status_code == 404 and r.json()["code"] == "export_link_invalid"
    assert AuditEvent.objects.order_by("-seq").first().detail["reason"] == "export_link_invalid"


# ---------------------------------------------------------------- the security matrix


@pytest.mark.parametrize(
    ("token_key", "status_code", "code"),
    [(None, 401, "not_authenticated"), ("market_token", 403, "no_grant")],
    ids=["no token", "another department's token"],
)
def test_refused_export_callers_get_nothing_and_are_audited(
    city, loaded, systems, token_key, status_code, code
):  # R-SEC-01, R-SEC-05
    make_grant(city, loaded, systems["civil"], **GRANT)
    before = AuditEvent.objects.count()
    r = export(systems[token_key] if token_key else None, loaded)
    assert r.status_code == status_code, r.content
    assert r.json()["code"] == code and "id" not in r.json()
    assert not ExportJob.objects.exists()
    assert AuditEvent.objects.count() == before + 1
    ev = AuditEvent.objects.order_by("-seq").first()
    assert (ev.action, ev.result, ev.detail["reason"], ev.detail["resource"]) == (
        "share.export",
        "denied",
        code,
        loaded.code,
    )
