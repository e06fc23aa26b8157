"""Mounting documents and provider interfaces behind catalog entries (issue #4; R-CAT-16, R-SHARE-15)."""

import hashlib
import json
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

pytestmark = pytest.mark.django_db

API = "/api/v1/mounts"

OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "营业执照查询接口", "version": "1.2"},
    "paths": {
        "/licenses/{uscc}": {
            "get": {"summary": "按统一社会信用代码查询营业执照", "responses": {"200": {"description": "ok"}}},
            "parameters": [{"name": "uscc", "in": "path", "required": True}],
        },
        "/licenses": {"post": {"operationId": "batchQuery", "responses": {"200": {"description": "ok"}}}},
    },
}


@pytest.fixture(autouse=True)
def media(media):  # every test here writes files: into the throwaway directory
    return media


@pytest.fixture
def file_resource(published):
    return published(
        name="企业年报公示文件",
        mount_kind="file",
        mount_ref="年报 PDF 汇编",
        format_category="document",
        format_type="PDF",
    )


@pytest.fixture
def interface_resource(published):
    return published(
        name="营业执照查询服务",
        mount_kind="interface",
        mount_ref="市场监管局营业执照查询接口",
        format_category="interface",
        format_type="REST",
    )


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def stored_files(root):
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def upload(client, resource, name, content, note=""):
    return client.post(
        f"{API}/{resource.code}/files", {"file": SimpleUploadedFile(name, content), "note": note}
    )


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


# ---------------------------------------------------------------- files


def test_each_upload_is_a_new_version_and_old_versions_keep_their_bytes(city, file_resource):
    # R-CAT-16: documents behind a file entry are versioned, nothing is overwritten.
    officer = login(city.market_officer)
    first, second = "2025 年报（初版）".encode() * 100, "2025 年报（更正版）".encode() * 120
    r1 = upload(officer, file_resource, "年报.pdf", first, note="初版")
    r2 = upload(officer, file_resource, "年报.pdf", second, note="更正第 3 页")
    assert r1.status_code == 201 and r2.status_code == 201, (r1.content, r2.content)
    v1, v2 = r1.json(), r2.json()
    assert (v1["version"], v2["version"]) == (1, 2)
    assert v1["size"] == len(first) and v2["size"] == len(second)
    assert v1["sha256"] == hashlib.sha256(first).hexdigest()
    assert v2["sha256"] == hashlib.sha256(second).hexdigest()

    old = officer.get(v1["download_url"])
    assert old.status_code == 200
    assert body_of(old) == first
    new = officer.get(f"{API}/files/{v2['id']}/content")
    assert body_of(new) == second

    detail = officer.get(f"{API}/{file_resource.code}").json()
    assert [f["version"] for f in detail["files"]] == [2, 1]
    assert [f["note"] for f in detail["files"]] == ["更正第 3 页", "初版"]
    assert detail["available"] is True and detail["versions"] == 2


def test_recorded_sha256_is_the_digest_of_the_stored_bytes(city, file_resource, media):
    from govshare.collect import mounts

    content = b"\x00\x01binary\xff" * 5000
    mf = mounts.upload_file(city.market_officer, file_resource, SimpleUploadedFile("a.bin", content), "a.bin")
    with mf.file.open("rb") as fh:
        stored = fh.read()
    assert stored == content
    assert mf.sha256 == hashlib.sha256(stored).hexdigest() and mf.size == len(content)
    assert [p.read_bytes() for p in stored_files(media)] == [content]


def test_upload_refused_on_an_entry_of_another_kind(city, interface_resource, file_resource):
    # R-CAT-16: what is mounted must match the catalog's declared mount kind.
    officer = login(city.market_officer)
    r = upload(officer, interface_resource, "x.pdf", b"%PDF-1.7")
    assert r.status_code == 400
    assert r.json()["code"] == "wrong_mount_kind" and "接口" in r.json()["message"]

    r = officer.post(
        f"{API}/{file_resource.code}/interfaces",
        {"url": "https://api.example.gov.cn/x", "method": "GET", "openapi": OPENAPI},
        content_type="application/json",
    )
    assert r.status_code == 400 and r.json()["code"] == "wrong_mount_kind"


