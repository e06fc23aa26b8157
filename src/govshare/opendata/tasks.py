"""Background work of open data: writing a version's files (see services.build)."""

from __future__ import annotations

from django_tasks import task


@task()
def build_version(version_id: int) -> str:
    from . import services

    return services.build(version_id)
