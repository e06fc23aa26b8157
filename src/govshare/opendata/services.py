"""Opening data (R-OPEN-02/05/06): the confidentiality review, de-identification and dated versions.

Only a reviewed catalog entry is open, and only through the rules its review recorded: every item is
either suppressed or passed through a masking rule (the same rule language the sharing gate uses).
A version is written once by a background task and never changes; new loads make a new version after
a new review, or at once when the provider chose auto-publish.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
import re
import secrets
import tempfile
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from govshare.audit import services as audit
from govshare.catalog.models import InfoItem, OpenType, Resource, ResourceStatus
from govshare.collect.models import Record
from govshare.errors import DomainError, IllegalTransition, PermissionDenied, ValidationFailed
from govshare.notifications.services import notify_departments
from govshare.orgs.models import Role
from govshare.security import fields
from govshare.sharing import masking
from govshare.sharing.services import authority_for

from .models import (
    DATASET_TRANSITIONS,
    DOMAINS,
    DatasetStatus,
    OpenDataset,
    OpenVersion,
    Review,
    VersionStatus,
)

log = logging.getLogger(__name__)

SUPPRESS = "suppress"
PREVIEW_ROWS = 10
# Excel's sheet limit is 1,048,575 data rows, but building a workbook that large takes minutes; bigger
# versions are offered as CSV and JSON only (a platform setting, not a regulatory number).
XLSX_MAX_ROWS = 200_000
OPENABLE = (OpenType.UNCONDITIONAL, OpenType.CONDITIONAL)
DOMAIN_CODES = {code for code, _ in DOMAINS}


def _err(field: str, label: str, code: str, message: str) -> dict:
    return {"field": field, "label": label, "code": code, "message": message}


def package_name(resource: Resource) -> str:
    """CKAN package names are lowercase ASCII, digits, - and _: "301/000001" → "r301-000001"."""
    return "r" + re.sub(r"[^a-z0-9_-]+", "-", resource.code.lower()).strip("-")


def rule_label(spec: str) -> str:
    return "不开放（删除该列）" if spec == SUPPRESS else masking.parse(spec).label


def can_review(user, resource: Resource) -> bool:
    """The provider's officer or the authority answering for it does the 保密审查."""
    if user.has_role(Role.PROVIDER) and user.department_id == resource.provider_id:
        return True
    authority = authority_for(resource.provider)
    return user.has_role(Role.AUTHORITY) and authority is not None and authority.pk == user.department_id


def catalog_refusal(resource: Resource) -> str | None:
    """Why the catalog entry no longer allows the public to have its data (retired, 涉密, 不予开放), or None.

    The catalog can change after a review; the gate and the tick read it again each time.
    """
    if resource.status not in (ResourceStatus.PUBLISHED, ResourceStatus.RETIRING):
        return "目录已下线"
    if resource.is_secret:
        return "目录已标为涉密"
    if resource.open_type not in OPENABLE:
        return "目录的开放属性已调整为不予开放"
    return None


def effective_open_type(dataset: OpenDataset) -> str:
    """The stricter of the reviewed and the current catalog open type: a catalog now conditional is."""
    if OpenType.CONDITIONAL in (dataset.open_type, dataset.resource.open_type):
        return OpenType.CONDITIONAL
    return dataset.open_type


def _check_rules(resource: Resource, rules, errors: list[dict]) -> dict[str, str]:
    items = list(resource.items.order_by("position"))
    rules = rules if isinstance(rules, dict) else {}
    out: dict[str, str] = {}
    for item in items:
        spec = str(rules.get(item.code) or "").strip()
        if not spec:
            errors.append(
                _err(
                    f"rules.{item.code}",
                    item.name,
                    "rule_required",
                    f"请为信息项“{item.name}”设置去标识化规则",
                )
            )
            continue
        if spec != SUPPRESS:
            try:
                spec = masking.parse(spec).spec
            except masking.RuleError as exc:
                errors.append(_err(f"rules.{item.code}", item.name, "invalid_rule", str(exc)))
                continue
        out[item.code] = spec
    unknown = sorted(set(rules) - {i.code for i in items})
    if unknown:
        errors.append(
            _err("rules", "去标识化规则", "unknown_item", f"目录中没有信息项：{'、'.join(unknown)}")
        )
    if items and out and all(v == SUPPRESS for v in out.values()) and len(out) == len(items):
        errors.append(_err("rules", "去标识化规则", "nothing_open", "至少开放一个信息项"))
    return out


def _source_seq(resource: Resource) -> int:
    return Record.objects.filter(resource=resource).aggregate(m=Max("seq"))["m"] or 0


