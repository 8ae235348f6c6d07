"""API of the topology, its catalog, tenants' deployments, impact and availability.

Thin views: parse, call one service or selector, answer. See ../shared/API.md,
"Topology and impact".
"""

from __future__ import annotations

import yaml
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from caredeck.accounts.access import has_capability, tenants_for
from caredeck.accounts.roles import Capability, OrganizationKind
from caredeck.accounts.selectors import organization_get
from caredeck.core.api import Pagination
from caredeck.topology import catalog
from caredeck.topology import serializers as s
from caredeck.topology.availability import target_of, tenant_availability
from caredeck.topology.deployments import deployment_get, deployment_set, deployments_visible
from caredeck.topology.impact import impact_of
from caredeck.topology.models import (
    Deployment,
    FailureType,
    FunctionalArea,
    Geography,
    Pop,
    Region,
    Zone,
)

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


def _swagger(view) -> bool:
    return getattr(view, "swagger_fake_view", False)  # schema generation has no user


# --- The platform ---------------------------------------------------------------------


def _topology() -> dict:
    zones: dict[int, list[dict]] = {}
    for region_id, slug, name in Zone.objects.order_by("name").values_list(
        "region_id", "slug", "name"
    ):
        zones.setdefault(region_id, []).append({"id": slug, "name": name})
    pop_regions: dict[int, list[str]] = {}
    for pop_id, region_slug in Pop.regions.through.objects.values_list(
        "pop_id", "region__slug"
    ):
        pop_regions.setdefault(pop_id, []).append(region_slug)
    return {
        "geographies": [
            {"id": slug, "name": name}
            for slug, name in Geography.objects.values_list("slug", "name")
        ],
        "regions": [
            {"id": slug, "name": name, "geography": geography, "zones": zones.get(pk, [])}
            for pk, slug, name, geography in Region.objects.values_list(
                "pk", "slug", "name", "geography__slug"
            )
        ],
        "pops": [
            {
                "id": slug, "name": name, "geography": geography,
                "regions": sorted(pop_regions.get(pk, [])),
            }
            for pk, slug, name, geography in Pop.objects.values_list(
                "pk", "slug", "name", "geography__slug"
            )
        ],
        "areas": [
            {
                "id": area.slug, "name": area.name, "services": area.services,
                "scope": area.scope,
                "home_region": getattr(area.home_region, "slug", None),
                "standby_region": getattr(area.standby_region, "slug", None),
                "note": area.note, "components": area.components,
            }
            for area in FunctionalArea.objects.select_related("home_region", "standby_region")
        ],
        "failure_types": [
            {"id": slug, "name": name, "element": element, "connectivity": connectivity or None}
            for slug, name, element, connectivity in FailureType.objects.values_list(
                "slug", "name", "element", "connectivity"
            )
        ],
    }


