"""API of synthetic monitoring (../shared/API.md, "Synthetic checks").

Thin: parse with a serializer, call one service or selector, answer. Everyone signed in
reads the checks of their tenants (staff who serve every tenant: all of them); another
tenant's check answers 404. Defining, changing and deleting checks and probe locations
needs MANAGE_MONITORING (incident managers, engineers, platform administrators): 403
otherwise. Probe locations are read by staff who serve every tenant. The two agent routes
(probe/runs/, probe/results/) take a location's token instead of a person (agent_api.py).
"""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from caredeck.accounts.access import has_capability, tenants_for
from caredeck.accounts.roles import Capability, OrganizationKind
from caredeck.monitoring import agent_api, selectors, services
from caredeck.monitoring import serializers as s
from caredeck.monitoring.models import CheckKind, ProbeLocation


def _require_manage(user) -> None:
    if not has_capability(user, Capability.MANAGE_MONITORING):
        raise PermissionDenied("Your roles do not allow this (run synthetic monitoring).")


def _require_locations(user) -> None:
    if not has_capability(user, Capability.SERVE_ALL_TENANTS):
        raise PermissionDenied("Probe locations are for provider staff.")


def _detail(check, code: int = status.HTTP_200_OK) -> Response:
    now = timezone.now()
    availability = selectors.availability(check, now - datetime.timedelta(days=30), now)
    return Response(
        s.check_data(check, assignments=check.assignments.select_related("location"),
                     availability_30d=availability),
        status=code,
    )


def _default_name(kind: str, target: str) -> str:
    return f"{CheckKind(kind).label}: {target}"[:120]


class CheckList(GenericAPIView):
    """GET: the checks of your tenants (`?organization=`, `?state=`, `?kind=`). POST
    (MANAGE_MONITORING): define a check for one of your tenants."""

    serializer_class = s.CheckWriteSerializer

    @extend_schema(operation_id="checks_list", parameters=[s.CheckFilterSerializer],
                   responses=s.CheckOutput(many=True))
    def get(self, request):
        query = s.CheckFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        checks = selectors.checks_visible(request.user).select_related(
            "organization", "area", "incident").prefetch_related("assignments__location")
        for name in ("state", "kind"):
            if query.validated_data.get(name):
                checks = checks.filter(**{name: query.validated_data[name]})
        if query.validated_data.get("organization"):
            checks = checks.filter(organization__slug=query.validated_data["organization"])
        page = self.paginate_queryset(checks.order_by("organization__name", "name", "pk"))
        return self.get_paginated_response([
            s.check_data(check, assignments=check.assignments.all()) for check in page
        ])

    @extend_schema(request=s.CheckWriteSerializer, responses={201: s.CheckDetailOutput})
    def post(self, request):
        _require_manage(request.user)
        serializer = s.CheckWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        organization = tenants_for(request.user).filter(
            slug=data.pop("organization"), kind=OrganizationKind.CUSTOMER).first()
        if organization is None:
            raise ValidationError({"organization": ["Not one of your tenants."]})
        data.pop("is_active", None)
        data.setdefault("name", _default_name(data["kind"], data["target"]))
        check = services.check_create(actor=request.user, organization=organization, **data)
        return _detail(check, status.HTTP_201_CREATED)


class CheckDetail(APIView):
    @extend_schema(operation_id="checks_retrieve", responses=s.CheckDetailOutput)
    def get(self, request, check_id):
        return _detail(selectors.check_get(request.user, check_id))

    @extend_schema(request=s.CheckWriteSerializer, responses=s.CheckDetailOutput)
    def patch(self, request, check_id):
        check = selectors.check_get(request.user, check_id)
        _require_manage(request.user)
        serializer = s.CheckWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "organization" in data:
            raise ValidationError({"organization": [
                "A check stays with its tenant: define a new one for another tenant."]})
        check = services.check_update(actor=request.user, check=check, **data)
        return _detail(selectors.check_get(request.user, check.pk))

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, check_id):
        check = selectors.check_get(request.user, check_id)
        services.check_delete(actor=request.user, check=check)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CheckResults(GenericAPIView):
    """The check's raw results, newest first (`?location=`, `?failures=1`); kept for
    MONITORING_RAW_DAYS days, then only the hourly and daily roll-ups."""

    @extend_schema(operation_id="checks_results_list", parameters=[s.ResultFilterSerializer],
                   responses=s.ResultOutput(many=True))
    def get(self, request, check_id):
        check = selectors.check_get(request.user, check_id)
        query = s.ResultFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        location = None
        if query.validated_data.get("location"):
            location = ProbeLocation.objects.filter(
                slug=query.validated_data["location"]).first()
            if location is None:
                raise ValidationError({"location": ["No such probe location."]})
        results = selectors.results_of(check, location=location,
                                       failures_only=query.validated_data["failures"])
        page = self.paginate_queryset(results)
        return self.get_paginated_response([s.result_data(r) for r in page])


class LocationList(GenericAPIView):
    """GET (staff who serve every tenant): where checks run from. POST
    (MANAGE_MONITORING): a new location; for a remote agent the answer carries its token,
    shown this once."""

    serializer_class = s.LocationCreateSerializer

    @extend_schema(operation_id="probe_locations_list", responses=s.LocationOutput(many=True))
    def get(self, request):
        _require_locations(request.user)
        page = self.paginate_queryset(selectors.locations_visible(request.user)
                                      .order_by("name", "pk"))
        return self.get_paginated_response([s.location_data(loc) for loc in page])

    @extend_schema(request=s.LocationCreateSerializer, responses={201: s.LocationCreatedOutput})
    def post(self, request):
        _require_manage(request.user)
        serializer = s.LocationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        location, token = services.location_create(actor=request.user,
                                                   **serializer.validated_data)
        return Response(s.location_data(location, token=token), status=status.HTTP_201_CREATED)


CHECK = "checks/<int:check_id>/"

urlpatterns = [
    path("checks/", CheckList.as_view(), name="check-list"),
    path(CHECK, CheckDetail.as_view(), name="check-detail"),
    path(CHECK + "results/", CheckResults.as_view(), name="check-results"),
    path("probe-locations/", LocationList.as_view(), name="probe-location-list"),
    path("probe/runs/", agent_api.ProbeRuns.as_view(), name="probe-runs"),
    path("probe/results/", agent_api.ProbeResults.as_view(), name="probe-results"),
]
