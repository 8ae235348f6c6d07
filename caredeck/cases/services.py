"""Every change to a support case, the knowledge base and the hot-fix log.

The case lifecycle is the TRANSITIONS table: each action names the statuses it starts
from, where it goes, and who takes it (the customer side: the requester, or anyone who
may open cases for the tenant; Care: analysts, care managers and the account's TAM). A
refused action is a Conflict (state) or PermissionDenied (role), never a silent no-op.
Each change writes its timeline entry, its audit entry and its notices in one
transaction; the SLA clocks are stored instants kept by sla.py.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from caredeck.accounts.access import has_capability, is_provider_staff
from caredeck.accounts.models import Organization, Product, User
from caredeck.accounts.roles import Capability, Role
from caredeck.cases import routing, sla
from caredeck.cases.models import (
    ACTIVE,
    Case,
    CaseAttachment,
    CaseEscalation,
    CaseEvent,
    CaseStatus,
    Channel,
    CloseReason,
    Criticality,
    Deployment,
    EscalationContact,
    EventKind,
    Expert,
    Hotfix,
    KnowledgeArticle,
)
from caredeck.core.audit import audit_record, changes_between, snapshot
from caredeck.core.exceptions import Conflict
from caredeck.core.uploads import checked_upload_name
from caredeck.core.validation import clean_text, is_id
from caredeck.notify.audience import staff_with_roles
from caredeck.notify.services import notify_users

S = CaseStatus
CUSTOMER, CARE = "customer", "care"


@dataclass(frozen=True)
class Transition:
    sources: tuple[str, ...]
    target: str | None  # None: the status does not change
    by: str
    label: str


TRANSITIONS: dict[str, Transition] = {
    "request_info": Transition((S.OPEN,), S.INFO_REQUESTED, CARE, "Request information"),
    "provide_info": Transition((S.INFO_REQUESTED,), S.OPEN, CUSTOMER, "Provide information"),
    "propose_solution": Transition((S.OPEN,), S.SOLUTION_PROPOSED, CARE, "Propose a solution"),
    "confirm": Transition((S.SOLUTION_PROPOSED,), S.CONFIRMED, CUSTOMER, "Confirm the solution"),
    "reject_solution": Transition((S.SOLUTION_PROPOSED,), S.OPEN, CUSTOMER,
                                  "Reject the solution"),
    "close": Transition((S.CONFIRMED,), S.CLOSED, CARE, "Close"),
    "reopen": Transition((S.CLOSED,), S.OPEN, CUSTOMER, "Reopen"),
    "assign": Transition(ACTIVE, None, CARE, "Hand over"),
    "escalate": Transition(ACTIVE, None, CUSTOMER, "Escalate"),
}

CASE_FIELDS = ["status", "criticality", "owner_id", "group_id", "complexity",
               "root_cause", "kb_article_id", "hotfix_id", "close_reason"]
ATTACHMENT_EXTENSIONS = {
    ".txt", ".log", ".csv", ".json", ".xml", ".har", ".pcap", ".pcapng", ".png", ".jpg",
    ".jpeg", ".gif", ".pdf", ".zip", ".gz", ".wav", ".mp3", ".docx", ".xlsx",
}
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
ATTACHMENTS_PER_POST = 5


# --- Who may act -----------------------------------------------------------------------


def is_customer_side(actor, case: Case) -> bool:
    """The requester, or someone who may open cases for the tenant (its designated
    contacts, a partner whose link allows it)."""
    if is_provider_staff(actor):
        return False
    return case.requester_id == actor.pk or has_capability(
        actor, Capability.OPEN_CASES, case.organization
    )


def is_care(actor, case: Case) -> bool:
    return has_capability(actor, Capability.WORK_CASES, case.organization)


def allowed_actions(actor, case: Case) -> list[str]:
    """The actions `actor` may take on `case` now (the buttons on the case page)."""
    side_ok = {CUSTOMER: is_customer_side(actor, case), CARE: is_care(actor, case)}
    actions = [
        name for name, rule in TRANSITIONS.items()
        if case.status in rule.sources and side_ok[rule.by]
    ]
    if "reopen" in actions and not side_ok[CARE] and not _customer_may_reopen(case):
        actions.remove("reopen")
    if side_ok[CARE] and case.status == S.CLOSED:
        actions.append("reopen")
    if "escalate" in actions and case.escalations.filter(acknowledged_at__isnull=True).exists():
        actions.remove("escalate")
    if (has_capability(actor, Capability.MANAGE_CARE, case.organization)
            and case.escalations.filter(acknowledged_at__isnull=True).exists()):
        actions.append("acknowledge_escalation")
    return list(dict.fromkeys(actions))


def _customer_may_reopen(case: Case) -> bool:
    if case.closed_at is None:
        return False
    return timezone.now() - case.closed_at <= datetime.timedelta(days=settings.CASES_REOPEN_DAYS)


def _check(actor, case: Case, action: str) -> Transition:
    rule = TRANSITIONS[action]
    allowed = is_customer_side(actor, case) if rule.by == CUSTOMER else is_care(actor, case)
    if not allowed:
        who = "the customer's designated contact" if rule.by == CUSTOMER else "Customer Care"
        raise PermissionDenied(f"Only {who} may {rule.label.lower()} on a case.")
    if case.status not in rule.sources:
        raise Conflict(
            f"{rule.label} is not possible while the case is "
            f"“{case.get_status_display().lower()}”."
        )
    return rule


def _lock(case: Case) -> Case:
    """Re-read the case under a row lock: concurrent actions on one case serialize."""
    locked = Case.objects.select_for_update(of=("self",)).select_related(
        "organization", "product", "group", "owner", "requester"
    ).get(pk=case.pk)
    return locked


# --- Timeline, notices, attachments ------------------------------------------------------


def _event(case: Case, kind: str, *, actor=None, body: str = "", public: bool = True,
           data: dict | None = None, at=None) -> CaseEvent:
    return CaseEvent.objects.create(
        case=case, kind=kind, actor=actor if getattr(actor, "pk", None) else None,
        body=body, public=public, data=data or {}, at=at or timezone.now(),
    )


def case_url(case: Case) -> str:
    return settings.BASE_URL + reverse("case-detail", args=[case.number])


def customer_people(case: Case) -> list[User]:
    """Who hears about the case on the customer's side: the requester, and the partner
    or colleague who opened it for them."""
    people = {}
    for user in (case.requester, case.opened_by):
        if user is not None and user.is_active and not is_provider_staff(user):
            people[user.pk] = user
    return list(people.values())


def care_people(case: Case, *, exclude=None) -> list[User]:
    people = {}
    if case.owner_id and case.owner.is_active:
        people[case.owner_id] = case.owner
    for user in case.collaborators.filter(is_active=True):
        people[user.pk] = user
    if exclude is not None:
        people.pop(exclude.pk, None)
    return list(people.values())


def care_managers_for(case: Case) -> list[User]:
    if case.group_id and case.group.manager_id and case.group.manager.is_active:
        return [case.group.manager]
    return staff_with_roles(Role.CARE_MANAGER)


def _notify(case: Case, *, event: str, users, key: str, headline: str, body: str = "",
            public: bool = True) -> None:
    users = list(users)
    if not users:
        return
    notify_users(
        event=event, users=users, dedupe_base=f"{case.number}:{key}",
        template="case_notice",
        context={"case": case, "headline": headline, "body": body, "public": public},
        organization=case.organization, url=case_url(case),
    )


def _tell_customer(case: Case, key: str, headline: str, body: str = "") -> None:
    _notify(case, event="case.update", users=customer_people(case), key=key,
            headline=headline, body=body)


def _tell_care(case: Case, key: str, headline: str, body: str = "", exclude=None,
               public: bool = True) -> None:
    _notify(case, event="case.work", users=care_people(case, exclude=exclude), key=key,
            headline=headline, body=body, public=public)


def check_uploads(uploads) -> list[tuple[str, object]]:
    uploads = [u for u in (uploads or []) if u]
    if len(uploads) > ATTACHMENTS_PER_POST:
        raise ValidationError({"attachments": [f"At most {ATTACHMENTS_PER_POST} files at once."]})
    return [
        (checked_upload_name(u, field="attachments", extensions=ATTACHMENT_EXTENSIONS,
                             max_bytes=ATTACHMENT_MAX_BYTES,
                             what="a log, capture, screenshot, document or archive"), u)
        for u in uploads
    ]


def _attach(case: Case, event: CaseEvent, checked, actor) -> None:
    for name, upload in checked:
        attachment = CaseAttachment(case=case, event=event, name=name, size=upload.size,
                                    public=event.public, uploaded_by=actor)
        attachment.file.save(name, upload, save=False)
        attachment.save()


def _touch(case: Case, *fields: str) -> None:
    case.updated_at = timezone.now()
    case.save(update_fields=[*dict.fromkeys([*fields, "updated_at"])])


def _audit(actor, case: Case, action: str, before: dict, extra: dict | None = None) -> None:
    changes = changes_between(before, snapshot(case, CASE_FIELDS))
    audit_record(actor=actor, obj=case, action=action, changes={**changes, **(extra or {})})


# --- Waiting on the customer ------------------------------------------------------------


def _wait_for_customer(case: Case, now) -> None:
    sla.pause(case, now)
    case.waiting_since = now
    case.customer_reminders_sent = 0
    first_reminder = settings.CASES_CUSTOMER_REMINDER_DAYS[0]
    case.customer_remind_at = now + datetime.timedelta(days=first_reminder)
    case.auto_close_at = now + datetime.timedelta(days=settings.CASES_CUSTOMER_WAIT_DAYS)


def _customer_answered(case: Case, now) -> None:
    sla.resume(case, now)
    case.waiting_since = None
    case.customer_remind_at = None
    case.auto_close_at = None
    case.customer_reminders_sent = 0


WAIT_FIELDS = ["waiting_since", "customer_remind_at", "auto_close_at", "customer_reminders_sent"]
CLOCK_FIELDS = [*sla.FIELDS, "first_response_at", "resolved_at", *WAIT_FIELDS]


# --- Opening, assessment, routing ------------------------------------------------------


def _clean_choice(name: str, value, choices, message: str):
    if value in choices:
        return value
    if isinstance(value, str) and is_id(value) and int(value) in choices:
        return int(value)
    raise ValidationError({name: [message]})


def clean_facts(product: Product, facts) -> dict[str, str]:
    if facts in (None, ""):
        return {}
    if not isinstance(facts, dict):
        raise ValidationError({"facts": ["Give the facts as an object of name: text."]})
    known = {r.name for r in product.case_requirements.all()}
    cleaned = {}
    for name, value in facts.items():
        if name not in known:
            raise ValidationError({"facts": [f"{product.name} asks for no fact named “{name}”."]})
        cleaned[name] = clean_text(f"facts.{name}", value, required=False, limit=500)
    return cleaned


def case_open(
    *, actor, organization: Organization, product, deployment, criticality, summary,
    description, facts=None, attachments=None, requester: User | None = None,
    channel: str = Channel.WEB,
) -> Case:
    """Open a case: a designated contact or a partner for a customer, or Care on the
    customer's behalf for a phone call (recorded as such, with the caller as requester)."""
    on_phone = is_provider_staff(actor)
    if on_phone:
        if not has_capability(actor, Capability.WORK_CASES, organization):
            raise PermissionDenied("Only Customer Care may open a case on a customer's behalf.")
        channel = Channel.PHONE
    elif not has_capability(actor, Capability.OPEN_CASES, organization):
        raise PermissionDenied("Cases are opened by the organization's designated contacts "
                               "(or a partner acting for it).")
    errors: dict[str, list[str]] = {}
    if not isinstance(product, Product):
        product = Product.objects.filter(slug=str(product or "")).first() if isinstance(
            product, str) else None
    if product is None or not organization.platforms.filter(pk=product.pk).exists():
        errors["product"] = ["Choose one of your organization's products."]
    try:
        deployment = _clean_choice("deployment", deployment, Deployment.values,
                                   "Choose cloud or premise.")
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        criticality = _clean_choice("criticality", criticality, Criticality.values,
                                    "Choose a criticality from 1 (critical) to 4 (low).")
    except ValidationError as error:
        errors.update(error.message_dict)
    texts = {}
    for name, value, limit in (("summary", summary, 200), ("description", description, 20000)):
        try:
            texts[name] = clean_text(name, value, limit=limit)
        except ValidationError as error:
            errors.update(error.message_dict)
    if on_phone:
        if requester is None or requester.organization_id != organization.pk \
                or not requester.is_active:
            errors["requester"] = ["Choose the caller: an active person of the customer."]
    else:
        requester = actor
    if errors:
        raise ValidationError(errors)
    summary, description = texts["summary"], texts["description"]
    facts = clean_facts(product, facts)
    checked = check_uploads(attachments)
    now = timezone.now()
    with transaction.atomic():
        case = Case.objects.create(
            organization=organization, product=product, deployment=deployment,
            criticality=criticality, summary=summary, description=description, facts=facts,
            requester=requester, opened_by=actor, channel=channel, created_at=now,
            updated_at=now,
        )
        opened = _event(case, EventKind.OPENED, actor=actor, body=description,
                        data={"channel": channel}, at=now)
        _attach(case, opened, checked, actor)
        audit_record(actor=actor, obj=case, action="opened", changes={
            "status": [None, "new"], "criticality": [None, criticality],
            "product": [None, product.slug], "channel": [None, channel],
        })
        _assess_and_route(case, now, actor=actor)
        _tell_customer(
            case, "opened", f"Case {case.number} opened",
            "We have your case. Quote its number in every message about it."
            + (" We need a few facts before an expert can start: see the case."
               if case.status == S.INFO_REQUESTED else ""),
        )
    return case