def _search_text(dataset: OpenDataset, resource: Resource, items: list[dict]) -> str:
    parts = [dataset.title, dataset.description, resource.code, dataset.provider.name]
    parts += [i["name"] for i in items]
    return " ".join(p for p in parts if p).lower()


@transaction.atomic
def review_and_open(
    user,
    resource: Resource,
    *,
    domain: str,
    rules: dict,
    conclusion: str,
    reviewed_on: dt.date | None = None,
    auto_publish: bool = False,
    description: str = "",
    resolving_objection: bool = False,
) -> OpenDataset:
    """Record the confidentiality review and open the entry as a dataset, or re-review an open one.

    Each call publishes a new version built from the current records with the reviewed rules. A dataset
    suspended by an objection is reopened this way only as the objection's finding (CZ 28): the caller,
    opendata.objections.reopen, passes `resolving_objection` and settles the objections in the same
    transaction.
    """
    resource = Resource.objects.select_for_update().select_related("provider").get(pk=resource.pk)
    if not can_review(user, resource):
        raise PermissionDenied("reviewer_only", "只有提供部门数据专员或数据主管部门可以进行开放前保密审查")
    if resource.status not in (ResourceStatus.PUBLISHED,):
        raise DomainError("resource_not_published", f"目录“{resource.code}”未发布，不能开放", status=409)
    if resource.is_secret:
        raise DomainError("resource_secret", "涉密资源不予开放", status=409)
    if resource.open_type not in OPENABLE:
        raise DomainError(
            "not_openable", f"目录“{resource.name}”的开放属性为“不予开放”，不能开放（R-OPEN-02）", status=409
        )
    errors: list[dict] = []
    conclusion = (conclusion or "").strip()
    if not conclusion:
        errors.append(_err("conclusion", "保密审查结论", "required", "请填写保密审查结论"))
    if domain not in DOMAIN_CODES:
        errors.append(_err("domain", "开放领域", "invalid", "请选择开放领域"))
    reviewed_on = reviewed_on or timezone.localdate()
    if reviewed_on > timezone.localdate():
        errors.append(_err("reviewed_on", "审查日期", "future_date", "审查日期不能晚于今天"))
    checked = _check_rules(resource, rules, errors)
    if errors:
        raise ValidationFailed(errors)

    now = timezone.now()
    dataset = OpenDataset.objects.select_for_update().filter(resource=resource).first()
    if dataset is None:
        dataset = OpenDataset(
            resource=resource,
            name=package_name(resource),
            provider=resource.provider,
            hash_salt=secrets.token_hex(16),
            opened_at=now,
            status=DatasetStatus.OPEN,
        )
        action = "open.open"
    else:
        if dataset.status == DatasetStatus.SUSPENDED and not resolving_objection:
            raise IllegalTransition("dataset_suspended", "数据集因异议已中止开放，请先处理异议")
        if dataset.status in (DatasetStatus.WITHDRAWN, DatasetStatus.SUSPENDED):
            _move(dataset, DatasetStatus.OPEN)
        action = "open.review"
    dataset.title = resource.name
    dataset.description = (description or "").strip() or resource.abstract
    dataset.domain = domain
    dataset.open_type = resource.open_type
    dataset.rules = checked
    dataset.auto_publish = bool(auto_publish)
    dataset.status_reason = ""
    dataset.updated_at = now
    # Only published items are searchable: a suppressed column must not make the dataset match.
    opened = [{"name": i.name} for i in resource.items.all() if checked.get(i.code, SUPPRESS) != SUPPRESS]
    dataset.search_text = _search_text(dataset, resource, opened)
    dataset.save()
    review = Review.objects.create(
        dataset=dataset,
        resource=resource,
        resource_version=resource.version,
        source_seq=_source_seq(resource),
        reviewer=user,
        reviewed_on=reviewed_on,
        conclusion=conclusion,
        rules=checked,
    )
    audit.record(action, actor=user, object=dataset, detail={"resource": resource.code, "review": review.pk})
    publish_version(dataset, review)
    return dataset


def _move(dataset: OpenDataset, target: str) -> None:
    if target not in DATASET_TRANSITIONS.get(dataset.status, set()):
        raise IllegalTransition(
            "illegal_transition",
            f"数据集当前为“{dataset.get_status_display()}”，不能执行该操作",
            {"status": dataset.status, "target": target},
        )
    dataset.status = target