def test_table_entries_take_no_files(city, published):
    r = upload(login(city.market_officer), published(), "x.csv", b"a,b\n1,2\n")
    assert r.json()["code"] == "wrong_mount_kind"


def test_unpublished_entry_cannot_be_mounted(city, payload):
    from govshare.catalog import services
    from govshare.collect import mounts
    from govshare.errors import DomainError

    rev = services.create_resource(
        city.market_officer, payload(mount_kind="file", mount_ref="年报", format_category="document")
    )
    with pytest.raises(DomainError) as exc:
        mounts.upload_file(city.market_officer, rev.resource, SimpleUploadedFile("a.pdf", b"x"), "a.pdf")
    assert exc.value.code == "resource_not_published"


def test_another_department_is_refused_upload_and_download_in_the_api(city, file_resource, media):
    # Until the sharing gate serves them, mounted files stay with the provider and the authority.
    v1 = upload(login(city.market_officer), file_resource, "a.pdf", b"secret-ish").json()
    for outsider in (city.police_officer, city.civil_officer):
        client = login(outsider)
        r = upload(client, file_resource, "b.pdf", b"intruder")
        assert r.status_code == 403 and r.json()["code"] == "not_provider"
        r = client.get(f"{API}/files/{v1['id']}/content")
        assert r.status_code == 403 and r.json()["code"] == "not_provider"
        detail = client.get(f"{API}/{file_resource.code}").json()
        assert detail["available"] is True and detail["files"] == [] and detail["can_download"] is False
    assert len(stored_files(media)) == 1
    assert file_resource.files.count() == 1


def test_authority_may_download_and_upload(city, file_resource):
    v1 = upload(login(city.market_officer), file_resource, "a.pdf", b"one").json()
    reviewer = login(city.reviewer)
    assert body_of(reviewer.get(v1["download_url"])) == b"one"
    assert upload(reviewer, file_resource, "b.pdf", b"two").json()["version"] == 2


def test_another_department_gets_a_403_page(city, file_resource):
    officer = login(city.market_officer)
    r = officer.post(
        f"/mounts/{file_resource.code}/files/",
        {"file": SimpleUploadedFile("年报.pdf", b"first"), "note": "初版"},
    )
    assert r.status_code == 302
    mf = file_resource.files.get()

    police = login(city.police_officer)
    r = police.post(f"/mounts/{file_resource.code}/files/", {"file": SimpleUploadedFile("x.pdf", b"x")})
    assert r.status_code == 403
    assert "无权访问" in r.content.decode() and "市场监督管理局" in r.content.decode()
    r = police.get(f"/mounts/files/{mf.pk}/download")
    assert r.status_code == 403 and "无权访问" in r.content.decode()
    page = police.get(f"/mounts/{file_resource.code}/").content.decode()
    assert "年报.pdf" not in page and f"/mounts/files/{mf.pk}/download" not in page
    assert 'id="upload-form"' not in page
    assert file_resource.files.count() == 1


def test_mount_page_lists_versions_with_download_links(city, file_resource):
    officer = login(city.market_officer)
    page = officer.get(f"/mounts/{file_resource.code}/").content.decode()
    assert "未挂接（不可用）" in page and 'id="upload-form"' in page
    content = b"%PDF-1.7 annual report"
    r = officer.post(
        f"/mounts/{file_resource.code}/files/",
        {"file": SimpleUploadedFile("2025年报.pdf", content), "note": "年度汇编"},
        follow=True,
    )
    page = r.content.decode()
    assert "已挂接第 1 版" in page
    mf = file_resource.files.get()
    assert "2025年报.pdf" in page and "年度汇编" in page and mf.sha256[:12] in page
    assert f"/mounts/files/{mf.pk}/download" in page
    assert "已挂接" in page and "未挂接（不可用）" not in page


