"""API of problems, post-incident reviews and action items (../shared/API.md, "Incidents,
maintenance, problems, status").

Thin views: parse, call one service or selector, answer. Problems are provider-internal:
anyone who may not read them (customers, partners) gets 404 on every problem route, as if
none existed; staff who read them but lack MANAGE_PROBLEMS get 403 on changes. The review
route answers 404 to whoever cannot see the incident.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from caredeck.core.api import Pagination
from caredeck.incidents.selectors import incident_get
from caredeck.problems import recurrence, selectors, services
from caredeck.problems import serializers as s
from caredeck.problems.models import ActionItem, PostIncidentReview, Problem


def _require_reader(user) -> None:
    if not selectors.can_see_problems(user):
        raise Http404("No such problem.")


def _with_relations(problems):
    return problems.select_related("owner").prefetch_related(
        "incidents", "action_items__owner", "action_items__review__incident",
        "action_items__problem",
    )


def _context(problems: list[Problem]) -> dict:
    found = recurrence.recurrences_of(problems)
    other_ids = {r.other.problem_id for rs in found.values() for r in rs if r.other.problem_id}
    numbers = dict(Problem.objects.filter(pk__in=other_ids).values_list("pk", "number"))
    return {"recurrences": found, "problem_numbers": numbers}


def _problem_answer(problem: Problem, code: int = status.HTTP_200_OK) -> Response:
    problem = _with_relations(Problem.objects.filter(pk=problem.pk)).get()
    return Response(s.ProblemSerializer(problem, context=_context([problem])).data, status=code)


def _problem(request, number) -> Problem:
    return selectors.problem_get(request.user, number)


STATUS_PARAM = OpenApiParameter(
    "status", str, description="open, root_cause_known, known_error, resolved, closed, "
    "or active (anything not closed)",
)


class ProblemList(APIView):
    @extend_schema(parameters=[STATUS_PARAM], responses=s.ProblemSerializer(many=True))
    def get(self, request):
        _require_reader(request.user)
        wanted = request.query_params.get("status", "")
        problems = _with_relations(selectors.problems_list(request.user, status=wanted))
        paginator = Pagination()
        page = paginator.paginate_queryset(problems.order_by("-created_at", "-pk"), request,
                                           view=self)
        data = s.ProblemSerializer(page, many=True, context=_context(page)).data
        return paginator.get_paginated_response(data)

    @extend_schema(request=s.ProblemCreateSerializer, responses={201: s.ProblemSerializer})
    def post(self, request):
        _require_reader(request.user)
        body = s.ProblemCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        incidents = selectors.incidents_by_numbers(request.user, data.pop("incidents", []))
        problem = services.problem_create(actor=request.user, incidents=incidents, **data)
        return _problem_answer(problem, status.HTTP_201_CREATED)


class ProblemDetail(APIView):
    @extend_schema(responses=s.ProblemSerializer)
    def get(self, request, number):
        return _problem_answer(_problem(request, number))

    @extend_schema(request=s.ProblemUpdateSerializer, responses=s.ProblemSerializer)
    def patch(self, request, number):
        problem = _problem(request, number)
        body = s.ProblemUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        services.problem_update(actor=request.user, problem=problem, **body.validated_data)
        return _problem_answer(problem)


class ProblemTransition(APIView):
    @extend_schema(
        request=s.TransitionSerializer,
        responses={200: s.ProblemSerializer, 409: OpenApiResponse(description="The "
                   "problem's status does not allow this move; `detail` says why.")},
    )
    def post(self, request, number):
        problem = _problem(request, number)
        body = s.TransitionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.problem_transition(
            actor=request.user, problem=problem, status=body.validated_data["status"]
        )
        return _problem_answer(problem)


class ProblemPublishRca(APIView):
    @extend_schema(
        request=None,
        responses={200: s.ProblemSerializer, 409: OpenApiResponse(description="Already "
                   "published, closed, or no incident linked.")},
    )
    def post(self, request, number):
        problem = _problem(request, number)
        services.problem_rca_publish(actor=request.user, problem=problem)
        return _problem_answer(problem)


def _incident_for_link(request) -> object:
    body = s.IncidentNumberSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    [incident] = selectors.incidents_by_numbers(
        request.user, [body.validated_data["incident"].strip().upper()], field="incident"
    )
    return incident


class ProblemLinkIncident(APIView):
    @extend_schema(request=s.IncidentNumberSerializer, responses=s.ProblemSerializer)
    def post(self, request, number):
        problem = _problem(request, number)
        incident = _incident_for_link(request)
        services.problem_incident_link(actor=request.user, problem=problem, incident=incident)
        return _problem_answer(problem)


class ProblemUnlinkIncident(APIView):
    @extend_schema(request=s.IncidentNumberSerializer, responses=s.ProblemSerializer)
    def post(self, request, number):
        problem = _problem(request, number)
        incident = _incident_for_link(request)
        services.problem_incident_unlink(
            actor=request.user, problem=problem, incident=incident
        )
        return _problem_answer(problem)


class ActionItemDone(APIView):
    """POST marks the action item done; DELETE opens it again."""

    def _item(self, request, number, item_id) -> ActionItem:
        problem = _problem(request, number)
        item = (
            problem.action_items.select_related("owner", "problem", "review__incident")
            .filter(pk=item_id).first()
        )
        if item is None:
            raise Http404("No such action item.")
        return item

    @extend_schema(request=None, responses=s.ActionItemSerializer)
    def post(self, request, number, item_id):
        item = services.action_item_done(actor=request.user,
                                         item=self._item(request, number, item_id))
        return Response(s.ActionItemSerializer(item).data)

    @extend_schema(request=None, responses=s.ActionItemSerializer)
    def delete(self, request, number, item_id):
        item = services.action_item_reopen(actor=request.user,
                                           item=self._item(request, number, item_id))
        return Response(s.ActionItemSerializer(item).data)


# --- Post-incident review ------------------------------------------------------------------


def _review_answer(incident, code: int = status.HTTP_200_OK) -> Response:
    review = (
        PostIncidentReview.objects.select_related("incident__problem", "facilitator")
        .prefetch_related("action_items__owner", "action_items__problem",
                          "action_items__review__incident")
        .filter(incident=incident).first()
    )
    if review is None:
        raise Http404("This incident has not been reviewed yet.")
    return Response(s.ReviewSerializer(review).data, status=code)


def _reviewable_incident(request, number, *, write: bool):
    incident = incident_get(request.user, number)  # 404 to those who cannot see it
    allowed = (
        selectors.can_manage_problems(request.user) if write
        else selectors.can_see_problems(request.user)
    )
    if not allowed:
        raise PermissionDenied("Your roles do not allow this (post-incident reviews).")
    return incident


class IncidentReview(APIView):
    @extend_schema(responses=s.ReviewSerializer)
    def get(self, request, number):
        return _review_answer(_reviewable_incident(request, number, write=False))

    @extend_schema(
        request=s.ReviewInputSerializer,
        responses={201: s.ReviewSerializer, 409: OpenApiResponse(description="Not "
                   "resolved yet, or already reviewed.")},
    )
    def post(self, request, number):
        incident = _reviewable_incident(request, number, write=True)
        body = s.ReviewInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        problem = None
        if data.get("problem"):
            problem = _linkable_problem(request.user, data["problem"])
        services.review_hold(
            actor=request.user, incident=incident, held_on=data["held_on"],
            facilitator=data.get("facilitator") or request.user, summary=data["summary"],
            went_well=data.get("went_well", ""), went_wrong=data.get("went_wrong", ""),
            action_items=[dict(item) for item in data.get("action_items", [])],
            problem=problem,
            new_problem=dict(data["new_problem"]) if data.get("new_problem") else None,
        )
        return _review_answer(incident, status.HTTP_201_CREATED)


def _linkable_problem(user, number: str) -> Problem:
    try:
        return selectors.problem_get(user, number.strip().upper())
    except Http404:
        raise ValidationError({"problem": ["No such problem."]}) from None


class ReviewActionItems(APIView):
    """Add an action item found after the review."""

    @extend_schema(request=s.ActionItemInputSerializer, responses={201: s.ActionItemSerializer})
    def post(self, request, number):
        incident = _reviewable_incident(request, number, write=True)
        review = PostIncidentReview.objects.filter(incident=incident).first()
        if review is None:
            raise Http404("This incident has not been reviewed yet.")
        body = s.ActionItemInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item = services.action_item_add(actor=request.user, review=review,
                                        **body.validated_data)
        return Response(s.ActionItemSerializer(item).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("problems/", ProblemList.as_view(), name="problem-list"),
    path("problems/<str:number>/", ProblemDetail.as_view(), name="problem-detail"),
    path("problems/<str:number>/transition/", ProblemTransition.as_view(),
         name="problem-transition"),
    path("problems/<str:number>/publish-rca/", ProblemPublishRca.as_view(),
         name="problem-publish-rca"),
    path("problems/<str:number>/link/", ProblemLinkIncident.as_view(), name="problem-link"),
    path("problems/<str:number>/unlink/", ProblemUnlinkIncident.as_view(),
         name="problem-unlink"),
    path("problems/<str:number>/action-items/<int:item_id>/done/", ActionItemDone.as_view(),
         name="problem-action-item-done"),
    path("incidents/<str:number>/review/", IncidentReview.as_view(), name="incident-review"),
    path("incidents/<str:number>/review/action-items/", ReviewActionItems.as_view(),
         name="incident-review-action-items"),
]
