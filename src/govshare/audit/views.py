"""Pages for people: the audit log with its filters and exports, and the inspection package (R-SEC-05, R-SEC-07,
R-SEC-15, R-SEC-16, R-SUP-10). Thin over listing (the filtered, permission-aware list) and inspection.

Reading the log is itself a data read, so each page view and each export is an audit event, recorded
after the rows were read (the list a person sees never contains their own look at it).
"""

from __future__ import annotations

import tempfile
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpResponseForbidden
from django.shortcuts import render
from django.utils import timezone

from govshare.audit import inspection, listing, selectors
from govshare.audit import services as audit
from govshare.errors import ValidationFailed
from govshare.orgs.models import Department

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@login_required
def events(request):
    user = request.user
    f, problems = listing.parse(request.GET)
    before = listing.parse_before(request.GET)
    rows, next_before = listing.page(listing.visible(user, f), before)
    audit.record(
        "audit.events.view",
        actor=user,
        object_type="audit.log",
        detail={**f.detail(), "before": before, "rows": len(rows)},
        request=request,
    )
    sees_all = selectors.sees_all(user)
    return render(
        request,
        "audit/events.html",
        {
            "rows": rows,
            "f": f,
            "query": f.query(),
            "problems": problems,
            "next_before": next_before,
            "first_page": before is None,
            "sees_all": sees_all,
            "departments": Department.objects.filter(is_active=True) if sees_all else [],
            "results": listing.RESULTS,
            "prefixes": listing.ACTION_PREFIXES,
            "csv_max": listing.CSV_MAX_ROWS,
            "xlsx_max": listing.XLSX_MAX_ROWS,
            "may_inspect": inspection.may_export(user),
        },
    )


@login_required
def export(request, fmt):
    f, _ = listing.parse(request.GET)
    fh, rows, truncated = listing.export(listing.visible(request.user, f), fmt)
    audit.record(
        "audit.events.export",
        actor=request.user,
        object_type="audit.log",
        detail={**f.detail(), "format": fmt, "rows": rows, "truncated": truncated},
        request=request,
    )
    name = f"审计日志-{timezone.localdate():%Y%m%d}.{fmt}"
    response = FileResponse(fh, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    response["Cache-Control"] = "no-store"
    return response


@login_required
def inspection_page(request):
    user = request.user
    if not inspection.may_export(user):
        return HttpResponseForbidden("只有数据主管部门和审计人员可以生成检查导出包（R-SEC-16）")
    errors, form = [], {"until": timezone.localdate().isoformat(), "departments": []}
    if request.method == "POST":
        post = request.POST
        form = {
            "since": post.get("since", ""),
            "until": post.get("until", ""),
            "departments": post.getlist("departments"),
            "body": post.get("body", ""),
            "reference": post.get("reference", ""),
        }
        try:
            scope = inspection.make_scope(**form)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            fh = tempfile.TemporaryFile()
            inspection.build(fh, scope, user=user, request=request)
            fh.seek(0)
            response = FileResponse(fh, content_type="application/zip")
            response["Content-Disposition"] = (
                f"attachment; filename*=UTF-8''{quote(inspection.filename(scope))}"
            )
            response["Cache-Control"] = "no-store"
            return response
    return render(
        request,
        "audit/inspection.html",
        {
            "bodies": inspection.BODIES,
            "departments": Department.objects.filter(is_active=True),
            "form": form,
            "errors": errors,
        },
        status=422 if errors else 200,
    )
