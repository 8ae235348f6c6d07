"""The authorization matrix: every URL of CareDeck, tried by every kind of outsider
against tenant A, must neither show nor change anything of A.

The routes are discovered from the URL resolver, never listed here, so a route added by a
later issue is in the matrix the day it is added. When a route takes a URL parameter this
file has no value for, the matrix fails and names the table to extend: OBJECT_PARAMS (a
parameter name that always means the same thing, like `org`) or ROUTE_PARAMS (a generic
name like a router's `pk`, which means something different per route).

The world: tenant A ("ZEBRA-A-SECRET Telecom", slug `zebra-a-secret`) with people, a
designated contact, a pending invitation, a partner acting for it, an API token, an
approved access request, an A-only product ("QUAGGA-PRODUCT"), a webhook endpoint with a
failed delivery, an in-app notification, a deployment on the platform (B has one in the
same region, so "what if" answers for B are computed beside A's), and the audit trail and
outbox rows all of that wrote. The platform catalog (the reference topology and failure
matrix loaded after migrate, plus a few elements seeded free of deployments so that an
insider may really delete them) is the provider's, like its products. Every name, e-mail
and slug of A carries the marker `zebra-a-secret`, so any response that shows A's data
shows the marker.

The outsiders: each role of customer tenant B, the user of a partner that acts for B but
not for A, and a TAM who is TAM of B but not of A (a TAM serves only its own accounts;
other provider staff serve every tenant and are not outsiders). Each is tried with a
browser session, and B's administrator once more with a bearer token on the API.

For every route x outsider x method (pages: GET and POST; API: GET, POST, PUT, PATCH,
DELETE; every GET also once with a query string naming A):
- nothing answers 5xx or raises;
- a URL naming an object of tenant A answers 404, as if it did not exist (405 only when
  the same route answers 405 for a nonexistent object too); a provider-only object
  (access request; an A-only product for non-staff) answers 403 or 404;
- no response body contains the marker (the URL and the values the caller sent are
  removed first, so an error echoing the caller's own input is not a leak);
- the database is unchanged: organizations, contracts, platforms, people, roles, tokens,
  partner links, access requests, products, outbox rows (and their status), webhooks,
  in-app notifications, subscriptions, the platform catalog (topology, functional areas,
  failure matrix), tenants' deployments and audit entries, apart from the acting
  outsider's own user, tokens, inbox and subscriptions (one may always manage one's own
  account) and the webhooks of the outsider's own organization (which an outsider who
  administers it may manage);
- afterwards, the outsider's home, team and /api/v1/me/ still show nothing of A (a
  tenant switch that stuck in the session would show up there).

Anonymous visitors get every route too: anything not on the PUBLIC allow-list answers a
redirect to /login/ (pages) or 401/403 (API), and changes nothing.

Sanity tests keep the matrix honest: every target exists for an insider (so an
outsider's 404 means something), every write payload really writes when an authorized
insider sends it (so "nothing changed" means something), and the marker is visible to
insiders.

The world is seeded once per module inside a transaction that is rolled back at the end;
each test runs in a savepoint inside it.
"""

from __future__ import annotations

import html
import json
import re
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from caredeck.accounts import services
from caredeck.accounts.models import (
    AccessRequest,
    ApiToken,
    Contract,
    Organization,
    PartnerLink,
    Product,
    RoleGrant,
    User,
)
from caredeck.accounts.roles import DELEGABLE_CAPABILITIES, OrganizationKind, Role
from caredeck.cases import services as case_services
from caredeck.cases.models import (
    Case,
    CaseAttachment,
    CaseEscalation,
    CaseEvent,
    CaseRequirement,
    EscalationContact,
    Expert,
    Hotfix,
    KnowledgeArticle,
    Skill,
    SupportGroup,
)
from caredeck.core.audit import AUDITED
from caredeck.core.models import AuditEntry
from caredeck.ideas import services as idea_services
from caredeck.ideas.models import Comment as IdeaComment
from caredeck.ideas.models import (
    CommentMark,
    Idea,
    IdeaSubscription,
    IdeaUpdate,
    Vote,
    VoteGrant,
)
from caredeck.incidents import services as incident_services
from caredeck.incidents.models import (
    AffectedTenant,
    Incident,
    IncidentUpdate,
    Notice,
    TeamMember,
    TimelineEvent,
)
from caredeck.maintenance import services as maintenance_services
from caredeck.maintenance.models import (
    Maintenance,
    MaintenanceClock,
    MaintenanceNotice,
    MaintenanceTenant,
)
from caredeck.monitoring import services as monitoring_services
from caredeck.monitoring.models import (
    Check,
    CheckAssignment,
    CheckResult,
    ProbeLocation,
    SimulatedOutage,
    StateChange,
)
from caredeck.notify import services as notify_services
from caredeck.notify.models import (
    InAppNotification,
    MessageStatus,
    OutboundMessage,
    Subscription,
    WebhookDelivery,
    WebhookEndpoint,
)
from caredeck.problems import services as problem_services
from caredeck.problems.models import ActionItem, PostIncidentReview, Problem
from caredeck.status.models import FeedToken
from caredeck.topology.catalog import catalog_dump_yaml
from caredeck.topology.deployments import deployment_set
from caredeck.topology.models import (
    Deployment,
    FailureImpact,
    FailureType,
    FunctionalArea,
    Geography,
    Pop,
    Region,
    Zone,
)
from caredeck.topology.services import geography_create, pop_create, region_create
from tests.factories import UserFactory

PASSWORD = "correct-horse-battery"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"

# Platform elements seeded free of deployments: an insider may really edit or delete them.
SEEDED_GEOGRAPHY = "matrix-geo"  # holds nothing
SEEDED_REGION = "matrix-region"  # in the US, with zones matrix-region-a, -b, -c
SEEDED_POP = "matrix-pop"  # in the US, serving matrix-region

# Every name, e-mail and slug of tenant A contains this (matched case-insensitively).
MARKER = "zebra-a-secret"
# The product only A subscribes to. Provider staff may see the provider's catalog;
# customers and partners see only the products of the tenants they serve.
CATALOG_MARKER = "quagga-product"

PAGE_METHODS = ("GET", "POST")
API_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

# Routes anyone may use without signing in, with the methods that are public. Every
# other route must send an anonymous visitor to the login page (or answer 401/403 in the
# API). Add a route here only if strangers must reach it.
ANY_METHOD = frozenset(API_METHODS)
PUBLIC: dict[str, frozenset[str]] = {
    "login": ANY_METHOD,
    "logout": ANY_METHOD,
    "password-reset": ANY_METHOD,
    "password-reset-sent": ANY_METHOD,
    "password-set-done": ANY_METHOD,
    "password-reset-confirm": ANY_METHOD,
    "invitation-accept": ANY_METHOD,
    "access-request-new": ANY_METHOD,
    "access-request-thanks": ANY_METHOD,
    "healthz": ANY_METHOD,
    # The API's description (no data): the OpenAPI document and its browsable docs.
    "api-schema": ANY_METHOD,
    "api-docs": ANY_METHOD,
    # The provider's public status page (no tenant names) and tenants' feeds, whose
    # secret is the token in the URL (feed readers cannot sign in).
    "public-status": ANY_METHOD,
    "status-feed": ANY_METHOD,
    # Anyone may ask for access over the API; reading requests is for administrators.
    "api:access-request-list": frozenset({"POST"}),
}


# --- Who owns what a URL names ---------------------------------------------------------

TENANT = 4  # an object of tenant A: outsiders must get 404, exactly as if it did not exist
PROVIDER_ONLY = 3  # the provider's own business (access requests): 403 or 404
# The provider's catalog (an A-only product; the platform topology and failure matrix):
# 403/404 for non-staff outsiders; provider staff may read it.
CATALOG = 2
LINK = 1  # an e-mailed link (uid + token): public, nothing to expect but no leak
# An object A shares with the outsider's tenant (an incident hitting both): the outsider
# may read its own part; nothing of A may show and nothing may change.
SHARED = 0

OWNERSHIP_LABEL = {
    TENANT: "an object of tenant A",
    PROVIDER_ONLY: "a provider-only object",
    CATALOG: "the provider's catalog (a product only tenant A has, the platform model)",
    LINK: "an e-mailed link",
    SHARED: "an object A shares with the outsider's tenant",
}


@dataclass(frozen=True)
class Target:
    value: Any
    ownership: int


@dataclass
class World:
    a: Organization
    b: Organization
    partner_a: Organization
    partner_x: Organization
    product_a: Product
    link_a: PartnerLink
    admin_a: User
    invitee_a: User
    token_a: ApiToken
    request_pending: AccessRequest
    request_approved: AccessRequest
    webhook_a: WebhookEndpoint
    message_a: OutboundMessage
    notification_a: InAppNotification
    cell: FailureImpact  # a cell of the failure matrix
    incident_a: Incident  # open, affects A only
    incident_shared: Incident  # open, affects A and B (A's own texts carry the marker)
    incident_resolved: Incident  # A only, resolved, report written but not yet sent
    incident_reported: Incident  # A only, resolved, report sent (may be closed)
    evidence_a: TimelineEvent
    maintenance_a: Maintenance  # scheduled in two days, A only
    maintenance_shared: Maintenance  # A and B (A's own text carries the marker)
    maintenance_soon: Maintenance  # A only, starts within the hour: may be started
    maintenance_running: Maintenance  # A only, in progress: may be completed
    problem_a: Problem  # opened by the review of A's reported incident (provider-only)
    action_item_a: ActionItem
    idea_a: Idea  # in A's own product; A's admin voted, A's member commented
    idea_a_fresh: Idea  # in A's own product, no votes: to vote for, to merge into
    idea_shared: Idea  # in a product A and B use, posted anonymously by A
    comment_a: IdeaComment
    # Support cases of A, one in each state an action starts from (A's designated
    # contact opened them; an internal note and a file carry the marker).
    case_a: Case  # open: comment, request info, propose, hand over, escalate
    case_info: Case  # waiting for information
    case_proposed: Case  # solution proposed: confirm or reject
    case_confirmed: Case  # confirmed: close
    case_closed: Case  # closed with an internal KB article and a hot fix: reopen
    case_escalated: Case  # escalation waiting for a care manager's acknowledgement
    attachment_a: CaseAttachment
    kb_a: KnowledgeArticle  # provider-internal: customers never read it
    hotfix_a: Hotfix
    care_group: SupportGroup
    expert: Expert
    requirement: CaseRequirement
    # Synthetic monitoring: A's check (its failed result's evidence carries the marker),
    # run from a probe location at a PoP and from a remote agent.
    check_a: Check
    check_paused: Check  # paused: to resume
    probe_location: ProbeLocation
    agent_location: ProbeLocation
    users: dict[str, User] = field(default_factory=dict)
    bearer: dict[str, str] = field(default_factory=dict)


# URL parameter name -> tenant A's value for it. A parameter name here means the same
# thing on every route that uses it.
OBJECT_PARAMS: dict[str, Callable[[World], Target]] = {
    "org": lambda w: Target(w.a.slug, TENANT),
    # The pending invitee: user routes then include "resend the invitation".
    "user_id": lambda w: Target(w.invitee_a.pk, TENANT),
    "token_id": lambda w: Target(w.token_a.pk, TENANT),
    "link_id": lambda w: Target(w.link_a.pk, TENANT),
    "request_id": lambda w: Target(w.request_pending.pk, PROVIDER_ONLY),
    "product": lambda w: Target(w.product_a.slug, CATALOG),
    "webhook_id": lambda w: Target(w.webhook_a.pk, TENANT),
    # A failed webhook message of A (so "retry now" really retries it for an insider).
    "message_id": lambda w: Target(w.message_a.pk, TENANT),
    # An in-app notification of A's administrator: only its owner may read it.
    "notification_id": lambda w: Target(w.notification_a.pk, TENANT),
    # The platform catalog. The seeded elements are used by no deployment, so an insider
    # may really delete them; `area` and `failure` are of the reference catalog.
    "geography": lambda w: Target(SEEDED_GEOGRAPHY, CATALOG),
    "region": lambda w: Target(SEEDED_REGION, CATALOG),
    "zone": lambda w: Target(f"{SEEDED_REGION}-a", CATALOG),
    "pop": lambda w: Target(SEEDED_POP, CATALOG),
    "area": lambda w: Target("call_routing", CATALOG),
    "failure": lambda w: Target("region_failure", CATALOG),
    # Password-reset and invitation links of A's administrator, with a made-up token.
    "uidb64": lambda w: Target(urlsafe_base64_encode(force_bytes(w.admin_a.pk)), LINK),
    "token": lambda w: Target("cfr5rx-0123456789abcdef0123456789abcdef", LINK),
    # A comment of A's member on A's idea.
    "comment_id": lambda w: Target(w.comment_a.pk, TENANT),
    # An action item of the review of A's incident.
    "item_id": lambda w: Target(w.action_item_a.pk, PROVIDER_ONLY),
    # A synthetic check of A.
    "check_id": lambda w: Target(w.check_a.pk, TENANT),
    # The Care set-up: an expert, a required fact of A's product, an escalation contact.
    "expert_id": lambda w: Target(w.expert.pk, PROVIDER_ONLY),
    "requirement_id": lambda w: Target(w.requirement.pk, PROVIDER_ONLY),
    "deployment": lambda w: Target("cloud", PROVIDER_ONLY),
    # Evidence attached to A's incident (internal: staff only).
    "event_id": lambda w: Target(w.evidence_a.pk, TENANT),
}


