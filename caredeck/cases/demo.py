"""Demo Customer Care: the six support groups, analysts around the world, the facts the
case form asks per product, the escalation contacts, a small knowledge base, a hot fix,
and about ten cases of the demo tenants in every state.

- **Groups** (care.manager@provider.example manages them all): Telephony takes Cloud CX,
  Voice Self Service the premise suite Engage, Business Applications Workforce
  Engagement; Reporting & Analytics and Technical Account Management take hand-overs;
  Customer Care is the default desk for products no group supports.
- **Analysts** in New York, Chicago, San Francisco, London, Berlin, Bangalore, Singapore
  and Sydney, each with their own shift in their own time zone, so follow-the-sun
  routing always finds someone awake or about to start. They sign in with the demo
  password (e.g. analyst.ny@provider.example).
- **Cases**, opened by the tenants' designated contacts through the services (numbers,
  routing reasons, SLA clocks, timeline, audit and notices are real): one waiting for a
  fact the form asks for, two open with their SLA clocks running, one waiting for
  information an analyst asked for, two with a solution proposed (one after a rejected
  first try), one critical case escalated and waiting for a care manager's
  acknowledgement, and three closed with a KB article (one logged for a hot fix). The
  closed ones are moved back a few days after the fact, each step by its own amount, so
  the reports show real response and resolution times.

Idempotent: the set-up is keyed by slug / e-mail / product, and the cases, articles and
hot fix are only made when there is no case yet.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from caredeck.accounts import services as accounts
from caredeck.accounts.models import Organization, Product, User
from caredeck.accounts.roles import Role
from caredeck.cases import services
from caredeck.cases.models import (
    Case,
    CaseEvent,
    CaseRequirement,
    EscalationContact,
    EventKind,
    Expert,
    KnowledgeArticle,
    Skill,
    SupportGroup,
)

GROUPS = [
    # slug, name, products, default?, time zone, holiday country, description
    ("reporting-analytics", "Reporting & Analytics", [], False, "Europe/London", "GB",
     "Real-time and historical reporting, dashboards, data exports."),
    ("technical-account-management", "Technical Account Management", [], False,
     "America/New_York", "US", "Account-level problems the TAM coordinates."),
    ("voice-self-service", "Voice Self Service", ["engage-premise"], False,
     "America/Los_Angeles", "US", "IVR, speech recognition, call flows of Engage."),
    ("telephony", "Telephony", ["cloud-cx"], False, "America/New_York", "US",
     "Carriers, SIP trunks, SBCs, call routing of Cloud CX."),
    ("business-applications", "Business Applications", ["workforce"], False,
     "Europe/Berlin", "DE", "Workforce management, quality management, recording."),
    ("customer-care", "Customer Care", [], True, "UTC", "US",
     "The default desk: cases of products no other group supports."),
]

# email, name, group, time zone, country, shift start / end hour, {product: skill level}
ANALYSTS = [
    ("analyst.ny@provider.example", "Noor Haddad", "telephony", "America/New_York", "US",
     8, 17, {"cloud-cx": 3, "engage-premise": 1}),
    ("analyst.ldn@provider.example", "Liam Okafor", "telephony", "Europe/London", "GB",
     8, 17, {"cloud-cx": 3}),
    ("analyst.syd@provider.example", "Mia Tanaka", "telephony", "Australia/Sydney", "AU",
     8, 17, {"cloud-cx": 2, "workforce": 1}),
    ("analyst.sf@provider.example", "Diego Morales", "voice-self-service",
     "America/Los_Angeles", "US", 7, 16, {"engage-premise": 3, "cloud-cx": 1}),
    ("analyst.sg@provider.example", "Wei Ling Tan", "voice-self-service", "Asia/Singapore",
     "SG", 9, 18, {"engage-premise": 2}),
    ("analyst.ber@provider.example", "Jonas Weber", "business-applications", "Europe/Berlin",
     "DE", 8, 17, {"workforce": 3, "cloud-cx": 1}),
    ("analyst.blr@provider.example", "Priya Raman", "reporting-analytics", "Asia/Kolkata",
     "IN", 9, 18, {"cloud-cx": 2, "workforce": 2}),
    # The demo's existing analyst keeps the default desk, in Chicago.
    ("analyst@provider.example", "Ana Analyst", "customer-care", "America/Chicago", "US",
     8, 17, {"cloud-cx": 1, "engage-premise": 1, "workforce": 1}),
]

REQUIREMENTS = [
    ("cloud-cx", "phone_number", "Affected phone number or queue",
     "The DID, toll-free number or queue name where the problem shows, e.g. +1 212 555 0101."),
    ("engage-premise", "version", "Engage version",
     "As shown under Help › About, e.g. 8.2.1."),
]

ESCALATION_CONTACTS = [("cloud", "+1 646 555 0142"), ("premise", "+44 20 7946 0958")]

DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)
MINUTE = datetime.timedelta(minutes=1)


def _staff(admin, email: str, name: str, roles, tz: str) -> User:
    from caredeck.web.demo import _demo_password_hash

    existing = User.objects.filter(email=email).first()
    if existing is not None:
        return existing
    return accounts.user_invite(actor=admin, organization=admin.organization, email=email,
                                name=name, roles=[r.value for r in roles],
                                password_hash=_demo_password_hash(), timezone_name=tz)


def _setup(admin) -> dict[str, SupportGroup]:
    manager = User.objects.filter(email="care.manager@provider.example").first()
    products = {p.slug: p for p in Product.objects.all()}
    groups = {}
    for slug, name, product_slugs, default, tz, country, description in GROUPS:
        group, created = SupportGroup.objects.get_or_create(slug=slug, defaults={
            "name": name, "is_default": default, "timezone": tz, "country": country,
            "description": description, "manager": manager,
        })
        if created:
            group.products.set([products[s] for s in product_slugs if s in products])
        groups[slug] = group
    for email, name, group, tz, country, start, end, skills in ANALYSTS:
        user = _staff(admin, email, name, [Role.CARE_ANALYST], tz)
        expert, created = Expert.objects.get_or_create(user=user, defaults={
            "group": groups[group], "timezone": tz, "country": country,
            "shift_start": datetime.time(start), "shift_end": datetime.time(end),
        })
        if created:
            Skill.objects.bulk_create([
                Skill(expert=expert, product=products[slug], level=level)
                for slug, level in skills.items() if slug in products
            ])
    for product, name, label, help_text in REQUIREMENTS:
        if product in products:
            CaseRequirement.objects.get_or_create(
                product=products[product], name=name,
                defaults={"label": label, "help_text": help_text})
    if manager is not None:
        for deployment, phone in ESCALATION_CONTACTS:
            EscalationContact.objects.get_or_create(
                deployment=deployment, defaults={"manager": manager, "phone": phone})
    return groups


# --- Cases ---------------------------------------------------------------------------


def _care(case: Case, fallback: User) -> User:
    case.refresh_from_db()
    return case.owner or fallback


def _backdate(case: Case, *, opened: datetime.timedelta, answered: datetime.timedelta,
              resolved: datetime.timedelta) -> None:
    """Move a finished case into the past: opened `opened` ago, first answered
    `answered` after that and resolved `resolved` after opening (closed 20 minutes
    later). Each clock's due time moves with the opening, so whether it was met is
    decided by these durations, as it would have been."""
    case.refresh_from_db()
    now = timezone.now()
    start = now - opened
    shift = case.created_at - start
    first = start + answered
    done = start + resolved
    closed = done + 20 * MINUTE
    fields = {
        "created_at": start, "updated_at": closed, "routed_at": start,
        "first_response_at": first, "solution_proposed_at": min(done, first + 2 * HOUR),
        "confirmed_at": done, "resolved_at": done, "closed_at": closed,
    }
    for name in ("response_due_at", "resolution_due_at"):
        due = getattr(case, name)
        fields[name] = due - shift if due else None
    Case.objects.filter(pk=case.pk).update(**fields)
    stage = {EventKind.OPENED: start, EventKind.ASSESSED: start, EventKind.ROUTED: start,
             EventKind.CONFIRMED: done, EventKind.CLOSED: closed}
    middle = [e for e in case.events.order_by("at", "pk") if e.kind not in stage]
    for event in case.events.filter(kind__in=list(stage)):
        CaseEvent.objects.filter(pk=event.pk).update(at=stage[event.kind])
    step = (done - first) / max(len(middle), 1)
    for i, event in enumerate(middle):
        CaseEvent.objects.filter(pk=event.pk).update(at=first + i * step)


def _cases(admin) -> None:
    people = {u.email: u for u in User.objects.filter(email__in=[
        "admin@acme.example", "contact@acme.example", "admin@globex.example",
        "contact@globex.example", "contact@initech.example", "analyst@provider.example",
        "care.manager@provider.example",
    ])}
    orgs = {o.slug: o for o in Organization.objects.filter(slug__in=["acme", "globex",
                                                                     "initech"])}
    products = {p.slug: p for p in Product.objects.all()}
    if len(orgs) < 3 or len(people) < 7 or len(products) < 3:
        return
    desk = people["analyst@provider.example"]
    acme, globex, initech = people["admin@acme.example"], people["contact@globex.example"], \
        people["contact@initech.example"]

    def open_case(actor, org, product, criticality, summary, description, facts=None,
                  deployment="cloud"):
        return services.case_open(
            actor=actor, organization=orgs[org], product=products[product],
            deployment=deployment, criticality=criticality, summary=summary,
            description=description, facts=facts or {})

    # Closed, with knowledge: a public article, an internal one, and a hot fix.
    trunk = open_case(acme, "acme", "cloud-cx", 2, "Outbound calls fail with SIP 503",
                      "Since this morning about **one outbound call in five** fails with "
                      "`SIP 503 Service Unavailable` on the Chicago trunk group.",
                      {"phone_number": "+1 312 555 0140 (trunk group CHI-2)"})
    owner = _care(trunk, desk)
    services.case_propose_solution(
        actor=owner, case=trunk, body="The carrier's SBC in Chicago dropped one of its two "
        "signalling addresses. We moved the trunk group to the Dallas SBC pair; please "
        "place a few test calls.")
    services.case_confirm(actor=acme, case=trunk)
    services.case_close(
        actor=owner, case=trunk, root_cause="Carrier SBC lost a signalling address; the "
        "trunk group had no failover to the second SBC pair.",
        new_kb_article={"title": "Outbound calls fail with SIP 503 on one trunk group",
                        "body": "## Symptom\nA share of outbound calls fail with `SIP 503`."
                        "\n\n## Cause\nThe carrier SBC lost one signalling address.\n\n"
                        "## Fix\nCare moves the trunk group to the second SBC pair; ask "
                        "for failover on every trunk group."})
    _backdate(trunk, opened=9 * DAY, answered=50 * MINUTE, resolved=6 * HOUR)

    wfm = open_case(people["contact@acme.example"], "acme", "workforce", 4,
                    "Forecast export shows the wrong week start",
                    "The weekly forecast export starts on Sunday; our planning uses Monday.")
    owner = _care(wfm, desk)
    services.case_propose_solution(
        actor=owner, case=wfm, body="Set *Week starts on* to Monday under Settings › "
        "Regional; exports follow it from the next run.")
    services.case_confirm(actor=people["contact@acme.example"], case=wfm)
    internal = services.kb_create(
        actor=owner, title="WFM exports follow the tenant's week start",
        body="Exports use the tenant's *Week starts on* setting, not the user's locale. "
        "Check it before escalating export problems to engineering.",
        product=products["workforce"], visibility=KnowledgeArticle.Visibility.INTERNAL)
    services.case_close(actor=owner, case=wfm, root_cause="Tenant setting: week start.",
                        kb_article=internal.number)
    _backdate(wfm, opened=6 * DAY, answered=3 * HOUR, resolved=2 * DAY)

    ivr = open_case(initech, "initech", "engage-premise", 3,
                    "IVR reads amounts in the wrong currency",
                    "Balances are read as dollars in the Spanish prompts.",
                    {"version": "8.2.0"}, deployment="premise")
    owner = _care(ivr, desk)
    services.case_comment(actor=owner, case=ivr, body="Reproduced on 8.2.0 in our lab; "
                          "working on it.")
    services.case_propose_solution(
        actor=owner, case=ivr, body="A defect of 8.2.0: the Spanish prompt set ignores the "
        "currency setting. Work-around: set the call flow's currency explicitly; the fix "
        "ships in 8.2.2.")
    services.case_confirm(actor=initech, case=ivr)
    services.case_close(
        actor=owner, case=ivr, root_cause="Defect in the es-ES prompt set (8.2.0).",
        new_kb_article={"title": "Engage 8.2.0: Spanish prompts read the wrong currency",
                        "body": "Set the call flow's currency explicitly until 8.2.2."},
        hotfix={"version": "8.2.2", "description": "es-ES prompts honour the tenant's "
                "currency setting."})
    _backdate(ivr, opened=4 * DAY, answered=2 * HOUR, resolved=26 * HOUR)

    # Waiting on the customer.
    open_case(acme, "acme", "cloud-cx", 3, "Queue callbacks are not offered",
              "Callers in the Billing queue no longer hear the callback offer.")
    asked = open_case(globex, "globex", "cloud-cx", 3,
                      "Agents are logged out after 10 minutes",
                      "Several agents are logged out of the desktop mid-shift.",
                      {"phone_number": "Claims queue"})
    services.case_request_info(
        actor=_care(asked, desk), case=asked, body="Please attach a HAR file of an agent's "
        "browser session until the log-out, and tell us their browser version.")

    proposed = open_case(globex, "globex", "cloud-cx", 2, "Call recordings are silent",
                         "Recordings of inbound calls since Monday have no audio.",
                         {"phone_number": "+1 415 555 0177"})
    services.case_propose_solution(
        actor=_care(proposed, desk), case=proposed, body="The recording codec was switched "
        "to Opus by the weekend change; we switched it back to G.711. New recordings have "
        "audio. Can you confirm?")

    retried = open_case(people["contact@acme.example"], "acme", "workforce", 3,
                        "Schedule adherence shows agents out of adherence at lunch",
                        "Adherence flags scheduled lunch breaks as exceptions.")
    owner = _care(retried, desk)
    services.case_propose_solution(actor=owner, case=retried, body="Re-publish the "
                                   "schedules for the week.")
    services.case_reject_solution(actor=people["contact@acme.example"], case=retried,
                                  reason="Re-published; lunch breaks are still flagged.")
    services.case_propose_solution(
        actor=owner, case=retried, body="The lunch activity was mapped to *Unavailable*; we "
        "mapped it to *Break* and recalculated the day. Please check today's adherence.")

    # In progress, SLA clocks running.
    open_case(initech, "initech", "engage-premise", 2, "Speech recognition misses account "
              "numbers", "Since the upgrade the IVR asks callers to repeat account numbers "
              "three times out of ten.", {"version": "8.2.1"}, deployment="premise")
    answered = open_case(people["admin@globex.example"], "globex", "cloud-cx", 3,
                         "Wallboard shows queue counts late",
                         "The wallboard lags the real queue by about a minute.",
                         {"phone_number": "All queues"})
    services.case_comment(actor=_care(answered, desk), case=answered,
                          body="Thanks: we see the lag on our side too and are looking at "
                          "the reporting feed.")

    # Production down, escalated by the customer, waiting for a care manager.
    down = open_case(acme, "acme", "cloud-cx", 1, "No inbound calls reach the agents",
                     "Inbound calls ring out: **no call reaches any agent** since 14:05.",
                     {"phone_number": "+1 800 555 0100 (main number)"})
    services.case_comment(actor=_care(down, desk), case=down, body="On it: we see the "
                          "routing engine rejecting calls for your tenant.")
    services.case_escalate(actor=acme, case=down, business_impact="Our whole contact "
                           "center is down: 400 agents idle, about 3,000 callers an hour "
                           "turned away.")


@transaction.atomic
def load_demo_cases(admin) -> None:
    _setup(admin)
    if not Case.objects.exists():
        _cases(admin)
