"""Reads of the Ideas Lab, scoped to the acting user: provider staff see every product's
lab; customers and partners see the labs of the products their tenants use (ideas are
shared across those tenants)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from caredeck.core.numbering import looks_like_number
from caredeck.core.selectors import one_or_404
from caredeck.ideas.models import Idea, Vote, VoteGrant


def labs_visible(user) -> QuerySet:
    """The products whose labs the user reads: every one for staff who serve every
    tenant; for anyone else (customers, partners, a TAM) those their tenants use."""
    from caredeck.accounts.access import has_capability, tenants_for
    from caredeck.accounts.models import Product
    from caredeck.accounts.roles import Capability

    if has_capability(user, Capability.SERVE_ALL_TENANTS):
        return Product.objects.all()
    return Product.objects.filter(organizations__in=tenants_for(user)).distinct()


def ideas_visible(user) -> QuerySet[Idea]:
    return Idea.objects.filter(product__in=labs_visible(user))


def idea_get(user, number: str) -> Idea:
    if not looks_like_number(number, "IDEA"):
        one_or_404(Idea.objects.none(), "idea")
    return one_or_404(
        ideas_visible(user).select_related("product", "author", "organization", "merged_into"),
        "idea", number=number,
    )


def vote_budget(user) -> dict[str, int]:
    """{"budget", "used", "available"}: the default plus grants, the live votes held."""
    granted = VoteGrant.objects.filter(user=user).aggregate(total=Sum("amount"))["total"] or 0
    budget = settings.IDEAS_VOTE_BUDGET + granted
    used = Vote.objects.filter(user=user, returned_at__isnull=True).count()
    return {"budget": budget, "used": used, "available": max(0, budget - used)}


def voted_ideas(user, ideas) -> set[int]:
    """The ids among `ideas` the user holds a live vote for."""
    return set(
        Vote.objects.filter(user=user, returned_at__isnull=True, idea__in=ideas)
        .values_list("idea_id", flat=True)
    )


SORTS = ("votes", "newest", "trending")


def ideas_list(user, *, product=None, status: str = "", q: str = "", sort: str = "votes"):
    """The lab: filter by product and status, search title and description, sort by
    votes, newest, or trending (live votes cast in the last 30 days)."""
    ideas = ideas_visible(user).select_related("product", "organization")
    if product is not None:
        ideas = ideas.filter(product=product)
    # Merged ideas live on in their survivor; they show only when asked for.
    ideas = ideas.filter(status=status) if status else ideas.exclude(status="merged")
    if q:
        for word in q.split()[:8]:
            ideas = ideas.filter(Q(title__icontains=word) | Q(description__icontains=word))
    if sort == "newest":
        return ideas.order_by("-created_at", "-pk")
    if sort == "trending":
        since = timezone.now() - timezone.timedelta(days=30)
        return ideas.annotate(
            recent=Count("vote_rows", filter=Q(vote_rows__returned_at__isnull=True,
                                               vote_rows__created_at__gte=since))
        ).order_by("-recent", "-votes", "-pk")
    return ideas.order_by("-votes", "-created_at", "-pk")


class AuthorRule:
    """Whose organization a reader may see on ideas and comments: every one for staff who
    serve every tenant; for anyone else, an anonymous idea's organization only when it is
    one of the reader's own tenants (a TAM of other accounts is "anyone else")."""

    def __init__(self, user):
        from caredeck.accounts.access import has_capability, tenants_for
        from caredeck.accounts.roles import Capability

        self.sees_all = has_capability(user, Capability.SERVE_ALL_TENANTS)
        self.tenants = set() if self.sees_all else set(
            tenants_for(user).values_list("pk", flat=True))

    def shows(self, idea) -> bool:
        return (not idea.anonymous or self.sees_all
                or idea.organization_id in self.tenants)

    def author_of(self, idea) -> str:
        if idea.organization is None:
            return "a former customer"
        return idea.organization.name if self.shows(idea) else "another customer"