class TopologyView(APIView):
    """The platform: geographies, regions with their zones, PoPs, functional areas and
    failure types (the provider's reference data; every signed-in user may read it)."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(_topology())


class YamlRenderer(BaseRenderer):
    media_type = "application/yaml"
    format = "yaml"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, str):
            return data.encode("utf-8")
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode("utf-8")


class YamlParser(BaseParser):
    """The body as text: the catalog import parses and validates it with line numbers."""

    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read().decode("utf-8", errors="replace")


class TextYamlParser(YamlParser):
    media_type = "text/yaml"


class XYamlParser(YamlParser):
    media_type = "application/x-yaml"


class CatalogNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        if request.method not in ("GET", "HEAD"):
            # `?format=yaml` on a PUT says what the body is; the answer is JSON.
            json_renderer = next(r for r in renderers if r.format == "json")
            return json_renderer, json_renderer.media_type
        return super().select_renderer(request, renderers, format_suffix)


def _wants_yaml_body(request) -> bool:
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    return request.query_params.get("format") == "yaml" or content_type in YAML_TYPES


class CatalogView(APIView):
    """GET: the whole catalog (topology + failure matrix), as JSON or, with
    `?format=yaml`, as the YAML file an import takes. PUT (platform administrators): the
    catalog as JSON, or YAML (`Content-Type: application/yaml` or `?format=yaml`); it is
    validated as a whole and replaces the catalog, answering what it created, updated
    and deleted, or changes nothing and answers 400 `{"errors": [{"line", "path",
    "message"}]}`. `?dry_run=true` validates and reports without changing anything."""

    renderer_classes = [JSONRenderer, YamlRenderer]
    parser_classes = [JSONParser, YamlParser, TextYamlParser, XYamlParser]
    content_negotiation_class = CatalogNegotiation

    @extend_schema(
        parameters=[OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "yaml"])],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        if request.accepted_renderer.format == "yaml":
            return Response(catalog.catalog_dump_yaml())
        return Response(catalog.catalog_export())

    @extend_schema(
        parameters=[
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "yaml"]),
            OpenApiParameter("dry_run", OpenApiTypes.BOOL),
        ],
        request={"application/json": OpenApiTypes.OBJECT, "application/yaml": OpenApiTypes.STR},
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def put(self, request):
        if not has_capability(request.user, Capability.MANAGE_TOPOLOGY):
            raise PermissionDenied("Your roles do not allow this (model the platform).")
        dry_run = request.query_params.get("dry_run") in ("1", "true", "yes")
        try:
            if _wants_yaml_body(request):
                text = request.body.decode("utf-8", errors="replace")
                summary = catalog.catalog_import(
                    actor=request.user, text=text, fmt="yaml", dry_run=dry_run
                )
            else:
                data = request.data
                if data is None:  # the JSON document `null`
                    raise catalog.CatalogError(
                        [{"line": None, "path": "", "message": "The catalog is empty."}]
                    )
                summary = catalog.catalog_import(
                    actor=request.user, data=data, fmt="json", dry_run=dry_run
                )
        except catalog.CatalogError as exc:
            return Response({"errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
        return Response(summary)


# --- Deployments ----------------------------------------------------------------------


class DeploymentList(ListAPIView):
    """GET: the deployments of the tenants one may see (`?organization=`, `?region=`).
    POST: set a tenant's deployment (platform administrators); it replaces the
    tenant's deployment if it has one."""

    serializer_class = s.DeploymentSerializer
    pagination_class = Pagination

    def get_queryset(self):
        if _swagger(self):
            return Deployment.objects.none()
        deployments = deployments_visible(self.request.user).order_by("organization__slug")
        organization = self.request.query_params.get("organization")
        if organization:
            deployments = deployments.filter(organization__slug=organization[:50])
        region = self.request.query_params.get("region")
        if region:
            deployments = deployments.filter(primary_region__slug=region[:60])
        return deployments

    @extend_schema(
        operation_id="deployments_list",
        parameters=[
            OpenApiParameter("organization", OpenApiTypes.STR),
            OpenApiParameter("region", OpenApiTypes.STR, description="Primary region id."),
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.DeploymentSerializer, responses={201: s.DeploymentSerializer})
    def post(self, request):
        if not has_capability(request.user, Capability.MANAGE_TOPOLOGY):
            # Whoever may never do it learns nothing from validating the body.
            raise PermissionDenied("Your roles do not allow this (model the platform).")
        body = s.DeploymentSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        data = body.validated_data
        existed = Deployment.objects.filter(organization=data["organization"]).exists()
        deployment = deployment_set(
            actor=request.user, organization=data["organization"],
            primary_region=data["primary_region"],
            secondary_region=data.get("secondary_region") or None,
            pops=data["pops"], connectivity=data["connectivity"], areas=data["areas"],
        )
        deployment = deployment_get(request.user, deployment.organization.slug)
        return Response(
            s.DeploymentSerializer(deployment).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )


class DeploymentDetail(APIView):
    """One tenant's deployment, by the organization's id (404 for another tenant's)."""

    @extend_schema(responses=s.DeploymentSerializer)
    def get(self, request, org):
        return Response(s.DeploymentSerializer(deployment_get(request.user, org)).data)


# --- Impact and availability ----------------------------------------------------------


class ImpactView(APIView):
    """What if `target` (a zone, region or PoP id) fails: per affected tenant, each
    functional area's texts, worst first. A tenant's users see their own organization
    only; provider staff see every tenant."""

    @extend_schema(request=s.ImpactRequestSerializer, responses=s.ImpactSerializer)
    def post(self, request):
        body = s.ImpactRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = request.user
        scope = None if has_capability(user, Capability.SERVE_ALL_TENANTS) else tenants_for(user)
        return Response(
            impact_of(
                target=body.validated_data["target"],
                failure=body.validated_data.get("failure") or None,
                organizations=scope,
            )
        )


class AvailabilityView(APIView):
    """The designed availability of each functional area a tenant uses, beside its
    contract's target. `month` is echoed; measured availability comes with monitoring,
    so `measured` is null for now."""

    @extend_schema(
        parameters=[
            OpenApiParameter("organization", OpenApiTypes.STR, description="Tenant id."),
            OpenApiParameter("month", OpenApiTypes.STR, description="YYYY-MM"),
        ],
        responses={200: s.AvailabilitySerializer, 400: OpenApiResponse(OpenApiTypes.OBJECT)},
    )
    def get(self, request):
        query = s.AvailabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        slug = query.validated_data.get("organization")
        if slug:
            organization = organization_get(request.user, slug)
        elif request.user.organization.kind == OrganizationKind.CUSTOMER:
            organization = request.user.organization
        else:
            raise ValidationError({"organization": ["Name the tenant (its id)."]})
        month = query.validated_data.get("month") or timezone.localdate().strftime("%Y-%m")
        deployment = Deployment.objects.filter(organization=organization).first()
        rows = tenant_availability(organization)
        target = target_of(organization)
        return Response(
            {
                "organization": organization.slug,
                "name": organization.name,
                "month": month,
                "target": target,
                "deployment": s.DeploymentSerializer(deployment).data if deployment else None,
                "areas": rows,
                "below_target": [r["area"] for r in rows if r["meets_target"] is False],
                "measured": None,
                "note": "Designed availability from the catalog's component figures. "
                "Measured availability for the month comes with monitoring.",
            }
        )

