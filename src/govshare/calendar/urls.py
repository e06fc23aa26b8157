"""/settings/… — working-day calendar and policy profile pages (authority and operator only)."""

from django.urls import path

from . import views

urlpatterns = [
    path("calendar/", views.calendar_page, name="settings-calendar"),
    path("calendar/<int:year>/delete/", views.calendar_delete_year, name="settings-calendar-delete"),
    path("profile/", views.profile_page, name="settings-profile"),
]
