from django.core.management import call_command
from django.core.management.base import BaseCommand

from govshare.web.demo import DEMO_PASSWORD, load_demo
from govshare.web.demo_sharing import demo_credential


class Command(BaseCommand):
    help = "迁移数据库、加载演示城市（可重复执行，不会重复创建），打印演示账号并启动服务"

    def add_arguments(self, parser):
        parser.add_argument("--no-serve", action="store_true")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, no_serve, host, port, **options):
        call_command("migrate", interactive=False, verbosity=0)
        summary = load_demo()
        self.stdout.write(self.style.SUCCESS(summary["message"]))
        self.stdout.write(f"\n演示账号（密码均为 {DEMO_PASSWORD}）：")
        for account in summary["accounts"]:
            self.stdout.write(f"  {account['username']:<12} {account['role']:<16} {account['department']}")
        issued = demo_credential()
        if issued:
            name, token, example = issued
            self.stdout.write(f"\n演示应用系统“{name}”的凭证（仅显示这一次，30 天有效）：\n  {token}")
            self.stdout.write(
                f'  试一试：curl -H "Authorization: Bearer {token}" "http://{host}:{port}{example}"'
            )
        if not no_serve:
            call_command("serve", host=host, port=port)
