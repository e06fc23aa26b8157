"""Audit log pages, exports and the inspection package (issue "Tamper-evident audit trail"; R-SEC-05, R-SEC-07,
R-SEC-15, R-SEC-16, R-SUP-10)."""

import csv
import datetime as dt
import hashlib
import io
import json
import re
import subprocess
import sys
import zipfile

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from python_calamine import CalamineWorkbook
from tests.conftest import make_uscc
from tests.test_collect_load import A
from tests.test_sharing_gate import call, loaded, make_grant, systems, url  # noqa: F401 (fixtures)

from govshare.audit import inspection, listing, merkle, services
from govshare.audit.models import AuditEvent
from govshare.audit.verifier import verify_receipt
from govshare.clients import services as clients
from govshare.orgs.models import Department, Role, User
from govshare.security.models import RecoveryCode, TotpDevice
from govshare.sharing import services as sharing


@pytest.fixture(autouse=True)
def key_dir(settings, tmp_path):
    settings.GOVSHARE_AUDIT_KEY_DIR = tmp_path / "keys"
    return settings.GOVSHARE_AUDIT_KEY_DIR


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def text(response) -> str:
    return response.content.decode()


def shown(response) -> list[int]:
    """Sequence numbers of the rows in the events table, in page order."""
    html = text(response)
    start = html.index('id="audit-events"')
    return [int(s) for s in re.findall(r'data-seq="(\d+)"', html[start : html.index("</table>", start)])]


def csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.fixture
def auditor(city):
    dept = Department.objects.create(
        name="郴州市审计局", short_name="审计局", uscc=make_uscc(8), region=city.region, level="city"
    )
    return city.person("auditor", dept, Role.AUDITOR, full_name="审计人员")


@pytest.fixture
def shared(city, loaded, systems):
    """民政's grant on the police's 户籍人口, one call through the gate, and an unrelated market action."""
    grant = make_grant(city, loaded, systems["civil"], items=["sfzh", "xm"])
    r = call(systems["civil_token"], "get", url(loaded, "records"), data={"sfzh": A})
    assert r.status_code == 200
    call_event = AuditEvent.objects.get(action="share.records")
    market_event = AuditEvent.objects.get(action="clients.system.register", department_id=city.market.pk)
    return {"grant": grant, "call": call_event, "market": market_event}


# ---------------------------------------------------------------- who sees what


def test_provider_sees_calls_on_its_data_but_not_other_departments_business(city, shared):
    # R-SEC-05, R-SEC-07: the provider keeps the log of what others did with its data
    police = login(city.police_officer)
    page = police.get("/audit/")
    assert page.status_code == 200
    seqs = shown(page)
    assert shared["call"].seq in seqs  # caused by 民政's system, on the police's grant
    assert shared["market"].seq not in seqs  # 市场监管's own client system: none of the police's business
    own = AuditEvent.objects.filter(department_id=city.police.pk, action="catalog.resource.create").first()
    assert own.seq in seqs
    assert "审计日志" in text(page) and 'href="/audit/"' in text(page)  # in the navigation
    # The API answers from the same definition.
    api = police.get("/api/v1/audit/events", {"limit": 500}).json()
    api_seqs = {e["seq"] for e in api["items"]}
    assert shared["call"].seq in api_seqs and shared["market"].seq not in api_seqs
    # ...and so does the receipt: a party may ask, an outsider is told it does not exist
    services.seal_pending()
    assert police.get(f"/api/v1/audit/events/{shared['call'].seq}/receipt").status_code == 200
    assert police.get(f"/api/v1/audit/events/{shared['market'].seq}/receipt").status_code == 404


def test_consumer_sees_its_calls_and_the_providers_actions_on_its_grant(city, shared):  # R-SEC-05 (NX 33)
    sharing.suspend_grant(city.police_officer, shared["grant"], "核查调用用途")
    suspend = AuditEvent.objects.get(action="sharing.grant.suspend")
    seqs = shown(login(city.civil_officer).get("/audit/"))
    assert shared["call"].seq in seqs and suspend.seq in seqs
    assert shared["market"].seq not in seqs


