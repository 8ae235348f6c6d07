"""The demo's simulator page: a provider admin breaks a region or PoP of the simulated
tenant endpoints and watches detection → incident → notices happen.

Only staff who run monitoring (MANAGE_MONITORING) see and use it. Breaking and mending
are audited (kind "simulated_outage"); the simulator process (`caredeck demo`) reads the
outages every second. The live panel (check states, incidents opened by monitoring) is
polled by htmx every 5 s.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from caredeck.accounts.access import has_capability
from caredeck.accounts.roles import Capability
from caredeck.core.audit import audit_record
from caredeck.incidents.models import Incident, IncidentSource
from caredeck.monitoring.models import (
    Check,
    CheckAssignment,
    CheckState,
    FailureProposal,
    SimulatedOutage,
)
from caredeck.topology.models import Deployment, Pop, Region

DOWN_SHOWN = 40
INCIDENTS_SHOWN = 10


def _require(user) -> None:
    if not has_capability(user, Capability.MANAGE_MONITORING):
        raise PermissionDenied("Your roles do not allow this (run synthetic monitoring).")


def _element(target: str) -> tuple[str, str]:
    """(kind, name) of a region or PoP id; ValidationError when it is neither."""
    target = str(target or "").strip()[:60]
    region = Region.objects.filter(slug=target).first()
    if region is not None:
        return "region", region.name
    pop = Pop.objects.filter(slug=target).first()
    if pop is not None:
        return "PoP", pop.name
    raise ValidationError({"target": ["Choose a region or PoP of the catalog."]})


# --- Services ---------------------------------------------------------------------------


def outage_start(*, actor, target: str) -> SimulatedOutage | None:
    """Break a region or PoP of the simulator. None when it was broken already."""
    _require(actor)
    kind, _ = _element(target)
    if SimulatedOutage.objects.filter(target=target).exists():
        return None
    try:
        with transaction.atomic():
            outage = SimulatedOutage.objects.create(target=target, started_by=actor,
                                                    started_at=timezone.now())
            audit_record(actor=actor, obj=outage, action="broken",
                         changes={"target": [None, target], "element": [None, kind]})
    except IntegrityError:  # broken by someone else meanwhile
        return None
    return outage


def outage_end(*, actor, target: str) -> bool:
    """Mend a region or PoP. False when it was not broken."""
    _require(actor)
    _element(target)
    with transaction.atomic():
        outage = SimulatedOutage.objects.select_for_update().filter(target=target).first()
        if outage is None:
            return False
        minutes = (timezone.now() - outage.started_at).total_seconds() / 60
        audit_record(actor=actor, obj=outage, action="mended",
                     changes={"target": [target, None], "broken_minutes": [None,
                                                                           round(minutes, 1)]})
        outage.delete()
    return True


# --- Pages ------------------------------------------------------------------------------


def _live_context() -> dict:
    states = dict(Check.objects.filter(is_active=True).values_list("state")
                  .annotate(n=Count("pk")).values_list("state", "n"))
    failing = list(
        Check.objects.filter(is_active=True).exclude(state=CheckState.UP)
        .select_related("organization", "incident")
        .order_by("-state", "organization__name", "name")[:DOWN_SHOWN]
    )
    locations_down = dict(
        CheckAssignment.objects.filter(state=CheckState.DOWN, synthetic_check__is_active=True)
        .values_list("location__slug").annotate(n=Count("pk")).values_list("location__slug", "n")
    )
    failing_runs = CheckAssignment.objects.filter(
        last_ok=False, synthetic_check__is_active=True).count()
    incidents = list(
        Incident.objects.filter(source=IncidentSource.MONITOR)
        .annotate(
            tenants=Count("affected", filter=Q(affected__removed_at__isnull=True)),
            noticed=Count("affected", filter=Q(affected__removed_at__isnull=True,
                                                affected__first_notice_at__isnull=False)),
        ).order_by("-declared_at", "-pk")[:INCIDENTS_SHOWN]
    )
    return {
        "states": [(value, label, states.get(value, 0)) for value, label in CheckState.choices],
        "failing": failing, "failing_runs": failing_runs, "locations_down": locations_down,
        "incidents": incidents,
        "proposals": FailureProposal.objects.order_by("-created_at")[:5],
        "outages": list(SimulatedOutage.objects.select_related("started_by")),
        "now": timezone.now(),
    }


@login_required
@require_GET
def simulator_page(request):
    _require(request.user)
    context = _live_context()
    if request.headers.get("HX-Request"):
        return render(request, "monitoring/_simulator_live.html", context)
    broken = {o.target for o in context["outages"]}
    homes = dict(Deployment.objects.filter(organization__is_active=True)
                 .exclude(organization__slug__startswith="fleet-")
                 .values_list("primary_region__slug").annotate(n=Count("pk"))
                 .values_list("primary_region__slug", "n"))
    served = dict(Deployment.objects.filter(organization__is_active=True)
                  .exclude(organization__slug__startswith="fleet-")
                  .values_list("pops__slug").annotate(n=Count("pk"))
                  .values_list("pops__slug", "n"))
    regions = [(r, homes.get(r.slug, 0), r.slug in broken)
               for r in Region.objects.select_related("geography").order_by("slug")]
    pops = [(p, served.get(p.slug, 0), p.slug in broken) for p in Pop.objects.order_by("slug")]
    return render(request, "monitoring/simulator.html",
                  {**context, "regions": regions, "pops": pops})


def _change(request, start: bool):
    _require(request.user)
    target = str(request.POST.get("target", "")).strip()[:60]
    try:
        if start:
            outage = outage_start(actor=request.user, target=target)
            if outage is None:
                messages.info(request, f"{target} is broken already.")
            else:
                messages.success(request, f"{target} is broken: its simulated endpoints fail "
                                          "from now on. Watch the checks below.")
        elif outage_end(actor=request.user, target=target):
            messages.success(request, f"{target} is mended: its endpoints answer again.")
        else:
            messages.info(request, f"{target} was not broken.")
    except ValidationError as error:
        messages.error(request, " ".join(error.message_dict.get("target", error.messages)))
        return redirect("simulator")
    return redirect("simulator")


@login_required
@require_POST
def simulator_break(request):
    return _change(request, start=True)


@login_required
@require_POST
def simulator_mend(request):
    return _change(request, start=False)
