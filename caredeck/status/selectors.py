"""Reads behind the status pages, the feed and the status API.

A tenant's status is computed from what already exists: its rows in the scope of
incidents (`AffectedTenant`, with its own areas and impact text) and of maintenance
windows (`MaintenanceTenant`). Every read names the tenant; the signed-in entry points
check first that the acting user may see it (`status_organization`), the feed that its
token names it, and the public page reads only platform-wide aggregates with no tenant
name or per-tenant text in them.

Rows are read once with `values_list` and turned into `IncidentSpan`s and
`MaintenanceSpan`s; the history bars and the SLA report count minutes on those in Python
(intervals.py), so a page costs a fixed handful of queries whatever the history.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from django.core.validators import slug_re
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from caredeck.accounts.access import has_capability, tenants_for
from caredeck.accounts.models import Organization
from caredeck.accounts.roles import Capability
from caredeck.incidents.models import (
    OPEN_STATUSES,
    AffectedTenant,
    Incident,
    IncidentStatus,
    IncidentUpdate,
)
from caredeck.maintenance.models import Maintenance, MaintenanceStatus, MaintenanceTenant
from caredeck.status.intervals import clipped, overlaps, total_seconds, without
from caredeck.status.models import FeedToken
from caredeck.status.states import (
    AreaState,
    area_slug,
    counts_as_outage,
    incident_state,
    state_view,
    worst,
)
from caredeck.topology.models import Deployment, FunctionalArea, Pop, Region, Zone

HISTORY_DAYS = 90
# An `areas` list left empty in a scope means every area the tenant uses.
ALL_AREAS = "*"
ALL_AREAS_NAME = "All services"

# The rule of incidents.selectors.affected_visible: a tenant taken out of an incident's
# scope before it was told never learns of the incident, so nothing here shows it either.
TOLD_OR_CURRENT = Q(removed_at__isnull=True) | Q(first_notice_at__isnull=False)
# Maintenance that happened (or is happening) counts; scheduled and cancelled windows
# never took time away from anyone.
MAINTENANCE_HAPPENED = (MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.COMPLETED)
MAINTENANCE_UPCOMING = (MaintenanceStatus.SCHEDULED, MaintenanceStatus.IN_PROGRESS)


# --- Who may read which tenant's status -------------------------------------------------


def status_organization(user, slug: str | None = None, *, current=None) -> Organization:
    """The tenant whose status `user` reads: the one named by `slug` among the tenants
    the user may see, else `current` (the request's tenant), else the user's own
    organization. Anything the user may not see is 404, as if it did not exist."""
    visible = tenants_for(user)
    if slug:
        if not isinstance(slug, str) or not slug_re.match(slug):
            raise Http404("No such organization.")
        organization = visible.select_related("contract").filter(slug=slug).first()
    else:
        chosen = current if current is not None else getattr(user, "organization", None)
        organization = (
            visible.select_related("contract").filter(pk=chosen.pk).first() if chosen else None
        )
    if organization is None or not has_capability(user, Capability.VIEW_TENANT, organization):
        raise Http404("No such organization.")
    return organization


# --- Spans: when an incident or a window held an area of a tenant ------------------------


@dataclass(frozen=True)
class IncidentSpan:
    """One incident's hold on one area of one tenant, from the moment the tenant was in
    scope (detection, or when it was added later) until resolution or removal (`now`
    while it goes on)."""

    organization_id: int
    incident_id: int
    area: str  # a functional-area id, or ALL_AREAS
    area_name: str
    start: dt.datetime
    end: dt.datetime
    state: AreaState
    outage: bool

    @property
    def interval(self) -> tuple[dt.datetime, dt.datetime]:
        return (self.start, self.end)


@dataclass(frozen=True)
class MaintenanceSpan:
    organization_id: int
    maintenance_id: int
    areas: frozenset[str]  # empty: every area of the tenant
    start: dt.datetime
    end: dt.datetime

    def touches(self, area: str) -> bool:
        return not self.areas or area == ALL_AREAS or area in self.areas

    @property
    def interval(self) -> tuple[dt.datetime, dt.datetime]:
        return (self.start, self.end)


def _incident_end(status, resolved_at, closed_at, updated_at, now) -> dt.datetime:
    if resolved_at is not None:
        return resolved_at
    if status in OPEN_STATUSES:
        return now
    # Closed without a resolution time (data from before resolution was recorded).
    return closed_at or updated_at or now


def incident_spans(
    rows: QuerySet[AffectedTenant], *, since: dt.datetime, until: dt.datetime, now: dt.datetime
) -> list[IncidentSpan]:
    """The spans of the affected-tenant `rows` (already scoped to the reader) that
    overlap [since, until), in one query."""
    rows = (
        rows.filter(TOLD_OR_CURRENT)
        .filter(incident__detected_at__lt=until, added_at__lt=until)
        .filter(Q(incident__resolved_at__isnull=True) | Q(incident__resolved_at__gt=since))
        .filter(Q(removed_at__isnull=True) | Q(removed_at__gt=since))
        .values_list(
            "organization_id", "incident_id", "incident__severity", "incident__status",
            "incident__detected_at", "incident__resolved_at", "incident__closed_at",
            "incident__updated_at", "added_at", "removed_at", "areas",
        )
    )
    spans = []
    for (org_id, incident_id, severity, status, detected_at, resolved_at, closed_at,
         updated_at, added_at, removed_at, areas) in rows:
        start = max(detected_at, added_at)
        end = _incident_end(status, resolved_at, closed_at, updated_at, now)
        if removed_at is not None:
            end = min(end, removed_at)
        end = min(end, now)
        if end <= start:
            continue
        entries = areas if isinstance(areas, list) and areas else [{"area": ALL_AREAS}]
        for entry in entries:
            slug = area_slug(entry)
            if not slug:
                continue
            spans.append(
                IncidentSpan(
                    organization_id=org_id, incident_id=incident_id, area=slug,
                    area_name=(entry.get("name") if isinstance(entry, dict) else "") or "",
                    start=start, end=end,
                    state=incident_state(severity, entry),
                    outage=counts_as_outage(severity, entry),
                )
            )
    return spans


def maintenance_spans(
    rows: QuerySet[MaintenanceTenant], *, since: dt.datetime, until: dt.datetime,
    now: dt.datetime,
) -> list[MaintenanceSpan]:
    """The windows of the maintenance-tenant `rows` that took place in [since, until):
    from the actual start (else the announced one) to the actual end (else the announced
    one), never past `now`."""
    rows = (
        rows.filter(maintenance__status__in=MAINTENANCE_HAPPENED)
        .filter(Q(maintenance__started_at__lt=until)
                | Q(maintenance__started_at__isnull=True, maintenance__starts_at__lt=until))
        .values_list(
            "organization_id", "maintenance_id", "maintenance__starts_at",
            "maintenance__ends_at", "maintenance__started_at", "maintenance__completed_at",
            "removed_at", "areas",
        )
    )
    spans = []
    for (org_id, maintenance_id, starts_at, ends_at, started_at, completed_at, removed_at,
         areas) in rows:
        start = started_at or starts_at
        end = min(completed_at or ends_at, now)
        if removed_at is not None:
            end = min(end, removed_at)
        if end <= start or end <= since:
            continue
        slugs = frozenset(
            area_slug(e) for e in (areas if isinstance(areas, list) else []) if area_slug(e)
        )
        spans.append(
            MaintenanceSpan(
                organization_id=org_id, maintenance_id=maintenance_id, areas=slugs,
                start=start, end=end,
            )
        )
    return spans


def tenant_areas(organization_ids: Iterable[int] | QuerySet) -> dict[int, list[tuple[str, str]]]:
    """Per tenant (ids, or a subquery of them): the functional areas it uses
    [(id, name)], in catalog order."""
    result: dict[int, list[tuple[str, str]]] = defaultdict(list)
    links = (
        Deployment.areas.through.objects.filter(deployment__organization_id__in=organization_ids)
        .order_by("functionalarea__position", "functionalarea__name")
        .values_list(
            "deployment__organization_id", "functionalarea__slug", "functionalarea__name"
        )
    )
    for org_id, slug, name in links:
        result[org_id].append((slug, name))
    return result


def area_catalog() -> dict[str, str]:
    """Every functional area's name by id (a small table, read once per page)."""
    return dict(FunctionalArea.objects.values_list("slug", "name"))


def areas_shown(
    used: list[tuple[str, str]], named: dict[str, str], catalog: dict[str, str]
) -> list[tuple[str, str]]:
    """The tenant's areas, plus any area an incident or window named that the deployment
    does not list (`named`: {id: name from the scope}), so nothing that happened is
    hidden; "All services" when a scope named no area and the tenant lists none. Pure."""
    shown = list(used)
    known = {slug for slug, _ in shown}
    extra = {slug: name for slug, name in named.items() if slug not in known}
    for slug, fallback in extra.items():
        if slug != ALL_AREAS:
            shown.append((slug, catalog.get(slug) or fallback or slug))
    if ALL_AREAS in extra and not shown:
        shown.append((ALL_AREAS, ALL_AREAS_NAME))
    return shown


def _spans_for_area(spans: Iterable[IncidentSpan], area: str) -> list[IncidentSpan]:
    return [s for s in spans if s.area == area or s.area == ALL_AREAS]


# --- 90 days of history --------------------------------------------------------------------


@dataclass(frozen=True)
class DayBar:
    day: dt.date
    state: AreaState
    impacted_minutes: int
    maintenance_minutes: int

    @property
    def view(self) -> dict[str, str]:
        return state_view(self.state)


@dataclass
class AreaHistory:
    area: str
    name: str
    days: list[DayBar]
    # Share of the period without an outage, maintenance excluded (None: no time counted).
    uptime: Fraction | None

    @property
    def uptime_text(self) -> str:
        return percent_text(self.uptime, places=2)

    @property
    def troubled_days(self) -> list[DayBar]:
        return [d for d in self.days if d.state != AreaState.OPERATIONAL]


def percent_text(share: Fraction | None, places: int = 3) -> str:
    """A share as a percentage, rounded down so a breach never looks like a pass."""
    if share is None:
        return "—"
    scale = 10**places
    floored = (share * 100 * scale).__floor__()
    whole, part = divmod(floored, scale)
    return f"{whole}.{part:0{places}d} %" if places else f"{whole} %"


def day_bounds(
    days: int, now: dt.datetime, zone: dt.tzinfo
) -> list[tuple[dt.date, dt.datetime, dt.datetime]]:
    """The last `days` calendar days in `zone`, today last, as (date, start, end); today
    ends now."""
    today = timezone.localdate(now, zone)
    bounds = []
    for back in range(days - 1, -1, -1):
        day = today - dt.timedelta(days=back)
        start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
        end = min(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone), now)
        bounds.append((day, start, end))
    return bounds


