"""Inspection packages (检查导出包) for 网信, 保密, 国家安全 and audit inspections (R-SEC-16, R-SUP-10).

One ZIP per request: the period's audit events, the grants in force during it with their status history,
client systems and their credentials' lifecycle, security records (accounts and second factors, sign-in
events, lockouts, deployment checks), the public keys, the signed tree heads and the standalone verifier,
and a `manifest.json` with the SHA-256 of every file. Generating it is itself an audit event whose detail
carries the SHA-256 of the file list, so once that event is sealed a receipt for it proves what was handed
over and when. Secrets never enter: no token, token hash, password hash, TOTP secret or recovery code.

Files are written into the archive row by row (memory stays flat for a long period); `build` writes to
any binary file object, so the page streams a temporary file and the command writes the named one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from govshare import __version__, dates
from govshare.audit import keys, listing, merkle, selectors, services, verifier
from govshare.audit.models import AuditEvent, TreeHead
from govshare.errors import PermissionDenied, ValidationFailed
from govshare.orgs.models import Department, Role

FORMAT = "govshare-inspection/1"
ACTION = "audit.inspection.export"
BODIES = {
    "cac": "网信部门",
    "secrecy": "保密行政管理部门",
    "national_security": "国家安全机关",
    "audit": "审计机关",
    "other": "其他检查机关",
}
BODY_ALIASES = {v: k for k, v in BODIES.items()} | {
    "网信": "cac",
    "保密": "secrecy",
    "国家安全": "national_security",
    "国安": "national_security",
    "审计": "audit",
    "其他": "other",
}
GRANT_ACTIONS = {
    "sharing.grant.create": "授权",
    "sharing.grant.suspend": "暂停",
    "sharing.grant.resume": "恢复",
    "sharing.grant.terminate": "终止",
    "sharing.grant.expire": "到期",
    "sharing.grant.file": "备案",
}
SECURITY_PREFIXES = ("auth.", "security.")


def may_export(user) -> bool:
    return bool(user.is_superuser or user.has_role(Role.AUTHORITY, Role.AUDITOR))


def _err(field: str, label: str, code: str, message: str) -> dict:
    return {"field": field, "label": label, "code": code, "message": message}


@dataclass(frozen=True)
class Scope:
    since: dt.date
    until: dt.date
    departments: tuple[Department, ...]
    body: str
    reference: str

    @property
    def start(self) -> dt.datetime:
        return listing.day_start(self.since)

    @property
    def end(self) -> dt.datetime:
        return listing.day_end(self.until)

    @property
    def department_ids(self) -> list[int]:
        return [d.pk for d in self.departments]

    def document(self) -> dict:
        return {
            "from": self.since.isoformat(),
            "to": self.until.isoformat(),
            "departments": [{"id": d.pk, "name": d.name, "uscc": d.uscc} for d in self.departments],
            "inspecting_body": self.body,
            "inspecting_body_name": BODIES[self.body],
            "reference": self.reference,
        }


def make_scope(since, until, departments=(), body: str = "", reference: str = "") -> Scope:
    """Check a request; every problem is named with its field (422), nothing is guessed."""
    errors = []

    start = dates.field_day(since, "since", "起始日期", errors, required=True)
    end = dates.field_day(until, "until", "截止日期", errors, required=True)
    if start and end and start > end:
        errors.append(_err("until", "截止日期", "before_start", "截止日期不能早于起始日期"))
    body = str(body or "").strip()
    body = body if body in BODIES else BODY_ALIASES.get(body, "")
    if not body:
        errors.append(
            _err("body", "检查机关", "required", "请选择检查机关（网信、保密、国家安全、审计或其他）")
        )
    reference = str(reference or "").replace("\x00", "").strip()
    if not reference:
        errors.append(_err("reference", "检查文号", "required", "请填写检查通知书文号或检查编号"))
    elif len(reference) > 100:
        errors.append(_err("reference", "检查文号", "too_long", "检查文号不超过 100 个字符"))
    wanted = [d for d in departments if str(d).replace("\x00", "").strip()]
    found: list[Department] = []
    for d in wanted:
        dept = d if isinstance(d, Department) else _department(str(d).replace("\x00", "").strip()[:200])
        if dept is None:
            errors.append(_err("departments", "部门", "not_found", f"没有部门“{d}”"))
        elif dept not in found:
            found.append(dept)
    if errors:
        raise ValidationFailed(errors)
    return Scope(start, end, tuple(found), body, reference)


def _department(key: str) -> Department | None:
    q = Q(name=key) | Q(short_name=key) | Q(uscc=key.upper())
    if key.isdecimal() and len(key) < 18:
        q |= Q(pk=int(key))
    return Department.objects.filter(q).first()


# ---------------------------------------------------------------- the archive


class _Sink:
    """One archive member being written: counts and hashes the uncompressed bytes an inspector will get."""

    def __init__(self, fh):
        self.fh, self.sha, self.size = fh, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.fh.write(data)


class _Package:
    def __init__(self, out, when: dt.datetime):
        self.zf = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        self.date_time = timezone.localtime(when).timetuple()[:6]
        self.files: list[dict] = []

    @contextlib.contextmanager
    def member(self, name: str):
        info = zipfile.ZipInfo(name, date_time=self.date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        with self.zf.open(info, "w", force_zip64=True) as fh:
            sink = _Sink(fh)
            entry = {"name": name}
            yield sink, entry
        self.files.append({**entry, "sha256": sink.sha.hexdigest(), "bytes": sink.size})

    def csv(self, name: str, columns, rows) -> int:
        with self.member(name) as (sink, entry):
            entry["rows"] = listing.write_csv(sink, columns, rows)
        return entry["rows"]

    def bytes(self, name: str, data: bytes) -> None:
        with self.member(name) as (sink, _):
            sink.write(data)

    def json(self, name: str, doc) -> None:
        self.bytes(name, (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))

    def close(self) -> None:
        self.zf.close()


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _name(user) -> str:
    return (user.full_name or user.username) if user else ""


# ---------------------------------------------------------------- contents


def _events(scope: Scope):
    qs = AuditEvent.objects.filter(occurred_at__gte=scope.start, occurred_at__lt=scope.end)
    if scope.departments:
        qs = qs.filter(selectors.department_scope(scope.department_ids))
    return qs.order_by("seq")


def _grants(scope: Scope):
    """Grants in force at some time in the period (suspended ones included: still in force, not usable)."""
    from govshare.sharing.models import Grant, GrantStatus

    qs = Grant.objects.filter(
        created_at__lt=scope.end, valid_from__lte=scope.until, valid_until__gte=scope.since
    ).exclude(status=GrantStatus.TERMINATED, status_changed_at__lt=scope.start)
    if scope.departments:
        ids = scope.department_ids
        qs = qs.filter(Q(consumer_id__in=ids) | Q(resource__provider_id__in=ids))
    return qs


GRANT_COLUMNS = [
    "授权编号",
    "来源申请编号",
    "申请类型",
    "资源代码",
    "资源名称",
    "提供部门",
    "使用部门",
    "应用系统",
    "使用用途",
    "授权信息项",
    "脱敏规则",
    "行范围",
    "共享方式",
    "有效期自",
    "有效期至",
    "每日调用上限",
    "当前状态",
    "状态变更原因",
    "状态变更人",
    "状态变更时间",
    "须备案",
    "备案时间",
    "授权人",
    "授权时间",
]


def _grant_rows(grants):
    from govshare.catalog.models import Delivery

    methods = dict(Delivery.choices)
    qs = grants.select_related(
        "resource__provider", "consumer", "application", "created_by", "status_changed_by"
    ).prefetch_related("clients", "resource__items")
    for g in qs.order_by("created_at", "id").iterator(chunk_size=500):
        names = {it.code: it.name for it in g.resource.items.all()}
        yield [
            g.number,
            g.application.number,
            g.application.get_kind_display(),
            g.resource.code,
            g.resource.name,
            g.resource.provider.name,
            g.consumer.name,
            "、".join(f"{c.name}（{c.code}）" for c in g.clients.all()),
            g.purpose,
            "、".join(f"{names.get(c, c)}（{c}）" for c in g.items),
            json.dumps(g.masks, ensure_ascii=False, sort_keys=True) if g.masks else "",
            json.dumps(g.row_filter, ensure_ascii=False) if g.row_filter else "",
            "、".join(methods.get(m, m) for m in g.methods),
            g.valid_from.isoformat(),
            g.valid_until.isoformat(),
            "" if g.daily_quota is None else g.daily_quota,
            g.state_label,
            g.status_reason,
            _name(g.status_changed_by),
            _local(g.status_changed_at),
            "是" if g.filing_required else "否",
            _local(g.filed_at),
            _name(g.created_by),
            _local(g.created_at),
        ]


STATUS_COLUMNS = ["序号", "时间", "授权编号", "变更", "操作人", "部门", "原因", "结果"]


def _status_rows(scope: Scope, grants):
    numbers = {str(pk): n for pk, n in grants.values_list("pk", "number")}
    qs = AuditEvent.objects.filter(
        object_type="sharing.grant",
        object_id__in=selectors.object_keys(grants),
        action__in=GRANT_ACTIONS,
        occurred_at__lt=scope.end,
    ).order_by("seq")
    for e in qs.iterator(chunk_size=2000):
        yield [
            e.seq,
            _local(e.occurred_at),
            numbers.get(e.object_id, e.object_id),
            GRANT_ACTIONS[e.action],
            e.actor or "（系统）",
            e.department_name,
            str((e.detail or {}).get("reason") or ""),
            listing.RESULTS.get(e.result, e.result),
        ]


SYSTEM_COLUMNS = [
    "系统编码",
    "系统名称",
    "所属部门",
    "状态",
    "登记人",
    "登记时间",
    "停用时间",
    "停用人",
    "停用原因",
]
CREDENTIAL_COLUMNS = [
    "系统编码",
    "凭证编号",
    "用途说明",
    "签发人",
    "签发时间",
    "有效期至",
    "轮换自",
    "轮换为",
    "吊销时间",
    "吊销人",
    "吊销原因",
    "最近使用",
    "当前状态",
]


def _systems(scope: Scope, grants):
    from govshare.clients.models import ClientSystem

    qs = ClientSystem.objects.filter(created_at__lt=scope.end)
    if scope.departments:
        qs = qs.filter(Q(department_id__in=scope.department_ids) | Q(grants__in=grants)).distinct()
    return qs


def _system_rows(systems):
    qs = systems.select_related("department", "created_by", "disabled_by").order_by(
        "department__name", "code"
    )
    for s in qs:
        yield [
            s.code,
            s.name,
            s.department.name,
            s.get_status_display(),
            _name(s.created_by),
            _local(s.created_at),
            _local(s.disabled_at),
            _name(s.disabled_by),
            s.disable_reason,
        ]


def _credential_rows(scope: Scope, systems):
    """The lifecycle of each credential; the token and its hash are never read."""
    from govshare.clients.models import Credential

    qs = (
        Credential.objects.filter(client__in=systems, created_at__lt=scope.end)
        .select_related("client", "created_by", "revoked_by", "rotated_from", "rotated_to")
        .defer("secret_hash")
        .order_by("client__code", "created_at", "id")
    )
    now = timezone.now()
    for c in qs:
        rotated_to = getattr(c, "rotated_to", None)
        yield [
            c.client.code,
            c.display_prefix,
            c.label,
            _name(c.created_by),
            _local(c.created_at),
            _local(c.expires_at),
            c.rotated_from.display_prefix if c.rotated_from else "",
            rotated_to.display_prefix if rotated_to else "",
            _local(c.revoked_at),
            _name(c.revoked_by),
            c.revoke_reason,
            _local(c.last_used_at),
            {"active": "有效", "rotating": "轮换过渡期", "expired": "已过期", "revoked": "已吊销"}[
                c.state(now)
            ],
        ]


ACCOUNT_COLUMNS = [
    "用户名",
    "姓名",
    "部门",
    "角色",
    "启用",
    "后台管理员",
    "创建时间",
    "最近登录",
    "动态口令",
    "动态口令启用时间",
    "最近验证",
    "锁定至",
    "未使用恢复码",
]


def _people(scope: Scope):
    from govshare.orgs.models import User

    qs = User.objects.filter(date_joined__lt=scope.end)
    if scope.departments:
        return qs.filter(department_id__in=scope.department_ids)
    return qs.filter(Q(department__isnull=False) | Q(roles__isnull=False) | Q(is_staff=True)).distinct()


def _account_rows(people):
    """Who could sign in and how strongly; never the password hash or the second factor's secret."""
    from govshare.orgs.models import User
    from govshare.security.models import TotpDevice

    labels = dict(Role.choices)
    qs = (
        User.objects.filter(pk__in=people.values("pk"))  # counted apart from the role join in `people`
        .select_related("department")
        .prefetch_related("roles")
        .annotate(unused_codes=Count("recovery_codes", filter=Q(recovery_codes__used_at__isnull=True)))
        .defer("password")
        .order_by("department__name", "username")
    )
    devices = {
        d.user_id: d
        for d in TotpDevice.objects.filter(user__in=people).only(
            "user_id", "confirmed_at", "last_used_at", "locked_until"
        )
    }
    for u in qs:
        d = devices.get(u.pk)
        yield [
            u.username,
            u.full_name,
            u.department.name if u.department else "",
            "、".join(labels.get(r.role, r.role) for r in u.roles.all()),
            "是" if u.is_active else "否",
            "是" if (u.is_staff or u.is_superuser) else "否",
            _local(u.date_joined),
            _local(u.last_login),
            "未设置" if d is None else ("已启用" if d.confirmed_at else "待启用"),
            _local(d.confirmed_at) if d else "",
            _local(d.last_used_at) if d else "",
            _local(d.locked_until) if d else "",
            u.unused_codes,
        ]


