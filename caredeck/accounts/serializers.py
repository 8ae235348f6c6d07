"""API shapes of organizations, products, people, tokens and access requests."""

from __future__ import annotations

from rest_framework import serializers

from caredeck.accounts.access import capabilities_in, tenants_for
from caredeck.accounts.models import (
    AccessRequest,
    ApiToken,
    Contract,
    Organization,
    PartnerLink,
    Product,
    User,
)
from caredeck.accounts.roles import DELEGABLE_CAPABILITIES, OrganizationKind, Role
from caredeck.accounts.services import CONTRACT_FIELDS
from caredeck.core.api import SlugRelatedField


class ProductSerializer(serializers.ModelSerializer):
    lead = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(role_grants__role=Role.PRODUCT_MANAGER).distinct(),
        required=False, allow_null=True,
    )

    class Meta:
        model = Product
        fields = ["slug", "name", "description", "vote_threshold", "lead", "is_active"]
        extra_kwargs = {"slug": {"validators": []}, "name": {"validators": []}}


class CriticalityMinutesField(serializers.DictField):
    child = serializers.IntegerField(min_value=1, max_value=525600)


class ContractSerializer(serializers.ModelSerializer):
    case_response_minutes = CriticalityMinutesField(required=False)
    case_resolution_minutes = CriticalityMinutesField(required=False)

    class Meta:
        model = Contract
        fields = list(CONTRACT_FIELDS)

    def to_internal_value(self, data):
        # A misspelt term must not be dropped silently: the tenant would get the default.
        if isinstance(data, dict):
            unknown = sorted(str(name) for name in data if name not in self.fields)
            if unknown:
                known = ", ".join(CONTRACT_FIELDS)
                raise serializers.ValidationError(
                    {name: [f"Unknown contract term. Use: {known}."] for name in unknown}
                )
        return super().to_internal_value(data)


class OrganizationSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=OrganizationKind.choices)
    platforms = SlugRelatedField(
        slug_field="slug", many=True, required=False, queryset=Product.objects.all()
    )
    tam = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(role_grants__role=Role.TAM).distinct(),
        required=False, allow_null=True,
    )
    contract = ContractSerializer(required=False)

    class Meta:
        model = Organization
        fields = [
            "slug", "name", "kind", "segment", "platforms", "tam", "contract", "is_active",
            "created_at",
        ]
        read_only_fields = ["created_at"]
        extra_kwargs = {"slug": {"required": False, "validators": []}}


class UserSerializer(serializers.ModelSerializer):
    organization = SlugRelatedField(
        slug_field="slug", queryset=Organization.objects.all()
    )
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=Role.choices), required=False
    )
    password = serializers.CharField(
        write_only=True, required=False, allow_blank=False, max_length=128,
        style={"input_type": "password"},
        help_text="Optional. Without it an invitation is e-mailed.",
    )
    invitation_pending = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = [
            "id", "email", "name", "organization", "roles", "password", "timezone",
            "is_active", "invitation_pending", "date_joined",
        ]
        read_only_fields = ["id", "date_joined"]
        extra_kwargs = {"email": {"validators": []}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            # Only the actor's tenants are valid choices; others answer "does not exist".
            organization = self.fields.get("organization")
            if organization is not None and not organization.read_only:
                organization.queryset = tenants_for(request.user)


class UserUpdateSerializer(UserSerializer):
    """On update, e-mail and organization are fixed; passwords change by reset only."""

    organization = SlugRelatedField(slug_field="slug", read_only=True)

    class Meta(UserSerializer.Meta):
        fields = [f for f in UserSerializer.Meta.fields if f != "password"]
        read_only_fields = ["id", "date_joined", "email"]


class MeSerializer(UserUpdateSerializer):
    capabilities = serializers.SerializerMethodField()
    tenants = serializers.SerializerMethodField()

    class Meta(UserUpdateSerializer.Meta):
        fields = [*UserUpdateSerializer.Meta.fields, "capabilities", "tenants"]

    def get_capabilities(self, user) -> list[str]:
        return sorted(capabilities_in(user, None))

    def get_tenants(self, user) -> list[str]:
        return list(tenants_for(user).order_by("slug").values_list("slug", flat=True)[:500])


class TokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "hint", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = ["id", "hint", "created_at", "last_used_at", "revoked_at"]


class NewTokenSerializer(TokenSerializer):
    token = serializers.CharField(read_only=True, help_text="Shown once; store it now.")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]


class AccessRequestSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(
        choices=[(OrganizationKind.CUSTOMER, "Customer"), (OrganizationKind.PARTNER, "Partner")]
    )
    organization = SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = AccessRequest
        fields = [
            "id", "name", "email", "company", "kind", "message", "status", "created_at",
            "decided_at", "decision_note", "organization",
        ]
        read_only_fields = [
            "id", "status", "created_at", "decided_at", "decision_note", "organization",
        ]


class AccessApproveSerializer(serializers.Serializer):
    organization = SlugRelatedField(
        slug_field="slug", queryset=Organization.objects.all(), required=False, allow_null=True
    )
    new_organization_name = serializers.CharField(required=False, allow_blank=True, max_length=120)
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=Role.choices), required=False
    )


class AccessDeclineSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class PartnerLinkSerializer(serializers.ModelSerializer):
    partner = SlugRelatedField(
        slug_field="slug", queryset=Organization.objects.filter(kind=OrganizationKind.PARTNER)
    )
    customer = SlugRelatedField(
        slug_field="slug", queryset=Organization.objects.filter(kind=OrganizationKind.CUSTOMER)
    )
    rights = serializers.ListField(
        child=serializers.ChoiceField(choices=[(c.value, c.label) for c in DELEGABLE_CAPABILITIES]),
        required=False,
    )

    class Meta:
        model = PartnerLink
        fields = ["id", "partner", "customer", "rights", "created_at"]
        read_only_fields = ["id", "created_at"]
