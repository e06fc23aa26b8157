from django.db.models import Count, F, Q
from django.utils import timezone

from govshare.orgs.models import Role

from .models import Obligation, ObligationStatus

ACTIVE = (ObligationStatus.OPEN, ObligationStatus.OVERDUE)


def my_open(user):
    """我的待办: what my department (or I personally) must do, soonest first; undated ones last."""
    if user.department_id is None:
        return Obligation.objects.none()
    return (
        Obligation.objects.filter(Q(department_id=user.department_id) | Q(assignee=user), status__in=ACTIVE)
        .select_related("department")
        .order_by(F("due_on").asc(nulls_last=True), "id")
    )


def obligations_of(obj, *, active_only: bool = False, duty: str = "") -> list[Obligation]:
    """The deadlines opened on a workflow object (application, ticket, case), oldest first: its timeline."""
    qs = Obligation.objects.filter(
        subject_type=f"{obj._meta.app_label}.{obj._meta.model_name}", subject_id=str(obj.pk)
    )
    if active_only:
        qs = qs.filter(status__in=ACTIVE)
    if duty:
        qs = qs.filter(duty=duty)
    return list(qs.select_related("department").prefetch_related("extensions").order_by("started_on", "id"))


def is_overdue(ob: Obligation, today=None) -> bool:
    today = today or timezone.localdate()
    return ob.status == ObligationStatus.OVERDUE or (
        ob.is_active and ob.due_on is not None and ob.due_on < today
    )


def supervision_view(user, *, department=None, status=None, duty=None, overdue_only=False):
    """The authority's view of every department's obligations, with per-department counts."""
    if not user.has_role(Role.AUTHORITY, Role.OPERATOR, Role.AUDITOR, Role.EVALUATOR):
        return Obligation.objects.none(), []
    qs = Obligation.objects.select_related("department")
    if status == "closed":
        qs = qs.exclude(status__in=ACTIVE)
    elif status:
        qs = qs.filter(status=status)
    else:
        qs = qs.filter(status__in=ACTIVE)
    if department:
        qs = qs.filter(department_id=department)
    if duty:
        qs = qs.filter(duty=duty)
    if overdue_only:
        qs = qs.filter(status=ObligationStatus.OVERDUE)
    counts = (
        Obligation.objects.filter(status__in=ACTIVE)
        .values("department__id", "department__name")
        .annotate(open=Count("id"), overdue=Count("id", filter=Q(status=ObligationStatus.OVERDUE)))
        .order_by("-overdue", "-open")
    )
    return qs.order_by(F("due_on").asc(nulls_last=True), "id"), list(counts)
