"""Every state change of problem management: problem records, their status, linking
incidents, publishing the RCA, post-incident reviews and their action items.

One function per use case: it checks the actor's capability (MANAGE_PROBLEMS: incident
managers, engineers, platform admins), validates, writes in one transaction with its
audit entries (on the problem, and on the incident when an incident changes), and
queues the notices it causes. Status moves follow the table in states.py.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from caredeck.accounts.access import has_capability
from caredeck.accounts.roles import Capability
from caredeck.core.audit import audit_record, changes_between, snapshot
from caredeck.core.exceptions import Conflict
from caredeck.incidents.models import EventKind, Incident, IncidentStatus, TimelineEvent
from caredeck.notify.services import notify_users
from caredeck.problems import clocks, rca, states
from caredeck.problems.models import (
    ActionItem,
    PostIncidentReview,
    Problem,
    ProblemStatus,
)
from caredeck.problems.selectors import is_problem_staff
from caredeck.topology.models import FunctionalArea
from caredeck.topology.selectors import element_kind_of, is_slug

PROBLEM_FIELDS = (
    "title", "description", "owner", "root_cause", "workaround", "area", "element",
    "rca_document",
)
# What PATCH / the edit form may change; status moves through `problem_transition`.
EDITABLE_FIELDS = frozenset(PROBLEM_FIELDS)
REVIEWABLE_STATUSES = (IncidentStatus.RESOLVED, IncidentStatus.CLOSED)


def _require_manage(actor) -> None:
    if not has_capability(actor, Capability.MANAGE_PROBLEMS):
        raise PermissionDenied("Your roles do not allow this (problem management).")


def _full_clean(obj, exclude: list[str] | None = None) -> None:
    obj.full_clean(exclude=exclude, validate_unique=False)


def _check_owner(user, field: str) -> None:
    if user is None or not is_problem_staff(user):
        raise ValidationError({field: ["Choose an active provider staff member."]})


def _check_area_element(area: str, element: str) -> None:
    # An id that is no slug names nothing (and PostgreSQL refuses NUL bytes in a query).
    if area and not (is_slug(area) and FunctionalArea.objects.filter(slug=area).exists()):
        raise ValidationError({"area": ["No such functional area."]})
    if element and element_kind_of(element) is None:
        raise ValidationError({"element": ["No such zone, region or PoP."]})


def _refuse_if_closed(problem: Problem) -> None:
    if problem.status == ProblemStatus.CLOSED:
        raise Conflict(f"{problem.number} is closed: the record no longer changes.")


def _problem_url(problem: Problem) -> str:
    return reverse("problem-detail", args=[problem.number])


def _tell_owner(problem: Problem, actor) -> None:
    """A new owner hears that the problem is theirs (unless they took it themselves)."""
    if problem.owner_id == getattr(actor, "pk", None):
        return
    notify_users(
        event="problem.team", users=[problem.owner],
        dedupe_base=f"{problem.number}:owner:{problem.owner_id}:{timezone.now().isoformat()}",
        template="problem_owner", context={"problem": problem, "actor": actor},
        url=_problem_url(problem),
    )


def _audit_changes(**pairs: tuple) -> dict:
    """field=(before, after) -> the audit's JSON-safe {field: [before, after]}."""
    return changes_between(
        {field: pair[0] for field, pair in pairs.items()},
        {field: pair[1] for field, pair in pairs.items()},
    )


def _rca_clock_refresh(actor, problem: Problem) -> None:
    """Recompute the RCA due time from the linked incidents; audit a change."""
    before = problem.rca_due_at
    if clocks.rca_clock_refresh(problem):
        audit_record(actor=actor, obj=problem, action="rca_due_changed",
                     changes=_audit_changes(rca_due_at=(before, problem.rca_due_at)))


# --- Linking incidents ----------------------------------------------------------------


def _check_linkable(problem: Problem, incident: Incident, field: str | None = None) -> None:
    """An incident belongs to one problem; moving it is an explicit unlink first."""
    if incident.problem_id and incident.problem_id != problem.pk:
        reason = (
            f"{incident.number} is linked to {incident.problem.number}; unlink it there "
            "first."
        )
        if field:
            raise ValidationError({field: [reason]})
        raise Conflict(reason)


def _link(*, actor, problem: Problem, incident: Incident, now) -> None:
    """Link inside the caller's transaction: the incident's field, its timeline, and
    the audit on both sides."""
    Incident.objects.filter(pk=incident.pk).update(problem=problem, updated_at=now)
    incident.problem = problem
    TimelineEvent.objects.create(
        incident=incident, at=now, kind=EventKind.PROBLEM, actor=actor,
        text=f"Linked to problem {problem.number}: {problem.title}",
        data={"problem": problem.number, "linked": True},
    )
    audit_record(actor=actor, obj=incident, action="problem_linked",
                 changes={"problem": [None, problem.number]})
    audit_record(actor=actor, obj=problem, action="incident_linked",
                 changes={"incident": [None, incident.number]})


