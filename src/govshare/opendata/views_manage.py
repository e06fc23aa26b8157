"""The providers' opening pages: which entries are open, the 保密审查 form, withdrawal (R-OPEN-02/06).

Every write goes through opendata.services, which checks again who may act and audits. Another
department's entry is simply not found (404); someone who is neither a provider officer nor the
authority is refused (403). A form that fails is shown again with the errors (422), nothing saved.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as Forbidden
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from govshare.errors import DomainError, NotFound, PermissionDenied, ValidationFailed

from . import forms, selectors, services
from .models import DOMAINS, DatasetStatus


def _resource(user, pk: int):
    try:
        return selectors.get_manageable(user, pk)
    except NotFound:
        raise Http404 from None
    except PermissionDenied as exc:
        raise Forbidden(exc.message) from None


def _errors(exc: DomainError) -> list[dict]:
    if isinstance(exc, ValidationFailed):
        return exc.errors
    return [{"field": "", "label": "", "code": exc.code, "message": exc.message}]


@login_required
def index(request):
    if not selectors.can_manage(request.user):
        raise Forbidden("只有提供部门数据专员或数据主管部门可以管理数据开放")
    return render(request, "opendata/manage_list.html", {"rows": selectors.manage_rows(request.user)})


def _review_context(resource, dataset, form, errors) -> dict:
    items = list(resource.items.order_by("position"))
    return {
        "r": resource,
        "d": dataset,
        "state": selectors.open_state(dataset),
        "form": form,
        "errors": errors,
        "general_errors": [e for e in errors if not e.get("field", "").startswith("rules.")],
        "item_rows": forms.item_rows(items, form["rules"], errors),
        "rule_kinds": forms.RULE_KINDS,
        "domains": DOMAINS,
        "reviews": list(
            dataset.reviews.select_related("reviewer").prefetch_related("versions").order_by("-id")[:10]
        )
        if dataset
        else [],
        "can_withdraw": dataset is not None and dataset.status != DatasetStatus.WITHDRAWN,
        "suspended": dataset is not None and dataset.status == DatasetStatus.SUSPENDED,
    }


@login_required
def review(request, pk: int):
    resource = _resource(request.user, pk)
    dataset = getattr(resource, "open_dataset", None)
    if request.method != "POST":
        form = forms.initial(resource, dataset)
        return render(request, "opendata/manage_review.html", _review_context(resource, dataset, form, []))
    form = forms.from_post(resource, request.POST)
    errors: list[dict] = []
    kwargs = forms.parse(form, errors)
    if not errors:
        try:
            dataset = services.review_and_open(request.user, resource, **kwargs)
        except DomainError as exc:
            errors = _errors(exc)
    if errors:
        context = _review_context(resource, getattr(resource, "open_dataset", None), form, errors)
        return render(request, "opendata/manage_review.html", context, status=422)
    latest = dataset.versions.order_by("-number").first()
    messages.success(
        request, f"保密审查已记录，数据集“{dataset.title}”已开放，发布版本 v{latest.number if latest else 1}"
    )
    return redirect("/open/manage/")


@login_required
@require_POST
def withdraw(request, pk: int):
    resource = _resource(request.user, pk)
    dataset = getattr(resource, "open_dataset", None)
    if dataset is None:
        raise Http404
    try:
        services.withdraw_dataset(request.user, dataset, request.POST.get("reason", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(f"/open/manage/{resource.pk}/review/")
    messages.success(request, f"数据集“{dataset.title}”已撤回，公众不再能检索和下载")
    return redirect("/open/manage/")
