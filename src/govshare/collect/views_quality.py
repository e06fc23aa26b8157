"""Quality pages: the authority's table per department (R-COL-12) and one resource's panel (R-COL-01)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render

from govshare.errors import DomainError
from govshare.orgs.models import Department

from . import quality


def _refused(request, exc: DomainError):
    return render(request, "collect/quality_denied.html", {"message": exc.message}, status=exc.status)


@login_required
def overview(request):
    try:
        quality.require_view_all(request.user)
    except DomainError as exc:
        return _refused(request, exc)
    sort = request.GET.get("sort", "worst")
    if sort not in quality.SORTS:
        sort = "worst"
    rows = quality.department_table(sort=sort)
    for row in rows:
        row["completeness_pct"] = quality.percent(row["mean_completeness"])
        row["validity_pct"] = quality.percent(row["validity_rate"])
    return render(
        request,
        "collect/quality_overview.html",
        {
            "rows": rows,
            "sort": sort,
            "window": quality.VALIDITY_WINDOW_DAYS,
            "stale_total": sum(r["stale"] for r in rows),
            "never_total": sum(r["never_loaded"] for r in rows),
        },
    )


@login_required
def department(request, dept_id: int):
    dept = get_object_or_404(Department, pk=dept_id)
    user = request.user
    if not (quality.can_view_all(user) or user.department_id == dept.pk):
        return _refused(request, DomainError("quality_forbidden", "只能查看本部门的数据质量", status=403))
    return render(
        request,
        "collect/quality_department.html",
        {"dept": dept, "rows": quality.department_resources(dept), "window": quality.VALIDITY_WINDOW_DAYS},
    )


@login_required
def resource(request, cls: str, seq: str):
    try:
        r = quality.get_table_resource(request.user, f"{cls}/{seq}")
    except DomainError as exc:
        return _refused(request, exc)
    return render(
        request,
        "collect/quality_resource.html",
        {"r": r, "quality": quality.resource_quality(r), "can_view_all": quality.can_view_all(request.user)},
    )
