"""API of the Ideas Lab (../shared/API.md, "Ideas lab").

Thin: parse with a serializer, call one service or selector, answer. Ideas are shared by
the tenants that use their product; an idea of a product none of the caller's tenants
uses answers 404 (staff who serve every tenant read every lab). Customers and partners
submit, vote, comment and mark; provider staff neither submit nor vote, and of them only
product managers comment (the services' rules, 403). Moving, merging, answering and
moderating need MANAGE_IDEAS (product managers), granting votes GRANT_VOTES (platform
administrators): 403 otherwise. A vote, un-vote, transition or mark that the state
forbids answers 409 with the reason.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from caredeck.accounts.access import has_capability
from caredeck.accounts.models import User
from caredeck.accounts.roles import Capability
from caredeck.core.numbering import looks_like_number
from caredeck.core.selectors import one_or_404
from caredeck.ideas import selectors, services
from caredeck.ideas import serializers as s
from caredeck.ideas.models import Comment, CommentMark, VoteGrant


def _require(user, capability: Capability, what: str) -> None:
    if not has_capability(user, capability):
        raise PermissionDenied(f"Your roles do not allow this ({what}).")


def _comments(idea):
    return (
        Comment.objects.filter(idea=idea).select_related("author", "organization")
        .annotate(helpful_count=Count("marks", filter=Q(marks__kind=CommentMark.Kind.HELPFUL)),
                  report_count=Count("marks", filter=Q(marks__kind=CommentMark.Kind.REPORT)))
        .order_by("created_at", "pk")
    )


def _detail(request, number: str, code: int = status.HTTP_200_OK) -> Response:
    user = request.user
    idea = selectors.idea_get(user, number)
    data = s.idea_data(
        idea, viewer=user, authors=selectors.AuthorRule(user),
        moderator=has_capability(user, Capability.MANAGE_IDEAS),
        voted=bool(selectors.voted_ideas(user, [idea])),
        updates=idea.updates.select_related("author"), comments=_comments(idea),
        my_votes=selectors.vote_budget(user),
    )
    return Response(data, status=code)


def _idea_named(user, number, field: str):
    """The idea a body field names, or a 400 on that field (not a 404: the URL exists)."""
    if looks_like_number(number, "IDEA"):
        found = selectors.ideas_visible(user).filter(number=number).first()
        if found is not None:
            return found
    raise ValidationError({field: ["No such idea."]})


def _comment_of(idea, comment_id: int) -> Comment:
    return one_or_404(Comment.objects.filter(idea=idea).select_related("author", "idea"),
                      "comment", pk=comment_id)


class IdeaList(GenericAPIView):
    """GET: the lab (every product the caller's tenants use; merged ideas only with
    `status=merged`). POST: submit an idea (spends no vote; the author follows it)."""

    serializer_class = s.IdeaSubmitSerializer

    @extend_schema(operation_id="ideas_list", parameters=[s.IdeaFilterSerializer],
                   responses=s.IdeaSummaryOutput(many=True))
    def get(self, request):
        query = s.IdeaFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        ideas = selectors.ideas_list(request.user, **query.validated_data)
        page = self.paginate_queryset(ideas)
        voted = selectors.voted_ideas(request.user, page)
        authors = selectors.AuthorRule(request.user)
        return self.get_paginated_response([
            s.idea_summary(idea, authors=authors, voted=idea.pk in voted) for idea in page
        ])

    @extend_schema(request=s.IdeaSubmitSerializer, responses={201: s.IdeaOutput})
    def post(self, request):
        serializer = s.IdeaSubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        idea = services.idea_submit(actor=request.user, **serializer.validated_data)
        return _detail(request, idea.number, status.HTTP_201_CREATED)


class IdeaDetail(APIView):
    @extend_schema(operation_id="ideas_retrieve", responses=s.IdeaOutput)
    def get(self, request, number):
        return _detail(request, number)


class IdeaVote(APIView):
    """POST casts the caller's vote, DELETE takes it back; both answer the idea's count
    and the caller's budget ("7 of 10 votes left")."""

    def _answer(self, request, idea, *, voted: bool, code: int) -> Response:
        return Response(s.vote_data(idea, voted=voted,
                                    my_votes=selectors.vote_budget(request.user)), status=code)

    @extend_schema(request=None, responses={201: s.IdeaVoteOutput})
    def post(self, request, number):
        idea = selectors.idea_get(request.user, number)
        idea = services.vote_cast(actor=request.user, idea=idea)
        return self._answer(request, idea, voted=True, code=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.IdeaVoteOutput})
    def delete(self, request, number):
        idea = selectors.idea_get(request.user, number)
        idea = services.vote_withdraw(actor=request.user, idea=idea)
        return self._answer(request, idea, voted=False, code=status.HTTP_200_OK)


