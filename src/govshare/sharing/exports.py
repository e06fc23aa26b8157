"""Batch delivery (R-SHARE-13 批量下载): an export job reads only through the gate (DESIGN §3).

The request opens the gate like any other call ('batch' must be granted) and queues a job. The job
re-checks that very grant when it runs, because time passes between request and run and a provider may
suspend in between; it then reads `gate.iter_rows`, so the grant's items, masks and row filter shape the
file exactly as they shape a lookup. The file is fetched through a signed, expiring link: the link is
the credential (a batch tool may hand it to a plain downloader without the client token), so the
download checks the grant once more and is audited like any delivery.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from govshare.catalog.models import ResourceStatus
from govshare.clients.models import ClientStatus
from govshare.errors import DomainError, NotFound

from . import gate
from .models import ExportFormat, ExportJob, ExportStatus

log = logging.getLogger(__name__)

SALT = "govshare.export"
CONTENT_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.PARQUET: "application/vnd.apache.parquet",
}
XLSX_MAX_ROWS = 1_048_575  # one sheet, below the header row
PARQUET_BATCH = 5000
LIVE = (ResourceStatus.PUBLISHED, ResourceStatus.RETIRING)


@dataclass
class Caller:
    """Stands in for the request where there is none (the task, the signed download): what the gate reads."""

    client_system: object
    credential: object = None
    headers: dict = field(default_factory=dict)


def _ttl() -> dt.timedelta:
    return dt.timedelta(hours=settings.GOVSHARE_EXPORT_TTL_HOURS)


# ---------------------------------------------------------------- requesting


def request_export(access: gate.Access, fmt: str, wanted: list[str] | None) -> ExportJob:
    """Queue a job for an opened 'export' access; the audit event says which items were asked for."""
    if fmt not in ExportFormat.values:
        access.deny(
            "invalid_format",
            "导出格式须为 csv、xlsx 或 parquet",
            {"format": str(fmt)[:16]},
            status=422,
        )
    codes = access.select(wanted)
    with transaction.atomic():
        job = ExportJob.objects.create(
            grant=access.grant,
            client=access.client,
            credential=access.credential,
            format=fmt,
            case_id=access.case_id,
        )
        access.done(0, codes, job=job.pk, format=fmt, stage="queued")
    # Not on_commit: the job row is committed already (autocommit), and the immediate backend in tests
    # never sees an on_commit callback fire inside the test transaction.
    from .tasks import run_export

    run_export.enqueue(job.pk, codes)
    job.refresh_from_db()
    return job


def job_of(client, resource_code: str, job_id: int) -> ExportJob | None:
    """A job as its own client system sees it; another system's job does not exist for the caller."""
    return (
        ExportJob.objects.select_related("grant", "grant__resource")
        .filter(pk=job_id, client_id=client.pk, grant__resource__code=resource_code)
        .first()
    )


def download_token(job: ExportJob) -> str:
    """Signed now, valid for the export TTL; bound to the file's hash, so it names exactly these bytes."""
    return signing.TimestampSigner(salt=SALT).sign(f"{job.pk}.{job.sha256[:16]}")


# ---------------------------------------------------------------- re-checking the grant


