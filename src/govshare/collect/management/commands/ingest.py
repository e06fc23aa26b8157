"""`govshare ingest RESOURCE FILE [--mode upsert|replace] [--accept-valid]`: load a file from the shell."""

import sys
import time

from django.core.management.base import BaseCommand, CommandError

from govshare.catalog.models import Resource
from govshare.collect import services
from govshare.collect.models import BatchSource, BatchStatus
from govshare.errors import DomainError


class Progress:
    """One status line on stderr, redrawn at most a few times a second."""

    def __init__(self, stream, quiet: bool):
        self.stream, self.quiet = stream, quiet
        self.t0 = time.perf_counter()
        self.last = 0.0

    def __call__(self, rows: int) -> None:
        now = time.perf_counter()
        if self.quiet or now - self.last < 0.25:
            return
        self.last = now
        rate = rows / max(now - self.t0, 1e-9)
        self.stream.write(f"\r已校验 {rows:,} 行  {rate:,.0f} 行/秒 ")
        self.stream.flush()


class Command(BaseCommand):
    help = "把 CSV（UTF-8/GBK/GB18030）、xlsx 或 JSON Lines 文件归集到已发布的库表资源"

    def add_arguments(self, parser):
        parser.add_argument("resource", help="资源代码，如 301/12")
        parser.add_argument("file")
        parser.add_argument("--mode", choices=["upsert", "replace"], default="upsert")
        parser.add_argument("--accept-valid", action="store_true", help="有效行入库，问题行隔离")
        parser.add_argument("--encoding", help="指定字符编码（默认自动识别）")
        parser.add_argument("--idempotency-key", default="")
        parser.add_argument("--user", help="以该数据专员身份归集（默认：服务器命令行）")
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args, **o):
        resource = Resource.objects.filter(code=o["resource"]).first()
        if resource is None:
            raise CommandError(f"资源 {o['resource']} 不存在")
        actor = None
        if o["user"]:
            from govshare.orgs.models import User

            actor = User.objects.filter(username=o["user"], is_active=True).first()
            if actor is None:
                raise CommandError(f"用户 {o['user']} 不存在或已停用")
        progress = Progress(sys.stderr, o["quiet"])
        t0 = time.perf_counter()
        try:
            with open(o["file"], "rb") as f:
                outcome = services.load_file(
                    resource,
                    f,
                    o["file"].rsplit("/", 1)[-1],
                    encoding=o["encoding"],
                    actor=actor,
                    source=BatchSource.CLI,
                    mode=o["mode"],
                    accept_valid=o["accept_valid"],
                    idempotency_key=o["idempotency_key"],
                    progress=progress,
                )
        except DomainError as exc:
            raise CommandError(f"{exc.message}（{exc.code}）") from exc
        except OSError as exc:
            raise CommandError(f"无法读取文件：{exc}") from exc
        elapsed = time.perf_counter() - t0
        b = outcome.batch
        if not o["quiet"]:
            sys.stderr.write("\n")
        rate = b.rows_total / elapsed if elapsed else 0
        self.stdout.write(
            f"批次 {b.pk}：{b.get_status_display()}{'（重复提交，未再写入）' if outcome.replayed else ''}\n"
            f"  {b.rows_total:,} 行，用时 {elapsed:.1f} 秒，{rate:,.0f} 行/秒"
            f"{'，编码 ' + b.encoding if b.encoding else ''}\n  {b.message}"
        )
        if b.seq_to:
            self.stdout.write(f"  变更序号 {b.seq_from}–{b.seq_to}")
        if b.status == BatchStatus.REJECTED or b.rows_rejected:
            for e in b.errors.all()[:20]:
                self.stdout.write(f"  第 {e.row} 行 {e.item_name}：{e.message}（{e.value}）")
            if b.error_count > 20:
                self.stdout.write(f"  …共 {b.error_count} 处问题，完整报告：/collect/batches/{b.pk}/")
        if b.status in (BatchStatus.REJECTED, BatchStatus.FAILED):
            sys.exit(1)
