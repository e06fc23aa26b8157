from django.core.management.base import BaseCommand

from govshare.web.scheduler import run_tick


class Command(BaseCommand):
    help = "执行一次定时任务：到期的目录变更与下线（以及后续的提醒、逾期标记）"

    def handle(self, *args, **options):
        for name, result in run_tick().items():
            self.stdout.write(f"{name}: {result}")
