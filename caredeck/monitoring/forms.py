"""Forms of the monitoring pages: they parse (JSON included: invalid JSON is an error on
its field); the services validate the rules."""

from __future__ import annotations

import json

from django import forms

from caredeck.monitoring.models import CheckKind, ProbeLocation
from caredeck.monitoring.serializers import has_nul
from caredeck.monitoring.services import DEFAULTS, LIMITS
from caredeck.topology.models import FunctionalArea, Pop, Region

ASSERTIONS_EXAMPLE = ('[{"type": "status", "value": 200},\n {"type": "body_contains", '
                      '"value": "Welcome"},\n {"type": "latency_ms", "max": 500}]')
CONFIG_EXAMPLE = ('{"method": "GET", "headers": {"Accept": "text/html"}}  or for a SIP call: '
                  '{"transport": "udp", "media_seconds": 3}')


def _number(name: str, label: str, help_text: str = "") -> forms.IntegerField:
    low, high = LIMITS[name]
    return forms.IntegerField(label=label, min_value=low, max_value=high,
                              initial=DEFAULTS[name], help_text=help_text)


class JSONTextField(forms.CharField):
    """A JSON value typed in a textarea: a list or an object, or an error on the field."""

    def __init__(self, *, shape: type, **kwargs):
        self.shape = shape
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 20000)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 4, "spellcheck": "false",
                                                          "class": "mono"}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | dict):
            return json.dumps(value, indent=1, ensure_ascii=False)
        return value

    def clean(self, value):
        text = super().clean(value)
        if not text.strip():
            return self.shape()
        try:
            parsed = json.loads(text)
        except ValueError as error:
            raise forms.ValidationError(
                f"This is not valid JSON ({error.msg} at line {error.lineno}, column "
                f"{error.colno}).") from None
        if not isinstance(parsed, self.shape):
            raise forms.ValidationError(
                "Give a list […]." if self.shape is list else "Give an object {…}.")
        if has_nul(parsed):
            raise forms.ValidationError("The JSON contains a NUL character or nests too deep.")
        return parsed


class CheckForm(forms.Form):
    organization = forms.ModelChoiceField(queryset=None, to_field_name="slug", label="Tenant")
    area = forms.ChoiceField(label="Functional area",
                             help_text="One the tenant's deployment uses.")
    name = forms.CharField(max_length=120)
    kind = forms.ChoiceField(choices=CheckKind.choices)
    target = forms.CharField(max_length=500, help_text="A URL (https://…, wss://…) or a SIP "
                             "URI (sip:queue@host).")
    interval = _number("interval", "Interval (seconds)", "How often each location runs it: "
                       "300 is every 5 minutes, 30 the least.")
    timeout = _number("timeout", "Timeout (seconds)", "Shorter than the interval.")
    retries = _number("retries", "Retries", "Extra tries before a run counts as failed.")
    failures_to_alert = _number("failures_to_alert", "Failures to go down",
                                "Consecutive failed runs before a location says down.")
    successes_to_recover = _number("successes_to_recover", "Successes to come back up")
    quorum = _number("quorum", "Locations that must agree",
                     "The check is down when this many of its locations say down.")
    locations = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Run from",
        help_text="None ticked: the probe locations at the PoPs that serve the tenant.",
    )
    assertions = JSONTextField(shape=list, help_text="A JSON list, e.g. " + ASSERTIONS_EXAMPLE)
    config = JSONTextField(shape=dict, help_text="A JSON object of kind-specific settings, "
                           "e.g. " + CONFIG_EXAMPLE)

    def __init__(self, *args, tenants=None, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = tenants
        self.fields["area"].choices = [("", "—")] + [
            (a.slug, a.name) for a in FunctionalArea.objects.order_by("name")]
        self.fields["locations"].choices = [
            (loc.slug, loc.name if loc.mode == ProbeLocation.Mode.BUILTIN
             else f"{loc.name} (remote agent)")
            for loc in ProbeLocation.objects.filter(is_active=True).order_by("name")
        ]
        self.fields["assertions"].widget.attrs["placeholder"] = ASSERTIONS_EXAMPLE
        self.fields["config"].widget.attrs["placeholder"] = "{}"
        if editing:
            self.fields["organization"].disabled = True
            self.fields["organization"].help_text = "A check stays with its tenant."
            self.fields["locations"].required = True
            self.fields["locations"].help_text = "Where it runs from (at least one)."

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("organization", None)
        if not data.get("locations"):
            data.pop("locations", None)
        return data


class LocationForm(forms.Form):
    slug = forms.SlugField(max_length=60, label="Id",
                           help_text="The PoP or region id it probes from, e.g. pop-ashburn.")
    name = forms.CharField(max_length=120)
    mode = forms.ChoiceField(choices=ProbeLocation.Mode.choices, widget=forms.RadioSelect,
                             initial=ProbeLocation.Mode.BUILTIN,
                             help_text="A remote agent gets a token, shown once.")
    pop = forms.ChoiceField(label="PoP", required=False)
    region = forms.ChoiceField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pop"].choices = [("", "—")] + [
            (p.slug, p.name) for p in Pop.objects.order_by("name")]
        self.fields["region"].choices = [("", "—")] + [
            (r.slug, r.name) for r in Region.objects.order_by("name")]