def daily_history(
    areas: list[tuple[str, str]],
    spans: list[IncidentSpan],
    windows: list[MaintenanceSpan],
    bounds: list[tuple[dt.date, dt.datetime, dt.datetime]],
) -> list[AreaHistory]:
    """Per area, per day: the worst state the area was in that day and the minutes an
    incident held it, with the uptime of the whole period beside. Pure."""
    if not bounds:
        return [AreaHistory(slug, name, [], None) for slug, name in areas]
    period_start, period_end = bounds[0][1], bounds[-1][2]
    result = []
    for slug, name in areas:
        own = _spans_for_area(spans, slug)
        maintenance = [w for w in windows if w.touches(slug)]
        bars = []
        for day, start, end in bounds:
            hit = [s for s in own if overlaps(s.interval, start, end)]
            serviced = clipped((w.interval for w in maintenance), start, end)
            states = [s.state for s in hit]
            if serviced:
                states.append(AreaState.MAINTENANCE)
            bars.append(
                DayBar(
                    day=day, state=worst(states),
                    impacted_minutes=round(
                        total_seconds(clipped((s.interval for s in hit), start, end)) / 60
                    ),
                    maintenance_minutes=round(total_seconds(serviced) / 60),
                )
            )
        holes = clipped((w.interval for w in maintenance), period_start, period_end)
        counted = (period_end - period_start).total_seconds() - total_seconds(holes)
        down = total_seconds(
            without(clipped((s.interval for s in own if s.outage), period_start, period_end),
                    holes)
        )
        uptime = (
            1 - Fraction(round(down), round(counted)) if round(counted) > 0 else None
        )
        result.append(AreaHistory(slug, name, bars, uptime))
    return result


