"""What stands behind a non-table catalog entry (挂接, R-CAT-16, R-SHARE-15): documents and interfaces.

A file-type entry gets versioned documents, an interface-type entry the provider's own service URL with
its OpenAPI description. Nothing is ever overwritten: every upload or registration is a new version, so a
consumer who obtained version 3 can still be shown exactly those bytes (by sha256) later. Until the
sharing gate serves them, only the provider department and the authority read what is mounted.
Availability (R-CAT-16 "not available" marking) is derived, never stored: a table entry is available
once the record store holds live records, a file entry once a version exists, an interface entry once
an active registration exists.
"""

from __future__ import annotations

import hashlib
import io
import json
import mimetypes
import posixpath
import re
import unicodedata
import uuid
from urllib.parse import quote, urlsplit

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from govshare.audit.services import record
from govshare.catalog.models import MountKind, Resource, ResourceStatus
from govshare.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from govshare.orgs.models import Role

from .models import Batch, BatchStatus, MountedFile, ProviderInterface, Series

MAX_FILE_BYTES = 200 * 1024 * 1024  # one document version; larger data belongs in a table load
MAX_OPENAPI_BYTES = 2 * 1024 * 1024  # an OpenAPI description, stored as JSON in the row
MAX_NOTE_CHARS = 500  # MountedFile.note / ProviderInterface.note
MAX_URL_CHARS = 500  # ProviderInterface.url
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
OPERATION_KEYS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
LIVE = (ResourceStatus.PUBLISHED, ResourceStatus.RETIRING)
LABEL_AVAILABLE = "已挂接"
LABEL_UNAVAILABLE = "未挂接（不可用）"
KIND_LABELS = dict(MountKind.choices)
OPENAPI_LABEL = "OpenAPI 描述"


# ---------------------------------------------------------------- permissions


def can_manage(user, resource: Resource) -> bool:
    """Upload and register: the provider department's officers, or the authority."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.has_role(Role.AUTHORITY):
        return True
    return user.has_role(Role.PROVIDER) and user.department_id == resource.provider_id


def can_download(user, resource: Resource) -> bool:
    """Before the sharing gate exists, mounted content stays with its provider department and the authority."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.has_role(Role.AUTHORITY):
        return True
    return user.department_id is not None and user.department_id == resource.provider_id


def _require_manage(user, resource: Resource) -> None:
    if not can_manage(user, resource):
        raise PermissionDenied(
            "not_provider", f"只有{resource.provider.name}的数据专员或数据主管部门可以挂接该目录的资源"
        )


def _require_mountable(resource: Resource, kind: str) -> None:
    if resource.status not in LIVE:
        raise DomainError("resource_not_published", "只有已发布的目录才能挂接资源（R-CAT-16）")
    if resource.mount_kind != kind:
        have = KIND_LABELS.get(resource.mount_kind, "未填写")
        raise DomainError(
            "wrong_mount_kind",
            f"该目录的挂接资源类型为“{have}”，不能挂接{KIND_LABELS[kind]}；如需更改类型请发起目录变更",
            {"mount_kind": resource.mount_kind, "expected": kind},
        )


# ---------------------------------------------------------------- files