def history_targets(w: World) -> list[dict[str, Target]]:
    """One object of each audited kind (a later app adds its kinds here)."""
    return [
        {"kind": Target("organization", TENANT), "object_id": Target(w.a.slug, TENANT)},
        {"kind": Target("user", TENANT), "object_id": Target(w.admin_a.pk, TENANT)},
        {
            "kind": Target("access_request", PROVIDER_ONLY),
            "object_id": Target(w.request_pending.pk, PROVIDER_ONLY),
        },
        {"kind": Target("product", CATALOG), "object_id": Target(w.product_a.slug, CATALOG)},
        {"kind": Target("message", TENANT), "object_id": Target(w.message_a.pk, TENANT)},
        {"kind": Target("webhook", TENANT), "object_id": Target(w.webhook_a.pk, TENANT)},
        # Incidents span tenants: their history is for provider staff only.
        {"kind": Target("incident", TENANT), "object_id": Target(w.incident_a.number, TENANT)},
        {"kind": Target("incident", TENANT),
         "object_id": Target(w.incident_shared.number, TENANT)},
        {"kind": Target("maintenance", TENANT),
         "object_id": Target(w.maintenance_shared.number, TENANT)},
        {"kind": Target("problem", PROVIDER_ONLY),
         "object_id": Target(w.problem_a.number, PROVIDER_ONLY)},
        {"kind": Target("idea", TENANT), "object_id": Target(w.idea_a.number, TENANT)},
        {"kind": Target("case", TENANT), "object_id": Target(w.case_a.number, TENANT)},
        {"kind": Target("kb", PROVIDER_ONLY), "object_id": Target(w.kb_a.number, PROVIDER_ONLY)},
        {"kind": Target("hotfix", PROVIDER_ONLY),
         "object_id": Target(w.hotfix_a.number, PROVIDER_ONLY)},
        {"kind": Target("support_group", PROVIDER_ONLY),
         "object_id": Target(w.care_group.slug, PROVIDER_ONLY)},
        {"kind": Target("expert", PROVIDER_ONLY),
         "object_id": Target(w.expert.pk, PROVIDER_ONLY)},
        {"kind": Target("escalation_contact", PROVIDER_ONLY),
         "object_id": Target("cloud", PROVIDER_ONLY)},
        {"kind": Target("check", TENANT), "object_id": Target(w.check_a.pk, TENANT)},
        {"kind": Target("probe_location", PROVIDER_ONLY),
         "object_id": Target("matrix-probe", PROVIDER_ONLY)},
        {"kind": Target("simulated_outage", PROVIDER_ONLY),
         "object_id": Target(SEEDED_REGION, PROVIDER_ONLY)},
        *(
            {"kind": Target(kind, CATALOG), "object_id": Target(value, CATALOG)}
            for kind, value in (
                ("geography", SEEDED_GEOGRAPHY), ("region", SEEDED_REGION),
                ("zone", f"{SEEDED_REGION}-a"), ("pop", SEEDED_POP), ("area", "call_routing"),
                ("failure_type", "region_failure"), ("impact_cell", w.cell.pk),
            )
        ),
    ]


# Routes whose `number` must name an incident in the state the route acts on.
INCIDENT_FOR_ROUTE: dict[str, Callable[[World], list[Target]]] = {
    "incident-report-publish": lambda w: [Target(w.incident_resolved.number, TENANT)],
    "api:incident-report": lambda w: [Target(w.incident_resolved.number, TENANT)],
    "incident-close": lambda w: [Target(w.incident_reported.number, TENANT)],
    "api:incident-close": lambda w: [Target(w.incident_reported.number, TENANT)],
    # Evidence of A's own incident (the event id below belongs to it).
    "incident-evidence-file": lambda w: [Target(w.incident_a.number, TENANT)],
    # Reviews: held on A's reported incident; a new one on A's resolved, unreviewed one.
    "incident-review": lambda w: [Target(w.incident_resolved.number, TENANT)],
    "incident-review-action-item": lambda w: [Target(w.incident_reported.number, TENANT)],
    "api:incident-review": lambda w: [Target(w.incident_reported.number, TENANT)],
    "api:incident-review-action-items": lambda w: [Target(w.incident_reported.number, TENANT)],
    # Ideas in the state each action needs: an idea nobody voted for to vote for, the
    # merged-away one for the merge.
    "idea-vote": lambda w: [Target(w.idea_a_fresh.number, TENANT),
                            Target(w.idea_shared.number, SHARED)],
    "api:idea-vote": lambda w: [Target(w.idea_a_fresh.number, TENANT),
                                Target(w.idea_shared.number, SHARED)],
    # Maintenance windows in the state each action needs.
    "maintenance-start": lambda w: [Target(w.maintenance_soon.number, TENANT)],
    "api:maintenance-start": lambda w: [Target(w.maintenance_soon.number, TENANT)],
    "maintenance-complete": lambda w: [Target(w.maintenance_running.number, TENANT)],
    "api:maintenance-complete": lambda w: [Target(w.maintenance_running.number, TENANT)],
}


# Case routes whose action needs the case in a given state (by the route name's end).
CASE_FOR_ACTION: dict[str, str] = {
    "provide-info": "case_info",
    "confirm": "case_proposed",
    "reject-solution": "case_proposed",
    "close": "case_confirmed",
    "reopen": "case_closed",
    "acknowledge-escalation": "case_escalated",
}


def case_for_route(name: str, w: World) -> Case:
    for action, attribute in CASE_FOR_ACTION.items():
        if name.endswith(action):
            return getattr(w, attribute)
    return w.case_a


def number_targets(route, w: World) -> list[Target]:
    """`number` is a public number (INC-…, MNT-…, PRB-…): which kind follows from the
    route. An incident route is tried on A's own incident (404 expected) and on one A
    shares with B (B's people may read their own part, nothing of A's)."""
    name = (route.name or "").split(":")[-1]
    if route.name in INCIDENT_FOR_ROUTE:
        return INCIDENT_FOR_ROUTE[route.name](w)
    if name.startswith("incident"):
        return [Target(w.incident_a.number, TENANT), Target(w.incident_shared.number, SHARED)]
    if name.startswith("idea"):
        return [Target(w.idea_a.number, TENANT), Target(w.idea_shared.number, SHARED)]
    if name.startswith("problem"):
        # Problem records are the provider's own: 403 or 404 for outsiders.
        return [Target(w.problem_a.number, PROVIDER_ONLY)]
    if name.startswith("maintenance"):
        return [Target(w.maintenance_a.number, TENANT),
                Target(w.maintenance_shared.number, SHARED)]
    if name.startswith("case"):
        return [Target(case_for_route(name, w).number, TENANT)]
    if name.startswith("kb"):
        # A provider-internal article: outsiders get 403 or 404.
        return [Target(w.kb_a.number, PROVIDER_ONLY)]
    if name.startswith("hotfix"):
        return [Target(w.hotfix_a.number, PROVIDER_ONLY)]
    raise UnknownParameter(
        f"Route {route.id!r} ({route.template}) takes `number` but number_targets() in "
        f"{__file__} does not know which kind of object it names."
    )


def _one(name: str, target: Callable[[World], Target]) -> Callable[[World], list[dict]]:
    return lambda w: [{name: target(w)}]


# Route (by namespaced name) -> its parameter sets, for routes whose parameter names are
# generic (a DRF router's `pk` / `slug`, the history view's `kind` + `object_id`).
ROUTE_PARAMS: dict[str, Callable[[World], list[dict[str, Target]]]] = {
    "history": history_targets,
    "api:organization-detail": _one("slug", lambda w: Target(w.a.slug, TENANT)),
    "api:product-detail": _one("slug", lambda w: Target(w.product_a.slug, CATALOG)),
    "api:user-detail": _one("pk", lambda w: Target(w.invitee_a.pk, TENANT)),
    "api:token-detail": _one("pk", lambda w: Target(w.token_a.pk, TENANT)),
    "api:partner-link-detail": _one("pk", lambda w: Target(w.link_a.pk, TENANT)),
    "api:access-request-detail": _one(
        "pk", lambda w: Target(w.request_pending.pk, PROVIDER_ONLY)
    ),
    "api:access-request-approve": _one(
        "pk", lambda w: Target(w.request_pending.pk, PROVIDER_ONLY)
    ),
    "api:access-request-decline": _one(
        "pk", lambda w: Target(w.request_pending.pk, PROVIDER_ONLY)
    ),
    "care-group-edit": _one("slug", lambda w: Target(w.care_group.slug, PROVIDER_ONLY)),
    "probe-location-rotate": _one("slug", lambda w: Target("matrix-agent", PROVIDER_ONLY)),
    "check-resume": _one("check_id", lambda w: Target(w.check_paused.pk, TENANT)),
    # A file a customer attached to A's case.
    "case-attachment": lambda w: [{"number": Target(w.case_a.number, TENANT),
                                   "item_id": Target(w.attachment_a.pk, TENANT)}],
}

# Query strings that name A's objects on routes that look objects up from the query.
EXTRA_QUERIES: dict[str, Callable[[World], list[tuple[str, int | None]]]] = {
    # "What if" the region A and B run in fails, for everyone and narrowed to A: the page
    # answers (for the caller's own tenants), so only leaks are checked.
    "topology-impact": lambda w: [
        (urlencode({"target": "us-east"}), None),
        (urlencode({"target": "us-east", "organization": w.a.slug}), None),
        (urlencode({"target": "pop-ashburn", "organization": w.a.slug, "page": 1}), None),
    ],
    "topology-deployment-list": lambda w: [
        (urlencode({"region": "us-east", "q": "zebra"}), None),
    ],
    "api:audit": lambda w: [
        (
            urlencode({"object": f"{t['kind'].value}:{t['object_id'].value}"}),
            t["kind"].ownership,
        )
        for t in history_targets(w)
    ],
}


def hostile_query(w: World) -> str:
    """Sent with every GET: the filters a list might accept, all pointing at A."""
    return urlencode(
        {
            "organization": w.a.slug, "org": w.a.slug, "tenant": w.a.slug,
            "customer": w.a.slug, "partner": w.partner_a.slug, "user": w.invitee_a.pk,
            "object": f"organization:{w.a.slug}", "q": "zebra", "search": "zebra",
        }
    )


# --- What a write sends ----------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    method: str
    body: Callable[[World], dict | None]
    # Who may really do it (key of World.users), for test_write_payloads_really_write;
    # None when the write only touches the sender's own account or session.
    insider: str | None


def _contract_form(prefix: str = "contract") -> dict[str, Any]:
    terms = {
        "notice_minutes": 15, "update_minutes": 30, "rca_business_days": 5,
        "availability_target": "99.990", "support_timezone": "UTC", "support_country": "US",
        "support_24x7": "on", "support_day_start": "08:00", "support_day_end": "18:00",
        **{f"response_{level}": 60 for level in "1234"},
        **{f"resolution_{level}": 600 for level in "1234"},
    }
    return {f"{prefix}-{name}": value for name, value in terms.items()}


ALL_RIGHTS = [c.value for c in DELEGABLE_CAPABILITIES]

