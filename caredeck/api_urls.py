"""The REST API under /api/v1/ (see ../shared/API.md for the contract)."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from caredeck.accounts import api as accounts_api
from caredeck.cases import api as cases_api
from caredeck.core.api_views import AuditList
from caredeck.ideas import api as ideas_api
from caredeck.incidents import api as incidents_api
from caredeck.maintenance import api as maintenance_api
from caredeck.monitoring import api as monitoring_api
from caredeck.notify import api as notify_api
from caredeck.problems import api as problems_api
from caredeck.status import api as status_api
from caredeck.topology import api as topology_api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.include_format_suffixes = False
router.register("organizations", accounts_api.OrganizationViewSet, basename="organization")
router.register("products", accounts_api.ProductViewSet, basename="product")
router.register("users", accounts_api.UserViewSet, basename="user")
router.register("tokens", accounts_api.TokenViewSet, basename="token")
router.register("access-requests", accounts_api.AccessRequestViewSet, basename="access-request")
router.register("partner-links", accounts_api.PartnerLinkViewSet, basename="partner-link")
router.register("notifications", notify_api.NotificationViewSet, basename="notification")
router.register("webhooks", notify_api.WebhookViewSet, basename="webhook")
router.register("deliveries", notify_api.DeliveryViewSet, basename="delivery")

urlpatterns = [
    path("me/", accounts_api.MeView.as_view(), name="me"),
    path("audit/", AuditList.as_view(), name="audit"),
    path("subscriptions/", notify_api.SubscriptionView.as_view(), name="subscription-list"),
    path("topology/", topology_api.TopologyView.as_view(), name="topology"),
    path("topology/catalog/", topology_api.CatalogView.as_view(), name="topology-catalog"),
    path("deployments/", topology_api.DeploymentList.as_view(), name="deployment-list"),
    path(
        "deployments/<slug:org>/", topology_api.DeploymentDetail.as_view(),
        name="deployment-detail",
    ),
    path("impact/", topology_api.ImpactView.as_view(), name="impact"),
    path("availability/", topology_api.AvailabilityView.as_view(), name="availability"),
    *cases_api.urlpatterns,
    *ideas_api.urlpatterns,
    *incidents_api.urlpatterns,
    *maintenance_api.urlpatterns,
    *monitoring_api.urlpatterns,
    *problems_api.urlpatterns,
    *status_api.urlpatterns,
    *router.urls,
]
