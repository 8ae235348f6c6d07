"""Forms of the incident pages: they parse; the services validate the rules."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from caredeck.incidents.models import (
    SEVERITY_DEFINITIONS,
    UPDATE_STATUSES,
    IncidentStatus,
    Severity,
    TeamRole,
)
from caredeck.topology import forms as topology_forms


class ScopeForm(topology_forms.ScopeForm):
    TARGET_LABEL = "Failed element"


class DeclareForm(ScopeForm):
    title = forms.CharField(max_length=200)
    severity = forms.ChoiceField(
        choices=[(s.value, f"{s.label} — {SEVERITY_DEFINITIONS[s]}") for s in Severity],
        widget=forms.RadioSelect,
    )
    detected_at = forms.DateTimeField(
        label="Detected at", widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                        format="%Y-%m-%dT%H:%M"),
        help_text="In your time zone. The first-notice clock runs from here.",
    )
    first_notice = forms.CharField(
        label="First notice", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Sent to every affected tenant with its own impact text. Empty: a "
        "standard 'we are investigating' notice.",
    )
    notify = forms.BooleanField(label="Send the first notice now", required=False,
                                initial=True)
    security_involved = forms.BooleanField(label="Security team involved", required=False)
    executive_involved = forms.BooleanField(label="Executive team involved", required=False)

    field_order = ["title", "severity", "detected_at", "scope", "target", "failure_type",
                   "organizations", "areas", "first_notice", "notify", "security_involved",
                   "executive_involved"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["detected_at"].initial = timezone.localtime().replace(second=0, microsecond=0)

    def declare_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "title": data["title"], "severity": data["severity"],
            "detected_at": data["detected_at"], "first_notice": data["first_notice"],
            "notify": data["notify"], "security_involved": data["security_involved"],
            "executive_involved": data["executive_involved"], **self.scope_kwargs(),
        }


class UpdateForm(forms.Form):
    status = forms.ChoiceField(
        choices=[(s, IncidentStatus(s).label) for s in UPDATE_STATUSES]
    )
    body = forms.CharField(label="Update", widget=forms.Textarea(attrs={"rows": 4}),
                           max_length=20000)
    public = forms.BooleanField(
        label="Send to the affected tenants", required=False, initial=True,
        help_text="Untick for an internal note (staff only; keeps the status).",
    )


class TenantTextForm(forms.Form):
    impact_text = forms.CharField(label="What this tenant feels",
                                  widget=forms.Textarea(attrs={"rows": 4}), max_length=5000)


class FindingsForm(forms.Form):
    customer_impact = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                      max_length=20000)
    customer_experience = forms.CharField(required=False, max_length=20000,
                                          widget=forms.Textarea(attrs={"rows": 3}))
    technical_description = forms.CharField(
        required=False, max_length=20000, widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Internal: the incident technical description.",
    )
    report = forms.CharField(
        label="Customer incident report", required=False, max_length=20000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Sent to every affected tenant when you publish it.",
    )


class EvidenceForm(forms.Form):
    text = forms.CharField(label="Note", required=False, max_length=5000,
                           widget=forms.Textarea(attrs={"rows": 2}))
    file = forms.FileField(required=False, help_text="Logs, captures, screenshots, PDF; 5 MB max.")


class TeamForm(forms.Form):
    user = forms.ModelChoiceField(queryset=None, label="Person")
    role = forms.ChoiceField(choices=TeamRole.choices)

    def __init__(self, *args, staff=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = staff