# --- A tenant's status page ------------------------------------------------------------


@dataclass
class AreaStatus:
    area: str
    name: str
    state: AreaState
    history: AreaHistory | None = None

    @property
    def view(self) -> dict[str, str]:
        return state_view(self.state)


@dataclass
class OpenIncident:
    number: str
    title: str
    severity: str
    severity_label: str
    status: str
    status_label: str
    detected_at: dt.datetime
    impact: str
    areas: list[str]
    state: AreaState
    latest_update: dict[str, Any] | None

    @property
    def view(self) -> dict[str, str]:
        return state_view(self.state)


@dataclass
class UpcomingMaintenance:
    number: str
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    status_label: str
    impact: str
    areas: list[str]


@dataclass
class TenantStatus:
    organization: Organization
    areas: list[AreaStatus]
    incidents: list[OpenIncident]
    maintenance: list[UpcomingMaintenance]
    generated_at: dt.datetime
    history_days: int = 0
    history_zone: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def overall(self) -> AreaState:
        return worst(a.state for a in self.areas)

    @property
    def overall_view(self) -> dict[str, str]:
        return state_view(self.overall)


def _latest_public_updates(incident_ids: list[int]) -> dict[int, dict[str, Any]]:
    latest: dict[int, dict[str, Any]] = {}
    updates = (
        IncidentUpdate.objects.filter(incident_id__in=incident_ids, public=True)
        .order_by("incident_id", "-created_at", "-pk")
        .values_list("incident_id", "status", "body", "created_at")
    )
    for incident_id, status, body, created_at in updates:
        if incident_id not in latest:
            latest[incident_id] = {
                "status": status, "status_label": _status_label(status), "body": body,
                "created_at": created_at,
            }
    return latest


