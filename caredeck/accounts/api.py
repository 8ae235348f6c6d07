"""API of organizations, products, people, tokens, access requests and partner links."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from caredeck.accounts import selectors, services
from caredeck.accounts import serializers as s
from caredeck.accounts.models import ApiToken
from caredeck.core.selectors import one_or_404


class ProductViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, viewsets.GenericViewSet,
):
    serializer_class = s.ProductSerializer
    lookup_field = "slug"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.products_visible(self.request.user).order_by("name")

    def get_object(self):
        return selectors.product_get(self.request.user, self.kwargs["slug"])

    def perform_create(self, serializer):
        serializer.instance = services.product_create(
            actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.product_update(
            actor=self.request.user, product=serializer.instance, **serializer.validated_data
        )


class OrganizationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, viewsets.GenericViewSet,
):
    serializer_class = s.OrganizationSerializer
    lookup_field = "slug"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.organizations_visible(self.request.user).order_by("kind", "name")

    def get_object(self):
        return selectors.organization_get(self.request.user, self.kwargs["slug"])

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.organization_create(
            actor=self.request.user,
            name=data["name"], kind=data["kind"], slug=data.get("slug", ""),
            platforms=data.get("platforms", []), tam=data.get("tam"),
            contract=data.get("contract", {}),
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        organization = services.organization_update(
            actor=self.request.user, organization=serializer.instance,
            platforms=data.pop("platforms", None), contract=data.pop("contract", None), **data,
        )
        # Answer with the stored terms, not the contract cached before the change.
        serializer.instance = selectors.organization_get(self.request.user, organization.slug)


class UserViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, viewsets.GenericViewSet,
):
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return s.UserUpdateSerializer
        return s.UserSerializer

    def get_queryset(self):
        users = selectors.users_visible(self.request.user).order_by("name", "email")
        organization = self.request.query_params.get("organization")
        if organization:
            users = users.filter(organization__slug=organization[:50].replace("\x00", ""))
        return users

    def get_object(self):
        return selectors.user_get(self.request.user, self.kwargs["pk"])

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.user_invite(
            actor=self.request.user, organization=data["organization"], email=data["email"],
            name=data["name"], roles=data.get("roles", []), password=data.get("password"),
            timezone_name=data.get("timezone", "UTC"),
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.user_update(
            actor=self.request.user, user=serializer.instance, roles=data.pop("roles", None),
            **data,
        )


class MeView(APIView):
    @extend_schema(responses=s.MeSerializer)
    def get(self, request):
        return Response(s.MeSerializer(request.user, context={"request": request}).data)


class TokenViewSet(
    mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = s.TokenSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return ApiToken.objects.none()
        return selectors.tokens_of(self.request.user)

    def get_object(self):
        return selectors.token_get(self.request.user, self.kwargs["pk"])

    @extend_schema(request=s.TokenSerializer, responses={201: s.NewTokenSerializer})
    def create(self, request, *args, **kwargs):
        serializer = s.TokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, raw = services.token_create(
            actor=request.user, name=serializer.validated_data["name"]
        )
        data = s.TokenSerializer(token).data
        data["token"] = raw
        return Response(data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.token_revoke(actor=self.request.user, token=instance)


class AccessRequestThrottle(AnonRateThrottle):
    rate = "20/hour"


class AccessRequestViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Anyone may ask for access; provider administrators decide."""

    serializer_class = s.AccessRequestSerializer

    def get_permissions(self):
        return [AllowAny()] if self.action == "create" else super().get_permissions()

    def get_throttles(self):
        return [AccessRequestThrottle()] if self.action == "create" else super().get_throttles()

    def get_queryset(self):
        return selectors.access_requests_visible(self.request.user)

    def get_object(self):
        return selectors.access_request_get(self.request.user, self.kwargs["pk"])

    def perform_create(self, serializer):
        serializer.instance = services.access_request_submit(**serializer.validated_data)

    @extend_schema(request=s.AccessApproveSerializer, responses=s.AccessRequestSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        access_request = self.get_object()
        body = s.AccessApproveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        approved = services.access_request_approve(
            actor=request.user, access_request=access_request, **body.validated_data
        )
        return Response(s.AccessRequestSerializer(approved).data)

    @extend_schema(request=s.AccessDeclineSerializer, responses=s.AccessRequestSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        access_request = self.get_object()
        body = s.AccessDeclineSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        declined = services.access_request_decline(
            actor=request.user, access_request=access_request,
            note=body.validated_data.get("note", ""),
        )
        return Response(s.AccessRequestSerializer(declined).data)


class PartnerLinkViewSet(
    mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = s.PartnerLinkSerializer

    def get_queryset(self):
        from caredeck.accounts.models import PartnerLink

        visible = selectors.organizations_visible(self.request.user)
        return (
            PartnerLink.objects.filter(partner__in=visible, customer__in=visible)
            .select_related("partner", "customer")
        )

    def get_object(self):
        return one_or_404(self.get_queryset(), "link", pk=self.kwargs["pk"])

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.partner_link_set(
            actor=self.request.user, partner=data["partner"], customer=data["customer"],
            rights=data.get("rights", []),
        )

    def perform_destroy(self, instance):
        services.partner_link_remove(actor=self.request.user, link=instance)