def _assess_and_route(case: Case, now, *, actor=None) -> None:
    """Assess completeness and complexity, set the group; a complete case goes to an
    expert, an incomplete one waits for the customer with a precise request."""
    before = snapshot(case, CASE_FIELDS)
    assessment = routing.assess(case, now)
    case.assessment = assessment.as_json()
    case.complexity = assessment.complexity
    if case.group_id is None:
        case.group, group_reason = routing.group_for(case)
    else:
        group_reason = ""
    if case.response_due_at is None:
        sla.start(case, now)
    _event(case, EventKind.ASSESSED, public=False, data=assessment.as_json(), at=now,
           body=f"Complexity {assessment.complexity}. " + " ".join(assessment.reasons))
    if not assessment.complete:
        needed = "\n".join(f"- {label}" for label in assessment.missing)
        case.status = S.INFO_REQUESTED
        _wait_for_customer(case, now)
        _event(case, EventKind.INFO_REQUESTED, body=(
            "Before an expert can start, we need:\n" + needed), data={
            "missing": assessment.missing_names, "automatic": True}, at=now)
        if group_reason:
            case.routing = {"group": case.group.slug if case.group else None,
                            "owner": None, "reasons": [group_reason],
                            "decided_at": now.isoformat()}
        case.save()
        _audit(actor, case, "assessed", before, {"missing": [None, assessment.missing]})
        return
    decision = routing.route(case, now, assessment.complexity)
    case.group = decision.group
    case.owner = decision.expert.user if decision.expert else None
    case.routing = decision.as_json(now)
    case.routed_at = now
    case.status = S.OPEN
    case.save()
    _event(case, EventKind.ROUTED, public=False, data=case.routing, at=now,
           body="\n".join(decision.reasons))
    _audit(actor, case, "routed", before)
    if case.owner_id:
        _notify(case, event="case.work", users=[case.owner], key=f"owner:{case.owner_id}:"
                f"{now.timestamp():.0f}", headline=f"New case for you: {case.number}",
                body="\n".join(decision.reasons))


