"""``govshare holidays import FILE [--source TEXT]`` · ``govshare holidays list [--year Y]`` ·
``govshare holidays delete --year Y`` — the holiday override table (docs/calendar.md §3)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from govshare.calendar import policy, services
from govshare.calendar.models import HolidayOverride
from govshare.calendar.workdays import FIRST_YEAR, LAST_YEAR
from govshare.errors import DomainError, ValidationFailed

WEEKDAYS = "一二三四五六日"


def _year(text: str) -> int:
    try:
        year = int(text)
    except ValueError:
        raise CommandError(f"年份无效：{text!r}", returncode=2) from None
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise CommandError(f"年份应在 {FIRST_YEAR}–{LAST_YEAR} 之间：{year}", returncode=2)
    return year


class Command(BaseCommand):
    help = "节假日调整表（国务院部分节假日安排、本地更正）：导入、查看、删除"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{import,list,delete}")
        imp = sub.add_parser("import", help="导入节假日调整文件（UTF-8 CSV，表头 date,kind,name）")
        imp.add_argument("file", help="文件路径")
        imp.add_argument("--source", default="", help="来源说明，如通知文号；默认为文件名")
        lst = sub.add_parser("list", help="列出已导入的调整及各年数据来源")
        lst.add_argument("--year", help="只看某一年")
        rm = sub.add_parser("delete", help="删除某一年的全部已导入调整")
        rm.add_argument("--year", required=True, help="年份")

    def handle(self, *args, **options):
        action = options["action"]
        if action == "import":
            return self._import(options["file"], options["source"])
        if action == "list":
            return self._list(_year(options["year"]) if options.get("year") else None)
        return self._delete(_year(options["year"]))

    def _import(self, file: str, source: str):
        path = Path(file)
        try:
            data = path.read_bytes()
        except OSError as e:
            raise CommandError(f"无法读取文件 {file}：{e.strerror or e}", returncode=2) from None
        try:
            result = services.import_overrides(services.decode_file(data), source or path.name)
        except ValidationFailed as e:
            lines = "\n".join(f"  {err['label']}：{err['message']}" for err in e.errors)
            raise CommandError(f"{file}：{e.message}\n{lines}", returncode=2) from None
        except DomainError as e:
            raise CommandError(e.message, returncode=1) from None
        cal = policy.work_calendar()
        years = "、".join(f"{y}年（{services.SOURCE_LABELS[cal.year_source(y)]}）" for y in result["years"])
        self.stdout.write(
            f"已导入 {file}：新增 {result['created']} 条，更新 {result['updated']} 条，"
            f"未变 {result['unchanged']} 条；涉及 {years}；重新计算临时时限 {result['recomputed']} 项"
        )
        if any(cal.year_source(y) == "computed" for y in result["years"]):
            self.stdout.write(
                "提示：标为“推算·临时”的年份尚未列全《全国年节及纪念日放假办法》第二条的法定节假日，"
                "该年的时限仍为暂定（见 docs/calendar.md §1）"
            )

    def _list(self, year: int | None):
        rows = HolidayOverride.objects.all()
        if year is not None:
            rows = rows.filter(date__year=year)
        rows = list(rows)
        cal = policy.work_calendar()
        years = [year] if year is not None else sorted({o.date.year for o in rows})
        if not years:
            self.stdout.write("尚未导入任何节假日调整")
            return
        for y in years:
            mine = [o for o in rows if o.date.year == y]
            self.stdout.write(
                f"{y}年 · 数据来源：{services.SOURCE_LABELS[cal.year_source(y)]} · 已导入 {len(mine)} 条"
            )
            for o in mine:
                self.stdout.write(
                    f"  {o.date.isoformat()} 周{WEEKDAYS[o.date.weekday()]} {o.kind:<7} "
                    f"{o.get_kind_display()} {o.name or '—'}  来源：{o.source or '—'}"
                )

    def _delete(self, year: int):
        result = services.delete_year(year)
        source = services.SOURCE_LABELS[policy.work_calendar().year_source(year)]
        self.stdout.write(
            f"已删除 {year} 年的 {result['deleted']} 条调整；该年现为：{source}；"
            f"重新计算临时时限 {result['recomputed']} 项"
        )