# --- Problem records -------------------------------------------------------------------


def problem_create(
    *,
    actor,
    title: str,
    description: str = "",
    owner=None,
    root_cause: str = "",
    workaround: str = "",
    area: str = "",
    element: str = "",
    incidents: list[Incident] | tuple = (),
) -> Problem:
    """Open a problem record, optionally linking incidents (each not yet linked to
    another problem). Its RCA clock starts from the incidents' resolution."""
    _require_manage(actor)
    owner = owner or actor
    _check_owner(owner, "owner")
    problem = Problem(
        title=(title or "").strip(), description=description or "", owner=owner,
        root_cause=root_cause or "", workaround=workaround or "", area=area or "",
        element=element or "",
    )
    _full_clean(problem, exclude=["number"])
    _check_area_element(problem.area, problem.element)
    for incident in incidents:
        _check_linkable(problem, incident, field="incidents")
    now = timezone.now()
    with transaction.atomic():
        problem.created_at = problem.updated_at = now
        problem.save()
        audit_record(
            actor=actor, obj=problem, action="created",
            changes=changes_between({}, snapshot(problem, ("status", *PROBLEM_FIELDS))),
        )
        for incident in incidents:
            _link(actor=actor, problem=problem, incident=incident, now=now)
        _rca_clock_refresh(actor, problem)
        _tell_owner(problem, actor)
    return problem


def problem_update(*, actor, problem: Problem, **fields: Any) -> Problem:
    """Change the record's text, owner, area or element, or its RCA document (until the
    RCA is published: what tenants received stays what the record says)."""
    _require_manage(actor)
    unknown = set(fields) - EDITABLE_FIELDS
    if "status" in unknown:
        raise ValidationError({"status": ["Change the status with a transition."]})
    if unknown:
        raise ValidationError({sorted(unknown)[0]: ["This field cannot be changed."]})
    # Start from the stored record: a stale copy (another tab) must not undo changes
    # made since, and only the fields given are written.
    problem.refresh_from_db()
    _refuse_if_closed(problem)
    if (
        problem.rca_published_at
        and "rca_document" in fields
        and fields["rca_document"] != problem.rca_document
    ):
        raise Conflict(
            f"The RCA was published on {problem.rca_published_at:%Y-%m-%d %H:%M} UTC; "
            "the document sent to the tenants no longer changes."
        )
    before = snapshot(problem, PROBLEM_FIELDS)
    owner_before = problem.owner_id
    for name, value in fields.items():
        setattr(problem, name, value if value is not None or name == "owner" else "")
    if "owner" in fields:
        _check_owner(problem.owner if problem.owner_id else None, "owner")
    if "title" in fields:
        problem.title = (problem.title or "").strip()
    _full_clean(problem, exclude=["number"])
    _check_area_element(problem.area, problem.element)
    with transaction.atomic():
        problem.updated_at = timezone.now()
        problem.save(update_fields=[*fields, "updated_at"])
        changes = changes_between(before, snapshot(problem, PROBLEM_FIELDS))
        if changes:
            audit_record(actor=actor, obj=problem, action="updated", changes=changes)
        if problem.owner_id != owner_before:
            _tell_owner(problem, actor)
    return problem


def _transition_needs(problem: Problem, target: str) -> None:
    """What the target status needs besides the table's permission."""
    if target in (ProblemStatus.ROOT_CAUSE_KNOWN, ProblemStatus.RESOLVED) and not (
        problem.root_cause.strip()
    ):
        raise ValidationError({"root_cause": [
            f"Write down the root cause before marking the problem "
            f"{ProblemStatus(target).label.lower()}."
        ]})
    if target == ProblemStatus.KNOWN_ERROR and not problem.workaround.strip():
        raise ValidationError({"workaround": [
            "Describe the work-around before recording a known error."
        ]})
    if target == ProblemStatus.CLOSED:
        if problem.rca_due_at and not problem.rca_published_at:
            raise Conflict(
                "The root-cause analysis owed to the affected tenants is not published "
                "yet; publish it before closing."
            )
        open_items = problem.action_items.filter(done_at__isnull=True).count()
        if open_items:
            raise Conflict(
                f"{open_items} action item{'s are' if open_items > 1 else ' is'} still "
                "open; finish them before closing."
            )