# --- Working the case ------------------------------------------------------------------


def case_comment(*, actor, case: Case, body, internal: bool = False, attachments=None) -> CaseEvent:
    care = is_care(actor, case)
    if not care and not is_customer_side(actor, case):
        raise PermissionDenied("Only the customer's contacts and Customer Care comment on a case.")
    if internal and not care:
        raise PermissionDenied("Internal notes are for Customer Care.")
    body = clean_text("body", body, limit=20000)
    checked = check_uploads(attachments)
    with transaction.atomic():
        case = _lock(case)
        if case.status == S.CLOSED and not internal:
            raise Conflict("The case is closed: reopen it to continue the conversation.")
        now = timezone.now()
        event = _event(case, EventKind.NOTE if internal else EventKind.COMMENT, actor=actor,
                       body=body, public=not internal, at=now)
        _attach(case, event, checked, actor)
        fields = []
        if care and not internal and case.first_response_at is None:
            sla.stop(case, "response", now)
            fields += CLOCK_FIELDS
        _touch(case, *fields)
        audit_record(actor=actor, obj=case, action="note_added" if internal else "commented",
                     changes={"files": [None, [name for name, _ in checked]]} if checked else {})
        key = f"comment:{event.pk}"
        if internal:
            _tell_care(case, key, f"Internal note on {case.number}", body, exclude=actor,
                       public=False)
        elif care:
            _tell_customer(case, key, f"Customer Care replied on {case.number}", body)
            _tell_care(case, key, f"{actor} replied on {case.number}", body, exclude=actor)
        else:
            _tell_care(case, key, f"The customer wrote on {case.number}", body)
    return event


