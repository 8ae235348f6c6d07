"""API shapes of the Ideas Lab. Input serializers check types and sizes (a bad field is a
400 on that field); the rules (budgets, statuses, what a status needs) are the services'.

Output is built per reader by the `*_data` functions: an anonymous author's organization
is hidden from other tenants, a hidden comment's text from everyone but the moderators
(its author also reads the moderator's reason). The `*Output` serializers only describe
those shapes for the schema.
"""

from __future__ import annotations

from django.core.validators import slug_re
from rest_framework import serializers

from caredeck.accounts.models import Product
from caredeck.core.api import SlugRelatedField
from caredeck.ideas.models import IdeaStatus
from caredeck.ideas.selectors import SORTS

# Transition targets: every status but merged, which is its own action (…/merge/).
TRANSITION_STATUSES = [value for value in IdeaStatus.values if value != IdeaStatus.MERGED]
BIGINT_MAX = 2**63 - 1


# --- Input ------------------------------------------------------------------------------


class IdeaFilterSerializer(serializers.Serializer):
    """The list's query parameters (a blank one, as an empty form field sends, is no
    filter)."""

    product = serializers.CharField(required=False, allow_blank=True, max_length=50,
                                    help_text="Product slug.")
    status = serializers.ChoiceField(
        choices=IdeaStatus.values, required=False, allow_blank=True,
        help_text="Merged ideas are listed only with status=merged.",
    )
    q = serializers.CharField(required=False, allow_blank=True, max_length=200,
                              help_text="Words to find in titles and descriptions.")
    sort = serializers.ChoiceField(choices=list(SORTS), required=False, allow_blank=True,
                                   help_text="votes (default), newest or trending (votes "
                                   "in the last 30 days).")

    def validate_product(self, value: str) -> Product | None:
        if not value:
            return None
        product = Product.objects.filter(slug=value).first() if slug_re.match(value) else None
        if product is None:
            raise serializers.ValidationError("No such product.")
        return product

    def validate_sort(self, value: str) -> str:
        return value or "votes"


class IdeaSubmitSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=20000)
    product = SlugRelatedField(
        slug_field="slug", queryset=Product.objects.all(),
        help_text="Slug of a product your organization uses.",
    )
    anonymous = serializers.BooleanField(
        required=False, default=False,
        help_text="Hide your organization's name from other tenants.",
    )


class IdeaCommentSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10000)
    workaround = serializers.BooleanField(
        required=False, default=False, help_text="The comment describes a work-around."
    )


class IdeaTransitionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=TRANSITION_STATUSES,
        error_messages={"invalid_choice": (
            "Choose one of " + ", ".join(TRANSITION_STATUSES)
            + " (a merge is POST …/merge/)."
        )},
    )
    message = serializers.CharField(max_length=5000, help_text="Public message on the idea.")
    target_quarter = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=20,
        help_text="For accepted: a quarter within 12 months, e.g. 2027-Q2.",
    )
    release_notes_url = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=500,
        help_text="For delivered: the release-note link.",
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=2000,
        help_text="For declined: why.",
    )


class IdeaMergeSerializer(serializers.Serializer):
    into = serializers.CharField(max_length=20, help_text="Number of the surviving idea.")
    message = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class IdeaUpdatePostSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=5000)


class IdeaCommentReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class VoteGrantFilterSerializer(serializers.Serializer):
    user = serializers.IntegerField(required=False, min_value=1, max_value=BIGINT_MAX)


class VoteGrantSerializer(serializers.Serializer):
    user = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX, help_text="User id.")
    amount = serializers.IntegerField(min_value=1, max_value=100)
    reason = serializers.CharField(max_length=300)


# --- Output -----------------------------------------------------------------------------


def _organization_name(organization, *, hidden: bool) -> str | None:
    if organization is None or hidden:
        return None
    return organization.name


def idea_summary(idea, *, authors, voted: bool) -> dict:
    """`authors`: the reader's `selectors.AuthorRule` (an anonymous idea's organization
    shows to its own tenants and to staff who serve every tenant)."""
    return {
        "number": idea.number,
        "title": idea.title,
        "product": idea.product.slug,
        "status": idea.status,
        "votes": idea.votes,
        "closing_votes": idea.closing_votes,
        "voted": voted,
        "author_organization": _organization_name(idea.organization,
                                                  hidden=not authors.shows(idea)),
        "target_quarter": idea.target_quarter,
        "created_at": idea.created_at,
    }


def update_data(update) -> dict:
    return {
        "id": update.pk,
        "from_status": update.from_status or None,
        "to_status": update.to_status,
        "message": update.message,
        "author": update.author.name if update.author else None,
        "created_at": update.created_at,
    }


def comment_data(comment, *, idea, viewer, authors, moderator: bool) -> dict:
    # The author of an anonymous idea stays anonymous in its comments too.
    hidden_org = (comment.author_id is not None and comment.author_id == idea.author_id
                  and not authors.shows(idea))
    own = comment.author_id == viewer.pk
    hidden = comment.hidden_at is not None
    data = {
        "id": comment.pk,
        "body": comment.body if moderator or not hidden else None,
        "workaround": comment.workaround,
        "author": None if hidden_org or comment.author is None else comment.author.name,
        "author_organization": _organization_name(comment.organization, hidden=hidden_org),
        "mine": own,
        "helpful": comment.helpful_count,
        "hidden": hidden,
        "hidden_reason": comment.hidden_reason if hidden and (moderator or own) else None,
        "created_at": comment.created_at,
    }
    if moderator:
        data["reports"] = comment.report_count
    return data


