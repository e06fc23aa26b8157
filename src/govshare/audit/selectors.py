"""Which audit events a person may see: their department's, or all of them for authority and auditors."""

from govshare.audit.models import AuditEvent
from govshare.orgs.models import Role


def sees_all(user) -> bool:
    return bool(user.is_superuser or user.has_role(Role.AUTHORITY, Role.AUDITOR))


def events_for(user, object_type: str = "", object_id: str = ""):
    qs = AuditEvent.objects.all()
    if not sees_all(user):
        qs = (
            qs.filter(department_id=user.department_id) if user.department_id else qs.filter(actor_id=user.pk)
        )
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=str(object_id))
    return qs.order_by("-seq")


def is_party(user, seq: int) -> bool:
    return events_for(user).filter(seq=seq).exists()