def case_request_info(*, actor, case: Case, body) -> Case:
    body = clean_text("body", body, limit=20000)
    with transaction.atomic():
        case = _lock(case)
        rule = _check(actor, case, "request_info")
        before = snapshot(case, CASE_FIELDS)
        now = timezone.now()
        sla.stop(case, "response", now)
        case.status = rule.target
        case.info_requests += 1
        _wait_for_customer(case, now)
        _touch(case, "status", "info_requests", *CLOCK_FIELDS)
        event = _event(case, EventKind.INFO_REQUESTED, actor=actor, body=body, at=now)
        _audit(actor, case, "info_requested", before)
        _tell_customer(case, f"info:{event.pk}", f"{case.number}: we need information from you",
                       body)
    return case


def case_provide_info(*, actor, case: Case, body, facts=None, attachments=None) -> Case:
    body = clean_text("body", body, required=not facts, limit=20000)
    with transaction.atomic():
        case = _lock(case)
        rule = _check(actor, case, "provide_info")
        facts = clean_facts(case.product, facts)
        checked = check_uploads(attachments)
        before = snapshot(case, CASE_FIELDS)
        now = timezone.now()
        unrouted = case.routed_at is None
        if unrouted:
            merged = {**case.facts, **facts}
            missing = [
                r for r in case.product.case_requirements.all()
                if not str(merged.get(r.name, "")).strip()
            ]
            if missing:
                raise ValidationError({"facts": [
                    f"Still needed: {', '.join(r.label for r in missing)}."]})
        case.facts = {**case.facts, **facts}
        _customer_answered(case, now)
        case.status = rule.target
        _touch(case, "status", "facts", *CLOCK_FIELDS)
        text = body or "Facts provided: " + ", ".join(sorted(facts))
        event = _event(case, EventKind.INFO_PROVIDED, actor=actor, body=text,
                       data={"facts": sorted(facts)}, at=now)
        _attach(case, event, checked, actor)
        _audit(actor, case, "info_provided", before, {"facts": [None, sorted(facts)]})
        if unrouted:
            _assess_and_route(case, now, actor=actor)
        else:
            _tell_care(case, f"provided:{event.pk}", f"{case.number}: the customer answered",
                       text)
    return case


def case_propose_solution(*, actor, case: Case, body) -> Case:
    body = clean_text("body", body, limit=20000)
    with transaction.atomic():
        case = _lock(case)
        rule = _check(actor, case, "propose_solution")
        before = snapshot(case, CASE_FIELDS)
        now = timezone.now()
        sla.stop(case, "response", now)
        case.status = rule.target
        case.solutions_proposed += 1
        case.solution_proposed_at = now
        _wait_for_customer(case, now)
        _touch(case, "status", "solutions_proposed", "solution_proposed_at", *CLOCK_FIELDS)
        event = _event(case, EventKind.SOLUTION_PROPOSED, actor=actor, body=body, at=now)
        _audit(actor, case, "solution_proposed", before)
        _tell_customer(case, f"solution:{event.pk}",
                       f"{case.number}: a solution for you to review", body)
    return case


