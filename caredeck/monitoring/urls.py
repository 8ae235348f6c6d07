from django.urls import path

from caredeck.monitoring import views

CHECK = "monitoring/checks/<int:check_id>/"

urlpatterns = [
    path("monitoring/", views.check_list, name="check-list"),
    path("monitoring/checks/new/", views.check_new, name="check-new"),
    path(CHECK, views.check_detail, name="check-detail"),
    path(CHECK + "edit/", views.check_edit, name="check-edit"),
    path(CHECK + "pause/", views.check_pause, name="check-pause"),
    path(CHECK + "resume/", views.check_resume, name="check-resume"),
    path(CHECK + "delete/", views.check_delete, name="check-delete"),
    path("monitoring/locations/", views.location_list, name="probe-location-list"),
    path("monitoring/locations/<slug:slug>/rotate-token/", views.location_rotate,
         name="probe-location-rotate"),
]
