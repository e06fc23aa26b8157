"""The periodic work every instance needs, and an in-process loop so the embedded default needs no cron."""

import logging
import threading

from django.db import close_old_connections

log = logging.getLogger(__name__)


def run_tick() -> dict:
    from govshare.audit.archive import archive_due
    from govshare.audit.services import seal_pending
    from govshare.catalog.services import apply_due_changes
    from govshare.collect.quality import check_freshness
    from govshare.collect.services import mark_interrupted
    from govshare.notifications.webhooks import deliver_due_webhooks
    from govshare.opendata.services import publish_new_data
    from govshare.sharing.exports import purge_expired
    from govshare.sharing.services import notify_expired_grants
    from govshare.supervision.services import check_due, ensure_periodic

    return {
        "catalog": apply_due_changes(),
        "periodic": ensure_periodic(),
        "deadlines": check_due(),
        "webhooks": deliver_due_webhooks(),
        "audit": seal_pending(),
        "audit_archive": archive_due(),  # only with GOVSHARE_AUDIT_ARCHIVE_AUTO=1 (R-SEC-06)
        "quality": check_freshness(),
        "interrupted_loads": mark_interrupted(),
        "expired_grants": notify_expired_grants(),
        "expired_exports": purge_expired(),
        "open_versions": publish_new_data(),
    }


def start_background(interval_seconds: float = 60.0) -> threading.Event:
    """Run `run_tick` every interval in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()

    def loop():
        while not stop.wait(interval_seconds):
            try:
                run_tick()
            except Exception:  # keep the loop alive; the failure is logged and retried next round
                log.exception("periodic tick failed")
            finally:
                close_old_connections()

    threading.Thread(target=loop, name="govshare-tick", daemon=True).start()
    return stop