def case_confirm(*, actor, case: Case) -> Case:
    with transaction.atomic():
        case = _lock(case)
        rule = _check(actor, case, "confirm")
        before = snapshot(case, CASE_FIELDS)
        now = timezone.now()
        _customer_answered(case, now)
        sla.stop(case, "resolution", now)
        case.status = rule.target
        case.confirmed_at = now
        _touch(case, "status", "confirmed_at", *CLOCK_FIELDS)
        event = _event(case, EventKind.CONFIRMED, actor=actor,
                       body="The customer confirmed that the solution resolves the issue.",
                       at=now)
        _audit(actor, case, "confirmed", before)
        _tell_care(case, f"confirmed:{event.pk}",
                   f"{case.number} confirmed: close it with the root cause and a KB article")
    return case


def case_reject_solution(*, actor, case: Case, reason) -> Case:
    reason = clean_text("reason", reason, limit=5000)
    with transaction.atomic():
        case = _lock(case)
        rule = _check(actor, case, "reject_solution")
        before = snapshot(case, CASE_FIELDS)
        now = timezone.now()
        _customer_answered(case, now)
        case.status = rule.target
        case.solutions_rejected += 1
        _touch(case, "status", "solutions_rejected", *CLOCK_FIELDS)
        event = _event(case, EventKind.SOLUTION_REJECTED, actor=actor, body=reason, at=now)
        _audit(actor, case, "solution_rejected", before, {"reason": [None, reason]})
        _tell_care(case, f"rejected:{event.pk}",
                   f"{case.number}: the customer rejected the solution", reason)
    return case


def _resolve_kb(actor, case: Case, kb_article, new_kb_article) -> KnowledgeArticle:
    from caredeck.cases.selectors import kb_get

    if kb_article not in (None, ""):
        if new_kb_article:
            raise ValidationError({"kb_article": ["Link an article or write a new one, not both."]})
        try:
            return kb_get(actor, str(kb_article))
        except Exception as exc:  # noqa: BLE001 - Http404 and bad ids alike
            raise ValidationError({"kb_article": ["No such knowledge-base article."]}) from exc
    if not new_kb_article:
        raise ValidationError({"kb_article": [
            "Closing needs a knowledge-base article: link one or write a new one."]})
    if not isinstance(new_kb_article, dict):
        raise ValidationError({"new_kb_article": ["Give the article as {title, body}."]})
    return kb_create(
        actor=actor, title=new_kb_article.get("title"), body=new_kb_article.get("body"),
        product=case.product, visibility=new_kb_article.get("visibility") or
        KnowledgeArticle.Visibility.PUBLIC, field_prefix="new_kb_article.",
    )


def _resolve_hotfix(actor, case: Case, hotfix) -> Hotfix | None:
    from caredeck.cases.selectors import hotfix_get

    if hotfix in (None, "", {}):
        return None
    if isinstance(hotfix, str | int):
        try:
            return hotfix_get(actor, str(hotfix))
        except Exception as exc:  # noqa: BLE001 - Http404 and bad ids alike
            raise ValidationError({"hotfix": ["No such hot fix in the log."]}) from exc
    if not isinstance(hotfix, dict):
        raise ValidationError({"hotfix": ["Give {product, version, description} or a number."]})
    return hotfix_create(
        actor=actor, product=hotfix.get("product") or case.product,
        version=hotfix.get("version"), description=hotfix.get("description"),
        field_prefix="hotfix.",
    )


def case_close(*, actor, case: Case, root_cause, kb_article=None, new_kb_article=None,
               hotfix=None) -> Case:
    """Closure after the customer confirmed: the root cause, a KB article (linked or
    new) and, when a code fix is needed, a hot-fix log entry."""
    root_cause = clean_text("root_cause", root_cause, limit=10000)
    with transaction.atomic():
        case = _lock(case)
        rule = _check(actor, case, "close")
        article = _resolve_kb(actor, case, kb_article, new_kb_article)
        fix = _resolve_hotfix(actor, case, hotfix)
        before = snapshot(case, CASE_FIELDS)
        now = timezone.now()
        case.status = rule.target
        case.root_cause = root_cause
        case.kb_article = article
        if fix is not None:
            case.hotfix = fix
        case.close_reason = CloseReason.RESOLVED
        case.closed_at = now
        _touch(case, "status", "root_cause", "kb_article", "hotfix", "close_reason", "closed_at")
        text = f"Root cause: {root_cause}\n\nKnowledge base: {article.number} {article.title}"
        if fix is not None:
            text += f"\n\nLogged for hot fix {fix.number} ({fix.product} {fix.version})."
        event = _event(case, EventKind.CLOSED, actor=actor, body=text, at=now,
                       data={"kb": article.number, "hotfix": fix.number if fix else None})
        _audit(actor, case, "closed", before)
        _tell_customer(case, f"closed:{event.pk}", f"{case.number} closed", text)
    return case