def _names(entries: Any, known: dict[str, str]) -> list[str]:
    names = []
    for entry in entries if isinstance(entries, list) else []:
        slug = area_slug(entry)
        name = (entry.get("name") if isinstance(entry, dict) else "") or known.get(slug, slug)
        if name and name not in names:
            names.append(name)
    return names


def _open_incidents_of(
    organization: Organization, known: dict[str, str]
) -> tuple[list[OpenIncident], dict]:
    """The open incidents that affect the tenant now, with its own impact text, and the
    state each puts its areas in ({area: [states]})."""
    rows = list(
        AffectedTenant.objects.filter(
            organization=organization, removed_at__isnull=True,
            incident__status__in=OPEN_STATUSES,
        )
        .select_related("incident")
        .order_by("-incident__detected_at", "-incident_id")
    )
    latest = _latest_public_updates([r.incident_id for r in rows])
    by_area: dict[str, list[AreaState]] = defaultdict(list)
    incidents = []
    for row in rows:
        incident = row.incident
        entries = row.areas if isinstance(row.areas, list) and row.areas else [
            {"area": ALL_AREAS}
        ]
        states = []
        for entry in entries:
            slug = area_slug(entry)
            if slug:
                state = incident_state(incident.severity, entry)
                by_area[slug].append(state)
                states.append(state)
        update = latest.get(incident.pk)
        incidents.append(
            OpenIncident(
                number=incident.number, title=incident.title, severity=incident.severity,
                severity_label=incident.get_severity_display(), status=incident.status,
                status_label=incident.get_status_display(), detected_at=incident.detected_at,
                impact=row.impact_text, areas=_names(row.areas, known),
                state=worst(states), latest_update=update,
            )
        )
    return incidents, by_area


