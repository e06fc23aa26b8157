"""Provider pages for loading data: resources to load, upload with live progress, batch reports."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils import timezone

from govshare.catalog.models import MountKind, Resource, ResourceStatus
from govshare.catalog.selectors import get_resource
from govshare.collect import jobs, selectors, services
from govshare.collect.models import Batch, BatchMode, BatchSource, BatchStatus, Series
from govshare.collect.mounts import mount_status
from govshare.collect.quality import resource_quality
from govshare.errors import DomainError, NotFound


def _resource(request, cls, seq) -> Resource:
    try:
        resource = get_resource(request.user, f"{cls}/{seq}")
    except NotFound:
        raise Http404 from None
    if not selectors.may_read_own(request.user, resource):
        raise Http404
    return resource


@login_required
def index(request):
    user = request.user
    qs = Resource.objects.filter(
        status__in=[ResourceStatus.PUBLISHED, ResourceStatus.RETIRING], mount_kind=MountKind.TABLE
    ).select_related("provider")
    if not user.has_role("authority"):
        qs = qs.filter(provider_id=user.department_id)
    resources = list(qs.order_by("code"))
    series = {s.resource_id: s for s in Series.objects.filter(resource__in=resources)}
    last = {}
    for b in Batch.objects.filter(resource__in=resources).order_by("resource_id", "-id"):
        last.setdefault(b.resource_id, b)
    rows = [(r, series.get(r.pk), last.get(r.pk)) for r in resources]
    others = (
        Resource.objects.filter(
            status__in=[ResourceStatus.PUBLISHED, ResourceStatus.RETIRING],
            mount_kind__in=[MountKind.FILE, MountKind.INTERFACE],
        )
        .filter(provider_id=user.department_id)
        .order_by("code")
    )
    return render(request, "collect/index.html", {"rows": rows, "mounted": others})


def _preview_value(item, value):
    if value is None or not item.is_sensitive:
        return value
    text = str(value)
    return text[:1] + "*" * max(len(text) - 2, 1) + text[-1:] if len(text) > 2 else "*" * len(text)


@login_required
def resource_page(request, cls, seq):
    resource = _resource(request, cls, seq)
    if request.method == "POST":
        return _upload(request, resource)
    items = list(resource.items.order_by("position"))
    records = selectors.latest_records(resource, 20)
    # Sensitive items show masked even to their provider: the page is a preview, not a delivery.
    preview = [[_preview_value(it, (r.data or {}).get(it.code)) for it in items] for r in records]
    return render(
        request,
        "collect/resource.html",
        {
            "r": resource,
            "items": items,
            "series": selectors.series(resource),
            "batches": selectors.batches_for(resource)[:30],
            "preview": list(zip(records, preview, strict=True)),
            "can_load": services.may_load(request.user, resource),
            "quality": resource_quality(resource),
            "mount": mount_status(resource),
            "modes": BatchMode.choices,
        },
    )


def _upload(request, resource):
    if not services.may_load(request.user, resource):
        return HttpResponseForbidden("只有资源提供部门的数据专员可以归集该资源的数据")
    upload = request.FILES.get("file")
    if upload is None or upload.size == 0:
        messages.error(request, "请选择要上传的文件（CSV、xlsx 或 JSON Lines）")
        return redirect(f"/collect/{resource.code}/")
    mode = request.POST.get("mode", BatchMode.UPSERT)
    accept_valid = request.POST.get("accept_valid") == "on"
    try:
        services.check_request(resource, request.user, mode, accept_valid)
    except DomainError as exc:
        messages.error(request, f"{exc.message}（{exc.code}）")
        return redirect(f"/collect/{resource.code}/")
    path = jobs.save_upload(upload)
    batch = Batch.objects.create(
        resource=resource,
        department=resource.provider,
        actor=request.user,
        source=BatchSource.UPLOAD,
        mode=mode,
        accept_valid=accept_valid,
        filename=(upload.name or "upload")[:255],
        heartbeat_at=timezone.now(),
    )
    jobs.start(batch.pk, path, upload.name or "upload", {"mode": mode, "accept_valid": accept_valid})
    return redirect(f"/collect/batches/{batch.pk}/")


def _batch(request, batch_id) -> Batch:
    try:
        return services.get_batch(request.user, batch_id)
    except NotFound:
        raise Http404 from None


@login_required
def batch_page(request, batch_id):
    batch = _batch(request, batch_id)
    return render(
        request,
        "collect/batch.html",
        {"b": batch, "errors": batch.errors.all()[:200], "quarantined": batch.quarantined.all()[:50]},
    )


@login_required
def batch_progress(request, batch_id):
    batch = _batch(request, batch_id)
    response = render(request, "collect/_progress.html", {"b": batch})
    if batch.status != BatchStatus.RUNNING:
        response["HX-Refresh"] = "true"  # reload the page once so the report appears
    return response
