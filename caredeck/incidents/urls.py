from django.urls import path

from caredeck.incidents import views

urlpatterns = [
    path("incidents/", views.incident_list, name="incident-list"),
    path("incidents/new/", views.incident_new, name="incident-new"),
    path("incidents/<str:number>/", views.incident_detail, name="incident-detail"),
    path("incidents/<str:number>/clocks/", views.incident_clocks, name="incident-clocks"),
    path("incidents/<str:number>/update/", views.incident_update, name="incident-update"),
    path("incidents/<str:number>/scope/", views.incident_scope, name="incident-scope"),
    path("incidents/<str:number>/tenants/<slug:org>/", views.incident_tenant_text,
         name="incident-tenant-text"),
    path("incidents/<str:number>/findings/", views.incident_findings, name="incident-findings"),
    path("incidents/<str:number>/report/publish/", views.incident_report_publish,
         name="incident-report-publish"),
    path("incidents/<str:number>/close/", views.incident_close, name="incident-close"),
    path("incidents/<str:number>/evidence/", views.incident_evidence, name="incident-evidence"),
    path("incidents/<str:number>/evidence/<str:event_id>/", views.incident_evidence_file,
         name="incident-evidence-file"),
    path("incidents/<str:number>/team/", views.incident_team, name="incident-team"),
]
