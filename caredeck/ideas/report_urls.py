"""The Ideas Lab reports. Included before caredeck.ideas.urls, whose
`ideas/<str:number>/` would otherwise take `ideas/reports/` for an idea number."""

from django.urls import path

from caredeck.ideas import report_views

urlpatterns = [
    path("ideas/reports/", report_views.idea_reports, name="idea-reports"),
]
