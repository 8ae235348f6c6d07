"""Incident pages. Staff who run incidents declare, scope, update, resolve, publish the
report and close; every affected tenant's people read their own view of the incident
(their impact text, the public updates, their own notices), and nothing of other tenants.
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from caredeck.accounts.access import has_capability
from caredeck.accounts.models import User
from caredeck.accounts.roles import Capability, OrganizationKind
from caredeck.accounts.selectors import organization_get
from caredeck.core.audit import audit_entries_for
from caredeck.core.exceptions import Conflict
from caredeck.incidents import forms, selectors, services
from caredeck.incidents.models import (
    SEVERITY_DEFINITIONS,
    EventKind,
    IncidentStatus,
    Severity,
)
from caredeck.web.forms import add_service_errors

PER_PAGE = 25


def _can_run(request) -> bool:
    return has_capability(request.user, Capability.MANAGE_INCIDENTS)


def _require_run(request) -> None:
    if not _can_run(request):
        raise PermissionDenied


@login_required
@require_GET
def incident_list(request):
    status = request.GET.get("status", "open")
    if status not in ("open", "all", *IncidentStatus.values):
        status = "open"
    q = request.GET.get("q", "").strip()[:100].replace("\x00", "")
    incidents = selectors.incidents_list(
        request.user, status="" if status == "all" else status, q=q
    )
    page = Paginator(incidents, PER_PAGE).get_page(request.GET.get("page"))
    staff = selectors.sees_every_tenant(request.user)
    return render(request, "incidents/incident_list.html", {
        "page": page, "status": status, "q": q, "staff": staff, "can_run": _can_run(request),
        "statuses": IncidentStatus.choices,
    })


@login_required
def incident_new(request):
    _require_run(request)
    form = forms.DeclareForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            incident = services.incident_declare(actor=request.user, **form.declare_kwargs())
        except ValidationError as exc:
            add_service_errors(form, _scope_errors_to_fields(exc))
        else:
            count = incident.affected.count()
            messages.success(request, f"{incident.number} declared; {count} tenant(s) affected.")
            return redirect("incident-detail", incident.number)
    return render(request, "incidents/incident_form.html", {
        "form": form, "definitions": SEVERITY_DEFINITIONS, "severities": Severity,
    })


def _scope_errors_to_fields(exc: ValidationError) -> ValidationError:
    """The service names scope errors `failure`; the form's field is `target`."""
    if not hasattr(exc, "error_dict"):
        return exc
    renamed = {("target" if k == "failure" else k): v for k, v in exc.message_dict.items()}
    return ValidationError(renamed)


def _detail_context(request, incident, **extra) -> dict:
    user = request.user
    staff = selectors.sees_every_tenant(user)
    can_run = _can_run(request)
    affected = selectors.affected_of(user, incident)
    context = {
        "incident": incident,
        "staff": staff,
        "can_run": can_run,
        "affected": affected,
        "current": [a for a in affected if a.removed_at is None],
        "updates": list(selectors.updates_visible(user, incident)),
        "timeline": _collapse_notices(
            selectors.timeline_visible(user, incident).order_by("-at", "-pk")[:2000], staff
        )[:100],
        "definition": SEVERITY_DEFINITIONS.get(incident.severity, ""),
        "update_form": forms.UpdateForm(initial={"status": incident.status
                                                 if incident.is_open else "investigating"}),
        "evidence_form": forms.EvidenceForm(),
        "team": list(incident.team.select_related("user")) if staff else [],
        "notices": selectors.notices_of(user, incident),
        "review": getattr(incident, "review", None) if staff else None,
    }
    if can_run:
        context["team_form"] = forms.TeamForm(staff=_staff_people())
    first_due = {n.organization_id: n.due_at for n in context["notices"] if n.kind == "first"}
    for row in affected:
        # When the first notice was due (detection or joining + the contract's time).
        row.first_due_at = first_due.get(row.organization_id)
    context.update(_clock_context(affected, request.GET.get("tenants_page")))
    context.update(_promise_context(context["notices"]))
    if staff:
        context["history"] = audit_entries_for(incident)[:20]
        context["history_url"] = reverse("history", args=["incident", incident.number])
    context.update(extra)
    return context