def clean_filename(name: str) -> str:
    """The name a person will see again on download: no directories, no control characters, ≤ 255."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().strip(".").strip()
    if not name:
        return "未命名文件"
    if len(name) > 255:
        stem, ext = posixpath.splitext(name)
        ext = ext[:16]
        name = stem[: 255 - len(ext)] + ext
    return name


def _stored_suffix(filename: str) -> str:
    ext = posixpath.splitext(filename)[1].lower()
    return ext if re.fullmatch(r"\.[a-z0-9]{1,12}", ext) else ""


class _Metered(io.RawIOBase):
    """Reads the upload once for storage, hashing and counting on the way; refuses past the limit."""

    def __init__(self, src, limit: int):
        super().__init__()
        self.src = src
        self.limit = limit
        self.size = 0
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # one pass only: a storage rewinding would double-count
        return False

    def read(self, size: int | None = -1) -> bytes:
        data = self.src.read() if size is None or size < 0 else self.src.read(size)
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.size += len(data)
        if self.size > self.limit:
            raise _too_large(self.limit)
        self.digest.update(data)
        return data

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def _too_large(limit: int) -> DomainError:
    shown = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit} 字节"
    return DomainError(
        "file_too_large",
        f"文件超过 {shown} 上限；大批量数据请按库表归集",
        {"limit_bytes": limit},
        status=413,
    )


def _storage():
    return MountedFile._meta.get_field("file").storage


def _empty() -> DomainError:
    return DomainError("empty_file", "文件为空，不能挂接")


def upload_file(user, resource: Resource, fileobj, filename: str = "", note: str = "") -> MountedFile:
    """A new version of the document behind a file-type entry; earlier versions stay downloadable."""
    from django.core.files import File

    _require_manage(user, resource)
    _require_mountable(resource, MountKind.FILE)
    note = _clean_note(note)
    filename = clean_filename(filename or getattr(fileobj, "name", "") or "")
    declared = getattr(fileobj, "size", None)
    if isinstance(declared, int):
        if declared == 0:
            raise _empty()
        if declared > MAX_FILE_BYTES:
            raise _too_large(MAX_FILE_BYTES)
    if hasattr(fileobj, "seek"):
        try:
            fileobj.seek(0)
        except (OSError, ValueError):
            pass
    meter = _Metered(fileobj, MAX_FILE_BYTES)
    storage = _storage()
    # A fresh name per version, so a failed or refused upload can only ever remove its own bytes.
    name = f"mounts/{timezone.localtime():%Y/%m}/{uuid.uuid4().hex}{_stored_suffix(filename)}"
    try:
        name = storage.save(name, File(meter, name=name))
    except BaseException:
        _discard(storage, name)
        raise
    if meter.size == 0:
        _discard(storage, name)
        raise _empty()
    content_type = (
        mimetypes.guess_type(filename)[0]
        or (getattr(fileobj, "content_type", "") or "")[:100]
        or "application/octet-stream"
    )
    try:
        with transaction.atomic():
            locked = Resource.objects.select_for_update().get(pk=resource.pk)
            version = (MountedFile.objects.filter(resource=locked).aggregate(m=Max("version"))["m"] or 0) + 1
            mf = MountedFile.objects.create(
                resource=locked,
                version=version,
                file=name,
                filename=filename,
                size=meter.size,
                sha256=meter.digest.hexdigest(),
                content_type=content_type,
                note=note,
                uploaded_by=user,
            )
            record(
                "collect.mount.file_upload",
                actor=user,
                object=mf,
                detail={
                    "resource": resource.code,
                    "version": version,
                    "filename": filename,
                    "size": meter.size,
                    "sha256": mf.sha256,
                },
            )
    except BaseException:
        _discard(storage, name)
        raise
    return mf


def _discard(storage, name: str) -> None:
    try:
        if storage.exists(name):
            storage.delete(name)
    except OSError:
        pass


def files_of(resource: Resource):
    return MountedFile.objects.filter(resource=resource).select_related("uploaded_by").order_by("-version")


def get_file(user, file_id: int) -> MountedFile:
    """The version itself, for its provider department and the authority (403 for anyone else)."""
    mf = None
    if isinstance(file_id, int) and 0 < file_id < 2**63:
        qs = MountedFile.objects.select_related("resource", "resource__provider", "uploaded_by")
        mf = qs.filter(pk=file_id).first()
    if mf is None:
        raise NotFound("file_not_found", "该挂接文件不存在")
    if not can_download(user, mf.resource):
        record(
            "collect.mount.file_download",
            actor=user,
            object=mf,
            result="denied",
            detail={"resource": mf.resource.code, "version": mf.version},
        )
        raise PermissionDenied(
            "not_provider",
            f"挂接文件目前仅向{mf.resource.provider.name}和数据主管部门提供；其他部门请通过共享申请获取",
        )
    return mf


def open_file(user, file_id: int):
    """(row, open binary file) for a download; the read itself is an audit event."""
    mf = get_file(user, file_id)
    try:
        fh = mf.file.storage.open(mf.file.name, "rb")
    except FileNotFoundError:
        raise NotFound("file_missing", "文件内容已不在存储中，请联系平台运维单位") from None
    record(
        "collect.mount.file_download",
        actor=user,
        object=mf,
        detail={"resource": mf.resource.code, "version": mf.version, "sha256": mf.sha256},
    )
    return mf, fh


def content_disposition(filename: str) -> str:
    """attachment with an ASCII fallback and the exact UTF-8 name (RFC 6266 / RFC 5987) for Chinese names."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename)
    encoded = quote(filename, safe="!#$&+^`|")
    if fallback == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