def problem_transition(*, actor, problem: Problem, status: str) -> Problem:
    """Move the problem along the table of states.py (409 for a move it does not allow,
    400 on the field a move needs)."""
    _require_manage(actor)
    if status not in ProblemStatus.values:
        raise ValidationError({"status": [
            f"Choose one of: {', '.join(ProblemStatus.values)}."
        ]})
    problem.refresh_from_db()
    if status not in states.allowed_next(problem.status):
        raise Conflict(states.refusal(problem.status, status))
    _transition_needs(problem, status)
    now = timezone.now()
    with transaction.atomic():
        # Guarded: of two racing moves from the same status, only one happens.
        changes: dict[str, Any] = {"status": status, "updated_at": now}
        if status == ProblemStatus.RESOLVED:
            changes["resolved_at"] = now
        if status == ProblemStatus.CLOSED:
            changes["rca_remind_at"] = None
        moved = Problem.objects.filter(pk=problem.pk, status=problem.status).update(**changes)
        if not moved:
            raise Conflict("The problem changed meanwhile; reload it and try again.")
        before = problem.status
        for name, value in changes.items():
            setattr(problem, name, value)
        audit_record(actor=actor, obj=problem, action="status_changed",
                     changes={"status": [before, status]})
    return problem


def problem_incident_link(*, actor, problem: Problem, incident: Incident) -> Problem:
    _require_manage(actor)
    _refuse_if_closed(problem)
    if incident.problem_id == problem.pk:
        raise Conflict(f"{incident.number} is already linked to {problem.number}.")
    _check_linkable(problem, incident)
    now = timezone.now()
    with transaction.atomic():
        _link(actor=actor, problem=problem, incident=incident, now=now)
        _rca_clock_refresh(actor, problem)
        Problem.objects.filter(pk=problem.pk).update(updated_at=now)
    return problem


def problem_incident_unlink(*, actor, problem: Problem, incident: Incident) -> Problem:
    _require_manage(actor)
    _refuse_if_closed(problem)
    if incident.problem_id != problem.pk:
        raise Conflict(f"{incident.number} is not linked to {problem.number}.")
    now = timezone.now()
    with transaction.atomic():
        Incident.objects.filter(pk=incident.pk).update(problem=None, updated_at=now)
        incident.problem = None
        TimelineEvent.objects.create(
            incident=incident, at=now, kind=EventKind.PROBLEM, actor=actor,
            text=f"Unlinked from problem {problem.number}.",
            data={"problem": problem.number, "linked": False},
        )
        audit_record(actor=actor, obj=incident, action="problem_unlinked",
                     changes={"problem": [problem.number, None]})
        audit_record(actor=actor, obj=problem, action="incident_unlinked",
                     changes={"incident": [incident.number, None]})
        _rca_clock_refresh(actor, problem)
        Problem.objects.filter(pk=problem.pk).update(updated_at=now)
    return problem


def problem_rca_due_refresh(*, problem: Problem) -> Problem:
    """Recompute the RCA due time after a linked incident was resolved (called by the
    incident's resolution), audited as a system change."""
    with transaction.atomic():
        _rca_clock_refresh(None, problem)
    return problem


def problem_rca_publish(*, actor, problem: Problem) -> Problem:
    """Publish the RCA once: every affected tenant of every linked incident receives
    its own message set (rca.py). Needs the root cause and the document."""
    _require_manage(actor)
    problem.refresh_from_db()  # what is sent is what is stored, not a stale copy
    if problem.rca_published_at:
        raise Conflict(
            f"The RCA was already published on {problem.rca_published_at:%Y-%m-%d %H:%M} UTC."
        )
    _refuse_if_closed(problem)
    if not problem.incidents.exists():
        raise Conflict(
            "No incident is linked: link the incidents this RCA explains, whose affected "
            "tenants receive it."
        )
    rows = rca.recipients_of(problem)
    rca.rca_check(problem, rows)
    now = timezone.now()
    with transaction.atomic():
        published = Problem.objects.filter(
            pk=problem.pk, rca_published_at__isnull=True
        ).update(rca_published_at=now, rca_remind_at=None, updated_at=now)
        if not published:
            raise Conflict("The RCA was already published.")
        problem.rca_published_at, problem.rca_remind_at = now, None
        counts = rca.rca_send(problem=problem, rows=rows, actor=actor)
        audit_record(
            actor=actor, obj=problem, action="rca_published",
            changes=_audit_changes(
                rca_published_at=(None, now), tenants_told=(None, len(counts)),
                messages=(None, sum(counts.values())),
            ),
        )
    return problem


