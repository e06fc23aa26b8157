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
def _calendar(version: int) -> WorkCalendar:
    from .models import HolidayOverride

    overrides = [(o.date, o.kind, o.name) for o in HolidayOverride.objects.all()]
    return WorkCalendar(overrides=overrides)


_version = 0


def work_calendar() -> WorkCalendar:
    return _calendar(_version)


def overrides_changed() -> None:
    """Call after loading holiday overrides so the next computation sees them."""
    global _version
    _version += 1
