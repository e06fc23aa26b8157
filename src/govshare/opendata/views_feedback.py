"""Pages for objections (CZ 28), open-catalog correction requests (NX 45) and feedback (R-OPEN-12): the public
forms reached from a dataset page, the account's own lists, and the providers' pages under /open/manage/.

Thin over opendata.objections, which checks again who may act and audits. A form that fails is shown
again with its errors and the refusal's status (422 invalid, 409 not possible now, 403 not allowed).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as Forbidden
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from govshare.calendar.policy import active_profile
from govshare.errors import DomainError, NotFound, ValidationFailed
from govshare.supervision.models import ObligationStatus

from . import forms, objections, selectors
from .models import (
    CORRECTION_PARTS,
    DOMAINS,
    CatalogCorrection,
    CorrectionStatus,
    DatasetStatus,
    ObjectionStatus,
    OpenDataset,
)


def _errors(exc: DomainError) -> list[dict]:
    if isinstance(exc, ValidationFailed):
        return exc.errors
    return [{"field": "", "label": "", "code": exc.code, "message": exc.message}]


def _general(errors: list[dict], fields: tuple[str, ...]) -> list[dict]:
    """Errors not shown next to a field of the form: shown above it."""
    return [e for e in errors if e.get("field") not in fields]


def _dataset(name: str) -> OpenDataset:
    try:
        return selectors.get_dataset(name)
    except NotFound:
        raise Http404 from None


# ---------------------------------------------------------------- public forms


@login_required
def objection(request, name: str):
    ds = _dataset(name)
    versions = selectors.versions_of(ds)
    form, errors, status = {"version": "", "items": [], "reason": ""}, [], 200
    if request.method == "POST":
        form = {
            "version": request.POST.get("version", ""),
            "items": request.POST.getlist("items"),
            "reason": request.POST.get("reason", ""),
        }
        number = int(form["version"]) if form["version"].isdecimal() else None
        try:
            objections.lodge_objection(
                request.user,
                ds,
                reason=form["reason"],
                evidence=request.FILES.getlist("evidence"),
                version_number=number,
                items=form["items"],
            )
        except DomainError as exc:
            errors, status = _errors(exc), exc.status
        else:
            messages.success(
                request, "异议已提交。该数据集已中止开放，提供部门核实后将告知处理结果（见“我的账号”）。"
            )
            return redirect(objections.dataset_link(ds))
    return render(
        request,
        "opendata/feedback/objection_form.html",
        {
            "d": ds,
            "versions": versions,
            "items": ds.current.items if ds.current else [],
            "form": form,
            "errors": errors,
            "general_errors": _general(errors, ("reason", "version", "items", "evidence")),
        },
        status=status,
    )


@login_required
def correction(request, name: str):
    ds = _dataset(name)
    form, errors, status = {"part": "", "requested": "", "reason": ""}, [], 200
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in form}
        try:
            objections.request_correction(request.user, ds, **form)
        except DomainError as exc:
            errors, status = _errors(exc), exc.status
        else:
            messages.success(request, "更正申请已提交，提供部门答复后将通知您（见“我的账号”）。")
            return redirect(objections.dataset_link(ds))
    param = active_profile().param("open_catalog_correction_reply_working_days")
    return render(
        request,
        "opendata/feedback/correction_form.html",
        {
            "d": ds,
            "parts": CORRECTION_PARTS,
            "form": form,
            "errors": errors,
            "general_errors": _general(errors, ("part", "requested", "reason")),
            "reply_period": param,
        },
        status=status,
    )


def feedback(request, name: str = ""):
    """Anyone, signed in or not, on a dataset (/open/datasets/<name>/feedback/) or the portal (/open/feedback/)."""
    ds = _dataset(name) if name else None
    signed_in = request.user.is_authenticated
    form = {"content": "", "name": "", "contact": ""}
    errors, status = [], 200
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in form}
        try:
            objections.leave_feedback(request.user, dataset=ds, **form)
        except DomainError as exc:
            errors, status = _errors(exc), exc.status
        else:
            messages.success(request, "感谢您的意见建议，我们会认真研究并答复。")
            return redirect(objections.dataset_link(ds) if ds else "/open/")
    return render(
        request,
        "opendata/feedback/feedback_form.html",
        {
            "d": ds,
            "form": form,
            "signed_in": signed_in,
            "errors": errors,
            "general_errors": _general(errors, ("content", "name", "contact")),
        },
        status=status,
    )


@login_required
@require_GET
def evidence(request, pk: int, eid: int):
    try:
        ev = objections.read_evidence(request.user, pk, eid)
    except NotFound:
        raise Http404 from None
    response = FileResponse(ev.file.open("rb"), as_attachment=True, filename=ev.name)
    response["Cache-Control"] = "private, no-store"
    return response


# ---------------------------------------------------------------- providers' pages


def _officer(user) -> None:
    if not objections.handled_providers(user):
        raise Forbidden("只有提供部门数据专员、部门负责人或数据主管部门可以办理")


@login_required
def manage_objections(request):
    _officer(request.user)
    return render(
        request,
        "opendata/feedback/manage_objections.html",
        {"rows": objections.manage_objections(request.user)},
    )


def _reopen_context(ds: OpenDataset, form: dict, errors: list[dict]) -> dict:
    resource = ds.resource
    items = list(resource.items.order_by("position"))
    return {
        "form": form,
        "item_rows": forms.item_rows(items, form["rules"], errors),
        "rule_kinds": forms.RULE_KINDS,
        "domains": DOMAINS,
    }


@login_required
def manage_objection(request, pk: int):
    """One dataset's objections with their evidence, and the three findings while it is suspended."""
    _officer(request.user)
    ds = (
        OpenDataset.objects.select_related("resource", "provider", "current")
        .filter(pk=pk, provider_id__in=objections.handled_providers(request.user))
        .first()
    )
    if ds is None:
        raise Http404
    can_act = objections.can_handle(request.user, ds)
    reopen_form = forms.initial(ds.resource, ds)
    errors: list[dict] = []
    action, notes, status = "", {}, 200
    if request.method == "POST":
        if not can_act:
            raise Forbidden("只有提供部门数据专员或数据主管部门可以处理异议")
        action = request.POST.get("action", "")
        note = request.POST.get("note", "")
        notes = {action: note}
        try:
            if action == "withdraw":
                objections.withdraw(request.user, ds, note)
                done = "数据集已撤回，异议人已收到处理结果"
            elif action == "restore":
                objections.restore(request.user, ds, note)
                done = "数据集已恢复开放，异议人已收到处理结果"
            elif action == "reopen":
                reopen_form = forms.from_post(ds.resource, request.POST)
                kwargs = forms.parse(reopen_form, errors)
                if errors:
                    raise ValidationFailed(errors)
                ds = objections.reopen(request.user, ds, note, **kwargs)
                latest = ds.versions.order_by("-number").first()
                done = f"已重新审查并开放，发布版本 v{latest.number}；异议人已收到处理结果"
            else:
                raise Http404
        except DomainError as exc:
            errors, status = _errors(exc), exc.status
        else:
            messages.success(request, done)
            return redirect(objections.objection_link(ds))
    ds.refresh_from_db()
    rows = list(
        ds.objections.select_related(
            "objector", "version", "resolved_by", "reopened_version"
        ).prefetch_related("evidence")
    )
    waiting = ds.status == DatasetStatus.SUSPENDED and any(
        o.status == ObjectionStatus.VERIFYING for o in rows
    )
    return render(
        request,
        "opendata/feedback/manage_objection.html",
        {
            "d": ds,
            "rows": rows,
            "waiting": waiting,
            "can_act": can_act,
            "action": action,
            "notes": notes,
            "errors": errors,
            "general_errors": [
                e
                for e in errors
                if action != "reopen"
                or not (e.get("field", "").startswith("rules") or e.get("field") == "note")
            ],
            "state": selectors.open_state(ds),
            **_reopen_context(ds, reopen_form, errors),
        },
        status=status,
    )