CLOCK_ROWS = 15
PROMISE_ROWS = 60


class _NoticeBatch:
    """Staff read one line per notice round, not one per tenant (a region can be
    hundreds of tenants)."""

    kind = EventKind.NOTICE
    public = True
    actor = None
    attachment = None

    def __init__(self, event):
        self.at, self.pk = event.at, event.pk
        self.label = event.data.get("notice", "")
        self.tenants, self.messages = 0, 0

    def add(self, event) -> None:
        self.tenants += 1
        self.messages += event.data.get("recipients", 0)

    def get_kind_display(self) -> str:
        return EventKind.NOTICE.label

    @property
    def text(self) -> str:
        from caredeck.incidents.models import NoticeKind

        label = NoticeKind(self.label).label if self.label in NoticeKind.values else "Notice"
        return f"{label} sent to {self.tenants} tenant(s) ({self.messages} message(s))."


def _collapse_notices(events, staff: bool) -> list:
    if not staff:
        return list(events)
    collapsed, batches = [], {}
    for event in events:
        if event.kind == EventKind.NOTICE and event.organization_id:
            key = (event.at, event.data.get("notice"))
            if key not in batches:
                batches[key] = _NoticeBatch(event)
                collapsed.append(batches[key])
            batches[key].add(event)
        else:
            collapsed.append(event)
    return collapsed


def _clock_context(affected, page_number=None) -> dict:
    """The most urgent tenants first (overdue, then soonest due), a page at a time, and
    the counts."""
    now = timezone.now()
    soon = now + datetime.timedelta(minutes=10)
    far = datetime.datetime.max.replace(tzinfo=datetime.UTC)
    ordered = sorted(
        affected, key=lambda r: (r.removed_at is not None, r.due_at or far, r.organization.name)
    )
    current = [r for r in affected if r.removed_at is None and r.due_at]
    page = Paginator(ordered, CLOCK_ROWS).get_page(page_number)
    return {
        "clock_rows": page.object_list,
        "clock_page": page,
        "clock_summary": {
            "overdue": sum(1 for r in current if r.due_at < now),
            "soon": sum(1 for r in current if now <= r.due_at <= soon),
        },
    }


def _promise_context(notices) -> dict:
    dued = [n for n in notices if n.due_at is not None]
    return {
        "promise_rows": notices[-PROMISE_ROWS:],
        "promise_rows_more": len(notices) > PROMISE_ROWS,
        "promise_summary": {
            "due": len(dued),
            "kept": sum(1 for n in dued if n.sent_at <= n.due_at),
            "missed": sum(1 for n in dued if n.sent_at > n.due_at),
        },
    }


def _staff_people():
    return User.objects.filter(
        organization__kind=OrganizationKind.PROVIDER, is_active=True
    ).order_by("name")


@login_required
@require_GET
def incident_detail(request, number):
    incident = selectors.incident_get(request.user, number)
    return render(request, "incidents/incident_detail.html", _detail_context(request, incident))


@login_required
@require_GET
def incident_clocks(request, number):
    """The live clocks (htmx polls this partial while the incident is open)."""
    incident = selectors.incident_get(request.user, number)
    return render(request, "incidents/_clocks.html", _detail_context(request, incident))


@login_required
@require_POST
def incident_update(request, number):
    incident = selectors.incident_get(request.user, number)
    _require_run(request)
    form = forms.UpdateForm(request.POST)
    if form.is_valid():
        try:
            services.incident_update_post(actor=request.user, incident=incident,
                                          **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.reason)
        else:
            messages.success(request, "Update posted." if form.cleaned_data["public"]
                             else "Internal note added.")
            return redirect("incident-detail", incident.number)
    return render(request, "incidents/incident_detail.html",
                  _detail_context(request, incident, update_form=form), status=400)


