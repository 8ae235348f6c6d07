"""Demo ideas: a lab per product with ideas in every status, voted on by the demo
customers, with comments and work-arounds.

- one idea past its product's vote threshold, under PM review, its answer clock running
  (on the product manager's worklist and the "waiting on a PM answer" report);
- one whose answer is overdue, so the first scheduler tick escalates it;
- one accepted for a quarter, one in development with its update falling due soon, two
  delivered in earlier weeks (their votes returned), one declined, and a few in community
  review (one with a work-around marked helpful).

Everything goes through the real services (votes, threshold, transitions, comments are
audited and notify as in real life); the past is made by moving each idea's timestamps
back after the fact, as incidents/demo.py does, and then re-deriving its PM answer clock
from the moved threshold time so the 30 business days stay exact. Idempotent: it does
nothing when ideas already exist.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from caredeck.accounts.models import Organization, Product, User
from caredeck.accounts.roles import OrganizationKind
from caredeck.ideas import services
from caredeck.ideas.models import Comment, Idea, IdeaStatus, IdeaUpdate, Vote
from caredeck.ideas.reports import quarter_of
from caredeck.ideas.selectors import vote_budget

DAY = datetime.timedelta(days=1)
# Customer segments of the named demo customers; generated tenants take them in turn.
SEGMENTS = {"acme": "enterprise", "globex": "mid_market", "initech": "enterprise"}
SEGMENT_CYCLE = ["small_business", "mid_market", "public_sector", "enterprise", ""]

_IDEA_TIMES = ("created_at", "updated_at", "threshold_reached_at", "pm_answer_due_at",
               "pm_answered_at", "pm_remind_at", "pm_escalate_at", "dev_update_due_at",
               "last_public_update_at", "delivered_at")


def _shift(idea: Idea, delta: datetime.timedelta) -> None:
    """Move everything that happened to an idea so far back in time by `delta`."""
    for name in _IDEA_TIMES:
        Idea.objects.filter(pk=idea.pk, **{f"{name}__isnull": False}).update(
            **{name: F(name) - delta})
    Vote.objects.filter(idea=idea).update(created_at=F("created_at") - delta)
    Vote.objects.filter(idea=idea, returned_at__isnull=False).update(
        returned_at=F("returned_at") - delta)
    Comment.objects.filter(idea=idea).update(created_at=F("created_at") - delta)
    IdeaUpdate.objects.filter(idea=idea).update(created_at=F("created_at") - delta)


def _rederive_pm_clock(idea: Idea) -> None:
    """After a shift: the answer is due 30 business days after the (moved) threshold,
    the reminder 5 business days before, as if it had really been reached then."""
    idea.refresh_from_db()
    if idea.threshold_reached_at is None:
        return
    due = services._pm_due(idea.threshold_reached_at)
    fields = {"pm_answer_due_at": due}
    if idea.pm_answered_at is None and idea.status == IdeaStatus.UNDER_PM_REVIEW:
        remind = services._pm_remind(idea.threshold_reached_at)
        now = timezone.now()
        # A reminder already past when the demo starts is not sent late.
        fields.update(pm_remind_at=remind if remind > now else None, pm_escalate_at=due)
    Idea.objects.filter(pk=idea.pk).update(**fields)


def _voters(product: Product) -> list[User]:
    """The demo's customer and partner people whose organization uses `product`."""
    return list(
        User.objects.filter(
            is_active=True, organization__platforms=product,
            organization__kind__in=[OrganizationKind.CUSTOMER, OrganizationKind.PARTNER],
        ).distinct().order_by("email")
    )