# ---------------------------------------------------------------- interfaces


def _openapi_error(code: str, message: str) -> ValidationFailed:
    return ValidationFailed([{"field": "openapi", "label": OPENAPI_LABEL, "code": code, "message": message}])


def parse_openapi(source) -> dict:
    """A JSON OpenAPI 3.x or Swagger 2.0 description with paths; every refusal says what is wrong."""
    if isinstance(source, dict):
        spec = source
    else:
        if source is None or (isinstance(source, str | bytes) and not source.strip()):
            raise _openapi_error(
                "required", "请提供接口的 OpenAPI 描述（JSON），说明接口及调用方法（R-SHARE-15）"
            )
        if len(source) > MAX_OPENAPI_BYTES:
            raise _openapi_error(
                "too_large", f"OpenAPI 描述超过 {MAX_OPENAPI_BYTES // (1024 * 1024)} MB，请精简后再登记"
            )
        if isinstance(source, bytes):
            try:
                source = source.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise _openapi_error("encoding", "OpenAPI 描述须为 UTF-8 编码的 JSON 文本") from None
        try:
            spec = json.loads(source)
        except json.JSONDecodeError as exc:
            raise _openapi_error(
                "invalid_json",
                f"OpenAPI 描述不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列有误（{exc.msg}）",
            ) from None
        except RecursionError:
            raise _openapi_error("invalid_json", "OpenAPI 描述嵌套层级过深，不是可接受的 JSON") from None
    if not isinstance(spec, dict):
        raise _openapi_error("not_object", "OpenAPI 描述必须是一个 JSON 对象（以 { 开头）")
    openapi, swagger = spec.get("openapi"), spec.get("swagger")
    if openapi is None and swagger is None:
        raise _openapi_error(
            "missing_version", 'OpenAPI 描述缺少版本字段：须有 "openapi": "3.x" 或 "swagger": "2.0"'
        )
    if openapi is not None and not (isinstance(openapi, str) and re.fullmatch(r"3\.\d+(\.\d+)?", openapi)):
        raise _openapi_error("unsupported_version", f"不支持的 OpenAPI 版本“{openapi}”，须为 3.x")
    if openapi is None and swagger != "2.0":
        raise _openapi_error("unsupported_version", f"不支持的 Swagger 版本“{swagger}”，须为 2.0")
    paths = spec.get("paths")
    if paths is None:
        raise _openapi_error("missing_paths", "OpenAPI 描述缺少 paths（接口路径及调用方法）")
    if not isinstance(paths, dict) or not paths:
        raise _openapi_error("invalid_paths", "OpenAPI 描述的 paths 须为非空对象，列出每个接口路径")
    bad = [p for p in paths if not str(p).startswith("/")]
    if bad:
        raise _openapi_error("invalid_paths", f"接口路径须以 / 开头：{bad[0]}")
    return spec


def openapi_operations(spec: dict) -> list[dict]:
    """method + path + summary of every operation, for pages and the API."""
    ops = []
    paths = spec.get("paths") if isinstance(spec, dict) else None
    if not isinstance(paths, dict):
        return ops
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        for key in OPERATION_KEYS:
            op = item.get(key)
            if not isinstance(op, dict):
                continue
            summary = op.get("summary") or op.get("operationId") or op.get("description") or ""
            ops.append({"method": key.upper(), "path": str(path), "summary": str(summary)[:200]})
    return ops


def openapi_info(spec: dict) -> dict:
    info = spec.get("info") if isinstance(spec, dict) else None
    info = info if isinstance(info, dict) else {}
    return {
        "title": str(info.get("title") or ""),
        "version": str(info.get("version") or ""),
        "spec": str(spec.get("openapi") or spec.get("swagger") or "") if isinstance(spec, dict) else "",
    }


