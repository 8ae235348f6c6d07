"""Every change in the Ideas Lab: submit, vote and take a vote back, grant votes,
comment, mark and moderate comments, move an idea through its statuses, merge.

Vote rules (seed digest §2): a budget per user (10 + grants); one live vote per idea per
user; a vote comes back when it is taken back, or when the idea is delivered, declined or
merged away. Every vote change locks the voter's user row first, so one user's votes
serialize (50 simultaneous votes with 3 left give exactly 3) while different users vote
in parallel; the idea's count is changed with an F() expression in the same transaction.
"""

from __future__ import annotations

import datetime
import re

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from caredeck.accounts.access import has_capability, is_provider_staff
from caredeck.accounts.models import Product, User
from caredeck.accounts.roles import Capability, Role
from caredeck.accounts.selectors import provider_organization
from caredeck.core.audit import audit_record
from caredeck.core.calendar import contract_business_days
from caredeck.core.exceptions import Conflict
from caredeck.core.validation import clean_text
from caredeck.ideas.models import (
    VOTABLE,
    Comment,
    CommentMark,
    GrantSource,
    Idea,
    IdeaStatus,
    IdeaSubscription,
    IdeaUpdate,
    Vote,
    VoteGrant,
)
from caredeck.ideas.selectors import labs_visible, vote_budget
from caredeck.notify.audience import staff_with_roles
from caredeck.notify.services import notify_users

S = IdeaStatus

# Who may move an idea where (product managers; Community review → Under PM review also
# happens by itself at the product's vote threshold). Merged is its own action.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.COMMUNITY_REVIEW: frozenset({S.UNDER_PM_REVIEW, S.ACCEPTED, S.DECLINED}),
    S.UNDER_PM_REVIEW: frozenset({S.ACCEPTED, S.DECLINED}),
    S.ACCEPTED: frozenset({S.IN_DEVELOPMENT, S.DELIVERED, S.DECLINED}),
    S.IN_DEVELOPMENT: frozenset({S.ACCEPTED, S.DELIVERED, S.DECLINED}),
    S.DELIVERED: frozenset(),
    S.DECLINED: frozenset(),
    S.MERGED: frozenset(),
}
# Statuses in which the idea's votes go back to the voters.
RETURNS_VOTES = (S.DELIVERED, S.DECLINED, S.MERGED)
QUARTER_RE = re.compile(r"^(\d{4})-Q([1-4])$")
# The PM is reminded this many business days before the public answer is due.
PM_REMIND_BUSINESS_DAYS = 5


def _require(actor, capability: Capability) -> None:
    if not has_capability(actor, capability):
        raise PermissionDenied(f"Your roles do not allow this ({capability.label.lower()}).")


def _require_customer_voice(actor) -> None:
    """Ideas and votes are the customers' voice: provider staff read, answer and
    moderate, but neither submit nor vote."""
    if is_provider_staff(actor):
        raise PermissionDenied("Ideas and votes come from customers and partners; provider "
                               "staff answer them.")


def _require_participant(actor) -> None:
    """Customers and partners take part; of provider staff, product managers do."""
    if is_provider_staff(actor) and not has_capability(actor, Capability.MANAGE_IDEAS):
        raise PermissionDenied("Product managers answer in the lab; other provider staff "
                               "read it.")


def idea_url(idea: Idea) -> str:
    return settings.BASE_URL + reverse("idea-detail", args=[idea.number])


def _lock_voter(user) -> User:
    # The voter's row is the lock that serializes one user's votes. NO KEY UPDATE, not
    # UPDATE: rows that merely reference the user (a notification written by another
    # user's vote) take KEY SHARE when their foreign key is checked at COMMIT, and must
    # not wait for this lock (that wait closed a deadlock cycle under load).
    return User.objects.select_for_update(no_key=True).get(pk=user.pk)


def _lock_idea(idea: Idea) -> Idea:
    return (Idea.objects.select_for_update(of=("self",), no_key=True)
            .select_related("product").get(pk=idea.pk))


def _subscribe(idea: Idea, user) -> None:
    IdeaSubscription.objects.get_or_create(idea=idea, user=user)


# --- Submitting ------------------------------------------------------------------------