class IdeaComments(APIView):
    @extend_schema(request=s.IdeaCommentSerializer, responses={201: s.IdeaCommentOutput})
    def post(self, request, number):
        idea = selectors.idea_get(request.user, number)
        serializer = s.IdeaCommentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        comment = services.comment_add(actor=request.user, idea=idea,
                                       **serializer.validated_data)
        comment = _comments(idea).get(pk=comment.pk)
        return Response(
            s.comment_data(comment, idea=idea, viewer=request.user,
                           authors=selectors.AuthorRule(request.user),
                           moderator=has_capability(request.user, Capability.MANAGE_IDEAS)),
            status=status.HTTP_201_CREATED,
        )


class IdeaTransition(APIView):
    @extend_schema(request=s.IdeaTransitionSerializer, responses={200: s.IdeaOutput})
    def post(self, request, number):
        idea = selectors.idea_get(request.user, number)
        _require(request.user, Capability.MANAGE_IDEAS, "move ideas")
        serializer = s.IdeaTransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.idea_transition(actor=request.user, idea=idea, **serializer.validated_data)
        return _detail(request, idea.number)


class IdeaMerge(APIView):
    @extend_schema(request=s.IdeaMergeSerializer, responses={200: s.IdeaOutput})
    def post(self, request, number):
        idea = selectors.idea_get(request.user, number)
        _require(request.user, Capability.MANAGE_IDEAS, "merge ideas")
        serializer = s.IdeaMergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        into = _idea_named(request.user, serializer.validated_data["into"], "into")
        services.idea_merge(actor=request.user, idea=idea, into=into,
                            message=serializer.validated_data.get("message", ""))
        return _detail(request, idea.number)


class IdeaUpdates(APIView):
    """A product manager's public update without a status change (answers the PM clock,
    restarts the in-development cadence)."""

    @extend_schema(request=s.IdeaUpdatePostSerializer, responses={201: s.IdeaUpdateOutput})
    def post(self, request, number):
        idea = selectors.idea_get(request.user, number)
        _require(request.user, Capability.MANAGE_IDEAS, "post PM updates")
        serializer = s.IdeaUpdatePostSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        update = services.idea_update_post(actor=request.user, idea=idea,
                                           message=serializer.validated_data["message"])
        return Response(s.update_data(update), status=status.HTTP_201_CREATED)


def _marked(request, comment, kind: str, reason: str = "") -> Response:
    mark = services.comment_mark(actor=request.user, comment=comment, kind=kind, reason=reason)
    return Response({"comment": comment.pk, "kind": mark.kind, "created_at": mark.created_at},
                    status=status.HTTP_201_CREATED)


class IdeaCommentHelpful(APIView):
    """Mark another reader's comment helpful (its author earns a vote for every five)."""

    @extend_schema(request=None, responses={201: s.IdeaCommentMarkOutput})
    def post(self, request, number, comment_id):
        idea = selectors.idea_get(request.user, number)
        return _marked(request, _comment_of(idea, comment_id), CommentMark.Kind.HELPFUL)


