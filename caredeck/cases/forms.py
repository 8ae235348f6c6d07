"""Forms of the Customer Care pages: they parse what was typed; the services validate the
rules (and their errors are put back beside the fields)."""

from __future__ import annotations

from django import forms

from caredeck.accounts.models import User
from caredeck.accounts.roles import Role
from caredeck.cases.models import (
    CRITICALITY_DEFINITIONS,
    Criticality,
    Deployment,
    Hotfix,
    KnowledgeArticle,
)
from caredeck.cases.services import (
    ATTACHMENT_EXTENSIONS,
    ATTACHMENT_MAX_BYTES,
    ATTACHMENTS_PER_POST,
)

CARE_ROLES = (Role.CARE_ANALYST, Role.CARE_MANAGER, Role.TAM, Role.PLATFORM_ADMIN)
ATTACHMENT_HELP = (
    f"Up to {ATTACHMENTS_PER_POST} files, {ATTACHMENT_MAX_BYTES // (1024 * 1024)} MB each: "
    + ", ".join(sorted(ATTACHMENT_EXTENSIONS))
    + ". Files are always downloaded, never opened in the browser."
)
# "2 · High: a core function is …" (the definitions name the level, but for 1).
CRITICALITY_CHOICES = [
    (c.value, f"{c.label} — {CRITICALITY_DEFINITIONS[c.value]}" if c.value == 1
     else f"{c.value} · {CRITICALITY_DEFINITIONS[c.value]}") for c in Criticality
]


def text(label: str, rows: int = 4, *, required: bool = True, max_length: int = 20000,
         help_text: str = "") -> forms.CharField:
    return forms.CharField(label=label, required=required, max_length=max_length,
                           help_text=help_text, strip=False,
                           widget=forms.Textarea(attrs={"rows": rows}))


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; the service checks their type, size and number."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(
            attrs={"accept": ",".join(sorted(ATTACHMENT_EXTENSIONS))}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


def attachments_field() -> MultipleFileField:
    return MultipleFileField(label="Attachments", help_text=ATTACHMENT_HELP)


def care_people():
    return (User.objects.filter(role_grants__role__in=CARE_ROLES, is_active=True,
                                organization__kind="provider")
            .distinct().order_by("name", "email"))


def fact_field_name(product, requirement) -> str:
    return f"fact_{product.pk}_{requirement.name}"


# --- Opening a case --------------------------------------------------------------------


class CaseOpenForm(forms.Form):
    organization = forms.ChoiceField(label="Customer", choices=())
    requester = forms.CharField(
        label="Caller's e-mail", max_length=254,
        help_text="The customer's person on the phone: they follow the case from here.",
        widget=forms.TextInput(attrs={"list": "caller-list", "autocomplete": "off"}),
    )
    product = forms.ChoiceField(label="Product", choices=())
    deployment = forms.ChoiceField(choices=Deployment.choices, widget=forms.RadioSelect)
    criticality = forms.TypedChoiceField(
        choices=CRITICALITY_CHOICES, coerce=int, widget=forms.RadioSelect,
        help_text="Criticality 1 is for production down: it is worked 24x7.",
    )
    summary = forms.CharField(max_length=200, help_text="One line: what does not work?")
    description = text("Description", 8, help_text=(
        "What happens, since when, who is affected, what you tried. Markdown is fine."))
    attachments = attachments_field()

    def __init__(self, *args, products, requirements, tenants=None, **kwargs):
        """`tenants`: the customers Care may open a case for on a phone call (None: a
        customer's own form, without the customer and caller fields)."""
        super().__init__(*args, **kwargs)
        self.on_phone = tenants is not None
        if self.on_phone:
            self.fields["organization"].choices = [("", "Choose…")] + [
                (t.slug, t.name) for t in tenants]
        else:
            del self.fields["organization"], self.fields["requester"]
        self.fields["product"].choices = [("", "Choose…")] + [(p.slug, p.name) for p in products]
        # Every product's facts, grouped: the page shows those of the chosen product
        # (all of them without JavaScript); only the chosen product's are sent on.
        self.fact_groups = []
        for product in products:
            names = []
            for requirement in requirements.get(product.pk, []):
                name = fact_field_name(product, requirement)
                self.fields[name] = forms.CharField(
                    label=requirement.label, help_text=requirement.help_text,
                    required=False, max_length=500,
                )
                names.append(name)
            if names:
                self.fact_groups.append({"product": product,
                                         "fields": [self[n] for n in names]})
        self.products = {p.slug: p for p in products}
        self.requirements = requirements

    def facts(self) -> dict:
        product = self.products.get(self.cleaned_data.get("product"))
        if product is None:
            return {}
        return {
            r.name: self.cleaned_data.get(fact_field_name(product, r)) or ""
            for r in self.requirements.get(product.pk, [])
            if (self.cleaned_data.get(fact_field_name(product, r)) or "").strip()
        }


