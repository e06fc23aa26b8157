"""/mounts/: documents and interfaces behind file- and interface-type catalog entries (R-CAT-16)."""

from django.urls import path

from . import views_mounts as views

app_name = "mounts"

urlpatterns = [
    path("", views.mounts_index, name="index"),
    path("files/<int:file_id>/download", views.download, name="download"),
    path("<str:cls>/<str:seq>/", views.mount_page, name="resource"),
    path("<str:cls>/<str:seq>/files/", views.upload, name="upload"),
    path("<str:cls>/<str:seq>/interfaces/", views.register, name="register"),
]