def test_authority_and_auditor_see_every_department(city, shared, auditor):  # R-SUP-10
    for person in (city.reviewer, auditor):
        seqs = shown(login(person).get("/audit/"))
        assert shared["call"].seq in seqs and shared["market"].seq in seqs


def test_operator_actions_are_logged_and_visible_like_anyone_elses(city, operator):  # R-SEC-15
    c = login(operator)
    c.get("/audit/")
    viewed = AuditEvent.objects.filter(action="audit.events.view", actor=operator.username).get()
    assert viewed.department_name == "郴州市大数据中心"
    assert viewed.seq in shown(login(city.reviewer).get("/audit/"))
    assert viewed.seq not in shown(login(city.police_officer).get("/audit/"))
    # the operator has no wider view than its own department
    market = services.record("test.market", actor=city.market_officer)
    assert market.seq not in shown(c.get("/audit/"))


# ---------------------------------------------------------------- filters, pages, receipts


@pytest.fixture
def mixed(city):
    """Events of several kinds, made by the police officer."""
    made = {}
    made["ok"] = [services.record("test.alpha.one", actor=city.police_officer) for _ in range(4)]
    made["denied"] = [
        services.record(
            "test.alpha.two",
            actor=city.police_officer,
            result="denied",
            client_system="dibao",
            object_type="sharing.grant",
            object_id="77",
        )
        for _ in range(2)
    ]
    made["beta"] = [services.record("test.beta", actor=city.market_officer, detail={"formula": "=1+1"})]
    return made


def test_filters_narrow_the_list(city, mixed):  # R-SEC-05
    c = login(city.reviewer)
    ok = [e.seq for e in mixed["ok"]]
    denied = [e.seq for e in mixed["denied"]]
    assert set(shown(c.get("/audit/", {"action": "test.alpha"}))) == set(ok + denied)
    assert set(shown(c.get("/audit/", {"action": "test.alpha", "result": "denied"}))) == set(denied)
    assert set(shown(c.get("/audit/", {"actor": "market", "action": "test."}))) == {mixed["beta"][0].seq}
    assert set(shown(c.get("/audit/", {"client_system": "dibao"}))) == set(denied)
    assert set(shown(c.get("/audit/", {"object_type": "sharing.grant", "object_id": "77"}))) == set(denied)
    today = timezone.localdate()
    assert set(shown(c.get("/audit/", {"action": "test.", "since": today, "until": today}))) >= set(ok)
    assert shown(c.get("/audit/", {"action": "test.", "since": today + dt.timedelta(days=1)})) == []
    assert shown(c.get("/audit/", {"action": "test.", "until": today - dt.timedelta(days=1)})) == []
    extreme = c.get("/audit/", {"action": "test.", "since": "0001-01-01", "until": "9999-12-31"})
    assert set(shown(extreme)) >= set(ok + denied)  # the calendar's ends bound nothing, and break nothing
    bad = c.get("/audit/", {"since": "2025-13-40", "result": "maybe"})
    assert bad.status_code == 200 and "日期“2025-13-40”无效" in text(bad) and "结果“maybe”无效" in text(bad)
    # the authority may narrow to what concerns one department
    assert set(shown(c.get("/audit/", {"department": city.market.pk, "action": "test."}))) == {
        mixed["beta"][0].seq
    }


def test_keyset_pages_newest_first_without_gaps_or_repeats(city, mixed, monkeypatch):
    monkeypatch.setattr(listing, "PAGE_SIZE", 3)
    c = login(city.reviewer)
    expected = sorted((e.seq for group in mixed.values() for e in group), reverse=True)
    seen, path, pages = [], "/audit/?action=test.", 0
    while path:
        page = c.get(path)
        seen += shown(page)
        pages += 1
        more = re.search(r'href="\?([^"]*before=\d+)"', text(page))
        path = "/audit/?" + more.group(1).replace("&amp;", "&") if more else None
    assert seen == expected and pages == 3


