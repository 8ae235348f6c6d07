from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("api/v1/", include(("caredeck.api_urls", "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("caredeck.accounts.urls")),
    path("", include("caredeck.notify.urls")),
    path("", include("caredeck.topology.urls")),
    path("", include("caredeck.incidents.urls")),
    path("", include("caredeck.problems.urls")),
    path("", include("caredeck.maintenance.urls")),
    path("", include("caredeck.monitoring.urls")),
    path("", include("caredeck.monitoring.simulator_urls")),
    path("", include("caredeck.status.urls")),
    # Before ideas.urls: its "ideas/<str:number>/" would catch "ideas/reports/".
    path("", include("caredeck.ideas.report_urls")),
    path("", include("caredeck.ideas.urls")),
    # Before cases.urls: its "cases/<str:number>/" would catch "cases/reports/".
    path("", include("caredeck.cases.report_urls")),
    path("", include("caredeck.cases.urls")),
    path("", include("caredeck.web.urls")),
]
