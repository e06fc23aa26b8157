"""The CKAN-compatible read API, mounted at /open/api/3/action/ (see opendata.ckan)."""

from django.urls import path

from . import ckan

urlpatterns = [
    path("<str:action>", ckan.action, name="open-ckan-action"),
]