# Plausible bodies: what someone allowed to do it would send. Routes not listed get
# generic_form() / generic_json(); listing a route's real body makes the matrix
# stronger, and test_write_payloads_really_write proves each listed body really writes.
WRITES: dict[str, list[Write]] = {
    "product-create": [Write("POST", lambda w: {
        "name": "Outsider product", "slug": "outsider-product", "description": "",
        "vote_threshold": "10", "is_active": "on",
    }, "platform_admin")],
    "product-edit": [Write("POST", lambda w: {
        "name": "Hijacked product", "slug": w.product_a.slug, "description": "hijacked",
        "vote_threshold": "3", "is_active": "on",
    }, "platform_admin")],
    "access-request-detail": [
        Write("POST", lambda w: {"action": "approve", "organization": w.a.pk}, "platform_admin"),
        Write("POST", lambda w: {"action": "decline", "note": "no"}, "platform_admin"),
    ],
    "organization-create": [Write("POST", lambda w: {
        "org-name": "Outsider Org", "org-slug": "outsider-org", "org-kind": "customer",
        **_contract_form(),
    }, "platform_admin")],
    "organization-edit": [Write("POST", lambda w: {
        # An outsider TAM would love to become A's TAM.
        "org-name": "Hijacked Telecom", "org-slug": w.a.slug,
        "org-tam": w.users["tam_of_b_not_a"].pk, **_contract_form(),
    }, "platform_admin")],
    "user-invite": [Write("POST", lambda w: {
        "name": "Mallory", "email": "mallory@evil.test", "roles": ["customer_admin"],
    }, "a_customer_admin")],
    "partner-link-add": [Write("POST", lambda w: {
        "partner": w.partner_x.pk, "rights": ALL_RIGHTS,
    }, "platform_admin")],
    "partner-link-remove": [Write("POST", lambda w: {}, "platform_admin")],
    "user-detail": [Write("POST", lambda w: {
        "name": "Hijacked", "timezone": "UTC", "roles": ["customer_admin"], "is_active": "on",
    }, "a_customer_admin")],
    "designated-contact-toggle": [Write("POST", lambda w: {"next": "/team/"}, "a_customer_admin")],
    "invitation-resend": [Write("POST", lambda w: {}, "a_customer_admin")],
    "token-revoke": [Write("POST", lambda w: {}, "a_customer_admin")],
    # Only the sender's own session or account: nothing an insider could show in the DB.
    "tenant-switch": [Write("POST", lambda w: {"tenant": w.a.slug, "next": "/team/"}, None)],
    "token-create": [Write("POST", lambda w: {"name": "mine"}, None)],
    "account": [Write("POST", lambda w: {"name": "Me", "timezone": "UTC"}, None)],
    # The API.
    "api:organization-list": [Write("POST", lambda w: {
        "name": "Outsider Org", "slug": "outsider-org", "kind": "customer",
    }, "platform_admin")],
    "api:organization-detail": [
        Write("PATCH", lambda w: {
            "name": "Hijacked Telecom", "tam": w.users["tam_of_b_not_a"].pk,
        }, "platform_admin"),
    ],
    "api:product-list": [Write("POST", lambda w: {
        "slug": "outsider-product", "name": "Outsider product",
    }, "platform_admin")],
    "api:product-detail": [
        Write("PATCH", lambda w: {"name": "Hijacked product"}, "platform_admin")
    ],
    "api:user-list": [Write("POST", lambda w: {
        "organization": w.a.slug, "email": "mallory@evil.test", "name": "Mallory",
        "roles": ["customer_admin"],
    }, "a_customer_admin")],
    "api:user-detail": [Write("PATCH", lambda w: {
        "name": "Hijacked", "roles": ["customer_admin"], "is_active": False,
    }, "a_customer_admin")],
    "api:token-list": [Write("POST", lambda w: {"name": "mine"}, None)],
    "api:token-detail": [Write("DELETE", lambda w: None, "a_customer_admin")],
    "api:access-request-approve": [
        Write("POST", lambda w: {"organization": w.a.slug}, "platform_admin")
    ],
    "api:access-request-decline": [Write("POST", lambda w: {"note": "no"}, "platform_admin")],
    "api:partner-link-list": [Write("POST", lambda w: {
        "partner": w.partner_x.slug, "customer": w.a.slug, "rights": ALL_RIGHTS,
    }, "platform_admin")],
    "api:partner-link-detail": [Write("DELETE", lambda w: None, "platform_admin")],
    # Notifications: one's own inbox and channel choices.
    "notification-read": [Write("POST", lambda w: {"next": "/home/"}, "a_customer_admin")],
    "notification-read-all": [Write("POST", lambda w: {}, None)],
    "notification-settings": [Write("POST", lambda w: {
        "incident.notice": ["in_app"], "maintenance.notice": ["email"], "access.requested": [],
        "incident.report": ["email"], "incident.team": ["email"], "maintenance.team": ["email"],
        "idea.moderation": ["email"], "case.update": ["email"], "case.work": ["email"],
        "case.sla": ["email"], "case.escalation": ["email"],
        "outbox.dead": ["email"],
    }, None)],
    "api:notification-read": [Write("POST", lambda w: {}, "a_customer_admin")],
    "api:notification-read-all": [Write("POST", lambda w: {}, None)],
    "api:subscription-list": [
        Write("POST", lambda w: {"event": "incident.notice", "channels": ["in_app"]}, None)
    ],
    # An organization's webhooks: an outsider would love to receive A's notices.
    "webhook-list": [Write("POST", lambda w: {
        "name": "Mallory hook", "url": "https://evil.example.test/hook", "format": "json",
    }, "a_customer_admin")],
    "webhook-detail": [Write("POST", lambda w: {
        "name": "Hijacked hook", "url": "https://evil.example.test/hook", "format": "json",
        "is_active": "on",
    }, "a_customer_admin")],
    "webhook-test": [Write("POST", lambda w: {}, "a_customer_admin")],
    "webhook-rotate-secret": [Write("POST", lambda w: {}, "a_customer_admin")],
    "webhook-delete": [Write("POST", lambda w: {}, "a_customer_admin")],
    "api:webhook-list": [Write("POST", lambda w: {
        "organization": w.a.slug, "name": "Mallory hook",
        "url": "https://evil.example.test/hook", "format": "json",
    }, "a_customer_admin")],
    "api:webhook-detail": [
        Write("PATCH", lambda w: {
            "url": "https://evil.example.test/hook", "is_active": False,
        }, "a_customer_admin"),
        Write("DELETE", lambda w: None, "a_customer_admin"),
    ],
    "api:webhook-test": [Write("POST", lambda w: {}, "a_customer_admin")],
    # The delivery dashboard: provider staff retry A's failed message.
    "delivery-retry": [Write("POST", lambda w: {"next": "/home/"}, "platform_admin")],
    "api:delivery-retry": [Write("POST", lambda w: {}, "platform_admin")],
    # The platform model: only platform administrators change it.
    "topology-geography-create": [Write("POST", lambda w: {
        "slug": "outsider-geo", "name": "Outsider geography",
    }, "platform_admin")],
    "topology-region-create": [Write("POST", lambda w: {
        "slug": "outsider-region", "name": "Outsider region", "geography": "us", "zones": 2,
    }, "platform_admin")],
    "topology-zone-create": [Write("POST", lambda w: {
        "slug": "outsider-zone", "name": "Outsider zone", "region": "us-east",
    }, "platform_admin")],
    "topology-pop-create": [Write("POST", lambda w: {
        "slug": "outsider-pop", "name": "Outsider PoP", "geography": "us",
        "regions": ["us-east"],
    }, "platform_admin")],
    "topology-geography": [Write("POST", lambda w: {"name": "Hijacked"}, "platform_admin")],
    "topology-region": [Write("POST", lambda w: {
        "name": "Hijacked", "geography": "us",
    }, "platform_admin")],
    "topology-zone": [Write("POST", lambda w: {
        "name": "Hijacked", "region": SEEDED_REGION,
    }, "platform_admin")],
    "topology-pop": [Write("POST", lambda w: {
        "name": "Hijacked", "geography": "us", "regions": ["us-west"],
    }, "platform_admin")],
    "topology-geography-delete": [Write("POST", lambda w: {}, "platform_admin")],
    "topology-region-delete": [Write("POST", lambda w: {}, "platform_admin")],
    "topology-zone-delete": [Write("POST", lambda w: {}, "platform_admin")],
    "topology-pop-delete": [Write("POST", lambda w: {}, "platform_admin")],
    "topology-area": [Write("POST", lambda w: {
        "name": "Hijacked routing", "scope": "distributed", "services": "SIP server",
        "note": "", "components-TOTAL_FORMS": 1, "components-INITIAL_FORMS": 0,
        "components-0-name": "SIP server", "components-0-availability": "99.9",
    }, "platform_admin")],
    "topology-matrix-cell": [Write("POST", lambda w: {
        f"region_failure-call_routing-{name}": "Hijacked"
        for name in ("operational", "agent", "customer")
    }, "platform_admin")],
    "topology-catalog": [Write("POST", lambda w: {
        "action": "import",
        "text": catalog_dump_yaml().replace("name: United States", "name: Hijacked States"),
    }, "platform_admin")],
    # Incidents: an outsider would love to read A's outage story or silence its notices.
    "incident-new": [Write("POST", lambda w: {
        "title": "Outsider incident", "severity": "SEV3", "scope": "tenants",
        "organizations": w.a.slug, "detected_at": _local_now(), "notify": "on",
    }, "platform_admin")],
    "incident-update": [Write("POST", lambda w: {
        "status": "identified", "body": "Hijacked update", "public": "on",
    }, "platform_admin")],
    "incident-scope": [Write("POST", lambda w: {
        "scope": "tenants", "organizations": "globex",
    }, "platform_admin")],
    "incident-tenant-text": [Write("POST", lambda w: {"impact_text": "Hijacked"},
                                   "platform_admin")],
    "incident-findings": [Write("POST", lambda w: {
        "customer_impact": "Hijacked", "report": "Hijacked report",
    }, "platform_admin")],
    "incident-report-publish": [Write("POST", lambda w: {}, "platform_admin")],
    "incident-close": [Write("POST", lambda w: {}, "platform_admin")],
    "incident-evidence": [Write("POST", lambda w: {"text": "Hijacked evidence"},
                                "platform_admin")],
    "incident-team": [Write("POST", lambda w: {
        "user": w.users["tam_of_b_not_a"].pk, "role": "care",
    }, "platform_admin")],
    "api:incident-list": [Write("POST", lambda w: {
        "title": "Outsider incident", "severity": "SEV3", "organizations": [w.a.slug],
    }, "platform_admin")],
    "api:incident-detail": [Write("PATCH", lambda w: {"title": "Hijacked"}, "platform_admin")],
    "api:incident-updates": [Write("POST", lambda w: {
        "status": "identified", "body": "Hijacked update",
    }, "platform_admin")],
    "api:incident-resolve": [Write("POST", lambda w: {"body": "Hijacked"}, "platform_admin")],
    "api:incident-close": [Write("POST", lambda w: {}, "platform_admin")],
    "api:incident-report": [Write("POST", lambda w: {}, "platform_admin")],
    "api:incident-scope": [Write("POST", lambda w: {"organizations": ["globex"]},
                                 "platform_admin")],
    "api:incident-evidence": [Write("POST", lambda w: {"text": "Hijacked evidence"},
                                    "platform_admin")],
    "api:incident-team": [Write("POST", lambda w: {
        "user": w.users["tam_of_b_not_a"].pk, "role": "care",
    }, "platform_admin")],
    # Maintenance: an outsider would love to learn A's windows or move them.
    "maintenance-new": [Write("POST", lambda w: {
        "title": "Outsider window", "impact": "Calls may drop.",
        "starts_at": _local_in(days=2), "ends_at": _local_in(days=2, hours=1),
        "owner": w.users["platform_admin"].pk, "scope": "tenants", "organizations": w.a.slug,
    }, "platform_admin")],
    "maintenance-reschedule": [Write("POST", lambda w: {
        "title": "Hijacked window", "impact": "Hijacked",
        "starts_at": _local_in(days=3), "ends_at": _local_in(days=3, hours=1),
        "owner": w.users["platform_admin"].pk,
    }, "platform_admin")],
    "maintenance-scope": [Write("POST", lambda w: {
        "scope": "tenants", "organizations": "globex",
    }, "platform_admin")],
    "maintenance-start": [Write("POST", lambda w: {}, "platform_admin")],
    "maintenance-complete": [Write("POST", lambda w: {}, "platform_admin")],
    "maintenance-cancel": [Write("POST", lambda w: {"reason": "Hijacked"}, "platform_admin")],
    "api:maintenance-list": [Write("POST", lambda w: {
        "title": "Outsider window", "impact": "Calls may drop.",
        "starts_at": _iso_in(days=2), "ends_at": _iso_in(days=2, hours=1),
        "organizations": [w.a.slug],
    }, "platform_admin")],
    "api:maintenance-detail": [Write("PATCH", lambda w: {
        "title": "Hijacked window", "starts_at": _iso_in(days=3),
        "ends_at": _iso_in(days=3, hours=1),
    }, "platform_admin")],
    "api:maintenance-start": [Write("POST", lambda w: {}, "platform_admin")],
    "api:maintenance-complete": [Write("POST", lambda w: {}, "platform_admin")],
    "api:maintenance-cancel": [Write("POST", lambda w: {"reason": "Hijacked"},
                                     "platform_admin")],
    # Problem management is the provider's: outsiders must neither read nor steer it.
    "problem-new": [Write("POST", lambda w: {
        "title": "Outsider problem", "incidents": w.incident_resolved.number,
        "owner": w.users["platform_admin"].pk,
    }, "platform_admin")],
    "problem-edit": [Write("POST", lambda w: {
        "title": "Hijacked problem", "root_cause": "Hijacked",
        "owner": w.users["platform_admin"].pk,
    }, "platform_admin")],
    "problem-transition": [Write("POST", lambda w: {"status": "root_cause_known"},
                                 "platform_admin")],
    "problem-rca": [Write("POST", lambda w: {"rca_document": "Hijacked RCA"},
                          "platform_admin")],
    "problem-rca-publish": [Write("POST", lambda w: {}, "platform_admin")],
    "problem-link": [Write("POST", lambda w: {"incident": w.incident_resolved.number},
                           "platform_admin")],
    "problem-unlink": [Write("POST", lambda w: {"incident": w.incident_reported.number},
                             "platform_admin")],
    "problem-action-item": [Write("POST", lambda w: {"done": "1"}, "platform_admin")],
    "incident-review": [Write("POST", lambda w: {
        "held_on": _local_in()[:10], "facilitator": w.users["platform_admin"].pk,
        "summary": "Hijacked review", "problem_choice": "new", "new_title": "Hijacked",
        "items-TOTAL_FORMS": 0, "items-INITIAL_FORMS": 0,
    }, "platform_admin")],
    "incident-review-action-item": [Write("POST", lambda w: {
        "new-title": "Hijacked item", "new-owner": w.users["platform_admin"].pk,
        "new-due_on": _local_in(days=7)[:10],
    }, "platform_admin")],
    "api:problem-list": [Write("POST", lambda w: {
        "title": "Outsider problem", "incidents": [w.incident_resolved.number],
    }, "platform_admin")],
    "api:problem-detail": [Write("PATCH", lambda w: {"title": "Hijacked problem"},
                                 "platform_admin")],
    "api:problem-transition": [Write("POST", lambda w: {"status": "root_cause_known"},
                                     "platform_admin")],
    "api:problem-publish-rca": [Write("POST", lambda w: {}, "platform_admin")],
    "api:problem-link": [Write("POST", lambda w: {"incident": w.incident_resolved.number},
                               "platform_admin")],
    "api:problem-unlink": [Write("POST", lambda w: {"incident": w.incident_reported.number},
                                 "platform_admin")],
    "api:problem-action-item-done": [Write("POST", lambda w: {}, "platform_admin")],
    # Held once per incident: the one here was held in the seed, so an insider's second
    # one is refused (tests/problems prove a first one writes); outsiders change nothing.
    "api:incident-review": [Write("POST", lambda w: {
        "held_on": _local_in()[:10], "facilitator": w.users["platform_admin"].pk,
        "summary": "Hijacked review", "new_problem": {"title": "Hijacked"},
    }, None)],
    "api:incident-review-action-items": [Write("POST", lambda w: {
        "title": "Hijacked item", "owner": w.users["platform_admin"].pk,
        "due_on": _local_in(days=7)[:10],
    }, "platform_admin")],
    # The Ideas Lab: A's ideas in A's own product must stay A's (and the provider's).
    "idea-new": [Write("POST", lambda w: {
        "title": "Hijacked idea", "description": "x", "product": w.product_a.slug,
        "similar_seen": "1",
    }, "a_customer_admin")],
    "idea-vote": [Write("POST", lambda w: {}, "a_customer_admin")],
    "idea-unvote": [Write("POST", lambda w: {}, "a_customer_admin")],
    "idea-follow": [Write("POST", lambda w: {"follow": "0"}, "a_customer_admin")],
    "idea-comment": [Write("POST", lambda w: {"body": "Hijacked comment"},
                           "a_customer_admin")],
    "idea-comment-mark": [Write("POST", lambda w: {"kind": "report", "reason": "Spam"},
                                "a_customer_admin")],
    "idea-comment-hide": [Write("POST", lambda w: {"reason": "Hijacked"}, "platform_admin")],
    "idea-transition": [Write("POST", lambda w: {
        "status": "declined", "message": "Hijacked", "reason": "Hijacked",
    }, "platform_admin")],
    "idea-update": [Write("POST", lambda w: {"message": "Hijacked update"}, "platform_admin")],
    "idea-merge": [Write("POST", lambda w: {"into": w.idea_a_fresh.number},
                         "platform_admin")],
    "api:idea-list": [Write("POST", lambda w: {
        "title": "Hijacked idea", "description": "x", "product": w.product_a.slug,
    }, "a_customer_admin")],
    "api:idea-vote": [
        Write("POST", lambda w: {}, "a_customer_admin"),
        Write("DELETE", lambda w: None, None),
    ],
    "api:idea-comments": [Write("POST", lambda w: {"body": "Hijacked comment"},
                                "a_customer_admin")],
    "api:idea-transition": [Write("POST", lambda w: {
        "status": "declined", "message": "Hijacked", "reason": "Hijacked",
    }, "platform_admin")],
    "api:idea-merge": [Write("POST", lambda w: {"into": w.idea_a_fresh.number},
                             "platform_admin")],
    "api:idea-update": [Write("POST", lambda w: {"message": "Hijacked update"},
                              "platform_admin")],
    "api:idea-comment-helpful": [Write("POST", lambda w: {}, "a_customer_admin")],
    "api:idea-comment-report": [Write("POST", lambda w: {"reason": "Spam"},
                                      "a_customer_admin")],
    "api:idea-comment-hide": [Write("POST", lambda w: {"reason": "Hijacked"},
                                    "platform_admin")],
    "api:vote-grant-list": [Write("POST", lambda w: {
        "user": w.admin_a.pk, "amount": 5, "reason": "Hijacked",
    }, "platform_admin")],
    # Synthetic monitoring: A's checks and the provider's probe locations.
    "check-new": [Write("POST", lambda w: {
        "organization": w.a.slug, "area": "agent_login", "name": "Hijacked check",
        "kind": "http", "target": "https://evil.test/", "interval": "300", "timeout": "10",
        "retries": "0", "failures_to_alert": "2", "successes_to_recover": "2", "quorum": "2",
        "locations": ["matrix-probe"],
    }, "platform_admin")],
    "check-edit": [Write("POST", lambda w: {
        "area": "agent_login", "name": "Hijacked check", "kind": "http",
        "target": "https://evil.test/", "interval": "300", "timeout": "10", "retries": "0",
        "failures_to_alert": "2", "successes_to_recover": "2", "quorum": "2",
        "locations": ["matrix-probe"],
    }, "platform_admin")],
    "check-pause": [Write("POST", lambda w: {}, "platform_admin")],
    "check-resume": [Write("POST", lambda w: {}, "platform_admin")],
    "check-delete": [Write("POST", lambda w: {}, "platform_admin")],
    "probe-location-list": [Write("POST", lambda w: {
        "slug": "hijacked-probe", "name": "Hijacked", "mode": "builtin",
    }, "platform_admin")],
    "probe-location-rotate": [Write("POST", lambda w: {}, "platform_admin")],
    "api:check-list": [Write("POST", lambda w: {
        "organization": w.a.slug, "area": "agent_login", "kind": "http",
        "target": "https://evil.test/",
    }, "platform_admin")],
    "api:check-detail": [
        Write("PATCH", lambda w: {"interval": 600}, "platform_admin"),
        Write("DELETE", lambda w: None, "platform_admin"),
    ],
    "api:probe-location-list": [Write("POST", lambda w: {
        "slug": "hijacked-probe", "name": "Hijacked",
    }, "platform_admin")],
    # The demo simulator (monitoring staff): break a region, mend the broken one.
    "simulator-break": [Write("POST", lambda w: {"target": "us-west"}, "platform_admin")],
    "simulator-mend": [Write("POST", lambda w: {"target": SEEDED_REGION}, "platform_admin")],
    # Customer Care pages: A's cases, each action on a case in the state it needs.
    "case-new": [Write("POST", lambda w: {
        "product": w.product_a.slug, "deployment": "cloud", "criticality": "3",
        "summary": "Hijacked case", "description": "x",
    }, "a_designated_contact")],
    "case-comment": [Write("POST", lambda w: {"body": "Hijacked comment"},
                           "a_designated_contact")],
    "case-request-info": [Write("POST", lambda w: {"body": "Hijacked?"}, "platform_admin")],
    "case-provide-info": [Write("POST", lambda w: {"body": "Hijacked info"},
                                "a_designated_contact")],
    "case-propose-solution": [Write("POST", lambda w: {"body": "Hijacked"}, "platform_admin")],
    "case-confirm": [Write("POST", lambda w: {}, "a_designated_contact")],
    "case-reject-solution": [Write("POST", lambda w: {"reason": "Hijacked"},
                                   "a_designated_contact")],
    "case-close": [Write("POST", lambda w: {
        "root_cause": "Hijacked", "new_title": "Hijacked", "new_body": "x",
        "new_visibility": "public",
    }, "platform_admin")],
    "case-reopen": [Write("POST", lambda w: {"reason": "Hijacked"}, "a_designated_contact")],
    "case-assign": [Write("POST", lambda w: {
        "analyst": w.users["tam_of_a"].pk, "note": "Hijacked",
    }, "platform_admin")],
    "case-collaborators": [Write("POST", lambda w: {"user": w.users["tam_of_a"].pk},
                                 "platform_admin")],
    "case-criticality": [Write("POST", lambda w: {"criticality": "1", "reason": "Hijacked"},
                               "platform_admin")],
    "case-escalate": [Write("POST", lambda w: {"business_impact": "Hijacked"},
                            "a_designated_contact")],
    "case-acknowledge-escalation": [Write("POST", lambda w: {
        "next_steps": "Hijacked", "communication_plan": "Hijacked",
    }, "platform_admin")],
    "kb-new": [Write("POST", lambda w: {"title": "Hijacked KB", "body": "x",
                                        "visibility": "public"}, "platform_admin")],
    "kb-edit": [Write("POST", lambda w: {"title": "Hijacked", "body": "x",
                                         "visibility": "public"}, "platform_admin")],
    "hotfix-new": [Write("POST", lambda w: {
        "product": w.product_a.slug, "version": "6.6", "description": "Hijacked",
        "cases": w.case_a.number,
    }, "platform_admin")],
    "hotfix-release": [Write("POST", lambda w: {}, "platform_admin")],
    # The Care set-up (care managers): groups, experts, required facts, escalation contacts.
    "care-group-new": [Write("POST", lambda w: {
        "name": "Hijacked group", "slug": "hijacked", "timezone": "UTC", "country": "US",
        "day_start": "08:00", "day_end": "18:00", "workdays": "0",
    }, "platform_admin")],
    "care-group-edit": [Write("POST", lambda w: {
        "name": "Hijacked group", "slug": w.care_group.slug, "timezone": "UTC",
        "country": "US", "day_start": "08:00", "day_end": "18:00", "workdays": "0",
    }, "platform_admin")],
    "care-expert-new": [Write("POST", lambda w: {
        "user": w.users["tam_of_a"].pk, "group": w.care_group.pk, "timezone": "UTC",
        "country": "US", "shift_start": "08:00", "shift_end": "17:00", "workdays": "0",
        "max_open_cases": "5",
    }, "platform_admin")],
    "care-expert-edit": [Write("POST", lambda w: {
        "group": w.care_group.pk, "timezone": "UTC", "country": "US",
        "shift_start": "09:00", "shift_end": "17:00", "workdays": "0", "max_open_cases": "5",
    }, "platform_admin")],
    "care-requirement-add": [Write("POST", lambda w: {
        "product": w.product_a.slug, "name": "trunk_id", "label": "Trunk",
    }, "platform_admin")],
    "care-requirement-remove": [Write("POST", lambda w: {}, "platform_admin")],
    "care-escalation-contact": [Write("POST", lambda w: {
        "manager": w.users["platform_admin"].pk, "phone": "+1 555 0666",
    }, "platform_admin")],
    # Customer Care over the API: A's cases, each action on a case in the state it needs.
    "api:case-list": [Write("POST", lambda w: {
        "product": w.product_a.slug, "deployment": "cloud", "criticality": 3,
        "summary": "Hijacked case", "description": "x",
    }, "a_designated_contact")],
    "api:case-comments": [Write("POST", lambda w: {"body": "Hijacked comment"},
                                "a_designated_contact")],
    "api:case-request-info": [Write("POST", lambda w: {"body": "Hijacked?"}, "platform_admin")],
    "api:case-provide-info": [Write("POST", lambda w: {"body": "Hijacked info"},
                                    "a_designated_contact")],
    "api:case-propose-solution": [Write("POST", lambda w: {"body": "Hijacked"},
                                        "platform_admin")],
    "api:case-confirm": [Write("POST", lambda w: {}, "a_designated_contact")],
    "api:case-reject-solution": [Write("POST", lambda w: {"reason": "Hijacked"},
                                       "a_designated_contact")],
    "api:case-close": [Write("POST", lambda w: {
        "root_cause": "Hijacked", "new_kb_article": {"title": "Hijacked", "body": "x"},
    }, "platform_admin")],
    "api:case-reopen": [Write("POST", lambda w: {"reason": "Hijacked"}, "a_designated_contact")],
    "api:case-assign": [Write("POST", lambda w: {
        "analyst": w.users["tam_of_a"].pk, "note": "Hijacked",
    }, "platform_admin")],
    "api:case-collaborators": [Write("POST", lambda w: {"user": w.users["tam_of_a"].pk},
                                     "platform_admin")],
    "api:case-criticality": [Write("POST", lambda w: {"criticality": 1, "reason": "Hijacked"},
                                   "platform_admin")],
    "api:case-escalate": [Write("POST", lambda w: {"business_impact": "Hijacked"},
                                "a_designated_contact")],
    "api:case-acknowledge-escalation": [Write("POST", lambda w: {
        "next_steps": "Hijacked", "communication_plan": "Hijacked",
    }, "platform_admin")],
    "api:kb-list": [Write("POST", lambda w: {"title": "Hijacked KB", "body": "x"},
                          "platform_admin")],
    "api:kb-detail": [Write("PATCH", lambda w: {"title": "Hijacked"}, "platform_admin")],
    "api:hotfix-list": [Write("POST", lambda w: {
        "product": w.product_a.slug, "version": "6.6", "description": "Hijacked",
        "cases": [w.case_a.number],
    }, "platform_admin")],
    "api:hotfix-release": [Write("POST", lambda w: {}, "platform_admin")],
    "idea-grants": [Write("POST", lambda w: {
        "email": w.admin_a.email, "amount": 5, "reason": "Hijacked",
    }, "platform_admin")],
    # A tenant's status feed URL: its administrator may renew it (the old URL dies).
    "status-feed-renew": [Write("POST", lambda w: {}, "a_customer_admin")],
    # A's deployment: an outsider would love to move it (and so change its impact).
    "topology-deployment-edit": [Write("POST", lambda w: {
        "primary_region": "eu-west-1", "secondary_region": "", "connectivity": "internet",
        "pops": ["pop-london", "pop-frankfurt"], "areas": ["call_routing"],
    }, "platform_admin")],
}


