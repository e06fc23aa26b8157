from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from govshare import __version__
from govshare.catalog import selectors as catalog_selectors
from govshare.catalog.models import NegativeListEntry, NegativeStatus, Resource, ResourceStatus
from govshare.notifications import services as notifications
from govshare.orgs.models import Role
from govshare.supervision import selectors as obligation_selectors


def healthz(request):
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        db_ok = True
    except Exception:  # the point of a health check is to report, not to raise
        db_ok = False
    body = {
        "status": "ok" if db_ok else "error",
        "version": __version__,
        "database": connection.vendor,
        "database_ok": db_ok,
    }
    return JsonResponse(body, status=200 if db_ok else 503)


@login_required
def home(request):
    """A work page per role: what waits for this person first, then the numbers."""
    user = request.user
    ctx = {"roles": user.role_codes}
    if user.has_role(Role.PROVIDER):
        ctx["my_revisions"] = catalog_selectors.my_open_revisions(user)[:50]
        ctx["my_resources"] = Resource.objects.filter(
            provider=user.department, status__in=catalog_selectors.LIVE
        ).count()
    if user.has_role(Role.AUTHORITY):
        ctx["review_queue"] = catalog_selectors.review_queue(user)[:50]
        ctx["negative_pending"] = NegativeListEntry.objects.filter(
            status=NegativeStatus.PROPOSED
        ).select_related("resource")[:50]
        ctx["catalog_total"] = Resource.objects.filter(status__in=catalog_selectors.LIVE).count()
        ctx["retiring"] = Resource.objects.filter(status=ResourceStatus.RETIRING).count()
    if user.has_role(Role.CONSUMER):
        from govshare.catalog.models import Demand

        ctx["my_demands"] = Demand.objects.filter(department=user.department).prefetch_related(
            "supplies__resource"
        )[:50]
    today = timezone.localdate()
    ctx["obligations"] = [
        {"ob": ob, "overdue": obligation_selectors.is_overdue(ob, today)}
        for ob in obligation_selectors.my_open(user)[:10]
    ]
    ctx["notices"] = notifications.inbox(user).exclude(reads__user=user)[:10]
    return render(request, "web/home.html", ctx)


@login_required
def inbox(request):
    items = list(notifications.inbox(request.user)[:200])
    read = set(
        notifications.NotificationRead.objects.filter(user=request.user).values_list(
            "notification_id", flat=True
        )
    )
    return render(request, "web/inbox.html", {"items": items, "read": read})


@login_required
@require_POST
def inbox_mark_read(request):
    notifications.mark_read(request.user)
    messages.success(request, "已全部标记为已读")
    return redirect("/inbox/")
