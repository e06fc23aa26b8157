from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="sharing"),
    path("apply/<str:cls>/<str:seq>/", views.apply),
    path("applications/", views.applications),
    path("applications/<int:pk>/", views.application_page),
    path("applications/<int:pk>/letter/", views.application_letter),
    path("applications/<int:pk>/withdraw/", views.withdraw),
    path("applications/<int:pk>/prereview/", views.prereview),
    path("applications/<int:pk>/decide/", views.decide),
    path("applications/<int:pk>/refuse/", views.refuse),
    path("applications/<int:pk>/negotiate/", views.negotiate_refused),
    path("inbox/", views.inbox),
    path("grants/", views.grants),
    path("grants/<int:pk>/", views.grant_page),
    path("grants/<int:pk>/usage/", views.usage_page),
    path("grants/<int:pk>/usage.csv", views.usage_download, {"fmt": "csv"}),
    path("grants/<int:pk>/usage.xlsx", views.usage_download, {"fmt": "xlsx"}),
    path("grants/<int:pk>/<str:action>/", views.grant_action),
    path("cases/", views.cases),
    path("cases/<int:pk>/", views.case_page),
    path("cases/<int:pk>/message/", views.case_message),
    path("cases/<int:pk>/escalate/", views.case_escalate),
    path("cases/<int:pk>/agree/", views.case_agree),
    path("cases/<int:pk>/close/", views.case_close),
]
