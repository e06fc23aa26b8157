"""Collection API: push records (JSON or a file) into a published table resource, read back batches.

Provider systems authenticate with their client-system token; officers with their session. A refused
batch answers 422 `batch_rejected` with the problems; the same `Idempotency-Key` never applies twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpResponse
from ninja import File, Form, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status

from govshare.apiauth import PersonSession
from govshare.audit import services as audit
from govshare.catalog.models import Resource
from govshare.catalog.selectors import get_resource
from govshare.clients.auth import ClientBearer
from govshare.collect import selectors, services
from govshare.collect.models import Batch, BatchStatus
from govshare.errors import DomainError, NotFound
from govshare.security.inputs import DbInt, JsonObject, Text, form_text

router = Router(tags=["数据归集"], auth=[ClientBearer(), PersonSession()])
ERRORS_IN_RESPONSE = 100


class RecordsIn(Schema):
    mode: Text = "upsert"
    accept_valid: bool = False
    upserts: list[JsonObject] = []
    deletes: list[Text] = []


class ProblemOut(Schema):
    row: int
    item_code: str
    item_name: str
    value: str
    code: str
    message: str


class BatchOut(Schema):
    id: int
    resource: str
    status: str
    status_label: str
    source: str
    mode: str
    accept_valid: bool
    filename: str
    encoding: str
    rows_total: int
    rows_valid: int
    rows_rejected: int
    inserted: int
    updated: int
    unchanged: int
    deleted: int
    seq_from: int | None
    seq_to: int | None
    last_seq: int
    error_count: int
    message: str
    replayed: bool = False
    created_at: dt.datetime
    finished_at: dt.datetime | None
    report_url: str
    errors: list[ProblemOut] = []


class RecordOut(Schema):
    key: str
    seq: int
    deleted: bool
    data: dict[str, Any] | None
    updated_at: dt.datetime


class ChangesOut(Schema):
    records: list[RecordOut]
    next_cursor: int
    last_seq: int


class RecordDetailOut(RecordOut):
    history: list[RecordOut]


def batch_out(b: Batch, replayed: bool = False, with_errors: bool = True) -> dict:
    s = selectors.series(b.resource)
    errors = list(b.errors.all()[:ERRORS_IN_RESPONSE]) if with_errors else []
    return dict(
        id=b.pk,
        resource=b.resource.code,
        status=b.status,
        status_label=b.get_status_display(),
        source=b.source,
        mode=b.mode,
        accept_valid=b.accept_valid,
        filename=b.filename,
        encoding=b.encoding,
        rows_total=b.rows_total,
        rows_valid=b.rows_valid,
        rows_rejected=b.rows_rejected,
        inserted=b.inserted,
        updated=b.updated,
        unchanged=b.unchanged,
        deleted=b.deleted,
        seq_from=b.seq_from,
        seq_to=b.seq_to,
        last_seq=s.last_seq if s else 0,
        error_count=b.error_count,
        message=b.message,
        replayed=replayed,
        created_at=b.created_at,
        finished_at=b.finished_at,
        report_url=f"/api/v1/collect/batches/{b.pk}/report.xlsx",
        errors=[
            dict(
                row=e.row,
                item_code=e.item_code,
                item_name=e.item_name,
                value=e.value,
                code=e.code,
                message=e.message,
            )
            for e in errors
        ],
    )


def _caller(request) -> dict:
    client = getattr(request, "client_system", None)
    return {"client": client} if client is not None else {"actor": request.auth}


def _resource(request, cls: Text, seq: Text) -> Resource:
    client = getattr(request, "client_system", None)
    if client is not None:
        resource = Resource.objects.filter(code=f"{cls}/{seq}").first()
        if resource is None or resource.provider_id != client.department_id:
            raise NotFound("resource_not_found", f"目录“{cls}/{seq}”不存在或无权归集")
        return resource
    return get_resource(request.auth, f"{cls}/{seq}")


def _answer(outcome: services.Outcome):
    b = outcome.batch
    if b.status == BatchStatus.REJECTED:
        out = batch_out(b)
        raise DomainError(
            "batch_rejected",
            b.message,
            {
                "batch": out
                | {"created_at": b.created_at.isoformat(), "finished_at": b.finished_at.isoformat()}
            },
            status=422,
        )
    return Status(200 if outcome.replayed else 201, batch_out(b, replayed=outcome.replayed))


@router.post(
    "/{cls}/{seq}/records",
    response={200: BatchOut, 201: BatchOut},
    summary="推送一批记录（新增、更新、删除；整批原子，幂等）",
)
def push_records(request, cls: Text, seq: Text, body: RecordsIn):
    resource = _resource(request, cls, seq)
    outcome = services.load_rows(
        resource,
        body.upserts,
        body.deletes,
        mode=body.mode,
        accept_valid=body.accept_valid,
        idempotency_key=request.headers.get("Idempotency-Key", ""),
        content_digest=services.body_digest(request.body),
        **_caller(request),
    )
    return _answer(outcome)


@router.post(
    "/{cls}/{seq}/files",
    response={200: BatchOut, 201: BatchOut},
    summary="上传文件归集（CSV：UTF-8/GBK/GB18030 自动识别；xlsx；JSON Lines）",
)
def upload_file(
    request,
    cls: Text,
    seq: Text,
    file: File[UploadedFile],
    mode: str = form_text("upsert"),
    accept_valid: Form[bool] = False,
):
    from govshare.collect.models import BatchSource

    resource = _resource(request, cls, seq)
    outcome = services.load_file(
        resource,
        file.file,
        file.name or "upload",
        source=BatchSource.UPLOAD,
        mode=mode,
        accept_valid=accept_valid,
        idempotency_key=request.headers.get("Idempotency-Key", ""),
        **_caller(request),
    )
    return _answer(outcome)


def _own_resource(request, cls: Text, seq: Text) -> Resource:
    resource = _resource(request, cls, seq)
    if getattr(request, "client_system", None) is None:
        selectors.require_own(request.auth, resource)
    return resource


@router.get("/{cls}/{seq}/batches", response=list[BatchOut], summary="归集批次记录")
def list_batches(request, cls: Text, seq: Text, limit: DbInt = 50):
    resource = _own_resource(request, cls, seq)
    return [
        batch_out(b, with_errors=False) for b in selectors.batches_for(resource)[: max(1, min(limit, 500))]
    ]


@router.get("/{cls}/{seq}/records", response=ChangesOut, summary="本部门已归集的记录（按变更序号增量读取）")
def list_records(request, cls: Text, seq: Text, cursor: DbInt = 0, limit: DbInt = 100):
    resource = _own_resource(request, cls, seq)
    recs = selectors.changes(resource, after=max(cursor, 0), limit=max(1, min(limit, 1000)))
    _read_event(request, resource, len(recs), cursor=cursor)
    s = selectors.series(resource)
    return dict(
        records=[_rec(r) for r in recs],
        next_cursor=recs[-1].seq if recs else cursor,
        last_seq=s.last_seq if s else 0,
    )


def _rec(r) -> dict:
    return dict(key=r.key, seq=r.seq, deleted=r.deleted, data=r.data, updated_at=r.updated_at)


@router.get("/{cls}/{seq}/records/{key}", response=RecordDetailOut, summary="一条记录及其历史值")
def get_record(request, cls: Text, seq: Text, key: Text):
    resource = _own_resource(request, cls, seq)
    rec = selectors.record(resource, key)
    past = selectors.history(resource, key)
    _read_event(request, resource, 1 + len(past), record=rec.seq)
    return _rec(rec) | {"history": [_rec(h) for h in past]}


def _read_event(request, resource: Resource, rows: int, **detail) -> None:
    """The provider reading its own records back is a data read like any other (R-SEC-05)."""
    client = getattr(request, "client_system", None)
    audit.record(
        "collect.records.read",
        actor=None if client else request.auth,
        department=client.department if client else None,
        object=resource,
        client_system=client.name if client else "",
        detail={"resource": resource.code, "rows": rows, **detail},
        request=request,
    )


def _batch(request, batch_id: int) -> Batch:
    client = getattr(request, "client_system", None)
    if client is not None:
        b = Batch.objects.select_related("resource").filter(pk=batch_id, department=client.department).first()
        if b is None:
            raise NotFound("not_found", "批次不存在或无权查看")
        return b
    return services.get_batch(request.auth, batch_id)


@router.get("/batches/{batch_id}", response=BatchOut, summary="批次结果与问题明细（前 100 条）")
def get_batch(request, batch_id: DbInt):
    return batch_out(_batch(request, batch_id))


@router.get("/batches/{batch_id}/report.csv", summary="问题明细（CSV，UTF-8 带 BOM）")
def report_csv(request, batch_id: DbInt):
    b = _batch(request, batch_id)
    resp = HttpResponse(selectors.report_csv(b), content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="batch-{b.pk}-report.csv"'
    return resp


@router.get("/batches/{batch_id}/report.xlsx", summary="问题明细（xlsx）")
def report_xlsx(request, batch_id: DbInt):
    b = _batch(request, batch_id)
    resp = HttpResponse(
        selectors.report_xlsx(b),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    resp["Content-Disposition"] = f'attachment; filename="batch-{b.pk}-report.xlsx"'
    return resp