# --- Post-incident reviews and action items --------------------------------------------


def _clean_action_item(item: dict) -> dict:
    """{title, owner (User), due_on (date)} -> cleaned, or errors on those fields."""
    title = str(item.get("title") or "").strip()
    owner = item.get("owner")
    due_on = item.get("due_on")
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = ["Give the action item a title."]
    elif len(title) > ActionItem._meta.get_field("title").max_length:
        errors["title"] = ["The title is too long (200 characters at most)."]
    if owner is None or not is_problem_staff(owner):
        errors["owner"] = ["The owner must be an active provider staff member."]
    if not isinstance(due_on, datetime.date) or isinstance(due_on, datetime.datetime):
        errors["due_on"] = ["Give a due date."]
    if errors:
        raise ValidationError(errors)
    return {"title": title, "owner": owner, "due_on": due_on}


def _clean_action_items(items: list[dict]) -> list[dict]:
    """Every item cleaned, or one `action_items` error naming the item and the field."""
    cleaned = []
    for n, item in enumerate(items, start=1):
        try:
            cleaned.append(_clean_action_item(item if isinstance(item, dict) else {}))
        except ValidationError as exc:
            raise ValidationError({"action_items": [
                f"Item {n}, {field.replace('_', ' ')}: {message}"
                for field, messages in exc.message_dict.items() for message in messages
            ]}) from None
    return cleaned


def _action_items_create(*, actor, review, problem, items: list[dict]) -> list[ActionItem]:
    created = []
    for item in items:
        action_item = ActionItem.objects.create(
            review=review, problem=problem, title=item["title"], owner=item["owner"],
            due_on=item["due_on"],
            remind_at=clocks.action_item_remind_at(item["owner"], item["due_on"]),
        )
        created.append(action_item)
        if action_item.owner_id != getattr(actor, "pk", None):
            notify_users(
                event="problem.team", users=[action_item.owner],
                dedupe_base=f"action-item:{action_item.pk}:assigned",
                template="problem_action_item",
                context={"item": action_item, "problem": problem, "incident": review.incident,
                         "actor": actor},
                url=clocks.action_item_url(action_item),
            )
    if created and problem is not None:
        audit_record(
            actor=actor, obj=problem, action="action_items_added",
            changes={"action_items": [None, [
                f"{i.title} ({i.owner.name}, due {i.due_on.isoformat()})" for i in created
            ]]},
        )
    return created


def review_hold(
    *,
    actor,
    incident: Incident,
    held_on: datetime.date,
    facilitator,
    summary: str,
    went_well: str = "",
    went_wrong: str = "",
    action_items: list[dict] | tuple = (),
    problem: Problem | None = None,
    new_problem: dict | None = None,
) -> PostIncidentReview:
    """Record the post-incident review of a resolved (or closed) incident with its
    action items, and link the incident to an existing problem or a new one (unless it
    is linked already). Once per incident."""
    _require_manage(actor)
    if incident.status not in REVIEWABLE_STATUSES:
        raise Conflict(
            f"{incident.number} is {incident.get_status_display().lower()}: hold the "
            "review once it is resolved."
        )
    existing = PostIncidentReview.objects.filter(incident=incident).first()
    if existing is not None:
        raise Conflict(f"{incident.number} was already reviewed on {existing.held_on:%Y-%m-%d}.")
    summary = (summary or "").strip()
    if not summary:
        raise ValidationError({"summary": ["Summarise what the review found."]})
    if not isinstance(held_on, datetime.date) or held_on > timezone.localdate():
        raise ValidationError({"held_on": ["Give the day the review was held (not later "
                                           "than today)."]})
    if held_on < incident.detected_at.date():
        raise ValidationError({"held_on": ["The review cannot be before the incident."]})
    _check_owner(facilitator, "facilitator")
    items = _clean_action_items(list(action_items))
    if problem is not None and new_problem:
        raise ValidationError({"problem": [
            "Link an existing problem or create a new one, not both."
        ]})
    if problem is None and not new_problem:
        if incident.problem_id is None:
            raise ValidationError({"problem": [
                "Link an existing problem or create a new one: the review feeds problem "
                "management."
            ]})
        problem = incident.problem
    if problem is not None:
        _refuse_if_closed(problem)
        _check_linkable(problem, incident, field="problem")
    if new_problem and incident.problem_id:
        raise ValidationError({"new_problem": [
            f"{incident.number} is linked to {incident.problem.number}; unlink it there "
            "first or link the review to it."
        ]})
    now = timezone.now()
    with transaction.atomic():
        review = PostIncidentReview(
            incident=incident, held_on=held_on, facilitator=facilitator, summary=summary,
            went_well=went_well or "", went_wrong=went_wrong or "", created_at=now,
        )
        _full_clean(review, exclude=["incident", "facilitator"])
        review.save()
        if new_problem:
            problem = problem_create(actor=actor, incidents=[incident], **_new_problem_fields(
                new_problem, incident
            ))
        elif incident.problem_id != problem.pk:
            _link(actor=actor, problem=problem, incident=incident, now=now)
            _rca_clock_refresh(actor, problem)
        created = _action_items_create(actor=actor, review=review, problem=problem, items=items)
        TimelineEvent.objects.create(
            incident=incident, at=now, kind=EventKind.REVIEW, actor=actor,
            text=f"Post-incident review held on {held_on:%Y-%m-%d}, facilitated by "
            f"{facilitator.name}: {len(created)} action item(s); problem {problem.number}.",
            data={"problem": problem.number, "action_items": len(created)},
        )
        audit_record(
            actor=actor, obj=incident, action="reviewed",
            changes=_audit_changes(
                held_on=(None, held_on), facilitator=(None, facilitator.name),
                summary=(None, summary), problem=(None, problem.number),
                action_items=(None, len(created)),
            ),
        )
    return review