def _local_now() -> str:
    from django.utils import timezone

    return timezone.localtime().strftime("%Y-%m-%dT%H:%M")


def _local_in(**delta) -> str:
    import datetime

    from django.utils import timezone

    return (timezone.localtime() + datetime.timedelta(**delta)).strftime("%Y-%m-%dT%H:%M")


def _iso_in(**delta) -> str:
    import datetime

    from django.utils import timezone

    return (timezone.now() + datetime.timedelta(**delta)).isoformat()


def generic_form(w: World) -> dict[str, Any]:
    return {
        "name": "Hijacked", "title": "Hijacked", "organization": w.a.pk, "tenant": w.a.slug,
        "customer": w.a.pk, "user": w.invitee_a.pk, "email": "mallory@evil.test",
        "roles": ["customer_admin"], "action": "approve", "note": "x", "next": "/home/",
    }


def generic_json(w: World) -> dict[str, Any]:
    return {
        "name": "Hijacked", "title": "Hijacked", "organization": w.a.slug,
        "customer": w.a.slug, "user": w.invitee_a.pk, "email": "mallory@evil.test",
        "roles": ["customer_admin"], "is_active": False,
    }


# --- The routes ------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str | None  # namespaced, e.g. "api:user-detail"
    template: str  # the joined patterns, e.g. "tenants/<slug:org>/edit/"
    levels: tuple  # the pattern objects from the root resolver down
    params: tuple[str, ...]
    callback: Any

    @property
    def id(self) -> str:
        return self.name or self.template or "/"

    @property
    def is_api(self) -> bool:
        return self.template.startswith("api/")

    @property
    def methods(self) -> tuple[str, ...]:
        return API_METHODS if self.is_api else PAGE_METHODS

    def is_public(self, method: str) -> bool:
        return method in PUBLIC.get(self.name or "", frozenset())

    def url(self, values: dict[str, Any]) -> str:
        return "/" + "".join(_fill(level, values) for level in self.levels)


