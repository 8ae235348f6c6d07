"""Forms of the accounts pages. They parse input; the services validate and decide."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from caredeck.accounts.models import (
    AccessRequest,
    Contract,
    Organization,
    PartnerLink,
    Product,
    User,
)
from caredeck.accounts.roles import ROLES_BY_KIND, OrganizationKind, Role
from caredeck.accounts.services import CONTRACT_FIELDS

TIMEZONE_CHOICES = [(tz, tz) for tz in sorted(zoneinfo.available_timezones())]


class SignInForm(AuthenticationForm):
    username = forms.EmailField(
        label="E-mail", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    def clean_username(self):
        # Addresses are stored in lower case but typed in any case; lower-casing here also
        # keeps one lock-out counter per account (axes reads these credentials).
        return self.cleaned_data["username"].lower()


class EmailForm(forms.Form):
    email = forms.EmailField(
        label="E-mail", widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )


class ProductForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = ["name", "slug", "description", "vote_threshold", "lead", "is_active"]
        help_texts = {
            "slug": "Short id used in the API and URLs, e.g. voice-cloud.",
            "vote_threshold": "Votes an idea needs to move to PM review.",
            "lead": "The product manager told when a PM answer in the ideas lab is overdue.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lead"].queryset = User.objects.filter(
            role_grants__role=Role.PRODUCT_MANAGER, is_active=True
        ).distinct()
        self.fields["lead"].required = False
        if self.instance.pk:
            self.fields["slug"].disabled = True

    def _post_clean(self):
        # A ModelForm would copy the input onto the instance here, before the service
        # snapshots "before" for the audit log; the service validates the model instead.
        pass


class OrganizationForm(forms.ModelForm):
    kind = forms.ChoiceField(
        choices=[(OrganizationKind.CUSTOMER, "Customer"), (OrganizationKind.PARTNER, "Partner")]
    )
    platforms = forms.ModelMultipleChoiceField(
        queryset=Product.objects.filter(is_active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Organization
        fields = ["name", "slug", "kind", "segment", "platforms", "tam"]
        help_texts = {"slug": "Short id used in the API and URLs; leave empty to derive it."}

    def __init__(self, *args, tams=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["tam"].queryset = tams if tams is not None else User.objects.none()
        self.fields["tam"].required = False
        if self.instance.pk:
            self.fields["kind"].disabled = True
            self.fields["slug"].disabled = True

    def _post_clean(self):
        # Model validation happens in the service, which reports it field by field.
        pass


class ContractForm(forms.ModelForm):
    support_timezone = forms.ChoiceField(choices=TIMEZONE_CHOICES, initial="UTC")
    response_1 = forms.IntegerField(label="Criticality 1 (critical)", min_value=1)
    response_2 = forms.IntegerField(label="Criticality 2 (high)", min_value=1)
    response_3 = forms.IntegerField(label="Criticality 3 (medium)", min_value=1)
    response_4 = forms.IntegerField(label="Criticality 4 (low)", min_value=1)
    resolution_1 = forms.IntegerField(label="Criticality 1 (critical)", min_value=1)
    resolution_2 = forms.IntegerField(label="Criticality 2 (high)", min_value=1)
    resolution_3 = forms.IntegerField(label="Criticality 3 (medium)", min_value=1)
    resolution_4 = forms.IntegerField(label="Criticality 4 (low)", min_value=1)
    sla_credit_tiers = forms.CharField(
        label="SLA credit tiers", required=False, max_length=200,
        help_text="Availability below a level : credit in % of the monthly fee, e.g. "
        "99.99:5, 99:15, 95:100. Empty keeps the current tiers.",
    )

    class Meta:
        model = Contract
        # The per-criticality targets are edited as the eight fields above.
        fields = [
            f for f in CONTRACT_FIELDS if not f.startswith("case_") and f != "sla_credit_tiers"
        ]
        widgets = {
            "support_day_start": forms.TimeInput(attrs={"type": "time"}),
            "support_day_end": forms.TimeInput(attrs={"type": "time"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        contract = self.instance
        response = contract.case_response_minutes
        resolution = contract.case_resolution_minutes
        for level in "1234":
            self.fields[f"response_{level}"].initial = response.get(level)
            self.fields[f"resolution_{level}"].initial = resolution.get(level)
        self.fields["sla_credit_tiers"].initial = ", ".join(
            f"{t['below']}:{t['credit']}" for t in contract.sla_credit_tiers or []
        )

    def clean_sla_credit_tiers(self):
        text = self.cleaned_data["sla_credit_tiers"].strip()
        if not text:
            return None
        tiers = []
        for part in text.split(","):
            below, sep, credit = part.partition(":")
            if not sep or not below.strip() or not credit.strip():
                raise forms.ValidationError("Write each tier as level:credit, e.g. 99.99:5.")
            tiers.append({"below": below.strip(), "credit": credit.strip()})
        return tiers

    def _post_clean(self):
        pass

    def terms(self) -> dict:
        data = {name: self.cleaned_data[name] for name in self.Meta.fields}
        data["case_response_minutes"] = {
            level: self.cleaned_data[f"response_{level}"] for level in "1234"
        }
        data["case_resolution_minutes"] = {
            level: self.cleaned_data[f"resolution_{level}"] for level in "1234"
        }
        if self.cleaned_data.get("sla_credit_tiers"):
            data["sla_credit_tiers"] = self.cleaned_data["sla_credit_tiers"]
        return data


def role_choices(kind: str) -> list[tuple[str, str]]:
    allowed = ROLES_BY_KIND[kind]
    return [(role.value, role.label) for role in Role if role in allowed]


class InviteUserForm(forms.Form):
    name = forms.CharField(max_length=120)
    email = forms.EmailField(label="E-mail")
    roles = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, choices=[])

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roles"].choices = role_choices(organization.kind)


class UserForm(forms.Form):
    name = forms.CharField(max_length=120)
    timezone = forms.ChoiceField(choices=TIMEZONE_CHOICES)
    roles = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, choices=[], required=False
    )
    is_active = forms.BooleanField(label="Active (may sign in)", required=False)

    def __init__(self, *args, user: User, can_manage: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roles"].choices = role_choices(user.organization.kind)
        if not can_manage:
            del self.fields["roles"]
            del self.fields["is_active"]


class ProfileForm(forms.Form):
    name = forms.CharField(max_length=120)
    timezone = forms.ChoiceField(choices=TIMEZONE_CHOICES)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="What uses it, e.g. 'nightly export'.")


class AccessRequestForm(forms.ModelForm):
    class Meta:
        model = AccessRequest
        fields = ["name", "email", "company", "kind", "message"]
        widgets = {"message": forms.Textarea(attrs={"rows": 4})}

    def _post_clean(self):
        pass


class ApproveAccessForm(forms.Form):
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.none(),
        required=False,
        help_text="An existing organization the person belongs to…",
    )
    new_organization_name = forms.CharField(
        max_length=120, required=False, help_text="…or the name of a new one to create."
    )

    def __init__(self, *args, access_request: AccessRequest, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = Organization.objects.filter(kind=access_request.kind)
        self.fields["new_organization_name"].initial = access_request.company


class DeclineAccessForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Sent to the requester with the decision.",
    )


class PartnerLinkForm(forms.Form):
    partner = forms.ModelChoiceField(queryset=Organization.objects.filter(kind="partner"))
    rights = forms.MultipleChoiceField(
        choices=PartnerLink.RIGHT_CHOICES, widget=forms.CheckboxSelectMultiple, required=False
    )
