"""API of maintenance windows: `/api/v1/maintenances/` (see ../shared/API.md).

Thin views: parse with a serializer, call one service or selector, answer with the
window as the caller may read it. Another tenant's window answers 404; a role that may
not run maintenance 403; a move the window's state forbids 409 with the reason.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from caredeck.maintenance import notices, selectors, services
from caredeck.maintenance import serializers as s
from caredeck.maintenance.models import Maintenance

# The number of the window in the URL (MNT-000042).
PARAM = "number"


def _swagger(view) -> bool:
    return getattr(view, "swagger_fake_view", False)  # schema generation has no user


class MaintenanceList(GenericAPIView):
    """GET: the windows the caller may see (staff: all; a tenant's people: those that
    concern their tenant), filtered by `when` (upcoming, in_progress, past).
    POST (MANAGE_MAINTENANCE): schedule a window and announce it."""

    serializer_class = s.MaintenanceCreateSerializer

    def get_queryset(self):
        if _swagger(self):
            return Maintenance.objects.none()
        return selectors.maintenances_list(
            self.request.user, when=self.request.query_params.get("when", "")
        )

    @extend_schema(
        parameters=[OpenApiParameter("when", str, enum=list(selectors.WHEN))],
        responses=s.MaintenanceOutputSerializer(many=True),
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        rows = selectors.rows_by_window(request.user, page)
        return self.get_paginated_response(
            [s.maintenance_data(m, request.user, rows=rows.get(m.pk, [])) for m in page]
        )

    @extend_schema(
        request=s.MaintenanceCreateSerializer,
        responses={201: s.MaintenanceOutputSerializer},
    )
    def post(self, request):
        serializer = s.MaintenanceCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        maintenance = services.maintenance_schedule(actor=request.user, **serializer.validated_data)
        return Response(
            s.maintenance_data(maintenance, request.user, detail=True),
            status=status.HTTP_201_CREATED,
        )


class MaintenanceDetail(GenericAPIView):
    """GET: one window with its tenants (those the caller may see), notices sent per
    kind and clocks. PATCH (MANAGE_MAINTENANCE): new `starts_at`/`ends_at` reschedule it
    (SEQUENCE+1 and the moved invite to every tenant); `title`, `impact`, `owner`,
    `auto_complete`; a new scope while scheduled."""

    serializer_class = s.MaintenanceUpdateSerializer

    @extend_schema(responses=s.MaintenanceOutputSerializer)
    def get(self, request, number):
        window = selectors.maintenance_get(request.user, number)
        return Response(s.maintenance_data(window, request.user, detail=True))

    @extend_schema(
        request=s.MaintenanceUpdateSerializer, responses=s.MaintenanceOutputSerializer
    )
    def patch(self, request, number):
        window = selectors.maintenance_get(request.user, number)
        serializer = s.MaintenanceUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        window = services.maintenance_update(
            actor=request.user, maintenance=window, **serializer.validated_data
        )
        return Response(s.maintenance_data(window, request.user, detail=True))


class MaintenanceAction(GenericAPIView):
    """POST …/start/, …/complete/, …/cancel/ (`reason` optional): 409 with the reason
    when the window's state forbids it."""

    serializer_class = s.CancelSerializer
    verb = ""

    @extend_schema(request=s.CancelSerializer, responses=s.MaintenanceOutputSerializer)
    def post(self, request, number):
        window = selectors.maintenance_get(request.user, number)
        if self.verb == "cancel":
            serializer = s.CancelSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            window = services.maintenance_cancel(
                actor=request.user, maintenance=window,
                reason=serializer.validated_data.get("reason", ""),
            )
        elif self.verb == "start":
            window = services.maintenance_start(actor=request.user, maintenance=window)
        else:
            window = services.maintenance_complete(actor=request.user, maintenance=window)
        return Response(s.maintenance_data(window, request.user, detail=True))


class MaintenanceInvite(GenericAPIView):
    """The window's current calendar invite (.ics) for the caller: METHOD:REQUEST with
    the current SEQUENCE, or METHOD:CANCEL once cancelled."""

    @extend_schema(
        responses={
            (200, "text/calendar"): OpenApiResponse(response=OpenApiTypes.BINARY),
        }
    )
    def get(self, request, number):
        window = selectors.maintenance_get(request.user, number)
        response = HttpResponse(notices.invite_ics(window), content_type="text/calendar")
        response["Content-Disposition"] = (
            f'attachment; filename="{notices.invite_filename(window)}"'
        )
        return response


urlpatterns = [
    path("maintenances/", MaintenanceList.as_view(), name="maintenance-list"),
    path(
        f"maintenances/<str:{PARAM}>.ics", MaintenanceInvite.as_view(), name="maintenance-ics"
    ),
    path(
        f"maintenances/<str:{PARAM}>/", MaintenanceDetail.as_view(), name="maintenance-detail"
    ),
    *[
        path(
            f"maintenances/<str:{PARAM}>/{action}/",
            MaintenanceAction.as_view(verb=action),
            name=f"maintenance-{action}",
        )
        for action in ("start", "complete", "cancel")
    ],
]
