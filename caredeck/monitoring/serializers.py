"""API shapes of synthetic monitoring (../shared/API.md, "Synthetic checks").

Input serializers check types and sizes (a bad field is a 400 on that field); the rules
(areas of the tenant's deployment, limits, what each kind of check needs) are the
services'. Output is built by the `*_data` functions; the `*Output` serializers only
describe those shapes for the schema.
"""

from __future__ import annotations

from django.core.validators import slug_re
from rest_framework import serializers

from caredeck.monitoring.models import CheckKind, CheckState, ProbeLocation
from caredeck.monitoring.services import LIMITS

SLUG_HELP = "A slug (letters, digits, hyphens, underscores)."


def has_nul(value, depth: int = 0) -> bool:
    """A NUL character anywhere in a JSON value (PostgreSQL refuses it in jsonb: a 500
    otherwise), or nesting deeper than anyone writes by hand."""
    if depth > 20:
        return True
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k, depth + 1) or has_nul(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v, depth + 1) for v in value)
    return False


class SafeJSONField(serializers.JSONField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if has_nul(value):
            raise serializers.ValidationError("Text in the JSON contains a NUL character, or "
                                              "it nests too deep.")
        return value


class SlugField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 60)
        kwargs.setdefault("help_text", SLUG_HELP)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value and not slug_re.match(value):
            raise serializers.ValidationError("Give a slug (letters, digits, hyphens).")
        return value


def _number(name: str, help_text: str = "") -> serializers.IntegerField:
    low, high = LIMITS[name]
    return serializers.IntegerField(min_value=low, max_value=high, required=False,
                                    help_text=help_text)


# --- Input ------------------------------------------------------------------------------


class CheckFilterSerializer(serializers.Serializer):
    organization = SlugField(required=False, allow_blank=True, help_text="Tenant slug.")
    state = serializers.ChoiceField(choices=CheckState.values, required=False,
                                    allow_blank=True)
    kind = serializers.ChoiceField(choices=CheckKind.choices, required=False, allow_blank=True)


class CheckWriteSerializer(serializers.Serializer):
    """Create (every field but the optional ones) and change (PATCH: any of them)."""

    organization = SlugField(help_text="Slug of one of your tenants (create only).")
    area = SlugField(help_text="A functional area the tenant's deployment uses.")
    name = serializers.CharField(max_length=120, required=False,
                                 help_text="Default: the kind and the target.")
    kind = serializers.ChoiceField(choices=CheckKind.choices)
    target = serializers.CharField(max_length=500, help_text="A URL or a SIP URI.")
    interval = _number("interval", "Seconds between runs (default 300).")
    timeout = _number("timeout", "Seconds (default 10); shorter than the interval.")
    retries = _number("retries", "Extra tries before a run counts as failed (default 0).")
    assertions = SafeJSONField(
        required=False,
        help_text='A list: {"type": "status", "value": 200}, {"type": "body_contains", '
        '"value": "…"}, {"type": "json_path", "path": "$.a.b", "value": …}, {"type": '
        '"header", "name": "…", "value": "…"}, {"type": "latency_ms", "max": 500}.',
    )
    config = SafeJSONField(required=False, help_text="Kind-specific settings (an object).")
    failures_to_alert = _number("failures_to_alert",
                                "Consecutive failures before a location says down (2).")
    successes_to_recover = _number("successes_to_recover",
                                   "Consecutive successes before it says up again (2).")
    quorum = _number("quorum", "Down when this many locations agree (2).")
    locations = serializers.ListField(
        child=SlugField(), required=False, allow_empty=False, max_length=50,
        help_text="Probe location ids; default: the locations at the tenant's PoPs.",
    )
    is_active = serializers.BooleanField(required=False, help_text="false pauses the check.")


class ResultFilterSerializer(serializers.Serializer):
    location = SlugField(required=False, allow_blank=True, help_text="Probe location id.")
    failures = serializers.BooleanField(required=False, default=False,
                                        help_text="1: failed runs only.")


class LocationCreateSerializer(serializers.Serializer):
    slug = SlugField(help_text="The PoP or region id it probes from, e.g. pop-ashburn.")
    name = serializers.CharField(max_length=120)
    mode = serializers.ChoiceField(choices=ProbeLocation.Mode.values, required=False,
                                   default=ProbeLocation.Mode.BUILTIN)
    pop = SlugField(required=False, allow_blank=True, allow_null=True, help_text="PoP id.")
    region = SlugField(required=False, allow_blank=True, allow_null=True,
                       help_text="Region id.")


# --- Output -----------------------------------------------------------------------------


def assignment_data(assignment) -> dict:
    return {
        "location": assignment.location.slug,
        "state": assignment.state,
        "consecutive_failures": assignment.consecutive_failures,
        "consecutive_successes": assignment.consecutive_successes,
        "last_run_at": assignment.last_run_at,
        "last_ok": assignment.last_ok,
        "last_duration_ms": assignment.last_duration_ms,
    }