def idea_submit(
    *, actor, product: Product, title: str, description: str, anonymous: bool = False
) -> Idea:
    """A new idea in community review. It spends no vote; the author follows it."""
    _require_customer_voice(actor)
    errors: dict[str, list[str]] = {}
    try:
        title = clean_text("title", title, limit=200)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        description = clean_text("description", description)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if product is None or not labs_visible(actor).filter(pk=product.pk).exists():
        errors["product"] = ["Choose one of the products your organization uses."]
    elif not product.is_active:
        errors["product"] = ["This product's lab is closed."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        idea = Idea.objects.create(
            product=product, title=title, description=description, author=actor,
            organization=actor.organization, anonymous=bool(anonymous),
        )
        _subscribe(idea, actor)
        audit_record(actor=actor, obj=idea, action="submitted",
                     changes={"title": [None, title], "product": [None, product.slug]})
    return idea


# --- Votes -----------------------------------------------------------------------------


def vote_cast(*, actor, idea: Idea) -> Idea:
    """Cast the actor's vote. 409 with the reason when the idea takes no votes, the actor
    already voted for it, or has no votes left."""
    _require_customer_voice(actor)
    with transaction.atomic():
        _lock_voter(actor)
        idea = _lock_idea(idea)
        if idea.status not in VOTABLE:
            raise Conflict(f"{idea.number} is {idea.get_status_display().lower()}: it takes "
                           "no more votes.")
        if Vote.objects.filter(idea=idea, user=actor, returned_at__isnull=True).exists():
            raise Conflict(f"You already voted for {idea.number}.")
        budget = vote_budget(actor)
        if budget["available"] <= 0:
            raise Conflict(
                f"You have no votes left: all {budget['budget']} are on other ideas. Take "
                "one back, or wait for an idea you voted for to be delivered."
            )
        try:
            with transaction.atomic():
                Vote.objects.create(idea=idea, user=actor)
        except IntegrityError:
            raise Conflict(f"You already voted for {idea.number}.") from None
        Idea.objects.filter(pk=idea.pk).update(votes=F("votes") + 1, updated_at=timezone.now())
        idea.refresh_from_db()
        _subscribe(idea, actor)
        audit_record(actor=actor, obj=idea, action="voted",
                     changes={"votes": [idea.votes - 1, idea.votes]})
        if idea.status == S.COMMUNITY_REVIEW and idea.votes >= idea.product.vote_threshold:
            _threshold_reached(idea)
    return idea


def vote_withdraw(*, actor, idea: Idea) -> Idea:
    """Take the actor's vote back (it returns to the budget). 409 without a live vote."""
    with transaction.atomic():
        _lock_voter(actor)
        idea = _lock_idea(idea)
        returned = Vote.objects.filter(
            idea=idea, user=actor, returned_at__isnull=True
        ).update(returned_at=timezone.now(), returned_because="withdrawn")
        if not returned:
            raise Conflict(f"You have no vote on {idea.number} to take back.")
        Idea.objects.filter(pk=idea.pk).update(votes=F("votes") - 1, updated_at=timezone.now())
        idea.refresh_from_db()
        audit_record(actor=actor, obj=idea, action="vote_withdrawn",
                     changes={"votes": [idea.votes + 1, idea.votes]})
    return idea


def _return_votes(idea: Idea, because: str) -> int:
    """Give every live vote of `idea` back to its voter; the count stays as history."""
    now = timezone.now()
    count = Vote.objects.filter(idea=idea, returned_at__isnull=True).update(
        returned_at=now, returned_because=because
    )
    Idea.objects.filter(pk=idea.pk).update(votes=0, closing_votes=count)
    idea.votes, idea.closing_votes = 0, count
    return count


def vote_grant(*, actor, user, amount, reason: str, source: str = GrantSource.ADMIN
               ) -> VoteGrant:
    """Extra votes for a user (provider administrators), audited on the user."""
    if source == GrantSource.ADMIN:
        _require(actor, Capability.GRANT_VOTES)
    errors: dict[str, list[str]] = {}
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= 100:
        errors["amount"] = ["Grant 1 to 100 votes."]
    try:
        reason = clean_text("reason", reason, limit=300)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if user is None or not user.is_active:
        errors["user"] = ["Choose an active user."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        grant = VoteGrant.objects.create(
            user=user, amount=amount, reason=reason, source=source,
            granted_by=actor if getattr(actor, "pk", None) else None,
        )
        audit_record(actor=actor, obj=user, action="votes_granted",
                     changes={"votes_granted": [None, amount], "reason": [None, reason]})
    return grant


# --- The PM answer clock ---------------------------------------------------------------


def _pm_due(start: datetime.datetime) -> datetime.datetime:
    provider = provider_organization()
    contract = getattr(provider, "contract", None) if provider else None
    return contract_business_days(start, settings.IDEAS_PM_ANSWER_BUSINESS_DAYS, contract)


def _pm_remind(start: datetime.datetime) -> datetime.datetime:
    provider = provider_organization()
    contract = getattr(provider, "contract", None) if provider else None
    days = max(1, settings.IDEAS_PM_ANSWER_BUSINESS_DAYS - PM_REMIND_BUSINESS_DAYS)
    return contract_business_days(start, days, contract)


def _threshold_reached(idea: Idea) -> None:
    """Community review → Under PM review, by itself: the PM's public answer is due in
    30 business days of the provider's calendar."""
    now = timezone.now()
    idea.status = S.UNDER_PM_REVIEW
    idea.threshold_reached_at = now
    idea.pm_answer_due_at = _pm_due(now)
    idea.pm_remind_at = _pm_remind(now)
    idea.pm_escalate_at = idea.pm_answer_due_at
    idea.updated_at = now
    idea.save(update_fields=["status", "threshold_reached_at", "pm_answer_due_at",
                             "pm_remind_at", "pm_escalate_at", "updated_at"])
    message = (f"{idea.votes} votes reached the {idea.product.name} threshold of "
               f"{idea.product.vote_threshold}: a product manager answers by "
               f"{idea.pm_answer_due_at:%Y-%m-%d}.")
    update = IdeaUpdate.objects.create(
        idea=idea, from_status=S.COMMUNITY_REVIEW, to_status=S.UNDER_PM_REVIEW, message=message
    )
    audit_record(actor=None, obj=idea, action="threshold_reached",
                 changes={"status": [S.COMMUNITY_REVIEW, S.UNDER_PM_REVIEW],
                          "pm_answer_due_at": [None, idea.pm_answer_due_at.isoformat()]})
    _notify_followers(idea, update)
    pms = ([idea.product.lead] if idea.product.lead_id else []) or staff_with_roles(
        Role.PRODUCT_MANAGER)
    notify_users(
        event="idea.pm_clock", users=pms, dedupe_base=f"{idea.number}:threshold",
        template="idea_pm_clock",
        context={"idea": idea, "headline": f"{idea.number} needs a PM answer by "
                 f"{idea.pm_answer_due_at:%Y-%m-%d}"},
        url=idea_url(idea),
    )


# --- Status workflow -------------------------------------------------------------------


def _clean_quarter(value, now) -> str:
    match = QUARTER_RE.match(str(value or "").strip())
    if not match:
        raise ValidationError({"target_quarter": ["Give the target quarter, e.g. 2027-Q2."]})
    year, quarter = int(match.group(1)), int(match.group(2))
    current = (now.year, (now.month - 1) // 3 + 1)
    months_ahead = (year - current[0]) * 12 + (quarter - current[1]) * 3
    if months_ahead < 0:
        raise ValidationError({"target_quarter": ["That quarter is over."]})
    if months_ahead > 12:
        raise ValidationError({"target_quarter": ["Choose a quarter within 12 months."]})
    return f"{year}-Q{quarter}"


def _clean_url(value) -> str:
    value = str(value or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise ValidationError(
            {"release_notes_url": ["Give the release-note link (https://…)."]}) from None
    if len(value) > 500:
        raise ValidationError({"release_notes_url": ["At most 500 characters."]})
    return value


def idea_transition(
    *,
    actor,
    idea: Idea,
    status: str,
    message: str,
    target_quarter: str | None = None,
    release_notes_url: str | None = None,
    reason: str | None = None,
) -> Idea:
    """Move an idea (product managers). Each status needs what it says: a target quarter
    within 12 months for Accepted, the release-note link for Delivered, a reason for
    Declined. Each change is a public message to voters and followers; Delivered and
    Declined give the votes back."""
    _require(actor, Capability.MANAGE_IDEAS)
    if status not in S.values or status == S.MERGED:
        raise ValidationError({"status": ["Choose accepted, in_development, delivered, "
                                          "declined or under_pm_review (merge is its own "
                                          "action)."]})
    message = clean_text("message", message, limit=5000)
    now = timezone.now()
    with transaction.atomic():
        idea = _lock_idea(idea)
        if status not in TRANSITIONS[idea.status]:
            raise Conflict(f"{idea.number} is {idea.get_status_display().lower()}; it cannot "
                           f"become {S(status).label.lower()}.")
        before = idea.status
        fields = ["status", "updated_at", "last_public_update_at", "pm_answered_at",
                  "pm_remind_at", "pm_escalate_at", "dev_update_due_at"]
        if status == S.ACCEPTED:
            idea.target_quarter = _clean_quarter(target_quarter, now)
            fields.append("target_quarter")
        elif status == S.DELIVERED:
            idea.release_notes_url = _clean_url(release_notes_url)
            idea.delivered_at = now
            fields += ["release_notes_url", "delivered_at"]
        elif status == S.DECLINED:
            idea.decline_reason = clean_text("reason", reason, limit=2000)
            fields.append("decline_reason")
        idea.status = status
        idea.updated_at = idea.last_public_update_at = now
        # Any PM answer stops the threshold clock; in development runs a cadence.
        if idea.pm_answer_due_at and not idea.pm_answered_at:
            idea.pm_answered_at = now
        idea.pm_remind_at = idea.pm_escalate_at = None
        idea.dev_update_due_at = (
            now + datetime.timedelta(days=settings.IDEAS_DEV_UPDATE_DAYS)
            if status == S.IN_DEVELOPMENT else None
        )
        if status == S.UNDER_PM_REVIEW and not idea.pm_answer_due_at:
            # Moved by hand before the threshold: the PM clock starts now all the same.
            idea.threshold_reached_at = now
            idea.pm_answer_due_at = _pm_due(now)
            idea.pm_remind_at = _pm_remind(now)
            idea.pm_escalate_at = idea.pm_answer_due_at
            idea.pm_answered_at = None
            fields += ["threshold_reached_at", "pm_answer_due_at"]
        idea.save(update_fields=fields)
        if status in RETURNS_VOTES:
            _return_votes(idea, because=status)
        update = IdeaUpdate.objects.create(
            idea=idea, from_status=before, to_status=status, message=message, author=actor,
        )
        audit_record(actor=actor, obj=idea, action="status_changed",
                     changes={"status": [before, status], "message": [None, message[:300]]})
        _notify_followers(idea, update)
    return idea


def idea_update_post(*, actor, idea: Idea, message: str) -> IdeaUpdate:
    """A product manager's public update without a status change: it answers the PM
    clock and restarts the in-development cadence."""
    _require(actor, Capability.MANAGE_IDEAS)
    message = clean_text("message", message, limit=5000)
    now = timezone.now()
    with transaction.atomic():
        idea = _lock_idea(idea)
        if idea.status in RETURNS_VOTES:
            raise Conflict(f"{idea.number} is {idea.get_status_display().lower()}.")
        if idea.pm_answer_due_at and not idea.pm_answered_at:
            idea.pm_answered_at = now
        idea.pm_remind_at = idea.pm_escalate_at = None
        idea.last_public_update_at = idea.updated_at = now
        if idea.status == S.IN_DEVELOPMENT:
            idea.dev_update_due_at = now + datetime.timedelta(days=settings.IDEAS_DEV_UPDATE_DAYS)
        idea.save(update_fields=["pm_answered_at", "pm_remind_at", "pm_escalate_at",
                                 "last_public_update_at", "updated_at", "dev_update_due_at"])
        update = IdeaUpdate.objects.create(
            idea=idea, from_status=idea.status, to_status=idea.status, message=message,
            author=actor,
        )
        audit_record(actor=actor, obj=idea, action="pm_update",
                     changes={"message": [None, message[:300]]})
        _notify_followers(idea, update)
    return update


def _notify_followers(idea: Idea, update: IdeaUpdate) -> None:
    """Voters (live and those whose votes just came back) and followers hear of it."""
    voters = Vote.objects.filter(idea=idea).filter(
        returned_because__in=["", "delivered", "declined", "merged"]
    ).values("user_id")
    users = User.objects.filter(is_active=True).filter(
        pk__in=voters
    ) | User.objects.filter(is_active=True, idea_subscriptions__idea=idea)
    notify_users(
        event="idea.status", users=list(users.distinct()),
        dedupe_base=f"{idea.number}:update:{update.pk}", template="idea_status",
        context={"idea": idea, "update": update}, url=idea_url(idea),
    )


# --- Merging ---------------------------------------------------------------------------


def idea_merge(*, actor, idea: Idea, into: Idea, message: str = "") -> Idea:
    """Merge a duplicate into another idea: votes move without double counting (a user
    who voted for both keeps one there and gets the other back), comments and followers
    follow, and the merged idea points to its survivor."""
    _require(actor, Capability.MANAGE_IDEAS)
    if into is None or into.pk == idea.pk:
        raise ValidationError({"into": ["Choose another idea to merge into."]})
    with transaction.atomic():
        # Lock both in a fixed order so two crossing merges cannot deadlock.
        first, second = sorted([idea.pk, into.pk])
        locked = {
            i.pk: i for i in Idea.objects.select_for_update(of=("self",))
            .select_related("product").filter(pk__in=[first, second]).order_by("pk")
        }
        idea, into = locked[idea.pk], locked[into.pk]
        if idea.status in RETURNS_VOTES:
            raise Conflict(f"{idea.number} is {idea.get_status_display().lower()}.")
        if into.status not in VOTABLE:
            raise Conflict(f"{into.number} is {into.get_status_display().lower()}: merge into "
                           "an idea that is still open.")
        both = set(Vote.objects.filter(idea=into, returned_at__isnull=True)
                   .values_list("user_id", flat=True))
        now = timezone.now()
        doubled = Vote.objects.filter(idea=idea, returned_at__isnull=True, user_id__in=both)
        returned = doubled.update(returned_at=now, returned_because="merged")
        moved = Vote.objects.filter(idea=idea, returned_at__isnull=True).update(idea=into)
        Comment.objects.filter(idea=idea).update(idea=into)
        followers = set(IdeaSubscription.objects.filter(idea=into).values_list("user_id",
                                                                               flat=True))
        IdeaSubscription.objects.filter(idea=idea).exclude(user_id__in=followers).update(
            idea=into)
        before_votes, before_status = idea.votes, idea.status
        Idea.objects.filter(pk=idea.pk).update(
            status=S.MERGED, merged_into=into, votes=0, closing_votes=before_votes,
            updated_at=now, pm_remind_at=None, pm_escalate_at=None, dev_update_due_at=None,
        )
        Idea.objects.filter(pk=into.pk).update(votes=F("votes") + moved, updated_at=now)
        idea.refresh_from_db()
        into.refresh_from_db()
        text = message.strip() or f"Merged into {into.number}: {into.title}."
        update = IdeaUpdate.objects.create(idea=idea, from_status=before_status,
                                           to_status=S.MERGED, message=text, author=actor)
        audit_record(actor=actor, obj=idea, action="merged",
                     changes={"merged_into": [None, into.number], "votes_moved": [None, moved],
                              "votes_returned": [None, returned]})
        audit_record(actor=actor, obj=into, action="merge_received",
                     changes={"from": [None, idea.number], "votes": [into.votes - moved,
                                                                     into.votes]})
        _notify_followers(idea, update)
        if into.status == S.COMMUNITY_REVIEW and into.votes >= into.product.vote_threshold:
            _threshold_reached(into)
    return idea


# --- Comments --------------------------------------------------------------------------


def comment_add(*, actor, idea: Idea, body: str, workaround: bool = False) -> Comment:
    _require_participant(actor)
    body = clean_text("body", body, limit=10000)
    with transaction.atomic():
        if idea.status == S.MERGED:
            raise Conflict(f"{idea.number} was merged into {idea.merged_into.number}; "
                           "comment there.")
        comment = Comment.objects.create(
            idea=idea, author=actor, organization=actor.organization, body=body,
            workaround=bool(workaround),
        )
        _subscribe(idea, actor)
        audit_record(actor=actor, obj=idea, action="commented",
                     changes={"comment": [None, body[:300]],
                              "workaround": [None, bool(workaround)]})
        followers = User.objects.filter(
            is_active=True, idea_subscriptions__idea=idea
        ).exclude(pk=actor.pk)
        notify_users(
            event="idea.comment", users=list(followers),
            dedupe_base=f"{idea.number}:comment:{comment.pk}", template="idea_comment",
            context={"idea": idea, "comment": comment}, url=idea_url(idea),
        )
    return comment


def comment_mark(*, actor, comment: Comment, kind: str, reason: str = "") -> CommentMark:
    """Mark a comment helpful (its author earns a vote for every N such marks) or report
    it to the moderators. One of each per reader; not on one's own comment."""
    _require_participant(actor)
    if kind not in CommentMark.Kind.values:
        raise ValidationError({"kind": ["Mark a comment helpful or report it."]})
    if comment.author_id == actor.pk:
        raise Conflict("That is your own comment.")
    if comment.hidden_at and kind == CommentMark.Kind.HELPFUL:
        # A hidden comment earns its author nothing.
        raise Conflict("A moderator hid this comment.")
    reason = clean_text("reason", reason, required=kind == CommentMark.Kind.REPORT, limit=300)
    with transaction.atomic():
        mark, created = CommentMark.objects.get_or_create(
            comment=comment, user=actor, kind=kind, defaults={"reason": reason}
        )
        if not created:
            raise Conflict("You already marked this comment." if kind == "helpful"
                           else "You already reported this comment.")
        audit_record(actor=actor, obj=comment.idea, action=f"comment_{kind}",
                     changes={"comment": [None, comment.pk]})
        if kind == CommentMark.Kind.HELPFUL:
            _activity_grant(comment.author)
    return mark


def _activity_grant(author) -> None:
    """+1 vote for every N of the author's comments marked helpful (N configurable)."""
    per_vote = settings.IDEAS_HELPFUL_COMMENTS_PER_VOTE
    if not per_vote or author is None:
        return
    _lock_voter(author)
    helpful = Comment.objects.filter(author=author, marks__kind="helpful").distinct().count()
    earned = helpful // per_vote
    given = VoteGrant.objects.filter(user=author, source=GrantSource.ACTIVITY).count()
    for _ in range(earned - given):
        vote_grant(actor=None, user=author, amount=1, source=GrantSource.ACTIVITY,
                   reason=f"{per_vote} comments marked helpful")


def comment_hide(*, actor, comment: Comment, reason: str) -> Comment:
    """A moderator hides a comment with a reason; its author is told."""
    _require(actor, Capability.MANAGE_IDEAS)
    reason = clean_text("reason", reason, limit=300)
    with transaction.atomic():
        if comment.hidden_at:
            raise Conflict("This comment is already hidden.")
        comment.hidden_at, comment.hidden_reason, comment.hidden_by = (
            timezone.now(), reason, actor)
        comment.save(update_fields=["hidden_at", "hidden_reason", "hidden_by"])
        audit_record(actor=actor, obj=comment.idea, action="comment_hidden",
                     changes={"comment": [None, comment.pk], "reason": [None, reason]})
        if comment.author and comment.author.is_active:
            notify_users(
                event="idea.moderation", users=[comment.author],
                dedupe_base=f"{comment.idea.number}:hidden:{comment.pk}",
                template="idea_comment_hidden",
                context={"idea": comment.idea, "comment": comment, "reason": reason},
                url=idea_url(comment.idea),
            )
    return comment


def idea_follow(*, actor, idea: Idea, follow: bool = True) -> bool:
    if follow:
        _subscribe(idea, actor)
    else:
        IdeaSubscription.objects.filter(idea=idea, user=actor).delete()
    return follow
