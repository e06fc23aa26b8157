"""Pages for mounting documents and provider interfaces behind catalog entries (R-CAT-16, R-SHARE-15)."""

import base64

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from govshare.catalog import selectors as catalog_selectors
from govshare.catalog.models import MountKind, Resource
from govshare.errors import DomainError, NotFound, PermissionDenied
from govshare.orgs.models import Role

from . import mounts


def _resource(request, cls: str, seq: str) -> Resource:
    try:
        return catalog_selectors.get_resource(request.user, f"{cls}/{seq}")
    except NotFound:
        raise Http404 from None


def _forbidden(request, exc: DomainError, resource: Resource | None = None):
    return render(
        request, "collect/mounts_forbidden.html", {"message": exc.message, "r": resource}, status=403
    )


def file_response(mf, fh) -> FileResponse:
    """The stored bytes under the name the provider uploaded them with, never rendered inline."""
    resp = FileResponse(fh, content_type=mf.content_type or "application/octet-stream")
    resp["Content-Disposition"] = mounts.content_disposition(mf.filename)
    resp["Content-Length"] = str(mf.size)
    resp["Repr-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(mf.sha256)).decode()}:"
    resp["Cache-Control"] = "private, no-store"
    return resp


@login_required
@require_GET
def mounts_index(request):
    """Which of my department's entries still have nothing behind them (the authority sees every one)."""
    user = request.user
    qs = Resource.objects.filter(status__in=mounts.LIVE).select_related("provider").order_by("code")
    if not user.has_role(Role.AUTHORITY):
        qs = qs.filter(provider_id=user.department_id)
    rows = [{"r": r, "mount": mounts.mount_status(r)} for r in qs[:500]]
    return render(request, "collect/mounts_index.html", {"rows": rows})


def _page(request, resource: Resource, status: int = 200, **extra):
    user = request.user
    allowed = mounts.can_download(user, resource)
    context = {
        "r": resource,
        "mount": mounts.mount_status(resource),
        "can_manage": mounts.can_manage(user, resource) and resource.status in mounts.LIVE,
        "can_download": allowed,
        "files": list(mounts.files_of(resource)) if allowed and resource.mount_kind == MountKind.FILE else [],
        "interfaces": (
            [
                {
                    "i": pi,
                    "ops": mounts.openapi_operations(pi.openapi),
                    "info": mounts.openapi_info(pi.openapi),
                }
                for pi in mounts.interfaces_of(resource)
            ]
            if allowed and resource.mount_kind == MountKind.INTERFACE
            else []
        ),
        "methods": mounts.HTTP_METHODS,
        "max_mb": mounts.MAX_FILE_BYTES // (1024 * 1024),
        "form": {"method": "GET"},
        "errors": {},
    }
    context.update(extra)
    return render(request, "collect/mounts_resource.html", context, status=status)


def _failed(request, resource: Resource, exc: DomainError, form: dict | None = None):
    if isinstance(exc, PermissionDenied):
        return _forbidden(request, exc, resource)
    errors = {e["field"]: e["message"] for e in exc.detail.get("errors", [])} if exc.detail else {}
    if exc.code == "invalid_url":
        errors["url"] = exc.message
    elif exc.code == "invalid_method":
        errors["method"] = exc.message
    messages.error(request, exc.message)
    return _page(request, resource, status=exc.status, form=form or {"method": "GET"}, errors=errors)


@login_required
@require_GET
def mount_page(request, cls, seq):
    return _page(request, _resource(request, cls, seq))


@login_required
@require_POST
def upload(request, cls, seq):
    resource = _resource(request, cls, seq)
    f = request.FILES.get("file")
    note = request.POST.get("note", "")
    if f is None and mounts.can_manage(request.user, resource):
        exc = DomainError("empty_file", "请选择要上传的文件")
        return _failed(request, resource, exc, {"note": note})
    try:
        mf = mounts.upload_file(request.user, resource, f, getattr(f, "name", ""), note)
    except DomainError as exc:
        return _failed(request, resource, exc, {"note": note})
    messages.success(request, f"已挂接第 {mf.version} 版：{mf.filename}")
    return redirect(f"/mounts/{resource.code}/")


@login_required
@require_POST
def register(request, cls, seq):
    resource = _resource(request, cls, seq)
    post = request.POST
    form = {k: post.get(k, "") for k in ("url", "method", "openapi_text", "note")}
    spec_file = request.FILES.get("openapi_file")
    source = spec_file.read(mounts.MAX_OPENAPI_BYTES + 1) if spec_file else form["openapi_text"]
    try:
        pi = mounts.register_interface(
            request.user, resource, form["url"], form["method"] or "GET", source, form["note"]
        )
    except DomainError as exc:
        return _failed(request, resource, exc, form)
    messages.success(request, f"已登记接口第 {pi.version} 版（{pi.method} {pi.url}），此前版本已停用")
    return redirect(f"/mounts/{resource.code}/")


@login_required
@require_GET
def download(request, file_id):
    try:
        mf, fh = mounts.open_file(request.user, file_id)
    except PermissionDenied as exc:
        return _forbidden(request, exc)
    except NotFound:
        raise Http404 from None
    return file_response(mf, fh)