def test_download_keeps_the_chinese_filename(city, file_resource):
    # RFC 5987/6266: the exact UTF-8 name plus an ASCII fallback for old clients.
    officer = login(city.market_officer)
    name = "郴州市企业年报 2025.xlsx"
    v1 = upload(officer, file_resource, name, b"PK\x03\x04 spreadsheet").json()
    assert v1["filename"] == name
    for url in (v1["download_url"], f"/mounts/files/{v1['id']}/download"):
        r = officer.get(url)
        assert r.status_code == 200
        disposition = r["Content-Disposition"]
        assert disposition.startswith("attachment;")
        assert f"filename*=UTF-8''{quote(name)}" in disposition
        assert 'filename="' in disposition and "郴" not in disposition
        assert r["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        assert body_of(r) == b"PK\x03\x04 spreadsheet"


def test_uploaded_names_cannot_climb_directories(city, file_resource, media):
    from govshare.collect import mounts

    mf = mounts.upload_file(
        city.market_officer, file_resource, SimpleUploadedFile("x", b"data"), "../../etc/passwd"
    )
    assert mf.filename == "passwd"
    assert all(media in p.parents for p in stored_files(media))


def test_empty_and_oversized_files_are_refused_and_leave_nothing(city, file_resource, media, monkeypatch):
    from govshare.collect import mounts

    officer = login(city.market_officer)
    r = upload(officer, file_resource, "empty.pdf", b"")
    assert r.status_code == 400 and r.json()["code"] == "empty_file"

    monkeypatch.setattr(mounts, "MAX_FILE_BYTES", 1000)
    r = upload(officer, file_resource, "big.pdf", b"x" * 1001)
    assert r.status_code == 413 and r.json()["code"] == "file_too_large"
    assert "上限" in r.json()["message"]

    class Unsized:
        """A stream whose size is only known by reading it: refused mid-stream."""

        def __init__(self, n):
            self.left = n

        def read(self, size=-1):
            n = self.left if size is None or size < 0 else min(size, self.left)
            self.left -= n
            return b"y" * n

    from govshare.errors import DomainError

    with pytest.raises(DomainError) as exc:
        mounts.upload_file(city.market_officer, file_resource, Unsized(5000), "stream.bin")
    assert exc.value.code == "file_too_large"
    assert stored_files(media) == []
    assert file_resource.files.count() == 0
    assert upload(officer, file_resource, "ok.pdf", b"x" * 1000).status_code == 201


# ---------------------------------------------------------------- interfaces


def test_interface_registration_validates_the_openapi_description(city, interface_resource):
    # R-SHARE-15: an interface comes with its description and calling method; refusals name the problem.
    from govshare.collect import mounts
    from govshare.errors import ValidationFailed

    officer = city.market_officer
    url = "https://api.scjg.example.gov.cn/v1/licenses"
    cases = [
        ('{"openapi": "3.0.3", "paths": {', "invalid_json", "不是有效的 JSON"),
        (json.dumps({"openapi": "3.0.3", "info": {"title": "x"}}), "missing_paths", "缺少 paths"),
        (json.dumps({"info": {}, "paths": {"/a": {}}}), "missing_version", "openapi"),
        (json.dumps({"swagger": "1.2", "paths": {"/a": {}}}), "unsupported_version", "2.0"),
        (json.dumps({"openapi": "3.0.0", "paths": {}}), "invalid_paths", "paths"),
        ("[1, 2]", "not_object", "JSON 对象"),
        ("", "required", "OpenAPI"),
    ]
    for text, code, words in cases:
        with pytest.raises(ValidationFailed) as exc:
            mounts.register_interface(officer, interface_resource, url, "GET", text, "")
        error = exc.value.errors[0]
        assert (error["field"], error["code"]) == ("openapi", code), text
        assert words in error["message"], (text, error["message"])
    assert interface_resource.interfaces.count() == 0

    with pytest.raises(ValidationFailed) as exc:
        mounts.register_interface(
            officer, interface_resource, url, "GET", '{"openapi": "3.1.0",\n "paths" {}}', ""
        )
    assert "第 2 行" in exc.value.message

    swagger = {"swagger": "2.0", "info": {"title": "旧接口"}, "paths": {"/q": {"get": {"summary": "查询"}}}}
    pi = mounts.register_interface(officer, interface_resource, url, "get", json.dumps(swagger).encode(), "")
    assert pi.method == "GET" and pi.openapi == swagger


def test_interface_urls_must_be_http_with_a_host(city, interface_resource):
    from govshare.collect import mounts
    from govshare.errors import DomainError

    for bad in ("ftp://files.example.gov.cn/a", "https://", "api.example.gov.cn/x", "http://u:p@host/x", ""):
        with pytest.raises(DomainError) as exc:
            mounts.register_interface(city.market_officer, interface_resource, bad, "GET", OPENAPI, "")
        assert exc.value.code == "invalid_url", bad
    pi = mounts.register_interface(
        city.market_officer, interface_resource, "http://10.12.0.8:8080/query", "POST", OPENAPI, ""
    )
    assert pi.url == "http://10.12.0.8:8080/query"


def test_new_interface_version_replaces_the_active_one(city, interface_resource):
    officer = login(city.market_officer)
    url = f"{API}/{interface_resource.code}/interfaces"
    r1 = officer.post(
        url,
        {"url": "https://a.example.gov.cn/v1", "openapi": OPENAPI, "note": "首版"},
        content_type="application/json",
    )
    assert r1.status_code == 201, r1.content
    assert r1.json()["operations"] == [
        {"method": "GET", "path": "/licenses/{uscc}", "summary": "按统一社会信用代码查询营业执照"},
        {"method": "POST", "path": "/licenses", "summary": "batchQuery"},
    ]
    r2 = officer.post(
        url,
        {"url": "https://a.example.gov.cn/v2", "method": "POST", "openapi": OPENAPI},
        content_type="application/json",
    )
    assert r2.status_code == 201 and r2.json()["version"] == 2 and r2.json()["active"] is True
    listed = officer.get(f"{API}/{interface_resource.code}").json()["interfaces"]
    assert [(i["version"], i["active"], i["url"]) for i in listed] == [
        (2, True, "https://a.example.gov.cn/v2"),
        (1, False, "https://a.example.gov.cn/v1"),
    ]
    r = officer.post(
        url,
        {"url": "https://a.example.gov.cn/v3", "openapi": {"openapi": "3.0.0"}},
        content_type="application/json",
    )
    assert r.status_code == 422 and r.json()["detail"]["errors"][0]["code"] == "missing_paths"

    r = login(city.police_officer).post(
        url, {"url": "https://evil.example.com/", "openapi": OPENAPI}, content_type="application/json"
    )
    assert r.status_code == 403 and r.json()["code"] == "not_provider"
    assert interface_resource.interfaces.count() == 2


def test_interface_page_shows_paths_and_keeps_pasted_text_on_error(city, interface_resource):
    officer = login(city.market_officer)
    page_url = f"/mounts/{interface_resource.code}/"
    broken = '{"openapi": "3.0.3", "info": {"title": "x"}}'
    r = officer.post(
        f"{page_url}interfaces/",
        {"url": "https://a.example.gov.cn/v1", "method": "GET", "openapi_text": broken},
    )
    assert r.status_code == 422
    page = r.content.decode()
    assert "缺少 paths" in page and 'id="openapi-error"' in page
    assert "&quot;openapi&quot;: &quot;3.0.3&quot;" in page  # the pasted description is still there to fix

    spec = SimpleUploadedFile("openapi.json", json.dumps(OPENAPI, ensure_ascii=False).encode())
    r = officer.post(
        f"{page_url}interfaces/",
        {"url": "https://a.example.gov.cn/v1", "method": "GET", "openapi_file": spec, "note": "首版"},
        follow=True,
    )
    page = r.content.decode()
    assert "已登记接口第 1 版" in page
    assert "/licenses/{uscc}" in page and "按统一社会信用代码查询营业执照" in page
    assert "营业执照查询接口" in page and "当前版本" in page

    r = login(city.police_officer).post(
        f"{page_url}interfaces/", {"url": "https://evil.example.com/", "openapi_text": json.dumps(OPENAPI)}
    )
    assert r.status_code == 403
    page = login(city.civil_officer).get(page_url).content.decode()
    assert "a.example.gov.cn" not in page and "已挂接" in page


# ---------------------------------------------------------------- availability and audit


def test_mount_status_marks_entries_without_anything_behind_them(
    city, file_resource, interface_resource, published
):
    # R-CAT-16: "An entry with no mounted resource shall be marked not available".
    from django.utils import timezone

    from govshare.collect import mounts
    from govshare.collect.models import Series

    table = published(name="企业登记信息")
    for r in (file_resource, interface_resource, table):
        status = mounts.mount_status(r)
        assert status["available"] is False and status["label"] == "未挂接（不可用）", r.mount_kind
        assert status["latest"] is None

    mounts.upload_file(city.market_officer, file_resource, SimpleUploadedFile("a.pdf", b"a"), "a.pdf")
    mounts.register_interface(
        city.market_officer, interface_resource, "https://a.example.gov.cn", "GET", OPENAPI
    )
    Series.objects.create(resource=table, last_seq=0, live_count=0)
    assert mounts.mount_status(table)["available"] is False  # loaded nothing yet
    Series.objects.filter(resource=table).update(live_count=3, last_loaded_at=timezone.now())

    for r, kind in ((file_resource, "file"), (interface_resource, "interface"), (table, "table")):
        status = mounts.mount_status(r)
        assert status["kind"] == kind
        assert status["available"] is True and status["label"] == "已挂接", kind
    assert mounts.mount_status(file_resource)["latest"].filename == "a.pdf"
    assert mounts.mount_status(interface_resource)["latest"].version == 1
    assert mounts.mount_status(table)["records"] == 3


def test_mount_panel_fragment_renders_badge_and_link(city, file_resource):
    from django.template.loader import render_to_string

    from govshare.collect import mounts

    html = render_to_string(
        "collect/_mount_panel.html", {"mount": mounts.mount_status(file_resource), "resource": file_resource}
    )
    assert "未挂接（不可用）" in html and f'href="/mounts/{file_resource.code}/"' in html
    mounts.upload_file(city.market_officer, file_resource, SimpleUploadedFile("a.pdf", b"a"), "a.pdf")
    html = render_to_string(
        "collect/_mount_panel.html", {"mount": mounts.mount_status(file_resource), "resource": file_resource}
    )
    assert "已挂接" in html and "未挂接" not in html and "第 1 版" in html


def test_table_mount_page_points_to_collection(city, published):
    table = published(name="企业登记信息")
    page = login(city.market_officer).get(f"/mounts/{table.code}/").content.decode()
    assert f'href="/collect/{table.code}/"' in page and "未挂接（不可用）" in page


def test_uploads_downloads_and_registrations_are_audited(city, file_resource, interface_resource):
    from govshare.audit.models import AuditEvent

    officer = login(city.market_officer)
    v1 = upload(officer, file_resource, "年报.pdf", b"annual").json()
    event = AuditEvent.objects.get(action="collect.mount.file_upload")
    assert event.actor == "market" and event.department_name == "郴州市市场监督管理局"
    assert event.object_id == str(v1["id"])
    assert event.detail["sha256"] == hashlib.sha256(b"annual").hexdigest()
    assert event.detail["resource"] == file_resource.code and event.detail["version"] == 1

    body_of(officer.get(v1["download_url"]))
    login(city.police_officer).get(v1["download_url"])
    downloads = AuditEvent.objects.filter(action="collect.mount.file_download").order_by("seq")
    assert [(e.actor, e.result) for e in downloads] == [("market", "ok"), ("police", "denied")]

    officer.post(
        f"{API}/{interface_resource.code}/interfaces",
        {"url": "https://a.example.gov.cn/v1", "openapi": OPENAPI},
        content_type="application/json",
    )
    event = AuditEvent.objects.get(action="collect.mount.interface_register")
    assert event.detail["url"] == "https://a.example.gov.cn/v1" and event.detail["operations"] == 2
