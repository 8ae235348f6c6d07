"""The audit log over the API: `GET /api/v1/audit/?object=<kind>:<id>`."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound, ValidationError

from caredeck.accounts.access import has_capability
from caredeck.accounts.roles import Capability
from caredeck.core.audit import AUDITED, audit_entries_for, audited_object_for
from caredeck.core.models import AuditEntry


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label")
    object = serializers.SerializerMethodField()

    class Meta:
        model = AuditEntry
        fields = ["id", "at", "actor", "action", "object", "object_label", "changes"]

    def get_object(self, entry) -> str:
        return f"{entry.object_kind}:{entry.object_id}"


class AuditList(generics.ListAPIView):
    serializer_class = AuditEntrySerializer

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "object",
                OpenApiTypes.STR,
                required=True,
                description=f"<kind>:<id>, kind one of {', '.join(sorted(AUDITED))}",
            )
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        target = self.request.query_params.get("object", "")
        kind, sep, object_id = target.partition(":")
        if not sep or not object_id or "\x00" in target:
            raise ValidationError(
                {"object": ["Name the object as <kind>:<id>, e.g. organization:acme."]}
            )
        if kind not in AUDITED:
            raise ValidationError(
                {"object": [f"Unknown kind. Use one of: {', '.join(sorted(AUDITED))}."]}
            )
        obj = audited_object_for(self.request.user, kind, object_id[:64])
        if obj is None or not has_capability(
            self.request.user, Capability.VIEW_AUDIT, AUDITED[kind].owner_of(obj)
        ):
            raise NotFound("No such object.")
        return audit_entries_for(obj)
