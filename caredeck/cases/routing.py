"""Assessment and tier-less routing of a new case (seed digest §3).

Assessment: completeness against the product's required facts (CaseRequirement),
complexity from the product's recent history, the criticality and the tenant's history,
and the criticality as given.

Routing, follow-the-sun:
1. the support group of the product (the default group when none supports it);
2. within it, experts skilled in the product who are on shift now in their own time zone
   and working hours, with room under their case limit; the least loaded first, then the
   most skilled (experts first for complex cases);
3. nobody on shift: the skilled expert whose shift starts soonest (the next region to
   wake up), so the case is theirs when they start;
4. criticality 1 goes to whoever is on shift now anywhere in the world, 24x7: a skilled
   expert in any group first, then anyone on shift.
Every decision comes with its reasons, shown on the case.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, Q

from caredeck.cases.models import (
    ACTIVE,
    Case,
    Complexity,
    Criticality,
    Deployment,
    Expert,
    Skill,
    SupportGroup,
)
from caredeck.core.calendar import BusinessHours

HISTORY_DAYS = 90
# A tenant with this many cases on the product in HISTORY_DAYS has a recurring problem.
RECURRING_CASES = 3
# Share of the product's recent cases that needed more than one solution or a reopen
# above which the product counts as hard.
HARD_PRODUCT_SHARE = 0.3


@dataclass
class Assessment:
    missing: list[str] = field(default_factory=list)  # labels of the facts still missing
    missing_names: list[str] = field(default_factory=list)
    complexity: str = Complexity.LOW
    reasons: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing

    def as_json(self) -> dict:
        return {"missing": self.missing, "missing_names": self.missing_names,
                "complexity": self.complexity, "reasons": self.reasons}


@dataclass
class Decision:
    group: SupportGroup | None
    expert: Expert | None
    reasons: list[str]

    def as_json(self, at: datetime.datetime) -> dict:
        return {
            "group": self.group.slug if self.group else None,
            "owner": self.expert.user_id if self.expert else None,
            "reasons": self.reasons,
            "decided_at": at.isoformat(),
        }


def assess(case: Case, now: datetime.datetime) -> Assessment:
    result = Assessment()
    for requirement in case.product.case_requirements.all():
        if not str((case.facts or {}).get(requirement.name, "")).strip():
            result.missing.append(requirement.label)
            result.missing_names.append(requirement.name)
    score = 0
    if case.criticality == Criticality.CRITICAL:
        score += 2
        result.reasons.append("Criticality 1: production down.")
    elif case.criticality == Criticality.HIGH:
        score += 1
        result.reasons.append("Criticality 2: high.")
    if case.deployment == Deployment.PREMISE:
        score += 1
        result.reasons.append("Premise deployment: the customer's own environment.")
    since = now - datetime.timedelta(days=HISTORY_DAYS)
    recent = (
        Case.objects.filter(product_id=case.product_id, created_at__gte=since)
        .exclude(pk=case.pk)
        .aggregate(
            total=Count("pk"),
            hard=Count("pk", filter=Q(solutions_rejected__gt=0) | Q(reopened__gt=0)),
            tenant=Count("pk", filter=Q(organization_id=case.organization_id)),
        )
    )
    if recent["total"] and recent["hard"] / recent["total"] >= HARD_PRODUCT_SHARE:
        score += 1
        result.reasons.append(
            f"{case.product.name}: {recent['hard']} of its {recent['total']} recent cases "
            "needed more than one solution or were reopened."
        )
    if recent["tenant"] >= RECURRING_CASES:
        score += 1
        result.reasons.append(
            f"{recent['tenant']} cases from this customer on {case.product.name} in the "
            f"last {HISTORY_DAYS} days."
        )
    result.complexity = (
        Complexity.HIGH if score >= 3 else Complexity.MEDIUM if score >= 2 else Complexity.LOW
    )
    return result


def group_for(case: Case) -> tuple[SupportGroup | None, str]:
    group = (
        SupportGroup.objects.filter(is_active=True, products=case.product_id)
        .order_by("name").first()
    )
    if group is not None:
        return group, f"{group.name} supports {case.product.name}."
    group = SupportGroup.objects.filter(is_active=True, is_default=True).first()
    if group is not None:
        return group, f"No group supports {case.product.name}; {group.name} takes it."
    return None, "No support group is set up yet; the case waits for a care manager."


def shift_of(expert: Expert) -> BusinessHours:
    return BusinessHours(
        tz=expert.timezone, country=expert.country, start=expert.shift_start,
        end=expert.shift_end, workdays=tuple(expert.workdays or ()),
    )


def _candidates(product_id: int, **filters) -> list[Expert]:
    """Available experts with their skill level for the product and their open cases."""
    experts = (
        Expert.objects.filter(is_available=True, user__is_active=True, **filters)
        .select_related("user", "group")
        .annotate(
            load=Count("user__owned_cases", filter=Q(user__owned_cases__status__in=ACTIVE),
                       distinct=True),
        )
    )
    levels = {}
    for expert_id, level in Skill.objects.filter(
        product_id=product_id, expert__in=[e.pk for e in experts]
    ).values_list("expert_id", "level"):
        levels[expert_id] = level
    result = []
    for expert in experts:
        expert.skill_level = levels.get(expert.pk, 0)
        result.append(expert)
    return result


def _local(expert: Expert, now: datetime.datetime) -> str:
    try:
        local = now.astimezone(ZoneInfo(expert.timezone))
    except (ZoneInfoNotFoundError, ValueError):  # a bad zone name reads as UTC
        local = now
    return f"{local:%H:%M} in {expert.timezone}"


def _rank(experts: list[Expert], complexity: str) -> list[Expert]:
    """Least loaded first; for a complex case the most skilled first."""
    def key(expert):
        if complexity == Complexity.HIGH:
            return (-expert.skill_level, expert.load, expert.user.name)
        return (expert.load, -expert.skill_level, expert.user.name)

    return sorted(experts, key=key)


def _pick_on_shift(experts, now, complexity) -> Expert | None:
    on_shift = [e for e in experts if shift_of(e).is_open(now) and e.load < e.max_open_cases]
    ranked = _rank(on_shift, complexity)
    return ranked[0] if ranked else None


def _describe(expert: Expert, now: datetime.datetime, product_name: str) -> str:
    skill = {3: "expert in", 2: "skilled in", 1: "working knowledge of"}.get(
        expert.skill_level, "no recorded skill in"
    )
    return (
        f"{expert.user.name} ({expert.group.name}) is on shift ({_local(expert, now)}), "
        f"{skill} {product_name}, carrying {expert.load} open case"
        f"{'' if expert.load == 1 else 's'}."
    )


def route(case: Case, now: datetime.datetime, complexity: str) -> Decision:
    group, group_reason = group_for(case)
    reasons = [group_reason]
    product = case.product
    if case.criticality == Criticality.CRITICAL:
        everyone = _candidates(product.pk)
        skilled = [e for e in everyone if e.skill_level]
        in_group = [e for e in skilled if group is not None and e.group_id == group.pk]
        for pool, why in (
            (in_group, "Criticality 1: routed 24x7 to whoever is on shift now."),
            (skilled, "Criticality 1: nobody in the group is on shift now; routed "
                      "worldwide to a skilled expert on shift."),
            (everyone, "Criticality 1: no skilled expert is on shift now; routed to the "
                       "analyst on shift anywhere, who owns it until a specialist wakes."),
        ):
            chosen = _pick_on_shift(pool, now, complexity)
            if chosen is not None:
                return Decision(group, chosen, [*reasons, why, _describe(chosen, now,
                                                                           product.name)])
        reasons.append("Criticality 1: nobody is on shift anywhere right now.")
    if group is None:
        return Decision(None, None, reasons)
    members = _candidates(product.pk, group=group)
    skilled = [e for e in members if e.skill_level]
    pool = skilled or members
    if not skilled and members:
        reasons.append(f"Nobody in {group.name} lists a skill in {product.name}; any "
                       "member may take it.")
    chosen = _pick_on_shift(pool, now, complexity)
    if chosen is not None:
        if complexity == Complexity.HIGH:
            reasons.append("Complex case: the most skilled on shift first.")
        return Decision(group, chosen, [*reasons, _describe(chosen, now, product.name)])
    # Follow the sun: the next to start their shift takes it.
    upcoming = []
    for expert in pool:
        if expert.load >= expert.max_open_cases:
            continue
        opening = shift_of(expert).next_opening(now)
        if opening is not None:
            upcoming.append((opening, expert.load, -expert.skill_level, expert.user.name, expert))
    if not upcoming:
        reasons.append(f"Nobody in {group.name} can take it now; it waits in the group's "
                       "queue, unassigned.")
        return Decision(group, None, reasons)
    upcoming.sort(key=lambda row: row[:4])
    opening, _, _, _, chosen = upcoming[0]
    hours = (opening - now).total_seconds() / 3600
    reasons.append(
        f"Nobody in {group.name} is on shift now; {chosen.user.name} starts next "
        f"({opening:%Y-%m-%d %H:%M} UTC, in {hours:.1f} h) and takes it."
    )
    return Decision(group, chosen, reasons)

