"""Machine-readable addresses at the portal's root, to be included at /open/ (`path("", include(...))`):
the DCAT-AP catalog, and the CKAN action API also under CKAN's unversioned path /open/api/action/, which
is where the `ckanapi` client and most CKAN tools call by default (CKAN itself answers both)."""

from django.urls import path

from . import ckan, dcat

urlpatterns = [
    path("catalog.jsonld", dcat.catalog_view, name="open-dcat"),
    path("api/action/<str:action>", ckan.action, name="open-ckan-action-unversioned"),
]
