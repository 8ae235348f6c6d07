"""Reports of the Ideas Lab for product managers, each with a CSV export.

- **Top ideas per product**: the open ideas (community review to in development) with the
  most live votes, per product. With a quarter, only the live votes cast in that quarter
  count ("what gathered support in 2026-Q1").
- **Top ideas per customer segment**: the same, counting only the live votes of people
  whose customer organization is in the segment (enterprise, mid-market, ...); votes of
  customers without a segment are their own group, votes of provider staff and partners
  count in no segment.
- **Waiting on a PM answer**: ideas under PM review whose public answer is still owed,
  soonest due first, with the business days left in the provider's calendar. With a
  quarter, those falling due in it.
- **Delivered per quarter**: delivered ideas by the quarter of their delivery (UTC), with
  the votes they held when delivered.

Quarters are calendar quarters in UTC (`2026-Q1` = January to March). Every function
reads a fixed handful of aggregate queries whatever the number of ideas, products or
votes, and sees only what the reader may see (`ideas_visible`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Count, F, Q, QuerySet, Sum, Window
from django.db.models.functions import ExtractQuarter, ExtractYear, RowNumber
from django.urls import reverse
from django.utils import timezone

from caredeck.accounts.access import has_capability
from caredeck.accounts.models import Product, Segment
from caredeck.accounts.roles import Capability, OrganizationKind
from caredeck.accounts.selectors import provider_organization
from caredeck.core.calendar import is_business_day
from caredeck.core.csv import csv_cell, csv_text  # noqa: F401 - csv_cell re-exported
from caredeck.ideas.models import VOTABLE, Idea, IdeaStatus, Vote
from caredeck.ideas.selectors import ideas_visible, labs_visible

QUARTER_RE = re.compile(r"^(\d{4})-Q([1-4])$")
SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]{1,50}$")
# The segment of customers whose organization has none set.
NO_SEGMENT = ""
NO_SEGMENT_LABEL = "No segment set"
TABS = ("product", "segment", "waiting", "delivered")


def can_read_idea_reports(user) -> bool:
    """Product managers and platform admins (who manage ideas), and provider staff."""
    # Reports rank every tenant's ideas: product managers and staff who serve every tenant.
    return has_capability(user, Capability.MANAGE_IDEAS) or has_capability(
        user, Capability.SERVE_ALL_TENANTS)


# --- Quarters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Quarter:
    year: int
    quarter: int

    @property
    def start(self) -> dt.datetime:
        return dt.datetime(self.year, 3 * self.quarter - 2, 1, tzinfo=dt.UTC)

    @property
    def end(self) -> dt.datetime:
        return self.next.start

    @property
    def key(self) -> str:
        return f"{self.year}-Q{self.quarter}"

    @property
    def title(self) -> str:
        first, last = self.start, self.end - dt.timedelta(days=1)
        return f"{self.key} ({first:%b}–{last:%b} {self.year})"

    @property
    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.quarter == 1 else Quarter(self.year,
                                                                             self.quarter - 1)

    @property
    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.quarter == 4 else Quarter(self.year,
                                                                             self.quarter + 1)

    def __str__(self) -> str:
        return self.key


def quarter_of(moment: dt.datetime) -> Quarter:
    moment = moment.astimezone(dt.UTC)
    return Quarter(moment.year, (moment.month - 1) // 3 + 1)


def parse_quarter(value: Any) -> Quarter | None:
    """`YYYY-Qn` as a Quarter; empty means none (no quarter filter). Anything else raises
    ValidationError on "quarter" (a message on the page, status 400), never a 500."""
    if value in (None, ""):
        return None
    match = QUARTER_RE.match(value.strip()) if isinstance(value, str) else None
    if match is None or not 2000 <= int(match.group(1)) <= 2999:
        raise ValidationError(
            {"quarter": ["Give a quarter as YYYY-Qn with n from 1 to 4, e.g. 2026-Q1."]})
    return Quarter(int(match.group(1)), int(match.group(2)))


def parse_product(user, value: Any) -> Product | None:
    if value in (None, ""):
        return None
    product = None
    if isinstance(value, str) and SLUG_RE.match(value):
        product = labs_visible(user).filter(slug=value).first()
    if product is None:
        raise ValidationError({"product": ["No such product: choose one from the list."]})
    return product


def parse_segment(value: Any) -> str | None:
    """A segment slug, "none" for customers without a segment, or None for every segment."""
    if value in (None, ""):
        return None
    if value == "none":
        return NO_SEGMENT
    if value not in Segment.values:
        raise ValidationError({"segment": ["Choose a segment from the list."]})
    return value


def segment_label(segment: str) -> str:
    return Segment(segment).label if segment in Segment.values else NO_SEGMENT_LABEL


def segment_param(segment: str) -> str:
    return segment or "none"


def _url(idea_number: str) -> str:
    return settings.BASE_URL + reverse("idea-detail", args=[idea_number])


# --- Top ideas per product -----------------------------------------------------------


@dataclass(frozen=True)
class TopIdea:
    rank: int
    number: str
    title: str
    status: str
    product_slug: str
    product_name: str
    votes: int  # live votes (cast in the quarter, when one is chosen)
    total_votes: int  # every live vote it holds now
    organizations: int  # distinct organizations among those voters
    created_at: dt.datetime

    @property
    def status_label(self) -> str:
        return IdeaStatus(self.status).label


@dataclass
class ProductTop:
    slug: str
    name: str
    threshold: int
    open_ideas: int
    live_votes: int
    ideas: list[TopIdea] = field(default_factory=list)


def _open_ideas(user, product: Product | None) -> QuerySet[Idea]:
    ideas = ideas_visible(user).filter(status__in=VOTABLE)
    return ideas.filter(product=product) if product is not None else ideas


def _live_votes(quarter: Quarter | None, prefix: str = "") -> Q:
    q = Q(**{f"{prefix}returned_at__isnull": True})
    if quarter is not None:
        q &= Q(**{f"{prefix}created_at__gte": quarter.start,
                  f"{prefix}created_at__lt": quarter.end})
    return q


def _voting_organizations(idea_ids: Iterable[int], quarter: Quarter | None,
                          extra: Q | None = None) -> dict[int, int]:
    votes = Vote.objects.filter(_live_votes(quarter), idea_id__in=list(idea_ids))
    if extra is not None:
        votes = votes.filter(extra)
    return dict(
        votes.values("idea_id").annotate(n=Count("user__organization", distinct=True))
        .values_list("idea_id", "n")
    )


def top_ideas_per_product(
    user, *, product: Product | None = None, quarter: Quarter | None = None, limit: int = 10
) -> list[ProductTop]:
    """Every visible product (or the one chosen) with its `limit` open ideas holding the
    most live votes (cast in `quarter` when given). Ideas without such votes are left out.
    """
    ideas = _open_ideas(user, product)
    if quarter is None:
        counted = ideas.filter(votes__gt=0).annotate(counted=F("votes"))
    else:
        counted = ideas.annotate(
            counted=Count("vote_rows", filter=_live_votes(quarter, "vote_rows__"))
        ).filter(counted__gt=0)
    ranked = counted.annotate(
        rank=Window(RowNumber(), partition_by=[F("product_id")],
                    order_by=[F("counted").desc(), F("created_at").desc(), F("pk").desc()])
    ).filter(rank__lte=limit)
    rows = list(ranked.values("pk", "number", "title", "status", "product_id", "votes",
                              "counted", "created_at", "rank"))
    organizations = _voting_organizations((r["pk"] for r in rows), quarter)
    products = labs_visible(user).filter(is_active=True)
    if product is not None:
        products = products.filter(pk=product.pk)
    totals = {
        row["product_id"]: row for row in ideas.values("product_id").annotate(
            n=Count("pk"), votes_sum=Sum("votes"))
    }
    result = {
        p.pk: ProductTop(slug=p.slug, name=p.name, threshold=p.vote_threshold,
                         open_ideas=totals.get(p.pk, {}).get("n", 0),
                         live_votes=totals.get(p.pk, {}).get("votes_sum") or 0)
        for p in products.order_by("name")
    }
    for row in sorted(rows, key=lambda r: (r["product_id"], r["rank"])):
        group = result.get(row["product_id"])
        if group is None:  # an idea of a closed product's lab
            continue
        group.ideas.append(TopIdea(
            rank=row["rank"], number=row["number"], title=row["title"], status=row["status"],
            product_slug=group.slug, product_name=group.name, votes=row["counted"],
            total_votes=row["votes"], organizations=organizations.get(row["pk"], 0),
            created_at=row["created_at"],
        ))
    return list(result.values())


# --- Top ideas per customer segment ------------------------------------------------------


@dataclass
class SegmentTop:
    segment: str
    label: str
    voters: int  # distinct people of the segment holding a live vote (in scope)
    ideas: list[TopIdea] = field(default_factory=list)

    @property
    def param(self) -> str:
        return segment_param(self.segment)


def top_ideas_per_segment(
    user, *, product: Product | None = None, quarter: Quarter | None = None,
    segment: str | None = None, limit: int = 10,
) -> list[SegmentTop]:
    """Per customer segment (or the one chosen), the `limit` open ideas with the most live
    votes from people whose customer organization is in that segment."""
    votes = Vote.objects.filter(
        _live_votes(quarter), idea__in=_open_ideas(user, product),
        user__organization__kind=OrganizationKind.CUSTOMER,
    )
    if segment is not None:
        votes = votes.filter(user__organization__segment=segment)
    segment_expr = F("user__organization__segment")
    ranked = (
        votes.values("idea_id", seg=segment_expr)
        .annotate(n=Count("pk"), orgs=Count("user__organization", distinct=True))
        .annotate(rank=Window(RowNumber(), partition_by=[segment_expr],
                              order_by=[F("n").desc(), F("idea_id").desc()]))
        .filter(rank__lte=limit)
    )
    rows = list(ranked.values_list("idea_id", "seg", "n", "orgs", "rank"))
    voters = dict(
        votes.values(seg=segment_expr).annotate(people=Count("user", distinct=True))
        .values_list("seg", "people")
    )
    ideas = {
        i["pk"]: i for i in Idea.objects.filter(pk__in={r[0] for r in rows}).values(
            "pk", "number", "title", "status", "votes", "created_at", "product__slug",
            "product__name")
    }
    order = [*Segment.values, NO_SEGMENT] if segment is None else [segment]
    result = {s: SegmentTop(segment=s, label=segment_label(s), voters=voters.get(s, 0))
              for s in order}
    for idea_id, seg, n, orgs, rank in sorted(rows, key=lambda r: (r[1], r[4])):
        group = result.get(seg or NO_SEGMENT)
        idea = ideas[idea_id]
        group.ideas.append(TopIdea(
            rank=rank, number=idea["number"], title=idea["title"], status=idea["status"],
            product_slug=idea["product__slug"], product_name=idea["product__name"], votes=n,
            total_votes=idea["votes"], organizations=orgs, created_at=idea["created_at"],
        ))
    return list(result.values())


# --- Waiting on a PM answer --------------------------------------------------------------


@dataclass(frozen=True)
class WaitingIdea:
    number: str
    title: str
    product_slug: str
    product_name: str
    lead: str
    votes: int
    threshold_reached_at: dt.datetime | None
    pm_answer_due_at: dt.datetime
    business_days_left: int | None  # None once overdue

    @property
    def overdue(self) -> bool:
        return self.business_days_left is None


def provider_calendar() -> tuple[str, str]:
    """(country, time zone) of the provider's business calendar, as the PM clock counts."""
    provider = provider_organization()
    try:
        contract = provider.contract if provider else None
    except ObjectDoesNotExist:
        contract = None
    if contract is None:
        return "US", "UTC"
    return contract.support_country, contract.support_timezone


