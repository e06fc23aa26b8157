from django.urls import path

from govshare.collect import views

urlpatterns = [
    path("", views.index, name="collect"),
    path("batches/<int:batch_id>/", views.batch_page),
    path("batches/<int:batch_id>/progress", views.batch_progress),
    path("<str:cls>/<str:seq>/", views.resource_page),
]