def test_rows_show_sealing_and_link_their_receipt(city, mixed):  # R-SEC-05
    c = login(city.reviewer)
    seq = mixed["ok"][0].seq
    before = text(c.get("/audit/", {"action": "test.alpha.one"}))
    assert "未封存" in before and f"/api/v1/audit/events/{seq}/receipt" not in before
    services.seal_pending()
    after = text(c.get("/audit/", {"action": "test.alpha.one"}))
    assert "已封存" in after and f'href="/api/v1/audit/events/{seq}/receipt"' in after
    receipt = c.get(f"/api/v1/audit/events/{seq}/receipt").json()
    from govshare.audit import keys

    assert verify_receipt(receipt, keys.trusted_keys()).ok


def test_page_views_are_themselves_audited(city, mixed):  # R-SUP-10: every access is logged
    c = login(city.reviewer)
    c.get("/audit/", {"action": "test.alpha", "result": "denied"})
    ev = AuditEvent.objects.filter(action="audit.events.view").latest("seq")
    assert ev.actor == "reviewer"
    assert ev.detail["filter_action"] == "test.alpha" and ev.detail["filter_result"] == "denied"


# ---------------------------------------------------------------- export


def test_csv_export_has_the_filtered_rows_and_is_audited(city, mixed):  # R-SEC-05, R-SEC-07
    c = login(city.reviewer)
    r = c.get("/audit/export.csv", {"action": "test.alpha", "result": "denied"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = csv_rows(b"".join(r.streaming_content))
    assert [int(row["序号"]) for row in rows] == sorted((e.seq for e in mixed["denied"]), reverse=True)
    assert {row["结果"] for row in rows} == {"拒绝"} and {row["应用系统"] for row in rows} == {"dibao"}
    assert (
        rows[0]["时间（UTC，与回执一致）"]
        == services.event_dict(
            AuditEvent.objects.filter(seq=rows[0]["序号"]).values_list(*services.FIELDS).get()
        )["occurred_at"]
    )
    ev = AuditEvent.objects.filter(action="audit.events.export").latest("seq")
    assert ev.actor == "reviewer" and ev.detail["format"] == "csv" and ev.detail["rows"] == 2
    assert ev.detail["filter_result"] == "denied" and ev.detail["truncated"] is False


def test_csv_export_defuses_formulas(city, mixed):
    r = login(city.reviewer).get("/audit/export.csv", {"action": "test.beta"})
    (row,) = csv_rows(b"".join(r.streaming_content))
    assert row["详情（JSON）"] == '{"formula":"=1+1"}'  # inside JSON, never first in the cell


def test_xlsx_export_has_the_filtered_rows_and_is_audited(city, mixed, tmp_path):
    c = login(city.reviewer)
    r = c.get("/audit/export.xlsx", {"action": "test.alpha.one"})
    assert r.status_code == 200
    path = tmp_path / "audit.xlsx"
    path.write_bytes(b"".join(r.streaming_content))
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("审计日志").to_python()
    assert sheet[0][:2] == ["序号", "时间"]
    assert [int(row[0]) for row in sheet[1:]] == sorted((e.seq for e in mixed["ok"]), reverse=True)
    ev = AuditEvent.objects.filter(action="audit.events.export").latest("seq")
    assert ev.detail["format"] == "xlsx" and ev.detail["rows"] == 4


def test_export_is_capped_and_says_so(city, mixed, monkeypatch):
    monkeypatch.setattr(listing, "CSV_MAX_ROWS", 3)
    monkeypatch.setattr(listing, "XLSX_MAX_ROWS", 2)
    c = login(city.reviewer)
    assert "CSV 最多 3 条、Excel 最多 2 条" in text(c.get("/audit/"))
    rows = csv_rows(b"".join(c.get("/audit/export.csv", {"action": "test.alpha"}).streaming_content))
    assert len(rows) == 3
    ev = AuditEvent.objects.filter(action="audit.events.export").latest("seq")
    assert ev.detail["truncated"] is True and ev.detail["rows"] == 3


def test_officer_export_never_contains_other_departments_events(city, shared):  # R-SEC-07
    rows = csv_rows(b"".join(login(city.police_officer).get("/audit/export.csv").streaming_content))
    seqs = {int(row["序号"]) for row in rows}
    assert shared["call"].seq in seqs and shared["market"].seq not in seqs


def test_api_takes_the_same_filters(city, mixed):
    c = login(city.reviewer)
    got = c.get("/api/v1/audit/events", {"action": "test.alpha", "result": "denied"}).json()
    assert {e["seq"] for e in got["items"]} == {e.seq for e in mixed["denied"]}
    assert c.get("/api/v1/audit/events", {"result": "maybe"}).status_code == 422


# ---------------------------------------------------------------- inspection package (R-SEC-16)


def test_inspection_is_for_the_authority_and_auditors_only(city, auditor, operator):  # R-SEC-16, R-SUP-10
    for person in (city.police_officer, city.civil_officer, operator):
        c = login(person)
        assert c.get("/audit/inspection/").status_code == 403
        assert c.post("/audit/inspection/", {"body": "cac", "reference": "x"}).status_code == 403
        assert 'href="/audit/inspection/"' not in text(c.get("/audit/"))
    assert login(auditor).get("/audit/inspection/").status_code == 200
    assert login(city.reviewer).get("/audit/inspection/").status_code == 200
    assert AuditEvent.objects.filter(action="audit.inspection.export").count() == 0


def test_inspection_form_names_what_is_missing(city):
    r = login(city.reviewer).post("/audit/inspection/", {"since": "2026-02-30", "until": "", "body": ""})
    assert r.status_code == 422
    page = text(r)
    for message in ("起始日期“2026-02-30”无效", "请填写截止日期", "请选择检查机关", "请填写检查通知书文号"):
        assert message in page


def test_inspection_names_archived_segments_of_the_period(city, shared):  # R-SEC-16 with R-SEC-06
    from govshare.audit.models import ArchiveSegment

    today = timezone.localdate()
    ArchiveSegment.objects.create(
        first_seq=1,
        last_seq=2,
        count=2,
        sha256="a" * 64,
        file_name="audit/segment-1-2.jsonl.gz",
        cutoff=today + dt.timedelta(days=1),
        tree_size=2,
        root_hash="b" * 64,
    )
    zf, _ = _package(login(city.reviewer))
    manifest = json.loads(zf.read("manifest.json"))
    assert [s["file_name"] for s in manifest["archive_segments"]] == ["audit/segment-1-2.jsonl.gz"]
    assert "已超过在线保存期限并归档" in zf.read("README.txt").decode()


@pytest.fixture
def secrets_and_history(city, shared, systems):
    """A rotated and a revoked credential, a suspended grant, an expired one, a failed login and a second
    factor, so every part of the package has something in it and something it must never show."""
    civil = systems["civil"]
    first = civil.credentials.get()
    rotated, rotated_token = clients.rotate_credential(city.civil_officer, first)
    extra, extra_token = clients.issue_credential(city.civil_officer, civil, label="备用")
    clients.revoke_credential(city.civil_officer, extra, "不再使用")
    sharing.suspend_grant(city.police_officer, shared["grant"], "核查调用用途")
    today = timezone.localdate()
    old = make_grant(
        city,
        shared["grant"].resource,
        civil,
        valid_from=today - dt.timedelta(days=400),
        valid_until=today - dt.timedelta(days=30),
    )
    Client().post("/login/", {"username": "police", "password": "wrong-password-x"})
    device = TotpDevice.objects.create(
        user=city.market_officer, secret_encrypted="TOTP-SECRET-CIPHERTEXT-xyz", confirmed_at=timezone.now()
    )
    RecoveryCode.objects.create(user=city.market_officer, code_hash="f" * 64)
    services.seal_pending()
    return {
        "tokens": [systems["civil_token"], systems["market_token"], rotated_token, extra_token],
        "old_grant": old,
        "device": device,
        "rotated": rotated,
        "extra": extra,
    }


def _package(client, **overrides) -> tuple[zipfile.ZipFile, bytes]:
    today = timezone.localdate().isoformat()
    data = {"since": today, "until": today, "body": "cac", "reference": "郴网信检〔2026〕7号"}
    data.update(overrides)
    r = client.post("/audit/inspection/", data)
    assert r.status_code == 200, text(r)[:2000]
    assert r["Content-Type"] == "application/zip"
    raw = b"".join(r.streaming_content)
    return zipfile.ZipFile(io.BytesIO(raw)), raw


def test_inspection_package_contents_hashes_and_audit(city, shared, secrets_and_history, tmp_path):
    # R-SEC-16: logs, grants and security records for 网信, 保密 and 国家安全 inspections
    reviewer = login(city.reviewer)
    zf, _ = _package(reviewer)
    names = set(zf.namelist())
    assert names == {
        "README.txt",
        "manifest.json",
        "audit/events.csv",
        "audit/tree_heads.json",
        "audit/keys.json",
        "grants/grants.csv",
        "grants/status_changes.csv",
        "clients/client_systems.csv",
        "clients/credentials.csv",
        "security/accounts.csv",
        "security/login_events.csv",
        "security/lockouts.csv",
        "security/deploy_checks.json",
        *(f"verifier/{p.name}" for p in inspection.verifier_files()),
    }
    assert {"verifier/merkle.py", "verifier/verifier.py"} <= names
    manifest = json.loads(zf.read("manifest.json"))
    listed = {f["name"]: f for f in manifest["files"]}
    assert set(listed) == names - {"manifest.json"}
    for name, entry in listed.items():
        data = zf.read(name)
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"], name
    assert manifest["generated_by"]["username"] == "reviewer"
    assert (
        manifest["filter"]["inspecting_body"] == "cac"
        and manifest["filter"]["reference"] == "郴网信检〔2026〕7号"
    )
    assert manifest["tree_head"] == json.loads(zf.read("audit/tree_heads.json"))["latest"]
    assert manifest["tree_head"]["tree_size"] > 0

    # the export is an audit event that binds the file list
    event = AuditEvent.objects.get(action="audit.inspection.export")
    assert event.seq == manifest["audit_event"]["seq"] and event.actor == "reviewer"
    assert event.detail["body"] == "cac" and event.case_id == "郴网信检〔2026〕7号"
    digest = hashlib.sha256(merkle.canonical_bytes({"files": manifest["files"]})).hexdigest()
    assert event.detail["content_sha256"] == manifest["content_sha256"] == digest

    # grants in force during the period, with their suspension; the long-expired one is not among them
    grants = {row["授权编号"]: row for row in csv_rows(zf.read("grants/grants.csv"))}
    assert set(grants) == {shared["grant"].number}
    g = grants[shared["grant"].number]
    assert g["使用部门"] == "郴州市民政局" and g["提供部门"] == "郴州市公安局"
    assert (
        "dibao" in g["应用系统"] and "公民身份号码（sfzh）" in g["授权信息项"] and g["当前状态"] == "已暂停"
    )
    changes = csv_rows(zf.read("grants/status_changes.csv"))
    assert [(c["授权编号"], c["变更"], c["原因"]) for c in changes] == [
        (shared["grant"].number, "暂停", "核查调用用途")
    ]

    # events of the period, the delivery call among them
    events = {int(row["序号"]): row for row in csv_rows(zf.read("audit/events.csv"))}
    assert shared["call"].seq in events and events[shared["call"].seq]["封存"] == "已封存"

    # an inspector checks one of them with the verifier and keys from the package
    zf.extractall(tmp_path / "pkg")
    receipt = reviewer.get(f"/api/v1/audit/events/{shared['call'].seq}/receipt").json()
    assert receipt["event"]["occurred_at"] == events[shared["call"].seq]["时间（UTC，与回执一致）"]
    (tmp_path / "pkg" / "receipt.json").write_text(json.dumps(receipt, ensure_ascii=False), "utf-8")
    run = subprocess.run(
        [sys.executable, "verifier/verifier.py", "receipt.json", "--keys", "audit/keys.json"],
        cwd=tmp_path / "pkg",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0 and "VALID" in run.stdout, run.stdout + run.stderr

    # credentials' lifecycle, without the tokens
    creds = {row["凭证编号"]: row for row in csv_rows(zf.read("clients/credentials.csv"))}
    rotated, extra = secrets_and_history["rotated"], secrets_and_history["extra"]
    assert creds[rotated.display_prefix]["轮换自"].startswith("gs_")
    assert (
        creds[extra.display_prefix]["当前状态"] == "已吊销"
        and creds[extra.display_prefix]["吊销原因"] == "不再使用"
    )
    assert {row["系统编码"] for row in csv_rows(zf.read("clients/client_systems.csv"))} >= {"dibao", "qydj"}

    # security records
    accounts = {row["用户名"]: row for row in csv_rows(zf.read("security/accounts.csv"))}
    assert accounts["market"]["动态口令"] == "已启用" and accounts["market"]["未使用恢复码"] == "1"
    assert accounts["police"]["动态口令"] == "未设置"
    logins = csv_rows(zf.read("security/login_events.csv"))
    assert any(
        r["动作"] == "auth.login" and r["结果"] == "拒绝" and r["对象编号"] == "police" for r in logins
    )
    lockouts = csv_rows(zf.read("security/lockouts.csv"))
    assert any(r["用户名"] == "police" for r in lockouts)
    checks = json.loads(zf.read("security/deploy_checks.json"))
    assert "problems" in checks and checks["settings"]["GOVSHARE_PROFILE"]
    readme = zf.read("README.txt").decode()
    assert (
        "verifier/verifier.py receipt.json --keys audit/keys.json" in readme
        and "郴网信检〔2026〕7号" in readme
    )


def test_inspection_package_holds_no_secret(city, shared, secrets_and_history):  # R-SEC-16
    zf, raw = _package(login(city.reviewer))
    blob = b"\n".join(zf.read(n) for n in zf.namelist())
    secrets = list(secrets_and_history["tokens"])
    secrets += [h for h in clients.Credential.objects.values_list("secret_hash", flat=True)]
    secrets += [p for p in User.objects.values_list("password", flat=True) if p]
    secrets += ["TOTP-SECRET-CIPHERTEXT-xyz", "f" * 64]
    for secret in secrets:
        for form in (secret, secret[-24:]):  # a token's secret part alone, too (it is longer than 24)
            assert form.encode() not in blob, form[:12]
            assert form.encode() not in raw


def test_inspection_for_one_department_leaves_out_unrelated_business(city, shared, secrets_and_history):
    zf, _ = _package(login(city.reviewer), departments=[city.market.pk], body="secrecy", reference="保检-1")
    assert csv_rows(zf.read("grants/grants.csv")) == []
    seqs = {int(row["序号"]) for row in csv_rows(zf.read("audit/events.csv"))}
    assert shared["market"].seq in seqs and shared["call"].seq not in seqs
    systems = {row["系统编码"] for row in csv_rows(zf.read("clients/client_systems.csv"))}
    assert systems == {"qydj"}
    assert {row["部门"] for row in csv_rows(zf.read("security/accounts.csv"))} == {"郴州市市场监督管理局"}
    manifest = json.loads(zf.read("manifest.json"))
    assert manifest["filter"]["departments"] == [
        {"id": city.market.pk, "name": city.market.name, "uscc": city.market.uscc}
    ]
    assert AuditEvent.objects.get(action="audit.inspection.export").detail["departments"] == str(
        city.market.pk
    )


def test_auditor_may_generate_a_package(city, auditor, shared):  # R-SUP-10
    zf, _ = _package(login(auditor), body="audit", reference="审计-2026-01")
    assert json.loads(zf.read("manifest.json"))["generated_by"]["department"] == "郴州市审计局"
    assert AuditEvent.objects.get(action="audit.inspection.export").actor == "auditor"


def test_inspection_command_writes_the_same_package(city, shared, tmp_path):  # R-SEC-16
    out = tmp_path / "package.zip"
    today = timezone.localdate().isoformat()
    buf = io.StringIO()
    call_command(
        "audit-inspection",
        "--from",
        today,
        "--to",
        today,
        "--department",
        "郴州市公安局",
        "--body",
        "国家安全",
        "--ref",
        "国安检-3",
        "--out",
        str(out),
        stdout=buf,
    )
    assert "已生成" in buf.getvalue()
    zf = zipfile.ZipFile(out)
    manifest = json.loads(zf.read("manifest.json"))
    assert manifest["filter"]["inspecting_body"] == "national_security"
    assert manifest["generated_by"]["via"]
    assert {row["授权编号"] for row in csv_rows(zf.read("grants/grants.csv"))} == {shared["grant"].number}
    event = AuditEvent.objects.get(action="audit.inspection.export")
    assert event.actor == "" and event.detail["via"] == "cli" and event.seq == manifest["audit_event"]["seq"]