def business_days_left(due_at: dt.datetime, now: dt.datetime, *, country: str = "US",
                       tz: str = "UTC") -> int | None:
    """Business days after today up to the due date (0: due today); None once passed."""
    if due_at <= now:
        return None
    try:
        zone = ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    day, last = now.astimezone(zone).date(), due_at.astimezone(zone).date()
    count = 0
    while day < last:
        day += dt.timedelta(days=1)
        if is_business_day(day, country=country):
            count += 1
    return count


def ideas_waiting(
    user, *, product: Product | None = None, quarter: Quarter | None = None
) -> list[WaitingIdea]:
    """Ideas under PM review whose public answer is owed, soonest due first (falling due
    in `quarter` when given)."""
    ideas = ideas_visible(user).filter(
        status=IdeaStatus.UNDER_PM_REVIEW, pm_answered_at__isnull=True,
        pm_answer_due_at__isnull=False,
    )
    if product is not None:
        ideas = ideas.filter(product=product)
    if quarter is not None:
        ideas = ideas.filter(pm_answer_due_at__gte=quarter.start,
                             pm_answer_due_at__lt=quarter.end)
    now = timezone.now()
    country, tz = provider_calendar()
    return [
        WaitingIdea(
            number=i.number, title=i.title, product_slug=i.product.slug,
            product_name=i.product.name,
            lead=(i.product.lead.name or i.product.lead.email) if i.product.lead else "",
            votes=i.votes, threshold_reached_at=i.threshold_reached_at,
            pm_answer_due_at=i.pm_answer_due_at,
            business_days_left=business_days_left(i.pm_answer_due_at, now, country=country,
                                                  tz=tz),
        )
        for i in ideas.select_related("product__lead").order_by("pm_answer_due_at", "pk")
    ]


