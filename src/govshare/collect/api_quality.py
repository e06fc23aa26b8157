"""Quality API: one resource's latest measurement (its provider and the supervisors), and the
per-department table (the authority, auditors, evaluators; R-COL-12)."""

import datetime as dt

from ninja import Router, Schema

from govshare.security.inputs import Text

from . import quality

router = Router(tags=["数据质量"])


class ItemQualityOut(Schema):
    code: str
    name: str
    ratio: float | None = None


class ResourceQualityOut(Schema):
    code: str
    name: str
    department_id: int
    update_cycle: str
    computed_at: dt.datetime | None = None
    records: int
    mean_completeness: float | None = None
    completeness: list[ItemQualityOut]
    rows_submitted: int
    rows_rejected: int
    duplicates_rejected: int
    validity_rate: float | None = None
    last_loaded_at: dt.datetime | None = None
    freshness: str
    due_by: dt.date | None = None
    late: bool


class DepartmentQualityOut(Schema):
    department_id: int
    name: str
    resources: int
    with_data: int
    records: int
    mean_completeness: float | None = None
    validity_rate: float | None = None
    stale: int
    never_loaded: int


@router.get("/resources/{cls}/{seq}", response=ResourceQualityOut, summary="资源数据质量（最近一次测量）")
def resource_quality(request, cls: Text, seq: Text):
    r = quality.get_table_resource(request.auth, f"{cls}/{seq}")
    return quality.resource_quality(r).as_dict()


@router.get("/departments", response=list[DepartmentQualityOut], summary="各部门数据质量（最差在前）")
def departments(request, sort: Text = "worst"):
    quality.require_view_all(request.auth)
    return quality.department_table(sort=sort)
