"""Forms of the notification pages: channel choices, webhook endpoints, dashboard filters."""

from __future__ import annotations

from django import forms

from caredeck.notify.models import Channel, MessageStatus, WebhookFormat
from caredeck.notify.selectors import SubscriptionRow
from caredeck.notify.services import webhook_event_choices


class SubscriptionsForm(forms.Form):
    """One group of channel checkboxes per event type (field name: the event slug)."""

    def __init__(self, *args, rows: list[SubscriptionRow], **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = rows
        for row in rows:
            self.fields[row.event] = forms.MultipleChoiceField(
                label=row.label,
                choices=[(c, Channel(c).label) for c in row.channels],
                widget=forms.CheckboxSelectMultiple,
                required=False,
                initial=list(row.effective),
                help_text=row.description,
            )

    def clean(self):
        cleaned = super().clean()
        for row in self.rows:
            if row.mandatory and row.event in cleaned and not cleaned[row.event]:
                self.add_error(
                    row.event,
                    f"{row.label} cannot be switched off; choose at least one channel.",
                )
        return cleaned

    def grouped(self):
        """(row, bound field) pairs for the template."""
        return [(row, self[row.event]) for row in self.rows]

    def changed_choices(self) -> dict[str, list[str]]:
        """Only the event types whose channels differ from those in use now: the others
        keep following the event's defaults."""
        return {
            row.event: sorted(self.cleaned_data[row.event])
            for row in self.rows
            if sorted(self.cleaned_data[row.event]) != sorted(row.effective)
        }


class WebhookForm(forms.Form):
    name = forms.CharField(
        max_length=80, help_text="What it is for, e.g. “On-call Slack channel”."
    )
    url = forms.URLField(
        label="URL", max_length=500, assume_scheme="https",
        help_text="CareDeck POSTs each notification here (http or https).",
    )
    format = forms.ChoiceField(
        choices=WebhookFormat.choices, initial=WebhookFormat.JSON,
        help_text="CareDeck JSON is signed (X-CareDeck-Signature); Slack and Teams get "
        "their incoming-webhook message format.",
    )
    events = forms.MultipleChoiceField(
        label="Event types", choices=(), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event of the organization.",
    )

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["events"].choices = webhook_event_choices()
        if editing:
            self.fields["is_active"] = forms.BooleanField(
                label="Active (untick to pause deliveries)", required=False
            )


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "Any status"), *MessageStatus.choices], required=False
    )
    channel = forms.ChoiceField(choices=[("", "Any channel"), *Channel.choices], required=False)