def _fill(pattern, values: dict[str, Any]) -> str:
    def value(match: re.Match) -> str:
        return quote(str(values[match.group(1)]), safe="")

    text = str(pattern)
    if isinstance(pattern, RoutePattern):
        return re.sub(r"<(?:[^>:]+:)?(\w+)>", value, text)
    if isinstance(pattern, RegexPattern):
        text = re.sub(r"\(\?P<(\w+)>[^)]*\)", value, text)
        return text.removeprefix("^").removesuffix("$").replace("\\", "")
    raise TypeError(f"Unknown pattern type {type(pattern).__name__} for {text!r}")


def _params_of(pattern) -> list[str]:
    regex = pattern.regex
    if regex.groups != len(regex.groupindex):
        return ["<an unnamed regex group>"]
    return list(regex.groupindex)


def discover_routes() -> list[Route]:
    routes: list[Route] = []

    def walk(resolver: URLResolver, levels: tuple, namespaces: tuple[str, ...]) -> None:
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                ns = (*namespaces, entry.namespace) if entry.namespace else namespaces
                walk(entry, (*levels, entry.pattern), ns)
            elif isinstance(entry, URLPattern):
                all_levels = (*levels, entry.pattern)
                name = ":".join((*namespaces, entry.name)) if entry.name else None
                routes.append(
                    Route(
                        name=name,
                        template="".join(str(p) for p in all_levels),
                        levels=all_levels,
                        params=tuple(p for level in all_levels for p in _params_of(level)),
                        callback=entry.callback,
                    )
                )

    walk(get_resolver(), (), ())
    return routes


ROUTES = discover_routes()
ROUTES_BY_NAME = {r.name: r for r in ROUTES if r.name}


class UnknownParameter(Exception):
    pass


def targets_of(route: Route, w: World) -> list[dict[str, Target]]:
    """The parameter sets naming A's objects on this route ([{}] without parameters)."""
    if not route.params:
        return [{}]
    if route.name in ROUTE_PARAMS:
        combos = ROUTE_PARAMS[route.name](w)
        for combo in combos:
            if set(combo) != set(route.params):
                raise UnknownParameter(
                    f"ROUTE_PARAMS[{route.name!r}] gives {sorted(combo)} but the route takes "
                    f"{sorted(route.params)}: update it in {__file__}."
                )
        return combos
    if "number" in route.params:
        others = [p for p in route.params if p != "number"]
        unknown = [p for p in others if p not in OBJECT_PARAMS]
        if not unknown:
            return [
                {"number": number, **{p: OBJECT_PARAMS[p](w) for p in others}}
                for number in number_targets(route, w)
            ]
    unknown = [p for p in route.params if p not in OBJECT_PARAMS]
    if unknown:
        raise UnknownParameter(
            f"Route {route.id!r} ({route.template}) takes URL parameter(s) {unknown} that the "
            f"authorization matrix has no value for. Add tenant A's value for each to "
            f"OBJECT_PARAMS (if the name always means the same kind of object) or the route "
            f"to ROUTE_PARAMS (generic names like pk/slug) in {__file__}, and seed the "
            f"object in _seed_world()."
        )
    return [{p: OBJECT_PARAMS[p](w) for p in route.params}]


def bogus(target: Target) -> str:
    return "987654321" if str(target.value).isdigit() else "no-such-object-404"


# --- The world -------------------------------------------------------------------------

OUTSIDERS = (
    "b_customer_member",
    "b_designated_contact",
    "b_customer_admin",
    "partner_of_b_not_a",
    "tam_of_b_not_a",
)
BEARER_OUTSIDERS = ("b_customer_admin",)