def _maintenance_of(organization: Organization, now: dt.datetime, known: dict[str, str]):
    """Windows in progress or still to come that concern the tenant, soonest first, and
    the areas under maintenance now ({area: [MAINTENANCE]})."""
    rows = list(
        MaintenanceTenant.objects.filter(
            organization=organization, removed_at__isnull=True,
            maintenance__status__in=MAINTENANCE_UPCOMING,
        )
        .filter(
            Q(maintenance__status=MaintenanceStatus.IN_PROGRESS) | Q(maintenance__ends_at__gt=now)
        )
        .select_related("maintenance")
        .order_by("maintenance__starts_at", "maintenance_id")
    )
    by_area: dict[str, list[AreaState]] = defaultdict(list)
    windows = []
    for row in rows:
        window = row.maintenance
        if window.status == MaintenanceStatus.IN_PROGRESS:
            slugs = [area_slug(e) for e in (row.areas or []) if area_slug(e)] or [ALL_AREAS]
            for slug in slugs:
                by_area[slug].append(AreaState.MAINTENANCE)
        windows.append(
            UpcomingMaintenance(
                number=window.number, title=window.title, starts_at=window.starts_at,
                ends_at=window.ends_at, status=window.status,
                status_label=window.get_status_display(),
                impact=row.impact_text or window.impact, areas=_names(row.areas, known),
            )
        )
    return windows, by_area


def tenant_status(
    organization: Organization, *, now: dt.datetime | None = None,
    history_days: int = HISTORY_DAYS, zone: dt.tzinfo | None = None,
) -> TenantStatus:
    """Everything the status page of `organization` shows. The caller has checked that
    the reader may see the tenant (status_organization); nothing of another tenant is
    read. `history_days=0` skips the bars (the API)."""
    now = now or timezone.now()
    catalog = area_catalog()
    incidents, incident_states = _open_incidents_of(organization, catalog)
    windows, maintenance_states = _maintenance_of(organization, now, catalog)
    used = tenant_areas([organization.pk]).get(organization.pk, [])

    zone = zone or timezone.get_current_timezone()
    bounds = day_bounds(history_days, now, zone) if history_days else []
    spans: list[IncidentSpan] = []
    periods: list[MaintenanceSpan] = []
    if bounds:
        since = bounds[0][1]
        spans = incident_spans(
            AffectedTenant.objects.filter(organization=organization),
            since=since, until=now, now=now,
        )
        periods = maintenance_spans(
            MaintenanceTenant.objects.filter(organization=organization),
            since=since, until=now, now=now,
        )
    named = {slug: "" for slug in [*incident_states, *maintenance_states]}
    named.update({s.area: s.area_name for s in spans})
    shown = areas_shown(used, named, catalog)
    history = daily_history(shown, spans, periods, bounds) if bounds else []

    everywhere = incident_states.get(ALL_AREAS, []) + maintenance_states.get(ALL_AREAS, [])
    areas = []
    for index, (slug, name) in enumerate(shown):
        state = worst(
            [*incident_states.get(slug, []), *maintenance_states.get(slug, []), *everywhere]
        )
        areas.append(
            AreaStatus(slug, name, state, history[index] if history else None)
        )
    return TenantStatus(
        organization=organization, areas=areas, incidents=incidents, maintenance=windows,
        generated_at=now, history_days=history_days, history_zone=str(zone),
    )


# --- The tenant's feed -------------------------------------------------------------------


FEED_ENTRIES = 50


def feed_token_of(token: str) -> FeedToken:
    """The feed token named in a URL, or 404 (also for a tenant no longer active)."""
    if not isinstance(token, str) or not slug_re.match(token) or len(token) > 64:
        raise Http404("No such feed.")
    found = (
        FeedToken.objects.select_related("organization")
        .filter(token=token, organization__is_active=True)
        .first()
    )
    if found is None:
        raise Http404("No such feed.")
    return found


@dataclass
class FeedEntry:
    kind: str  # "incident" | "maintenance"
    number: str
    title: str
    updated: dt.datetime
    published: dt.datetime
    impact: str
    updates: list[dict[str, Any]]  # public updates, oldest first (incidents)
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    status_label: str = ""
    severity_label: str = ""


