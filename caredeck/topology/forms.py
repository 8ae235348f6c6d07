"""Forms of the topology pages. They parse input; the services validate and decide."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from caredeck.topology.models import (
    AreaScope,
    Connectivity,
    FailureImpact,
    FailureType,
    FunctionalArea,
    Geography,
    Pop,
    Region,
    Zone,
)

PERCENT_HELP = "In percent, e.g. 99.99."


class ImpactQueryForm(forms.Form):
    """What fails: a zone, region or PoP, and optionally the failure type to apply."""

    target = forms.ChoiceField(label="Element that fails", choices=[])
    failure = forms.ChoiceField(
        label="Failure type", required=False, choices=[],
        help_text="By default it follows from the element (and, for a PoP, from each "
                  "tenant's connectivity).",
    )

    def __init__(self, *args, targets, failure_types, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [("", "Choose a zone, region or PoP…"), *targets]
        self.fields["failure"].choices = [
            ("", "Follows from the element"),
            *[(t.slug, t.name) for t in failure_types],
        ]


class ElementForm(forms.Form):
    """One platform element: a geography, region, zone or PoP (fields by kind)."""

    slug = forms.SlugField(
        label="Id", max_length=60,
        help_text="Stable id used in the API, imports and URLs, e.g. us-east.",
    )
    name = forms.CharField(max_length=80)

    def __init__(self, *args, kind: str, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if kind in ("region", "pop"):
            self.fields["geography"] = forms.ModelChoiceField(
                queryset=Geography.objects.all(), to_field_name="slug"
            )
        if kind == "zone":
            self.fields["region"] = forms.ModelChoiceField(
                queryset=Region.objects.all(), to_field_name="slug"
            )
        if kind == "pop":
            self.fields["regions"] = forms.ModelMultipleChoiceField(
                queryset=Region.objects.all(), to_field_name="slug", required=False,
                widget=forms.CheckboxSelectMultiple, label="Regions it serves",
            )
        if kind == "region" and not editing:
            self.fields["zones"] = forms.IntegerField(
                label="Availability zones", min_value=1, max_value=26, initial=3,
                help_text="Created as <id>-a, <id>-b, …; rename or add more afterwards.",
            )
        if editing:
            # Renaming an id would break every import file and URL that names it.
            self.fields["slug"].disabled = True
            self.fields["slug"].help_text = "The stable id cannot change."


class AreaForm(forms.ModelForm):
    services = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False,
        help_text="One service per line, e.g. SIP server.",
    )

    class Meta:
        model = FunctionalArea
        fields = ["name", "scope", "home_region", "standby_region", "services", "note"]
        widgets = {"note": forms.Textarea(attrs={"rows": 2})}
        help_texts = {
            "home_region": "Where a centralized area runs.",
            "standby_region": "Optional: where a centralized area fails over to.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = AreaScope.choices
        self.fields["home_region"].empty_label = "None (not centralized)"
        self.fields["standby_region"].empty_label = "None"
        if self.instance.pk and not self.is_bound:
            self.initial["services"] = "\n".join(self.instance.services or [])

    def clean_services(self) -> list[str]:
        lines = self.cleaned_data["services"].splitlines()
        return [line.strip() for line in lines if line.strip()]

    def _post_clean(self):
        # The service validates the area and reports it field by field.
        pass


class ComponentForm(forms.Form):
    name = forms.CharField(max_length=120, required=False)
    availability = forms.DecimalField(
        label="Availability (%)", max_digits=9, decimal_places=5, required=False,
        min_value=Decimal("0"), max_value=Decimal("100"), help_text=PERCENT_HELP,
    )

    def clean(self):
        data = super().clean()
        if data.get("name") and data.get("availability") is None and not self.has_error(
            "availability"
        ):
            self.add_error("availability", "Give the component's designed availability.")
        if data.get("availability") is not None and not data.get("name"):
            self.add_error("name", "Name the component.")
        return data

    def component(self) -> dict | None:
        """The component as the catalog stores it, or None for an empty row."""
        data = self.cleaned_data
        if not data.get("name"):
            return None
        return {
            "name": data["name"].strip(),
            "availability": float(data["availability"] / 100),
        }


ComponentFormSet = forms.formset_factory(ComponentForm, extra=2, max_num=30)


def component_initial(components: list[dict]) -> list[dict]:
    return [
        {
            "name": c.get("name", ""),
            "availability": _percent_text(c.get("availability")),
        }
        for c in components
    ]


def _percent_text(fraction) -> str | None:
    """0.99995 -> "99.995" (never "9.9995E+1")."""
    if fraction is None:
        return None
    text = format(Decimal(str(fraction)) * 100, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class CellForm(forms.ModelForm):
    class Meta:
        model = FailureImpact
        fields = ["operational", "agent", "customer", "data_lost", "delayed",
                  "service_unavailable"]
        labels = {
            "operational": "Operational impact",
            "agent": "Agent experience",
            "customer": "Caller experience",
            "data_lost": "Data is lost",
            "delayed": "Work is delayed, not lost",
            "service_unavailable": "Service unavailable until recovery",
        }
        help_texts = {"operational": "Write “none” where there is no impact."}
        error_messages = {
            name: {"required": 'Describe the impact, or write "none" for no impact.'}
            for name in ("operational", "agent", "customer")
        }
        widgets = {
            "operational": forms.Textarea(attrs={"rows": 3}),
            "agent": forms.Textarea(attrs={"rows": 2}),
            "customer": forms.Textarea(attrs={"rows": 2}),
        }

    def _post_clean(self):
        pass


class CatalogUploadForm(forms.Form):
    file = forms.FileField(
        label="Catalog file (YAML)", required=False,
        help_text="The whole catalog, as the download above: topology and failure matrix.",
    )
    # Not stripped: a leading blank line would shift every line number the errors give.
    text = forms.CharField(
        label="…or paste it here", required=False, strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
    )

    MAX_BYTES = 2 * 1024 * 1024

    def clean(self):
        data = super().clean()
        upload, text = data.get("file"), data.get("text")
        if upload is None and not (text or "").strip():
            raise forms.ValidationError("Choose a file or paste the catalog.")
        if upload is not None:
            if upload.size > self.MAX_BYTES:
                self.add_error("file", "The file is larger than 2 MB; a catalog is far smaller.")
                return data
            try:
                data["text"] = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                self.add_error("file", "The file is not UTF-8 text.")
        return data


class DeploymentForm(forms.Form):
    primary_region = forms.ModelChoiceField(
        queryset=Region.objects.select_related("geography"), to_field_name="slug"
    )
    secondary_region = forms.ModelChoiceField(
        queryset=Region.objects.select_related("geography"), to_field_name="slug",
        required=False, empty_label="None",
        help_text="Where the distributed and per-region areas fail over to.",
    )
    pops = forms.ModelMultipleChoiceField(
        queryset=Pop.objects.select_related("geography"), to_field_name="slug",
        widget=forms.CheckboxSelectMultiple, label="PoP pair",
        help_text="The two PoPs the tenant reaches.",
    )
    connectivity = forms.ChoiceField(
        choices=Connectivity.choices,
        help_text="How the tenant's users and carriers reach the PoPs.",
    )
    areas = forms.ModelMultipleChoiceField(
        queryset=FunctionalArea.objects.all(), to_field_name="slug",
        widget=forms.CheckboxSelectMultiple, label="Functional areas used", required=False,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["primary_region"].label_from_instance = _region_label
        self.fields["secondary_region"].label_from_instance = _region_label
        self.fields["pops"].label_from_instance = lambda p: f"{p.name} ({p.geography.name})"

    @classmethod
    def initial_for(cls, deployment) -> dict:
        if deployment is None:
            return {"connectivity": Connectivity.PRIVATE_LINE}
        return {
            "primary_region": deployment.primary_region,
            "secondary_region": deployment.secondary_region,
            "pops": list(deployment.pops.all()),
            "connectivity": deployment.connectivity,
            "areas": list(deployment.areas.all()),
        }


def _region_label(region: Region) -> str:
    return f"{region.name} ({region.geography.name})"


# --- The scope of an incident or a maintenance window ----------------------------------

SCOPE_FAILURE = "failure"
SCOPE_TENANTS = "tenants"


def failure_target_choices(prompt: str) -> list:
    """The elements that can go down, grouped as people look for them."""
    return [
        ("", prompt),
        ("Regions", [(r.slug, f"{r.name} ({r.slug})") for r in Region.objects.order_by("slug")]),
        ("Availability zones", [(z.slug, f"{z.name} ({z.slug})")
                                for z in Zone.objects.order_by("slug")]),
        ("Points of presence", [(p.slug, f"{p.name} ({p.slug})")
                                for p in Pop.objects.order_by("slug")]),
    ]


class ScopeForm(forms.Form):
    """Who an incident or a window concerns: an element that goes down (the impact
    analysis finds the tenants and writes their texts) or chosen tenants and areas.
    Subclasses name the element for their case (`TARGET_LABEL`)."""

    TARGET_LABEL = "Failed element"

    scope = forms.ChoiceField(
        label="Scope", widget=forms.RadioSelect, initial=SCOPE_FAILURE,
        choices=[
            (SCOPE_FAILURE, "An element goes down: the impact analysis finds the tenants"),
            (SCOPE_TENANTS, "Chosen tenants and functional areas"),
        ],
    )
    target = forms.ChoiceField(required=False)
    failure_type = forms.ChoiceField(
        label="Failure type", required=False,
        help_text="Leave empty to follow from the element (a PoP: by each tenant's "
        "connectivity).",
    )
    organizations = forms.CharField(
        label="Tenants", required=False, max_length=5000,
        help_text="Tenant ids separated by commas, e.g. acme, globex.",
    )
    areas = forms.MultipleChoiceField(
        label="Functional areas", required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every area each tenant uses.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].label = self.TARGET_LABEL
        self.fields["target"].choices = failure_target_choices(
            f"— choose the {self.TARGET_LABEL.lower()} —"
        )
        self.fields["failure_type"].choices = [("", "— from the element —")] + [
            (f.slug, f.name) for f in FailureType.objects.order_by("position", "slug")
        ]
        self.fields["areas"].choices = [
            (a.slug, a.name) for a in FunctionalArea.objects.order_by("position", "slug")
        ]

    def clean(self):
        data = super().clean()
        if data.get("scope") == SCOPE_FAILURE and not data.get("target"):
            self.add_error("target", f"Choose the {self.TARGET_LABEL.lower()}.")
        if data.get("scope") == SCOPE_TENANTS and not (data.get("organizations") or "").strip():
            self.add_error("organizations", "Name at least one tenant.")
        return data

    def scope_kwargs(self) -> dict:
        data = self.cleaned_data
        if data["scope"] == SCOPE_FAILURE:
            return {"failure": {"target": data["target"],
                                "failure": data["failure_type"] or None}}
        slugs = [s.strip() for s in data["organizations"].split(",") if s.strip()]
        return {"organizations": slugs, "areas": list(data["areas"])}

    @staticmethod
    def initial_for(obj, rows) -> dict:
        """The current scope of an incident or window as the form shows it. Areas are
        pre-ticked only when every tenant has the same ones (else "none ticked": each
        tenant's own)."""
        if obj.failure_target:
            return {"scope": SCOPE_FAILURE, "target": obj.failure_target,
                    "failure_type": obj.failure_type}
        area_sets = {tuple(sorted(a["area"] for a in row.areas)) for row in rows}
        return {
            "scope": SCOPE_TENANTS,
            "organizations": ", ".join(row.organization.slug for row in rows),
            "areas": list(area_sets.pop()) if len(area_sets) == 1 else [],
        }