# --- Delivered per quarter ---------------------------------------------------------------


@dataclass
class QuarterCount:
    quarter: Quarter
    delivered: int
    by_product: list[tuple[str, int]]  # (product name, count), most first


@dataclass(frozen=True)
class DeliveredIdea:
    number: str
    title: str
    product_slug: str
    product_name: str
    delivered_at: dt.datetime
    votes_at_delivery: int
    release_notes_url: str

    @property
    def quarter(self) -> Quarter:
        return quarter_of(self.delivered_at)


def _delivered(user, product: Product | None, quarter: Quarter | None) -> QuerySet[Idea]:
    ideas = ideas_visible(user).filter(status=IdeaStatus.DELIVERED, delivered_at__isnull=False)
    if product is not None:
        ideas = ideas.filter(product=product)
    if quarter is not None:
        ideas = ideas.filter(delivered_at__gte=quarter.start, delivered_at__lt=quarter.end)
    return ideas


def delivered_per_quarter(
    user, *, product: Product | None = None, quarter: Quarter | None = None
) -> list[QuarterCount]:
    """How many ideas were delivered in each quarter (newest first), and per product."""
    counts = (
        _delivered(user, product, quarter)
        .annotate(y=ExtractYear("delivered_at", tzinfo=dt.UTC),
                  q=ExtractQuarter("delivered_at", tzinfo=dt.UTC))
        .values("y", "q", "product__name").annotate(n=Count("pk"))
        .values_list("y", "q", "product__name", "n")
    )
    per: dict[Quarter, list[tuple[str, int]]] = defaultdict(list)
    for year, q, name, n in counts:
        per[Quarter(year, q)].append((name, n))
    return [
        QuarterCount(quarter=q, delivered=sum(n for _, n in rows),
                     by_product=sorted(rows, key=lambda r: (-r[1], r[0])))
        for q, rows in sorted(per.items(), key=lambda kv: (kv[0].year, kv[0].quarter),
                              reverse=True)
    ]


