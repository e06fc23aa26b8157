"""The providers' opening pages at /open/manage/ (officers only)."""

from django.urls import include, path

from . import views_feedback, views_manage
from .urls_applications import manage_urlpatterns as application_urls

urlpatterns = [
    path("", views_manage.index, name="open-manage"),
    path("applications/", include(application_urls)),  # conditional open applications (R-OPEN-08)
    path("<int:pk>/review/", views_manage.review, name="open-manage-review"),
    path("<int:pk>/withdraw/", views_manage.withdraw, name="open-manage-withdraw"),
    path("objections/", views_feedback.manage_objections, name="open-manage-objections"),
    path("objections/<int:pk>/", views_feedback.manage_objection, name="open-manage-objection"),
    path("corrections/", views_feedback.manage_corrections, name="open-manage-corrections"),
    path("corrections/<int:pk>/", views_feedback.manage_correction, name="open-manage-correction"),
    path("feedback/", views_feedback.manage_feedback, name="open-manage-feedback"),
    path("feedback/summary/", views_feedback.summary, name="open-manage-feedback-summary"),
]
