from django.urls import path

from . import views

app_name = "security"

urlpatterns = [
    path("totp/", views.totp_enroll, name="totp_enroll"),
    path("totp/verify/", views.totp_verify, name="totp_verify"),
    path("totp/disable/", views.totp_disable, name="totp_disable"),
]