@login_required
def incident_scope(request, number):
    incident = selectors.incident_get(request.user, number)
    _require_run(request)
    rows = list(incident.affected.filter(removed_at__isnull=True).select_related("organization"))
    form = forms.ScopeForm(request.POST or None,
                           initial=forms.ScopeForm.initial_for(incident, rows))
    if request.method == "POST" and form.is_valid():
        try:
            services.incident_scope_change(actor=request.user, incident=incident,
                                           **form.scope_kwargs())
        except ValidationError as exc:
            add_service_errors(form, _scope_errors_to_fields(exc))
        except Conflict as exc:
            form.add_error(None, exc.reason)
        else:
            messages.success(request, "Scope changed.")
            return redirect("incident-detail", incident.number)
    return render(request, "incidents/scope_form.html", {"form": form, "incident": incident})


@login_required
def incident_tenant_text(request, number, org):
    incident = selectors.incident_get(request.user, number)
    organization = organization_get(request.user, org)  # another tenant: 404 first
    row = selectors.affected_visible(request.user).filter(
        incident=incident, organization=organization
    ).first()
    if row is None:
        raise Http404("That tenant is not in this incident.")
    _require_run(request)
    form = forms.TenantTextForm(request.POST or None, initial={"impact_text": row.impact_text})
    if request.method == "POST" and form.is_valid():
        try:
            services.incident_tenant_text_set(actor=request.user, incident=incident,
                                              organization=organization, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Impact text for {organization.name} saved.")
            return redirect("incident-detail", incident.number)
    return render(request, "incidents/tenant_text_form.html",
                  {"form": form, "incident": incident, "row": row})


@login_required
def incident_findings(request, number):
    incident = selectors.incident_get(request.user, number)
    _require_run(request)
    form = forms.FindingsForm(
        request.POST or None,
        initial={name: getattr(incident, name) for name in services.FINDINGS_FIELDS},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.incident_findings_set(actor=request.user, incident=incident,
                                           **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.reason)
        else:
            messages.success(request, "Findings saved.")
            return redirect("incident-detail", incident.number)
    return render(request, "incidents/findings_form.html", {"form": form, "incident": incident})


def _action(request, number, service, done: str):
    incident = selectors.incident_get(request.user, number)
    _require_run(request)
    try:
        service(actor=request.user, incident=incident)
    except (Conflict, ValidationError) as exc:
        reason = exc.reason if isinstance(exc, Conflict) else " ".join(exc.messages)
        messages.error(request, reason)
    else:
        messages.success(request, done)
    return redirect("incident-detail", incident.number)


@login_required
@require_POST
def incident_report_publish(request, number):
    return _action(request, number, services.incident_report_publish,
                   "Incident report sent to the affected tenants.")


@login_required
@require_POST
def incident_close(request, number):
    return _action(request, number, services.incident_close, "Incident closed.")


@login_required
@require_POST
def incident_evidence(request, number):
    incident = selectors.incident_get(request.user, number)
    _require_run(request)
    form = forms.EvidenceForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.incident_evidence_add(actor=request.user, incident=incident,
                                           text=form.cleaned_data["text"],
                                           upload=form.cleaned_data["file"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Evidence added to the timeline.")
            return redirect("incident-detail", incident.number)
    return render(request, "incidents/incident_detail.html",
                  _detail_context(request, incident, evidence_form=form), status=400)


@login_required
@require_GET
def incident_evidence_file(request, number, event_id):
    """Evidence is internal: only staff who see every tenant may download it."""
    incident = selectors.incident_get(request.user, number)
    if not selectors.sees_every_tenant(request.user):
        raise Http404("No such file.")
    event = incident.timeline.filter(pk=event_id, kind=EventKind.EVIDENCE).first() \
        if str(event_id).isdigit() else None
    if event is None or not event.attachment:
        raise Http404("No such file.")
    return FileResponse(event.attachment.open("rb"), as_attachment=True,
                        filename=event.attachment_name or "evidence")


@login_required
@require_POST
def incident_team(request, number):
    incident = selectors.incident_get(request.user, number)
    _require_run(request)
    form = forms.TeamForm(request.POST, staff=_staff_people())
    if form.is_valid():
        try:
            services.incident_team_add(actor=request.user, incident=incident,
                                       **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Team updated.")
            return redirect("incident-detail", incident.number)
    return render(request, "incidents/incident_detail.html",
                  _detail_context(request, incident, team_form=form), status=400)
