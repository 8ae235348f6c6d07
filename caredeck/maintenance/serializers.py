"""API shapes of maintenance windows (../shared/API.md, "Incidents, maintenance, ...").

Input serializers only parse; the services validate the window and its scope field by
field. Output is built per reader: the tenants, notices and texts of the window that the
reader may see (selectors.py), never another tenant's.
"""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from caredeck.accounts.models import User
from caredeck.accounts.roles import OrganizationKind
from caredeck.maintenance import selectors
from caredeck.maintenance.models import Maintenance


class ScopeFailureSerializer(serializers.Serializer):
    target = serializers.CharField(max_length=60, help_text="A zone, region or PoP id.")
    failure = serializers.CharField(
        max_length=60, required=False, allow_blank=True, allow_null=True,
        help_text="A failure type id; by default it follows from the element.",
    )


@extend_schema_field(OpenApiTypes.INT)
class ProviderUserField(serializers.PrimaryKeyRelatedField):
    """A provider person by id; the service checks they may own maintenance."""

    def get_queryset(self):
        return User.objects.filter(organization__kind=OrganizationKind.PROVIDER)


class _WindowInput(serializers.Serializer):
    title = serializers.CharField(max_length=200, allow_blank=True)
    impact = serializers.CharField(
        max_length=4000, allow_blank=True, help_text="What tenants should expect."
    )
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    owner = ProviderUserField(required=False, help_text="User id; by default the caller.")
    auto_complete = serializers.BooleanField(
        required=False,
        help_text="End by itself at ends_at with the end notice; otherwise passing the end "
        "while in progress is an overrun.",
    )
    failure = ScopeFailureSerializer(required=False, allow_null=True)
    organizations = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, max_length=5000,
        help_text="Tenant slugs (instead of a failure).",
    )
    areas = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, max_length=200,
        help_text="Functional-area ids with `organizations`; empty: every area each uses.",
    )


class MaintenanceCreateSerializer(_WindowInput):
    pass


class MaintenanceUpdateSerializer(_WindowInput):
    """PATCH: any of the fields. New times reschedule (SEQUENCE+1, a new invite); a new
    scope (while scheduled) announces to added tenants and cancels for removed ones."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, partial=True, **kwargs)


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True)


def _tenant(row) -> dict:
    return {
        "organization": row.organization.slug,
        "name": row.organization.name,
        "areas": row.areas,
        "impact_text": row.impact_text,
        "added_at": row.added_at,
    }


def maintenance_data(
    maintenance: Maintenance, user, *, detail: bool = False, rows=None
) -> dict:
    """One window as `user` may read it (`rows`: its readable tenant rows, when a list
    has read those of a whole page at once)."""
    if rows is None:
        rows = selectors.tenant_rows_visible(user, maintenance)
    data = {
        "number": maintenance.number,
        "title": maintenance.title,
        "impact": maintenance.impact,
        "status": maintenance.status,
        "starts_at": maintenance.starts_at,
        "ends_at": maintenance.ends_at,
        "auto_complete": maintenance.auto_complete,
        "sequence": maintenance.sequence,
        "owner": {"id": maintenance.owner_id, "name": maintenance.owner.name},
        "failure": (
            {"target": maintenance.failure_target, "failure": maintenance.failure_type or None}
            if maintenance.failure_target else None
        ),
        "started_at": maintenance.started_at,
        "completed_at": maintenance.completed_at,
        "cancelled_at": maintenance.cancelled_at,
        "overrun_at": maintenance.overrun_at,
        "created_at": maintenance.created_at,
        "tenants": [_tenant(row) for row in rows],
        "url": reverse("maintenance-detail", args=[maintenance.number]),
        "ics": reverse("api:maintenance-ics", args=[maintenance.number]),
    }
    if detail:
        data["notices"] = selectors.notice_counts(user, maintenance)
        data["clocks"] = [
            {"kind": c.kind, "due_at": c.due_at, "done_at": c.done_at}
            for c in selectors.clocks_of(maintenance)
        ]
        removed = selectors.removed_rows(user, maintenance)
        if removed:
            data["removed_tenants"] = [
                {**_tenant(row), "removed_at": row.removed_at} for row in removed
            ]
    return data


class MaintenanceOutputSerializer(serializers.Serializer):
    """For the schema: the shape `maintenance_data` answers."""

    number = serializers.CharField()
    title = serializers.CharField()
    impact = serializers.CharField()
    status = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    auto_complete = serializers.BooleanField()
    sequence = serializers.IntegerField()
    owner = serializers.DictField()
    failure = serializers.DictField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    overrun_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    tenants = serializers.ListField(child=serializers.DictField())
    notices = serializers.DictField(child=serializers.IntegerField(), required=False)
    clocks = serializers.ListField(child=serializers.DictField(), required=False)
    url = serializers.CharField()
    ics = serializers.CharField()
