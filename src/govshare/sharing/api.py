"""Delivery API for client systems: every handler opens the gate first (DESIGN §3, idea 3).

`Authorization: Bearer <token>` of a client system; optional `X-Case-Id` (办件编号) is recorded with
the call, `X-Grant` picks one of several grants. Resource paths are the catalog code `CLS/SEQ`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import FileResponse
from django.utils import timezone
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from govshare.catalog.models import Resource
from govshare.corrections import services as corrections
from govshare.errors import NotFound
from govshare.security.inputs import DbInt, JsonObject, Text, form_text

from . import exports, gate, proxy
from .models import ExportStatus

router = Router(tags=["数据共享（交付）"], auth=gate.ShareBearer())


class GrantedItemOut(Schema):
    code: str
    name: str


class RecordInfo(Schema):
    ref: str  # quote it to raise a doubt on the record (POST …/corrections)
    under_verification: bool  # 核校中: a correction ticket is open on it; it is still served (R-CORR-07)
    ticket: str | None


class RecordsOut(Schema):
    resource: str
    grant: str
    count: int
    items: list[GrantedItemOut]
    records: list[dict[str, Any]]
    record_info: list[RecordInfo]  # one per record, in the same order


class VerifyIn(Schema):
    items: JsonObject


class VerifyOut(Schema):
    resource: str
    grant: str
    match: bool
    items: dict[str, bool]
    under_verification: bool


class ChangeOut(Schema):
    seq: int
    op: str
    record: dict[str, Any]
    under_verification: bool = False


class ChangeFeedOut(Schema):
    resource: str
    grant: str
    cursor: int
    has_more: bool
    items: list[GrantedItemOut]
    changes: list[ChangeOut]


class ChangesQuery(Schema):
    cursor: DbInt = 0
    limit: DbInt = 1000
    items: Text = ""


def _wanted(raw: str | None) -> list[str] | None:
    return [x.strip() for x in raw.split(",") if x.strip()] if raw else None


@router.get(
    "/{cls}/{seq}/records", response=RecordsOut, summary="按主键或检索项查询（仅返回授权信息项，按授权脱敏）"
)
def records(request, cls: Text, seq: Text):
    """Query string: exactly one lookup `<item code or name>=<value>`; optional `items=a,b` to narrow."""
    access = gate.open_access(request, cls, seq, "query")
    params = {k: v for k, v in request.GET.items()}
    return gate.records(access, params, _wanted(request.GET.get("items")))


@router.post("/{cls}/{seq}/verify", response=VerifyOut, summary="核验：只回答是否一致，不返回数据")
def verify(request, cls: Text, seq: Text, body: VerifyIn):
    access = gate.open_access(request, cls, seq, "verify")
    return gate.verify(access, body.items)


@router.get("/{cls}/{seq}/changes", response=ChangeFeedOut, summary="增量同步：变更序号之后的授权范围内记录")
def changes(request, cls: Text, seq: Text, q: Query[ChangesQuery]):
    access = gate.open_access(request, cls, seq, "changes")
    if q.cursor < 0 or not 1 <= q.limit <= 5000:
        access.deny("invalid_cursor", "cursor 须为非负整数，limit 须在 1 到 5000 之间", status=422)
    return gate.changes(access, q.cursor, q.limit, _wanted(q.items))


# ---------------------------------------------------------------- doubts on a record (R-CORR-01, R-CORR-07)


class CorrectionOut(Schema):
    number: str
    status: str
    status_label: str
    resource: str
    record: str
    due_on: date | None  # of the provider's verification, where the profile sets a period


@router.post(
    "/{cls}/{seq}/corrections",
    response={201: CorrectionOut},
    summary="对记录提出疑义（multipart：ref 取自 record_info，或 key；items 可重复；evidence 为佐证材料）",
)
def raise_correction(
    request,
    cls: Text,
    seq: Text,
    ref: str = form_text(""),
    key: str = form_text(""),
    items: Form[list[Text]] = None,
    description: str = form_text(""),
    suggestion: str = form_text(""),
    evidence: File[list[UploadedFile]] = None,
):
    """The record stays served, flagged `under_verification`, until the provider has answered."""
    access = gate.open_access(request, cls, seq, "correction")
    ticket = corrections.raise_ticket(
        None,
        client=access.client,
        grant=access.grant,
        resource=Resource.objects.select_related("provider").get(pk=access.resource.pk),
        record_ref=ref.strip() or None,
        record_key=key,
        items=items or [],
        description=description,
        suggestion=suggestion,
        evidence=evidence or [],
        case_id=access.case_id,
    )
    access.done(0, ticket=ticket.number)
    ob = corrections.verify_obligation(ticket)
    return Status(
        201,
        {
            "number": ticket.number,
            "status": ticket.status,
            "status_label": ticket.get_status_display(),
            "resource": access.resource.code,
            "record": ticket.record_label,
            "due_on": ob.due_on if ob is not None else None,
        },
    )


# ---------------------------------------------------------------- batch export (R-SHARE-13)


class ExportIn(Schema):
    format: Text
    items: list[Text] | None = None


class ExportQueued(Schema):
    id: int
    status: str
    status_url: str


class ExportOut(Schema):
    id: int
    resource: str
    grant: str
    format: str
    status: str
    status_label: str
    rows: int
    sha256: str
    error: str
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    download_url: str | None


class ErrorOut(Schema):
    code: str
    message: str
    detail: dict[str, Any]


def _status_url(request, job) -> str:
    return request.build_absolute_uri(f"/api/v1/share/{job.grant.resource.code}/exports/{job.pk}")


@router.post(
    "/{cls}/{seq}/exports",
    response={202: ExportQueued},
    summary="批量导出：按授权生成文件（需授权“批量交换”方式），异步完成",
)
def create_export(request, cls: Text, seq: Text, body: ExportIn):
    """Body `{"format": "csv"|"xlsx"|"parquet", "items": [...]}`; poll `status_url` for the download link."""
    access = gate.open_access(request, cls, seq, "export")
    job = exports.request_export(access, body.format, body.items)
    return Status(202, {"id": job.pk, "status": job.status, "status_url": _status_url(request, job)})


@router.get(
    "/{cls}/{seq}/exports/{job_id}",
    response={200: ExportOut, 404: ErrorOut},
    summary="批量导出任务状态；完成后给出限时下载链接",
)
def export_status(request, cls: Text, seq: Text, job_id: DbInt):
    code = f"{cls}/{seq}"
    job = exports.job_of(request.client_system, code, job_id)
    if job is None:
        gate._audit(request, "export", code, reason="export_not_found", detail={"job": job_id})
        raise NotFound("export_not_found", "导出任务不存在")
    url = None
    if job.status == ExportStatus.DONE and job.expires_at and job.expires_at > timezone.now():
        url = request.build_absolute_uri(f"/api/v1/share/exports/download/{exports.download_token(job)}")
    return {
        "id": job.pk,
        "resource": job.grant.resource.code,
        "grant": job.grant.number,
        "format": job.format,
        "status": job.status,
        "status_label": job.get_status_display(),
        "rows": job.rows,
        "sha256": job.sha256,
        "error": job.error,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "expires_at": job.expires_at,
        "download_url": url,
    }


@router.get(
    "/exports/download/{token}",
    auth=None,
    response={200: None, 403: ErrorOut, 404: ErrorOut, 410: ErrorOut},
    summary="下载导出文件（签名链接即凭证，限时有效；授权须仍然有效）",
)
def export_download(request, token: Text):
    job, fh = exports.open_download(token)
    return FileResponse(
        fh,
        as_attachment=True,
        filename=exports.filename_of(job),
        content_type=exports.CONTENT_TYPES[job.format],
    )


# ---------------------------------------------------------------- provider interfaces (R-SHARE-15)


@router.api_operation(
    ["GET", "POST"],
    "/{cls}/{seq}/interface/{path:path}",
    response={200: None, 502: ErrorOut, 504: ErrorOut},
    summary="调用提供部门接口（经授权校验转发；返回内容为提供部门原样应答）",
)
def interface(request, cls: Text, seq: Text, path: Text):
    """Forwards path, query string and body to the provider's registered URL; answers as it answers."""
    access = gate.open_access(request, cls, seq, "interface")
    return proxy.forward(access, request, path)