def case_reopen(*, actor, case: Case, reason) -> Case:
    reason = clean_text("reason", reason, limit=5000)
    with transaction.atomic():
        case = _lock(case)
        if is_care(actor, case):
            if case.status != S.CLOSED:
                raise Conflict("Only a closed case can be reopened.")
        else:
            _check(actor, case, "reopen")
            if not _customer_may_reopen(case):
                raise Conflict(f"A case can be reopened within {settings.CASES_REOPEN_DAYS} "
                               "days of its closure; open a new case and quote this number.")
        before = snapshot(case, CASE_FIELDS)
        now = timezone.now()
        case.status = S.OPEN
        case.reopened += 1
        case.closed_at = None
        case.close_reason = ""
        case.confirmed_at = None
        # A fresh resolution clock; the first response stays answered.
        case.resolved_at = None
        case.resolution_breached_at = None
        case.resolution_warned_at = None
        # Resume first: a case that closed itself while paused keeps its old minutes
        # left, which must not replace the fresh resolution target set below.
        _customer_answered(case, now)
        target = sla.target_minutes(case, "case_resolution_minutes")
        sla._set(case, "resolution", now, target, target, sla.calendar_for(case))
        _touch(case, "status", "reopened", "closed_at", "close_reason", "confirmed_at",
               "resolution_breached_at", "resolution_warned_at", *CLOCK_FIELDS)
        event = _event(case, EventKind.REOPENED, actor=actor, body=reason, at=now)
        _audit(actor, case, "reopened", before, {"reason": [None, reason]})
        if case.owner_id is None or not case.owner.is_active:
            _assess_and_route(case, now, actor=actor)
        _tell_care(case, f"reopened:{event.pk}", f"{case.number} reopened", reason,
                   exclude=actor)
        if is_care(actor, case):
            _tell_customer(case, f"reopened:{event.pk}", f"{case.number} reopened", reason)
    return case


def case_assign(*, actor, case: Case, analyst, note) -> Case:
    """Hand-over: explicit, with a note; by the owner or a care manager."""
    note = clean_text("note", note, limit=5000)
    if not isinstance(analyst, User):
        analyst = User.objects.filter(pk=analyst).first() if is_id(analyst) else None
    if analyst is None or not analyst.is_active or not has_capability(
            analyst, Capability.WORK_CASES, case.organization) or not is_provider_staff(analyst):
        raise ValidationError({"analyst": ["Choose an active Customer Care analyst who serves "
                                           "this customer."]})
    with transaction.atomic():
        case = _lock(case)
        _check(actor, case, "assign")
        if case.owner_id not in (None, actor.pk) and not has_capability(
                actor, Capability.MANAGE_CARE, case.organization):
            raise PermissionDenied("The owner or a care manager hands a case over.")
        if case.owner_id == analyst.pk:
            raise Conflict(f"{analyst} already owns this case.")
        before = snapshot(case, CASE_FIELDS)
        previous = case.owner
        case.owner = analyst
        expert = Expert.objects.filter(user=analyst).first()
        if expert is not None:
            case.group_id = expert.group_id
        _touch(case, "owner", "group")
        case.collaborators.remove(analyst)
        event = _event(case, EventKind.ASSIGNED, actor=actor, body=note, public=False,
                       data={"from": previous.pk if previous else None, "to": analyst.pk})
        _event(case, EventKind.ASSIGNED, actor=actor, body=f"Your case is now owned by {analyst}.")
        _audit(actor, case, "handed_over", before, {"note": [None, note]})
        _notify(case, event="case.work", users=[analyst], key=f"handover:{event.pk}",
                headline=f"{case.number} handed over to you", body=note, public=False)
    return case


def case_add_collaborator(*, actor, case: Case, user) -> Case:
    if not is_care(actor, case):
        raise PermissionDenied("Customer Care adds collaborators.")
    if not isinstance(user, User):
        user = User.objects.filter(pk=user).first() if is_id(user) else None
    if user is None or not user.is_active or not is_provider_staff(user) or not has_capability(
            user, Capability.WORK_CASES, case.organization):
        raise ValidationError({"user": ["Choose an active Customer Care colleague."]})
    with transaction.atomic():
        case = _lock(case)
        if case.owner_id == user.pk or case.collaborators.filter(pk=user.pk).exists():
            raise Conflict(f"{user} already works on this case.")
        case.collaborators.add(user)
        _touch(case)
        event = _event(case, EventKind.COLLABORATOR, actor=actor, public=False,
                       body=f"{user} joined as a collaborator.", data={"user": user.pk})
        audit_record(actor=actor, obj=case, action="collaborator_added",
                     changes={"collaborators": [None, user.email]})
        _notify(case, event="case.work", users=[user], key=f"collab:{event.pk}",
                headline=f"You were added to {case.number}", public=False)
    return case


