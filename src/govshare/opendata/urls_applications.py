"""Conditional open applications (R-OPEN-08/09/15): `urlpatterns` for the applicant (included from
urls_public at /open/), `manage_urlpatterns` for the provider (included from urls_manage at
/open/manage/applications/)."""

from django.urls import path

from . import views_applications as views

urlpatterns = [
    path("datasets/<slug:name>/apply/", views.apply, name="open-apply"),
    path("account/applications/<int:pk>/", views.mine, name="open-application"),
    path("account/applications/<int:pk>/agreement/", views.accept_agreement, name="open-agreement-accept"),
    path("account/applications/<int:pk>/withdraw/", views.withdraw, name="open-application-withdraw"),
]

manage_urlpatterns = [
    path("", views.inbox, name="open-manage-applications"),
    path("<int:pk>/", views.manage, name="open-manage-application"),
    path("<int:pk>/approve/", views.approve, name="open-manage-application-approve"),
    path("<int:pk>/refuse/", views.refuse, name="open-manage-application-refuse"),
    path("<int:pk>/revoke/", views.revoke, name="open-manage-application-revoke"),
    path("<int:pk>/extend/", views.extend, name="open-manage-application-extend"),
    path(
        "<int:pk>/extensions/<int:rid>/approve/",
        views.approve_extension,
        name="open-manage-application-extension-approve",
    ),
    path(
        "<int:pk>/extensions/<int:rid>/refuse/",
        views.refuse_extension,
        name="open-manage-application-extension-refuse",
    ),
]
