"""Settings pages: the working-day calendar (holiday overrides) and the active policy profile.

Both are for the data authority (数据主管部门) and the platform operator (平台运维/技术服务) only.
The profile page is read-only: the active profile is the ``GOVSHARE_PROFILE`` setting.
"""

from datetime import date
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from govshare.catalog.rules import DELIVERIES
from govshare.errors import DomainError, ValidationFailed
from govshare.orgs.models import Role

from . import policy, services
from .profiles import PARAMETERS, ProfileError, available_profiles, load_profile
from .workdays import FIRST_YEAR, LAST_YEAR

# --- access -------------------------------------------------------------------------------------------


def admin_only(view):
    """Login required; authority or operator role, else a 403 page."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.has_role(Role.AUTHORITY, Role.OPERATOR):
            return render(request, "calendar/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


# --- calendar -----------------------------------------------------------------------------------------


def _years() -> list[int]:
    this = date.today().year
    return [y for y in range(this - 1, this + 3) if FIRST_YEAR <= y <= LAST_YEAR]


@admin_only
def calendar_page(request):
    errors = None
    pasted = ""
    source = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        pasted = request.POST.get("text", "")
        source = request.POST.get("source", "").strip()
        try:
            if upload is not None:
                text = services.decode_file(upload.read())
                source = source or upload.name
            elif pasted.strip():
                text = pasted
                source = source or "页面粘贴"
            else:
                raise ValidationFailed(
                    [
                        {
                            "field": "file",
                            "label": "文件",
                            "code": "required",
                            "message": "请选择文件或粘贴文件内容",
                        }
                    ]
                )
            result = services.import_overrides(text, source, user=request.user)
        except ValidationFailed as exc:
            errors = exc.errors
            messages.error(request, exc.message)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            cal = policy.work_calendar()
            years = "、".join(
                f"{y}年（{services.SOURCE_LABELS[cal.year_source(y)]}）" for y in result["years"]
            )
            messages.success(
                request,
                f"已导入：新增 {result['created']} 条，更新 {result['updated']} 条，未变 {result['unchanged']} 条；"
                f"涉及 {years}；重新计算临时时限 {result['recomputed']} 项",
            )
            return redirect("/settings/calendar/")
    cal = policy.work_calendar()
    years = [services.year_summary(y, cal) for y in _years()]
    return render(
        request,
        "calendar/calendar.html",
        {
            "years": years,
            "errors": errors,
            "pasted": pasted,
            "source": source,
            "first_year": FIRST_YEAR,
            "last_year": LAST_YEAR,
        },
        status=422 if errors else 200,
    )


@admin_only
@require_POST
def calendar_delete_year(request, year: int):
    try:
        result = services.delete_year(year, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        label = services.SOURCE_LABELS[policy.work_calendar().year_source(year)]
        messages.success(
            request,
            f"已删除 {year} 年的 {result['deleted']} 条调整，该年现为：{label}；"
            f"重新计算临时时限 {result['recomputed']} 项",
        )
    return redirect("/settings/calendar/")


# --- profile ------------------------------------------------------------------------------------------

# Chinese labels of the profile vocabularies (docs/calendar.md §4)
VOCAB = {
    "law_or_function_change": "法律法规或部门职能发生变化",
    "any_content_change": "目录内容发生变化",
    "resource": "整项资源",
    "basic_items": "仅基础信息项",
    "conditional": "有条件共享",
    "none": "不予共享",
    "registration": "登记",
    "application": "申请",
    "purpose": "使用用途",
    "system_name": "信息系统名称",
    "sealed_letter": "加盖公章的申请函",
    "scenario": "应用场景",
    "period": "使用时限",
    "security_measures": "安全保障措施",
    **DELIVERIES,
    "provider": "提供部门",
    "authority": "数据主管部门",
    "provider_head": "提供（生产）部门负责人",
    "authority_dispatch": "经数据主管部门、技术服务单位分发",
    "reporter": "反馈问题的使用部门",
    "all_consumers": "全部使用部门",
    "departments": "各政务部门",
    "platform_unit": "共享平台管理单位",
    "id_number": "公民身份号码",
    "uscc": "统一社会信用代码",
    "house_number": "数字门牌地址",
}
# a choice whose code reads differently in its context
CHOICE_OVERRIDES = {
    ("unconditional_access_precondition", "none"): "无（直接获取）",
    ("correction_routing", "provider"): "使用部门直接反馈提供部门",
}
PERIOD_UNITS = frozenset({"working_days", "months", "per_year", "date_of_year"})
UNSET_PERIOD = "本地办法未规定（该环节不设时限）"
UNSET = "本地办法未规定"

# sections of the registry, by the first key of each (PARAMETERS keeps this order)
SECTIONS = {
    "catalog_update_working_days": "目录编制与更新",
    "share_prereview_working_days": "数据共享",
    "correction_routing": "数据校核与纠错",
    "open_data_regulated": "数据开放",
    "log_retention_months": "安全保障",
    "annual_report_due": "监督考核",
    "reminder_lead_working_days": "平台设置（非法规规定）",
}


def _word(key: str, code: str) -> str:
    return CHOICE_OVERRIDES.get((key, code)) or VOCAB.get(code, code)


def render_value(param) -> str:
    """A parameter's value as a person reads it: "10 个工作日", "1 个月", "是", "使用用途、应用场景" …"""
    v, unit = param.value, param.unit
    if v is None:
        return UNSET_PERIOD if unit in PERIOD_UNITS else UNSET
    if unit == "working_days":
        return f"{v} 个工作日"
    if unit == "months":
        return f"{v} 个月"
    if unit == "per_year":
        return f"每年 {v} 次"
    if unit == "bool":
        return "是" if v else "否"
    if unit == "choice":
        return _word(param.key, v)
    if unit == "list":
        return "、".join(_word(param.key, x) for x in v) if v else "（无）"
    if unit == "date_of_year":
        day = "底" if v.day == "last" else f"{v.day}日"
        return f"每年{v.month}月{day}前"
    return str(v)


def profile_rows(profile) -> list[dict]:
    rows = []
    section = ""
    for key in PARAMETERS:
        section = SECTIONS.get(key, section)
        p = profile.param(key)
        codes = ""
        if p.value is not None and p.unit in ("choice", "list"):
            codes = p.value if p.unit == "choice" else ", ".join(p.value)
        rows.append(
            {
                "section": section,
                "key": key,
                "label": p.label,
                "value": render_value(p),
                "codes": codes,
                "unset": p.value is None,
                "unit": p.unit,
                "article": p.article,
                "requirement": p.requirement,
                "note": p.note,
                "platform_setting": p.source == "platform_setting",
            }
        )
    return rows


@admin_only
def profile_page(request):
    active_code = settings.GOVSHARE_PROFILE
    active = policy.active_profile()
    code = request.GET.get("code") or active_code
    if code not in available_profiles():
        messages.error(request, f"没有名为“{code}”的政策配置，显示当前生效的配置")
        code = active_code
    try:
        shown = load_profile(code)
    except ProfileError as exc:  # a shipped file that does not validate: say so, show the active one
        messages.error(request, f"政策配置“{code}”无法加载：{exc}")
        shown = active
    others = []
    for c in available_profiles():
        try:
            others.append(load_profile(c))
        except ProfileError:
            continue
    rows = profile_rows(shown)
    return render(
        request,
        "calendar/profile.html",
        {
            "active": active,
            "shown": shown,
            "is_active": shown.code == active.code,
            "profiles": others,
            "rows": rows,
            "unset_count": sum(r["unset"] for r in rows),
        },
    )
