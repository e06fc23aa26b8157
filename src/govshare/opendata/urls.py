"""The open portal at /open/: public pages, accounts and downloads, the providers' opening pages, and the
CKAN-compatible API and DCAT catalog that harvesters and the ckanapi client read."""

from django.urls import include, path

urlpatterns = [
    path("api/3/action/", include("govshare.opendata.urls_ckan")),
    path("", include("govshare.opendata.urls_dcat")),  # /open/catalog.jsonld, /open/api/action/<action>
    path("manage/", include("govshare.opendata.urls_manage")),
    path("", include("govshare.opendata.urls_public")),
    path("", include("govshare.opendata.urls_portal")),
]