LOCKOUT_COLUMNS = ["记录", "时间", "用户名", "来源地址", "路径", "失败次数", "已锁定"]


def _lockout_rows(scope: Scope, people):
    """django-axes' counters (failed attempts since the last success) and, if enabled, its failure log."""
    from axes.models import AccessAttempt, AccessFailureLog

    limit = int(getattr(settings, "AXES_FAILURE_LIMIT", 5))
    names = people.values("username")
    attempts = AccessAttempt.objects.filter(attempt_time__gte=scope.start, attempt_time__lt=scope.end)
    failures = AccessFailureLog.objects.filter(attempt_time__gte=scope.start, attempt_time__lt=scope.end)
    if scope.departments:
        attempts, failures = attempts.filter(username__in=names), failures.filter(username__in=names)
    fields = ("attempt_time", "username", "ip_address", "path_info")
    for a in attempts.only(*fields, "failures_since_start").order_by("attempt_time"):
        failures_n = a.failures_since_start
        locked = "是" if failures_n >= limit else "否"
        yield ["失败计数", _local(a.attempt_time), a.username, a.ip_address, a.path_info, failures_n, locked]
    for f in failures.only(*fields, "locked_out").order_by("attempt_time"):
        row = ["失败记录", _local(f.attempt_time), f.username, f.ip_address, f.path_info, ""]
        yield [*row, "是" if f.locked_out else "否"]


