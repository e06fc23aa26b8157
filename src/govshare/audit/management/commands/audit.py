"""`govshare audit verify|seal|archive|receipt SEQ|consistency OLD NEW|rotate-key|keys [--export FILE]`."""

import argparse
import datetime as dt
import json
import os
import time

from django.core.management.base import BaseCommand, CommandError

from govshare import dates
from govshare.audit import keys, services
from govshare.errors import DomainError


def _date(value: str) -> dt.date:
    try:
        return dates.parse_day(value, required=True)
    except dates.BadDay as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


class Command(BaseCommand):
    help = "审计留痕：校验、封存、归档、回执、一致性证明、密钥轮换"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="sub", required=True)
        v = sub.add_parser("verify", help="从事件重算默克尔树并校验每个签名树头")
        v.add_argument("--keys", help="受信任的公钥文件 keys.json（默认：密钥目录中的公钥）")
        v.add_argument(
            "--workers",
            type=int,
            default=min(2, os.cpu_count() or 1),
            help="重算叶子哈希的进程数（默认：CPU 核数，至多 2）",
        )
        v.add_argument(
            "--skip-archived", action="store_true", help="不读取归档段文件（报告未重新核对的事件数）"
        )
        a = sub.add_parser("archive", help="把超过保存期限且已封存的事件移入归档段文件")
        a.add_argument(
            "--before",
            type=_date,
            help="归档此日期（YYYY-MM-DD，本地时间）之前发生的事件；默认取保存期限允许的最晚日期",
        )
        a.add_argument("--dry-run", action="store_true", help="只报告将归档的事件，不做改动")
        s = sub.add_parser("seal", help="把未封存的事件加入默克尔树并签名树头")
        s.add_argument("--batch", type=int, default=10_000)
        r = sub.add_parser("receipt", help="输出某事件的回执 JSON")
        r.add_argument("seq", type=int)
        c = sub.add_parser("consistency", help="输出两个树头之间的一致性证明 JSON")
        c.add_argument("old_size", type=int)
        c.add_argument("new_size", type=int)
        sub.add_parser(
            "rotate-key", help="按 GOVSHARE_AUDIT_SIGNATURE 生成新的签名密钥（旧公钥保留在 keyring.json）"
        )
        k = sub.add_parser("keys", help="输出公钥环 keys.json")
        k.add_argument("--export", metavar="FILE", help="写入文件而非标准输出")

    def handle(self, *args, sub, **opts):
        try:
            return getattr(self, "_" + sub.replace("-", "_"))(**opts)
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    def _json(self, doc):
        self.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2))

    def _verify(self, keys=None, workers=1, skip_archived=False, **_):
        from govshare.audit import merkle

        trusted = None
        if keys:
            with open(keys, encoding="utf-8") as fh:
                trusted = merkle.load_keyring(json.load(fh))
        t0 = time.perf_counter()
        rep = services.verify(trusted, workers=workers, skip_archived=skip_archived)
        took = time.perf_counter() - t0
        if not rep.ok:
            for e in rep.errors[1:20]:
                self.stderr.write("  " + e)
            if len(rep.errors) > 20:
                self.stderr.write(f"  …… 共 {len(rep.errors)} 处问题")
            raise CommandError(f"审计日志校验失败：{rep.errors[0]}")
        self.stdout.write(
            f"审计日志完整：{rep.leaves} 个事件、{rep.heads} 个签名树头全部校验通过（{took:.2f} 秒）"
        )
        if rep.not_rechecked:
            self.stdout.write(
                f"注意：{rep.not_rechecked} 个已归档事件未按归档文件重新核对（--skip-archived），"
                "仅核对了其封存的叶子哈希与签名树头"
            )
        elif rep.archived:
            self.stdout.write(f"其中 {rep.archived} 个已归档事件按归档段文件重新核对")

    def _archive(self, before=None, dry_run=False, **_):
        from govshare.audit import archive

        try:
            out = archive.archive(before, dry_run=dry_run)
        except DomainError as exc:
            raise CommandError(f"{exc.message} [{exc.code}]") from exc
        if dry_run:
            if out["events"]:
                self.stdout.write(
                    f"将归档 {out['events']} 个事件（第 {out['first_seq']}–{out['last_seq']} 号，"
                    f"{out['cutoff']} 之前发生；保存期限 {out['retention_months']} 个月，{out['basis']}）；未做改动"
                )
            else:
                self.stdout.write(f"没有可归档的事件（截止 {out['cutoff']}）；未做改动")
            return
        if not out["segments"]:
            self.stdout.write(f"没有可归档的事件（截止 {out['cutoff']}）")
            return
        self.stdout.write(
            f"已归档 {out['events']} 个事件（第 {out['first_seq']}–{out['last_seq']} 号）到 {out['segments']} 个归档段："
            + "、".join(out["files"])
        )

    def _seal(self, batch=10_000, **_):
        out = services.seal_pending(batch)
        self.stdout.write(
            f"封存 {out['sealed']} 个事件，新签名树头 {out['heads']} 个，日志规模 {out['tree_size']}"
        )

    def _receipt(self, seq, **_):
        self._json(services.receipt(seq))

    def _consistency(self, old_size, new_size, **_):
        self._json(services.consistency(old_size, new_size))

    def _rotate_key(self, **_):
        signer = keys.create_key()
        self.stdout.write(
            f"新签名密钥已启用：{signer.algorithm} {signer.key_id}（旧公钥仍保留于 keyring.json）"
        )

    def _keys(self, export=None, **_):
        doc = keys.keyring()
        if export:
            with open(export, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, ensure_ascii=False, indent=2)
                fh.write("\n")
            self.stdout.write(f"已导出 {len(doc['keys'])} 个公钥到 {export}")
        else:
            self._json(doc)
