"""Shapes of the status and report API answers (see ../shared/API.md, "status").

The answers are built from the selectors' and reports' dataclasses; these serializers
describe them for the OpenAPI schema and turn them into JSON.
"""

from __future__ import annotations

from rest_framework import serializers


class StatusQuerySerializer(serializers.Serializer):
    organization = serializers.CharField(
        max_length=50, required=False, allow_blank=True,
        help_text="Tenant id; default: your current tenant.",
    )


class ReportQuerySerializer(serializers.Serializer):
    month = serializers.CharField(
        max_length=7, required=False, allow_blank=True,
        help_text="YYYY-MM (UTC); default: this month.",
    )
    organization = serializers.CharField(
        max_length=50, required=False, allow_blank=True, help_text="Tenant id."
    )


class AreaStateSerializer(serializers.Serializer):
    area = serializers.CharField()
    name = serializers.CharField()
    state = serializers.CharField(source="state.value")


class LatestUpdateSerializer(serializers.Serializer):
    status = serializers.CharField()
    body = serializers.CharField()
    created_at = serializers.DateTimeField()


class StatusIncidentSerializer(serializers.Serializer):
    number = serializers.CharField()
    title = serializers.CharField()
    severity = serializers.CharField()
    status = serializers.CharField()
    state = serializers.CharField(source="state.value")
    detected_at = serializers.DateTimeField()
    areas = serializers.ListField(child=serializers.CharField())
    impact = serializers.CharField()
    latest_update = LatestUpdateSerializer(allow_null=True)


class StatusMaintenanceSerializer(serializers.Serializer):
    number = serializers.CharField()
    title = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    status = serializers.CharField()
    areas = serializers.ListField(child=serializers.CharField())
    impact = serializers.CharField()


class StatusSerializer(serializers.Serializer):
    organization = serializers.CharField(source="organization.slug")
    state = serializers.CharField(source="overall.value")
    areas = AreaStateSerializer(many=True)
    incidents = StatusIncidentSerializer(many=True)
    maintenance = StatusMaintenanceSerializer(many=True)
    generated_at = serializers.DateTimeField()


# --- SLA -------------------------------------------------------------------------------------


class AreaMinutesSerializer(serializers.Serializer):
    area = serializers.CharField()
    name = serializers.CharField()
    impacted_minutes = serializers.FloatField()
    outage_minutes = serializers.FloatField()


class SlaSummarySerializer(serializers.Serializer):
    organization = serializers.CharField(source="slug")
    name = serializers.CharField()
    month = serializers.CharField(source="month.key")
    month_to_date = serializers.BooleanField()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    period_minutes = serializers.FloatField()
    maintenance_minutes = serializers.FloatField()
    counted_minutes = serializers.FloatField()
    impacted_minutes = serializers.FloatField()
    outage_minutes = serializers.FloatField()
    availability = serializers.SerializerMethodField(
        help_text="Measured availability in percent, rounded down to 4 places."
    )
    target = serializers.DecimalField(max_digits=6, decimal_places=3, coerce_to_string=False)
    meets_target = serializers.BooleanField()
    credit = serializers.DecimalField(
        max_digits=6, decimal_places=2, coerce_to_string=False,
        help_text="Service credit in percent of the monthly fee (0 when no tier applies).",
    )
    credit_tier_below = serializers.DecimalField(
        source="credit_below", max_digits=6, decimal_places=3, coerce_to_string=False,
        allow_null=True,
    )

    def get_availability(self, report) -> float:
        return float(report.availability_decimal)


class SlaReportSerializer(SlaSummarySerializer):
    areas = AreaMinutesSerializer(many=True)


# --- Promises ----------------------------------------------------------------------------------


class PromiseLineSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    due_at = serializers.DateTimeField(allow_null=True)
    sent_at = serializers.DateTimeField(allow_null=True)
    outcome = serializers.CharField(help_text="kept | missed | overdue | pending | no_promise")
    late_by_minutes = serializers.FloatField(source="late_minutes", allow_null=True)


class TenantPromisesSerializer(serializers.Serializer):
    organization = serializers.CharField(source="slug")
    name = serializers.CharField()
    clock_start = serializers.DateTimeField()
    first_notice = PromiseLineSerializer(allow_null=True)
    time_to_first_notice_minutes = serializers.FloatField(allow_null=True)
    updates = PromiseLineSerializer(many=True)
    updates_kept = serializers.IntegerField()
    updates_missed = serializers.IntegerField()
    overdue_now = PromiseLineSerializer(allow_null=True)
    worst_lateness_minutes = serializers.SerializerMethodField()

    def get_worst_lateness_minutes(self, tenant) -> float | None:
        late = tenant.worst_lateness
        return None if late is None else round(late.total_seconds() / 60, 1)


class PromiseTotalsSerializer(serializers.Serializer):
    kept = serializers.IntegerField()
    missed = serializers.IntegerField()
    overdue = serializers.IntegerField()
    first_kept = serializers.IntegerField()
    first_missed = serializers.IntegerField()
    updates_kept = serializers.IntegerField()
    updates_missed = serializers.IntegerField()
    share_kept = serializers.SerializerMethodField(help_text="0..1, null with no promise due")

    def get_share_kept(self, totals) -> float | None:
        share = totals.share_kept
        return None if share is None else round(float(share), 4)


class IncidentPromisesSerializer(serializers.Serializer):
    number = serializers.CharField()
    title = serializers.CharField()
    severity = serializers.CharField()
    status = serializers.CharField()
    detected_at = serializers.DateTimeField()
    totals = PromiseTotalsSerializer()
    tenants = TenantPromisesSerializer(many=True)


class MonthPromisesSerializer(serializers.Serializer):
    month = serializers.CharField(source="month.key")
    totals = PromiseTotalsSerializer()
    incidents = IncidentPromisesSerializer(many=True)
