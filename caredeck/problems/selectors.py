"""Reads of problem records, reviews and action items, always for the acting user.

Problems are provider-internal: they gather incidents of many tenants, so only provider
staff who serve every tenant read them. Everyone else, customers and partners included,
gets 404 as if no problem existed (a TAM sees only its own accounts' incidents, so it
does not read problems either).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from caredeck.accounts.access import has_capability
from caredeck.accounts.models import User
from caredeck.accounts.roles import ROLE_CAPABILITIES, Capability, OrganizationKind
from caredeck.core.numbering import looks_like_number
from caredeck.core.selectors import one_or_404
from caredeck.incidents.models import Incident
from caredeck.incidents.selectors import incidents_visible
from caredeck.problems.clocks import action_item_due_at, action_item_url
from caredeck.problems.models import ActionItem, Problem, ProblemStatus


def can_see_problems(user) -> bool:
    return has_capability(user, Capability.SERVE_ALL_TENANTS)


def can_manage_problems(user) -> bool:
    return has_capability(user, Capability.MANAGE_PROBLEMS)


def problems_visible(user) -> QuerySet[Problem]:
    if not can_see_problems(user):
        return Problem.objects.none()
    return Problem.objects.all()


def problem_get(user, number) -> Problem:
    if not looks_like_number(number, "PRB"):
        raise Http404("No such problem.")
    return one_or_404(
        problems_visible(user).select_related("owner"), "problem", number=number
    )


def problems_list(user, *, status: str = "") -> QuerySet[Problem]:
    """`status`: one of ProblemStatus, "active" (not closed), or "" for every problem."""
    problems = problems_visible(user).select_related("owner").annotate(
        incident_count=Count("incidents", distinct=True),
        open_items=Count("action_items", filter=Q(action_items__done_at__isnull=True),
                         distinct=True),
    )
    if status == "active":
        problems = problems.exclude(status=ProblemStatus.CLOSED)
    elif status in ProblemStatus.values:
        problems = problems.filter(status=status)
    return problems


def problem_incidents(problem: Problem) -> list[Incident]:
    return list(problem.incidents.select_related("manager").order_by("-detected_at", "-pk"))


def problem_action_items(problem: Problem) -> list[ActionItem]:
    return list(problem.action_items.select_related("owner", "review__incident"))


# --- People who may own or work on problems ---------------------------------------------

_STAFF_ROLES = tuple(
    role for role, caps in ROLE_CAPABILITIES.items() if Capability.SERVE_ALL_TENANTS in caps
)


def problem_staff() -> QuerySet[User]:
    """Active provider people who can see problem records: the only ones who can own a
    problem, facilitate a review or carry an action item (and then open its page)."""
    return (
        User.objects.filter(
            is_active=True, organization__kind=OrganizationKind.PROVIDER,
            role_grants__role__in=_STAFF_ROLES,
        )
        .distinct()
        .order_by("name", "email")
    )


def is_problem_staff(user) -> bool:
    return user is not None and problem_staff().filter(pk=user.pk).exists()


# --- Incidents named by number -----------------------------------------------------------


def incidents_by_numbers(user, numbers: Iterable[str], *, field: str = "incidents") -> list:
    """The incidents `numbers` name, each visible to `user`; a number that names nothing
    (or an incident the user cannot see) is a field error, never a 500."""
    wanted = list(dict.fromkeys(numbers))
    bad = [n for n in wanted if not looks_like_number(n, "INC")]
    found = {
        i.number: i
        for i in incidents_visible(user).filter(
            number__in=[n for n in wanted if n not in bad]
        )
    }
    missing = [n for n in wanted if n not in found]
    if missing:
        shown = ", ".join(str(n)[:20] for n in missing[:5])
        raise ValidationError({field: [f"No such incident: {shown}."]})
    return [found[n] for n in wanted]


def parse_numbers(text: str) -> list[str]:
    """ "INC-000001, inc-000002\\nINC-000003" -> the numbers, upper-cased, in order."""
    parts = text.replace("\n", ",").replace(";", ",").replace(" ", ",").split(",")
    return list(dict.fromkeys(p.strip().upper() for p in parts if p.strip()))


# --- The home worklist -----------------------------------------------------------------


def work_for(user) -> list[dict]:
    """What problem management asks of `user` now: action items of theirs still open
    (soonest first) and RCAs of problems they own that are not published yet."""
    if not can_see_problems(user):
        return []
    rows: list[dict] = []
    items = (
        ActionItem.objects.filter(owner=user, done_at__isnull=True)
        .select_related("problem", "review__incident", "owner")
        .order_by("due_on", "pk")[:20]
    )
    today = timezone.localdate()
    for item in items:
        where = item.problem.number if item.problem else item.review.incident.number
        state = "overdue" if item.due_on < today else (
            "due today" if item.due_on == today else f"due {item.due_on:%Y-%m-%d}"
        )
        rows.append({
            "title": f"Action item: {item.title}",
            "detail": f"{where} · from the review of {item.review.incident.number} · {state}",
            "url": action_item_url(item),
            "due_at": action_item_due_at(item),
        })
    owned = Problem.objects.filter(
        owner=user, rca_published_at__isnull=True, rca_due_at__isnull=False
    ).exclude(status=ProblemStatus.CLOSED).order_by("rca_due_at")[:20]
    for problem in owned:
        rows.append({
            "title": f"Publish the root-cause analysis of {problem.number}",
            "detail": f"{problem.title} · owed to the affected tenants of its incidents",
            "url": reverse("problem-detail", args=[problem.number]),
            "due_at": problem.rca_due_at,
        })
    return rows

