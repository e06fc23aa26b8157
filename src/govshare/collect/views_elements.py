"""Pages for the data-element dictionary, 多源登记待确认 and 多元校核 coordination. Thin over elements."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from govshare.catalog import selectors as catalog_selectors
from govshare.errors import DomainError, NotFound
from govshare.orgs.models import Role

from . import elements
from .models import CaseStatus, DataElement


def _back(request, default: str):
    target = request.POST.get("next", "")
    return redirect(target if target.startswith("/elements/") else default)


@login_required
def element_list(request):
    user = request.user
    q = request.GET.get("q", "").strip()
    page = Paginator(elements.search_elements(q), 50).get_page(request.GET.get("page"))
    sources = elements.sources_by_element(page.object_list)
    rows = [
        {
            "element": el,
            "sources": [
                {"source": s, "can_unbind": elements.may_manage_sources(user, s.resource)}
                for s in sources.get(el.pk, [])
                if catalog_selectors.can_see_resource(user, s.resource)
            ],
        }
        for el in page.object_list
    ]
    return render(
        request,
        "collect/elements_list.html",
        {
            "q": q,
            "page": page,
            "rows": rows,
            "can_bind": user.has_role(Role.PROVIDER, Role.AUTHORITY),
            "all_elements": DataElement.objects.order_by("code") if user.has_role(Role.PROVIDER) else [],
            "pending_count": elements.pending_sources().count() if user.has_role(Role.AUTHORITY) else 0,
        },
    )


@login_required
@require_POST
def bind(request):
    user = request.user
    try:
        resource = catalog_selectors.get_resource(user, request.POST.get("resource_code", "").strip())
        element = DataElement.objects.filter(code=request.POST.get("element_code", "").strip()).first()
        if element is None:
            raise NotFound("element_not_found", "数据元不存在")
        source = elements.bind_item(user, resource, request.POST.get("item_code", "").strip(), element)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if source.authoritative:
            messages.success(request, f"已登记：{resource.name} · {source.item_code} → {element.name}")
        else:
            messages.warning(
                request,
                f"已登记为非权威来源：{element.name} 已有其他部门为权威来源（一数一源），待数据主管部门确认",
            )
    return _back(request, "/elements/")


@login_required
@require_POST
def unbind(request, source_id):
    try:
        source = elements.get_source(source_id)
        elements.unbind(request.user, source)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已取消登记：{source.resource.name} · {source.item_code}")
    return _back(request, "/elements/")


@login_required
def pending(request):
    if not request.user.has_role(Role.AUTHORITY, Role.AUDITOR):
        messages.error(request, "只有数据主管部门可以查看多源登记待确认")
        return redirect("/elements/")
    rows = []
    for s in elements.pending_sources():
        holders = elements.authoritative_departments(s.element, exclude_resource_id=s.resource_id)
        rows.append({"source": s, "holders": holders})
    return render(
        request,
        "collect/elements_pending.html",
        {"rows": rows, "can_override": request.user.has_role(Role.AUTHORITY)},
    )


@login_required
@require_POST
def override(request, source_id):
    try:
        source = elements.get_source(source_id)
        elements.override_source(request.user, source, request.POST.get("reason", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已确认 {source.department.name} 为 {source.element.name} 的权威来源")
    return redirect("/elements/pending/")


@login_required
def cases(request):
    user = request.user
    status = request.GET.get("status", "")
    if status not in CaseStatus.values:
        status = ""
    page = Paginator(elements.cases_for(user, status), 50).get_page(request.GET.get("page"))
    target, article = elements.escalation_target()
    rows = [
        {
            "case": c,
            "can_act": c.status != CaseStatus.RESOLVED and elements.may_act_on_case(user, c),
            "can_escalate": c.status == CaseStatus.OPEN
            and user.department_id in {d.pk for d in c.departments.all()},
        }
        for c in page.object_list
    ]
    return render(
        request,
        "collect/elements_cases.html",
        {
            "page": page,
            "rows": rows,
            "status": status,
            "statuses": CaseStatus.choices,
            "target": target,
            "article": article,
        },
    )


@login_required
@require_POST
def case_resolve(request, case_id):
    try:
        case = elements.get_case(request.user, case_id)
        elements.resolve_case(request.user, case, request.POST.get("resolution", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "协调事项已办结")
    return redirect("/elements/cases/")


@login_required
@require_POST
def case_escalate(request, case_id):
    try:
        case = elements.get_case(request.user, case_id)
        elements.escalate_case(request.user, case, request.POST.get("reason", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已提请{elements.escalation_target()[0]}协调")
    return redirect("/elements/cases/")
