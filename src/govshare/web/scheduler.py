"""The periodic work every instance needs, and an in-process loop so the embedded default needs no cron."""

import logging
import threading

from django.db import close_old_connections

log = logging.getLogger(__name__)


def run_tick() -> dict:
    from govshare.catalog.services import apply_due_changes

    return {"catalog": apply_due_changes()}


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
