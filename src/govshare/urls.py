from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from govshare.api import api
from govshare.catalog import views as catalog
from govshare.web import views as web

urlpatterns = [
    path("healthz", web.healthz),
    path("admin/", admin.site.urls),
    path("login/", include("govshare.security.urls_login")),  # password, then the second factor
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", web.home, name="home"),
    path("inbox/", web.inbox, name="inbox"),
    path("inbox/read/", web.inbox_mark_read),
    path("notifications/", include("govshare.notifications.urls")),
    path("api/v1/", api.urls),
    path("obligations/", include("govshare.supervision.urls")),
    path("catalog/", catalog.catalog_search, name="catalog"),
    path("catalog/new/", catalog.resource_new),
    path("catalog/review/", catalog.review_queue),
    path("catalog/export.xlsx", catalog.export_xlsx),
    path("catalog/import/", catalog.import_xlsx),
    path("catalog/resources/<str:cls>/<str:seq>/", catalog.resource_page),
    path("catalog/resources/<str:cls>/<str:seq>/change/", catalog.resource_change),
    path("catalog/resources/<str:cls>/<str:seq>/retire/", catalog.resource_retire),
    path("catalog/revisions/<int:rev_id>/", catalog.revision_page),
    path("catalog/revisions/<int:rev_id>/edit/", catalog.revision_edit),
    path("catalog/revisions/<int:rev_id>/submit/", catalog.revision_submit),
    path("catalog/revisions/<int:rev_id>/return/", catalog.revision_return),
    path("catalog/revisions/<int:rev_id>/publish/", catalog.revision_publish),
    path("catalog/revisions/<int:rev_id>/withdraw/", catalog.revision_withdraw),
    path("lists/demands/", catalog.demands),
    path("lists/demands/<int:demand_id>/supply/", catalog.demand_supply),
    path("lists/gaps/", catalog.gaps),
    path("lists/negative/", catalog.negative),
    path("lists/negative/<int:entry_id>/review/", catalog.negative_review),
    path("lists/responsibilities/", catalog.responsibilities),
    path("settings/", include("govshare.calendar.urls")),
    path("collect/", include("govshare.collect.urls")),
    path("mounts/", include("govshare.collect.urls_mounts")),
    path("elements/", include("govshare.collect.urls_elements")),
    path("quality/", include("govshare.collect.urls_quality")),
    path("clients/", include("govshare.clients.urls")),
    path("sharing/", include("govshare.sharing.urls")),
    path("corrections/", include("govshare.corrections.urls")),
    path("open/", include("govshare.opendata.urls")),
    path("security/", include("govshare.security.urls")),
    path("audit/", include("govshare.audit.urls")),
]