def check_data(check, *, assignments=None, availability_30d=None) -> dict:
    assignments = list(assignments if assignments is not None
                       else check.assignments.select_related("location"))
    data = {
        "id": check.pk,
        "organization": check.organization.slug,
        "area": check.area.slug,
        "name": check.name,
        "kind": check.kind,
        "target": check.target,
        "interval": check.interval,
        "timeout": check.timeout,
        "retries": check.retries,
        "assertions": check.assertions,
        "config": check.config,
        "failures_to_alert": check.failures_to_alert,
        "successes_to_recover": check.successes_to_recover,
        "quorum": check.quorum,
        "is_active": check.is_active,
        "state": check.state,
        "state_since": check.state_since,
        "failing_since": check.failing_since,
        "incident": check.incident.number if check.incident_id else None,
        "locations": sorted(a.location.slug for a in assignments),
        "created_at": check.created_at,
    }
    if availability_30d is not None:
        data["availability_30d"] = availability_30d
        data["location_states"] = [assignment_data(a) for a in
                                   sorted(assignments, key=lambda a: a.location.slug)]
    return data


def result_data(result) -> dict:
    return {
        "id": result.pk,
        "location": result.location.slug,
        "started_at": result.started_at,
        "scheduled_at": result.scheduled_at,
        "duration_ms": result.duration_ms,
        "ok": result.ok,
        "in_maintenance": result.in_maintenance,
        "status_code": result.status_code,
        "error": result.error,
        "steps": result.steps,
        "evidence": result.evidence,
        "tls_expires_at": result.tls_expires_at,
    }


def location_data(location, *, token: str = "") -> dict:
    data = {
        "slug": location.slug,
        "name": location.name,
        "mode": location.mode,
        "pop": location.pop.slug if location.pop_id else None,
        "region": location.region.slug if location.region_id else None,
        "is_active": location.is_active,
        "last_seen_at": location.last_seen_at,
        "silent_since": location.silent_since,
    }
    if token:
        data["token"] = token
    return data


class CheckOutput(serializers.Serializer):
    id = serializers.IntegerField()
    organization = serializers.CharField()
    area = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=CheckKind.choices)
    target = serializers.CharField()
    interval = serializers.IntegerField()
    timeout = serializers.IntegerField()
    retries = serializers.IntegerField()
    assertions = serializers.JSONField()
    config = serializers.JSONField()
    failures_to_alert = serializers.IntegerField()
    successes_to_recover = serializers.IntegerField()
    quorum = serializers.IntegerField()
    is_active = serializers.BooleanField()
    state = serializers.ChoiceField(choices=CheckState.values)
    state_since = serializers.DateTimeField()
    failing_since = serializers.DateTimeField(allow_null=True)
    incident = serializers.CharField(allow_null=True, help_text="Incident number.")
    locations = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()


class LocationStateOutput(serializers.Serializer):
    location = serializers.CharField()
    state = serializers.ChoiceField(choices=CheckState.values)
    consecutive_failures = serializers.IntegerField()
    consecutive_successes = serializers.IntegerField()
    last_run_at = serializers.DateTimeField(allow_null=True)
    last_ok = serializers.BooleanField(allow_null=True)
    last_duration_ms = serializers.IntegerField(allow_null=True)


class CheckDetailOutput(CheckOutput):
    availability_30d = serializers.FloatField(
        help_text="Time-based availability over the last 30 days, in %, maintenance "
        "excluded.")
    location_states = LocationStateOutput(many=True)


class StepOutput(serializers.Serializer):
    name = serializers.CharField()
    ms = serializers.FloatField()
    ok = serializers.BooleanField()
    detail = serializers.CharField(required=False)


class ResultOutput(serializers.Serializer):
    id = serializers.IntegerField()
    location = serializers.CharField()
    started_at = serializers.DateTimeField()
    scheduled_at = serializers.DateTimeField(allow_null=True)
    duration_ms = serializers.IntegerField()
    ok = serializers.BooleanField()
    in_maintenance = serializers.BooleanField()
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    steps = StepOutput(many=True)
    evidence = serializers.CharField(help_text="A response excerpt or a SIP trace.")
    tls_expires_at = serializers.DateTimeField(allow_null=True)


class LocationOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    mode = serializers.ChoiceField(choices=ProbeLocation.Mode.values)
    pop = serializers.CharField(allow_null=True)
    region = serializers.CharField(allow_null=True)
    is_active = serializers.BooleanField()
    last_seen_at = serializers.DateTimeField(allow_null=True)
    silent_since = serializers.DateTimeField(allow_null=True)


class LocationCreatedOutput(LocationOutput):
    token = serializers.CharField(
        required=False, help_text="An agent's token: shown this once, keep it.")
