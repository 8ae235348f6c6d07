"""The demo's simulator page: break and mend a region or PoP (provider staff who run
monitoring)."""

from django.urls import path

from caredeck.monitoring import simulator_views as views

urlpatterns = [
    path("monitoring/simulator/", views.simulator_page, name="simulator"),
    path("monitoring/simulator/break/", views.simulator_break, name="simulator-break"),
    path("monitoring/simulator/mend/", views.simulator_mend, name="simulator-mend"),
]
