"""Public browsing pages of the open portal (no login needed)."""

from django.urls import path

from . import views_portal

urlpatterns = [
    path("", views_portal.home, name="open-home"),
    path("datasets/", views_portal.datasets, name="open-datasets"),
    path("datasets/<slug:name>/", views_portal.dataset, name="open-dataset"),
]