def delivered_ideas(
    user, *, product: Product | None = None, quarter: Quarter | None = None
) -> QuerySet[Idea]:
    """The delivered ideas themselves, newest first (a queryset, so a page can slice it)."""
    return _delivered(user, product, quarter).select_related("product").order_by(
        "-delivered_at", "-pk")


def delivered_rows(ideas: Iterable[Idea]) -> list[DeliveredIdea]:
    return [
        DeliveredIdea(
            number=i.number, title=i.title, product_slug=i.product.slug,
            product_name=i.product.name, delivered_at=i.delivered_at,
            votes_at_delivery=i.closing_votes or 0, release_notes_url=i.release_notes_url,
        )
        for i in ideas
    ]


# --- CSV ---------------------------------------------------------------------------------

# Cells are made formula-safe by core/csv.py (titles and names come from users).


def top_per_product_csv(groups: list[ProductTop], quarter: Quarter | None) -> str:
    header = ["product", "product_name", "rank", "idea", "title", "status",
              "votes_in_quarter" if quarter else "live_votes", "voting_organizations",
              "submitted_at", "url"]
    return csv_text(header, (
        [g.slug, g.name, i.rank, i.number, i.title, i.status, i.votes, i.organizations,
         i.created_at, _url(i.number)]
        for g in groups for i in g.ideas
    ))


