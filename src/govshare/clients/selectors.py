"""Who sees which client systems: the owning department's officers, and the data authority (all)."""

from django.db.models import Count, Q
from django.utils import timezone

from govshare.errors import NotFound, PermissionDenied
from govshare.orgs.models import Role

from .models import ClientSystem, Credential


def may_view_all(user) -> bool:
    return user.has_role(Role.AUTHORITY)


def systems_for(user):
    """Systems the user may see; another department's systems are simply absent, never refused by name."""
    qs = ClientSystem.objects.select_related("department", "created_by", "disabled_by")
    if may_view_all(user):
        return qs
    if user.has_role(Role.PROVIDER, Role.CONSUMER) and user.department_id is not None:
        return qs.filter(department_id=user.department_id)
    raise PermissionDenied("clients_forbidden", "只有部门数据专员和数据主管部门可以查看应用系统")


def with_counts(qs):
    now = timezone.now()
    return qs.annotate(
        live_credentials=Count(
            "credentials", filter=Q(credentials__revoked_at__isnull=True, credentials__expires_at__gt=now)
        )
    )


def get_system(user, system_id) -> ClientSystem:
    try:
        return systems_for(user).get(pk=system_id)
    except (ClientSystem.DoesNotExist, ValueError, TypeError):
        raise NotFound("client_not_found", "应用系统不存在或无权查看") from None


def credentials_of(client: ClientSystem):
    return client.credentials.select_related("created_by", "revoked_by", "rotated_to", "rotated_from")


def get_credential(user, credential_id) -> Credential:
    visible = systems_for(user).values("pk")
    try:
        return Credential.objects.select_related(
            "client__department", "created_by", "rotated_to", "rotated_from"
        ).get(pk=credential_id, client__in=visible)
    except (Credential.DoesNotExist, ValueError, TypeError):
        raise NotFound("credential_not_found", "凭证不存在或无权查看") from None