def publish_version(dataset: OpenDataset, review: Review) -> OpenVersion:
    """Queue a new version built with the review's rules; it becomes current when written."""
    last = dataset.versions.aggregate(m=Max("number"))["m"] or 0
    items = [
        {"code": i.code, "name": i.name, "rule": review.rules[i.code]}
        for i in dataset.resource.items.order_by("position")
        if review.rules.get(i.code, SUPPRESS) != SUPPRESS
    ]
    version = OpenVersion.objects.create(
        dataset=dataset,
        number=last + 1,
        review=review,
        source_seq=_source_seq(dataset.resource),
        items=items,
    )
    from .tasks import build_version

    # Queued inside the transaction: the database task backend commits the task with the version row (or
    # neither), and the immediate backend of tests never fires an on_commit callback.
    build_version.enqueue(version.pk)
    return version


def _headers(items: list[dict]) -> list[str]:
    names = [i["name"] for i in items]
    return [f"{i['name']}（{i['code']}）" if names.count(i["name"]) > 1 else i["name"] for i in items]


def build(version_id: int) -> str:
    """Write one version's files: read every live record, apply the rules, CSV (and xlsx when small)."""
    # The data read is the data at build time; its change sequence is recorded before reading.
    seq = _source_seq_of(version_id)
    claimed = OpenVersion.objects.filter(
        pk=version_id, status=VersionStatus.BUILDING, started_at__isnull=True
    ).update(started_at=timezone.now(), source_seq=seq)
    version = OpenVersion.objects.select_related("dataset__resource").filter(pk=version_id).first()
    if version is None or not claimed:
        return "missing" if version is None else version.status  # a retried task never writes twice
    dataset = version.dataset
    codes = [i["code"] for i in version.items]
    masks = masking.compile_masks({i["code"]: i["rule"] for i in version.items}, dataset.hash_salt)
    try:
        with tempfile.TemporaryDirectory(prefix="govshare-open-") as tmp:
            path = Path(tmp) / "data.csv"
            rows, preview = _write_csv(path, dataset.resource_id, codes, masks, _headers(version.items))
            digest = hashlib.sha256()
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
            stem = f"opendata/{dataset.name}/v{version.number}-{secrets.token_hex(6)}"
            with path.open("rb") as fh:
                name = default_storage.save(f"{stem}.csv", File(fh, name=f"{stem}.csv"))
            xlsx = ""
            if rows <= XLSX_MAX_ROWS:
                xpath = Path(tmp) / "data.xlsx"
                _write_xlsx(path, xpath)
                with xpath.open("rb") as fh:
                    xlsx = default_storage.save(f"{stem}.xlsx", File(fh, name=f"{stem}.xlsx"))
            size = path.stat().st_size
    except Exception:
        log.exception("open version %s failed", version_id)
        OpenVersion.objects.filter(pk=version_id).update(
            status=VersionStatus.FAILED, error="版本文件生成失败，请稍后重试", finished_at=timezone.now()
        )
        return VersionStatus.FAILED
    with transaction.atomic():
        written = OpenVersion.objects.filter(pk=version_id, status=VersionStatus.BUILDING).update(
            status=VersionStatus.READY,
            file=name,
            xlsx_file=xlsx,
            rows=rows,
            size=size,
            sha256=digest.hexdigest(),
            preview=preview,
            finished_at=timezone.now(),
        )
        if not written:  # retracted while it was being written (an objection held): never published
            for stored in (name, xlsx):
                if stored:
                    default_storage.delete(stored)
            return VersionStatus.RETRACTED
        # A newer version may have finished first; the highest ready number is current.
        newest = (
            OpenVersion.objects.filter(dataset=dataset, status=VersionStatus.READY)
            .order_by("-number")
            .first()
        )
        OpenDataset.objects.filter(pk=dataset.pk).update(
            current=newest, has_xlsx=bool(newest.xlsx_file), updated_at=timezone.now()
        )
        audit.record(
            "open.version",
            object_type="opendata.opendataset",
            object_id=dataset.pk,
            detail={"version": version.number, "rows": rows, "sha256": digest.hexdigest()},
        )
    return VersionStatus.READY


def _source_seq_of(version_id: int) -> int:
    resource_id = (
        OpenVersion.objects.filter(pk=version_id).values_list("dataset__resource_id", flat=True).first()
    )
    return Record.objects.filter(resource_id=resource_id).aggregate(m=Max("seq"))["m"] or 0


