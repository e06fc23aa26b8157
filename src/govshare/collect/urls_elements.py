from django.urls import path

from . import views_elements as views

urlpatterns = [
    path("", views.element_list),
    path("bind/", views.bind),
    path("sources/<int:source_id>/unbind/", views.unbind),
    path("sources/<int:source_id>/override/", views.override),
    path("pending/", views.pending),
    path("cases/", views.cases),
    path("cases/<int:case_id>/resolve/", views.case_resolve),
    path("cases/<int:case_id>/escalate/", views.case_escalate),
]
