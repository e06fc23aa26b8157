from django.urls import path

from . import views_quality as views

urlpatterns = [
    path("", views.overview),
    path("departments/<int:dept_id>/", views.department),
    path("resources/<str:cls>/<str:seq>/", views.resource),
]
