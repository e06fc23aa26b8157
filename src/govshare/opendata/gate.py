"""The open-data download gate: who may take which version of a dataset, in which format (R-OPEN-07, -11, -15).

Checked in this order, each refusal a DomainError with a stable code: the dataset exists → it is open
(suspended after an objection: 403 dataset_suspended; withdrawn: 410 dataset_withdrawn) → the version is
ready → the account (every download is recorded against one; its identity is checked where settings or
the profile require it) → the current terms of use are accepted → for a conditional dataset, an approved
application of this account that runs today (opendata.applications). Then one `open.download` audit
event and a stream whose memory use does not grow with the file: the stored CSV as is, JSON converted
row by row, the stored xlsx.
"""

from __future__ import annotations

import csv
import io
import json
import re

from django.core.files.storage import default_storage
from django.db import transaction
from django.http import FileResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

from govshare.audit import services as audit
from govshare.catalog.models import OpenType
from govshare.errors import DomainError, NotFound, PermissionDenied

from . import applications, identity, services
from .models import DatasetStatus, Download, IdentityStatus, OpenDataset, OpenVersion, VersionStatus

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
JSON_BATCH = 2000  # records per streamed chunk


class LoginRequired(DomainError):
    status = 401


def check(user, name: str, number: int, fmt: str) -> tuple[OpenDataset, OpenVersion]:
    """The dataset and version this user may download now, or the first reason they may not.

    A refusal is an audit event too, as at the sharing gate: a suspended dataset's would-be downloads
    are part of what the provider verifies.
    """
    try:
        return _check(user, name, number, fmt)
    except DomainError as exc:
        authenticated = getattr(user, "is_authenticated", False)
        audit.record(
            "open.download",
            actor=user if authenticated else None,
            object_type="opendata.opendataset",
            result="denied",
            detail={"dataset": name[:100], "version": number, "format": fmt[:8], "reason": exc.code},
        )
        raise


def _check(user, name: str, number: int, fmt: str) -> tuple[OpenDataset, OpenVersion]:
    dataset = OpenDataset.objects.select_related("resource").filter(name=name).first()
    if dataset is None or fmt not in FORMATS:
        raise NotFound("dataset_not_found", "数据集不存在或下载格式不受支持（支持 csv、json、xlsx）")
    if dataset.status == DatasetStatus.SUSPENDED:
        raise PermissionDenied(
            "dataset_suspended",
            "该数据集因收到异议已中止开放，正在核实",
            {"dataset": dataset.name, "reason": dataset.status_reason[:300]},
        )
    if dataset.status == DatasetStatus.WITHDRAWN:
        raise DomainError(
            "dataset_withdrawn",
            "该数据集已撤回，不再开放下载",
            {"dataset": dataset.name, "reason": dataset.status_reason[:300]},
            status=410,
        )
    closed = services.catalog_refusal(dataset.resource)
    if closed is not None:
        raise DomainError(
            "dataset_not_open", f"该数据集暂停下载：{closed}", {"dataset": dataset.name}, status=410
        )
    version = OpenVersion.objects.filter(dataset=dataset, number=number, status=VersionStatus.READY).first()
    if version is None or not version.file:
        raise NotFound("version_not_found", f"数据集“{dataset.title}”没有已发布的第{number}版")
    if not getattr(user, "is_authenticated", False):
        # Even where identity checks are off, a download is recorded against an account that accepted
        # the terms of use (R-OPEN-15).
        raise LoginRequired("login_required", "请先登录或注册账号后下载开放数据")
    if identity.identity_required():
        profile = identity.profile_of(user)
        if profile.identity_status != IdentityStatus.VERIFIED:
            raise PermissionDenied(
                "identity_required",
                "下载开放数据须先通过身份认证（姓名和公民身份号码核验）",
                {"identity_status": profile.identity_status},
            )
    if identity.accepted_terms(user) is None:
        raise PermissionDenied(
            "terms_not_accepted",
            "下载前请阅读并接受《数据使用条款》",
            {"terms_version": identity.TERMS_VERSION},
        )
    if services.effective_open_type(dataset) == OpenType.CONDITIONAL:
        # R-OPEN-08/09/15: an approved application of this account, within its period, agreement
        # accepted where required, not revoked; otherwise the reason (application_pending, …).
        applications.check_access(user, dataset)
    if fmt == "xlsx" and not version.xlsx_file:
        raise NotFound(
            "xlsx_unavailable",
            f"该版本共 {version.rows} 行，数据量较大，未提供 Excel 格式，请下载 CSV 或 JSON 格式",
            {"rows": version.rows},
        )
    return dataset, version


@transaction.atomic
def record(user, dataset: OpenDataset, version: OpenVersion, fmt: str) -> Download:
    """Every download is audited (issue #7): who, which dataset, version, format and how many rows."""
    download = Download.objects.create(
        user=user, dataset=dataset, version=version, fmt=fmt, rows=version.rows
    )
    audit.record(
        "open.download",
        actor=user,
        object=dataset,
        detail={
            "dataset": dataset.name,
            "version": version.number,
            "format": fmt,
            "rows": version.rows,
            "sha256": version.sha256,
        },
    )
    return download


def filename(dataset: OpenDataset, version: OpenVersion, fmt: str) -> str:
    title = re.sub(r'[\\/:*?"<>|\r\n\t]+', "_", dataset.title).strip(" ._") or dataset.name
    return f"{title}-第{version.number}版.{fmt}"


def response(dataset: OpenDataset, version: OpenVersion, fmt: str):
    name = filename(dataset, version, fmt)
    if fmt == "json":
        out = StreamingHttpResponse(json_chunks(dataset, version), content_type=FORMATS["json"])
        out["Content-Disposition"] = content_disposition_header(True, name)
    else:
        stored = version.file if fmt == "csv" else version.xlsx_file
        out = FileResponse(
            default_storage.open(stored.name, "rb"),
            as_attachment=True,
            filename=name,
            content_type=FORMATS[fmt],
        )
        out.block_size = 1 << 18  # fewer, larger reads for files of a million rows
        if fmt == "csv":
            out["X-Content-SHA256"] = version.sha256  # the digest the dataset page publishes
    out["Cache-Control"] = "private, no-store"
    return out


def json_chunks(dataset: OpenDataset, version: OpenVersion):
    """{"dataset","title","version","fields","records"} from the stored CSV, a batch of rows at a time.

    Values are the published (de-identified) strings; an empty cell is null.
    """
    codes = [i["code"] for i in version.items]
    head = {
        "dataset": dataset.name,
        "title": dataset.title,
        "version": version.number,
        "fields": [{"code": i["code"], "name": i["name"]} for i in version.items],
    }
    text = json.dumps(head, ensure_ascii=False)
    yield (text[:-1] + ', "records": [').encode()
    raw = default_storage.open(version.file.name, "rb")
    try:
        reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""))
        next(reader, None)  # the header row: item names
        batch: list[dict] = []
        first = True
        for row in reader:
            batch.append({c: (v if v != "" else None) for c, v in zip(codes, row, strict=False)})
            if len(batch) >= JSON_BATCH:
                yield ((b"" if first else b",") + json.dumps(batch, ensure_ascii=False)[1:-1].encode())
                batch, first = [], False
        if batch:
            yield ((b"" if first else b",") + json.dumps(batch, ensure_ascii=False)[1:-1].encode())
        yield b"]}"
    finally:
        raw.close()