# --- The actions on a case ---------------------------------------------------------------


class CommentForm(forms.Form):
    body = text("Comment", help_text="Markdown is fine.")
    internal = forms.BooleanField(
        label="Internal note (Customer Care only)", required=False,
        help_text="The customer does not see it and is not told.")
    attachments = attachments_field()

    def __init__(self, *args, care: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not care:
            del self.fields["internal"]


class RequestInfoForm(forms.Form):
    body = text("What do you need from the customer?", help_text=(
        "Be precise: the case waits on the customer and its SLA clock pauses."))


class ProvideInfoForm(forms.Form):
    body = text("Your answer", required=False)
    attachments = attachments_field()

    def __init__(self, *args, requirements=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fact_names = []
        for requirement in requirements:
            name = f"fact_{requirement.name}"
            self.fields[name] = forms.CharField(label=requirement.label, max_length=500,
                                                help_text=requirement.help_text)
            self.fact_names.append((name, requirement.name))
        self.order_fields([n for n, _ in self.fact_names] + ["body", "attachments"])

    def facts(self) -> dict:
        return {fact: self.cleaned_data.get(name, "") for name, fact in self.fact_names}


class ProposeSolutionForm(forms.Form):
    body = text("Proposed solution", 6, help_text=(
        "The customer confirms or rejects it; the case waits on them meanwhile."))


class RejectForm(forms.Form):
    reason = text("Why does it not solve the problem?", 3, max_length=5000)


class ReopenForm(forms.Form):
    reason = text("Why reopen the case?", 3, max_length=5000)


class CloseForm(forms.Form):
    root_cause = text("Root cause", 3, max_length=10000)
    kb_article = forms.ChoiceField(label="Link an existing article", required=False,
                                   choices=())
    kb_number = forms.CharField(label="… or its number", required=False, max_length=20,
                                help_text="For example KB-000042.")
    new_title = forms.CharField(label="New article: title", required=False, max_length=200)
    new_body = text("New article: text", 6, required=False, max_length=50000,
                    help_text="Markdown. Leave empty to link an existing article instead.")
    new_visibility = forms.ChoiceField(label="New article: visibility",
                                       choices=KnowledgeArticle.Visibility.choices,
                                       initial=KnowledgeArticle.Visibility.PUBLIC)
    hotfix_number = forms.CharField(label="Existing hot fix", required=False, max_length=20,
                                    help_text="Its number, for example HF-000007.")
    hotfix_version = forms.CharField(label="… or a new hot fix: version", required=False,
                                     max_length=40)
    hotfix_description = text("New hot fix: description", 3, required=False,
                              max_length=10000)

    def __init__(self, *args, articles=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kb_article"].choices = [("", "—")] + [
            (a.number, f"{a.number} {a.title}"[:120]) for a in articles]

    def close_kwargs(self) -> dict:
        data = self.cleaned_data
        kb = data.get("kb_article") or data.get("kb_number", "").strip().upper()
        new = None
        if data.get("new_title", "").strip() or data.get("new_body", "").strip():
            new = {"title": data["new_title"], "body": data["new_body"],
                   "visibility": data["new_visibility"]}
        hotfix = None
        if data.get("hotfix_number", "").strip():
            hotfix = data["hotfix_number"].strip().upper()
        elif data.get("hotfix_version", "").strip() or data.get("hotfix_description", "").strip():
            hotfix = {"version": data["hotfix_version"],
                      "description": data["hotfix_description"]}
        return {"root_cause": data["root_cause"], "kb_article": kb or None,
                "new_kb_article": new, "hotfix": hotfix}


# Service error names -> the close form's fields.
CLOSE_ERROR_FIELDS = {
    "new_kb_article.title": "new_title", "new_kb_article.body": "new_body",
    "new_kb_article.visibility": "new_visibility", "new_kb_article": "new_title",
    "hotfix": "hotfix_number", "hotfix.version": "hotfix_version",
    "hotfix.description": "hotfix_description", "hotfix.product": "hotfix_version",
}


class AssignForm(forms.Form):
    analyst = forms.ChoiceField(label="Hand over to", choices=())
    note = text("Hand-over note", 3, max_length=5000,
                help_text="What the new owner needs to know. Recorded on the case.")

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["analyst"].choices = [("", "Choose…")] + [
            (str(p.pk), p.name or p.email) for p in people]


class CollaboratorForm(forms.Form):
    user = forms.ChoiceField(label="Colleague", choices=())

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = [("", "Choose…")] + [
            (str(p.pk), p.name or p.email) for p in people]


class CriticalityForm(forms.Form):
    criticality = forms.TypedChoiceField(choices=CRITICALITY_CHOICES, coerce=int,
                                         widget=forms.RadioSelect)
    reason = text("Reason", 2, max_length=2000, help_text="Shown to the customer.")


class EscalateForm(forms.Form):
    business_impact = text("Business impact", 4, max_length=5000, help_text=(
        "What does this problem cost your business now? Management reads this first."))


class AcknowledgeForm(forms.Form):
    next_steps = text("Next steps", 3, max_length=5000)
    communication_plan = text("Communication plan", 3, max_length=5000,
                              help_text="Who tells the customer what, and how often.")


# --- Knowledge base and hot-fix log -----------------------------------------------------


class ArticleForm(forms.Form):
    title = forms.CharField(max_length=200)
    product = forms.ChoiceField(required=False, choices=())
    visibility = forms.ChoiceField(choices=KnowledgeArticle.Visibility.choices,
                                   initial=KnowledgeArticle.Visibility.PUBLIC,
                                   widget=forms.RadioSelect)
    body = text("Article", 14, max_length=50000, help_text="Markdown, rendered sanitized.")

    def __init__(self, *args, products=(), editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["product"]
        else:
            self.fields["product"].choices = [("", "Any product")] + [
                (p.slug, p.name) for p in products]


class HotfixForm(forms.Form):
    product = forms.ChoiceField(choices=())
    version = forms.CharField(max_length=40, help_text="The release that will carry the fix.")
    description = text("Description", 4, max_length=10000)
    cases = forms.CharField(label="Cases waiting for it", required=False, max_length=2000,
                            help_text="Case numbers, separated by spaces or commas.")

    def __init__(self, *args, products=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [("", "Choose…")] + [
            (p.slug, p.name) for p in products]

    def case_numbers(self) -> list[str]:
        raw = self.cleaned_data.get("cases", "").replace(",", " ").split()
        return list(dict.fromkeys(n.strip().upper() for n in raw))[:200]


HOTFIX_STATUSES = Hotfix.Status.choices


# --- Care set-up -----------------------------------------------------------------------

WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
TIME_WIDGET = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


def _people_choices(people, blank: str = "Choose…"):
    return [("", blank)] + [(str(p.pk), f"{p.name} ({p.email})") for p in people]


class SupportGroupForm(forms.Form):
    name = forms.CharField(max_length=120)
    slug = forms.SlugField(max_length=50, help_text="Used in links and the API.")
    description = text("Description", 2, required=False, max_length=5000)
    products = forms.MultipleChoiceField(required=False, choices=(),
                                         widget=forms.CheckboxSelectMultiple)
    timezone = forms.CharField(label="Time zone", max_length=64, initial="UTC",
                               help_text="The calendar of the group's SLAs, e.g. "
                               "America/New_York.")
    country = forms.CharField(label="Holiday calendar (country code)", max_length=2,
                              initial="US")
    day_start = forms.TimeField(label="Business day starts", widget=TIME_WIDGET,
                                initial="08:00")
    day_end = forms.TimeField(label="Business day ends", widget=TIME_WIDGET, initial="18:00")
    workdays = forms.TypedMultipleChoiceField(choices=WEEKDAYS, coerce=int,
                                              widget=forms.CheckboxSelectMultiple,
                                              initial=[0, 1, 2, 3, 4])
    manager = forms.ChoiceField(required=False, choices=(),
                                help_text="Told of SLA breaches in the group's cases.")
    is_default = forms.BooleanField(label="Default group", required=False, help_text=(
        "Takes the cases of products no other group supports."))
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    def __init__(self, *args, products=(), people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.product_objects = {p.slug: p for p in products}
        self.fields["products"].choices = [(p.slug, p.name) for p in products]
        self.fields["manager"].choices = _people_choices(people, "Nobody")

    def save_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data["products"] = [self.product_objects[s] for s in data["products"]]
        data["manager"] = data["manager"] or None
        return data


class ExpertForm(forms.Form):
    user = forms.ChoiceField(label="Person", choices=())
    group = forms.ChoiceField(label="Support group", choices=())
    timezone = forms.CharField(label="Time zone", max_length=64, initial="UTC")
    country = forms.CharField(label="Holiday calendar (country code)", max_length=2,
                              initial="US")
    shift_start = forms.TimeField(widget=TIME_WIDGET, initial="08:00",
                                  help_text="In the expert's own time zone.")
    shift_end = forms.TimeField(widget=TIME_WIDGET, initial="17:00")
    workdays = forms.TypedMultipleChoiceField(choices=WEEKDAYS, coerce=int,
                                              widget=forms.CheckboxSelectMultiple,
                                              initial=[0, 1, 2, 3, 4])
    max_open_cases = forms.IntegerField(label="Most open cases", min_value=0,
                                        max_value=500, initial=20)
    is_available = forms.BooleanField(label="Available for routing", required=False,
                                      initial=True, help_text="Untick for leave or training.")

    SKILL_CHOICES = [("", "No skill"), ("1", "1 · Working knowledge"), ("2", "2 · Skilled"),
                     ("3", "3 · Expert")]

    def __init__(self, *args, people=(), groups=(), products=(), editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["user"]
        else:
            self.fields["user"].choices = _people_choices(people)
        self.group_objects = {str(g.pk): g for g in groups}
        self.fields["group"].choices = [("", "Choose…")] + [(str(g.pk), g.name) for g in groups]
        self.skill_products = []
        for product in products:
            name = f"skill_{product.slug}"
            self.fields[name] = forms.ChoiceField(label=f"Skill: {product.name}",
                                                  choices=self.SKILL_CHOICES, required=False)
            self.skill_products.append((name, product))

    def skill_fields(self):
        return [self[name] for name, _ in self.skill_products]

    def plain_fields(self):
        skill_names = {name for name, _ in self.skill_products}
        return [f for f in self.visible_fields() if f.name not in skill_names]

    def save_kwargs(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if not k.startswith("skill_")}
        data["group"] = self.group_objects.get(data["group"])
        data["skills"] = {product: int(self.cleaned_data[name])
                          for name, product in self.skill_products
                          if self.cleaned_data.get(name)}
        return data


class RequirementForm(forms.Form):
    product = forms.ChoiceField(choices=())
    name = forms.CharField(max_length=50, help_text="A short key, such as phone_number.")
    label = forms.CharField(max_length=120, help_text="The question on the case form.")
    help_text = forms.CharField(required=False, max_length=300)
    order = forms.IntegerField(min_value=0, max_value=1000, initial=0, required=False)

    def __init__(self, *args, products=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.product_objects = {p.slug: p for p in products}
        self.fields["product"].choices = [("", "Choose…")] + [(p.slug, p.name)
                                                              for p in products]

    def save_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data["product"] = self.product_objects.get(data["product"])
        data["order"] = data["order"] or 0
        return data


class EscalationContactForm(forms.Form):
    manager = forms.ChoiceField(label="Management contact", choices=())
    phone = forms.CharField(max_length=40, help_text=(
        "Shown to customers on critical (production-down) escalations."))

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["manager"].choices = _people_choices(people)
