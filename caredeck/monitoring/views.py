"""Monitoring pages. Provider staff read every check (a TAM those of its accounts) and,
with MANAGE_MONITORING, define, change, pause and delete them and keep the probe
locations; a tenant's people read their own tenant's checks (no actions).
"""

from __future__ import annotations

import datetime
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from caredeck.accounts.access import has_capability, is_provider_staff, tenants_for
from caredeck.accounts.roles import Capability, OrganizationKind
from caredeck.core.audit import audit_entries_for
from caredeck.monitoring import charts, forms, selectors, services
from caredeck.monitoring.models import CheckKind, CheckState, ProbeLocation, Rollup
from caredeck.web.forms import add_service_errors

PER_PAGE = 25
RESULTS_PER_PAGE = 20
SPARK_RUNS = 30
STATE_ICONS = {CheckState.UP: "✓", CheckState.DOWN: "✕", CheckState.PENDING: "…"}


def _can_manage(request) -> bool:
    return has_capability(request.user, Capability.MANAGE_MONITORING)


def _require_manage(request) -> None:
    if not _can_manage(request):
        raise PermissionDenied("Your roles do not allow this (run synthetic monitoring).")


def _require_reader(request) -> None:
    if not has_capability(request.user, Capability.VIEW_TENANT):
        raise PermissionDenied


def _staff(request) -> bool:
    return is_provider_staff(request.user)


def _tenants(request):
    """The customers the viewer may define checks for."""
    return tenants_for(request.user).filter(kind=OrganizationKind.CUSTOMER).order_by("name")


def _spark_points(check) -> tuple[list[charts.Point], str]:
    """The last 30 runs (oldest first); with none kept raw, the last 30 hourly roll-ups."""
    rows = list(check.results.order_by("-started_at", "-pk")
                .values_list("started_at", "duration_ms", "ok")[:SPARK_RUNS])
    if rows:
        return [charts.Point(ms, ok, f"{timezone.localtime(at):%Y-%m-%d %H:%M}")
                for at, ms, ok in reversed(rows)], "runs"
    rollups = list(check.rollups.filter(period=Rollup.Period.HOUR).order_by("-bucket")
                   .values_list("bucket", "runs", "failures", "total_ms")[:SPARK_RUNS])
    return [charts.Point(round(total / runs) if runs else 0, not failures,
                         f"{timezone.localtime(bucket):%Y-%m-%d %H:00}")
            for bucket, runs, failures, total in reversed(rollups)], "hours"


def _state_view(state: str) -> dict:
    return {"state": state, "icon": STATE_ICONS.get(state, "?"),
            "label": CheckState(state).label if state in CheckState.values else state}


@login_required
@require_GET
def check_list(request):
    _require_reader(request)
    staff = _staff(request)
    checks = selectors.checks_visible(request.user).select_related(
        "organization", "area", "incident").prefetch_related("assignments__location")
    filters = {"state": request.GET.get("state", ""), "kind": request.GET.get("kind", ""),
               "tenant": request.GET.get("tenant", "")[:60]}
    if filters["state"] in CheckState.values:
        checks = checks.filter(state=filters["state"])
    else:
        filters["state"] = ""
    if filters["kind"] in CheckKind.values:
        checks = checks.filter(kind=filters["kind"])
    else:
        filters["kind"] = ""
    if not staff:
        # A tenant's people (and a partner) read the tenant they are working for.
        checks = checks.filter(organization=request.tenant)
    elif filters["tenant"]:
        checks = checks.filter(organization__slug=filters["tenant"])
    checks = checks.order_by("organization__name", "name", "pk")
    page = Paginator(checks, PER_PAGE).get_page(request.GET.get("page"))
    rows = []
    for check in page.object_list:
        points, what = _spark_points(check)
        assignments = list(check.assignments.all())
        last = max((a.last_run_at for a in assignments if a.last_run_at), default=None)
        rows.append({"check": check, "view": _state_view(check.state),
                     "locations": sorted(a.location.name for a in assignments),
                     "last_run_at": last, "spark": charts.sparkline_svg(points, what=what),
                     "spark_text": charts.spark_text(points, what)})
    counts = dict.fromkeys(CheckState.values, 0)
    scoped = selectors.checks_visible(request.user)
    if not staff:
        scoped = scoped.filter(organization=request.tenant)
    # Counted by the database: the list may cover tens of thousands of checks.
    counts.update(dict(scoped.order_by().values_list("state").annotate(n=Count("pk"))))
    return render(request, "monitoring/check_list.html", {
        "page": page, "rows": rows, "staff": staff, "can_manage": _can_manage(request),
        "filters": filters, "states": CheckState.choices, "kinds": CheckKind.choices,
        "tenants": _tenants(request) if staff else [],
        "counts": [(_state_view(s), counts.get(s, 0)) for s in
                   (CheckState.DOWN, CheckState.PENDING, CheckState.UP)],
        "filtered": any(filters.values()),
    })


