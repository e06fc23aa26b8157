"""`govshare audit-inspection --from D --to D [--department X ...] --body B --ref R --out FILE.zip` (R-SEC-16).

The same package as the /audit/inspection/ page, for a server administrator; `--user` names the authority
officer or auditor on whose behalf it is made (recorded as the actor), otherwise the event has no actor
and says it came from the command line.
"""

from django.core.management.base import BaseCommand, CommandError

from govshare.audit import inspection
from govshare.errors import DomainError, ValidationFailed
from govshare.orgs.models import User


class Command(BaseCommand):
    help = "生成检查导出包（网信、保密、国家安全、审计检查）：审计事件、授权、应用系统与凭证、安全记录及清单"

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="since", required=True, help="起始日期 YYYY-MM-DD（含）")
        parser.add_argument("--to", dest="until", required=True, help="截止日期 YYYY-MM-DD（含）")
        parser.add_argument(
            "--department",
            action="append",
            default=[],
            help="部门（编号、名称、简称或统一社会信用代码），可重复；不给即全部部门",
        )
        parser.add_argument(
            "--body",
            required=True,
            help="检查机关：cac/网信、secrecy/保密、national_security/国家安全、audit/审计、other/其他",
        )
        parser.add_argument("--ref", required=True, help="检查通知书文号或检查编号")
        parser.add_argument("--out", required=True, help="输出的 ZIP 文件")
        parser.add_argument("--user", help="代为生成的数据主管部门或审计人员的用户名（记为操作人）")

    def handle(self, *args, since, until, department, body, ref, out, user=None, **opts):
        actor = None
        if user:
            actor = User.objects.filter(username=user).first()
            if actor is None:
                raise CommandError(f"没有用户“{user}”")
            if not inspection.may_export(actor):
                raise CommandError(f"“{user}”不是数据主管部门或审计人员，不能生成检查导出包")
        try:
            scope = inspection.make_scope(since, until, department, body, ref)
            with open(out, "wb") as fh:
                manifest = inspection.build(fh, scope, user=actor)
        except ValidationFailed as exc:
            raise CommandError("；".join(e["message"] for e in exc.errors)) from exc
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        rows = {f["name"]: f.get("rows") for f in manifest["files"]}
        self.stdout.write(
            f"已生成 {out}：{len(manifest['files']) + 1} 个文件，审计事件 {rows['audit/events.csv']} 条、"
            f"授权 {rows['grants/grants.csv']} 项；本次导出为第 {manifest['audit_event']['seq']} 号审计事件"
        )
