"""API of Customer Care (../shared/API.md, "Support cases"): cases and their actions, the
knowledge base and the hot-fix log.

Thin: parse with a serializer, call one service or selector, answer. Another tenant's
case answers 404, as if it did not exist. Each action is taken by one side: the
customer's (the requester, a designated contact, a partner whose link allows opening
cases) or Customer Care (analysts, care managers, the account's TAM); the other side gets
403 before its input is even read. An action the case's status forbids answers 409 with
the reason. Care staff read the internal parts of a case (assessment and routing
reasons, internal notes, SLA warnings, collaborators); the customer reads the rest. The
knowledge base's internal articles and the whole hot-fix log are for Care staff.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import slug_re
from django.db.models import Prefetch
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from caredeck.accounts.access import has_capability, is_provider_staff, tenants_for
from caredeck.accounts.models import User
from caredeck.accounts.roles import Capability, OrganizationKind
from caredeck.cases import selectors, services
from caredeck.cases import serializers as s
from caredeck.cases.models import Channel, Criticality

CUSTOMER, CARE, EITHER, MANAGER = "customer", "care", "either", "manager"


# --- Helpers ----------------------------------------------------------------------------


def _require_side(user, case, side: str, what: str) -> None:
    """403 unless `user` is on the side that takes the action (the services check again,
    with the case's state)."""
    customer = services.is_customer_side(user, case)
    care = services.is_care(user, case)
    allowed = {
        CUSTOMER: customer,
        CARE: care,
        EITHER: customer or care,
        MANAGER: has_capability(user, Capability.MANAGE_CARE, case.organization),
    }[side]
    if not allowed:
        who = {
            CUSTOMER: "the customer's designated contacts",
            CARE: "Customer Care",
            EITHER: "the customer's contacts and Customer Care",
            MANAGER: "a care manager",
        }[side]
        raise PermissionDenied(f"Only {who} may {what} on a case.")


def _require_care_staff(user) -> None:
    """The knowledge base's writing and the hot-fix log: Care staff of the provider."""
    if not (is_provider_staff(user) and has_capability(user, Capability.WORK_CASES)):
        raise PermissionDenied("Customer Care keeps the knowledge base and the hot-fix log.")


def _tenant_named(user, slug: str, *, customers_only: bool = False):
    """One of the caller's tenants by slug, or a 400 on `organization` (another
    tenant's slug reads exactly like one that does not exist)."""
    found = None
    if slug_re.match(slug):
        tenants = tenants_for(user)
        if customers_only:
            tenants = tenants.filter(kind=OrganizationKind.CUSTOMER)
        found = tenants.filter(slug=slug).first()
    if found is None:
        raise ValidationError({"organization": ["No such organization."]})
    return found


def _organization_to_open_for(user, slug: str):
    if slug:
        return _tenant_named(user, slug, customers_only=True)
    if user.organization.kind == OrganizationKind.CUSTOMER:
        return user.organization
    raise ValidationError({"organization": [
        "Name the customer organization the case is for (its slug)."]})


def _detail(request, number: str, code: int = status.HTTP_200_OK) -> Response:
    user = request.user
    case = selectors.case_get(user, number)
    internal = selectors.sees_internal(user, case)
    escalation = selectors.open_escalation(case)
    phone = None
    if escalation is not None and case.criticality == Criticality.CRITICAL:
        phone = escalation.phone or services.escalation_phone(case)
    data = s.case_data(
        case, internal=internal, actions=services.allowed_actions(user, case),
        events=selectors.case_timeline(user, case),
        escalations=case.escalations.select_related(
            "raised_by", "acknowledged_by", "manager", "tam"),
        phone=phone,
    )
    return Response(data, status=code)


# --- Cases ------------------------------------------------------------------------------


class CaseList(GenericAPIView):
    """GET: the cases the caller may see (a customer: their organization's, or the ones
    they opened; Care: every tenant they serve), newest first; `status`, `q`,
    `organization` filter, `queue` (Care) picks one of the work queues.
    POST: open a case (a designated contact or a partner for a customer; Care on a
    customer's behalf for a phone call, naming `organization` and the caller as
    `requester`). An incomplete case answers with status info_requested and the missing
    facts; a complete one is routed to an expert."""

    serializer_class = s.CaseOpenSerializer

    @extend_schema(operation_id="cases_list", parameters=[s.CaseFilterSerializer],
                   responses=s.CaseSummaryOutput(many=True))
    def get(self, request):
        user = request.user
        query = s.CaseFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        organization = None
        if data.get("organization"):
            organization = _tenant_named(user, data["organization"])
        cases = selectors.case_list(user, status=data.get("status", ""), q=data.get("q", ""),
                                    organization=organization)
        if data.get("queue"):
            if not has_capability(user, Capability.WORK_CASES):
                raise PermissionDenied("The work queues are Customer Care's.")
            cases = selectors.queue(user, data["queue"]).filter(pk__in=cases.values("pk"))
        page = self.paginate_queryset(cases)
        internal: dict[int, bool] = {}
        rows = []
        for case in page:
            if case.organization_id not in internal:
                internal[case.organization_id] = selectors.sees_internal(user, case)
            rows.append(s.case_summary(case, internal=internal[case.organization_id]))
        return self.get_paginated_response(rows)

    @extend_schema(request=s.CaseOpenSerializer, responses={201: s.CaseOutput})
    def post(self, request):
        user = request.user
        serializer = s.CaseOpenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        organization = _organization_to_open_for(user, data.pop("organization", ""))
        requester_id = data.pop("requester", None)
        requester = User.objects.filter(pk=requester_id).first() if requester_id else None
        case = services.case_open(actor=user, organization=organization, requester=requester,
                                  channel=Channel.API, **data)
        return _detail(request, case.number, status.HTTP_201_CREATED)


class CaseDetail(GenericAPIView):
    """One case as the caller may read it, with its timeline, the actions the caller may
    take now and, while a critical case's escalation is open, the phone number to call."""

    @extend_schema(operation_id="cases_retrieve", responses=s.CaseOutput)
    def get(self, request, number):
        return _detail(request, number)


class CaseTimeline(GenericAPIView):
    """The case's timeline, oldest first (internal entries only for Care)."""

    @extend_schema(responses=s.CaseEventOutput(many=True))
    def get(self, request, number):
        case = selectors.case_get(request.user, number)
        internal = selectors.sees_internal(request.user, case)
        page = self.paginate_queryset(selectors.case_timeline(request.user, case))
        return self.get_paginated_response([s.event_data(e, internal=internal) for e in page])


class CaseComments(GenericAPIView):
    """A public comment (either side) or an internal note (`internal`, Care only)."""

    serializer_class = s.CommentSerializer

    @extend_schema(request=s.CommentSerializer, responses={201: s.CaseEventOutput})
    def post(self, request, number):
        case = selectors.case_get(request.user, number)
        _require_side(request.user, case, EITHER, "comment")
        serializer = s.CommentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = services.case_comment(actor=request.user, case=case,
                                      **serializer.validated_data)
        internal = selectors.sees_internal(request.user, case)
        return Response(s.event_data(event, internal=internal), status=status.HTTP_201_CREATED)


class CaseAction(GenericAPIView):
    """POST …/<action>/: the side check (403), the input (400), the service (409 when
    the case's status forbids it), then the case as the caller reads it."""

    serializer_class = s.NoInputSerializer
    side = CARE
    what = ""

    def act(self, actor, case, data: dict) -> None:
        raise NotImplementedError

    @extend_schema(responses=s.CaseOutput)
    def post(self, request, number):
        case = selectors.case_get(request.user, number)
        _require_side(request.user, case, self.side, self.what)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.act(request.user, case, dict(serializer.validated_data))
        return _detail(request, case.number)


class CaseRequestInfo(CaseAction):
    """Care asks the customer for information: the case waits, its SLA clocks pause."""

    serializer_class = s.BodySerializer
    what = "request information"

    def act(self, actor, case, data):
        services.case_request_info(actor=actor, case=case, body=data["body"])


class CaseProvideInfo(CaseAction):
    """The customer answers (`body`, and/or the `facts` asked for): an unrouted case is
    assessed again and routed once complete."""

    serializer_class = s.ProvideInfoSerializer
    side = CUSTOMER
    what = "provide information"

    def act(self, actor, case, data):
        services.case_provide_info(actor=actor, case=case, body=data.get("body", ""),
                                   facts=data.get("facts"))


class CaseProposeSolution(CaseAction):
    serializer_class = s.BodySerializer
    what = "propose a solution"

    def act(self, actor, case, data):
        services.case_propose_solution(actor=actor, case=case, body=data["body"])


class CaseConfirm(CaseAction):
    """The customer confirms the proposed solution (the case goes to closure)."""

    side = CUSTOMER
    what = "confirm the solution"

    def act(self, actor, case, data):
        services.case_confirm(actor=actor, case=case)


class CaseRejectSolution(CaseAction):
    serializer_class = s.ReasonSerializer
    side = CUSTOMER
    what = "reject the solution"

    def act(self, actor, case, data):
        services.case_reject_solution(actor=actor, case=case, reason=data["reason"])


class CaseClose(CaseAction):
    """Closure after confirmation: the root cause, a knowledge-base article (`kb_article`
    to link one, or `new_kb_article`), optionally a new hot-fix log entry."""

    serializer_class = s.CloseSerializer
    what = "close"

    def act(self, actor, case, data):
        services.case_close(actor=actor, case=case, root_cause=data["root_cause"],
                            kb_article=data.get("kb_article"),
                            new_kb_article=data.get("new_kb_article"),
                            hotfix=data.get("hotfix"))


class CaseReopen(CaseAction):
    """The customer within the reopening period, or Care at any time."""

    serializer_class = s.ReasonSerializer
    side = EITHER
    what = "reopen"

    def act(self, actor, case, data):
        services.case_reopen(actor=actor, case=case, reason=data["reason"])


class CaseAssign(CaseAction):
    """A hand-over with a note, by the owner or a care manager."""

    serializer_class = s.AssignSerializer
    what = "hand over"

    def act(self, actor, case, data):
        services.case_assign(actor=actor, case=case, analyst=data["analyst"], note=data["note"])


class CaseCollaborators(CaseAction):
    """Adds a Care colleague as a collaborator."""

    serializer_class = s.CollaboratorSerializer
    what = "add collaborators"

    def act(self, actor, case, data):
        services.case_add_collaborator(actor=actor, case=case, user=data["user"])


class CaseCriticality(CaseAction):
    """Care adjusts the criticality with a reason (the SLA targets follow)."""

    serializer_class = s.CriticalitySerializer
    what = "change the criticality"

    def act(self, actor, case, data):
        services.case_change_criticality(actor=actor, case=case,
                                         criticality=data["criticality"], reason=data["reason"])


class CaseEscalate(CaseAction):
    """The customer asks management to escalate, giving the business impact; one open
    escalation at a time (409 for a second one)."""

    serializer_class = s.EscalateSerializer
    side = CUSTOMER
    what = "escalate"

    def act(self, actor, case, data):
        services.case_escalate(actor=actor, case=case, business_impact=data["business_impact"])


class CaseAcknowledgeEscalation(CaseAction):
    serializer_class = s.AcknowledgeSerializer
    side = MANAGER
    what = "acknowledge an escalation"

    def act(self, actor, case, data):
        services.case_acknowledge_escalation(actor=actor, case=case, **data)


# --- Knowledge base ---------------------------------------------------------------------


class KbList(GenericAPIView):
    """GET: articles (public ones for everyone, internal ones for provider staff),
    `q` words and `product`. POST (Care): write an article."""

    serializer_class = s.KbCreateSerializer

    @extend_schema(operation_id="kb_list", parameters=[s.KbFilterSerializer],
                   responses=s.KbSummaryOutput(many=True))
    def get(self, request):
        query = s.KbFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        articles = selectors.kb_search(request.user, q=query.validated_data.get("q", ""),
                                       product=query.validated_data.get("product"))
        page = self.paginate_queryset(articles)
        return self.get_paginated_response([s.kb_data(a) for a in page])

    @extend_schema(request=s.KbCreateSerializer, responses={201: s.KbOutput})
    def post(self, request):
        _require_care_staff(request.user)
        serializer = s.KbCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        article = services.kb_create(actor=request.user, **serializer.validated_data)
        return Response(s.kb_data(article, detail=True), status=status.HTTP_201_CREATED)


class KbDetail(GenericAPIView):
    """An article by id or number. PATCH (Care): `title`, `body`, `visibility`."""

    serializer_class = s.KbUpdateSerializer

    @extend_schema(operation_id="kb_retrieve", responses=s.KbOutput)
    def get(self, request, number):
        return Response(s.kb_data(selectors.kb_get(request.user, number), detail=True))

    @extend_schema(request=s.KbUpdateSerializer, responses=s.KbOutput)
    def patch(self, request, number):
        article = selectors.kb_get(request.user, number)
        _require_care_staff(request.user)
        serializer = s.KbUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        article = services.kb_update(
            actor=request.user, article=article, title=data.get("title", article.title),
            body=data.get("body", article.body),
            visibility=data.get("visibility", article.visibility),
        )
        return Response(s.kb_data(article, detail=True))


# --- Hot-fix log ------------------------------------------------------------------------


def _visible_cases(user) -> Prefetch:
    """A fix's cases as the reader may see them (a TAM: only their accounts')."""
    return Prefetch("cases", to_attr="visible_cases",
                    queryset=selectors.cases_visible(user).select_related("organization"))


def _hotfix_answer(request, hotfix, code: int = status.HTTP_200_OK) -> Response:
    fix = selectors.hotfixes_visible(request.user).prefetch_related(
        _visible_cases(request.user)).get(pk=hotfix.pk)
    return Response(s.hotfix_data(fix, fix.visible_cases), status=code)


class HotfixList(GenericAPIView):
    """The hot-fix log (Care): which fixes are planned or released, and which customers
    wait for which. POST: log a fix, linking the waiting cases by number."""

    serializer_class = s.HotfixCreateSerializer

    @extend_schema(operation_id="hotfixes_list", parameters=[s.HotfixFilterSerializer],
                   responses=s.HotfixOutput(many=True))
    def get(self, request):
        _require_care_staff(request.user)
        query = s.HotfixFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        fixes = selectors.hotfix_search(request.user, q=query.validated_data.get("q", ""),
                                        status=query.validated_data.get("status", ""))
        page = self.paginate_queryset(fixes.prefetch_related(_visible_cases(request.user)))
        return self.get_paginated_response([s.hotfix_data(f, f.visible_cases) for f in page])

    @extend_schema(request=s.HotfixCreateSerializer, responses={201: s.HotfixOutput})
    def post(self, request):
        _require_care_staff(request.user)
        serializer = s.HotfixCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fix = services.hotfix_create(actor=request.user, **serializer.validated_data)
        return _hotfix_answer(request, fix, status.HTTP_201_CREATED)


class HotfixDetail(GenericAPIView):
    @extend_schema(operation_id="hotfixes_retrieve", responses=s.HotfixOutput)
    def get(self, request, number):
        return _hotfix_answer(request, selectors.hotfix_get(request.user, number))


class HotfixRelease(GenericAPIView):
    """The fix shipped: every waiting customer hears on their case (409 when released
    already)."""

    serializer_class = s.NoInputSerializer

    @extend_schema(request=None, responses=s.HotfixOutput)
    def post(self, request, number):
        fix = selectors.hotfix_get(request.user, number)
        fix = services.hotfix_release(actor=request.user, hotfix=fix)
        return _hotfix_answer(request, fix)


CASE = "cases/<str:number>/"
ACTIONS = {
    "request-info": CaseRequestInfo,
    "provide-info": CaseProvideInfo,
    "propose-solution": CaseProposeSolution,
    "confirm": CaseConfirm,
    "reject-solution": CaseRejectSolution,
    "close": CaseClose,
    "reopen": CaseReopen,
    "assign": CaseAssign,
    "collaborators": CaseCollaborators,
    "criticality": CaseCriticality,
    "escalate": CaseEscalate,
    "acknowledge-escalation": CaseAcknowledgeEscalation,
}

urlpatterns = [
    path("cases/", CaseList.as_view(), name="case-list"),
    path(CASE, CaseDetail.as_view(), name="case-detail"),
    path(CASE + "timeline/", CaseTimeline.as_view(), name="case-timeline"),
    path(CASE + "comments/", CaseComments.as_view(), name="case-comments"),
    *[path(CASE + f"{action}/", view.as_view(), name=f"case-{action}")
      for action, view in ACTIONS.items()],
    path("kb/", KbList.as_view(), name="kb-list"),
    path("kb/<str:number>/", KbDetail.as_view(), name="kb-detail"),
    path("hotfixes/", HotfixList.as_view(), name="hotfix-list"),
    path("hotfixes/<str:number>/", HotfixDetail.as_view(), name="hotfix-detail"),
    path("hotfixes/<str:number>/release/", HotfixRelease.as_view(), name="hotfix-release"),
]
