from django.urls import path

from caredeck.status import views
from caredeck.status.feeds import TenantStatusFeed

urlpatterns = [
    path("status/", views.status_page, name="status"),
    path("status/feed/renew/", views.status_feed_renew, name="status-feed-renew"),
    # Public: feed readers cannot sign in; the token names the tenant (404 otherwise).
    path("status/feed/<slug:token>.atom", TenantStatusFeed(), name="status-feed"),
    # Public when CAREDECK_PUBLIC_STATUS is on (the default); 404 when it is off.
    path("public-status/", views.public_status_page, name="public-status"),
    path("reports/promises/", views.promise_report, name="report-promises"),
    path("reports/sla/", views.sla_report_page, name="report-sla"),
]