@login_required
def manage_corrections(request):
    _officer(request.user)
    rows = []
    for req in objections.manage_corrections(request.user)[:200]:
        ob = objections.reply_obligation(req) if req.status == CorrectionStatus.PENDING else None
        rows.append({"req": req, "ob": ob})
    return render(request, "opendata/feedback/manage_corrections.html", {"rows": rows})


@login_required
def manage_correction(request, pk: int):
    _officer(request.user)
    req = (
        CatalogCorrection.objects.select_related(
            "dataset__resource", "dataset__provider", "requester", "replied_by"
        )
        .filter(pk=pk, dataset__provider_id__in=objections.handled_providers(request.user))
        .first()
    )
    if req is None:
        raise Http404
    errors: list[dict] = []
    action, form, status = "", {}, 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        form = {k: request.POST.get(k, "") for k in ("reply", "basis", "working_days", "reason")}
        try:
            if action in ("agree", "refuse"):
                objections.reply_correction(
                    request.user, req, agree=action == "agree", reply=form["reply"], basis=form["basis"]
                )
                done = "已答复，申请人已收到通知"
            elif action == "extend":
                raw = form["working_days"].strip()
                if not raw.isdecimal():
                    raise ValidationFailed(
                        [
                            {
                                "field": "working_days",
                                "label": "延长工作日",
                                "code": "invalid",
                                "message": "请填写延长的工作日数",
                            }
                        ]
                    )
                ext = objections.extend_correction(request.user, req, int(raw), form["reason"])
                done = f"答复期限已延长至 {ext.new_due_on:%Y-%m-%d}"
            else:
                raise Http404
        except DomainError as exc:
            errors, status = _errors(exc), exc.status
        else:
            messages.success(request, done)
            return redirect(objections.correction_link(req))
        req.refresh_from_db()
    ob = objections.reply_obligation(req)
    if ob is None:
        from govshare.supervision.models import Obligation

        ob = (
            Obligation.objects.filter(
                subject_type=objections.CORRECTION_SUBJECT, subject_id=str(req.pk), duty=objections.DUTY_REPLY
            )
            .order_by("-id")
            .first()
        )
    profile = active_profile()
    return render(
        request,
        "opendata/feedback/manage_correction.html",
        {
            "req": req,
            "ob": ob,
            "ob_active": ob is not None and ob.status in (ObligationStatus.OPEN, ObligationStatus.OVERDUE),
            "extensions": list(ob.extensions.select_related("approver").order_by("id")) if ob else [],
            "can_reply": req.status == CorrectionStatus.PENDING
            and objections.can_handle(request.user, req.dataset),
            "can_extend": req.status == CorrectionStatus.PENDING
            and ob is not None
            and ob.due_on is not None
            and objections.can_extend(request.user, req),
            "basis_param": profile.param("open_refusal_basis_required"),
            "extension_param": profile.param("open_catalog_correction_extension_max_working_days"),
            "action": action,
            "form": form,
            "errors": errors,
            "general_errors": _general(errors, ("reply", "basis", "working_days", "reason")),
        },
        status=status,
    )