def _deploy_checks() -> dict:
    """The same checks as `govshare check --deploy` (ours and Django's security ones), as found now."""
    from django.core import checks

    levels = {checks.DEBUG: "debug", checks.INFO: "info", checks.WARNING: "warning", checks.ERROR: "error"}
    found = checks.run_checks(tags=["govshare", checks.Tags.security], include_deployment_checks=True)
    return {
        "checked_at": timezone.localtime().isoformat(timespec="seconds"),
        "problems": [
            {
                "id": m.id,
                "level": levels.get(m.level, "critical"),
                "message": str(m.msg),
                "hint": str(m.hint or ""),
            }
            for m in found
        ],
        "settings": {
            "GOVSHARE_PROFILE": settings.GOVSHARE_PROFILE,
            "GOVSHARE_REQUIRE_TOTP": bool(getattr(settings, "GOVSHARE_REQUIRE_TOTP", False)),
            "GOVSHARE_AUDIT_HASH_ALG": getattr(settings, "GOVSHARE_AUDIT_HASH_ALG", "sha256"),
            "AXES_FAILURE_LIMIT": getattr(settings, "AXES_FAILURE_LIMIT", None),
            "DEBUG": settings.DEBUG,
            "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
            "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
            "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
            "SECURE_HSTS_SECONDS": settings.SECURE_HSTS_SECONDS,
            "DATABASE_VENDOR": _vendor(),
        },
    }


