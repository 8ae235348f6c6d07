"""The shell's own pages: home worklist, tenant switch, object history, health."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from caredeck.accounts.access import has_capability
from caredeck.accounts.roles import Capability
from caredeck.core.audit import AUDITED, audit_entries_for, audited_object_for
from caredeck.core.middleware import SESSION_KEY
from caredeck.web import selectors


def root(request):
    return redirect("home" if request.user.is_authenticated else "login")


@login_required
def home(request):
    return render(
        request, "web/home.html", {"worklist": selectors.worklist_for(request.user, request.tenant)}
    )


@login_required
@require_POST
def tenant_switch(request):
    from caredeck.accounts.selectors import organization_get

    organization = organization_get(request.user, request.POST.get("tenant", ""))
    request.session[SESSION_KEY] = organization.slug
    target = request.POST.get("next") or "/home/"
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = "/home/"
    return redirect(target)


@login_required
def history(request, kind, object_id):
    obj = audited_object_for(request.user, kind, object_id)
    if obj is None:
        raise Http404("No such object.")
    audited = AUDITED[kind]
    if not has_capability(request.user, Capability.VIEW_AUDIT, audited.owner_of(obj)):
        raise Http404("No such object.")
    page = Paginator(audit_entries_for(obj), 50).get_page(request.GET.get("page"))
    return render(
        request, "web/history.html",
        {"object": obj, "kind": kind, "object_url": audited.url_of(obj), "page": page},
    )


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
