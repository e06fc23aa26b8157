"""Which audit events a person may see (R-SEC-05, R-SEC-07, R-SEC-15): one definition for the pages, the
export, the inspection package and the API.

Authority and auditors see all. A department sees the events it caused and the events on what it owns or
is party to — both sides of a grant, an application or a negotiation keep the log (NX 33), and a
provider reads the calls made on its data (SR 25). Operators get no exception: their own actions are
events of their department like anyone else's (HB 3).
"""

from django.db.models import CharField, Q
from django.db.models.functions import Cast

from govshare.audit.models import AuditEvent
from govshare.orgs.models import Role, User


def sees_all(user) -> bool:
    return bool(user.is_superuser or user.has_role(Role.AUTHORITY, Role.AUDITOR))


def object_keys(qs):
    """A subquery of object ids as the text `AuditEvent.object_id` holds."""
    return qs.annotate(_audit_key=Cast("pk", CharField())).values("_audit_key")


def _party_objects(ids: list[int]) -> list[tuple[str, object]]:
    # Imported here: these apps record audit events, so they import audit, not the other way round.
    from govshare.catalog.models import Resource, ResourceRevision
    from govshare.clients.models import ClientSystem, Credential
    from govshare.corrections.models import CorrectionTicket
    from govshare.opendata.models import OpenApplication, OpenDataset
    from govshare.security.models import TotpDevice
    from govshare.sharing.models import Grant, NegotiationCase, ShareApplication

    both = Q(consumer_id__in=ids) | Q(resource__provider_id__in=ids)
    return [
        ("sharing.grant", object_keys(Grant.objects.filter(both))),
        ("sharing.shareapplication", object_keys(ShareApplication.objects.filter(both))),
        (
            "sharing.negotiationcase",
            object_keys(NegotiationCase.objects.filter(Q(consumer_id__in=ids) | Q(provider_id__in=ids))),
        ),
        ("catalog.resource", object_keys(Resource.objects.filter(provider_id__in=ids))),
        (
            "catalog.resourcerevision",
            object_keys(ResourceRevision.objects.filter(resource__provider_id__in=ids)),
        ),
        ("clients.clientsystem", object_keys(ClientSystem.objects.filter(department_id__in=ids))),
        ("clients.credential", object_keys(Credential.objects.filter(client__department_id__in=ids))),
        (
            "corrections.correctionticket",
            object_keys(
                CorrectionTicket.objects.filter(Q(provider_id__in=ids) | Q(reporter_department_id__in=ids))
            ),
        ),
        ("opendata.opendataset", object_keys(OpenDataset.objects.filter(provider_id__in=ids))),
        ("opendata.openapplication", object_keys(OpenApplication.objects.filter(provider_id__in=ids))),
        ("security.totpdevice", object_keys(TotpDevice.objects.filter(user__department_id__in=ids))),
    ]


def department_scope(department_ids) -> Q:
    """Events caused by these departments or on objects they own or are party to."""
    ids = [int(i) for i in department_ids]
    q = Q(department_id__in=ids)
    for object_type, keys in _party_objects(ids):
        q |= Q(object_type=object_type, object_id__in=keys)
    # A refused sign-in has no actor, only the name typed: it concerns the department whose account that is.
    names = User.objects.filter(department_id__in=ids).values("username")
    return q | Q(object_type="user", actor_id__isnull=True, object_id__in=names)


def events_for(user, object_type: str = "", object_id: str = ""):
    qs = AuditEvent.objects.all()
    if not sees_all(user):
        qs = (
            qs.filter(department_scope([user.department_id]))
            if user.department_id
            else qs.filter(actor_id=user.pk)
        )
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=str(object_id))
    return qs.order_by("-seq")


def is_party(user, seq: int) -> bool:
    if events_for(user).filter(seq=seq).exists():
        return True
    # An archived event (R-SEC-06) is no longer a row the scope above can match: its receipt goes to those
    # who see everything and to the department (or, without one, the person) that caused it.
    from govshare.audit import archive

    if archive.segment_of(seq) is None:
        return False
    if sees_all(user):
        return True
    event = archive.archived_event(seq)
    if event is None:
        return False
    if user.department_id:
        return event.get("department_id") == user.department_id
    return event.get("actor_id") == user.pk