def idea_data(idea, *, viewer, authors, moderator: bool, voted: bool, updates, comments,
              my_votes: dict) -> dict:
    data = idea_summary(idea, authors=authors, voted=voted)
    data.update({
        "description": idea.description,
        "anonymous": idea.anonymous,
        "vote_threshold": idea.product.vote_threshold,
        "release_notes_url": idea.release_notes_url,
        "decline_reason": idea.decline_reason,
        "merged_into": idea.merged_into.number if idea.merged_into_id else None,
        "threshold_reached_at": idea.threshold_reached_at,
        "pm_answer_due_at": idea.pm_answer_due_at,
        "pm_answered_at": idea.pm_answered_at,
        "delivered_at": idea.delivered_at,
        "updated_at": idea.updated_at,
        "updates": [update_data(u) for u in updates],
        "comments": [comment_data(c, idea=idea, viewer=viewer, authors=authors,
                                  moderator=moderator) for c in comments],
        "my_votes": my_votes,
    })
    return data


def vote_data(idea, *, voted: bool, my_votes: dict) -> dict:
    return {"idea": idea.number, "status": idea.status, "votes": idea.votes, "voted": voted,
            "my_votes": my_votes}


def grant_data(grant) -> dict:
    return {
        "id": grant.pk,
        "user": grant.user_id,
        "amount": grant.amount,
        "reason": grant.reason,
        "source": grant.source,
        "granted_by": grant.granted_by_id,
        "created_at": grant.created_at,
    }


class MyVotesOutput(serializers.Serializer):
    budget = serializers.IntegerField(help_text="10 by default, plus grants.")
    used = serializers.IntegerField(help_text="Live votes held.")
    available = serializers.IntegerField()


class IdeaSummaryOutput(serializers.Serializer):
    number = serializers.CharField()
    title = serializers.CharField()
    product = serializers.CharField(help_text="Product slug.")
    status = serializers.CharField(help_text="One of: " + ", ".join(IdeaStatus.values) + ".")
    votes = serializers.IntegerField(help_text="Live votes.")
    closing_votes = serializers.IntegerField(
        allow_null=True, help_text="The count when its votes went back (delivered, "
        "declined, merged).")
    voted = serializers.BooleanField(help_text="The caller holds a vote for it.")
    author_organization = serializers.CharField(
        allow_null=True, help_text="Null when posted anonymously and you are of another "
        "tenant.")
    target_quarter = serializers.CharField()
    created_at = serializers.DateTimeField()


class IdeaUpdateOutput(serializers.Serializer):
    id = serializers.IntegerField()
    from_status = serializers.CharField(allow_null=True)
    to_status = serializers.CharField()
    message = serializers.CharField()
    author = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class IdeaCommentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    body = serializers.CharField(allow_null=True, help_text="Null when hidden (but for "
                                 "moderators).")
    workaround = serializers.BooleanField()
    author = serializers.CharField(allow_null=True)
    author_organization = serializers.CharField(allow_null=True)
    mine = serializers.BooleanField()
    helpful = serializers.IntegerField(help_text="Readers who marked it helpful.")
    hidden = serializers.BooleanField()
    hidden_reason = serializers.CharField(
        allow_null=True, help_text="For moderators and the comment's author.")
    reports = serializers.IntegerField(required=False, help_text="For moderators.")
    created_at = serializers.DateTimeField()


class IdeaOutput(IdeaSummaryOutput):
    description = serializers.CharField()
    anonymous = serializers.BooleanField()
    vote_threshold = serializers.IntegerField()
    release_notes_url = serializers.CharField()
    decline_reason = serializers.CharField()
    merged_into = serializers.CharField(allow_null=True)
    threshold_reached_at = serializers.DateTimeField(allow_null=True)
    pm_answer_due_at = serializers.DateTimeField(allow_null=True)
    pm_answered_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()
    updates = IdeaUpdateOutput(many=True)
    comments = IdeaCommentOutput(many=True)
    my_votes = MyVotesOutput()


class IdeaVoteOutput(serializers.Serializer):
    idea = serializers.CharField()
    status = serializers.CharField()
    votes = serializers.IntegerField()
    voted = serializers.BooleanField()
    my_votes = MyVotesOutput()


class IdeaCommentMarkOutput(serializers.Serializer):
    comment = serializers.IntegerField()
    kind = serializers.CharField(help_text="helpful or report")
    created_at = serializers.DateTimeField()


class VoteGrantOutput(serializers.Serializer):
    id = serializers.IntegerField()
    user = serializers.IntegerField()
    amount = serializers.IntegerField()
    reason = serializers.CharField()
    source = serializers.CharField(help_text="admin or activity")
    granted_by = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    user_votes = MyVotesOutput(required=False, help_text="The user's votes after the grant "
                               "(on POST).")
