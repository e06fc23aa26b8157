"""Background work of the sharing app, on Django's task framework (the django-tasks backport).

The database backend queues these for `govshare db_worker` (started by `govshare serve`); tests and
GOVSHARE_TASKS=immediate run them inside the call that queues them. Task bodies stay thin: the job row
carries the state, the service module does the work.
"""

from __future__ import annotations

from django_tasks import task


@task()
def run_export(job_id: int, codes: list[str]) -> str:
    """Produce one export file through the gate (R-SHARE-13)."""
    from . import exports

    return exports.run(job_id, codes)
