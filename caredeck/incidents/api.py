"""API of incidents (../shared/API.md, "Incidents, maintenance, problems, status").

Thin: parse with a serializer, call one service or selector, answer. Staff who run
incidents act; a tenant's people read their own view; another tenant's incident is 404.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from caredeck.accounts.access import has_capability
from caredeck.accounts.models import User
from caredeck.accounts.roles import Capability
from caredeck.core.api import Pagination
from caredeck.incidents import selectors, services
from caredeck.incidents import serializers as s
from caredeck.incidents.models import IncidentStatus


def _require_run(user) -> None:
    if not has_capability(user, Capability.MANAGE_INCIDENTS):
        raise PermissionDenied("Your roles do not allow this (declare and run incidents).")


def _detail(request, incident) -> Response:
    user = request.user
    incident.refresh_from_db()
    return Response(
        s.incident_data(
            incident, staff=selectors.sees_every_tenant(user),
            affected=selectors.affected_of(user, incident),
            updates=selectors.updates_visible(user, incident),
        )
    )


def _scope_kwargs(data: dict) -> dict:
    failure = data.get("failure")
    if failure:
        return {"failure": dict(failure)}
    return {"organizations": data.get("organizations"), "areas": data.get("areas")}


class IncidentList(APIView):
    @extend_schema(
        operation_id="incidents_list",
        parameters=[OpenApiParameter("status", str, enum=["open", *IncidentStatus.values])],
        responses={200: dict},
    )
    def get(self, request):
        wanted = request.query_params.get("status", "")
        if wanted not in ("", "open", *IncidentStatus.values):
            return Response({"status": ["Use open or one of "
                                        f"{', '.join(IncidentStatus.values)}."]}, status=400)
        incidents = selectors.incidents_list(request.user, status=wanted)
        paginator = Pagination()
        page = paginator.paginate_queryset(incidents, request, view=self)
        staff = selectors.sees_every_tenant(request.user)
        return paginator.get_paginated_response([s.incident_summary(i, staff) for i in page])

    @extend_schema(request=s.DeclareSerializer, responses={201: dict})
    def post(self, request):
        _require_run(request.user)
        serializer = s.DeclareSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        manager = None
        if data.get("manager"):
            manager = User.objects.filter(pk=data["manager"]).first()
            if manager is None:
                return Response({"manager": ["No such user."]}, status=400)
        incident = services.incident_declare(
            actor=request.user, title=data["title"], severity=data["severity"],
            detected_at=data.get("detected_at"), manager=manager,
            first_notice=data.get("first_notice", ""), notify=data["notify"],
            security_involved=data["security_involved"],
            executive_involved=data["executive_involved"], **_scope_kwargs(data),
        )
        response = _detail(request, incident)
        response.status_code = status.HTTP_201_CREATED
        return response


class IncidentDetail(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request, number):
        return _detail(request, selectors.incident_get(request.user, number))

    @extend_schema(request=s.EditSerializer, responses={200: dict})
    def patch(self, request, number):
        incident = selectors.incident_get(request.user, number)
        _require_run(request.user)
        serializer = s.EditSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.incident_findings_set(actor=request.user, incident=incident,
                                       **serializer.validated_data)
        return _detail(request, incident)


class IncidentUpdates(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request, number):
        incident = selectors.incident_get(request.user, number)
        staff = selectors.sees_every_tenant(request.user)
        return Response([s.update_data(u, staff)
                         for u in selectors.updates_visible(request.user, incident)])

    @extend_schema(request=s.UpdateSerializer, responses={201: dict})
    def post(self, request, number):
        incident = selectors.incident_get(request.user, number)
        _require_run(request.user)
        serializer = s.UpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        update = services.incident_update_post(actor=request.user, incident=incident,
                                               **serializer.validated_data)
        return Response(s.update_data(update, True), status=201)


class IncidentResolve(APIView):
    @extend_schema(request=s.ResolveSerializer, responses={200: dict})
    def post(self, request, number):
        incident = selectors.incident_get(request.user, number)
        _require_run(request.user)
        serializer = s.ResolveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.incident_resolve(actor=request.user, incident=incident,
                                  body=serializer.validated_data["body"])
        return _detail(request, incident)


class IncidentClose(APIView):
    @extend_schema(request=None, responses={200: dict})
    def post(self, request, number):
        incident = selectors.incident_get(request.user, number)
        _require_run(request.user)
        services.incident_close(actor=request.user, incident=incident)
        return _detail(request, incident)


class IncidentReport(APIView):
    """Publish the customer incident report (optionally giving its text in the same call)."""

    @extend_schema(request=s.EditSerializer, responses={200: dict})
    def post(self, request, number):
        incident = selectors.incident_get(request.user, number)
        _require_run(request.user)
        serializer = s.EditSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "report" in serializer.validated_data:
            services.incident_findings_set(actor=request.user, incident=incident,
                                           report=serializer.validated_data["report"])
        services.incident_report_publish(actor=request.user, incident=incident)
        return _detail(request, incident)


class IncidentScope(APIView):
    @extend_schema(request=s.ScopeSerializer, responses={200: dict})
    def post(self, request, number):
        incident = selectors.incident_get(request.user, number)
        _require_run(request.user)
        serializer = s.ScopeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.incident_scope_change(actor=request.user, incident=incident,
                                       **_scope_kwargs(serializer.validated_data))
        return _detail(request, incident)


class IncidentTimeline(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request, number):
        incident = selectors.incident_get(request.user, number)
        staff = selectors.sees_every_tenant(request.user)
        events = selectors.timeline_visible(request.user, incident)
        paginator = Pagination()
        page = paginator.paginate_queryset(events, request, view=self)
        return paginator.get_paginated_response([s.timeline_data(e, staff) for e in page])


class IncidentEvidence(APIView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(request=s.EvidenceSerializer, responses={201: dict})
    def post(self, request, number):
        incident = selectors.incident_get(request.user, number)
        _require_run(request.user)
        serializer = s.EvidenceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = services.incident_evidence_add(
            actor=request.user, incident=incident,
            text=serializer.validated_data.get("text", ""),
            upload=serializer.validated_data.get("file"),
        )
        return Response(s.timeline_data(event, True), status=201)


class IncidentTeam(APIView):
    @extend_schema(request=s.TeamSerializer, responses={201: dict})
    def post(self, request, number):
        incident = selectors.incident_get(request.user, number)
        _require_run(request.user)
        serializer = s.TeamSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = User.objects.filter(pk=serializer.validated_data["user"]).first()
        if user is None:
            return Response({"user": ["No such user."]}, status=400)
        member = services.incident_team_add(actor=request.user, incident=incident, user=user,
                                            role=serializer.validated_data["role"])
        return Response({"user": member.user_id, "role": member.role}, status=201)


urlpatterns = [
    path("incidents/", IncidentList.as_view(), name="incident-list"),
    path("incidents/<str:number>/", IncidentDetail.as_view(), name="incident-detail"),
    path("incidents/<str:number>/updates/", IncidentUpdates.as_view(), name="incident-updates"),
    path("incidents/<str:number>/resolve/", IncidentResolve.as_view(), name="incident-resolve"),
    path("incidents/<str:number>/close/", IncidentClose.as_view(), name="incident-close"),
    path("incidents/<str:number>/report/", IncidentReport.as_view(), name="incident-report"),
    path("incidents/<str:number>/scope/", IncidentScope.as_view(), name="incident-scope"),
    path("incidents/<str:number>/timeline/", IncidentTimeline.as_view(),
         name="incident-timeline"),
    path("incidents/<str:number>/evidence/", IncidentEvidence.as_view(),
         name="incident-evidence"),
    path("incidents/<str:number>/team/", IncidentTeam.as_view(), name="incident-team"),
]
