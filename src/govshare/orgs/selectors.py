from .models import Department, DepartmentKind


def platform_authority() -> Department | None:
    """The authority that runs this instance's review and supervision (the first active one)."""
    return Department.objects.filter(kind=DepartmentKind.AUTHORITY, is_active=True).order_by("id").first()