@login_required
def manage_feedback(request):
    user = request.user
    if not objections.handled_providers(user) and not user.has_role("operator"):
        raise Forbidden("只有数据提供部门、数据主管部门或平台运维人员可以查看意见建议")
    errors, status, replying = [], 200, ""
    if request.method == "POST":
        replying = request.POST.get("feedback", "")
        fb = objections.manage_feedback(user).filter(pk=int(replying) if replying.isdecimal() else 0).first()
        if fb is None:
            raise Http404
        try:
            objections.reply_feedback(user, fb, request.POST.get("reply", ""))
        except DomainError as exc:
            errors, status = _errors(exc), exc.status
        else:
            messages.success(request, "已答复")
            return redirect("/open/manage/feedback/")
    show = request.GET.get("show", "open")
    qs = objections.manage_feedback(user)
    if show == "open":
        qs = qs.filter(replied_at__isnull=True)
    rows = [{"fb": fb, "can_reply": objections.can_reply_feedback(user, fb)} for fb in qs[:200]]
    return render(
        request,
        "opendata/feedback/manage_feedback.html",
        {
            "rows": rows,
            "show": show,
            "errors": errors,
            "replying": replying,
            "can_summary": objections.can_see_summary(user),
        },
        status=status,
    )


@login_required
def summary(request):
    if not objections.can_see_summary(request.user):
        raise Forbidden("只有数据主管部门或平台运维人员可以查看意见建议分析")
    raw = request.GET.get("year", "")
    this_year = timezone.localdate().year
    year = int(raw) if raw.isdecimal() and 2000 <= int(raw) <= this_year + 1 else this_year
    return render(
        request,
        "opendata/feedback/summary.html",
        {
            "s": objections.feedback_summary(year),
            "prev": year - 1,
            "next": year + 1 if year < this_year else None,
        },
    )
