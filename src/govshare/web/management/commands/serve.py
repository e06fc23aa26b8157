import os
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from govshare.web.scheduler import start_background


class Command(BaseCommand):
    help = "用 granian 启动服务，并在进程内运行定时任务"

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("GOVSHARE_WORKERS", "1")))
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="不启动后台任务进程（由外部运行 govshare db_worker）",
        )
        parser.add_argument(
            "--no-scheduler",
            action="store_true",
            help="不在进程内运行定时任务（由外部 cron 调用 govshare tick）",
        )

    def handle(self, *args, host, port, workers, no_scheduler, no_worker, **options):
        from granian import Granian
        from granian.constants import Interfaces

        worker = None if no_worker else start_worker()
        if not no_scheduler:
            start_background(float(os.environ.get("GOVSHARE_TICK_SECONDS", "60")))
        self.stdout.write(f"govshare 正在 http://{host}:{port} 提供服务（Ctrl+C 停止）")
        try:
            Granian(
                "govshare.wsgi:application",
                address=host,
                port=port,
                interface=Interfaces.WSGI,
                workers=workers,
                blocking_threads=int(os.environ.get("GOVSHARE_THREADS", "4")),
            ).serve()
        finally:
            stop_worker(worker)


def start_worker() -> subprocess.Popen | None:
    """The database task queue's worker (exports) as a child process, when tasks are queued at all."""
    backend = settings.TASKS.get("default", {}).get("BACKEND", "")
    if not backend.startswith("django_tasks_db."):
        return None  # GOVSHARE_TASKS=immediate: tasks run inside the request
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "govshare.settings"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "govshare.cli", "db_worker", "--queue-name", "*", "--no-reload"],
        env=env,
    )


def stop_worker(worker: subprocess.Popen | None) -> None:
    """Ask the worker to finish its current task, then insist."""
    if worker is None or worker.poll() is not None:
        return
    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
