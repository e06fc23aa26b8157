"""Mounted at /login/ by the root URLconf: Django's login page plus the second-factor step."""

from django.urls import path

from .views import LoginView

urlpatterns = [path("", LoginView.as_view(), name="login")]