def _detail_context(request, check) -> dict:
    now = timezone.now()
    failures_only = request.GET.get("failures") == "1"
    results = selectors.results_of(check, failures_only=failures_only)
    result_page = Paginator(results, RESULTS_PER_PAGE).get_page(request.GET.get("page"))
    failures = list(selectors.results_of(check, failures_only=True)
                    .exclude(evidence="", error="")[:5])
    bars = selectors.daily_bars(check, 90, now=now)
    points, what = _spark_points(check)
    staff = _staff(request)
    context = {
        "check": check,
        "view": _state_view(check.state),
        "staff": staff,
        "can_manage": _can_manage(request),
        "assignments": [
            {"a": a, "view": _state_view(a.state)}
            for a in check.assignments.select_related("location").order_by("location__name")
        ],
        "result_page": result_page,
        "failures_only": failures_only,
        "failures": failures,
        "bars": bars,
        "bars_svg": charts.bars_svg(bars, f"bars-{check.pk}"),
        "bars_low": [dict(b, text=charts.percent(b["availability"])) for b in bars
                     if b["availability"] is not None and b["availability"] < 100],
        "bands": charts.BANDS, "no_data": charts.NO_DATA,
        "availability": [
            (label, charts.percent(selectors.availability(
                check, max(now - delta, check.created_at), now)
                if now - check.created_at > datetime.timedelta(seconds=1) else None))
            for label, delta in (("24 h", datetime.timedelta(hours=24)),
                                 ("7 days", datetime.timedelta(days=7)),
                                 ("30 days", datetime.timedelta(days=30)))
        ],
        "spark": charts.sparkline_svg(points, what=what),
        "spark_text": charts.spark_text(points, what),
        "spark_points": points,
        "assertions_json": json.dumps(check.assertions, indent=1, ensure_ascii=False),
        "config_json": json.dumps(check.config, indent=1, ensure_ascii=False),
    }
    if staff:
        context["history"] = audit_entries_for(check)[:20]
        context["history_url"] = reverse("history", args=["check", check.pk])
    return context


@login_required
@require_GET
def check_detail(request, check_id):
    _require_reader(request)
    check = selectors.check_get(request.user, check_id)
    return render(request, "monitoring/check_detail.html", _detail_context(request, check))


def _initial_of(check) -> dict:
    return {
        "organization": check.organization.slug, "area": check.area.slug, "name": check.name,
        "kind": check.kind, "target": check.target, "interval": check.interval,
        "timeout": check.timeout, "retries": check.retries,
        "failures_to_alert": check.failures_to_alert,
        "successes_to_recover": check.successes_to_recover, "quorum": check.quorum,
        "locations": list(check.assignments.values_list("location__slug", flat=True)),
        "assertions": check.assertions, "config": check.config,
    }


