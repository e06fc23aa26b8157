"""Mounted documents and provider interfaces over the API (R-CAT-16, R-SHARE-15); thin over collect.mounts."""

import datetime as dt

from ninja import File, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status

from govshare.catalog import selectors as catalog_selectors
from govshare.catalog.models import MountKind
from govshare.security.inputs import DbInt, JsonObject, Text, form_text

from . import mounts
from .models import MountedFile, ProviderInterface

router = Router(tags=["挂接资源"])


class FileOut(Schema):
    id: int
    version: int
    filename: str
    size: int
    sha256: str
    content_type: str
    note: str
    uploaded_by: str
    uploaded_at: dt.datetime
    download_url: str


class OperationOut(Schema):
    method: str
    path: str
    summary: str


class InterfaceOut(Schema):
    id: int
    version: int
    url: str
    method: str
    note: str
    active: bool
    registered_by: str
    registered_at: dt.datetime
    title: str
    api_version: str
    spec: str
    operations: list[OperationOut]


class MountOut(Schema):
    code: str
    kind: str
    kind_label: str
    available: bool
    label: str
    versions: int
    records: int | None = None
    can_manage: bool
    can_download: bool
    files: list[FileOut] = []
    interfaces: list[InterfaceOut] = []


class InterfaceIn(Schema):
    url: Text
    method: Text = "GET"
    openapi: JsonObject
    note: Text = ""


def file_out(mf: MountedFile) -> dict:
    return dict(
        id=mf.pk,
        version=mf.version,
        filename=mf.filename,
        size=mf.size,
        sha256=mf.sha256,
        content_type=mf.content_type,
        note=mf.note,
        uploaded_by=str(mf.uploaded_by),
        uploaded_at=mf.uploaded_at,
        download_url=f"/api/v1/mounts/files/{mf.pk}/content",
    )


def interface_out(pi: ProviderInterface) -> dict:
    info = mounts.openapi_info(pi.openapi)
    return dict(
        id=pi.pk,
        version=pi.version,
        url=pi.url,
        method=pi.method,
        note=pi.note,
        active=pi.active,
        registered_by=str(pi.registered_by),
        registered_at=pi.registered_at,
        title=info["title"],
        api_version=info["version"],
        spec=info["spec"],
        operations=mounts.openapi_operations(pi.openapi),
    )


@router.get("/{cls}/{seq}", response=MountOut, summary="挂接状态与版本（文件、接口、库表）")
def mount_detail(request, cls: Text, seq: Text):
    user = request.auth
    r = catalog_selectors.get_resource(user, f"{cls}/{seq}")
    status = mounts.mount_status(r)
    allowed = mounts.can_download(user, r)
    files = [file_out(f) for f in mounts.files_of(r)] if allowed and r.mount_kind == MountKind.FILE else []
    interfaces = (
        [interface_out(i) for i in mounts.interfaces_of(r)]
        if allowed and r.mount_kind == MountKind.INTERFACE
        else []
    )
    return dict(
        code=r.code,
        kind=status["kind"],
        kind_label=status["kind_label"],
        available=status["available"],
        label=status["label"],
        versions=status["versions"],
        records=status["records"],
        can_manage=mounts.can_manage(user, r),
        can_download=allowed,
        files=files,
        interfaces=interfaces,
    )


@router.post("/{cls}/{seq}/files", response={201: FileOut}, summary="上传挂接文件（新版本）")
def upload_file(request, cls: Text, seq: Text, file: File[UploadedFile], note: str = form_text("")):
    r = catalog_selectors.get_resource(request.auth, f"{cls}/{seq}")
    mf = mounts.upload_file(request.auth, r, file, file.name or "", note)
    return Status(201, file_out(mf))


@router.get("/files/{file_id}/content", summary="下载挂接文件（提供部门和数据主管部门）")
def file_content(request, file_id: DbInt):
    from .views_mounts import file_response

    mf, fh = mounts.open_file(request.auth, file_id)
    return file_response(mf, fh)


@router.post("/{cls}/{seq}/interfaces", response={201: InterfaceOut}, summary="登记提供部门接口（新版本）")
def register_interface(request, cls: Text, seq: Text, body: InterfaceIn):
    r = catalog_selectors.get_resource(request.auth, f"{cls}/{seq}")
    pi = mounts.register_interface(request.auth, r, body.url, body.method, body.openapi, body.note)
    return Status(201, interface_out(pi))
