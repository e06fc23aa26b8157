from ninja import Router, Schema

from .models import Department, Region

router = Router(tags=["组织机构"])


class DepartmentOut(Schema):
    id: int
    name: str
    short_name: str
    uscc: str
    region: str
    level: str
    kind: str
    platform: str
    by_reference: bool
    has_active_officer: bool


class RegionOut(Schema):
    code: str
    name: str
    level: str
    parent: str | None


@router.get("/departments", response=list[DepartmentOut], summary="部门列表")
def list_departments(request):
    return [
        DepartmentOut(
            id=d.id,
            name=d.name,
            short_name=d.short_name,
            uscc=d.uscc,
            region=d.region_id,
            level=d.level,
            kind=d.kind,
            platform=d.platform,
            by_reference=d.by_reference,
            has_active_officer=d.active_officers().exists(),
        )
        for d in Department.objects.filter(is_active=True)
    ]


@router.get("/regions", response=list[RegionOut], summary="行政区划（GB/T 2260）")
def list_regions(request):
    return [
        RegionOut(code=r.code, name=r.name, level=r.level, parent=r.parent_id) for r in Region.objects.all()
    ]