def _seed_world() -> World:
    provider = Organization.objects.get(kind=OrganizationKind.PROVIDER)
    root = UserFactory(
        email="root@provider.test", name="Root Admin", organization=provider,
        roles=[Role.PLATFORM_ADMIN],
    )
    tam_a = UserFactory(
        email="tam-a@provider.test", name="Tam Ayers", organization=provider, roles=[Role.TAM]
    )
    tam_b = UserFactory(
        email="tam-b@provider.test", name="Tess Otherton", organization=provider,
        roles=[Role.TAM],
    )
    shared = services.product_create(
        actor=root, slug="shared-cloud", name="Shared Cloud", vote_threshold=10
    )
    product_a = services.product_create(
        actor=root, slug="quagga-product-voice", name="QUAGGA-PRODUCT Voice", vote_threshold=10
    )
    a = services.organization_create(
        actor=root, name="ZEBRA-A-SECRET Telecom", kind=OrganizationKind.CUSTOMER,
        slug="zebra-a-secret", platforms=[product_a, shared], tam=tam_a,
    )
    services.organization_update(actor=root, organization=a, contract={"notice_minutes": 10})
    b = services.organization_create(
        actor=root, name="Globex Insurance", kind=OrganizationKind.CUSTOMER, slug="globex",
        platforms=[shared], tam=tam_b,
    )
    partner_a = services.organization_create(
        actor=root, name="ZEBRA-A-SECRET Channel Partner", kind=OrganizationKind.PARTNER,
        slug="zebra-a-secret-partner",
    )
    partner_x = services.organization_create(
        actor=root, name="Initech Partners", kind=OrganizationKind.PARTNER, slug="initech"
    )
    link_a = services.partner_link_set(
        actor=root, partner=partner_a, customer=a,
        rights=["view_tenant", "view_audit", "manage_users"],
    )
    # The unlinked partner is a real partner: it acts for B, with every right.
    services.partner_link_set(actor=root, partner=partner_x, customer=b, rights=ALL_RIGHTS)

    admin_a = services.user_invite(
        actor=root, organization=a, email="ada@zebra-a-secret.test",
        name="Ada ZEBRA-A-SECRET", roles=[Role.CUSTOMER_ADMIN], password=PASSWORD,
    )
    member_a = services.user_invite(
        actor=admin_a, organization=a, email="moe@zebra-a-secret.test",
        name="Moe ZEBRA-A-SECRET", roles=[Role.CUSTOMER_MEMBER], password=PASSWORD,
    )
    services.user_update(
        actor=admin_a, user=member_a, roles=[Role.CUSTOMER_MEMBER, Role.DESIGNATED_CONTACT]
    )
    invitee_a = services.user_invite(  # no password: invitation pending, an outbox row
        actor=admin_a, organization=a, email="ivy@zebra-a-secret.test",
        name="Ivy ZEBRA-A-SECRET", roles=[Role.CUSTOMER_MEMBER],
    )
    services.user_invite(
        actor=root, organization=partner_a, email="pat@zebra-a-secret-partner.test",
        name="Pat ZEBRA-A-SECRET", roles=[Role.PARTNER_USER], password=PASSWORD,
    )
    token_a, _ = services.token_create(actor=admin_a, name="ZEBRA-A-SECRET nightly export")
    request_pending = services.access_request_submit(
        name="Zed ZEBRA-A-SECRET", email="zed@zebra-a-secret-prospect.test",
        company="ZEBRA-A-SECRET Prospect", kind=OrganizationKind.CUSTOMER,
        message="ZEBRA-A-SECRET would like access.",
    )
    request_approved = services.access_request_submit(
        name="Nia ZEBRA-A-SECRET", email="nia@zebra-a-secret.test",
        company="ZEBRA-A-SECRET Telecom", kind=OrganizationKind.CUSTOMER,
    )
    request_approved = services.access_request_approve(
        actor=root, access_request=request_approved, organization=a
    )

    users = {
        "platform_admin": root,
        "a_customer_admin": admin_a,
        "b_customer_member": UserFactory(
            email="bob@globex.test", name="Bob Member", organization=b,
            roles=[Role.CUSTOMER_MEMBER],
        ),
        "b_designated_contact": UserFactory(
            email="dee@globex.test", name="Dee Contact", organization=b,
            roles=[Role.CUSTOMER_MEMBER, Role.DESIGNATED_CONTACT],
        ),
        "b_customer_admin": UserFactory(
            email="bea@globex.test", name="Bea Admin", organization=b,
            roles=[Role.CUSTOMER_ADMIN],
        ),
        "partner_of_b_not_a": UserFactory(
            email="pia@initech.test", name="Pia Partner", organization=partner_x,
            roles=[Role.PARTNER_USER],
        ),
        "tam_of_b_not_a": tam_b,
    }
    bearer = {key: services.token_create(actor=users[key], name="script")[1]
              for key in BEARER_OUTSIDERS}

    # Notifications: a webhook of A with a failed delivery, and an unread in-app notice.
    webhook_a = notify_services.webhook_create(
        actor=admin_a, organization=a, name="ZEBRA-A-SECRET pager hook",
        url="https://hooks.zebra-a-secret.test/caredeck", events=["incident.notice"],
    )
    (message_a,) = notify_services.notify_webhooks(
        event="incident.notice", organization=a, dedupe_base="zebra-a-secret-inc-1",
        subject="ZEBRA-A-SECRET Telecom: calls fail in us-east",
        text="ZEBRA-A-SECRET agents cannot place calls.",
    )
    WebhookDelivery.objects.create(
        endpoint=webhook_a, message=message_a, status_code=500, duration_ms=80,
        error="HTTP 500 from hooks.zebra-a-secret.test",
    )
    OutboundMessage.objects.filter(pk=message_a.pk).update(
        status=MessageStatus.FAILED, attempts=1,
        last_error="HTTP 500 from hooks.zebra-a-secret.test",
    )
    message_a.refresh_from_db()
    notification_a = InAppNotification.objects.create(
        user=admin_a, event="incident.notice",
        title="ZEBRA-A-SECRET Telecom: calls fail in us-east", url="/home/",
    )

    # The platform: A and B both run primarily in us-east, so an answer computed for B
    # is computed beside A's; a few catalog elements nobody uses, to edit and delete.
    for organization, connectivity in ((a, "private_line"), (b, "internet")):
        deployment_set(
            actor=root, organization=organization, primary_region="us-east",
            secondary_region="us-west", pops=["pop-ashburn", "pop-san-jose"],
            connectivity=connectivity, areas=["call_routing", "agent_login", "reporting"],
        )
    geography_create(actor=root, slug=SEEDED_GEOGRAPHY, name="Matrix geography")
    region_create(actor=root, slug=SEEDED_REGION, name="Matrix region", geography="us")
    pop_create(actor=root, slug=SEEDED_POP, name="Matrix PoP", geography="us",
               regions=[SEEDED_REGION])
    cell = FailureImpact.objects.get(
        failure_type__slug="region_failure", area__slug="call_routing"
    )

    # Incidents: one of A alone, one A shares with B (A's texts and an internal note
    # carry the marker), and two resolved ones of A for the report and close routes.
    def declare(title, organizations):
        return incident_services.incident_declare(
            actor=root, title=title, severity="SEV2", organizations=organizations,
            areas=["call_routing"],
        )

    incident_a = declare("ZEBRA-A-SECRET trunk down", [a.slug])
    incident_shared = declare("Call routing degraded", [a.slug, b.slug])
    incident_services.incident_tenant_text_set(
        actor=root, incident=incident_shared, organization=a,
        impact_text="ZEBRA-A-SECRET queues in Paris ring out.",
    )
    incident_services.incident_update_post(
        actor=root, incident=incident_shared, status="investigating",
        body="ZEBRA-A-SECRET asked for a callback.", public=False,
    )
    evidence_a = incident_services.incident_evidence_add(
        actor=root, incident=incident_a, text="ZEBRA-A-SECRET SIP trace",
        upload=SimpleUploadedFile("zebra-a-secret-sip.log", b"INVITE sip:zebra-a-secret"),
    )
    incident_resolved = declare("ZEBRA-A-SECRET recordings late", [a.slug])
    incident_services.incident_resolve(actor=root, incident=incident_resolved, body="Fixed.")
    incident_services.incident_findings_set(
        actor=root, incident=incident_resolved, report="ZEBRA-A-SECRET report draft",
    )
    incident_reported = declare("ZEBRA-A-SECRET IVR silent", [a.slug])
    incident_services.incident_resolve(actor=root, incident=incident_reported, body="Fixed.")
    incident_services.incident_findings_set(
        actor=root, incident=incident_reported, report="ZEBRA-A-SECRET report",
    )
    incident_services.incident_report_publish(actor=root, incident=incident_reported)

    # Maintenance windows: A's own, one shared with B, one about to start, one running.
    def window(title, organizations, starts_in, hours=2):
        import datetime

        from django.utils import timezone

        starts = timezone.now() + starts_in
        return maintenance_services.maintenance_schedule(
            actor=root, title=title, impact="Calls may drop for a minute.",
            starts_at=starts, ends_at=starts + datetime.timedelta(hours=hours),
            organizations=organizations, areas=["call_routing"],
        )

    import datetime as _dt

    maintenance_a = window("ZEBRA-A-SECRET SBC upgrade", [a.slug], _dt.timedelta(days=2))
    maintenance_shared = window("Router firmware", [a.slug, b.slug], _dt.timedelta(days=2))
    MaintenanceTenant.objects.filter(maintenance=maintenance_shared, organization=a).update(
        impact_text="ZEBRA-A-SECRET Paris queues pause."
    )
    maintenance_soon = window("ZEBRA-A-SECRET trunk swap", [a.slug], _dt.timedelta(minutes=30))
    maintenance_running = window("ZEBRA-A-SECRET IVR patch", [a.slug], _dt.timedelta(minutes=20))
    maintenance_services.maintenance_start(actor=root, maintenance=maintenance_running)
    FeedToken.objects.create(organization=a)

    # The Ideas Lab: two ideas in A's own product, one in the product A and B share.
    idea_a = idea_services.idea_submit(
        actor=member_a, product=product_a, title="ZEBRA-A-SECRET callback slots",
        description="ZEBRA-A-SECRET agents need callback slots.",
    )
    idea_services.vote_cast(actor=admin_a, idea=idea_a)
    comment_a = idea_services.comment_add(
        actor=member_a, idea=idea_a, body="ZEBRA-A-SECRET work-around: use queues.",
        workaround=True,
    )
    idea_a_fresh = idea_services.idea_submit(
        actor=member_a, product=product_a, title="ZEBRA-A-SECRET IVR themes",
        description="ZEBRA-A-SECRET wants themes.",
    )
    idea_shared = idea_services.idea_submit(
        actor=member_a, product=shared, title="Wallboard dark mode",
        description="Easier on the eyes at night.", anonymous=True,
    )

    # Problem management: the review of A's reported incident opens A's problem.
    from django.utils import timezone

    today = timezone.localdate()
    review = problem_services.review_hold(
        actor=root, incident=incident_reported, held_on=today, facilitator=root,
        summary="ZEBRA-A-SECRET review",
        action_items=[{"title": "ZEBRA-A-SECRET alarm", "owner": root,
                       "due_on": today + _dt.timedelta(days=7)}],
        new_problem={"title": "ZEBRA-A-SECRET trunk flaps", "root_cause": "Firmware",
                     "workaround": "Pin the trunk"},
    )
    problem_a = review.incident.problem
    problem_a = problem_services.problem_update(
        actor=root, problem=problem_a, rca_document="Firmware bug in the SBC.",
    )
    action_item_a = review.action_items.get()

    # Customer Care: A's designated contact opens cases; the platform admin works them.
    care_group = SupportGroup.objects.create(slug="matrix-care", name="Matrix Care",
                                             is_default=True)
    expert = Expert.objects.create(user=root, group=care_group, timezone="UTC")
    EscalationContact.objects.create(deployment="cloud", manager=root, phone="+1 555 0100")

    def case(summary: str) -> Case:
        return case_services.case_open(
            actor=member_a, organization=a, product=product_a, deployment="cloud",
            criticality=2, summary=f"ZEBRA-A-SECRET {summary}",
            description="ZEBRA-A-SECRET agents see error 503.",
        )

    case_a = case("login fails")
    case_services.case_comment(actor=root, case=case_a, body="ZEBRA-A-SECRET internal note",
                               internal=True)
    case_services.case_comment(
        actor=member_a, case=case_a, body="Trace attached.",
        attachments=[SimpleUploadedFile("zebra-a-secret-trace.log", b"ZEBRA-A-SECRET 503")],
    )
    attachment_a = case_a.attachments.get()
    case_info = case("recordings missing")
    case_services.case_request_info(actor=root, case=case_info, body="Which queue?")
    case_proposed = case("wallboard blank")
    case_services.case_propose_solution(actor=root, case=case_proposed, body="Clear cache.")
    case_confirmed = case("IVR prompt silent")
    case_services.case_propose_solution(actor=root, case=case_confirmed, body="Re-upload.")
    case_services.case_confirm(actor=member_a, case=case_confirmed)
    case_closed = case("CTI drops")
    case_services.case_propose_solution(actor=root, case=case_closed, body="Patch.")
    case_services.case_confirm(actor=member_a, case=case_closed)
    case_closed = case_services.case_close(
        actor=root, case=case_closed, root_cause="ZEBRA-A-SECRET firmware",
        new_kb_article={"title": "ZEBRA-A-SECRET CTI drops", "body": "ZEBRA-A-SECRET fix",
                        "visibility": "internal"},
        hotfix={"product": product_a.slug, "version": "9.1",
                "description": "ZEBRA-A-SECRET CTI keep-alive"},
    )
    case_escalated = case("outage at peak")
    case_services.case_escalate(actor=member_a, case=case_escalated,
                                business_impact="ZEBRA-A-SECRET loses orders")
    # A fact A's product asks for (after the cases above, which it would hold up).
    requirement = CaseRequirement.objects.create(
        product=product_a, name="zebra_trunk", label="ZEBRA-A-SECRET trunk"
    )
    users["a_designated_contact"] = member_a

    probe_location, _ = monitoring_services.location_create(
        actor=root, slug="matrix-probe", name="Matrix probe", pop="pop-ashburn")
    agent_location, _ = monitoring_services.location_create(
        actor=root, slug="matrix-agent", name="Matrix agent", mode="agent", pop="pop-san-jose")
    check_a = monitoring_services.check_create(
        actor=root, organization=a, name="ZEBRA-A-SECRET agent desktop", area="agent_login",
        kind="http", target="https://desktop.zebra-a-secret.test/health",
        assertions=[{"type": "status", "value": 200}],
        locations=["matrix-probe", "matrix-agent"],
    )
    check_paused = monitoring_services.check_create(
        actor=root, organization=a, name="ZEBRA-A-SECRET IVR", area="call_routing",
        kind="sip_options", target="sip:ivr@zebra-a-secret.test", locations=["matrix-probe"],
    )
    check_paused = monitoring_services.check_update(actor=root, check=check_paused,
                                                   is_active=False)
    # The demo simulator: a region "broken" on its page (to be mended).
    SimulatedOutage.objects.create(target=SEEDED_REGION, started_by=root)
    CheckResult.objects.create(
        synthetic_check=check_a, location=probe_location, started_at=timezone.now(),
        ok=False, status_code=503, error="ZEBRA-A-SECRET answered 503",
        evidence="HTTP/1.1 503 ZEBRA-A-SECRET maintenance page",
    )
    users["tam_of_a"] = tam_a
    return World(
        a=a, b=b, partner_a=partner_a, partner_x=partner_x, product_a=product_a,
        link_a=link_a, admin_a=admin_a, invitee_a=invitee_a, token_a=token_a,
        request_pending=request_pending, request_approved=request_approved,
        webhook_a=webhook_a, message_a=message_a, notification_a=notification_a,
        cell=cell, users=users, bearer=bearer, incident_a=incident_a,
        incident_shared=incident_shared, incident_resolved=incident_resolved,
        incident_reported=incident_reported, evidence_a=evidence_a,
        maintenance_a=maintenance_a, maintenance_shared=maintenance_shared,
        maintenance_soon=maintenance_soon, maintenance_running=maintenance_running,
        problem_a=problem_a, action_item_a=action_item_a, idea_a=idea_a,
        idea_a_fresh=idea_a_fresh, idea_shared=idea_shared, comment_a=comment_a,
        case_a=case_a, case_info=case_info, case_proposed=case_proposed,
        case_confirmed=case_confirmed, case_closed=case_closed, case_escalated=case_escalated,
        attachment_a=attachment_a, kb_a=case_closed.kb_article, hotfix_a=case_closed.hotfix,
        care_group=care_group, expert=expert, requirement=requirement,
        check_a=check_a, probe_location=probe_location, agent_location=agent_location,
        check_paused=check_paused,
    )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Seeded once for the module, rolled back after it; tests run in savepoints."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield _seed_world()
        transaction.set_rollback(True)


# --- The state that must not change ----------------------------------------------------


