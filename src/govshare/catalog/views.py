"""Pages for people: browse and search, entry pages, editing, review, lists. Thin over services/selectors."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from govshare.calendar.policy import active_profile
from govshare.collect.elements import demand_shared_items, duplicate_warnings
from govshare.errors import DomainError, NotFound, ValidationFailed
from govshare.orgs.models import Department, Role

from . import exchange, rules, selectors, services
from .models import Classification, Demand, NegativeListEntry, NegativeStatus, Resource, Responsibility
from .search import FACETS, search

FACET_LABELS = {
    "catalog_kind": "目录类型",
    "provider_id": "提供部门",
    "share_type": "共享类型",
    "open_type": "开放类型",
    "format_category": "资源格式",
    "update_cycle": "更新周期",
}
FACET_VOCAB = {
    "catalog_kind": rules.CATALOG_KINDS,
    "share_type": rules.SHARE_TYPES,
    "open_type": rules.OPEN_TYPES,
    "format_category": rules.FORMAT_CATEGORIES,
    "update_cycle": rules.UPDATE_CYCLES,
}


def _notice_article() -> str:
    """The article behind a notice period, shown next to every date it produced (R-CAT-15)."""
    return active_profile().param("catalog_change_notice_months").article or ""


def _fail(request, exc: DomainError):
    messages.error(request, exc.message)


@login_required
def catalog_search(request):
    q = request.GET.get("q", "").strip()
    filters = {f: request.GET.getlist(f) for f in FACETS}
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    result = search(q, filters, page=page, per_page=20)
    by_id = {r.id: r for r in Resource.objects.filter(id__in=result.ids).select_related("provider")}
    hits = [by_id[i] for i in result.ids if i in by_id]
    dept_names = dict(Department.objects.values_list("id", "name"))
    facets = []
    for f in FACETS:
        vocab = FACET_VOCAB.get(f)
        values = [
            {
                "value": v,
                "count": c,
                "checked": v in filters[f],
                "label": dept_names.get(int(v), v) if f == "provider_id" else (vocab or {}).get(v, v),
            }
            for v, c in result.facets.get(f, [])
        ]
        facets.append({"name": f, "label": FACET_LABELS[f], "values": values})
    pages = (result.total + 19) // 20
    base = request.GET.copy()
    base.pop("page", None)
    return render(
        request,
        "catalog/search.html",
        {
            "q": q,
            "hits": hits,
            "total": result.total,
            "facets": facets,
            "page": page,
            "pages": pages,
            "querystring": base.urlencode(),
            "notice_article": _notice_article(),
        },
    )


def _code(cls: str, seq: str) -> str:
    return f"{cls}/{seq}"


@login_required
def resource_page(request, cls, seq):
    from govshare.collect.mounts import mount_status

    try:
        resource = selectors.get_resource(request.user, _code(cls, seq))
    except NotFound:
        raise Http404 from None
    user = request.user
    maintainer = resource.maintainer()
    can_maintain = user.has_role(Role.PROVIDER) and user.department_id == maintainer.id
    return render(
        request,
        "catalog/resource.html",
        {
            "r": resource,
            "items": resource.items.all(),
            "versions": resource.versions.select_related("changed_by", "approved_by"),
            "open_revision": services.open_revision(resource),
            "can_maintain": can_maintain,
            "can_retire": resource.status == "published" and services.may_retire(user, resource),
            "negative": resource.negative_entries.filter(status=NegativeStatus.CONFIRMED),
            "notice_article": _notice_article(),
            "mount": mount_status(resource) if resource.version else None,
        },
    )


def _payload_from_post(post) -> dict:
    p = {
        f: post.get(f, "")
        for f in rules.RESOURCE_FIELDS
        if f not in ("share_methods", "related_codes", "is_secret")
    }
    p["share_methods"] = post.getlist("share_methods")
    p["related_codes"] = [
        c for c in post.get("related_codes", "").replace("，", ",").replace(" ", ",").split(",") if c
    ]
    p["is_secret"] = post.get("is_secret") == "on"
    indices = sorted(
        {int(k.split("-")[1]) for k in post if k.startswith("item-") and k.split("-")[1].isdigit()}
    )
    items = []
    for i in indices:
        g = lambda f, i=i: post.get(f"item-{i}-{f}", "")  # noqa: E731
        if not (g("code") or g("name")):
            continue
        items.append(
            {
                "code": g("code"),
                "name": g("name"),
                "data_type": g("data_type"),
                "length": g("length") or None,
                "is_primary": g("is_primary") == "on",
                "is_required": g("is_required") == "on",
                "is_indexed": g("is_indexed") == "on",
                "is_basic": g("is_basic") == "on",
                "is_sensitive": g("is_sensitive") == "on",
                "share_type": g("share_type"),
                "enum_values": [
                    v.strip() for v in g("enum_values").replace("，", ",").split(",") if v.strip()
                ],
                "description": g("description"),
            }
        )
    p["items"] = items
    return p


def _duplicates(payload: dict, revision=None) -> list[dict]:
    """Items of the draft already obtainable through sharing (R-COL-03). The key item is how records
    join, not a second collection, so it is left out."""
    names = [it.get("name", "") for it in payload.get("items") or [] if not it.get("is_primary")]
    return duplicate_warnings(names, exclude_resource=revision.resource if revision else None)


def _warn_duplicates(request, found: list[dict], lead: str) -> None:
    if found:
        listed = "；".join(
            f"{w['item']}（{'、'.join(r['provider'] + '·' + r['name'] for r in w['resources'][:3])}）"
            for w in found
        )
        messages.warning(request, f"{lead}{listed}")


def _form_context(request, payload: dict, errors=None, revision=None, title="新编目录"):
    user = request.user
    return {
        "duplicates": _duplicates(payload, revision),
        "p": payload,
        "errors": errors or [],
        "revision": revision,
        "title": title,
        "classifications": Classification.objects.select_related("lead_department").all(),
        "departments": Department.objects.filter(is_active=True),
        "my_department": user.department,
        "vocab": {
            "share_type": rules.SHARE_TYPES,
            "open_type": rules.OPEN_TYPES,
            "delivery": rules.DELIVERIES,
            "update_cycle": rules.UPDATE_CYCLES,
            "format_category": rules.FORMAT_CATEGORIES,
            "mount_kind": rules.MOUNT_KINDS,
            "data_type": rules.DATA_TYPES,
        },
        "error_fields": {e["field"] for e in (errors or [])},
        "locked_classification": revision is not None,  # the code hangs off the classification
    }


@login_required
def resource_new(request):
    if not request.user.has_role(Role.PROVIDER):
        messages.error(request, "只有提供部门的数据专员可以编制目录")
        return redirect("/catalog/")
    if request.method == "POST":
        payload = _payload_from_post(request.POST)
        try:
            rev = services.create_resource(
                request.user, payload, reason=request.POST.get("reason") or "新编目录"
            )
        except ValidationFailed as exc:
            return render(
                request, "catalog/edit.html", _form_context(request, payload, exc.errors), status=422
            )
        except DomainError as exc:
            _fail(request, exc)
            return render(request, "catalog/edit.html", _form_context(request, payload), status=exc.status)
        messages.success(request, f"已保存草稿，资源代码 {rev.resource.code}")
        _warn_duplicates(request, _duplicates(payload, rev), "以下信息项已可通过共享获取，请勿重复采集：")
        return redirect(f"/catalog/revisions/{rev.pk}/")
    payload = {"provider": request.user.department_id, "items": [], "share_methods": []}
    return render(request, "catalog/edit.html", _form_context(request, payload))


@login_required
def revision_edit(request, rev_id):
    try:
        rev = selectors.get_revision(request.user, rev_id)
    except NotFound:
        raise Http404 from None
    if request.method == "POST":
        payload = _payload_from_post(request.POST)
        try:
            services.update_revision(request.user, rev, payload, reason=request.POST.get("reason"))
        except ValidationFailed as exc:
            return render(
                request,
                "catalog/edit.html",
                _form_context(request, payload, exc.errors, rev, "修改目录"),
                status=422,
            )
        except DomainError as exc:
            _fail(request, exc)
            return redirect(f"/catalog/revisions/{rev.pk}/")
        messages.success(request, "已保存")
        _warn_duplicates(request, _duplicates(payload, rev), "以下信息项已可通过共享获取，请勿重复采集：")
        if request.POST.get("then") == "submit":
            return _do(request, rev.pk, lambda r: services.submit_revision(request.user, r), "已提交审核")
        return redirect(f"/catalog/revisions/{rev.pk}/")
    return render(
        request, "catalog/edit.html", _form_context(request, rev.payload, revision=rev, title="修改目录")
    )


@login_required
def revision_page(request, rev_id):
    try:
        rev = selectors.get_revision(request.user, rev_id)
    except NotFound:
        raise Http404 from None
    user = request.user
    resource = rev.resource
    maintainer_id = (
        (rev.payload.get("lead_department") if rev.payload.get("catalog_kind") in ("base", "theme") else None)
        or rev.payload.get("provider")
        or resource.provider_id
    )
    is_maintainer = user.has_role(Role.PROVIDER) and user.department_id == maintainer_id
    p = rules.normalise(rev.payload, services.rule_context())
    old = services.snapshot(resource) if resource.version else None
    return render(
        request,
        "catalog/revision.html",
        {
            "rev": rev,
            "r": resource,
            "p": p,
            "problems": rules.publish_errors(p) if rev.is_open else [],
            "diff": rules.diff(old, p) if old else None,
            "narrowing": rules.narrowing(old, p),
            "can_edit": is_maintainer and rev.status in ("draft", "returned"),
            "can_submit": is_maintainer and rev.status in ("draft", "returned"),
            "can_withdraw": is_maintainer and rev.status in ("draft", "submitted", "returned"),
            "can_review": user.has_role(Role.AUTHORITY) and rev.status == "submitted",
            "comments": rev.comments.select_related("author"),
            "provider": Department.objects.filter(pk=p.get("provider")).first(),
            "lead": Department.objects.filter(pk=p.get("lead_department")).first(),
            "notice_article": _notice_article(),
        },
    )


def _do(request, rev_id, action, ok_message):
    try:
        rev = selectors.get_revision(request.user, rev_id)
        action(rev)
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        _fail(request, exc)
        if isinstance(exc, ValidationFailed):
            for e in exc.errors[1:6]:
                messages.error(request, e["message"])
    else:
        messages.success(request, ok_message)
    return redirect(f"/catalog/revisions/{rev_id}/")


@login_required
@require_POST
def revision_submit(request, rev_id):
    return _do(request, rev_id, lambda r: services.submit_revision(request.user, r), "已提交审核")


@login_required
@require_POST
def revision_return(request, rev_id):
    comment = request.POST.get("comment", "")
    return _do(
        request, rev_id, lambda r: services.return_revision(request.user, r, comment), "已退回并通知编制部门"
    )


@login_required
@require_POST
def revision_publish(request, rev_id):
    post = request.POST

    def act(rev):
        rev = services.publish_revision(
            request.user,
            rev,
            comment=post.get("comment", ""),
            confirm_narrowing=post.get("confirm_narrowing") == "on",
            narrowing_reason=post.get("narrowing_reason", ""),
        )
        if rev.status == "scheduled":
            messages.info(
                request,
                f"按本地办法需提前通知，变更将于 {rev.effective_on:%Y-%m-%d} 生效（{_notice_article()}）",
            )

    return _do(request, rev_id, act, "审核通过")


@login_required
@require_POST
def revision_withdraw(request, rev_id):
    return _do(request, rev_id, lambda r: services.withdraw_revision(request.user, r), "已撤回")


@login_required
@require_POST
def resource_change(request, cls, seq):
    try:
        resource = selectors.get_resource(request.user, _code(cls, seq))
        rev = services.start_revision(request.user, resource, request.POST.get("reason", ""))
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        _fail(request, exc)
        return redirect(f"/catalog/resources/{cls}/{seq}/")
    return redirect(f"/catalog/revisions/{rev.pk}/edit/")


@login_required
@require_POST
def resource_retire(request, cls, seq):
    try:
        resource = selectors.get_resource(request.user, _code(cls, seq))
        resource = services.retire_resource(request.user, resource, request.POST.get("reason", ""))
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        _fail(request, exc)
    else:
        if resource.status == "retiring":
            messages.success(
                request,
                f"已发布下线预告，将于 {resource.retire_effective_on:%Y-%m-%d} 下线（{_notice_article()}）",
            )
        else:
            messages.success(request, "目录已下线，已通知使用部门")
    return redirect(f"/catalog/resources/{cls}/{seq}/")


@login_required
def review_queue(request):
    return render(request, "catalog/review.html", {"queue": selectors.review_queue(request.user)})


# --- lists -------------------------------------------------------------------------------------------------


@login_required
def demands(request):
    user = request.user
    errors = []
    if request.method == "POST":
        src = Department.objects.filter(pk=request.POST.get("source_department") or None).first()
        try:
            demand = services.create_demand(
                user,
                service_item=request.POST.get("service_item", ""),
                data_name=request.POST.get("data_name", ""),
                item_names=request.POST.get("item_names", "").replace("，", ",").split(","),
                source_department=src,
                service_item_code=request.POST.get("service_item_code", ""),
                note=request.POST.get("note", ""),
            )
        except ValidationFailed as exc:
            errors = exc.errors
        except DomainError as exc:
            _fail(request, exc)
        else:
            messages.success(request, "需求已登记")
            _warn_duplicates(
                request, duplicate_warnings(demand.item_names), "以下所需信息项已可通过共享获取，可直接申请："
            )
            return redirect("/lists/demands/")
    qs = Demand.objects.select_related("department", "source_department").prefetch_related(
        "supplies__resource"
    )
    mine = request.GET.get("mine") == "1"
    if mine:
        qs = qs.filter(department=user.department)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    my_resources = (
        Resource.objects.filter(provider=user.department, status__in=selectors.LIVE)
        if user.has_role(Role.PROVIDER)
        else []
    )
    return render(
        request,
        "catalog/demands.html",
        {
            "page": page,
            "errors": errors,
            "departments": Department.objects.filter(is_active=True),
            "my_resources": my_resources,
            "mine": mine,
            "shared": demand_shared_items(page.object_list),  # R-COL-03
        },
    )


@login_required
@require_POST
def demand_supply(request, demand_id):
    demand = Demand.objects.filter(pk=demand_id).first()
    if demand is None:
        raise Http404
    try:
        resource = selectors.get_resource(request.user, request.POST.get("resource_code", ""))
        services.link_supply(request.user, demand, resource)
    except DomainError as exc:
        _fail(request, exc)
    else:
        messages.success(request, f"已将“{resource.name}”列入该需求的供给")
    return redirect("/lists/demands/")


@login_required
def gaps(request):
    unmet, unused = selectors.gap_report()
    return render(request, "catalog/gaps.html", {"unmet": unmet, "unused": unused})


@login_required
def negative(request):
    user = request.user
    if request.method == "POST":
        try:
            resource = selectors.get_resource(user, request.POST.get("resource_code", "").strip())
            item_code = request.POST.get("item_code", "").strip()
            item = resource.items.filter(code=item_code).first() if item_code else None
            if item_code and item is None:
                raise NotFound("item_not_found", f"信息项“{item_code}”不存在")
            services.propose_negative(user, resource, request.POST.get("legal_basis", ""), item)
        except DomainError as exc:
            _fail(request, exc)
        else:
            messages.success(request, "已申报，待主管部门审核后生效")
        return redirect("/lists/negative/")
    return render(
        request,
        "catalog/negative.html",
        {
            "confirmed": NegativeListEntry.objects.filter(status=NegativeStatus.CONFIRMED).select_related(
                "resource", "resource__provider"
            ),
            "pending": [
                n
                for n in NegativeListEntry.objects.filter(status=NegativeStatus.PROPOSED).select_related(
                    "resource", "resource__provider", "proposed_by"
                )
                if selectors.can_review_negative(user, n)
            ],
            "can_review": user.has_role(Role.AUTHORITY),
            "can_propose": user.has_role(Role.PROVIDER),
        },
    )


@login_required
@require_POST
def negative_review(request, entry_id):
    entry = NegativeListEntry.objects.filter(pk=entry_id).first()
    if entry is None:
        raise Http404
    try:
        services.review_negative(
            request.user, entry, request.POST.get("decision") == "approve", request.POST.get("comment", "")
        )
    except DomainError as exc:
        _fail(request, exc)
    else:
        messages.success(request, "审核完成")
    return redirect("/lists/negative/")


@login_required
def responsibilities(request):
    qs = Responsibility.objects.filter(until__isnull=True).select_related("department", "resource")
    dept = request.GET.get("department")
    if dept:
        qs = qs.filter(department_id=dept)
    page = Paginator(qs, 100).get_page(request.GET.get("page"))
    return render(
        request,
        "catalog/responsibilities.html",
        {"page": page, "departments": Department.objects.filter(is_active=True), "dept": dept},
    )


@login_required
def export_xlsx(request):
    data = exchange.export_xlsx(selectors.live_resources())
    resp = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    resp["Content-Disposition"] = 'attachment; filename="catalog.xlsx"'
    return resp


@login_required
def import_xlsx(request):
    report = None
    if request.method == "POST" and request.FILES.get("file"):
        try:
            revs = exchange.import_xlsx(
                request.user, request.FILES["file"].read(), submit=request.POST.get("submit") == "on"
            )
        except ValidationFailed as exc:
            report = exc.errors
            messages.error(request, f"导入未通过校验，未写入任何数据（{len(exc.errors)} 处问题）")
        except DomainError as exc:
            _fail(request, exc)
        else:
            messages.success(request, f"已导入 {len(revs)} 条目录草稿")
            return redirect("/")
    return render(request, "catalog/import.html", {"report": report})
