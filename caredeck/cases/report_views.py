"""The Customer Care reports page for care managers (`/cases/reports/`), every table with
its CSV export (`?format=csv&table=volume|fcr|times|sla|escalations`). Thin: parse the
filters, call cases/reports.py, render or export.

Only MANAGE_CARE (care managers, platform administrators) reads it; everyone else signed
in gets 403. A malformed filter (a date that is not YYYY-MM-DD, an unknown group) is a
message next to the field with status 400 and the default report below it, never a 500;
a CSV asked for with a bad filter gets that page too.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render
from django.views.decorators.http import require_GET

from caredeck.cases import reports
from caredeck.cases.models import SupportGroup
from caredeck.core.csv import csv_response


def _filters(request) -> tuple[reports.Period, SupportGroup | None, dict[str, str]]:
    errors: dict[str, str] = {}
    try:
        period = reports.parse_period(request.GET.get("since", ""), request.GET.get("until", ""))
    except ValidationError as exc:
        period = reports.default_period()
        for name, messages in exc.message_dict.items():
            errors[name] = " ".join(messages)
    try:
        group = reports.parse_group(request.GET.get("group", ""))
    except ValidationError as exc:
        group = None
        errors["group"] = " ".join(exc.message_dict["group"])
    table = request.GET.get("table", "")
    if request.GET.get("format") == "csv" and table not in reports.TABLES:
        errors["table"] = "Choose a table to export: " + ", ".join(reports.TABLES) + "."
    return period, group, errors


@login_required
@require_GET
def case_reports(request):
    if not reports.can_read_case_reports(request.user):
        raise PermissionDenied("The Customer Care reports are for care managers.")
    period, group, errors = _filters(request)
    report = reports.case_report(period=period, group=group)
    table = request.GET.get("table", "")
    if request.GET.get("format") == "csv" and not errors:
        return csv_response(reports.report_csv(report, table),
                            reports.csv_filename(report, table))
    own = {"since": period.since.isoformat(), "until": period.until.isoformat()}
    if group is not None:
        own["group"] = group.slug
    context = {
        "report": report, "period": period, "group": group, "errors": errors,
        "groups": SupportGroup.objects.only("slug", "name").order_by("name"),
        "csv_urls": {t: "?" + urlencode({**own, "format": "csv", "table": t})
                     for t in reports.TABLES},
        "table_labels": reports.TABLE_LABELS,
        # What was typed stays in the field after an error, next to its message.
        "since_value": (request.GET.get("since", "")[:20] if "since" in errors
                        else period.since.isoformat()),
        "until_value": (request.GET.get("until", "")[:20] if "until" in errors
                        else period.until.isoformat()),
        "default_days": reports.DEFAULT_DAYS,
    }
    return render(request, "cases/reports.html", context, status=400 if errors else 200)