@login_required
def check_new(request):
    _require_manage(request)
    initial = {}
    tenant = request.GET.get("tenant", "")
    if tenant and _tenants(request).filter(slug=tenant).exists():
        initial["organization"] = tenant
    form = forms.CheckForm(request.POST or None, tenants=_tenants(request), initial=initial)
    if request.method == "POST":
        if form.is_valid():
            try:
                check = services.check_create(
                    actor=request.user, organization=form.cleaned_data["organization"],
                    **form.service_kwargs())
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Check “{check.name}” defined: it runs from "
                                 f"{check.assignments.count()} location(s).")
                return redirect("check-detail", check.pk)
        return render(request, "monitoring/check_form.html", {"form": form, "check": None},
                      status=400)
    return render(request, "monitoring/check_form.html", {"form": form, "check": None})


@login_required
def check_edit(request, check_id):
    check = selectors.check_get(request.user, check_id)
    _require_manage(request)
    form = forms.CheckForm(request.POST or None, tenants=_tenants(request), editing=True,
                           initial=_initial_of(check))
    if request.method == "POST":
        if form.is_valid():
            try:
                services.check_update(actor=request.user, check=check, **form.service_kwargs())
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, "Check saved.")
                return redirect("check-detail", check.pk)
        return render(request, "monitoring/check_form.html", {"form": form, "check": check},
                      status=400)
    return render(request, "monitoring/check_form.html", {"form": form, "check": check})


def _set_active(request, check_id, active: bool):
    check = selectors.check_get(request.user, check_id)
    _require_manage(request)
    services.check_update(actor=request.user, check=check, is_active=active)
    messages.success(request, "Check resumed: it runs again from every location."
                     if active else "Check paused: it does not run until you resume it.")
    return redirect("check-detail", check.pk)


@login_required
@require_POST
def check_pause(request, check_id):
    return _set_active(request, check_id, False)


@login_required
@require_POST
def check_resume(request, check_id):
    return _set_active(request, check_id, True)


@login_required
@require_POST
def check_delete(request, check_id):
    check = selectors.check_get(request.user, check_id)
    _require_manage(request)
    name = check.name
    services.check_delete(actor=request.user, check=check)
    messages.success(request, f"Check “{name}” deleted with its results.")
    return redirect("check-list")


def _require_locations(request) -> None:
    if not has_capability(request.user, Capability.SERVE_ALL_TENANTS):
        raise PermissionDenied("Probe locations are for provider staff.")


def _locations_context(request, form=None, created=None, token: str = "") -> dict:
    rows = list(selectors.locations_visible(request.user).order_by("name", "pk"))
    checks = {}
    for location_id in ProbeLocation.objects.filter(pk__in=[r.pk for r in rows]).values_list(
            "assignments__location_id", flat=True):
        if location_id:
            checks[location_id] = checks.get(location_id, 0) + 1
    for row in rows:
        row.check_count = checks.get(row.pk, 0)
    can_manage = _can_manage(request)
    return {
        "locations": rows, "can_manage": can_manage,
        "form": form or (forms.LocationForm() if can_manage else None),
        "created": created, "token": token,
        "base_url": request.build_absolute_uri("/").rstrip("/"),
    }


@login_required
def location_list(request):
    _require_locations(request)
    if request.method != "POST":
        return render(request, "monitoring/location_list.html", _locations_context(request))
    _require_manage(request)
    form = forms.LocationForm(request.POST)
    if form.is_valid():
        try:
            location, token = services.location_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if not token:
                messages.success(request, f"Probe location {location.name} added: the "
                                 "built-in probe of caredeck run covers it.")
                return redirect("probe-location-list")
            # The token is shown this once: rendered, not redirected.
            return render(request, "monitoring/location_list.html",
                          _locations_context(request, created=location, token=token))
    return render(request, "monitoring/location_list.html",
                  _locations_context(request, form=form), status=400)


@login_required
@require_POST
def location_rotate(request, slug):
    _require_locations(request)
    location = selectors.locations_visible(request.user).filter(slug=slug).first()
    if location is None:
        raise Http404("No such probe location.")
    _require_manage(request)
    try:
        token = services.location_rotate_token(actor=request.user, location=location)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("probe-location-list")
    return render(request, "monitoring/location_list.html",
                  _locations_context(request, created=location, token=token))

