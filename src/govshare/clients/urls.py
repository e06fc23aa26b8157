from django.urls import path

from . import views

urlpatterns = [
    path("", views.system_list, name="clients"),
    path("<int:system_id>/", views.system_page),
    path("<int:system_id>/disable/", views.system_disable),
    path("<int:system_id>/enable/", views.system_enable),
    path("<int:system_id>/credentials/", views.credential_issue),
    path("credentials/<int:credential_id>/rotate/", views.credential_rotate),
    path("credentials/<int:credential_id>/revoke/", views.credential_revoke),
]
