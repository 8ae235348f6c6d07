from django.urls import path

from caredeck.maintenance import views

# `<str:number>` is always a window's public number (MNT-000042).
urlpatterns = [
    path("maintenance/", views.maintenance_list, name="maintenance-list"),
    path("maintenance/new/", views.maintenance_new, name="maintenance-new"),
    path("maintenance/<str:number>.ics", views.maintenance_ics, name="maintenance-ics"),
    path("maintenance/<str:number>/", views.maintenance_detail, name="maintenance-detail"),
    path(
        "maintenance/<str:number>/reschedule/",
        views.maintenance_reschedule,
        name="maintenance-reschedule",
    ),
    path("maintenance/<str:number>/scope/", views.maintenance_scope, name="maintenance-scope"),
    path("maintenance/<str:number>/start/", views.maintenance_start, name="maintenance-start"),
    path(
        "maintenance/<str:number>/complete/",
        views.maintenance_complete,
        name="maintenance-complete",
    ),
    path(
        "maintenance/<str:number>/cancel/", views.maintenance_cancel, name="maintenance-cancel"
    ),
]
