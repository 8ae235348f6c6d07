"""Forms of the problem pages: they parse and say what is required; the services decide
(their field errors are put back beside these fields with `add_service_errors`)."""

from __future__ import annotations

from django import forms

from caredeck.problems.models import Problem, ProblemStatus
from caredeck.problems.selectors import parse_numbers, problem_staff
from caredeck.topology.models import FunctionalArea, Pop, Region, Zone

TEXTAREA = forms.Textarea(attrs={"rows": 4})


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.name} ({obj.email})"


def _staff_field(label: str, required: bool = True, help_text: str = "") -> StaffChoiceField:
    return StaffChoiceField(
        queryset=problem_staff(), label=label, required=required, help_text=help_text,
        empty_label="— choose —",
    )


def area_choices() -> list[tuple[str, str]]:
    return [("", "—")] + [
        (slug, f"{name} ({slug})")
        for slug, name in FunctionalArea.objects.order_by("name").values_list("slug", "name")
    ]


def element_choices() -> list:
    groups = [
        (label, [(slug, f"{name} ({slug})")
                 for slug, name in model.objects.order_by("name").values_list("slug", "name")])
        for label, model in (("Regions", Region), ("Zones", Zone), ("PoPs", Pop))
    ]
    return [("", "—")] + [group for group in groups if group[1]]


class ProblemFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any status"), ("active", "Active (not closed)"), *ProblemStatus.choices],
    )


class ProblemEditForm(forms.Form):
    """The record's own fields (not its status, which moves by transition)."""

    title = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=TEXTAREA)
    owner = _staff_field("Owner")
    root_cause = forms.CharField(
        required=False, widget=TEXTAREA,
        help_text="Needed to mark the root cause known, to resolve, and to publish the RCA.",
    )
    workaround = forms.CharField(
        label="Known-error work-around", required=False, widget=TEXTAREA,
        help_text="What customers or staff can do meanwhile; needed for a known error.",
    )
    area = forms.ChoiceField(label="Functional area", required=False,
                             help_text="What it hits, for spotting a recurring cause.")
    element = forms.ChoiceField(label="Topology element", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = area_choices()
        self.fields["element"].choices = element_choices()

    @classmethod
    def for_problem(cls, problem: Problem, data=None) -> ProblemEditForm:
        return cls(data, initial={
            "title": problem.title, "description": problem.description,
            "owner": problem.owner_id, "root_cause": problem.root_cause,
            "workaround": problem.workaround, "area": problem.area,
            "element": problem.element,
        })


    @classmethod
    def as_saved(cls, problem: Problem) -> ProblemEditForm:
        """Bound to the saved values, for showing a service's error beside a field."""
        form = cls({
            "title": problem.title, "description": problem.description,
            "owner": problem.owner_id, "root_cause": problem.root_cause,
            "workaround": problem.workaround, "area": problem.area,
            "element": problem.element,
        })
        form.is_valid()
        return form


class ProblemCreateForm(ProblemEditForm):
    incidents = forms.CharField(
        required=False, label="Incidents",
        help_text="Numbers of the incidents it caused, e.g. INC-000042, INC-000051.",
    )

    def clean_incidents(self) -> list[str]:
        return parse_numbers(self.cleaned_data["incidents"])


class RcaForm(forms.Form):
    rca_document = forms.CharField(
        label="Document", required=False,
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text="Sent as written to every affected tenant of the linked incidents: name "
        "no customer.",
    )


class LinkForm(forms.Form):
    incident = forms.CharField(max_length=20, label="Incident number",
                               help_text="e.g. INC-000042")

    def clean_incident(self) -> str:
        return self.cleaned_data["incident"].strip().upper()


class ActionItemForm(forms.Form):
    title = forms.CharField(max_length=200, label="Action item")
    owner = _staff_field("Owner")
    due_on = forms.DateField(label="Due on", widget=forms.DateInput(attrs={"type": "date"}))


class ActionItemRowForm(forms.Form):
    """One row of the review's action items: optional as a whole (an empty row is no
    item), complete once anything is typed in it."""

    title = forms.CharField(max_length=200, label="Action item", required=False)
    owner = _staff_field("Owner", required=False)
    due_on = forms.DateField(label="Due on", required=False,
                             widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        typed = any(cleaned.get(name) for name in ("title", "owner", "due_on"))
        if typed:
            for name, message in (("title", "Say what is to be done."),
                                  ("owner", "Choose who does it."),
                                  ("due_on", "Give a due date.")):
                if not cleaned.get(name) and name not in self.errors:
                    self.add_error(name, message)
        return cleaned

    @property
    def is_blank(self) -> bool:
        return not any(self.cleaned_data.get(n) for n in ("title", "owner", "due_on"))


ActionItemFormSet = forms.formset_factory(ActionItemRowForm, extra=3, max_num=20,
                                          validate_max=True)

PROBLEM_LINK = "link"
PROBLEM_NEW = "new"


class ReviewForm(forms.Form):
    held_on = forms.DateField(label="Held on", widget=forms.DateInput(attrs={"type": "date"}))
    facilitator = _staff_field("Facilitator")
    summary = forms.CharField(widget=TEXTAREA, help_text="What happened and why, in short.")
    went_well = forms.CharField(label="What went well", required=False, widget=TEXTAREA)
    went_wrong = forms.CharField(label="What went wrong", required=False, widget=TEXTAREA)
    problem_choice = forms.ChoiceField(
        label="Problem record", widget=forms.RadioSelect,
        choices=[(PROBLEM_LINK, "Link an existing problem"),
                 (PROBLEM_NEW, "Open a new problem")],
    )
    problem = forms.ChoiceField(label="Existing problem", required=False)
    new_title = forms.CharField(label="New problem title", max_length=200, required=False)
    new_description = forms.CharField(label="New problem description", required=False,
                                      widget=TEXTAREA)
    new_owner = _staff_field("New problem owner", required=False,
                             help_text="Default: you.")

    def __init__(self, *args, problem_options: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["problem"].choices = [("", "— choose —"), *problem_options]

    def clean(self):
        cleaned = super().clean()
        choice = cleaned.get("problem_choice")
        if choice == PROBLEM_LINK and not cleaned.get("problem"):
            self.add_error("problem", "Choose the problem to link.")
        if choice == PROBLEM_NEW and not (cleaned.get("new_title") or "").strip():
            self.add_error("new_title", "Give the new problem a title.")
        return cleaned
