"""API of the status app: a tenant's status and the monthly SLA and promise reports.

Thin views: validate the query, call one selector or report, answer. The tenant is the
one named by `?organization=` among those the caller may see (else 404), or the caller's
current tenant (a browser session's choice; a bearer-token caller's own organization).
A malformed month is a 400 on `month`.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from caredeck.accounts.access import tenants_for
from caredeck.accounts.roles import OrganizationKind
from caredeck.core.api import Pagination
from caredeck.incidents.selectors import sees_every_tenant
from caredeck.status import reports
from caredeck.status import serializers as s
from caredeck.status.selectors import status_organization, tenant_status

NOT_FOUND = OpenApiResponse(OpenApiTypes.OBJECT, description="No such tenant for you.")
BAD_MONTH = OpenApiResponse(OpenApiTypes.OBJECT, description='{"month": ["…"]}')


def _organization(request, slug: str | None):
    return status_organization(request.user, slug or None, current=request.tenant)


class StatusView(APIView):
    """The caller's tenant now: each functional area's state, the open incidents with the
    tenant's own impact text and latest public update, and maintenance in progress or to
    come. States: operational | maintenance | degraded | partial_outage | major_outage."""

    @extend_schema(
        parameters=[s.StatusQuerySerializer],
        responses={200: s.StatusSerializer, 404: NOT_FOUND},
    )
    def get(self, request):
        query = s.StatusQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        organization = _organization(request, query.validated_data.get("organization"))
        return Response(s.StatusSerializer(tenant_status(organization, history_days=0)).data)


class SlaReportView(APIView):
    """Measured availability of a tenant for a month (UTC), maintenance excluded, against
    its contract's target, with the service credit owed and the impacted and outage
    minutes per functional area. Only SEV1/SEV2 incidents and unavailable areas count as
    outage. Provider staff who name no tenant get every tenant's summary, lowest
    availability first, paginated."""

    pagination_class = Pagination

    @extend_schema(
        parameters=[s.ReportQuerySerializer],
        responses={200: s.SlaReportSerializer, 400: BAD_MONTH, 404: NOT_FOUND},
    )
    def get(self, request):
        query = s.ReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        month = reports.parse_month(query.validated_data.get("month"))
        slug = query.validated_data.get("organization")
        if not slug and sees_every_tenant(request.user):
            every = reports.worst_first(
                reports.sla_reports(
                    tenants_for(request.user).filter(
                        kind=OrganizationKind.CUSTOMER, is_active=True
                    ),
                    month, per_area=False,
                )
            )
            paginator = self.pagination_class()
            page = paginator.paginate_queryset(every, request, view=self)
            return paginator.get_paginated_response(
                s.SlaSummarySerializer(page, many=True).data
            )
        report = reports.sla_report(_organization(request, slug), month)
        return Response(s.SlaReportSerializer(report).data)


class PromiseReportView(APIView):
    """Promises kept for the incidents detected in a month (UTC): per incident and
    affected tenant, the first notice (due, sent, kept or missed and by how much), each
    update with a due time, and any notice overdue now; totals with the share kept.
    Provider staff see every tenant, others their own (or the one they name)."""

    @extend_schema(
        parameters=[s.ReportQuerySerializer],
        responses={200: s.MonthPromisesSerializer, 400: BAD_MONTH, 404: NOT_FOUND},
    )
    def get(self, request):
        query = s.ReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        month = reports.parse_month(query.validated_data.get("month"))
        slug = query.validated_data.get("organization")
        organization = status_organization(request.user, slug) if slug else None
        report = reports.promises_month(request.user, month, organization=organization)
        return Response(s.MonthPromisesSerializer(report).data)


urlpatterns = [
    path("status/", StatusView.as_view(), name="status"),
    path("reports/sla/", SlaReportView.as_view(), name="report-sla"),
    path("reports/promises/", PromiseReportView.as_view(), name="report-promises"),
]
