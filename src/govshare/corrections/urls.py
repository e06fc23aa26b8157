from django.urls import path

from . import views

urlpatterns = [
    path("", views.tickets, name="corrections"),
    path("new/", views.new),
    path("<int:pk>/", views.ticket_page),
    path("<int:pk>/accept/", views.accept),
    path("<int:pk>/dispatch/", views.dispatch),
    path("<int:pk>/decide/", views.decide),
    path("<int:pk>/close/", views.close),
    path("<int:pk>/extend/", views.extend),
    path("<int:pk>/extensions/<int:rid>/approve/", views.approve_extension),
    path("<int:pk>/extensions/<int:rid>/refuse/", views.refuse_extension),
    path("<int:pk>/withdraw/", views.withdraw),
    path("<int:pk>/evidence/<int:eid>/", views.evidence_download),
]
