"""Pages of maintenance windows: the list, scheduling, a window's page, rescheduling,
its scope, and the start / complete / cancel actions.

Thin: parse with a form, call one service or selector, render or redirect. Staff who
run maintenance (MANAGE_MAINTENANCE) schedule and act; every signed-in person sees the
windows that concern their tenant, with only their tenant's row; another tenant's
window answers 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from caredeck.accounts.access import has_capability
from caredeck.accounts.roles import Capability
from caredeck.core.exceptions import Conflict
from caredeck.maintenance import forms, notices, selectors, services
from caredeck.maintenance.models import MaintenanceStatus, NoticeKind

PER_PAGE = 25


def _require_manage(request) -> None:
    if not has_capability(request.user, Capability.MANAGE_MAINTENANCE):
        raise PermissionDenied


@login_required
@require_GET
def maintenance_list(request):
    counts = selectors.tab_counts(request.user)
    when = request.GET.get("when", "")
    if when not in selectors.WHEN:
        when = "in_progress" if counts["in_progress"] else "upcoming"
    page = Paginator(
        selectors.maintenances_list(request.user, when=when), PER_PAGE
    ).get_page(request.GET.get("page"))
    rows = selectors.rows_by_window(request.user, page.object_list)
    for window in page.object_list:
        window.visible_rows = rows.get(window.pk, [])
    return render(
        request, "maintenance/maintenance_list.html",
        {
            "page": page, "when": when, "counts": counts,
            "tabs": [(key, label, counts[key]) for key, label in selectors.WHEN_LABELS.items()],
            "staff": selectors.sees_every_tenant(request.user),
            "can_manage": has_capability(request.user, Capability.MANAGE_MAINTENANCE),
        },
    )


@login_required
def maintenance_new(request):
    _require_manage(request)
    initial = {"owner": request.user.pk, "scope": forms.SCOPE_FAILURE}
    form = forms.ScheduleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            maintenance = services.maintenance_schedule(
                actor=request.user, **form.window_kwargs(), **form.scope_kwargs()
            )
        except ValidationError as exc:
            forms.add_errors(form, exc)
        else:
            told = maintenance.tenants.count()
            messages.success(
                request,
                f"{maintenance.number} scheduled and announced to {told} "
                f"tenant{'' if told == 1 else 's'}.",
            )
            return redirect("maintenance-detail", maintenance.number)
    return render(request, "maintenance/maintenance_form.html", {"form": form})


@login_required
@require_GET
def maintenance_detail(request, number):
    window = selectors.maintenance_get(request.user, number)
    clocks = selectors.clocks_of(window)
    return render(
        request, "maintenance/maintenance_detail.html",
        {
            "m": window,
            "actions": selectors.allowed_actions(request.user, window),
            "rows": selectors.tenant_rows_visible(request.user, window),
            "removed": selectors.removed_rows(request.user, window),
            "pending_clocks": [c for c in clocks if c.done_at is None],
            "done_clocks": [c for c in clocks if c.done_at is not None],
            "sent": [
                (NoticeKind(kind).label, n)
                for kind, n in selectors.notice_counts(request.user, window).items() if n
            ],
            "timeline": selectors.timeline(request.user, window),
            "staff": selectors.sees_every_tenant(request.user),
            "overrunning": window.status == MaintenanceStatus.IN_PROGRESS
            and window.ends_at <= timezone.now(),
        },
    )


@login_required
@require_GET
def maintenance_ics(request, number):
    window = selectors.maintenance_get(request.user, number)
    response = HttpResponse(notices.invite_ics(window), content_type="text/calendar")
    response["Content-Disposition"] = f'attachment; filename="{notices.invite_filename(window)}"'
    return response


def _minute(moment):
    return moment.replace(second=0, microsecond=0)


@login_required
def maintenance_reschedule(request, number):
    """Change the window's times (a reschedule, with a new invite), texts and owner."""
    window = selectors.maintenance_get(request.user, number)
    _require_manage(request)
    started = window.status == MaintenanceStatus.IN_PROGRESS
    form = forms.WindowForm(
        request.POST or None,
        initial={
            "title": window.title, "impact": window.impact,
            "starts_at": timezone.localtime(window.starts_at),
            "ends_at": timezone.localtime(window.ends_at),
            "owner": window.owner_id, "auto_complete": window.auto_complete,
        },
    )
    if started:
        # Its start has happened; only the end can move.
        form.fields["starts_at"].disabled = True
    if request.method == "POST" and form.is_valid():
        changes = form.window_kwargs()
        # The form shows whole minutes: a time given to the second through the API is
        # left as it is unless the person really changed it.
        for name in ("starts_at", "ends_at"):
            if changes[name] == _minute(getattr(window, name)):
                del changes[name]
        try:
            window = services.maintenance_update(
                actor=request.user, maintenance=window, **changes
            )
        except ValidationError as exc:
            forms.add_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.reason)
        else:
            messages.success(request, f"{window.number} saved.")
            return redirect("maintenance-detail", window.number)
    return render(
        request, "maintenance/maintenance_reschedule.html",
        {"form": form, "m": window, "started": started},
    )


@login_required
def maintenance_scope(request, number):
    """Change who a scheduled window concerns: added tenants get the announcement,
    removed ones a cancel invite."""
    window = selectors.maintenance_get(request.user, number)
    _require_manage(request)
    rows = selectors.tenant_rows_visible(request.user, window)
    form = forms.ScopeForm(request.POST or None, initial=forms.ScopeForm.initial_for(window, rows))
    if request.method == "POST" and form.is_valid():
        try:
            window = services.maintenance_update(
                actor=request.user, maintenance=window, **form.scope_kwargs()
            )
        except ValidationError as exc:
            forms.add_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.reason)
        else:
            messages.success(request, f"Scope of {window.number} saved.")
            return redirect("maintenance-detail", window.number)
    return render(
        request, "maintenance/maintenance_scope.html", {"form": form, "m": window, "rows": rows}
    )


def _act(request, number, act, done: str):
    window = selectors.maintenance_get(request.user, number)
    try:
        window = act(window)
    except Conflict as exc:
        messages.error(request, exc.reason)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{window.number} {done}.")
    return redirect("maintenance-detail", window.number)


@login_required
@require_POST
def maintenance_start(request, number):
    return _act(
        request, number,
        lambda w: services.maintenance_start(actor=request.user, maintenance=w),
        "started: the start notice is on its way",
    )


@login_required
@require_POST
def maintenance_complete(request, number):
    return _act(
        request, number,
        lambda w: services.maintenance_complete(actor=request.user, maintenance=w),
        "completed: the end notice is on its way",
    )


@login_required
def maintenance_cancel(request, number):
    """GET: confirm, with an optional reason for the tenants; POST: cancel."""
    if request.method != "POST":
        window = selectors.maintenance_get(request.user, number)
        _require_manage(request)
        return render(
            request, "maintenance/maintenance_cancel.html",
            {"m": window, "form": forms.CancelForm(),
             "allowed": "cancel" in selectors.allowed_actions(request.user, window)},
        )
    form = forms.CancelForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else request.POST.get("reason", "")
    return _act(
        request, number,
        lambda w: services.maintenance_cancel(actor=request.user, maintenance=w, reason=reason),
        "cancelled: the tenants get the cancel invite",
    )