def _vendor() -> str:
    from django.db import connection

    return connection.vendor


def _heads(scope: Scope) -> dict:
    latest = services.latest_head()
    return {
        "latest": latest.to_dict() if latest else None,
        "in_period": [
            h.to_dict()
            for h in TreeHead.objects.filter(created_at__gte=scope.start, created_at__lt=scope.end).order_by(
                "tree_size"
            )
        ],
    }


README = """检查导出包 · 政务数据共享交换平台
====================================

检查机关：{body}　检查文号：{reference}
期间：{since} 至 {until}（含首尾两日，北京时间）　部门：{departments}
生成时间：{generated_at}　生成人：{generated_by}

本包内容
--------
manifest.json                  清单：每个文件的 SHA-256、生成时间、生成人、筛选条件、最新签名树头、本次导出的审计事件序号
audit/events.csv               期间内的审计事件（全部字段；“时间（UTC，与回执一致）”和“详情（JSON）”与回执中的事件逐字相同）
audit/tree_heads.json          最新签名树头，以及期间内签发的全部树头
audit/keys.json                平台公钥环（含已轮换的旧公钥）
grants/grants.csv              期间内任一时刻有效的共享授权：使用部门、提供部门、资源、信息项、用途、应用系统、期限、状态
grants/status_changes.csv      上述授权截至期末的授权、暂停、恢复、终止、到期、备案记录
clients/client_systems.csv     应用系统
clients/credentials.csv        凭证的签发、轮换、吊销与有效期（不含令牌及其摘要）
security/accounts.csv          账号、角色与动态口令（第二因素）启用情况（不含口令摘要和密钥）
security/login_events.csv      期间内的登录成功、失败、动态口令与锁定事件（audit/events.csv 的子集）
security/lockouts.csv          期间内的登录失败计数与锁定
security/deploy_checks.json    生成时的部署安全检查结果（与 govshare check --deploy 相同）
verifier/*.py                  独立验证工具 merkle.py、verifier.py（及国密签名所需的 sm2.py），只需 Python 3.11 及 cryptography

如何核对
--------
1. 文件完整：对每个文件计算 SHA-256（如 sha256sum grants/grants.csv），与 manifest.json 中的值比对。
2. 导出本身已留痕：manifest.json 的 audit_event.seq 是本次导出的审计事件，其详情中的
   content_sha256 是 manifest.json 中 files 列表的 SHA-256（规范 JSON，见下文第 2 节）。该事件封存后，
   向平台索取其回执即可证明本包的内容与生成时间。
3. 事件未被篡改：对 events.csv 中任一事件向平台索取回执（govshare audit receipt 序号，或
   GET /api/v1/audit/events/序号/receipt），运行
       python verifier/verifier.py receipt.json --keys audit/keys.json
   回执中的事件须与 CSV 中该行逐字一致。
4. 日志只增不改：向平台索取本包树头与回执树头之间的一致性证明
   （govshare audit consistency 旧规模 新规模），同样用 verifier.py 校验。
5. 公钥须通过可信渠道（官方网站、正式函件、其他部门的副本）另行核对，不能只信任本包中的 keys.json。

以下为回执与证明格式的完整说明。

"""


