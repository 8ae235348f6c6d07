"""Forms of the maintenance pages: they parse; the services validate the window and its
scope and report field by field (see `add_errors`)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from caredeck.accounts.models import User
from caredeck.accounts.roles import ROLE_CAPABILITIES, Capability, OrganizationKind
from caredeck.topology import forms as topology_forms
from caredeck.web.forms import add_service_errors

SCOPE_FAILURE = topology_forms.SCOPE_FAILURE
SCOPE_TENANTS = topology_forms.SCOPE_TENANTS
MINUTE_FORMAT = "%Y-%m-%dT%H:%M"


def _when_widget() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format=MINUTE_FORMAT)


def owner_choices():
    """Active provider people whose roles let them run maintenance."""
    roles = [role for role, caps in ROLE_CAPABILITIES.items()
             if Capability.MANAGE_MAINTENANCE in caps]
    return (
        User.objects.filter(
            is_active=True, organization__kind=OrganizationKind.PROVIDER,
            role_grants__role__in=roles,
        )
        .distinct()
        .order_by("name")
    )


class WindowForm(forms.Form):
    """The window itself: what, when, who. Times are in the viewer's time zone."""

    title = forms.CharField(max_length=200)
    impact = forms.CharField(
        label="Expected impact", max_length=4000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What every tenant concerned should expect, e.g. “Calls in progress may "
        "drop once; agents log in again”. Each tenant also sees its own areas.",
    )
    starts_at = forms.DateTimeField(label="Starts", widget=_when_widget())
    ends_at = forms.DateTimeField(label="Ends", widget=_when_widget())
    owner = forms.ModelChoiceField(
        queryset=User.objects.none(), empty_label=None, required=False,
        help_text="Gets the alerts when it starts, ends or runs over. By default: you.",
    )
    auto_complete = forms.BooleanField(
        label="Complete by itself at the end", required=False,
        help_text="With the end notice at the planned end. Otherwise you complete it; still "
        "in progress at its end, it is an overrun: you are alerted and the tenants told.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owner_choices()
        zone = timezone.get_current_timezone_name()
        self.fields["starts_at"].help_text = f"Your time zone: {zone}."
        self.fields["ends_at"].help_text = f"Your time zone: {zone}."

    def clean(self):
        data = super().clean()
        # Said here too, so a form with other mistakes reports this one at once.
        starts_at, ends_at = data.get("starts_at"), data.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            self.add_error("ends_at", "The end must be after the start.")
        return data

    def window_kwargs(self) -> dict:
        data = self.cleaned_data
        kwargs = {name: data[name] for name in
                  ("title", "impact", "starts_at", "ends_at", "auto_complete")}
        if data.get("owner") is not None:
            kwargs["owner"] = data["owner"]
        return kwargs


class ScopeForm(topology_forms.ScopeForm):
    TARGET_LABEL = "Element under maintenance"


class ScheduleForm(WindowForm, ScopeForm):
    field_order = ["title", "impact", "starts_at", "ends_at", "owner", "auto_complete",
                   "scope", "target", "failure_type", "organizations", "areas"]


class CancelForm(forms.Form):
    reason = forms.CharField(
        required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional; sent to the tenants with the cancellation.",
    )


# The services name the scope's element "failure"; the forms call that field "target".
_FIELD_OF = {"failure": "target"}


def add_errors(form, exc: ValidationError) -> None:
    """The service's field errors beside the form's fields."""
    if hasattr(exc, "error_dict"):
        exc = ValidationError(
            {_FIELD_OF.get(name, name): messages for name, messages in exc.message_dict.items()}
        )
    add_service_errors(form, exc)
