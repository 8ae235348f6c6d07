"""The API remote probe agents use: `GET /api/v1/probe/runs/?limit=N` leases the due runs
of the agent's location, `POST /api/v1/probe/results/` records their outcomes. An agent
authenticates with its location's token (`Authorization: Bearer cdp_…`), not as a
person: it can do nothing else, and it only reports runs leased to its own location.
"""

from __future__ import annotations

import datetime

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from caredeck.monitoring import housekeeping, recording, services
from caredeck.monitoring.models import CheckAssignment

MAX_LEASE = 1000
MAX_RESULTS = 2000


def _location(request):
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.startswith("Bearer ") else ""
    location = services.location_for_token(token)
    if location is None:
        raise AuthenticationFailed("Give a probe agent token: Authorization: Bearer cdp_…")
    housekeeping.agent_seen(location)
    return location


class AgentView(APIView):
    # The agent's token is checked by the view itself (not a person's session or token),
    # before anything else: without it every method is refused, not "not allowed".
    authentication_classes: list = []
    permission_classes: list = []

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.location = _location(request)


class ProbeRuns(AgentView):
    @extend_schema(
        summary="Lease the due runs of the agent's location",
        responses=inline_serializer("ProbeRuns", {"runs": serializers.ListField()}),
    )
    def get(self, request):
        location = self.location
        try:
            limit = min(max(int(request.query_params.get("limit", 200)), 1), MAX_LEASE)
        except (TypeError, ValueError):
            raise ValidationError({"limit": ["Give a whole number."]}) from None
        runs = recording.lease_due([location.pk], limit=limit)
        return Response({"runs": [{**run.__dict__, "scheduled_at": run.scheduled_at.isoformat()}
                                  for run in runs]})


def _when(value, field: str, errors: dict, *, required: bool = True):
    if value in (None, "") and not required:
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None or parsed.tzinfo is None:
        errors[field] = ["Give an ISO 8601 time with its UTC offset."]
        return None
    return parsed.astimezone(datetime.UTC)


class ProbeResults(AgentView):
    @extend_schema(
        summary="Report outcomes of leased runs",
        request=inline_serializer("ProbeResultsIn", {"results": serializers.ListField()}),
        responses=inline_serializer("ProbeResultsOut", {"recorded": serializers.IntegerField()}),
    )
    def post(self, request):
        location = self.location
        rows = request.data.get("results") if isinstance(request.data, dict) else None
        if not isinstance(rows, list) or len(rows) > MAX_RESULTS:
            raise ValidationError({"results": [f"Give a list of at most {MAX_RESULTS} outcomes."]})
        mine = set(CheckAssignment.objects.filter(
            location=location, pk__in=[r.get("assignment_id") for r in rows
                                       if isinstance(r, dict) and isinstance(
                                           r.get("assignment_id"), int)],
        ).values_list("pk", flat=True))
        outcomes, errors = [], {}
        for index, row in enumerate(rows):
            problems: dict = {}
            if not isinstance(row, dict) or row.get("assignment_id") not in mine:
                errors[str(index)] = ["Not a run leased to this location."]
                continue
            outcome = recording.RunOutcome(
                assignment_id=row["assignment_id"],
                scheduled_at=_when(row.get("scheduled_at"), "scheduled_at", problems),
                started_at=_when(row.get("started_at"), "started_at", problems),
                ok=bool(row.get("ok")),
                duration_ms=float(row.get("duration_ms") or 0)
                if isinstance(row.get("duration_ms"), int | float) else 0.0,
                status_code=row.get("status_code") if isinstance(row.get("status_code"), int)
                else None,
                error=str(row.get("error") or "")[:500],
                steps=row.get("steps") if isinstance(row.get("steps"), list) else [],
                evidence=str(row.get("evidence") or "")[:4000],
                tls_expires_at=_when(row.get("tls_expires_at"), "tls_expires_at", problems,
                                     required=False),
            )
            if problems:
                errors[str(index)] = [f"{k}: {m[0]}" for k, m in problems.items()]
                continue
            outcomes.append(outcome)
        if errors:
            raise ValidationError({"results": errors})
        recording.record(outcomes)
        return Response({"recorded": len(outcomes)})
