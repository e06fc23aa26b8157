"""The running instance's policy profile and working-day calendar, as the Django layer sees them."""

from functools import lru_cache

from django.conf import settings

from .profiles import load_profile
from .workdays import WorkCalendar


def active_profile():
    return load_profile(settings.GOVSHARE_PROFILE)


def profile_value(key: str):
    return active_profile().value(key)


@lru_cache(maxsize=1)
def _calendar(key) -> WorkCalendar:
    from .models import HolidayOverride

    overrides = [(o.date, o.kind, o.name) for o in HolidayOverride.objects.all()]
    return WorkCalendar(overrides=overrides)


_version = 0


def work_calendar() -> WorkCalendar:
    """The calendar with the loaded overrides. Keyed on the table's state, so an import made by the
    CLI or another worker process is seen here on the next computation without a restart."""
    from django.db.models import Count, Max

    from .models import HolidayOverride

    state = HolidayOverride.objects.aggregate(n=Count("id"), latest=Max("loaded_at"))
    return _calendar((state["n"], state["latest"], _version))


def overrides_changed() -> None:
    """Call after loading holiday overrides so the next computation sees them."""
    global _version
    _version += 1
