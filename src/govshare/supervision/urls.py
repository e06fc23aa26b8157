from django.urls import path

from . import views

urlpatterns = [
    path("", views.my_obligations),
    path("trigger/", views.record_trigger),
    path("<int:ob_id>/extend/", views.extend),
    path("filings/", views.filings),
    path("all/", views.supervision),
]