def feed_entries(organization: Organization, limit: int = FEED_ENTRIES) -> list[FeedEntry]:
    """The tenant's incidents (its own impact text and the public updates) and
    maintenance windows, newest change first."""
    rows = list(
        AffectedTenant.objects.filter(TOLD_OR_CURRENT, organization=organization)
        .select_related("incident")
        .order_by("-incident__updated_at", "-incident_id")[:limit]
    )
    updates: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for incident_id, status, body, created_at in (
        IncidentUpdate.objects.filter(incident_id__in=[r.incident_id for r in rows], public=True)
        .order_by("created_at", "pk")
        .values_list("incident_id", "status", "body", "created_at")
    ):
        updates[incident_id].append(
            {"status": _status_label(status), "body": body, "created_at": created_at}
        )
    entries = []
    for row in rows:
        incident: Incident = row.incident
        told = updates.get(incident.pk, [])
        entries.append(
            FeedEntry(
                kind="incident", number=incident.number, title=incident.title,
                updated=max([incident.updated_at, *(u["created_at"] for u in told)]),
                published=incident.detected_at, impact=row.impact_text, updates=told,
                status_label=incident.get_status_display(),
                severity_label=incident.get_severity_display(),
            )
        )
    windows = (
        MaintenanceTenant.objects.filter(organization=organization, removed_at__isnull=True)
        .select_related("maintenance")
        .order_by("-maintenance__updated_at", "-maintenance_id")[:limit]
    )
    for row in windows:
        window: Maintenance = row.maintenance
        entries.append(
            FeedEntry(
                kind="maintenance", number=window.number, title=window.title,
                updated=window.updated_at, published=window.created_at,
                impact=row.impact_text or window.impact, updates=[],
                starts_at=window.starts_at, ends_at=window.ends_at,
                status_label=window.get_status_display(),
            )
        )
    entries.sort(key=lambda e: e.updated, reverse=True)
    return entries[:limit]


def _status_label(value: str) -> str:
    return IncidentStatus(value).label if value in IncidentStatus.values else value


# --- The provider's public page ----------------------------------------------------------


@dataclass
class PublicIncident:
    """An open incident as the public sees it. Its title is written by people and may
    name the tenant it is about, so the public page says what the data says instead:
    the state, the areas and the regions."""

    severity_label: str
    status_label: str
    detected_at: dt.datetime
    areas: list[str]
    regions: list[str]
    state: AreaState

    @property
    def view(self) -> dict[str, str]:
        return state_view(self.state)

    @property
    def headline(self) -> str:
        where = f" in {', '.join(self.regions)}" if self.regions else ""
        return f"{self.state.label}{where}"


@dataclass
class PublicMaintenance:
    """A maintenance window as the public sees it: when and which areas (its title and
    impact text may name tenants, so they stay on the tenants' own pages)."""

    starts_at: dt.datetime
    ends_at: dt.datetime
    status_label: str
    in_progress: bool
    areas: list[str]

    @property
    def headline(self) -> str:
        return "Planned maintenance" + (f" of {', '.join(self.areas)}" if self.areas else "")


@dataclass
class PublicStatus:
    areas: list[AreaStatus]
    incidents: list[PublicIncident]
    maintenance: list[PublicMaintenance]
    generated_at: dt.datetime

    @property
    def overall(self) -> AreaState:
        return worst(a.state for a in self.areas)

    @property
    def overall_view(self) -> dict[str, str]:
        return state_view(self.overall)


def _element_names(targets: Iterable[str]) -> dict[str, str]:
    targets = [t for t in set(targets) if t]
    names: dict[str, str] = {}
    for model, what in ((Region, "region"), (Zone, "zone"), (Pop, "PoP")):
        for slug, name in model.objects.filter(slug__in=targets).values_list("slug", "name"):
            names[slug] = f"{name} ({what})"
    return names


