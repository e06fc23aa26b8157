"""Public accounts, identity check, terms of use and downloads (mounted at /open/)."""

from django.urls import include, path

from . import views_feedback, views_public

urlpatterns = [
    path("register/", views_public.register, name="open-register"),
    path("account/", views_public.account, name="open-account"),
    path("account/identity/", views_public.identity_check, name="open-identity"),
    path("terms/", views_public.terms, name="open-terms"),
    path(
        "datasets/<slug:name>/download/<int:number>.<str:fmt>",
        views_public.download,
        name="open-download",
    ),
    path("manage-identity/", views_public.manage_identity, name="open-manage-identity"),
    path("", include("govshare.opendata.urls_applications")),  # conditional open applications (R-OPEN-08)
    # objections (CZ 28), open-catalog correction requests (NX 45), feedback (R-OPEN-12)
    path("datasets/<slug:name>/objection/", views_feedback.objection, name="open-objection"),
    path("datasets/<slug:name>/correction/", views_feedback.correction, name="open-correction"),
    path("datasets/<slug:name>/feedback/", views_feedback.feedback, name="open-feedback"),
    path("feedback/", views_feedback.feedback, name="open-portal-feedback"),
    path(
        "objections/<int:pk>/evidence/<int:eid>/",
        views_feedback.evidence,
        name="open-objection-evidence",
    ),
]
