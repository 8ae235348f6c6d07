"""API shapes of the inbox, subscriptions, webhooks and the outbox."""

from __future__ import annotations

from rest_framework import serializers

from caredeck.accounts.access import tenants_for
from caredeck.accounts.models import Organization
from caredeck.core.api import SlugRelatedField
from caredeck.notify.models import (
    InAppNotification,
    MessageStatus,
    OutboundMessage,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookFormat,
)


class NotificationSerializer(serializers.ModelSerializer):
    unread = serializers.SerializerMethodField()

    class Meta:
        model = InAppNotification
        fields = ["id", "event", "title", "body", "url", "created_at", "read_at", "unread"]
        read_only_fields = fields

    def get_unread(self, notification) -> bool:
        return notification.read_at is None


class SubscriptionSerializer(serializers.Serializer):
    event = serializers.CharField(read_only=True)
    label = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    mandatory = serializers.BooleanField(
        read_only=True, help_text="Cannot be switched off, only re-routed to other channels."
    )
    channels = serializers.ListField(
        child=serializers.CharField(), source="effective", read_only=True,
        help_text="The channels in use now: those chosen, or the event's defaults.",
    )
    available_channels = serializers.ListField(
        child=serializers.CharField(), source="channels", read_only=True,
        help_text="The channels one may choose for this event type.",
    )


class SubscriptionSetSerializer(serializers.Serializer):
    event = serializers.CharField(max_length=60)
    channels = serializers.ListField(
        child=serializers.CharField(max_length=20), allow_empty=True, max_length=10
    )


class WebhookSerializer(serializers.ModelSerializer):
    organization = SlugRelatedField(
        slug_field="slug", queryset=Organization.objects.none(), required=False,
        help_text="Slug; by default the organization one works for now.",
    )
    # The service validates URL and events (a 400 on the field); the serializer only
    # checks shapes, so the API and the pages say the same thing.
    url = serializers.CharField(max_length=500)
    format = serializers.ChoiceField(choices=WebhookFormat.choices, required=False)
    events = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, max_length=100,
        help_text="Event types it receives; empty: every event of the organization.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id", "organization", "name", "url", "format", "events", "is_active", "secret",
            "created_at",
        ]
        read_only_fields = ["id", "secret", "created_at"]
        extra_kwargs = {
            "secret": {"help_text": "Signs X-CareDeck-Signature (HMAC-SHA256)."},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        field = self.fields["organization"]
        if isinstance(self.instance, WebhookEndpoint):
            field.read_only = True  # an endpoint never moves to another organization
        elif request is not None and request.user.is_authenticated:
            field.queryset = tenants_for(request.user)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event = serializers.CharField(source="message.event", read_only=True)
    ok = serializers.BooleanField(read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "message", "event", "attempted_at", "status_code", "duration_ms", "error", "ok",
        ]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    # A plain string in the schema: an enum named "status" would collide with the access
    # requests' one (drf-spectacular warns, and `check --deploy` fails on warnings).
    status = serializers.CharField(
        read_only=True, help_text=f"One of: {', '.join(MessageStatus.values)}."
    )

    class Meta:
        model = OutboundMessage
        fields = [
            "id", "dedupe_key", "channel", "event", "organization", "recipient", "webhook",
            "subject", "mandatory", "status", "attempts", "created_at", "next_attempt_at",
            "sent_at", "last_error",
        ]
        read_only_fields = fields


class DeliveryDetailSerializer(DeliverySerializer):
    webhook_deliveries = WebhookDeliverySerializer(many=True, read_only=True)

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "body_text", "url", "webhook_deliveries"]
        read_only_fields = fields

