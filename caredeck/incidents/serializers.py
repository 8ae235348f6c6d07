"""API shapes of incidents. A tenant's people get the tenant's view: its own rows of
`affected`, the public updates; staff get every tenant and the internal fields."""

from __future__ import annotations

from rest_framework import serializers

from caredeck.incidents.models import UPDATE_STATUSES, Severity


class FailureScopeSerializer(serializers.Serializer):
    target = serializers.CharField(max_length=60)
    failure = serializers.CharField(max_length=60, required=False, allow_blank=True,
                                    allow_null=True)


class ScopeSerializer(serializers.Serializer):
    failure = FailureScopeSerializer(required=False, allow_null=True)
    organizations = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, max_length=5000
    )
    areas = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, max_length=100
    )


class DeclareSerializer(ScopeSerializer):
    title = serializers.CharField(max_length=200)
    severity = serializers.ChoiceField(choices=Severity.choices)
    detected_at = serializers.DateTimeField(required=False)
    manager = serializers.IntegerField(required=False, min_value=1)
    first_notice = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    notify = serializers.BooleanField(required=False, default=True)
    security_involved = serializers.BooleanField(required=False, default=False)
    executive_involved = serializers.BooleanField(required=False, default=False)


class UpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=list(UPDATE_STATUSES))
    body = serializers.CharField(max_length=20000)
    public = serializers.BooleanField(required=False, default=True)


class ResolveSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=20000)


class EditSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    customer_impact = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    customer_experience = serializers.CharField(required=False, allow_blank=True,
                                                max_length=20000)
    technical_description = serializers.CharField(required=False, allow_blank=True,
                                                  max_length=20000)
    report = serializers.CharField(required=False, allow_blank=True, max_length=20000)


class TeamSerializer(serializers.Serializer):
    user = serializers.IntegerField(min_value=1)
    role = serializers.CharField(max_length=20)


class EvidenceSerializer(serializers.Serializer):
    text = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    file = serializers.FileField(required=False)


def affected_data(row) -> dict:
    return {
        "organization": row.organization.slug,
        "name": row.organization.name,
        "areas": row.areas,
        "impact": row.impact_text,
        "in_scope": row.removed_at is None,
        "added_at": row.added_at,
        "removed_at": row.removed_at,
        "clocks": {
            "next_notice": row.due_kind or None,
            "due_at": row.due_at,
            "first_notice_at": row.first_notice_at,
            "last_notice_at": row.last_notice_at,
        },
    }


def update_data(update, staff: bool) -> dict:
    data = {"id": update.pk, "status": update.status, "body": update.body,
            "created_at": update.created_at}
    if staff:
        data["public"] = update.public
        data["author"] = update.author.email if update.author else None
    return data


def incident_summary(incident, staff: bool) -> dict:
    data = {
        "number": incident.number, "title": incident.title, "severity": incident.severity,
        "status": incident.status, "detected_at": incident.detected_at,
        "resolved_at": incident.resolved_at, "closed_at": incident.closed_at,
    }
    if staff:
        data.update({
            "manager": incident.manager_id, "source": incident.source,
            "failure": {"target": incident.failure_target, "failure": incident.failure_type}
            if incident.failure_target else None,
        })
    return data


def incident_data(incident, *, staff: bool, affected, updates) -> dict:
    data = incident_summary(incident, staff)
    data.update({
        "affected": [affected_data(row) for row in affected],
        "updates": [update_data(u, staff) for u in updates],
        "report": incident.report if staff or incident.report_published_at else "",
        "report_due_at": incident.report_due_at,
        "report_published_at": incident.report_published_at,
    })
    if staff:
        data.update({
            "declared_at": incident.declared_at,
            "customer_impact": incident.customer_impact,
            "customer_experience": incident.customer_experience,
            "technical_description": incident.technical_description,
            "security_involved": incident.security_involved,
            "executive_involved": incident.executive_involved,
            "problem": incident.problem.number if incident.problem_id else None,
            "team": [{"user": m.user_id, "email": m.user.email, "role": m.role}
                     for m in incident.team.select_related("user")],
        })
    return data


def timeline_data(event, staff: bool) -> dict:
    data = {"at": event.at, "kind": event.kind, "text": event.text}
    if staff:
        data.update({"public": event.public,
                     "actor": event.actor.email if event.actor else None,
                     "organization": event.organization.slug if event.organization else None,
                     "attachment": event.attachment_name or None})
    return data
