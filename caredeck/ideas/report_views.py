"""The Ideas Lab reports page for product managers (`/ideas/reports/`): four tabs, each
with its CSV export (`?format=csv`). Thin: parse the filters, call one report function of
ideas/reports.py, render or export.

Provider staff read it (product managers and platform admins above all); customers and
partners get 403, since the page exists but is not theirs. A malformed filter (a quarter
such as `2026-Q9`, an unknown product or segment) is a message next to the field with
status 400 and the unfiltered report below it, never a 500; a CSV asked for with a bad
filter gets that page too rather than a file that looks right and is not.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from caredeck.accounts.models import Segment
from caredeck.core.csv import csv_response as _csv_response
from caredeck.ideas import reports
from caredeck.ideas.selectors import labs_visible

# Ideas per group on the page: the overview, and one product or segment chosen.
TOP_SHOWN = 10
TOP_SHOWN_ONE_GROUP = 50
# Ideas per group in a CSV.
TOP_EXPORTED = 100
PER_PAGE = 50
TAB_LABELS = (
    ("product", "Top ideas per product"),
    ("segment", "Top ideas per segment"),
    ("waiting", "Waiting on a PM answer"),
    ("delivered", "Delivered per quarter"),
)


def _filters(request) -> tuple[dict, dict[str, str]]:
    """The chosen tab, product, quarter and segment, and a message per refused field
    (which then falls back to no filter)."""
    errors: dict[str, str] = {}
    chosen: dict = {"tab": request.GET.get("tab") or "product"}
    if chosen["tab"] not in reports.TABS:
        errors["tab"] = "Choose one of the report tabs."
        chosen["tab"] = "product"
    chosen["segment"] = None
    parsers = [("product", lambda v: reports.parse_product(request.user, v)),
               ("quarter", reports.parse_quarter)]
    if chosen["tab"] == "segment":  # the other tabs have no segment to filter by
        parsers.append(("segment", reports.parse_segment))
    for name, parse in parsers:
        try:
            chosen[name] = parse(request.GET.get(name, ""))
        except ValidationError as exc:
            chosen[name] = None
            errors[name] = " ".join(exc.message_dict.get(name, exc.messages))
    return chosen, errors


@login_required
@require_GET
def idea_reports(request):
    if not reports.can_read_idea_reports(request.user):
        raise PermissionDenied("The ideas reports are for the provider's product managers.")
    chosen, errors = _filters(request)
    tab, product, quarter, segment = (chosen["tab"], chosen["product"], chosen["quarter"],
                                      chosen["segment"])
    want_csv = request.GET.get("format") == "csv" and not errors
    common = {k: v for k, v in (("product", product.slug if product else ""),
                                ("quarter", quarter.key if quarter else "")) if v}
    own = {**common, "segment": reports.segment_param(segment)} if (
        tab == "segment" and segment is not None) else common
    context = {
        "tab_links": [(key, label, "?" + urlencode({"tab": key, **common}))
                      for key, label in TAB_LABELS],
        "csv_url": "?" + urlencode({"tab": tab, **own, "format": "csv"}),
        "pager_query": urlencode({"tab": tab, **own}) + "&",
        "tab": tab, "product": product, "quarter": quarter, "segment": segment,
        "segment_param": reports.segment_param(segment) if segment is not None else "",
        "errors": errors,
        # What was typed stays in the field after an error, next to its message.
        "quarter_value": (request.GET.get("quarter", "")[:20] if "quarter" in errors
                          else (quarter.key if quarter else "")),
        "products": labs_visible(request.user).only("slug", "name").order_by("name"),
        "segments": [*Segment.choices, ("none", reports.NO_SEGMENT_LABEL)],
        "current_quarter": reports.quarter_of(timezone.now()),
    }
    filename = reports.csv_filename(tab, product=product, quarter=quarter,
                                    segment=segment if tab == "segment" else None)
    if tab == "product":
        limit = TOP_EXPORTED if want_csv else (TOP_SHOWN_ONE_GROUP if product else TOP_SHOWN)
        groups = reports.top_ideas_per_product(request.user, product=product, quarter=quarter,
                                               limit=limit)
        if want_csv:
            return _csv_response(reports.top_per_product_csv(groups, quarter), filename)
        context.update({"groups": groups, "limit": limit})
    elif tab == "segment":
        limit = TOP_EXPORTED if want_csv else (
            TOP_SHOWN_ONE_GROUP if segment is not None else TOP_SHOWN)
        groups = reports.top_ideas_per_segment(request.user, product=product, quarter=quarter,
                                               segment=segment, limit=limit)
        if want_csv:
            return _csv_response(reports.top_per_segment_csv(groups, quarter), filename)
        context.update({"groups": groups, "limit": limit})
    elif tab == "waiting":
        rows = reports.ideas_waiting(request.user, product=product, quarter=quarter)
        if want_csv:
            return _csv_response(reports.waiting_csv(rows), filename)
        page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
        context.update({"page": page, "count": len(rows),
                        "overdue": sum(1 for r in rows if r.overdue)})
    else:
        ideas = reports.delivered_ideas(request.user, product=product, quarter=quarter)
        if want_csv:
            return _csv_response(reports.delivered_csv(reports.delivered_rows(ideas)),
                                 filename)
        page = Paginator(ideas, PER_PAGE).get_page(request.GET.get("page"))
        context.update({
            "quarters": reports.delivered_per_quarter(request.user, product=product,
                                                      quarter=quarter),
            "page": page, "rows": reports.delivered_rows(page.object_list),
        })
    return render(request, "ideas/reports.html", context, status=400 if errors else 200)