def _new_problem_fields(data: dict, incident: Incident) -> dict:
    """The fields of a problem opened from a review; what it hit defaults to the
    incident's first area and its failed element, for spotting a recurrence."""
    allowed = {"title", "description", "owner", "root_cause", "workaround", "area", "element"}
    unknown = set(data) - allowed
    if unknown:
        raise ValidationError({"new_problem": [
            f"Unknown field {sorted(unknown)[0]}; use: {', '.join(sorted(allowed))}."
        ]})
    if not str(data.get("title") or "").strip():
        raise ValidationError({"new_problem": ["Give the new problem a title."]})
    fields = dict(data)
    if "area" not in fields:
        first = incident.affected.filter(removed_at__isnull=True).values_list(
            "areas", flat=True
        ).first() or []
        fields["area"] = next(
            (a.get("area") for a in first if isinstance(a, dict) and a.get("area")), ""
        )
    fields.setdefault("element", incident.failure_target or "")
    return fields


def action_item_add(*, actor, review: PostIncidentReview, title: str, owner, due_on) -> ActionItem:
    """A follow-up found after the review, recorded on it and on its problem."""
    _require_manage(actor)
    problem = review.incident.problem
    if problem is not None:
        _refuse_if_closed(problem)
    item = _clean_action_item({"title": title, "owner": owner, "due_on": due_on})
    with transaction.atomic():
        [created] = _action_items_create(actor=actor, review=review, problem=problem,
                                         items=[item])
        if problem is None:
            audit_record(actor=actor, obj=review.incident, action="action_item_added",
                         changes={"action_item": [None, created.title]})
    return created


def _may_tick(actor, item: ActionItem) -> None:
    # The owner ticks off their own item even without problem-management rights.
    if item.owner_id != getattr(actor, "pk", None):
        _require_manage(actor)


def _audit_item(actor, item: ActionItem, action: str, before: str, after: str) -> None:
    target = item.problem if item.problem_id else item.review.incident
    audit_record(actor=actor, obj=target, action=action,
                 changes={item.title[:80]: [before, after]})


def action_item_done(*, actor, item: ActionItem) -> ActionItem:
    _may_tick(actor, item)
    if item.done_at is not None:
        raise Conflict(f"“{item.title}” is already done.")
    if item.problem_id:
        _refuse_if_closed(item.problem)
    now = timezone.now()
    with transaction.atomic():
        if not ActionItem.objects.filter(pk=item.pk, done_at__isnull=True).update(
            done_at=now, remind_at=None
        ):
            raise Conflict(f"“{item.title}” is already done.")
        item.done_at, item.remind_at = now, None
        _audit_item(actor, item, "action_item_done", "open", "done")
    return item


def action_item_reopen(*, actor, item: ActionItem) -> ActionItem:
    _may_tick(actor, item)
    if item.done_at is None:
        raise Conflict(f"“{item.title}” is not done.")
    if item.problem_id:
        _refuse_if_closed(item.problem)
    remind_at = clocks.action_item_remind_at(item.owner, item.due_on)
    with transaction.atomic():
        if not ActionItem.objects.filter(pk=item.pk, done_at__isnull=False).update(
            done_at=None, remind_at=remind_at
        ):
            raise Conflict(f"“{item.title}” is not done.")
        item.done_at, item.remind_at = None, remind_at
        _audit_item(actor, item, "action_item_reopened", "done", "open")
    return item
