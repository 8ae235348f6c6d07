"""API of the inbox, subscriptions, organizations' webhooks and the delivery dashboard."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from caredeck.accounts.access import has_capability
from caredeck.accounts.roles import Capability
from caredeck.accounts.selectors import organization_get
from caredeck.core.api import Pagination
from caredeck.core.middleware import current_tenant
from caredeck.notify import selectors, services
from caredeck.notify import serializers as s
from caredeck.notify.models import Channel, InAppNotification, MessageStatus, OutboundMessage


def _swagger(view) -> bool:
    return getattr(view, "swagger_fake_view", False)  # schema generation has no user


class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's own in-app inbox, unread first."""

    serializer_class = s.NotificationSerializer
    lookup_url_kwarg = "notification_id"

    def get_queryset(self):
        if _swagger(self):
            return InAppNotification.objects.none()
        notifications = selectors.inbox_of(self.request.user)
        if self.request.query_params.get("unread") in ("1", "true", "yes"):
            notifications = notifications.filter(read_at__isnull=True)
        return notifications

    @extend_schema(
        parameters=[OpenApiParameter("unread", OpenApiTypes.BOOL, description="Only unread.")]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses=s.NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, notification_id=None):
        notification = selectors.notification_get(request.user, notification_id)
        notification = services.notification_mark_read(
            actor=request.user, notification=notification
        )
        return Response(s.NotificationSerializer(notification).data)

    @extend_schema(
        request=None,
        responses=inline_serializer("NotificationsMarked", {"marked": serializers.IntegerField()}),
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        return Response({"marked": services.notifications_mark_all_read(actor=request.user)})


class SubscriptionView(GenericAPIView):
    """GET: each event type one can choose channels for, with the channels in use.
    POST {event, channels}: choose them (a mandatory event keeps at least one)."""

    serializer_class = s.SubscriptionSerializer
    pagination_class = Pagination

    def get(self, request):
        rows = selectors.subscriptions_of(request.user)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(s.SubscriptionSerializer(page, many=True).data)

    @extend_schema(request=s.SubscriptionSetSerializer, responses=s.SubscriptionSerializer)
    def post(self, request):
        body = s.SubscriptionSetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        event = body.validated_data["event"]
        services.subscription_set(
            actor=request.user, event=event, channels=body.validated_data["channels"]
        )
        (row,) = [r for r in selectors.subscriptions_of(request.user) if r.event == event]
        return Response(s.SubscriptionSerializer(row).data)


class WebhookViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet,
):
    """An organization's webhook endpoints: the organization one works for now, or the
    one named by `?organization=<slug>` (list) / `organization` (create)."""

    serializer_class = s.WebhookSerializer
    lookup_url_kwarg = "webhook_id"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def _organization(self):
        slug = self.request.query_params.get("organization")
        if slug:
            return organization_get(self.request.user, slug)
        return current_tenant(self.request)

    def get_queryset(self):
        if _swagger(self):
            from caredeck.notify.models import WebhookEndpoint

            return WebhookEndpoint.objects.none()
        return selectors.webhooks_of(self.request.user, self._organization())

    def get_object(self):
        return selectors.webhook_get(self.request.user, self.kwargs["webhook_id"])

    @extend_schema(
        parameters=[OpenApiParameter("organization", str, description="Organization slug.")]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("is_active", None)
        organization = data.pop("organization", None) or current_tenant(self.request)
        serializer.instance = services.webhook_create(
            actor=self.request.user, organization=organization, **data
        )

    def perform_update(self, serializer):
        serializer.instance = services.webhook_update(
            actor=self.request.user, endpoint=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.webhook_delete(actor=self.request.user, endpoint=instance)

    @extend_schema(request=None, responses={202: s.DeliverySerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, webhook_id=None):
        """Queue a "webhook.test" message to this endpoint; see it in `deliveries/`."""
        message = services.webhook_test(actor=request.user, endpoint=self.get_object())
        return Response(s.DeliverySerializer(message).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=s.WebhookDeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request, webhook_id=None):
        """The endpoint's delivery log, newest first."""
        page = self.paginate_queryset(selectors.webhook_deliveries(self.get_object()))
        return self.get_paginated_response(s.WebhookDeliverySerializer(page, many=True).data)


class DeliveryPagination(Pagination):
    """The usual page, with the dashboard's counts beside it."""

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        summary = self.summary
        age = summary.oldest_queued_age
        response.data = {
            "counts": summary.counts,
            "oldest_queued_at": summary.oldest_queued_at,
            "oldest_queued_age_seconds": int(age.total_seconds()) if age is not None else None,
            **response.data,
        }
        return response

    def get_paginated_response_schema(self, schema):
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"] = {
            "counts": {
                "type": "object",
                "properties": {status: {"type": "integer"} for status in MessageStatus.values},
            },
            "oldest_queued_at": {"type": "string", "format": "date-time", "nullable": True},
            "oldest_queued_age_seconds": {"type": "integer", "nullable": True},
            **paginated["properties"],
        }
        return paginated


class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The outbox, for provider staff: counts per status, the oldest queued message's
    age, and each message with its last error. Filters: status, channel, event,
    organization (slug)."""

    serializer_class = s.DeliverySerializer
    pagination_class = DeliveryPagination
    lookup_url_kwarg = "message_id"

    def get_serializer_class(self):
        return s.DeliveryDetailSerializer if self.action == "retrieve" else s.DeliverySerializer

    def _visible(self):
        if _swagger(self):
            return OutboundMessage.objects.none()
        if not has_capability(self.request.user, Capability.VIEW_DELIVERIES):
            raise PermissionDenied("Only provider staff see deliveries.")
        return selectors.messages_visible(self.request.user)

    def get_queryset(self):
        messages = self._visible()
        params = self.request.query_params
        if params.get("status") in MessageStatus.values:
            messages = messages.filter(status=params["status"])
        if params.get("channel") in Channel.values:
            messages = messages.filter(channel=params["channel"])
        if params.get("event"):
            # Event slugs are words and dots; anything else (a NUL byte would make
            # PostgreSQL raise) names no event.
            event = params["event"]
            valid = len(event) <= 60 and all(c.isalnum() or c in "._-" for c in event)
            messages = messages.filter(event=event) if valid else messages.none()
        if params.get("organization"):
            messages = messages.filter(
                organization=organization_get(self.request.user, params["organization"])
            )
        return messages

    def get_object(self):
        return selectors.message_get(self.request.user, self.kwargs["message_id"])

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=MessageStatus.values),
            OpenApiParameter("channel", str, enum=Channel.values),
            OpenApiParameter("event", str),
            OpenApiParameter("organization", str, description="Organization slug."),
        ]
    )
    def list(self, request, *args, **kwargs):
        self.paginator.summary = selectors.outbox_summary(self._visible())
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses=s.DeliverySerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request, message_id=None):
        """Try a failed or dead message again now (409 when it is neither)."""
        message = services.message_retry_now(actor=request.user, message=self.get_object())
        return Response(s.DeliverySerializer(message).data)