def public_status(now: dt.datetime | None = None) -> PublicStatus:
    """The provider's overall status: per functional area the worst state any tenant's
    area is in, the open incidents with the areas and regions they hit, and the
    maintenance to come. Aggregates only: no tenant name and no text written by people
    (titles, impact texts, updates) is read into it, so none can leak a tenant's name."""
    now = now or timezone.now()
    incidents = {
        i.pk: i
        for i in Incident.objects.filter(status__in=OPEN_STATUSES).only(
            "pk", "severity", "status", "detected_at", "failure_target"
        )
    }
    area_states: dict[str, list[AreaState]] = defaultdict(list)
    incident_areas: dict[int, dict[str, AreaState]] = defaultdict(dict)
    incident_orgs: dict[int, set[int]] = defaultdict(set)
    for incident_id, org_id, areas in AffectedTenant.objects.filter(
        incident_id__in=list(incidents), removed_at__isnull=True
    ).values_list("incident_id", "organization_id", "areas"):
        severity = incidents[incident_id].severity
        incident_orgs[incident_id].add(org_id)
        for entry in areas if isinstance(areas, list) else []:
            slug = area_slug(entry)
            if not slug:
                continue
            state = incident_state(severity, entry)
            area_states[slug].append(state)
            known = incident_areas[incident_id].get(slug, AreaState.OPERATIONAL)
            incident_areas[incident_id][slug] = worst([known, state])

    windows = list(
        Maintenance.objects.filter(status__in=MAINTENANCE_UPCOMING)
        .filter(Q(status=MaintenanceStatus.IN_PROGRESS) | Q(ends_at__gt=now))
        .only("pk", "status", "starts_at", "ends_at")
        .order_by("starts_at", "pk")
    )
    window_areas: dict[int, set[str]] = defaultdict(set)
    for maintenance_id, areas in MaintenanceTenant.objects.filter(
        maintenance__in=windows, removed_at__isnull=True
    ).values_list("maintenance_id", "areas"):
        for entry in areas if isinstance(areas, list) else []:
            if area_slug(entry):
                window_areas[maintenance_id].add(area_slug(entry))
    for window in windows:
        if window.status == MaintenanceStatus.IN_PROGRESS:
            for slug in window_areas[window.pk]:
                area_states[slug].append(AreaState.MAINTENANCE)

    catalog = list(FunctionalArea.objects.order_by("position", "name").values_list("slug", "name"))
    names = dict(catalog)
    # Incidents scoped by tenant, not by a failed element: the tenants' primary regions,
    # as region names only.
    regions_of_orgs: dict[int, str] = {
        org_id: name
        for org_id, name in Deployment.objects.filter(
            organization_id__in={o for orgs in incident_orgs.values() for o in orgs}
        ).values_list("organization_id", "primary_region__name")
    }
    elements = _element_names(i.failure_target for i in incidents.values())

    public_incidents = []
    for incident in sorted(incidents.values(), key=lambda i: i.detected_at, reverse=True):
        if incident.pk not in incident_orgs:
            continue  # nobody is in its scope any more: nothing to tell the public
        hit = incident_areas.get(incident.pk, {})
        if incident.failure_target:
            regions = [elements.get(incident.failure_target, incident.failure_target)]
        else:
            regions = sorted(
                {regions_of_orgs[o] for o in incident_orgs[incident.pk] if o in regions_of_orgs}
            )
        public_incidents.append(
            PublicIncident(
                severity_label=incident.get_severity_display(),
                status_label=incident.get_status_display(), detected_at=incident.detected_at,
                areas=[name for slug, name in catalog if slug in hit],
                regions=regions, state=worst(hit.values()) if hit else incident_state(
                    incident.severity, {}
                ),
            )
        )
    return PublicStatus(
        areas=[AreaStatus(slug, name, worst(area_states.get(slug, []))) for slug, name in catalog],
        incidents=public_incidents,
        maintenance=[
            PublicMaintenance(
                starts_at=w.starts_at, ends_at=w.ends_at,
                status_label=w.get_status_display(),
                in_progress=w.status == MaintenanceStatus.IN_PROGRESS,
                areas=[names.get(s, s) for s in sorted(window_areas[w.pk])],
            )
            for w in windows
        ],
        generated_at=now,
    )