def case_change_criticality(*, actor, case: Case, criticality, reason) -> Case:
    if not is_care(actor, case):
        raise PermissionDenied("Customer Care adjusts the criticality.")
    criticality = _clean_choice("criticality", criticality, Criticality.values,
                                "Choose a criticality from 1 (critical) to 4 (low).")
    reason = clean_text("reason", reason, limit=2000)
    with transaction.atomic():
        case = _lock(case)
        if case.status not in ACTIVE:
            raise Conflict("The criticality of a closed case stays as it was.")
        if case.criticality == criticality:
            raise Conflict("The case already has this criticality.")
        before = snapshot(case, CASE_FIELDS)
        old = case.criticality
        case.criticality = criticality
        sla.retarget(case, timezone.now(), old)
        _touch(case, "criticality", *CLOCK_FIELDS, "response_breached_at",
               "resolution_breached_at")
        event = _event(case, EventKind.CRITICALITY, actor=actor, body=reason,
                       data={"from": old, "to": criticality})
        _audit(actor, case, "criticality_changed", before, {"reason": [None, reason]})
        _tell_customer(case, f"crit:{event.pk}",
                       f"{case.number}: criticality {old} → {criticality}", reason)
    return case


# --- Escalation -----------------------------------------------------------------------


def escalation_phone(case: Case) -> str:
    contact = EscalationContact.objects.filter(deployment=case.deployment).first()
    return contact.phone if contact else ""


def case_escalate(*, actor, case: Case, business_impact) -> CaseEscalation:
    """A customer or partner asks management to escalate: routed to the platform's
    management contact; a care manager acknowledges within the configured time."""
    business_impact = clean_text("business_impact", business_impact, limit=5000)
    with transaction.atomic():
        case = _lock(case)
        _check(actor, case, "escalate")
        if case.escalations.filter(acknowledged_at__isnull=True).exists():
            raise Conflict("This case is already escalated and waits for a care manager's "
                           "acknowledgement.")
        now = timezone.now()
        contact = EscalationContact.objects.select_related("manager").filter(
            deployment=case.deployment).first()
        manager = contact.manager if contact and contact.manager.is_active else None
        escalation = CaseEscalation.objects.create(
            case=case, raised_by=actor, raised_at=now, business_impact=business_impact,
            manager=manager, tam=case.organization.tam, phone=contact.phone if contact else "",
            ack_due_at=now + datetime.timedelta(minutes=settings.CASES_ESCALATION_ACK_MINUTES),
        )
        _touch(case)
        routed_to = f"{manager} ({case.get_deployment_display()} management)" if manager \
            else "the care managers"
        event = _event(case, EventKind.ESCALATED, actor=actor, body=business_impact, at=now,
                       data={"escalation": escalation.pk, "manager": manager.pk if manager
                             else None})
        audit_record(actor=actor, obj=case, action="escalated",
                     changes={"escalation": [None, business_impact[:200]]})
        audience = {u.pk: u for u in care_managers_for(case)}
        for person in (manager, escalation.tam, case.owner):
            if person is not None and person.is_active:
                audience[person.pk] = person
        _notify(case, event="case.escalation", users=audience.values(),
                key=f"escalated:{escalation.pk}",
                headline=f"Escalation on {case.number}: acknowledge by "
                         f"{escalation.ack_due_at:%H:%M} UTC",
                body=f"Routed to {routed_to}.\n\nBusiness impact: {business_impact}",
                public=False)
        _tell_customer(case, f"escalated:{event.pk}", f"{case.number} escalated",
                       f"Your escalation went to {routed_to}. A care manager acknowledges it "
                       "with next steps and a communication plan.")
    return escalation


def case_acknowledge_escalation(
    *, actor, case: Case, next_steps, communication_plan
) -> CaseEscalation:
    if not has_capability(actor, Capability.MANAGE_CARE, case.organization):
        raise PermissionDenied("A care manager acknowledges an escalation.")
    errors = {}
    for name, value in (("next_steps", next_steps), ("communication_plan", communication_plan)):
        try:
            clean_text(name, value, limit=5000)
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        case = _lock(case)
        escalation = case.escalations.select_for_update().filter(
            acknowledged_at__isnull=True).first()
        if escalation is None:
            raise Conflict("The case has no escalation waiting for an acknowledgement.")
        now = timezone.now()
        escalation.acknowledged_at = now
        escalation.acknowledged_by = actor
        escalation.next_steps = next_steps.strip()
        escalation.communication_plan = communication_plan.strip()
        escalation.save()
        _touch(case)
        text = (f"Next steps: {escalation.next_steps}\n\n"
                f"Communication plan: {escalation.communication_plan}")
        event = _event(case, EventKind.ESCALATION_ACK, actor=actor, body=text, at=now,
                       data={"escalation": escalation.pk})
        audit_record(actor=actor, obj=case, action="escalation_acknowledged", changes={
            "next_steps": [None, escalation.next_steps[:200]],
            "communication_plan": [None, escalation.communication_plan[:200]]})
        _tell_customer(case, f"ack:{event.pk}", f"{case.number}: escalation acknowledged", text)
        people = [p for p in (escalation.tam, escalation.raised_by, case.owner)
                  if p is not None and p.is_active and is_provider_staff(p)]
        _notify(case, event="case.escalation", users=people, key=f"ack:{event.pk}",
                headline=f"{case.number}: escalation acknowledged by {actor}", body=text,
                public=False)
    return escalation


