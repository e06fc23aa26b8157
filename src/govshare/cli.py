"""The `govshare` console script: our own commands first, then every Django management command."""

import os
import sys


def _django(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govshare.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["govshare", *argv])
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else "help"
    if command == "validate-id":
        from govshare.orgs.identifiers import main_validate_id

        return main_validate_id(argv[1:])
    if command == "deadline":
        from govshare.calendar.workdays import main_deadline

        return main_deadline(argv[1:])
    if command in ("help", "-h", "--help"):
        print(
            "govshare — 政务数据共享交换平台\n\n"
            "  govshare demo [--no-serve]      迁移数据库、加载演示城市、启动服务\n"
            "  govshare serve [--port N]       启动服务（granian）与内置定时任务\n"
            "  govshare tick                   执行一次定时任务（到期变更、下线）\n"
            "  govshare deadline --start D (--working-days N | --months N) [--json]\n"
            "  govshare validate-id VALUE [--json]\n"
            "  govshare ingest RESOURCE FILE [--mode upsert|replace] [--accept-valid]\n"
            "  govshare <Django 管理命令>       例如 migrate、createsuperuser、check --deploy"
        )
        return 0
    return _django(argv)


if __name__ == "__main__":
    sys.exit(main())