def reopen(job: ExportJob, endpoint: str) -> gate.Access:
    """The gate's checks for the job's own grant, outside a request; refusals are audited by the gate.

    Unlike open_access this does not look for another usable grant (the file belongs to this one) and
    does not count the daily quota again: the export request was the counted call.
    """
    job = ExportJob.objects.select_related("grant__resource", "client__department", "credential").get(
        pk=job.pk
    )
    grant, client = job.grant, job.client
    resource = grant.resource
    caller = Caller(client, None, {"X-Case-Id": job.case_id})

    def refuse(reason: str, message: str, status: int = 403):
        gate._audit(caller, endpoint, resource.code, grant=grant, reason=reason, case_id=job.case_id)
        raise DomainError(reason, message, {"grant": grant.number}, status=status)

    if resource.status not in LIVE:
        refuse("resource_not_found", f"目录“{resource.code}”已不再发布", 404)
    if client.status != ClientStatus.ACTIVE or not client.department.is_active:
        refuse("client_disabled", f"应用系统“{client.name}”已停用")
    token = job.credential
    if token is not None and token.revoked_at is not None:
        refuse("token_revoked", "申请导出的凭证已吊销，下载链接随之失效", 401)
    if token is not None and token.expires_at <= timezone.now():
        refuse("token_expired", "申请导出的凭证已过期，下载链接随之失效", 401)
    if not grant.clients.filter(pk=client.pk).exists():
        refuse("no_grant", f"应用系统“{client.name}”已不在授权{grant.number}的范围内")
    problem = gate._grant_problem(grant, gate.METHOD_OF[endpoint], timezone.localdate())
    if problem is not None:
        refuse(*problem)
    schema = gate._schema(resource.pk, resource.version)
    granted = set(grant.items)
    return gate.Access(
        request=caller,
        endpoint=endpoint,
        resource=resource,
        schema=schema,
        grant=grant,
        client=client,
        credential=None,
        case_id=job.case_id,
        items=[i.code for i in schema.items if i.code in granted],
    )


# ---------------------------------------------------------------- running (the task body)


def run(job_id: int, codes: list[str]) -> str:
    """Produce the file of one queued job; the job row, not the task result, is what callers read."""
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportStatus.QUEUED).update(
        status=ExportStatus.RUNNING
    )
    job = ExportJob.objects.select_related("grant__resource").filter(pk=job_id).first()
    if job is None:
        return "missing"
    if not claimed:
        return job.status  # already run (a retried task): never write a second file
    try:
        access = reopen(job, "export")
        codes = access.select(codes)
    except DomainError as exc:  # audited by the gate
        _fail(job, exc.message)
        return job.status
    try:
        name, digest, rows = _write(access, codes, job.format)
    except DomainError as exc:
        access.error(exc.code, {"job": job.pk})
        _fail(job, exc.message)
        return job.status
    except Exception:
        log.exception("export job %s failed", job_id)
        access.error("export_failed", {"job": job.pk})
        _fail(job, "导出文件生成失败，请稍后重试；如多次失败请联系平台运维单位")
        return job.status
    now = timezone.now()
    with transaction.atomic():
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportStatus.DONE,
            file=name,
            sha256=digest,
            rows=rows,
            finished_at=now,
            expires_at=now + _ttl(),
            error="",
        )
        access.done(rows, codes, job=job.pk, format=job.format, sha256=digest, stage="done")
    return ExportStatus.DONE


def _fail(job: ExportJob, message: str) -> None:
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.FAILED, error=message[:2000], finished_at=timezone.now()
    )
    job.refresh_from_db()


def _headers(access: gate.Access, codes: list[str]) -> list[str]:
    """Chinese item names; a name used twice gets its code appended so every column stays addressable."""
    names = [access.schema.by_code[c].name for c in codes]
    return [f"{n}（{c}）" if names.count(n) > 1 else n for n, c in zip(names, codes, strict=True)]


def _text(value) -> str | None:
    return None if value is None else str(value)


def _write(access: gate.Access, codes: list[str], fmt: str) -> tuple[str, str, int]:
    """Write to a private temp file, then into storage under an unguessable name: (name, sha256, rows)."""
    headers = _headers(access, codes)
    rows = gate.iter_rows(access, codes)
    with tempfile.TemporaryDirectory(prefix="govshare-export-") as tmp:
        path = Path(tmp) / f"export.{fmt}"
        if fmt == ExportFormat.CSV:
            count = _write_csv(path, headers, codes, rows)
        elif fmt == ExportFormat.XLSX:
            count = _write_xlsx(path, headers, codes, rows)
        else:
            count = _write_parquet(path, headers, codes, rows)
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        name = f"sharing/exports/{timezone.localtime():%Y/%m}/{uuid.uuid4().hex}.{fmt}"
        with path.open("rb") as fh:
            name = default_storage.save(name, File(fh, name=name))
    return name, digest.hexdigest(), count


def _write_csv(path: Path, headers, codes, rows) -> int:
    count = 0
    # UTF-8 with BOM: Excel on a government desktop opens it with the Chinese intact.
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(headers)
        for row in rows:
            writer.writerow(["" if row[c] is None else str(row[c]) for c in codes])
            count += 1
    return count


