from django.urls import path

from caredeck.web import views

urlpatterns = [
    path("", views.root, name="root"),
    path("home/", views.home, name="home"),
    path("switch-tenant/", views.tenant_switch, name="tenant-switch"),
    path("history/<slug:kind>/<str:object_id>/", views.history, name="history"),
    path("healthz/", views.healthz, name="healthz"),
]
