"""Spotting a recurring cause.

A problem is recurring when one of its incidents and another incident (of the same
problem or not) hit the same functional area (any area of their affected tenants) or
the same topology element (the failure target) within RECURRENCE_DAYS of each other,
by detection time. Computed from the incidents as they are now, since a scope can
change; a page of problems costs three queries whatever its size.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from caredeck.incidents.models import AffectedTenant, Incident
from caredeck.problems.models import RECURRENCE_DAYS, Problem, ProblemStatus

WINDOW = datetime.timedelta(days=RECURRENCE_DAYS)


@dataclass(frozen=True)
class IncidentHit:
    """What one incident hit, for comparing."""

    pk: int
    number: str
    title: str
    detected_at: datetime.datetime
    element: str
    areas: frozenset[str]
    problem_id: int | None


@dataclass(frozen=True)
class Recurrence:
    """Two incidents that hit the same thing within the window."""

    incident: IncidentHit  # the problem's own incident
    other: IncidentHit
    match: str  # "area" or "element"
    value: str

    @property
    def days_apart(self) -> int:
        return abs(self.other.detected_at - self.incident.detected_at).days

    @property
    def text(self) -> str:
        return (
            f"{self.incident.number} and {self.other.number}: same {self.match} "
            f"{self.value}, {self.days_apart} day{'s' if self.days_apart != 1 else ''} apart"
        )


def _areas_of(rows) -> frozenset[str]:
    found = set()
    for areas in rows:
        for area in areas if isinstance(areas, list) else []:
            slug = area.get("area") if isinstance(area, dict) else None
            if isinstance(slug, str) and slug:
                found.add(slug)
    return frozenset(found)


def _hits(incidents: Iterable[dict]) -> list[IncidentHit]:
    """`incidents`: value dicts of Incident (pk, number, title, detected_at,
    failure_target, problem_id)."""
    incidents = list(incidents)
    areas: dict[int, list] = defaultdict(list)
    for incident_id, rows in AffectedTenant.objects.filter(
        incident_id__in=[i["pk"] for i in incidents], removed_at__isnull=True
    ).values_list("incident_id", "areas"):
        areas[incident_id].append(rows)
    return [
        IncidentHit(
            pk=i["pk"], number=i["number"], title=i["title"], detected_at=i["detected_at"],
            element=i["failure_target"] or "", areas=_areas_of(areas[i["pk"]]),
            problem_id=i["problem_id"],
        )
        for i in incidents
    ]


_FIELDS = ("pk", "number", "title", "detected_at", "failure_target", "problem_id")


def _matches(mine: IncidentHit, other: IncidentHit) -> list[tuple[str, str]]:
    if mine.pk == other.pk or abs(mine.detected_at - other.detected_at) > WINDOW:
        return []
    found = [("area", area) for area in sorted(mine.areas & other.areas)]
    if mine.element and mine.element == other.element:
        found.append(("element", mine.element))
    return found


def _neighbours(hits: list[IncidentHit]) -> list[IncidentHit]:
    """Every incident detected within the window of any of `hits`."""
    if not hits:
        return []
    start = min(h.detected_at for h in hits) - WINDOW
    end = max(h.detected_at for h in hits) + WINDOW
    return _hits(
        Incident.objects.filter(detected_at__range=(start, end)).values(*_FIELDS)
    )


def recurrences_of(problems: Iterable[Problem]) -> dict[int, list[Recurrence]]:
    """problem id -> the recurrences of its incidents (empty list: not recurring)."""
    ids = [p.pk for p in problems]
    result: dict[int, list[Recurrence]] = {pk: [] for pk in ids}
    own = _hits(Incident.objects.filter(problem_id__in=ids).values(*_FIELDS))
    neighbours = _neighbours(own)
    for problem_id in ids:
        seen: set[tuple] = set()
        for mine in (h for h in own if h.problem_id == problem_id):
            for other in neighbours:
                for match, value in _matches(mine, other):
                    # Two incidents of the same problem meet twice; report the pair once.
                    key = (frozenset((mine.pk, other.pk)), match, value)
                    if key in seen:
                        continue
                    seen.add(key)
                    result[problem_id].append(Recurrence(mine, other, match, value))
        result[problem_id].sort(key=lambda r: (r.days_apart, r.other.number))
    return result


def is_recurring(problem: Problem) -> bool:
    return bool(recurrences_of([problem])[problem.pk])


@dataclass(frozen=True)
class Suggestion:
    """An existing problem an incident under review looks like, and why."""

    problem: Problem
    reason: str
    days: int | None  # days between the incidents; None: the problem's declared area


def problem_suggestions(incident: Incident) -> list[Suggestion]:
    """Problems (not closed) the incident looks like: first those with an incident that
    hit the same area or element within the window (closest first), then those whose
    declared area or element is one the incident hit."""
    [mine] = _hits(Incident.objects.filter(pk=incident.pk).values(*_FIELDS))
    best: dict[int, tuple[int, str]] = {}
    for other in _neighbours([mine]):
        if other.problem_id is None:
            continue
        for match, value in _matches(mine, other):
            days = abs(mine.detected_at - other.detected_at).days
            when = "ago" if other.detected_at <= mine.detected_at else "later"
            reason = (
                f"same {match} {value} {days} day{'s' if days != 1 else ''} {when} "
                f"({other.number})"
            )
            if other.problem_id not in best or days < best[other.problem_id][0]:
                best[other.problem_id] = (days, reason)
    open_problems = Problem.objects.exclude(status=ProblemStatus.CLOSED).select_related("owner")
    by_id = {p.pk: p for p in open_problems.filter(pk__in=best)}
    found = [
        Suggestion(by_id[pk], reason, days)
        for pk, (days, reason) in sorted(best.items(), key=lambda kv: kv[1][0])
        if pk in by_id
    ]
    declared = open_problems.exclude(pk__in=best).exclude(pk=incident.problem_id or 0)
    for problem in declared.filter(area__in=sorted(mine.areas)) if mine.areas else []:
        found.append(Suggestion(problem, f"its area is {problem.area}", None))
    if mine.element:
        listed = {s.problem.pk for s in found}
        for problem in declared.filter(element=mine.element).exclude(pk__in=listed):
            found.append(Suggestion(problem, f"its element is {problem.element}", None))
    return found
