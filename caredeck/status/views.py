"""Pages of the status app: a tenant's status page with its feed, the provider's public
status page, and the monthly promise and SLA reports (with their CSV exports).

Thin: parse, call one selector or service, render. The status page shows the request's
current tenant (staff switch tenants in the header); the reports show the tenants the
user may see, and a tenant named in the query that the user may not see answers 404.
A malformed month is a message on the page (status 400), never a 500.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from caredeck.accounts.access import has_capability, tenants_for
from caredeck.accounts.roles import Capability, OrganizationKind
from caredeck.incidents.selectors import sees_every_tenant
from caredeck.status import reports
from caredeck.status.selectors import public_status, status_organization, tenant_status
from caredeck.status.services import feed_token_for, feed_token_rotate
from caredeck.status.states import ICONS, AreaState, state_view
from caredeck.status.svg import day_text, history_svg

SLA_PER_PAGE = 50
BROKEN_TENANTS_SHOWN = 50
TENANT_CHOICES_LIMIT = 200


def public_status_enabled() -> bool:
    """The public page is on unless CAREDECK_PUBLIC_STATUS turns it off."""
    return bool(getattr(settings, "CAREDECK_PUBLIC_STATUS", True))


def _legend() -> list[dict[str, str]]:
    return [state_view(state) for state in AreaState]


# --- A tenant's status page ----------------------------------------------------------------


@login_required
@require_GET
def status_page(request):
    organization = status_organization(request.user, current=request.tenant)
    is_tenant = organization.kind == OrganizationKind.CUSTOMER
    status = tenant_status(organization)
    charts = [
        {
            "area": area,
            "svg": history_svg(area.history, f"history-{index}"),
            "troubled": [
                {"day": day, "text": day_text(day), "view": day.view}
                for day in area.history.troubled_days
            ],
        }
        for index, area in enumerate(status.areas)
        if area.history is not None
    ]
    feed_url = None
    if is_tenant:
        feed = feed_token_for(organization)
        feed_url = request.build_absolute_uri(reverse("status-feed", args=[feed.token]))
    return render(
        request, "status/status.html",
        {
            "organization": organization,
            "is_tenant": is_tenant,
            "status": status,
            "charts": charts,
            "legend": _legend(),
            "feed_url": feed_url,
            "can_renew_feed": is_tenant
            and has_capability(request.user, Capability.MANAGE_USERS, organization),
            "staff": sees_every_tenant(request.user),
            "public_enabled": public_status_enabled(),
        },
    )


@login_required
@require_POST
def status_feed_renew(request):
    organization = status_organization(request.user, current=request.tenant)
    if organization.kind != OrganizationKind.CUSTOMER:
        raise Http404("No status feed here.")
    feed_token_rotate(actor=request.user, organization=organization)
    messages.success(
        request, "The feed has a new URL. The old one no longer works: update your feed reader."
    )
    return redirect(reverse("status") + "#feed")


# --- The provider's public page --------------------------------------------------------------


@require_GET
def public_status_page(request):
    if not public_status_enabled():
        raise Http404("There is no public status page.")
    return render(
        request, "status/public.html",
        {"status": public_status(), "legend": _legend(), "icons": ICONS},
    )


# --- Reports --------------------------------------------------------------------------------


def _month_or_error(request):
    """(month, error message): the asked month, or the current one with the reason the
    asked one was refused."""
    try:
        return reports.parse_month(request.GET.get("month", "")), ""
    except ValidationError as exc:
        return reports.current_month(), " ".join(exc.message_dict.get("month", exc.messages))


def _chosen_organization(request):
    slug = request.GET.get("organization", "")
    return status_organization(request.user, slug) if slug else None


def _tenant_choices(request) -> list:
    """The customer tenants a non-staff reader may pick between (a partner serves several)."""
    return list(
        tenants_for(request.user)
        .filter(kind=OrganizationKind.CUSTOMER)
        .only("slug", "name")
        .order_by("name")[:TENANT_CHOICES_LIMIT]
    )


def _csv_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _month_nav(month: reports.Month) -> dict:
    current = reports.current_month()
    return {
        "previous": month.previous.key,
        "next": month.next.key if month.next.start <= timezone.now() else "",
        "is_current": month == current,
    }


@login_required
@require_GET
def promise_report(request):
    month, error = _month_or_error(request)
    organization = _chosen_organization(request)
    report = reports.promises_month(request.user, month, organization=organization)
    if request.GET.get("format") == "csv" and not error:
        suffix = f"-{organization.slug}" if organization else ""
        return _csv_response(reports.promises_csv(report), f"promises-{month.key}{suffix}.csv")
    staff = sees_every_tenant(request.user)
    return render(
        request, "status/promises.html",
        {
            "report": report,
            "month": month,
            "nav": _month_nav(month),
            "error": error,
            "organization": organization,
            "staff": staff,
            "choices": [] if staff else _tenant_choices(request),
            "broken_limit": BROKEN_TENANTS_SHOWN,
            "tab": "promises",
        },
        status=400 if error else 200,
    )


@login_required
@require_GET
def sla_report_page(request):
    month, error = _month_or_error(request)
    organization = _chosen_organization(request)
    staff = sees_every_tenant(request.user)
    want_csv = request.GET.get("format") == "csv" and not error
    context = {
        "month": month, "nav": _month_nav(month), "error": error, "staff": staff,
        "tab": "sla", "choices": [] if staff else _tenant_choices(request),
    }
    if organization is None and staff:
        below_only = request.GET.get("below") == "1"
        all_reports = reports.worst_first(
            reports.sla_reports(
                tenants_for(request.user).filter(kind=OrganizationKind.CUSTOMER, is_active=True),
                month, per_area=False,
            )
        )
        if below_only:
            all_reports = [r for r in all_reports if not r.meets_target]
        if want_csv:
            return _csv_response(
                reports.sla_csv(all_reports, per_area=False), f"sla-{month.key}.csv"
            )
        page = Paginator(all_reports, SLA_PER_PAGE).get_page(request.GET.get("page"))
        context.update(
            {
                "page": page, "below_only": below_only, "count": len(all_reports),
                "short": sum(1 for r in all_reports if not r.meets_target),
                "credited": sum(1 for r in all_reports if r.credit),
            }
        )
        return render(request, "status/sla_all.html", context, status=400 if error else 200)
    if organization is None:
        organization = status_organization(request.user, current=request.tenant)
    report = reports.sla_report(organization, month)
    if want_csv:
        return _csv_response(
            reports.sla_csv([report], per_area=True), f"sla-{month.key}-{organization.slug}.csv"
        )
    from caredeck.monitoring.selectors import measured_availability

    measured = measured_availability(organization, report.period_start, report.period_end)
    context.update({"organization": organization, "report": report, "measured": measured})
    return render(request, "status/sla.html", context, status=400 if error else 200)