def top_per_segment_csv(groups: list[SegmentTop], quarter: Quarter | None) -> str:
    header = ["segment", "segment_name", "rank", "idea", "title", "product", "status",
              "segment_votes_in_quarter" if quarter else "segment_votes",
              "segment_organizations", "live_votes", "url"]
    return csv_text(header, (
        [segment_param(g.segment), g.label, i.rank, i.number, i.title, i.product_slug,
         i.status, i.votes, i.organizations, i.total_votes, _url(i.number)]
        for g in groups for i in g.ideas
    ))


def waiting_csv(rows: list[WaitingIdea]) -> str:
    header = ["idea", "title", "product", "product_lead", "votes", "threshold_reached_at",
              "pm_answer_due_at", "business_days_left", "overdue", "url"]
    return csv_text(header, (
        [w.number, w.title, w.product_slug, w.lead, w.votes, w.threshold_reached_at,
         w.pm_answer_due_at, w.business_days_left, w.overdue, _url(w.number)]
        for w in rows
    ))


def delivered_csv(rows: list[DeliveredIdea]) -> str:
    header = ["quarter", "idea", "title", "product", "delivered_at", "votes_at_delivery",
              "release_notes_url", "url"]
    return csv_text(header, (
        [d.quarter.key, d.number, d.title, d.product_slug, d.delivered_at,
         d.votes_at_delivery, d.release_notes_url, _url(d.number)]
        for d in rows
    ))


def csv_filename(tab: str, *, product: Product | None, quarter: Quarter | None,
                 segment: str | None = None) -> str:
    """e.g. `ideas-top-per-product-cloud-cx-2026-Q1.csv`, `ideas-waiting-on-pm-2026-05-14.csv`
    (a snapshot without a quarter is named for the day it was taken)."""
    names = {"product": "top-per-product", "segment": "top-per-segment",
             "waiting": "waiting-on-pm", "delivered": "delivered"}
    parts = ["ideas", names[tab]]
    if segment is not None:
        parts.append(segment_param(segment).replace("_", "-"))
    if product is not None:
        parts.append(product.slug)
    if quarter is not None:
        parts.append(quarter.key)
    elif tab == "delivered":
        parts.append("all-quarters")
    else:
        parts.append(timezone.now().astimezone(dt.UTC).strftime("%Y-%m-%d"))
    return "-".join(parts) + ".csv"
