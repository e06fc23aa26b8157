"""Pages for people: which notices reach me and how; my department's webhooks and their delivery log."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from govshare.errors import DomainError, NotFound, PermissionDenied, ValidationFailed

from . import events, services, webhooks
from .models import DeliveryStatus, WebhookAttempt, WebhookDelivery


def _raise_http(exc: DomainError):
    if isinstance(exc, NotFound):
        raise Http404(exc.message)
    if isinstance(exc, PermissionDenied):
        raise HttpForbidden(exc.message)


@login_required
def preferences(request):
    user = request.user
    if request.method == "POST":
        choices = {
            kind: {
                "in_app": f"in_app:{kind}" in request.POST,
                "email": f"email:{kind}" in request.POST,
            }
            for kind in events.EVENTS
        }
        services.save_preferences(user, choices)
        messages.success(request, "通知设置已保存")
        return redirect("notifications:preferences")
    return render(
        request,
        "notifications/preferences.html",
        {
            "rows": services.preferences_for(user),
            "channels": events.CHANNELS,
            "can_manage_webhooks": webhooks.can_manage(user),
        },
    )


def _hooks(user):
    try:
        qs = webhooks.webhooks_for(user)
    except DomainError as exc:
        _raise_http(exc)
        raise
    return qs.annotate(
        n_pending=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.PENDING)),
        n_delivered=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.DELIVERED)),
        n_failed=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED)),
    )


@login_required
def webhook_list(request):
    user = request.user
    hooks = _hooks(user)
    errors, form = [], {"url": "", "kinds": []}
    if request.method == "POST":
        form = {"url": request.POST.get("url", ""), "kinds": request.POST.getlist("kinds")}
        try:
            hook, secret = webhooks.create_webhook(user, form["url"], form["kinds"])
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            return render(
                request,
                "notifications/webhook_created.html",
                {"hook": hook, "secret": secret, "kinds": [events.label(k) for k in hook.kinds]},
            )
    rows = [{"hook": h, "kinds": [events.label(k) for k in h.kinds]} for h in hooks]
    return render(
        request,
        "notifications/webhooks.html",
        {"rows": rows, "events": events.EVENTS, "errors": errors, "form": form},
        status=422 if errors else 200,
    )


def _get_hook(user, pk):
    try:
        return webhooks.get_webhook(user, pk)
    except DomainError as exc:
        _raise_http(exc)
        raise


@login_required
def webhook_detail(request, pk: int):
    hook = _get_hook(request.user, pk)
    status = request.GET.get("status", "")
    qs = hook.deliveries.select_related("notification").prefetch_related(
        Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("number"))
    )
    if status in DeliveryStatus.values:
        qs = qs.filter(status=status)
    try:
        page_no = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page_no = 1
    page = Paginator(qs, 50).get_page(page_no)
    return render(
        request,
        "notifications/webhook_detail.html",
        {
            "hook": hook,
            "kinds": [events.label(k) for k in hook.kinds],
            "page": page,
            "status": status,
            "statuses": DeliveryStatus.choices,
            "max_attempts": webhooks.MAX_ATTEMPTS,
        },
    )


@login_required
@require_POST
def webhook_deactivate(request, pk: int):
    hook = _get_hook(request.user, pk)
    try:
        webhooks.deactivate_webhook(request.user, hook)
        messages.success(request, "Webhook 已停用，未投递的通知不再发送")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("notifications:webhook", pk=hook.pk)


@login_required
@require_POST
def delivery_retry(request, pk: int, delivery_id: int):
    hook = _get_hook(request.user, pk)
    delivery = WebhookDelivery.objects.filter(webhook=hook, pk=delivery_id).first()
    if delivery is None:
        raise Http404("投递记录不存在")
    try:
        webhooks.redeliver(request.user, delivery)
        messages.success(request, f"投递 #{delivery.pk} 已重新排队，将在下一轮定时任务中发送")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("notifications:webhook", pk=hook.pk)