def check_url(url: str) -> str:
    """An http(s) URL with a host; intranet names without a dot are fine, credentials in it are not."""
    url = (url or "").strip()
    problem = ""
    if not url:
        problem = "请填写接口服务地址"
    elif len(url) > MAX_URL_CHARS:
        problem = f"服务地址超过 {MAX_URL_CHARS} 个字符"
    elif any(c.isspace() or unicodedata.category(c)[0] == "C" for c in url):
        problem = "服务地址不能包含空格或控制字符"
    else:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018  (raises on a malformed port)
        except ValueError:
            parts = None
        if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            problem = "服务地址须为带主机名的 http:// 或 https:// 地址"
        elif parts.username or parts.password:
            problem = "服务地址不得包含用户名或密码；调用凭证另行约定"
    if problem:
        raise DomainError("invalid_url", problem, {"url": url[:MAX_URL_CHARS]})
    return url


def _clean_note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > MAX_NOTE_CHARS:
        raise ValidationFailed(
            [
                {
                    "field": "note",
                    "label": "说明",
                    "code": "too_long",
                    "message": f"说明不能超过 {MAX_NOTE_CHARS} 个字",
                }
            ]
        )
    return note


def register_interface(
    user, resource: Resource, url: str, method: str = "GET", openapi_text="", note: str = ""
) -> ProviderInterface:
    """A new active version of the provider's service; earlier versions stay on record, inactive."""
    _require_manage(user, resource)
    _require_mountable(resource, MountKind.INTERFACE)
    url = check_url(url)
    method = (method or "GET").strip().upper()
    if method not in HTTP_METHODS:
        raise DomainError(
            "invalid_method", f"请求方法须为 {'、'.join(HTTP_METHODS)} 之一", {"method": method[:16]}
        )
    spec = parse_openapi(openapi_text)
    note = _clean_note(note)
    with transaction.atomic():
        locked = Resource.objects.select_for_update().get(pk=resource.pk)
        current = ProviderInterface.objects.filter(resource=locked)
        version = (current.aggregate(m=Max("version"))["m"] or 0) + 1
        current.filter(active=True).update(active=False)
        pi = ProviderInterface.objects.create(
            resource=locked,
            version=version,
            url=url,
            method=method,
            openapi=spec,
            note=note,
            active=True,
            registered_by=user,
        )
        record(
            "collect.mount.interface_register",
            actor=user,
            object=pi,
            detail={
                "resource": resource.code,
                "version": version,
                "url": url,
                "method": method,
                "operations": len(openapi_operations(spec)),
            },
        )
    return pi


def interfaces_of(resource: Resource):
    return (
        ProviderInterface.objects.filter(resource=resource)
        .select_related("registered_by")
        .order_by("-version")
    )


# ---------------------------------------------------------------- availability


def mount_status(resource: Resource) -> dict:
    """What the catalog shows next to an entry: is anything behind it (R-CAT-16)?"""
    kind = resource.mount_kind or ""
    latest, versions, records = None, 0, None
    if kind == MountKind.FILE:
        files = MountedFile.objects.filter(resource=resource)
        versions = files.count()
        latest = files.select_related("uploaded_by").order_by("-version").first()
        available = latest is not None
    elif kind == MountKind.INTERFACE:
        interfaces = ProviderInterface.objects.filter(resource=resource)
        versions = interfaces.count()
        latest = interfaces.filter(active=True).select_related("registered_by").order_by("-version").first()
        available = latest is not None
    elif kind == MountKind.TABLE:
        series = Series.objects.filter(resource=resource).first()
        records = series.live_count if series else 0
        versions = Batch.objects.filter(
            resource=resource, status__in=(BatchStatus.COMMITTED, BatchStatus.PARTIAL)
        ).count()
        available = records > 0
    else:
        available = False
    return {
        "kind": kind,
        "kind_label": KIND_LABELS.get(kind, "未填写"),
        "available": available,
        "label": LABEL_AVAILABLE if available else LABEL_UNAVAILABLE,
        "latest": latest,
        "versions": versions,
        "records": records,
    }
