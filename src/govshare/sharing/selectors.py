"""Permission-aware reads of the sharing workflow, shared by the web pages and the API.

A department sees what it asked for and what was asked of it; the authority (and auditors) see
everything. Whatever a person may not see answers NotFound, so an id reveals nothing.
"""

from __future__ import annotations

from django.db.models import CharField, F, OuterRef, Q, Subquery
from django.db.models.functions import Cast

from govshare.errors import NotFound
from govshare.orgs.models import Role
from govshare.supervision import selectors as supervision_selectors
from govshare.supervision.models import Obligation

from .models import ApplicationStatus, Decider, Grant, NegotiationCase, ShareApplication
from .services import (  # noqa: F401  (re-exported for the views: one place to ask "may this person act")
    ACTIVE_DUTIES,
    APP_SUBJECT,
    can_decide,
    can_manage_grant,
    can_prereview,
    case_party,
)

SEE_ALL = (Role.AUTHORITY, Role.AUDITOR)


def _sees_all(user) -> bool:
    return user.has_role(*SEE_ALL)


def applications_for(user):
    qs = ShareApplication.objects.select_related(
        "resource", "resource__provider", "consumer", "applicant", "decided_by"
    )
    if _sees_all(user):
        return qs
    if user.department_id is None:
        return qs.none()
    return qs.filter(Q(consumer_id=user.department_id) | Q(resource__provider_id=user.department_id))


def _due_first(qs):
    due = Obligation.objects.filter(
        subject_type=APP_SUBJECT,
        subject_id=Cast(OuterRef("pk"), output_field=CharField()),
        status__in=ACTIVE_DUTIES,
    ).order_by("due_on")
    return qs.annotate(due_on=Subquery(due.values("due_on")[:1])).order_by(
        F("due_on").asc(nulls_last=True), "submitted_at", "id"
    )


def inbox_for(user):
    """What this person must act on now: pre-review (authority), or the reply (decider), oldest due first."""
    qs = ShareApplication.objects.select_related("resource", "resource__provider", "consumer")
    q = Q(pk__in=[])
    if user.has_role(Role.AUTHORITY) and user.department_id is not None:
        q |= Q(status=ApplicationStatus.PREREVIEW)
        q |= Q(status=ApplicationStatus.PENDING, decider=Decider.AUTHORITY)
    if user.has_role(Role.PROVIDER) and user.department_id is not None:
        q |= Q(
            status=ApplicationStatus.PENDING,
            decider=Decider.PROVIDER,
            resource__provider_id=user.department_id,
        )
    return _due_first(qs.filter(q))


def grants_for(user):
    qs = Grant.objects.select_related("resource", "resource__provider", "consumer", "application")
    if _sees_all(user):
        return qs
    if user.department_id is None:
        return qs.none()
    return qs.filter(Q(consumer_id=user.department_id) | Q(resource__provider_id=user.department_id))


def cases_for(user):
    qs = NegotiationCase.objects.select_related("resource", "consumer", "provider", "application")
    if _sees_all(user):
        return qs
    if user.department_id is None:
        return qs.none()
    return qs.filter(Q(consumer_id=user.department_id) | Q(provider_id=user.department_id))


def _get(qs, pk, code: str, message: str):
    try:
        obj = qs.filter(pk=int(pk)).first()
    except (TypeError, ValueError):
        obj = None
    if obj is None:
        raise NotFound(code, message)
    return obj


def get_application(user, pk) -> ShareApplication:
    return _get(applications_for(user), pk, "application_not_found", "该共享申请不存在或无权查看")


def get_grant(user, pk) -> Grant:
    return _get(grants_for(user), pk, "grant_not_found", "该授权不存在或无权查看")


def get_case(user, pk) -> NegotiationCase:
    return _get(cases_for(user), pk, "case_not_found", "该共享协商不存在或无权查看")


# The deadlines of an application or a case: supervision owns that read for every workflow.
obligations_of = supervision_selectors.obligations_of