def fingerprint(actor: User | None) -> dict[str, frozenset]:
    """What outsiders must not change; the actor's own user, tokens, inbox and channel
    choices are left out, and so are the webhooks of the actor's own organization."""
    me = actor.pk if actor is not None else None
    email = actor.email if actor is not None else None
    own_org = actor.organization_id if actor is not None else None
    audit = AuditEntry.objects.exclude(object_kind="user", object_id=str(me))
    # Knowledge written and fixes logged by the actor (provider staff) are their own.
    audit = audit.exclude(actor_id=me, object_kind__in=("kb", "hotfix"), action__in=(
        "created", "logged"))
    webhooks = WebhookEndpoint.objects.all()
    feeds = FeedToken.objects.all()
    if own_org is not None:
        feeds = feeds.exclude(organization_id=own_org)
        audit = audit.exclude(object_kind="webhook", organization_id=own_org)
        # Renewing one's own tenant's status feed URL is one's own business.
        audit = audit.exclude(action="status_feed_renewed", organization_id=own_org)
        webhooks = webhooks.exclude(organization_id=own_org)

    def rows(queryset, *fields) -> frozenset:
        return frozenset(
            tuple(json.dumps(v, sort_keys=True, default=str) if isinstance(v, dict | list)
                  else v for v in row)
            for row in queryset.values_list(*fields)
        )

    contract_fields = [f.name for f in Contract._meta.concrete_fields]
    cases = Case.objects.all()
    if own_org is not None:
        cases = cases.exclude(organization_id=own_org)
    return {
        "audit entries": rows(
            audit, "id", "organization__slug", "object_kind", "object_id", "action",
            "actor__email",
        ),
        "organizations": rows(Organization.objects, "slug", "name", "kind", "tam_id", "is_active"),
        "contracts": rows(Contract.objects, *contract_fields),
        "platforms": rows(Organization.platforms.through.objects, "organization_id", "product_id"),
        "users": rows(
            User.objects.exclude(pk=me), "id", "email", "name", "organization_id", "is_active",
            "timezone", "invited_at", "password",
        ),
        "role grants": rows(RoleGrant.objects, "user_id", "role"),
        "api tokens": rows(ApiToken.objects.exclude(user_id=me), "id", "user_id", "revoked_at"),
        "partner links": rows(PartnerLink.objects, "partner_id", "customer_id", "rights"),
        "access requests": rows(
            AccessRequest.objects, "id", "status", "organization_id", "decided_by_id", "user_id"
        ),
        "products": rows(
            Product.objects, "slug", "name", "description", "vote_threshold", "is_active"
        ),
        "outbound messages": rows(
            OutboundMessage.objects.exclude(recipient=email), "id", "recipient", "event",
            "organization__slug", "status",
        ),
        "webhooks": rows(
            webhooks, "id", "organization_id", "name", "url", "format", "events", "is_active",
            "secret",
        ),
        "in-app notifications": rows(
            InAppNotification.objects.exclude(user_id=me), "id", "user_id", "read_at"
        ),
        "subscriptions": rows(Subscription.objects.exclude(user_id=me), "user_id", "event",
                              "channels"),
        "geographies": rows(Geography.objects, "slug", "name"),
        "regions": rows(Region.objects, "slug", "name", "geography__slug"),
        "zones": rows(Zone.objects, "slug", "name", "region__slug"),
        "PoPs": rows(Pop.objects, "slug", "name", "geography__slug"),
        "PoP links": rows(Pop.regions.through.objects, "pop__slug", "region__slug"),
        "functional areas": rows(
            FunctionalArea.objects, "slug", "name", "scope", "home_region__slug",
            "standby_region__slug", "services", "components", "note", "position",
        ),
        "failure types": rows(FailureType.objects, "slug", "name", "element", "connectivity"),
        "matrix cells": rows(
            FailureImpact.objects, "failure_type__slug", "area__slug", "operational", "agent",
            "customer", "data_lost", "delayed", "service_unavailable",
        ),
        "deployments": rows(
            Deployment.objects, "organization__slug", "primary_region__slug",
            "secondary_region__slug", "connectivity",
        ),
        "deployment PoPs": rows(
            Deployment.pops.through.objects, "deployment__organization__slug", "pop__slug"
        ),
        "deployment areas": rows(
            Deployment.areas.through.objects, "deployment__organization__slug",
            "functionalarea__slug",
        ),
        "incidents": rows(
            Incident.objects, "number", "title", "severity", "status", "manager_id",
            "failure_target", "customer_impact", "technical_description", "report",
            "report_published_at", "closed_at",
        ),
        "affected tenants": rows(
            AffectedTenant.objects, "incident_id", "organization_id", "impact_text",
            "removed_at", "due_at",
        ),
        "incident updates": rows(IncidentUpdate.objects, "id", "body", "public"),
        "incident timeline": rows(TimelineEvent.objects, "id", "kind", "text"),
        "incident notices": rows(Notice.objects, "id", "organization_id", "kind"),
        "incident teams": rows(TeamMember.objects, "incident_id", "user_id", "role"),
        "maintenance windows": rows(
            Maintenance.objects, "number", "title", "impact", "starts_at", "ends_at", "status",
            "owner_id", "sequence",
        ),
        "maintenance tenants": rows(
            MaintenanceTenant.objects, "maintenance_id", "organization_id", "impact_text",
            "removed_at",
        ),
        "maintenance clocks": rows(MaintenanceClock.objects, "id", "kind", "due_at", "done_at"),
        "maintenance notices": rows(MaintenanceNotice.objects, "id", "organization_id", "kind"),
        "status feed tokens": rows(feeds, "organization_id", "token"),
        "problems": rows(
            Problem.objects, "number", "title", "status", "root_cause", "rca_document",
            "rca_published_at", "owner_id",
        ),
        "problem links": rows(Incident.objects, "number", "problem_id"),
        "reviews": rows(PostIncidentReview.objects, "incident_id", "summary"),
        "action items": rows(ActionItem.objects, "id", "title", "done_at", "problem_id"),
        # An idea A shares with B may get B's own votes, comments and marks (those are
        # B's business); A's ideas, and everything by A's people, must not change.
        "ideas": rows(Idea.objects.exclude(author_id=me) if me else Idea.objects,
                      "number", "title", "status", "merged_into_id", "product_id"),
        "idea votes": rows(Vote.objects.exclude(user_id=me), "idea_id", "user_id",
                           "returned_at"),
        "idea comments": rows(IdeaComment.objects.exclude(author_id=me), "id", "idea_id",
                              "body", "hidden_at"),
        "idea comment marks": rows(CommentMark.objects.exclude(user_id=me), "comment_id",
                                   "user_id", "kind"),
        "idea followers": rows(IdeaSubscription.objects.exclude(user_id=me), "idea_id",
                               "user_id"),
        "idea updates": rows(IdeaUpdate.objects, "idea_id", "to_status", "message"),
        "vote grants": rows(VoteGrant.objects, "user_id", "amount", "reason"),
        # An outsider may open and work its own organization's cases; A's must not move.
        "cases": rows(
            cases, "number", "organization_id", "status", "criticality", "summary", "owner_id",
            "group_id", "root_cause", "kb_article_id", "hotfix_id", "closed_at", "facts",
        ),
        "case collaborators": rows(Case.collaborators.through.objects.filter(case__in=cases),
                                   "case_id", "user_id"),
        "case events": rows(CaseEvent.objects.filter(case__in=cases), "id", "kind", "body"),
        "case attachments": rows(CaseAttachment.objects.filter(case__in=cases), "id", "name"),
        "case escalations": rows(
            CaseEscalation.objects.filter(case__in=cases), "id", "acknowledged_at", "next_steps"
        ),
        # Provider staff (a TAM of B) may write knowledge and log fixes of their own.
        "KB articles": rows(KnowledgeArticle.objects.exclude(author_id=me), "number", "title",
                            "body", "visibility"),
        "hot fixes": rows(Hotfix.objects.exclude(created_by_id=me), "number", "version",
                          "description", "status"),
        "support groups": rows(
            SupportGroup.objects, "slug", "name", "timezone", "manager_id", "is_active"
        ),
        "group products": rows(SupportGroup.products.through.objects, "supportgroup_id",
                               "product_id"),
        "experts": rows(Expert.objects, "id", "user_id", "group_id", "shift_start",
                        "is_available"),
        "skills": rows(Skill.objects, "expert_id", "product_id", "level"),
        "case requirements": rows(CaseRequirement.objects, "product_id", "name", "label"),
        "escalation contacts": rows(EscalationContact.objects, "deployment", "manager_id",
                                    "phone"),
        "checks": rows(Check.objects, "id", "organization_id", "name", "kind", "target",
                       "interval", "assertions", "config", "state", "is_active", "quorum"),
        "check assignments": rows(CheckAssignment.objects, "synthetic_check_id",
                                  "location_id", "state", "leased_until", "next_run_at"),
        "check results": rows(CheckResult.objects, "id", "synthetic_check_id", "ok"),
        "check state changes": rows(StateChange.objects, "id", "synthetic_check_id"),
        "probe locations": rows(ProbeLocation.objects, "slug", "name", "mode",
                                "token_digest", "is_active", "silent_since"),
        "simulated outages": rows(SimulatedOutage.objects, "target"),
    }


SHARED_MAY_CHANGE = frozenset({"audit entries", "outbound messages", "in-app notifications"})


def _without(state: dict, keys: frozenset) -> dict:
    return {key: value for key, value in state.items() if key not in keys}


def describe_change(before: dict, after: dict) -> str:
    parts = []
    for key in before:
        if before[key] != after[key]:
            added = sorted(after[key] - before[key], key=repr)[:3]
            removed = sorted(before[key] - after[key], key=repr)[:3]
            detail = []
            if added:
                detail.append(f"+{added}")
            if removed:
                detail.append(f"-{removed}")
            parts.append(f"{key} {' '.join(detail)}")
    return "; ".join(parts)


# --- Requests and checks ---------------------------------------------------------------


@dataclass
class Outcome:
    label: str  # "PATCH /api/v1/users/12/"
    status: int | None
    text: str = ""
    error: str = ""
    location: str = ""


def _strings_in(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings_in(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings_in(v)
    elif value is not None:
        yield str(value)


def send(client: Client, route: Route, method: str, url: str, body: dict | None,
         headers: dict) -> Outcome:
    label = f"{method} {url}"
    try:
        # A savepoint per request, so a database error in one view (PostgreSQL aborts the
        # transaction) is reported for that request and does not poison the rest.
        with transaction.atomic():
            if method == "GET":
                response = client.get(url, **headers)
            elif route.is_api:
                data = json.dumps(body) if body is not None else ""
                response = client.generic(
                    method, url, data, content_type="application/json", **headers
                )
            else:
                response = client.post(url, body or {}, **headers)
    except Exception as exc:  # noqa: BLE001 - a view that raises is what we report
        frames = traceback.extract_tb(exc.__traceback__)
        ours = [f for f in frames if "/caredeck/" in f.filename] or frames
        frame = ours[-1]
        return Outcome(
            label, None,
            error=f"raised {type(exc).__name__}: {exc} ({frame.filename}:{frame.lineno})",
        )
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)
    else:
        content = response.content
    text = content.decode("utf-8", errors="replace")
    # What the caller sent may come back (the URL in a form's "next", a field error that
    # quotes the value); only what contains the marker matters.
    echoes = [url, *url.split("?", 1), *_strings_in(body)]
    echoes = {e for e in echoes if any(m in e.lower() for m in (MARKER, CATALOG_MARKER))}
    for echo in sorted(echoes, key=len, reverse=True):
        for form in (echo, html.escape(echo), json.dumps(echo)[1:-1]):
            text = text.replace(form, "")
    return Outcome(label, response.status_code, text=text, location=response.get("Location", ""))


def leaks(outcome: Outcome, markers: Iterable[str]) -> list[str]:
    found = []
    lowered = outcome.text.lower()
    for marker in markers:
        at = lowered.find(marker)
        if at >= 0:
            snippet = outcome.text[max(0, at - 60): at + 60].replace("\n", " ")
            found.append(f"{outcome.label}: shows {marker!r}: …{snippet}…")
    return found


def markers_for(user: User | None) -> tuple[str, ...]:
    staff = user is not None and user.organization.kind == OrganizationKind.PROVIDER
    return (MARKER,) if staff else (MARKER, CATALOG_MARKER)


def status_problem(outcome: Outcome, ownership: int | None, staff: bool,
                   probe: Callable[[], Outcome]) -> str | None:
    """What is wrong with the status of an outsider's request naming A's object."""
    if ownership is None or ownership in (LINK, SHARED) or (ownership == CATALOG and staff):
        return None
    allowed = {404} if ownership == TENANT else {403, 404}
    if outcome.status in allowed:
        return None
    if outcome.status == 405:
        # "Method not allowed" reveals nothing if a nonexistent object gets it too.
        probed = probe()
        if probed.status == 405:
            return None
        return (
            f"{outcome.label}: answered 405 but {probed.label} answered {probed.status}, "
            f"so the answer tells A's object exists"
        )
    expected = " or ".join(str(s) for s in sorted(allowed))
    return (
        f"{outcome.label}: names {OWNERSHIP_LABEL[ownership]}; expected {expected}, "
        f"got {outcome.status}"
    )


def bodies_for(route: Route, method: str, w: World) -> list[dict | None]:
    """The bodies an outsider sends: WRITES' plausible ones, else a generic one."""
    if route.is_public(method) or method == "DELETE":
        return [None]  # public routes get an empty body: strangers may really use them
    listed = [write.body(w) for write in WRITES.get(route.name or "", [])
              if write.method == method]
    return listed or [generic_json(w) if route.is_api else generic_form(w)]


def _ownership(combo: dict[str, Target]) -> int | None:
    return max((t.ownership for t in combo.values()), default=None)


def exercise(client: Client, route: Route, w: World, actor: User | None, headers: dict,
             check_status: Callable[[Outcome, int | None, Callable[[], Outcome]], str | None],
             ) -> list[str]:
    """Every method of `route` on A's objects; the problems found."""
    problems: list[str] = []
    markers = markers_for(actor)

    def check(outcome: Outcome, ownership: int | None, probe: Callable[[], Outcome]) -> None:
        if outcome.error:
            problems.append(f"{outcome.label}: {outcome.error}")
            return
        if outcome.status >= 500:
            problems.append(f"{outcome.label}: answered {outcome.status}")
        problems.extend(leaks(outcome, markers))
        problem = check_status(outcome, ownership, probe)
        if problem:
            problems.append(problem)

    for combo in targets_of(route, w):
        values = {name: t.value for name, t in combo.items()}
        url = route.url(values)
        try:
            match = resolve(url)
        except Resolver404:
            match = None
        if match is None or match.func is not route.callback:
            problems.append(f"could not build a URL for {route.template} from {values}: {url}")
            continue
        ownership = _ownership(combo)
        bogus_url = route.url({name: bogus(t) for name, t in combo.items()})

        def probe_for(method, body, query="", bogus_url=bogus_url):
            return lambda: send(client, route, method, bogus_url + query, body, headers)

        before = fingerprint(actor)
        gets = [("", ownership), ("?" + hostile_query(w), ownership)]
        if not combo and route.name in EXTRA_QUERIES:
            gets += [("?" + q, own) for q, own in EXTRA_QUERIES[route.name](w)]
        for query, own in gets:
            check(send(client, route, "GET", url + query, None, headers), own,
                  probe_for("GET", None, query))
        after = fingerprint(actor)
        if after != before:
            problems.append(f"GET {url} (with and without a query) changed the database: "
                            f"{describe_change(before, after)}")
        for method in route.methods:
            if method == "GET":
                continue
            for body in bodies_for(route, method, w):
                before = after
                outcome = send(client, route, method, url, body, headers)
                check(outcome, ownership, probe_for(method, body))
                after = fingerprint(actor)
                compared = (before, after)
                if ownership == SHARED:
                    # On an object it shares with A, the outsider may act for itself (vote
                    # for a shared idea, comment): the audit log and the notices to the
                    # object's followers change; nothing else of A's may.
                    compared = (_without(before, SHARED_MAY_CHANGE),
                                _without(after, SHARED_MAY_CHANGE))
                if compared[0] != compared[1]:
                    problems.append(
                        f"{outcome.label} (status {outcome.status}) changed the database: "
                        f"{describe_change(*compared)}"
                    )
    return problems


def report(problems: list[str], what: str) -> str:
    return f"{len(problems)} problem(s) {what}:\n  - " + "\n  - ".join(problems)


# --- The matrix ------------------------------------------------------------------------

CASES = [
    pytest.param(route, actor, "session", id=f"{route.id}-{actor}")
    for route in ROUTES for actor in OUTSIDERS
] + [
    pytest.param(route, actor, "bearer", id=f"{route.id}-{actor}-bearer")
    for route in ROUTES if route.is_api for actor in BEARER_OUTSIDERS
]


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "actor_key", "transport"), CASES)
def test_outsiders_never_reach_tenant_a(world, route, actor_key, transport):
    actor = world.users[actor_key]
    staff = actor.organization.kind == OrganizationKind.PROVIDER
    client = Client()
    headers: dict[str, str] = {}
    if transport == "session":
        client.force_login(actor, backend=MODEL_BACKEND)
    else:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {world.bearer[actor_key]}"
    try:
        problems = exercise(
            client, route, world, actor, headers,
            lambda outcome, ownership, probe: status_problem(outcome, ownership, staff, probe),
        )
    except UnknownParameter as exc:
        pytest.fail(str(exc))
    # Whatever the requests did to the session, the outsider still sees nothing of A.
    afterwards = ["api:me"] if transport == "bearer" else ["home", "team", "api:me"]
    for name in afterwards:
        if name not in ROUTES_BY_NAME:
            continue
        after_route = ROUTES_BY_NAME[name]
        outcome = send(client, after_route, "GET", after_route.url({}), None, headers)
        if outcome.error or outcome.status >= 500:
            problems.append(f"afterwards {outcome.label}: {outcome.error or outcome.status}")
        problems.extend(f"afterwards {p}" for p in leaks(outcome, markers_for(actor)))
    assert not problems, report(problems, f"for {route.id} ({route.template}) as {actor_key} "
                                          f"via {transport}")


