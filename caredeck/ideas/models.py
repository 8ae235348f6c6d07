"""The Ideas Lab: ideas per product, votes from a per-user budget, comments and
work-arounds, the status workflow with its PM answer clock, merges and vote grants.

Vote bookkeeping is exact by construction: a vote is a row, live while `returned_at` is
null; a user's used votes are the count of their live rows; their budget is the default
plus their grants; an idea's `votes` is kept equal to its live rows in the transaction
that changes them (the user's row is locked first, so one user's votes serialize).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from caredeck.core.numbering import PublicNumberMixin


class IdeaStatus(models.TextChoices):
    COMMUNITY_REVIEW = "community_review", "Community review"
    UNDER_PM_REVIEW = "under_pm_review", "Under PM review"
    ACCEPTED = "accepted", "Accepted"
    IN_DEVELOPMENT = "in_development", "In development"
    DELIVERED = "delivered", "Delivered"
    DECLINED = "declined", "Declined"
    MERGED = "merged", "Merged"


# Statuses in which an idea takes votes (votes come back when it leaves them).
VOTABLE = (IdeaStatus.COMMUNITY_REVIEW, IdeaStatus.UNDER_PM_REVIEW, IdeaStatus.ACCEPTED,
           IdeaStatus.IN_DEVELOPMENT)
ROADMAP = (IdeaStatus.ACCEPTED, IdeaStatus.IN_DEVELOPMENT, IdeaStatus.DELIVERED)


class Idea(PublicNumberMixin):
    NUMBER_PREFIX = "IDEA"

    product = models.ForeignKey("accounts.Product", on_delete=models.PROTECT, related_name="ideas")
    title = models.CharField(max_length=200)
    description = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="ideas"
    )
    # The author's organization at the time (shown unless posted anonymously).
    organization = models.ForeignKey(
        "accounts.Organization", null=True, on_delete=models.SET_NULL, related_name="ideas"
    )
    anonymous = models.BooleanField(
        "hide my organization from other tenants", default=False
    )
    status = models.CharField(
        max_length=20, choices=IdeaStatus.choices, default=IdeaStatus.COMMUNITY_REVIEW
    )
    votes = models.PositiveIntegerField(default=0)  # live votes, kept in step
    # The count when its votes went back (delivered, declined, merged): the history.
    closing_votes = models.PositiveIntegerField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_ideas"
    )
    target_quarter = models.CharField(max_length=7, blank=True)  # "2027-Q2"
    release_notes_url = models.URLField(max_length=500, blank=True)
    decline_reason = models.TextField(blank=True)
    # The PM answer clock: due 30 business days after the threshold is reached.
    threshold_reached_at = models.DateTimeField(null=True, blank=True)
    pm_answer_due_at = models.DateTimeField(null=True, blank=True)
    pm_answered_at = models.DateTimeField(null=True, blank=True)
    pm_remind_at = models.DateTimeField(null=True, blank=True)
    pm_escalate_at = models.DateTimeField(null=True, blank=True)
    # In development: a public update is due periodically (60 days by default).
    dev_update_due_at = models.DateTimeField(null=True, blank=True)
    last_public_update_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-votes", "-created_at"]
        indexes = [
            models.Index(fields=["product", "status", "-votes"]),
            models.Index(fields=["pm_remind_at"]),
            models.Index(fields=["pm_escalate_at"]),
            models.Index(fields=["dev_update_due_at"]),
        ]


class Vote(models.Model):
    """One user's vote for one idea; live while `returned_at` is null. Returned votes
    stay as the idea's count history."""

    idea = models.ForeignKey(Idea, on_delete=models.CASCADE, related_name="vote_rows")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idea_votes"
    )
    created_at = models.DateTimeField(default=timezone.now)
    returned_at = models.DateTimeField(null=True, blank=True)
    returned_because = models.CharField(max_length=20, blank=True)  # unvoted, delivered, ...

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["idea", "user"], condition=Q(returned_at__isnull=True),
                name="one_live_vote_per_user_and_idea",
            )
        ]
        indexes = [models.Index(fields=["user", "returned_at"])]

    def __str__(self) -> str:
        return f"{self.user} → {self.idea.number}"


class GrantSource(models.TextChoices):
    ADMIN = "admin", "Granted by an administrator"
    ACTIVITY = "activity", "Earned by activity"


class VoteGrant(models.Model):
    """Extra votes for one user (an administrator's grant, or earned by activity)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="vote_grants"
    )
    amount = models.PositiveIntegerField()
    reason = models.CharField(max_length=300)
    source = models.CharField(max_length=10, choices=GrantSource.choices,
                              default=GrantSource.ADMIN)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"+{self.amount} to {self.user}"


class Comment(models.Model):
    idea = models.ForeignKey(Idea, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    organization = models.ForeignKey(
        "accounts.Organization", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    workaround = models.BooleanField(default=False)
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_reason = models.CharField(max_length=300, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.body[:60]


class CommentMark(models.Model):
    """A reader's mark on a comment: helpful, or reported to the moderators."""

    class Kind(models.TextChoices):
        HELPFUL = "helpful", "Helpful"
        REPORT = "report", "Reported"

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="marks")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["comment", "user", "kind"], name="one_mark_each")
        ]

    def __str__(self) -> str:
        return f"{self.kind} by {self.user}"


class IdeaUpdate(models.Model):
    """A public message on the idea: every status change, and PM updates."""

    idea = models.ForeignKey(Idea, on_delete=models.CASCADE, related_name="updates")
    from_status = models.CharField(max_length=20, choices=IdeaStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=IdeaStatus.choices)
    message = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.idea_id}: {self.to_status}"


class IdeaSubscription(models.Model):
    idea = models.ForeignKey(Idea, on_delete=models.CASCADE, related_name="subscriptions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idea_subscriptions"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["idea", "user"], name="one_subscription_per_idea")
        ]

    def __str__(self) -> str:
        return f"{self.user} follows {self.idea_id}"
