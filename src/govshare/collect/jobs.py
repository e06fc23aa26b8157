"""Uploads from the web page run beside the request, so the page can show live progress.

The embedded default needs no worker process: a daemon thread with its own database connection runs
the load and writes progress into the batch row, which the page polls. Tests (and deployments that
prefer it) set `GOVSHARE_COLLECT_INLINE` to run the load inside the request instead. The JSON API and
the CLI always run synchronously and return the finished batch.
"""

from __future__ import annotations

import logging
import threading
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection

log = logging.getLogger(__name__)


def upload_dir() -> Path:
    d = Path(settings.VAR_DIR) / "uploads"
    d.mkdir(parents=True, exist_ok=True)
    return d


def save_upload(uploaded) -> Path:
    path = upload_dir() / f"{uuid.uuid4().hex}.upload"
    with path.open("wb") as out:
        for chunk in uploaded.chunks():
            out.write(chunk)
    return path


def start(batch_id: int, path: Path, filename: str, options: dict) -> None:
    if getattr(settings, "GOVSHARE_COLLECT_INLINE", False):
        run(batch_id, path, filename, options)
        return
    threading.Thread(
        target=_thread_main, args=(batch_id, path, filename, options), name=f"collect-{batch_id}", daemon=True
    ).start()


def _thread_main(batch_id, path, filename, options) -> None:
    try:
        run(batch_id, path, filename, options)
    finally:
        # The thread ends here: its connection would otherwise outlive it (connections persist, CONN_MAX_AGE).
        connection.close()


def run(batch_id: int, path: Path, filename: str, options: dict) -> None:
    from govshare.collect import services
    from govshare.collect.models import Batch
    from govshare.errors import DomainError

    batch = Batch.objects.select_related("resource", "actor").get(pk=batch_id)
    try:
        with path.open("rb") as f:
            services.load_file(batch.resource, f, filename, actor=batch.actor, batch=batch, **options)
    except DomainError:
        pass  # load() has recorded the refusal on the batch
    except Exception:
        log.exception("upload batch %s failed", batch_id)
    finally:
        path.unlink(missing_ok=True)
