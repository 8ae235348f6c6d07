"""API shapes of the topology, deployments, impact questions and availability."""

from __future__ import annotations

import re

from rest_framework import serializers

from caredeck.accounts.access import tenants_for
from caredeck.accounts.models import Organization
from caredeck.core.api import SlugRelatedField
from caredeck.topology.models import Connectivity, Deployment

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class DeploymentSerializer(serializers.Serializer):
    """A tenant's deployment; regions, PoPs and areas by their ids (slugs)."""

    organization = SlugRelatedField(slug_field="slug", queryset=Organization.objects.none())
    primary_region = serializers.CharField(max_length=60)
    secondary_region = serializers.CharField(
        max_length=60, required=False, allow_null=True, allow_blank=True, default=None
    )
    pops = serializers.ListField(
        child=serializers.CharField(max_length=60), max_length=10,
        help_text="The pair of PoP ids the tenant reaches.",
    )
    connectivity = serializers.ChoiceField(choices=Connectivity.choices)
    areas = serializers.ListField(
        child=serializers.CharField(max_length=60), allow_empty=True, max_length=200,
        help_text="The functional-area ids the tenant uses.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            # Only the actor's tenants are valid choices; others answer "does not exist".
            self.fields["organization"].queryset = tenants_for(request.user)

    def to_representation(self, deployment: Deployment) -> dict:
        return {
            "organization": deployment.organization.slug,
            "primary_region": deployment.primary_region.slug,
            "secondary_region": getattr(deployment.secondary_region, "slug", None),
            "pops": sorted(p.slug for p in deployment.pops.all()),
            "connectivity": deployment.connectivity,
            "areas": [
                a.slug for a in sorted(deployment.areas.all(), key=lambda a: (a.position, a.name))
            ],
        }


class ImpactRequestSerializer(serializers.Serializer):
    target = serializers.CharField(max_length=60, help_text="A zone, region or PoP id.")
    failure = serializers.CharField(
        max_length=60, required=False, allow_null=True, allow_blank=True,
        help_text="A failure type id; by default it follows from the element.",
    )


class ImpactAreaSerializer(serializers.Serializer):
    area = serializers.CharField()
    name = serializers.CharField()
    operational = serializers.CharField()
    agent = serializers.CharField()
    customer = serializers.CharField()
    data_lost = serializers.BooleanField()
    delayed = serializers.BooleanField()
    service_unavailable = serializers.BooleanField()
    dropped_calls = serializers.BooleanField()
    severity = serializers.CharField()


class ImpactTenantSerializer(serializers.Serializer):
    organization = serializers.CharField()
    name = serializers.CharField()
    failure = serializers.CharField()
    connectivity = serializers.CharField()
    primary_region = serializers.CharField()
    severity = serializers.CharField()
    areas = ImpactAreaSerializer(many=True)


class ImpactSummarySerializer(serializers.Serializer):
    tenants_affected = serializers.IntegerField()
    tenants_not_affected = serializers.IntegerField()
    tenants_with_dropped_calls = serializers.IntegerField()
    tenants_with_data_loss = serializers.IntegerField()
    tenants_with_service_unavailable = serializers.IntegerField()
    tenants_with_delays = serializers.IntegerField()
    tenants_with_customer_impact = serializers.IntegerField()
    areas = serializers.DictField(child=serializers.IntegerField())


class ImpactSerializer(serializers.Serializer):
    """The answer of impact_of (documentation only: the dict is returned as it is)."""

    target = serializers.CharField()
    target_name = serializers.CharField()
    element = serializers.CharField()
    failure = serializers.CharField(allow_null=True)
    failure_types = serializers.ListField(child=serializers.DictField())
    tenants = ImpactTenantSerializer(many=True)
    not_affected = serializers.ListField(child=serializers.CharField())
    summary = ImpactSummarySerializer()


class AvailabilityQuerySerializer(serializers.Serializer):
    organization = serializers.CharField(max_length=50, required=False)
    month = serializers.CharField(max_length=7, required=False, help_text="YYYY-MM")

    def validate_month(self, value: str) -> str:
        if not MONTH.match(value):
            raise serializers.ValidationError("Give a month as YYYY-MM, e.g. 2025-11.")
        return value


class AvailabilityRowSerializer(serializers.Serializer):
    area = serializers.CharField()
    name = serializers.CharField()
    scope = serializers.CharField()
    availability = serializers.FloatField(allow_null=True)
    target = serializers.FloatField()
    meets_target = serializers.BooleanField(allow_null=True)


class AvailabilitySerializer(serializers.Serializer):
    organization = serializers.CharField()
    month = serializers.CharField()
    target = serializers.FloatField()
    deployment = DeploymentSerializer(allow_null=True)
    areas = AvailabilityRowSerializer(many=True)
    below_target = serializers.ListField(child=serializers.CharField())
    measured = serializers.JSONField(allow_null=True)
    note = serializers.CharField()
