"""Pages of problem management: the problem list, a new problem, a problem's page (its
incidents, action items, RCA and status moves) and an incident's post-incident review.

Thin: parse with a form, call one service or selector, render (the row partial when htmx
asks) or redirect. Problems are provider-internal: anyone else gets 404. Staff who read
them but lack MANAGE_PROBLEMS get 403 on changes; an action item's owner may still tick
it off. A refused change re-renders the page with the error beside the field.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from caredeck.core.audit import audit_entries_for
from caredeck.core.exceptions import Conflict
from caredeck.incidents.selectors import incident_get
from caredeck.problems import forms, rca, recurrence, selectors, services, states
from caredeck.problems.models import PostIncidentReview, Problem, ProblemStatus
from caredeck.web.forms import add_service_errors

PAGE_SIZE = 25
# How many open problems the review page offers besides the suggested ones.
OTHER_PROBLEMS_OFFERED = 200


def _require_reader(request) -> None:
    if not selectors.can_see_problems(request.user):
        raise Http404("No such page.")


def _require_manager(request) -> None:
    if not selectors.can_manage_problems(request.user):
        raise PermissionDenied("Your roles do not allow this (problem management).")


# --- The list --------------------------------------------------------------------------


@login_required
def problem_list(request):
    _require_reader(request)
    filters = forms.ProblemFilterForm(request.GET or None)
    status = filters.cleaned_data["status"] if filters.is_valid() else ""
    problems = selectors.problems_list(request.user, status=status).order_by(
        "-created_at", "-pk"
    )
    page = Paginator(problems, PAGE_SIZE).get_page(request.GET.get("page"))
    found = recurrence.recurrences_of(page.object_list)
    rows = [{"problem": p, "recurrences": found.get(p.pk, [])} for p in page.object_list]
    return render(request, "problems/problem_list.html", {
        "page": page, "rows": rows, "filters": filters, "status": status,
        "can_manage": selectors.can_manage_problems(request.user),
    })


@login_required
def problem_new(request):
    _require_reader(request)
    _require_manager(request)
    form = forms.ProblemCreateForm(request.POST or None, initial={"owner": request.user.pk})
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            incidents = selectors.incidents_by_numbers(request.user, data.pop("incidents"))
            problem = services.problem_create(actor=request.user, incidents=incidents, **data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{problem.number} opened.")
            return redirect("problem-detail", problem.number)
    return render(request, "problems/problem_form.html", {"form": form})


# --- A problem's page --------------------------------------------------------------------


def _detail(request, problem: Problem, *, code: int = 200, **given):
    problem.refresh_from_db()
    can_manage = selectors.can_manage_problems(request.user)
    recipients = rca.recipients_of(problem)
    context = {
        "problem": problem,
        "incidents": selectors.problem_incidents(problem),
        "action_items": selectors.problem_action_items(problem),
        "recurrences": recurrence.recurrences_of([problem])[problem.pk],
        "can_manage": can_manage,
        "transitions": [
            (status, states.ACTION_LABELS[status]) for status in
            states.allowed_next(problem.status)
        ] if can_manage else [],
        "editable": can_manage and problem.status != ProblemStatus.CLOSED,
        "edit_form": given.get("edit_form") or forms.ProblemEditForm.for_problem(problem),
        "rca_form": given.get("rca_form") or forms.RcaForm(
            initial={"rca_document": problem.rca_document}
        ),
        "link_form": given.get("link_form") or forms.LinkForm(),
        "rca_tenants": len({row.organization_id for row in recipients}),
        "history": audit_entries_for(problem)[:30],
        "history_url": reverse("history", args=["problem", problem.number]),
        "today": timezone.localdate(),
    }
    return render(request, "problems/problem_detail.html", context, status=code)


def _problem_for_change(request, number) -> Problem:
    problem = selectors.problem_get(request.user, number)
    _require_manager(request)
    return problem


def _refused(request, problem: Problem, exc: Conflict):
    messages.error(request, exc.reason)
    return redirect("problem-detail", problem.number)


@login_required
def problem_detail(request, number):
    return _detail(request, selectors.problem_get(request.user, number))


@login_required
@require_POST
def problem_edit(request, number):
    problem = _problem_for_change(request, number)
    form = forms.ProblemEditForm.for_problem(problem, request.POST)
    if form.is_valid():
        try:
            services.problem_update(actor=request.user, problem=problem, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return _refused(request, problem, exc)
        else:
            messages.success(request, f"{problem.number} saved.")
            return redirect("problem-detail", problem.number)
    return _detail(request, problem, edit_form=form)


@login_required
@require_POST
def problem_transition(request, number):
    problem = _problem_for_change(request, number)
    target = request.POST.get("status", "")
    try:
        services.problem_transition(actor=request.user, problem=problem, status=target)
    except ValidationError as exc:
        # A move that needs a field (root cause, work-around): ask for it beside the field.
        form = forms.ProblemEditForm.as_saved(problem)
        add_service_errors(form, exc)
        messages.error(request, "Not moved: fill in what is marked below, save, and try again.")
        return _detail(request, problem, edit_form=form)
    except Conflict as exc:
        return _refused(request, problem, exc)
    messages.success(request, f"{problem.number} is now {problem.get_status_display().lower()}.")
    return redirect("problem-detail", problem.number)


@login_required
@require_POST
def problem_rca_save(request, number):
    problem = _problem_for_change(request, number)
    form = forms.RcaForm(request.POST)
    if form.is_valid():
        try:
            services.problem_update(
                actor=request.user, problem=problem,
                rca_document=form.cleaned_data["rca_document"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return _refused(request, problem, exc)
        else:
            messages.success(request, "Root-cause analysis saved (not published).")
            return redirect(reverse("problem-detail", args=[problem.number]) + "#rca-h")
    return _detail(request, problem, rca_form=form)


@login_required
@require_POST
def problem_rca_publish(request, number):
    problem = _problem_for_change(request, number)
    try:
        services.problem_rca_publish(actor=request.user, problem=problem)
    except ValidationError as exc:
        # The document's errors go beside the RCA editor, the root cause's beside it.
        edit_form = forms.ProblemEditForm.as_saved(problem)
        rca_form = forms.RcaForm({"rca_document": problem.rca_document})
        rca_form.is_valid()
        for field, errors in exc.message_dict.items():
            target = rca_form if field in rca_form.fields else edit_form
            for error in errors:
                target.add_error(field if field in target.fields else None, error)
        messages.error(request, "Not published: correct what is marked below.")
        return _detail(request, problem, edit_form=edit_form, rca_form=rca_form)
    except Conflict as exc:
        return _refused(request, problem, exc)
    messages.success(request, "Root-cause analysis published and sent to the affected tenants.")
    return redirect("problem-detail", problem.number)


@login_required
@require_POST
def problem_link(request, number):
    problem = _problem_for_change(request, number)
    form = forms.LinkForm(request.POST)
    if form.is_valid():
        try:
            [incident] = selectors.incidents_by_numbers(
                request.user, [form.cleaned_data["incident"]], field="incident"
            )
            services.problem_incident_link(actor=request.user, problem=problem,
                                           incident=incident)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            form.add_error("incident", exc.reason)
        else:
            messages.success(request, f"{incident.number} linked.")
            return redirect("problem-detail", problem.number)
    return _detail(request, problem, link_form=form)


@login_required
@require_POST
def problem_unlink(request, number):
    problem = _problem_for_change(request, number)
    try:
        [incident] = selectors.incidents_by_numbers(
            request.user, [str(request.POST.get("incident", ""))[:20]], field="incident"
        )
        services.problem_incident_unlink(actor=request.user, problem=problem, incident=incident)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except Conflict as exc:
        return _refused(request, problem, exc)
    else:
        messages.success(request, f"{incident.number} unlinked.")
    return redirect("problem-detail", problem.number)


@login_required
@require_POST
def action_item_toggle(request, number, item_id):
    problem = selectors.problem_get(request.user, number)
    item = (
        problem.action_items.select_related("owner", "problem", "review__incident")
        .filter(pk=item_id).first()
    )
    if item is None:
        raise Http404("No such action item.")
    done = request.POST.get("done") == "1"
    # The row lives on the problem's page and on the review's; answer for the one it is on.
    on_review = request.POST.get("on_review") == "1"
    row = {"item": item, "problem": problem, "on_review": on_review,
           "can_manage": selectors.can_manage_problems(request.user),
           "today": timezone.localdate()}
    try:
        if done:
            services.action_item_done(actor=request.user, item=item)
        else:
            services.action_item_reopen(actor=request.user, item=item)
    except Conflict as exc:
        if request.htmx:
            return render(request, "problems/_action_item.html", {**row, "error": exc.reason},
                          status=409)
        messages.error(request, exc.reason)
    else:
        if request.htmx:
            return render(request, "problems/_action_item.html", row)
        messages.success(request, f"“{item.title}” {'done' if done else 'open again'}.")
    if on_review:
        return redirect(reverse("incident-review", args=[item.review.incident.number]) +
                        "#items-h")
    return redirect(reverse("problem-detail", args=[problem.number]) + "#items-h")


# --- An incident's post-incident review --------------------------------------------------


def _problem_options(incident) -> tuple[list[tuple[str, str]], list]:
    """(choices for the problem select: suggested ones first with the reason, then the
    other open problems; the suggestions themselves for the page)."""
    suggestions = recurrence.problem_suggestions(incident)
    options = [
        (s.problem.number, f"{s.problem.number} · {s.problem.title} — looks like it: {s.reason}")
        for s in suggestions
    ]
    offered = {s.problem.pk for s in suggestions}
    others = Problem.objects.exclude(status=ProblemStatus.CLOSED).exclude(pk__in=offered)
    options += [
        (p.number, f"{p.number} · {p.title}")
        for p in others.order_by("-created_at")[:OTHER_PROBLEMS_OFFERED]
    ]
    return options, suggestions


def _review_forms(request, incident, data=None):
    options, suggestions = _problem_options(incident)
    initial = {
        "held_on": timezone.localdate(), "facilitator": request.user.pk,
        "problem_choice": forms.PROBLEM_LINK if (suggestions or incident.problem_id)
        else forms.PROBLEM_NEW,
        "problem": incident.problem.number if incident.problem_id else (
            suggestions[0].problem.number if suggestions else ""
        ),
        "new_title": incident.title,
    }
    form = forms.ReviewForm(data, initial=initial, problem_options=options)
    items = forms.ActionItemFormSet(data, prefix="items")
    return form, items, suggestions


def _review_items(items) -> list[dict]:
    return [f.cleaned_data for f in items.forms if f.cleaned_data and not f.is_blank]


def _review_problem(request, form) -> tuple[Problem | None, dict | None]:
    data = form.cleaned_data
    if data["problem_choice"] == forms.PROBLEM_NEW:
        new = {"title": data["new_title"], "description": data["new_description"]}
        if data.get("new_owner"):
            new["owner"] = data["new_owner"]
        return None, new
    try:
        return selectors.problem_get(request.user, data["problem"]), None
    except Http404:
        raise ValidationError({"problem": ["No such problem."]}) from None


@login_required
def incident_review(request, number):
    incident = incident_get(request.user, number)  # 404 to whoever cannot see it
    _require_manager(request)
    review = (
        PostIncidentReview.objects.select_related("facilitator").filter(incident=incident).first()
    )
    if review is not None:
        return _review_page(request, incident, review)
    form, items, suggestions = _review_forms(
        request, incident, request.POST if request.method == "POST" else None
    )
    # Both validated, so every error shows at once.
    valid = request.method == "POST" and all([form.is_valid(), items.is_valid()])
    if valid:
        data = form.cleaned_data
        try:
            problem, new_problem = _review_problem(request, form)
            services.review_hold(
                actor=request.user, incident=incident, held_on=data["held_on"],
                facilitator=data["facilitator"], summary=data["summary"],
                went_well=data["went_well"], went_wrong=data["went_wrong"],
                action_items=_review_items(items), problem=problem, new_problem=new_problem,
            )
        except ValidationError as exc:
            _review_errors(form, exc)
        except Conflict as exc:
            messages.error(request, exc.reason)
            return redirect("incident-review", incident.number)
        else:
            messages.success(request, f"Review of {incident.number} recorded.")
            return redirect("incident-review", incident.number)
    return render(request, "problems/incident_review.html", {
        "incident": incident, "form": form, "items": items, "suggestions": suggestions,
        "reviewable": incident.status in services.REVIEWABLE_STATUSES,
    })


def _review_errors(form, exc: ValidationError) -> None:
    """The service speaks of `action_items` and `new_problem`; on this page those are
    the item rows and the new-problem fields."""
    if not hasattr(exc, "error_dict"):
        add_service_errors(form, exc)
        return
    renamed = {"new_problem": "new_title", "action_items": None}
    for field, errors in exc.message_dict.items():
        target = renamed.get(field, field)
        for error in errors:
            form.add_error(target if target in form.fields else None, error)


def _review_page(request, incident, review, *, item_form=None):
    return render(request, "problems/incident_review.html", {
        "incident": incident, "review": review,
        "action_items": list(review.action_items.select_related("owner", "problem")),
        "item_form": item_form or forms.ActionItemForm(prefix="new"),
        "today": timezone.localdate(),
        "can_manage": True,
    })


@login_required
@require_POST
def review_action_item_add(request, number):
    incident = incident_get(request.user, number)
    _require_manager(request)
    review = PostIncidentReview.objects.filter(incident=incident).first()
    if review is None:
        raise Http404("This incident has not been reviewed yet.")
    form = forms.ActionItemForm(request.POST, prefix="new")
    if form.is_valid():
        try:
            services.action_item_add(actor=request.user, review=review, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            messages.error(request, exc.reason)
            return redirect("incident-review", incident.number)
        else:
            messages.success(request, "Action item added.")
            return redirect("incident-review", incident.number)
    return _review_page(request, incident, review, item_form=form)