def _write_csv(path: Path, resource_id: int, codes, masks, headers) -> tuple[int, list]:
    count, preview, last = 0, [], ""
    # Opened here, then de-identified per the review: the open portal is a delivery like the gate's.
    sealer = fields.sealer_from(
        resource_id,
        InfoItem.objects.filter(resource_id=resource_id).values_list(
            "code", "is_primary", "is_indexed", "is_sensitive"
        ),
    )
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(headers)
        while True:
            batch = list(
                Record.objects.filter(resource_id=resource_id, deleted=False, key__gt=last)
                .order_by("key")
                .values_list("key", "data")[:5000]
            )
            if not batch:
                break
            for key, data in batch:
                data = sealer.open(key, data) if sealer else data
                row = []
                for code in codes:
                    value = (data or {}).get(code)
                    fn = masks.get(code)
                    if fn is not None and value is not None:
                        value = fn(value)
                    row.append("" if value is None else str(value))
                writer.writerow(row)
                if count < PREVIEW_ROWS:
                    preview.append(row)
                count += 1
            last = batch[-1][0]
    return count, preview


def _write_xlsx(csv_path: Path, path: Path) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    try:
        ws = wb.add_worksheet("数据")
        with csv_path.open(encoding="utf-8-sig", newline="") as fh:
            for r, row in enumerate(csv.reader(fh)):
                for c, value in enumerate(row):
                    if value != "":
                        ws.write_string(r, c, value)
    finally:
        wb.close()


def has_new_data(dataset: OpenDataset) -> bool:
    """Records changed since the current version: a new review is due unless auto-publish is on."""
    current = dataset.current
    return current is not None and _source_seq(dataset.resource) > current.source_seq


def publish_new_data() -> int:
    """Tick: auto-publish datasets make a new version of new data under their last review's rules."""
    made = 0
    for dataset in OpenDataset.objects.filter(status=DatasetStatus.OPEN, auto_publish=True).select_related(
        "current", "resource"
    ):
        if dataset.versions.filter(status=VersionStatus.BUILDING).exists() or not has_new_data(dataset):
            continue
        if catalog_refusal(dataset.resource) is not None:
            continue  # the catalog no longer allows it: no new version, whatever auto-publish says
        with transaction.atomic():
            # an objection may have suspended it since the query above
            locked = (
                OpenDataset.objects.select_for_update()
                .filter(pk=dataset.pk, status=DatasetStatus.OPEN)
                .first()
            )
            if locked is None:
                continue
            publish_version(locked, dataset.reviews.order_by("-id").first())
        made += 1
    return made


def _change_status(user, dataset: OpenDataset, target: str, reason: str, action: str) -> OpenDataset:
    dataset = OpenDataset.objects.select_for_update().select_related("resource").get(pk=dataset.pk)
    if not can_review(user, dataset.resource):
        raise PermissionDenied("reviewer_only", "只有提供部门数据专员或数据主管部门可以变更开放状态")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed([_err("reason", "理由", "required", "请说明理由")])
    _move(dataset, target)
    dataset.status_reason, dataset.updated_at = reason, timezone.now()
    dataset.save(update_fields=["status", "status_reason", "updated_at"])
    audit.record(action, actor=user, object=dataset, detail={"reason": reason[:300]})
    notify_departments(
        [dataset.provider],
        "open.status_changed",
        f"开放数据集“{dataset.title}”{dataset.get_status_display()}",
        body=reason[:200],
        link=f"/open/datasets/{dataset.name}/",
    )
    return dataset


def retract_versions(user, dataset: OpenDataset, reason: str) -> int:
    """An objection held: every written version stops being downloadable (the dataset has no current
    version until a reprocessed one is written), so v1 with the disputed data cannot be fetched by number."""
    n = OpenVersion.objects.filter(
        dataset=dataset, status__in=(VersionStatus.READY, VersionStatus.BUILDING)
    ).update(status=VersionStatus.RETRACTED)
    OpenDataset.objects.filter(pk=dataset.pk).update(current=None, has_xlsx=False)
    dataset.current, dataset.has_xlsx = None, False
    audit.record("open.retract", actor=user, object=dataset, detail={"versions": n, "reason": reason[:300]})
    return n


@transaction.atomic
def withdraw_dataset(user, dataset: OpenDataset, reason: str) -> OpenDataset:
    """Withdraw; when an objection had suspended it, that is the objections' finding and they are settled."""
    prior = OpenDataset.objects.select_for_update().values_list("status", flat=True).get(pk=dataset.pk)
    dataset = _change_status(user, dataset, DatasetStatus.WITHDRAWN, reason, "open.withdraw")
    if prior == DatasetStatus.SUSPENDED:
        from .objections import settle

        settle(user, dataset, "withdrawn", reason)
        retract_versions(user, dataset, reason)  # the objection held: the disputed versions go too
    return dataset