# --- Knowledge base and hot-fix log -----------------------------------------------------


def _require_care(actor) -> None:
    if not (is_provider_staff(actor) and has_capability(actor, Capability.WORK_CASES)):
        raise PermissionDenied("Customer Care keeps the knowledge base and the hot-fix log.")


def _product_of(value, field: str) -> Product:
    if isinstance(value, Product):
        return value
    product = Product.objects.filter(slug=str(value or "")).first() if value else None
    if product is None:
        raise ValidationError({field: ["Choose one of the provider's products."]})
    return product


def kb_create(*, actor, title, body, product=None, visibility=KnowledgeArticle.Visibility.PUBLIC,
              field_prefix: str = "") -> KnowledgeArticle:
    _require_care(actor)
    errors = {}
    cleaned = {}
    for name, value, limit in (("title", title, 200), ("body", body, 50000)):
        try:
            cleaned[name] = clean_text(field_prefix + name, value, limit=limit)
        except ValidationError as error:
            errors.update(error.message_dict)
    if visibility not in KnowledgeArticle.Visibility.values:
        errors[field_prefix + "visibility"] = ["Choose public or internal."]
    if product not in (None, ""):
        try:
            product = _product_of(product, field_prefix + "product")
        except ValidationError as error:
            errors.update(error.message_dict)
    else:
        product = None
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        article = KnowledgeArticle.objects.create(
            title=cleaned["title"], body=cleaned["body"], product=product,
            visibility=visibility, author=actor,
        )
        audit_record(actor=actor, obj=article, action="created", changes={
            "title": [None, article.title], "visibility": [None, visibility]})
    return article


def kb_update(*, actor, article: KnowledgeArticle, title, body, visibility) -> KnowledgeArticle:
    _require_care(actor)
    errors = {}
    cleaned = {}
    for name, value, limit in (("title", title, 200), ("body", body, 50000)):
        try:
            cleaned[name] = clean_text(name, value, limit=limit)
        except ValidationError as error:
            errors.update(error.message_dict)
    if visibility not in KnowledgeArticle.Visibility.values:
        errors["visibility"] = ["Choose public or internal."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        before = snapshot(article, ["title", "body", "visibility"])
        article.title, article.body = cleaned["title"], cleaned["body"]
        article.visibility = visibility
        article.updated_at = timezone.now()
        article.save()
        audit_record(actor=actor, obj=article, action="updated",
                     changes=changes_between(before, snapshot(article, ["title", "body",
                                                                        "visibility"])))
    return article


def hotfix_create(*, actor, product, version, description, cases=(),
                  field_prefix: str = "") -> Hotfix:
    _require_care(actor)
    errors = {}
    try:
        product = _product_of(product, field_prefix + "product")
    except ValidationError as error:
        errors.update(error.message_dict)
    cleaned = {}
    for name, value, limit in (("version", version, 40), ("description", description, 10000)):
        try:
            cleaned[name] = clean_text(field_prefix + name, value, limit=limit)
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    from caredeck.cases.selectors import cases_visible

    linked = []
    for number in cases or ():
        case = cases_visible(actor).filter(number=str(number)).first()
        if case is None:
            raise ValidationError({field_prefix + "cases": [f"No such case: {number}."]})
        linked.append(case)
    with transaction.atomic():
        fix = Hotfix.objects.create(product=product, version=cleaned["version"],
                                    description=cleaned["description"], created_by=actor)
        for case in linked:
            Case.objects.filter(pk=case.pk).update(hotfix=fix, updated_at=timezone.now())
            _event(case, EventKind.HOTFIX, actor=actor,
                   body=f"Logged for hot fix {fix.number} ({product} {fix.version}).")
        audit_record(actor=actor, obj=fix, action="logged", changes={
            "version": [None, fix.version], "cases": [None, [c.number for c in linked]]})
    return fix


def hotfix_release(*, actor, hotfix: Hotfix) -> Hotfix:
    """The fix shipped: every customer waiting for it hears, on their case."""
    _require_care(actor)
    if not has_capability(actor, Capability.SERVE_ALL_TENANTS):
        raise PermissionDenied("The hot-fix log is kept by Care staff who serve every tenant.")
    with transaction.atomic():
        hotfix = Hotfix.objects.select_for_update().get(pk=hotfix.pk)
        if hotfix.status == Hotfix.Status.RELEASED:
            raise Conflict("This hot fix is already released.")
        hotfix.status = Hotfix.Status.RELEASED
        hotfix.released_at = timezone.now()
        hotfix.save(update_fields=["status", "released_at"])
        audit_record(actor=actor, obj=hotfix, action="released",
                     changes={"status": [Hotfix.Status.PLANNED, Hotfix.Status.RELEASED]})
        for case in hotfix.cases.select_related("organization", "requester", "opened_by"):
            text = f"Hot fix {hotfix.number} ({hotfix.product} {hotfix.version}) is released."
            event = _event(case, EventKind.HOTFIX, actor=actor, body=text)
            _tell_customer(case, f"hotfix:{event.pk}", f"{case.number}: the fix is released",
                           text)
    return hotfix
