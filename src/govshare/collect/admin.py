"""Admin registrations of the collect app."""

from . import admin_elements  # noqa: F401  (importing registers the dictionary admin)
