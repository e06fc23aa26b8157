from django.urls import path

from . import views

urlpatterns = [
    path("", views.events),
    path("export.csv", views.export, {"fmt": "csv"}),
    path("export.xlsx", views.export, {"fmt": "xlsx"}),
    path("inspection/", views.inspection_page),
]