def _anonymous_status(route: Route):
    login_url = resolve_url(settings.LOGIN_URL)

    def check(outcome: Outcome, ownership, probe) -> str | None:
        method = outcome.label.split(" ", 1)[0]
        if route.is_public(method):
            return None
        if route.is_api:
            if outcome.status in (401, 403):
                return None
            return f"{outcome.label}: not public; expected 401 or 403, got {outcome.status}"
        location = outcome.location
        if outcome.status == 302 and location.startswith(login_url):
            return None
        return (
            f"{outcome.label}: not public; expected a redirect to {login_url}, got "
            f"{outcome.status} {location}".rstrip()
            + " (add the route to PUBLIC only if strangers must reach it)"
        )

    return check


@pytest.mark.django_db
@pytest.mark.parametrize("route", [pytest.param(r, id=r.id) for r in ROUTES])
def test_anonymous_visitors_are_sent_to_sign_in(world, route):
    try:
        problems = exercise(Client(), route, world, None, {}, _anonymous_status(route))
    except UnknownParameter as exc:
        pytest.fail(str(exc))
    assert not problems, report(problems, f"for {route.id} ({route.template}) anonymously")


# --- Keeping the matrix honest ---------------------------------------------------------


@pytest.mark.django_db
def test_every_route_parameter_has_a_value(world):
    unknown = []
    for route in ROUTES:
        try:
            targets_of(route, world)
        except UnknownParameter as exc:
            unknown.append(str(exc))
    assert not unknown, "\n".join(unknown)


def test_the_tables_name_only_existing_routes():
    names = set(ROUTES_BY_NAME)
    stale = {
        "PUBLIC": set(PUBLIC) - names,
        "ROUTE_PARAMS": set(ROUTE_PARAMS) - names,
        "WRITES": set(WRITES) - names,
        "EXTRA_QUERIES": set(EXTRA_QUERIES) - names,
    }
    assert not any(stale.values()), f"Remove or rename these entries: {stale}"


def test_every_audited_kind_has_a_history_target():
    missing = set(AUDITED) - {
        "organization", "user", "access_request", "product", "message", "webhook",
        "geography", "region", "zone", "pop", "area", "failure_type", "impact_cell",
        "incident", "maintenance", "problem", "idea", "case", "kb", "hotfix",
        "support_group", "expert", "escalation_contact", "check", "probe_location",
        "simulated_outage",
    }
    assert not missing, (
        f"Audited kinds {sorted(missing)} have no object in history_targets(): seed one of "
        f"tenant A (or of the provider) and add it, so /history/<kind>/<id>/ and "
        f"/api/v1/audit/?object=<kind>:<id> are tried against it."
    )


def test_the_matrix_discovers_the_routes():
    # The numbers only go up as apps are added; a sudden drop means discovery broke.
    assert len(ROUTES) >= 50, [r.id for r in ROUTES]
    assert "history" in ROUTES_BY_NAME and "api:user-detail" in ROUTES_BY_NAME


INSIDER_FOR_ROUTE = {"token-revoke": "a_customer_admin", "api:token-detail": "a_customer_admin"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "route", [pytest.param(r, id=r.id) for r in ROUTES if r.params]
)
def test_every_target_exists_for_an_insider(world, route):
    """An outsider's 404 means something only if an insider does not get one."""
    try:
        combos = targets_of(route, world)
    except UnknownParameter as exc:
        pytest.fail(str(exc))
    if any(t.ownership == LINK for combo in combos for t in combo.values()):
        pytest.skip("e-mailed links are made up; nothing to find")
    insider = world.users[INSIDER_FOR_ROUTE.get(route.name, "platform_admin")]
    client = Client()
    client.force_login(insider, backend=MODEL_BACKEND)
    for combo in combos:
        url = route.url({name: t.value for name, t in combo.items()})
        outcome = send(client, route, "GET", url, None, {})
        assert not outcome.error, outcome.error
        if outcome.status == 405:
            # Only writes on this route: test_write_payloads_really_write finds the object.
            assert route.name in WRITES, f"{url}: add a WRITES entry proving the target exists"
            continue
        assert outcome.status == 200, f"{outcome.label} as {insider.email}: {outcome.status}"


WRITE_CASES = [
    pytest.param(name, index, id=f"{name}-{write.method}-{index}")
    for name, writes in WRITES.items()
    for index, write in enumerate(writes)
    if write.insider is not None
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "index"), WRITE_CASES)
def test_write_payloads_really_write(world, name, index):
    """Each listed body changes the database when someone allowed sends it, so an
    outsider sending it and changing nothing proves the refusal, not a typo."""
    route = ROUTES_BY_NAME[name]
    write = WRITES[name][index]
    insider = world.users[write.insider]
    client = Client()
    client.force_login(insider, backend=MODEL_BACKEND)
    combo = targets_of(route, world)[0]  # A's own object
    url = route.url({p: t.value for p, t in combo.items()})
    before = fingerprint(None)
    outcome = send(client, route, write.method, url, write.body(world), {})
    assert not outcome.error, outcome.error
    assert outcome.status < 400, f"{outcome.label}: {outcome.status} {outcome.text[:500]}"
    assert fingerprint(None) != before, f"{outcome.label} by {insider.email} changed nothing"


@pytest.mark.django_db
def test_insiders_see_the_markers(world):
    """The markers are really rendered where A's data shows, so their absence counts."""
    seen = {
        ("platform_admin", "/tenants/"): MARKER,
        ("platform_admin", "/api/v1/organizations/"): MARKER,
        ("platform_admin", "/api/v1/products/"): CATALOG_MARKER,
        ("platform_admin", "/admin/access-requests/"): MARKER,
        ("a_customer_admin", "/team/"): MARKER,
        ("a_customer_admin", "/api/v1/users/"): MARKER,
        ("a_customer_admin", "/api/v1/products/"): CATALOG_MARKER,
        ("a_customer_admin", f"/history/organization/{world.a.slug}/"): MARKER,
        ("a_customer_admin", "/notifications/"): MARKER,
        ("a_customer_admin", "/api/v1/notifications/"): MARKER,
        ("a_customer_admin", "/notifications/webhooks/"): MARKER,
        ("a_customer_admin", "/api/v1/webhooks/"): MARKER,
        ("a_customer_admin", f"/notifications/webhooks/{world.webhook_a.pk}/"): MARKER,
        ("a_customer_admin", f"/history/webhook/{world.webhook_a.pk}/"): MARKER,
        ("platform_admin", "/notifications/deliveries/"): MARKER,
        ("platform_admin", "/api/v1/deliveries/"): MARKER,
        ("platform_admin", f"/notifications/deliveries/{world.message_a.pk}/"): MARKER,
        ("platform_admin", f"/history/message/{world.message_a.pk}/"): MARKER,
        ("a_customer_admin", f"/topology/deployments/{world.a.slug}/"): MARKER,
        ("a_customer_admin", f"/topology/deployments/{world.a.slug}/availability/"): MARKER,
        ("a_customer_admin", "/topology/impact/?target=us-east"): MARKER,
        ("a_customer_admin", "/api/v1/deployments/"): MARKER,
        ("platform_admin", "/topology/deployments/"): MARKER,
        ("platform_admin", "/topology/impact/?target=us-east"): MARKER,
        ("platform_admin", f"/topology/impact/?target=pop-ashburn&organization={world.a.slug}"):
            MARKER,
        ("platform_admin", f"/incidents/{world.incident_a.number}/"): MARKER,
        ("platform_admin", f"/incidents/{world.incident_shared.number}/"): MARKER,
        ("a_customer_admin", f"/incidents/{world.incident_shared.number}/"): MARKER,
        ("a_customer_admin", f"/api/v1/incidents/{world.incident_shared.number}/"): MARKER,
        ("a_customer_admin", "/incidents/"): MARKER,
        ("platform_admin", f"/api/v1/incidents/{world.incident_shared.number}/timeline/"):
            MARKER,
        ("platform_admin", f"/maintenance/{world.maintenance_shared.number}/"): MARKER,
        ("a_customer_admin", f"/maintenance/{world.maintenance_shared.number}/"): MARKER,
        ("a_customer_admin", f"/api/v1/maintenances/{world.maintenance_shared.number}/"): MARKER,
        ("a_customer_admin", "/maintenance/"): MARKER,
        ("a_customer_admin", "/status/"): MARKER,
        ("a_customer_admin", "/api/v1/status/"): MARKER,
        ("a_customer_admin", "/reports/sla/"): MARKER,
        ("a_customer_admin", f"/ideas/?product={world.product_a.slug}"): MARKER,
        ("a_customer_admin", f"/ideas/{world.idea_a.number}/"): MARKER,
        ("a_designated_contact", f"/cases/{world.case_a.number}/"): MARKER,
        ("a_designated_contact", "/cases/"): MARKER,
        ("a_customer_admin", f"/api/v1/cases/{world.case_a.number}/"): MARKER,
        ("platform_admin", f"/cases/{world.case_a.number}/"): MARKER,
        ("platform_admin", "/cases/queues/?queue=escalated"): MARKER,
        ("platform_admin", f"/kb/{world.kb_a.number}/"): MARKER,
        ("platform_admin", "/hotfixes/"): MARKER,
        ("platform_admin", "/api/v1/hotfixes/"): MARKER,
        ("a_customer_admin", "/monitoring/"): MARKER,
        ("a_customer_admin", f"/monitoring/checks/{world.check_a.pk}/"): MARKER,
        ("a_customer_admin", f"/api/v1/checks/{world.check_a.pk}/results/"): MARKER,
        ("platform_admin", f"/monitoring/checks/{world.check_a.pk}/"): MARKER,
        ("a_customer_admin", f"/api/v1/ideas/{world.idea_a.number}/"): MARKER,
        ("platform_admin", f"/ideas/{world.idea_a.number}/"): MARKER,
        ("platform_admin", "/reports/sla/"): MARKER,
    }
    missing = []
    for (key, url), marker in seen.items():
        client = Client()
        client.force_login(world.users[key], backend=MODEL_BACKEND)
        response = client.get(url)
        if response.status_code != 200 or marker not in response.content.decode().lower():
            missing.append(f"{key} GET {url}: {response.status_code}, {marker!r} not shown")
    assert not missing, "\n".join(missing)


@pytest.mark.django_db
def test_an_unknown_parameter_fails_loudly(world):
    """A later route with a parameter nobody taught the matrix must not slip through."""
    route = Route(
        name="case-detail", template="cases/<int:case_id>/", levels=(), params=("case_id",),
        callback=None,
    )
    with pytest.raises(UnknownParameter, match=r"\['case_id'\].*OBJECT_PARAMS"):
        targets_of(route, world)