def _write_xlsx(path: Path, headers, codes, rows) -> int:
    import xlsxwriter

    # constant_memory streams rows to disk; every cell is written as text, never as a formula or URL.
    wb = xlsxwriter.Workbook(
        str(path),
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
    )
    try:
        ws = wb.add_worksheet("数据")
        bold = wb.add_format({"bold": True})
        for col, name in enumerate(headers):
            ws.write_string(0, col, name, bold)
        count = 0
        for row in rows:
            if count >= XLSX_MAX_ROWS:
                raise DomainError(
                    "too_many_rows_for_xlsx",
                    f"数据超过 Excel 单表 {XLSX_MAX_ROWS} 行上限，请改用 CSV 或 Parquet 格式导出",
                )
            count += 1
            for col, code in enumerate(codes):
                value = row[code]
                if value is not None:
                    ws.write_string(count, col, str(value))
    finally:
        wb.close()
    return count


def _write_parquet(path: Path, headers, codes, rows) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [pa.field(h, pa.string(), metadata={"code": c}) for h, c in zip(headers, codes, strict=True)]
    )
    count = 0
    with pq.ParquetWriter(str(path), schema) as writer:
        batch: list[dict] = []

        def flush():
            columns = {h: [_text(r[c]) for r in batch] for h, c in zip(headers, codes, strict=True)}
            writer.write_table(pa.table(columns, schema=schema))
            batch.clear()

        for row in rows:
            batch.append(row)
            count += 1
            if len(batch) >= PARQUET_BATCH:
                flush()
        if batch or count == 0:
            flush()
    return count


# ---------------------------------------------------------------- downloading


def filename_of(job: ExportJob) -> str:
    return f"{job.grant.resource.code.replace('/', '_')}-{job.grant.number}.{job.format}"


def open_download(token: str):
    """(job, open file) for a signed link; the grant must still be usable, and the download is audited."""
    signer = signing.TimestampSigner(salt=SALT)
    try:
        value = signer.unsign(token)
    except signing.BadSignature:
        gate._audit(Caller(None), "download", "", reason="export_link_invalid")
        raise NotFound("export_link_invalid", "下载链接无效，请通过导出任务查询获取下载链接") from None
    job_id, _, digest = value.partition(".")
    job = (
        ExportJob.objects.select_related("grant__resource", "client__department")
        .filter(pk=int(job_id) if job_id.isdecimal() else 0, status=ExportStatus.DONE)
        .first()
    )
    if job is None or job.sha256[:16] != digest:
        gate._audit(Caller(None), "download", "", reason="export_not_found")
        raise NotFound("export_not_found", "导出文件不存在")
    caller = Caller(job.client, None, {"X-Case-Id": job.case_id})
    expired = job.expires_at is not None and timezone.now() > job.expires_at
    try:
        signer.unsign(token, max_age=_ttl())
    except signing.SignatureExpired:
        expired = True
    if expired:
        gate._audit(
            caller,
            "download",
            job.grant.resource.code,
            grant=job.grant,
            reason="export_link_expired",
            detail={"job": job.pk},
            case_id=job.case_id,
        )
        raise DomainError(
            "export_link_expired", "下载链接已过期，请重新查询导出任务获取新链接或重新导出", status=410
        )
    access = reopen(job, "download")
    try:
        fh = default_storage.open(job.file.name, "rb")
    except FileNotFoundError:
        access.deny("export_file_missing", "导出文件已不在存储中，请重新导出", {"job": job.pk}, status=410)
    access.done(job.rows, [], job=job.pk, format=job.format, sha256=job.sha256)
    return job, fh


def purge_expired(now: dt.datetime | None = None) -> int:
    """Remove files past their expiry (for the periodic tick); the job row stays as the record."""
    now = now or timezone.now()
    done = 0
    for job in ExportJob.objects.filter(expires_at__lt=now).exclude(file=""):
        try:
            default_storage.delete(job.file.name)
        except OSError:
            log.warning("could not delete expired export %s", job.file.name)
            continue
        ExportJob.objects.filter(pk=job.pk).update(file="")
        done += 1
    return done