def _archived(scope: Scope) -> list[dict]:
    """Archive segments that may hold events of the period (R-SEC-06 moves old events out of the live table):
    named with their SHA-256 so the operator can hand over the very files, which recompute their leaves."""
    from govshare.audit.models import ArchiveSegment

    return [
        {
            "first_seq": seg.first_seq,
            "last_seq": seg.last_seq,
            "events": seg.count,
            "occurred_before": seg.cutoff.isoformat(),
            "file_name": seg.file_name,
            "sha256": seg.sha256,
        }
        for seg in ArchiveSegment.objects.filter(cutoff__gt=scope.since).order_by("first_seq")
    ]


ARCHIVE_NOTE = """
注意：本期间的部分审计事件已超过在线保存期限并归档，不在 audit/events.csv 中。manifest.json 的
archive_segments 列出可能含有本期间事件的归档段（序号范围、事件数、文件名和 SHA-256）；请向平台运维
索取这些归档文件（gzip 压缩的 JSON Lines，每行即该事件叶子所承诺的规范 JSON），按 SHA-256 核对。
"""


def _verifier_doc() -> str:
    doc = Path(__file__).resolve().parents[3] / "docs" / "audit-verifier.md"
    if doc.is_file():
        return doc.read_text("utf-8")
    return verifier.__doc__ or ""


def verifier_files() -> list[Path]:
    """The standalone verifier as docs/audit-verifier.md §1 says to copy it (sm2.py for SM2-signed heads)."""
    here = Path(verifier.__file__).parent
    return [here / n for n in ("merkle.py", "sm2.py", "verifier.py") if (here / n).is_file()]


def _content_digest(files: list[dict]) -> str:
    return hashlib.sha256(merkle.canonical_bytes({"files": files})).hexdigest()


