"""`govshare reseal [RESOURCE ...] [--all]`: rewrite stored records to the current flags and active key.

Run it after adding a new key in front of GOVSHARE_FIELD_KEY (rotation); a catalog version that changes
an item's 敏感 mark queues the same work by itself.
"""

from django.core.management.base import BaseCommand, CommandError

from govshare.catalog.models import Resource
from govshare.collect.reseal import reseal
from govshare.security.fieldcrypt import FieldKeyError, SealedValueError


class Command(BaseCommand):
    help = "按当前敏感标记和启用密钥重新加密已归集的记录（密钥轮换后运行）"

    def add_arguments(self, parser):
        parser.add_argument("resources", nargs="*", help="资源代码，如 301/000001")
        parser.add_argument("--all", action="store_true", help="所有含敏感信息项的资源")

    def handle(self, *args, resources, all, **opts):
        if all:
            qs = Resource.objects.filter(items__is_sensitive=True).distinct()
        elif resources:
            qs = Resource.objects.filter(code__in=resources)
            missing = set(resources) - set(qs.values_list("code", flat=True))
            if missing:
                raise CommandError(f"资源不存在：{'、'.join(sorted(missing))}")
        else:
            raise CommandError("请给出资源代码，或用 --all")
        for resource in qs.order_by("code"):
            try:
                counts = reseal(resource)
            except (FieldKeyError, SealedValueError) as exc:
                raise CommandError(f"{resource.code}：{exc}") from exc
            self.stdout.write(
                f"{resource.code} {resource.name}：记录 {counts['records']} 条、历史值 {counts['history']} 条已重新加密"
                f"（主键改写 {counts['rekeyed']} 条）"
            )
