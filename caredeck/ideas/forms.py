"""Forms of the Ideas Lab pages: they parse; the services validate the rules (a status's
required field, the vote budget, who may do what)."""

from __future__ import annotations

from django import forms
from django.urls import reverse
from django.utils import timezone

from caredeck.ideas.models import IdeaStatus

WORKAROUND_HELP = ("A way to get the result today, while the idea waits: it is shown "
                   "highlighted at the top of the idea.")


class IdeaForm(forms.Form):
    title = forms.CharField(
        max_length=200,
        help_text="One sentence: what you want to be able to do. Similar ideas show up "
        "below as you type.",
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}), max_length=20000,
        help_text="Why it matters: who needs it, what it would change for your callers "
        "or agents.",
    )
    product = forms.ModelChoiceField(queryset=None, to_field_name="slug", empty_label=None)
    anonymous = forms.BooleanField(
        label="Hide my organization's name from other customers", required=False,
        help_text="Provider staff still see who suggested it.",
    )

    def __init__(self, *args, products, **kwargs):
        super().__init__(*args, **kwargs)
        similar_url = reverse("idea-similar")
        self.fields["product"].queryset = products
        self.fields["product"].help_text = "The product line whose lab gets the idea."
        # While the title is typed, ask for likely duplicates (a partial below the form).
        self.fields["title"].widget.attrs.update({
            "autocomplete": "off",
            "hx-get": similar_url,
            "hx-trigger": "input changed delay:400ms, search",
            "hx-target": "#similar",
            "hx-include": "[name='product']",
            "aria-controls": "similar",
        })
        self.fields["product"].widget.attrs.update({
            "hx-get": similar_url,
            "hx-trigger": "change",
            "hx-target": "#similar",
            "hx-include": "[name='title']",
            "aria-controls": "similar",
        })


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Comment", widget=forms.Textarea(attrs={"rows": 4}), max_length=10000,
    )
    workaround = forms.BooleanField(
        label="This is a work-around", required=False, help_text=WORKAROUND_HELP,
    )


class ReportForm(forms.Form):
    reason = forms.CharField(
        label="Why should a moderator look at it?", max_length=300,
        help_text="E.g. offensive language, personal data, advertising.",
    )


class HideForm(forms.Form):
    reason = forms.CharField(
        label="Reason shown in its place", max_length=300,
        help_text="Everyone reads it; the author is told.",
    )


def quarter_choices(now=None) -> list[tuple[str, str]]:
    """The quarters an accepted idea may target: this one and the next four (within
    12 months)."""
    now = now or timezone.localtime()
    year, quarter = now.year, (now.month - 1) // 3 + 1
    choices = [("", "—")]
    for _ in range(5):
        choices.append((f"{year}-Q{quarter}", f"{year}-Q{quarter}"))
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return choices


class TransitionForm(forms.Form):
    status = forms.ChoiceField(label="New status")
    message = forms.CharField(
        label="Public message", widget=forms.Textarea(attrs={"rows": 4}), max_length=5000,
        help_text="Posted on the idea and sent to its voters and followers.",
    )
    target_quarter = forms.CharField(
        label="Target quarter", required=False, max_length=7,
        widget=forms.Select(),
        help_text="Required for Accepted: a quarter within 12 months.",
    )
    release_notes_url = forms.CharField(
        label="Release-note link", required=False, max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://…"}),
        help_text="Required for Delivered.",
    )
    reason = forms.CharField(
        label="Reason for declining", required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required for Declined.",
    )

    def __init__(self, *args, statuses, **kwargs):
        super().__init__(*args, **kwargs)
        order = list(IdeaStatus.values)
        self.fields["status"].choices = [
            (s, IdeaStatus(s).label) for s in sorted(statuses, key=order.index)
        ]
        # A typed-in quarter outside the list still reaches the service, which says why.
        self.fields["target_quarter"].widget.choices = quarter_choices()

    # What each status needs, asked for at once with the other missing fields (the
    # service checks the values themselves: a quarter within 12 months, an http(s) link).
    NEEDS = {
        IdeaStatus.ACCEPTED: ("target_quarter", "Give the target quarter, e.g. 2027-Q2."),
        IdeaStatus.DELIVERED: ("release_notes_url", "Give the release-note link (https://…)."),
        IdeaStatus.DECLINED: ("reason", "Give the reason for declining."),
    }

    def clean(self):
        data = super().clean()
        need = self.NEEDS.get(data.get("status"))
        if need and not (data.get(need[0]) or "").strip():
            self.add_error(need[0], need[1])
        return data


class UpdateForm(forms.Form):
    message = forms.CharField(
        label="PM update", widget=forms.Textarea(attrs={"rows": 4}), max_length=5000,
        help_text="A public update without a status change; it answers the PM clock.",
    )


class MergeForm(forms.Form):
    into = forms.CharField(
        label="Merge into", max_length=20,
        widget=forms.TextInput(attrs={"placeholder": "IDEA-000042", "autocomplete": "off"}),
        help_text="The idea that stays. Votes move there (a voter of both keeps one and "
        "gets the other back); comments and followers follow.",
    )
    message = forms.CharField(
        label="Message", required=False, max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional; by default “Merged into IDEA-…: title”.",
    )

    def clean_into(self) -> str:
        return self.cleaned_data["into"].strip().upper()


class GrantForm(forms.Form):
    email = forms.EmailField(label="User's e-mail")
    amount = forms.IntegerField(label="Votes", min_value=1, max_value=100,
                                help_text="1 to 100 extra votes.")
    reason = forms.CharField(
        max_length=300, help_text="Kept in the user's history (e.g. “requested by the "
        "customer's admin for the Q3 review”).",
    )