def build(out, scope: Scope, user=None, request=None) -> dict:
    """Write the package to `out` and record the export; returns the manifest. `user` None = the command line."""
    if user is not None and not may_export(user):
        raise PermissionDenied("inspection_forbidden", "只有数据主管部门和审计人员可以生成检查导出包")
    now = timezone.now()
    pkg = _Package(out, now)
    counts = {}
    events = _events(scope)
    counts["events"] = pkg.csv("audit/events.csv", listing.COLUMNS, listing.iter_values(events))
    heads = _heads(scope)
    pkg.json("audit/tree_heads.json", heads)
    pkg.json("audit/keys.json", keys.keyring())
    grants = _grants(scope)
    counts["grants"] = pkg.csv("grants/grants.csv", GRANT_COLUMNS, _grant_rows(grants))
    pkg.csv("grants/status_changes.csv", STATUS_COLUMNS, _status_rows(scope, grants))
    systems = _systems(scope, grants)
    counts["client_systems"] = pkg.csv("clients/client_systems.csv", SYSTEM_COLUMNS, _system_rows(systems))
    pkg.csv("clients/credentials.csv", CREDENTIAL_COLUMNS, _credential_rows(scope, systems))
    people = _people(scope)
    pkg.csv("security/accounts.csv", ACCOUNT_COLUMNS, _account_rows(people))
    logins = events.filter(
        Q(action__startswith=SECURITY_PREFIXES[0]) | Q(action__startswith=SECURITY_PREFIXES[1])
    )
    pkg.csv("security/login_events.csv", listing.COLUMNS, listing.iter_values(logins))
    pkg.csv("security/lockouts.csv", LOCKOUT_COLUMNS, _lockout_rows(scope, people))
    pkg.json("security/deploy_checks.json", _deploy_checks())
    for path in verifier_files():
        pkg.bytes(f"verifier/{path.name}", path.read_bytes())
    doc = scope.document()
    by = (
        {"username": user.username, "full_name": user.full_name, "department": _dept(user)}
        if user is not None
        else {"username": "", "full_name": "", "department": "", "via": "命令行（服务器管理员）"}
    )
    readme = README.format(
        body=BODIES[scope.body],
        reference=scope.reference,
        since=scope.since.isoformat(),
        until=scope.until.isoformat(),
        departments="、".join(d.name for d in scope.departments) or "全部",
        generated_at=_local(now),
        generated_by=(f"{by['department']} {by['full_name'] or by['username']}".strip() or by.get("via", "")),
    )
    archived = _archived(scope)
    if archived:
        readme = readme.replace("\n如何核对\n", ARCHIVE_NOTE + "\n如何核对\n", 1)
    pkg.bytes("README.txt", (readme + _verifier_doc()).encode("utf-8"))
    digest = _content_digest(pkg.files)
    event = services.record(
        ACTION,
        actor=user,
        object_type="audit.inspection",
        object_id=scope.reference[:100],
        case_id=scope.reference[:100],
        purpose=f"{BODIES[scope.body]}检查",
        detail={
            "body": scope.body,
            "reference": scope.reference,
            "from": scope.since.isoformat(),
            "to": scope.until.isoformat(),
            "departments": ",".join(str(i) for i in scope.department_ids),
            "via": "web" if user is not None else "cli",
            "files": len(pkg.files),
            **{f"rows_{k}": v for k, v in counts.items()},
            "archived_segments": len(archived),
            "content_sha256": digest,
        },
        request=request,
    )
    manifest = {
        "format": FORMAT,
        "title": "政务数据共享交换平台 检查导出包",
        "generated_at": timezone.localtime(now).isoformat(timespec="seconds"),
        "generated_by": by,
        "filter": doc,
        "platform": {"version": __version__, "profile": settings.GOVSHARE_PROFILE},
        "tree_head": heads["latest"],
        "audit_event": {"action": ACTION, "seq": event.seq},
        "archive_segments": archived,
        "content_sha256": digest,
        "content_sha256_of": 'SHA-256 of the canonical JSON {"files": files} (docs/audit-verifier.md §2)',
        "files": pkg.files,
    }
    with pkg.member("manifest.json") as (sink, _):
        sink.write((json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    pkg.files.pop()  # the manifest does not list itself
    pkg.close()
    return manifest


def _dept(user) -> str:
    return user.department.name if getattr(user, "department_id", None) else ""


def filename(scope: Scope) -> str:
    ref = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in scope.reference)[:40]
    return f"检查导出包-{BODIES[scope.body][:2]}-{ref}-{scope.since:%Y%m%d}-{scope.until:%Y%m%d}.zip"