class _Lab:
    """Casts votes from a product's people in rotation, so nobody runs out of votes."""

    def __init__(self, product: Product):
        self.product = product
        self.people = _voters(product)
        self.offset = 0

    def vote(self, idea: Idea, count: int) -> Idea:
        """`count` more votes (fewer if the lab runs out of people who can still vote)."""
        held = set(Vote.objects.filter(idea=idea, returned_at__isnull=True)
                   .values_list("user_id", flat=True))
        cast = 0
        for n in range(len(self.people)):
            if cast >= count:
                break
            voter = self.people[(self.offset + n) % len(self.people)]
            if voter.pk in held or vote_budget(voter)["available"] <= 0:
                continue
            services.vote_cast(actor=voter, idea=idea)
            cast += 1
        self.offset += max(1, count // 2)
        idea.refresh_from_db()
        return idea


def _person(email: str) -> User | None:
    return User.objects.filter(email=email, is_active=True).first()


def _set_segments_and_lead(admin, pm_user) -> None:
    """Segments for the demo customers (for the per-segment report) and the product
    manager as lead of Cloud CX, through the audited services; only what is unset."""
    from caredeck.accounts import services as accounts

    customers = Organization.objects.filter(kind=OrganizationKind.CUSTOMER, segment="")
    generated = customers.filter(slug__startswith="tenant-").order_by("slug")
    for n, organization in enumerate(generated):
        segment = SEGMENT_CYCLE[n % len(SEGMENT_CYCLE)]
        if segment:
            accounts.organization_update(actor=admin, organization=organization,
                                         segment=segment)
    for organization in customers.filter(slug__in=SEGMENTS):
        accounts.organization_update(actor=admin, organization=organization,
                                     segment=SEGMENTS[organization.slug])
    cloud = Product.objects.filter(slug="cloud-cx", lead__isnull=True).first()
    if cloud is not None:
        accounts.product_update(actor=admin, product=cloud, lead=pm_user)


def _submit(author, product, title, description, *, anonymous=False) -> Idea:
    return services.idea_submit(actor=author, product=product, title=title,
                                description=description, anonymous=anonymous)


def _accept(pm_user, idea, message) -> None:
    services.idea_transition(actor=pm_user, idea=idea, status="accepted", message=message,
                             target_quarter=quarter_of(timezone.now()).next.key)


def _deliver(pm_user, idea, url, message) -> None:
    services.idea_transition(actor=pm_user, idea=idea, status="delivered", message=message,
                             release_notes_url=url)


def load_demo_ideas(pm_user, admin=None) -> None:
    if Idea.objects.exists():
        return
    products = {p.slug: p for p in Product.objects.filter(
        slug__in=["cloud-cx", "engage-premise", "workforce"])}
    if len(products) < 3 or pm_user is None:
        return
    with transaction.atomic():
        if admin is not None:
            _set_segments_and_lead(admin, pm_user)
        acme, globex = _person("admin@acme.example"), _person("member@globex.example")
        initech, acme_member = _person("admin@initech.example"), _person("member@acme.example")
        if None in (acme, globex, initech, acme_member):
            return
        cloud, premise, workforce = (_Lab(products[slug]) for slug in
                                     ("cloud-cx", "engage-premise", "workforce"))

        # Past its threshold 12 days ago: under PM review, the answer due in ~3 weeks.
        callback = _submit(acme, cloud.product, "Let callers book a callback slot",
                           "When queues are long, offer callers a choice of callback slots "
                           "instead of waiting on hold, and route the callback to the same "
                           "skill group.")
        cloud.vote(callback, cloud.product.vote_threshold - 4)
        _shift(callback, 30 * DAY)
        cloud.vote(callback, 4)
        if callback.status == IdeaStatus.COMMUNITY_REVIEW:  # fewer demo voters than needed
            services.idea_transition(actor=pm_user, idea=callback, status="under_pm_review",
                                     message="Many customers asked for this: we are reviewing "
                                     "it now.")
        services.comment_add(
            actor=globex, idea=callback, workaround=True,
            body="Until this exists: a Flow 'virtual hold' block with a fixed callback "
            "number works for us; it keeps the caller's place but cannot offer slots.")
        services.comment_add(actor=acme_member, idea=callback,
                             body="This would cut our abandoned calls on Monday mornings.")
        helpful = Comment.objects.filter(idea=callback, workaround=True).first()
        services.comment_mark(actor=acme, comment=helpful, kind="helpful")
        _shift(callback, 12 * DAY)
        _rederive_pm_clock(callback)

        # Past its threshold 48 days ago and never answered: overdue, escalated on the
        # first scheduler tick.
        monitoring = _submit(initech, premise.product, "Silent monitoring for supervisors "
                             "on premise", "Supervisors want to listen to live calls from "
                             "the premise desktop without the agent being told.")
        premise.vote(monitoring, premise.product.vote_threshold)
        if monitoring.status == IdeaStatus.COMMUNITY_REVIEW:
            services.idea_transition(actor=pm_user, idea=monitoring, status="under_pm_review",
                                     message="Several of our largest premise customers asked "
                                     "for this: we are reviewing it now.")
        _shift(monitoring, 48 * DAY)
        _rederive_pm_clock(monitoring)

        # Accepted for next quarter.
        sentiment = _submit(globex, cloud.product, "Real-time sentiment on the agent desktop",
                            "Show the agent and the supervisor how the caller's sentiment "
                            "changes during the call.")
        cloud.vote(sentiment, 14)
        _shift(sentiment, 40 * DAY)
        _accept(pm_user, sentiment, "Accepted: it fits the agent-assist work planned for "
                "next quarter. We will post the beta date here.")
        _shift(sentiment, 9 * DAY)

        # In development: the last public update was 50 days ago, the next due in 10.
        barge = _submit(acme, cloud.product, "Supervisor barge-in from the mobile app",
                        "Let a supervisor join a live call from the mobile app when an agent "
                        "asks for help.")
        cloud.vote(barge, 9)
        _shift(barge, 60 * DAY)
        _accept(pm_user, barge, "Accepted: the mobile supervisor app gets call controls.")
        _shift(barge, 20 * DAY)
        services.idea_transition(actor=pm_user, idea=barge, status="in_development",
                                 message="Engineering has started; a beta opens to "
                                 "volunteers first.")
        _shift(barge, 50 * DAY)

        # Delivered five weeks ago: its votes went back to the voters.
        wallboard = _submit(acme_member, workforce.product, "Export wallboard data to CSV",
                            "Let supervisors download what the wallboard shows, per queue "
                            "and interval.")
        workforce.vote(wallboard, 8)
        _shift(wallboard, 70 * DAY)
        _accept(pm_user, wallboard, "Accepted for the next workforce release.")
        _shift(wallboard, 20 * DAY)
        services.idea_transition(actor=pm_user, idea=wallboard, status="in_development",
                                 message="In development.")
        _shift(wallboard, 15 * DAY)
        _deliver(pm_user, wallboard, "https://docs.example/workforce/release-notes/2025-10",
                 "Delivered: Wallboards › Export. Thank you for the votes, they are yours "
                 "again.")
        _shift(wallboard, 35 * DAY)

        # Delivered four months ago, on premise.
        language = _submit(initech, premise.product, "Route calls by the caller's language",
                           "Use the IVR language choice as a routing skill.")
        premise.vote(language, 6)
        _shift(language, 60 * DAY)
        _accept(pm_user, language, "Accepted.")
        _deliver(pm_user, language, "https://docs.example/engage/release-notes/12.4",
                 "Delivered in Engage 12.4: the language is a routing attribute.")
        _shift(language, 120 * DAY)

        # Declined, with the reason.
        fax = _submit(globex, cloud.product, "Fax as a contact channel",
                      "Route inbound faxes to agents like e-mails.")
        cloud.vote(fax, 3)
        services.idea_transition(actor=pm_user, idea=fax, status="declined",
                                 message="We will not add fax.",
                                 reason="Fewer than 1 % of tenants still receive faxes; a "
                                 "fax-to-mail gateway covers them.")
        _shift(fax, 25 * DAY)

        # Community review.
        dark = _submit(acme_member, cloud.product, "Dark mode for the agent desktop",
                       "Agents on night shifts ask for a dark theme.")
        cloud.vote(dark, 12)
        _shift(dark, 8 * DAY)
        skills = _submit(globex, cloud.product, "Bulk-edit agent skills",
                         "Change one skill for 200 agents at once.", anonymous=True)
        cloud.vote(skills, 3)
        services.comment_add(actor=acme, idea=skills, workaround=True,
                             body="Work-around: Admin › Users › Import takes a CSV with a "
                             "skills column; export, edit, import.")
        _shift(skills, 3 * DAY)
        okta = _submit(initech, premise.product, "Single sign-on with Okta on premise",
                       "SAML sign-in for the premise agent desktop.")
        premise.vote(okta, 5)
        _shift(okta, 15 * DAY)
        forecast = _submit(acme, workforce.product, "Forecast accuracy per queue",
                           "A weekly report of forecast versus actual volume per queue.")
        workforce.vote(forecast, 7)
        _shift(forecast, 5 * DAY)

        # Delivery quarters as the dates now say (they were set when actually run).
        for idea in (wallboard, language):
            idea.refresh_from_db()
            Idea.objects.filter(pk=idea.pk).update(
                target_quarter=quarter_of(idea.delivered_at).key)