class IdeaCommentReport(APIView):
    """Report a comment to the moderators ("positive language only")."""

    @extend_schema(request=s.IdeaCommentReasonSerializer,
                   responses={201: s.IdeaCommentMarkOutput})
    def post(self, request, number, comment_id):
        idea = selectors.idea_get(request.user, number)
        comment = _comment_of(idea, comment_id)
        serializer = s.IdeaCommentReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _marked(request, comment, CommentMark.Kind.REPORT,
                       serializer.validated_data["reason"])


class IdeaCommentHide(APIView):
    """A moderator hides a comment with a reason; its author is told."""

    @extend_schema(request=s.IdeaCommentReasonSerializer, responses={200: s.IdeaCommentOutput})
    def post(self, request, number, comment_id):
        idea = selectors.idea_get(request.user, number)
        comment = _comment_of(idea, comment_id)
        _require(request.user, Capability.MANAGE_IDEAS, "moderate comments")
        serializer = s.IdeaCommentReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.comment_hide(actor=request.user, comment=comment,
                              reason=serializer.validated_data["reason"])
        comment = _comments(idea).get(pk=comment.pk)
        return Response(s.comment_data(comment, idea=idea, viewer=request.user,
                                       authors=selectors.AuthorRule(request.user),
                                       moderator=True))


class MyVotes(APIView):
    @extend_schema(operation_id="me_votes_retrieve", responses=s.MyVotesOutput)
    def get(self, request):
        return Response(selectors.vote_budget(request.user))


class VoteGrantList(GenericAPIView):
    """GET: grants (administrators with GRANT_VOTES: everyone's, `?user=` to filter;
    everyone else: their own). POST (GRANT_VOTES): extra votes for a user, audited."""

    serializer_class = s.VoteGrantSerializer

    @extend_schema(operation_id="vote_grants_list", parameters=[s.VoteGrantFilterSerializer],
                   responses=s.VoteGrantOutput(many=True))
    def get(self, request):
        query = s.VoteGrantFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        grants = VoteGrant.objects.order_by("-created_at", "-pk")
        if not has_capability(request.user, Capability.GRANT_VOTES):
            grants = grants.filter(user=request.user)
        if "user" in query.validated_data:
            grants = grants.filter(user_id=query.validated_data["user"])
        page = self.paginate_queryset(grants)
        return self.get_paginated_response([s.grant_data(g) for g in page])

    @extend_schema(request=s.VoteGrantSerializer, responses={201: s.VoteGrantOutput})
    def post(self, request):
        _require(request.user, Capability.GRANT_VOTES, "grant votes")
        serializer = s.VoteGrantSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = User.objects.filter(pk=data["user"]).first()
        if user is None:
            raise ValidationError({"user": ["No such user."]})
        grant = services.vote_grant(actor=request.user, user=user, amount=data["amount"],
                                    reason=data["reason"])
        return Response({**s.grant_data(grant), "user_votes": selectors.vote_budget(user)},
                        status=status.HTTP_201_CREATED)


IDEA = "ideas/<str:number>/"
COMMENT = IDEA + "comments/<int:comment_id>/"

urlpatterns = [
    path("ideas/", IdeaList.as_view(), name="idea-list"),
    path(IDEA, IdeaDetail.as_view(), name="idea-detail"),
    path(IDEA + "vote/", IdeaVote.as_view(), name="idea-vote"),
    path(IDEA + "comments/", IdeaComments.as_view(), name="idea-comments"),
    path(IDEA + "transition/", IdeaTransition.as_view(), name="idea-transition"),
    path(IDEA + "merge/", IdeaMerge.as_view(), name="idea-merge"),
    path(IDEA + "updates/", IdeaUpdates.as_view(), name="idea-update"),
    path(COMMENT + "helpful/", IdeaCommentHelpful.as_view(), name="idea-comment-helpful"),
    path(COMMENT + "report/", IdeaCommentReport.as_view(), name="idea-comment-report"),
    path(COMMENT + "hide/", IdeaCommentHide.as_view(), name="idea-comment-hide"),
    path("me/votes/", MyVotes.as_view(), name="my-votes"),
    path("vote-grants/", VoteGrantList.as_view(), name="vote-grant-list"),
]
