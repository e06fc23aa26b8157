from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from govshare import dates
from govshare.catalog import selectors as catalog_selectors
from govshare.catalog.models import Resource
from govshare.corrections.selectors import provider_counts
from govshare.errors import DomainError, ValidationFailed
from govshare.orgs.models import Department, Role

from . import selectors, services
from .models import CatalogTrigger, Filing, Obligation


def _rows(obligations, today):
    return [
        {
            "ob": ob,
            "overdue": selectors.is_overdue(ob, today),
            "days_left": (ob.due_on - today).days if ob.due_on else None,
        }
        for ob in obligations
    ]


@login_required
def my_obligations(request):
    today = timezone.localdate()
    user = request.user
    rows = _rows(selectors.my_open(user), today)
    resources = (
        Resource.objects.filter(provider=user.department, status__in=("published", "retiring"))
        if user.department_id
        else []
    )
    return render(
        request,
        "supervision/mine.html",
        {
            "rows": rows,
            "today": today,
            "events": CatalogTrigger.Event.choices,
            "resources": resources,
            "can_extend": user.has_role(Role.HEAD, Role.AUTHORITY),
        },
    )


@login_required
@require_POST
def record_trigger(request):
    post = request.POST
    try:
        occurred = dates.parse_day(post.get("occurred_on"), "发生日期", required=True)
    except dates.BadDay as exc:
        messages.error(request, exc.message)
        return redirect("/obligations/")
    try:
        code = post.get("resource_code", "").strip()
        resource = catalog_selectors.get_resource(request.user, code) if code else None
        ob = services.record_catalog_trigger(
            request.user,
            event=post.get("event", ""),
            description=post.get("description", ""),
            occurred_on=occurred,
            resource=resource,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if ob.due_on:
            messages.success(request, f"已登记，须于 {ob.due_on:%Y-%m-%d} 前更新目录（{ob.article}）")
        else:
            messages.success(request, "已登记；本地办法未规定更新时限")
    return redirect("/obligations/")


@login_required
@require_POST
def extend(request, ob_id):
    ob = Obligation.objects.filter(pk=ob_id).first()
    if ob is None:
        raise Http404
    try:
        days = int(request.POST.get("working_days", "0"))
    except ValueError:
        days = 0
    try:
        ext = services.extend_obligation(ob, request.user, days, request.POST.get("reason", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已延期至 {ext.new_due_on:%Y-%m-%d}")
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    return redirect(target if target and safe else "/obligations/")


@login_required
def filings(request):
    user = request.user
    errors = []
    if request.method == "POST":
        try:
            services.file_record(
                user,
                request.POST.get("kind", ""),
                request.POST.get("summary", ""),
                request.POST.get("period", ""),
            )
        except ValidationFailed as exc:
            errors = exc.errors
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "已报送")
            return redirect("/obligations/filings/")
    qs = Filing.objects.select_related("department", "filed_by")
    if not user.has_role(Role.AUTHORITY, Role.OPERATOR, Role.AUDITOR):
        qs = qs.filter(department_id=user.department_id)
    return render(
        request,
        "supervision/filings.html",
        {
            "filings": qs[:200],
            "kinds": Filing.Kind.choices,
            "errors": errors,
            "last_year": timezone.localdate().year - 1,
        },
    )


@login_required
def supervision(request):
    user = request.user
    if not user.has_role(Role.AUTHORITY, Role.OPERATOR, Role.AUDITOR, Role.EVALUATOR):
        return HttpResponseForbidden("只有数据主管部门、运维、审计和评估人员可以查看督办视图")
    g = request.GET
    qs, counts = selectors.supervision_view(
        user,
        department=g.get("department") or None,
        status=g.get("status") or None,
        duty=g.get("duty") or None,
        overdue_only=g.get("overdue") == "1",
    )
    today = timezone.localdate()
    duties = sorted(set(Obligation.objects.values_list("duty", "title").distinct()))
    return render(
        request,
        "supervision/all.html",
        {
            "rows": _rows(qs[:500], today),
            "counts": counts,
            "departments": Department.objects.filter(is_active=True),
            "duties": duties,
            "filters": g,
            "total": qs.count(),
            "corrections": provider_counts(),  # R-CORR-09
        },
    )
