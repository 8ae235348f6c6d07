from django.urls import path

from caredeck.cases import report_views

urlpatterns = [
    path("cases/reports/", report_views.case_reports, name="case-reports"),
]
