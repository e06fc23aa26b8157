import os

from django.core.management.base import BaseCommand

from govshare.web.scheduler import start_background


class Command(BaseCommand):
    help = "用 granian 启动服务，并在进程内运行定时任务"

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("GOVSHARE_WORKERS", "1")))
        parser.add_argument(
            "--no-scheduler",
            action="store_true",
            help="不在进程内运行定时任务（由外部 cron 调用 govshare tick）",
        )

    def handle(self, *args, host, port, workers, no_scheduler, **options):
        from granian import Granian
        from granian.constants import Interfaces

        if not no_scheduler:
            start_background(float(os.environ.get("GOVSHARE_TICK_SECONDS", "60")))
        self.stdout.write(f"govshare 正在 http://{host}:{port} 提供服务（Ctrl+C 停止）")
        Granian(
            "govshare.wsgi:application",
            address=host,
            port=port,
            interface=Interfaces.WSGI,
            workers=workers,
            blocking_threads=int(os.environ.get("GOVSHARE_THREADS", "4")),
        ).serve()
