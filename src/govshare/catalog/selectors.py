"""Permission-aware reads of the catalog shared by the web views and the API."""

from django.db.models import Q

from govshare.errors import NotFound
from govshare.orgs.models import Role

from .models import Resource, ResourceRevision, ResourceStatus, RevisionStatus

LIVE = (ResourceStatus.PUBLISHED, ResourceStatus.RETIRING)


def can_see_resource(user, resource: Resource) -> bool:
    """Live entries are visible to every department; anything else only to its maintainer and the authority."""
    if resource.status in LIVE:
        return True
    if user.has_role(Role.AUTHORITY, Role.OPERATOR, Role.AUDITOR):
        return True
    return user.department_id is not None and user.department_id in (
        resource.provider_id,
        resource.lead_department_id,
    )


def get_resource(user, code: str) -> Resource:
    resource = (
        Resource.objects.select_related("provider", "lead_department", "classification")
        .filter(code=code)
        .first()
    )
    if resource is None or not can_see_resource(user, resource):
        raise NotFound("resource_not_found", f"目录“{code}”不存在或无权查看")
    return resource


def revisions_for(user):
    """Revisions a person may see: their department's, and for the authority everything submitted."""
    qs = ResourceRevision.objects.select_related("resource", "author", "resource__provider")
    if user.has_role(Role.AUTHORITY, Role.OPERATOR, Role.AUDITOR):
        return qs.filter(
            Q(resource__provider_id=user.department_id)
            | ~Q(status=RevisionStatus.DRAFT)
            | Q(resource__lead_department_id=user.department_id)
        )
    if user.department_id is None:
        return qs.none()
    return qs.filter(
        Q(resource__provider_id=user.department_id) | Q(resource__lead_department_id=user.department_id)
    )


def get_revision(user, revision_id: int) -> ResourceRevision:
    rev = revisions_for(user).filter(pk=revision_id).first()
    if rev is None:
        raise NotFound("revision_not_found", "该目录变更不存在或无权查看")
    return rev


def review_queue(user):
    if not user.has_role(Role.AUTHORITY):
        return ResourceRevision.objects.none()
    return (
        ResourceRevision.objects.filter(status=RevisionStatus.SUBMITTED)
        .select_related("resource", "author", "resource__provider")
        .order_by("submitted_at")
    )


def my_open_revisions(user):
    return (
        revisions_for(user)
        .filter(
            status__in=[
                RevisionStatus.DRAFT,
                RevisionStatus.RETURNED,
                RevisionStatus.SUBMITTED,
                RevisionStatus.SCHEDULED,
            ]
        )
        .exclude(resource__provider_id__isnull=True)
        .filter(
            Q(resource__provider_id=user.department_id) | Q(resource__lead_department_id=user.department_id)
        )
    )


def live_resources():
    return (
        Resource.objects.filter(status__in=LIVE)
        .select_related("provider", "lead_department")
        .prefetch_related("items")
    )


def gap_report():
    """Demands no live entry answers, and live entries no demand asks for (R-CAT-18/19)."""
    from .models import Demand

    unmet = (
        Demand.objects.exclude(supplies__resource__status__in=LIVE)
        .select_related("department", "source_department")
        .prefetch_related("supplies__resource")
        .distinct()
    )
    unused = (
        Resource.objects.filter(status__in=LIVE).exclude(supplies__isnull=False).select_related("provider")
    )
    return list(unmet), list(unused)


def can_review_negative(user, entry) -> bool:
    """A not-yet-confirmed negative-list entry may name a draft: only the authority and its provider see it."""
    return user.has_role(Role.AUTHORITY, Role.AUDITOR) or entry.resource.provider_id == user.department_id
