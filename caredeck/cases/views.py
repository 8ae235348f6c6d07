"""Pages of Customer Care: the case list, opening a case (online, or by Care for a phone
call), the case page with its one timeline and the actions the viewer may take, file
downloads, the Care queues, the knowledge base, the hot-fix log and the care set-up.

Thin: parse with a form, call one service or selector, render or redirect. A case of
another tenant is 404; an action the viewer's role does not allow is 403; an action the
case's state no longer allows re-renders the page with the reason (409); a refused value
re-renders it with the error beside the field (400), what was typed kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from caredeck.accounts.access import has_capability, is_provider_staff, tenants_for
from caredeck.accounts.models import Product, User
from caredeck.accounts.roles import Capability, OrganizationKind
from caredeck.cases import forms, selectors, services
from caredeck.cases import setup as care_setup_services
from caredeck.cases.models import (
    CRITICALITY_DEFINITIONS,
    CaseRequirement,
    CaseStatus,
    Deployment,
    EscalationContact,
    Expert,
    Hotfix,
    Skill,
    SupportGroup,
)
from caredeck.core.audit import audit_entries_for
from caredeck.core.exceptions import Conflict
from caredeck.web.forms import add_service_errors

PER_PAGE = 25
TENANT_CHOICES_LIMIT = 500
CARE_PEOPLE_LIMIT = 300


def _clean(value, limit: int = 100) -> str:
    return str(value or "").replace("\x00", "").strip()[:limit]


def _is_care_staff(user) -> bool:
    return is_provider_staff(user) and has_capability(user, Capability.WORK_CASES)


def _require_care_staff(request) -> None:
    if not _is_care_staff(request.user):
        raise PermissionDenied("This page is for Customer Care.")


def _detail_url(case, anchor: str = "") -> str:
    return reverse("case-detail", args=[case.number]) + (f"#{anchor}" if anchor else "")


def _next_due(case) -> tuple[Any, str]:
    """The SLA clock that comes due next: the first response while unanswered, then the
    resolution."""
    if case.first_response_at is None and case.response_due_at:
        return case.response_due_at, "Response"
    if case.resolved_at is None and case.resolution_due_at:
        return case.resolution_due_at, "Resolution"
    return None, ""


def _products_seen(user) -> list[Product]:
    """The products a person may see named: the whole catalogue for staff who serve every
    tenant, else those of the tenants they see (a product can be one tenant's own)."""
    products = Product.objects.filter(is_active=True)
    if not has_capability(user, Capability.SERVE_ALL_TENANTS):
        products = products.filter(organizations__in=tenants_for(user)).distinct()
    return list(products.order_by("name"))


# --- The case list -----------------------------------------------------------------------


@login_required
@require_GET
def case_list(request):
    user = request.user
    staff = is_provider_staff(user)
    status = request.GET.get("status", "open")
    if status not in ("open", "closed", "all"):
        status = "open"
    q = _clean(request.GET.get("q"))
    organization = None
    slug = _clean(request.GET.get("organization"), 60)
    if staff and slug:
        organization = tenants_for(user).filter(slug=slug).first()
        if organization is None:
            raise Http404("No such tenant.")
    elif not staff and request.tenant.kind == OrganizationKind.CUSTOMER:
        organization = request.tenant
    cases = selectors.case_list(user, status="" if status == "all" else status, q=q,
                                organization=organization)
    page = Paginator(cases, PER_PAGE).get_page(request.GET.get("page"))
    kept = {k: v for k, v in {"status": status, "q": q,
                              "organization": organization.slug if staff and organization
                              else ""}.items() if v}
    tenant = request.tenant
    return render(request, "cases/case_list.html", {
        "page": page, "status": status, "q": q, "staff": staff, "organization": organization,
        "pager_query": urlencode(kept) + "&" if kept else "",
        "filter_query": urlencode({k: v for k, v in kept.items() if k != "status"}),
        "can_open": _can_open(user, tenant),
        "current_customer": tenant if tenant.kind == OrganizationKind.CUSTOMER else None,
    })


def _can_open(user, tenant) -> bool:
    if is_provider_staff(user):
        return has_capability(user, Capability.WORK_CASES)
    return tenant.kind == OrganizationKind.CUSTOMER and has_capability(
        user, Capability.OPEN_CASES, tenant)


# --- Opening a case ----------------------------------------------------------------------


def _requirements_by_product(products) -> dict[int, list[CaseRequirement]]:
    grouped: dict[int, list[CaseRequirement]] = {}
    for requirement in CaseRequirement.objects.filter(product__in=[p.pk for p in products]):
        grouped.setdefault(requirement.product_id, []).append(requirement)
    return grouped


@login_required
def case_new(request):
    user = request.user
    tenant = request.tenant
    on_phone = is_provider_staff(user)
    if not _can_open(user, tenant):
        raise PermissionDenied(
            "Cases are opened by your organization's designated contacts: ask one of them, "
            "or your administrator to make you one.")
    tenants = None
    callers = []
    if on_phone:
        tenants = list(tenants_for(user).filter(kind=OrganizationKind.CUSTOMER, is_active=True)
                       .order_by("name")[:TENANT_CHOICES_LIMIT])
        products = _products_seen(user)
        if tenant.kind == OrganizationKind.CUSTOMER:
            callers = list(tenant.users.filter(is_active=True).order_by("name")[:200])
    else:
        products = list(tenant.platforms.filter(is_active=True).order_by("name"))
    initial = {}
    if on_phone and tenant.kind == OrganizationKind.CUSTOMER:
        initial["organization"] = tenant.slug
    if len(products) == 1:
        initial["product"] = products[0].slug
    form = forms.CaseOpenForm(request.POST or None, request.FILES or None, products=products,
                              requirements=_requirements_by_product(products), tenants=tenants,
                              initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            organization, requester = tenant, None
            if on_phone:
                organization = next(t for t in tenants if t.slug == data["organization"])
                requester = User.objects.filter(email__iexact=data["requester"].strip(),
                                                organization=organization).first()
                if requester is None:
                    form.add_error("requester", f"Nobody of {organization.name} has this "
                                   "e-mail address.")
            if not form.errors:
                try:
                    case = services.case_open(
                        actor=user, organization=organization, product=data["product"],
                        deployment=data["deployment"], criticality=data["criticality"],
                        summary=data["summary"], description=data["description"],
                        facts=form.facts(), attachments=data["attachments"],
                        requester=requester,
                    )
                except ValidationError as exc:
                    add_service_errors(form, exc)
                else:
                    done = f"Case {case.number} opened. Quote this number in every message."
                    if case.status == CaseStatus.INFO_REQUESTED:
                        done += " We need a few facts before an expert can start: see below."
                    messages.success(request, done)
                    return redirect("case-detail", case.number)
    return render(request, "cases/case_form.html", {
        "form": form, "on_phone": on_phone, "callers": callers, "has_products": bool(products),
        "definitions": CRITICALITY_DEFINITIONS, "tenant": tenant,
    }, status=status)


# --- The case page -----------------------------------------------------------------------


def _missing_requirements(case) -> list[CaseRequirement]:
    """The facts still asked for, while the case waits for them before routing."""
    missing = (case.assessment or {}).get("missing_names") or []
    if case.routed_at is not None or not missing:
        return []
    return [r for r in case.product.case_requirements.all() if r.name in missing]


def _close_articles(user, case):
    return list(selectors.kb_search(user, product=case.product)[:50]) + [
        a for a in selectors.kb_search(user).filter(product__isnull=True)[:20]]


def _form_kwargs(request, case, action: str) -> dict:
    user = request.user
    if action == "comment":
        return {"care": services.is_care(user, case)}
    if action == "provide-info":
        return {"requirements": _missing_requirements(case)}
    if action == "close":
        return {"articles": _close_articles(user, case)}
    if action == "assign":
        return {"people": [p for p in forms.care_people()[:CARE_PEOPLE_LIMIT]
                           if p.pk != case.owner_id]}
    if action == "collaborators":
        return {"people": [p for p in forms.care_people()[:CARE_PEOPLE_LIMIT]
                           if p.pk != case.owner_id]}
    return {}


@dataclass(frozen=True)
class Action:
    form: type
    # The name of allowed_actions() this action needs (None: checked by role here).
    allowed_as: str | None
    done: str
    anchor: str = "timeline"


ACTIONS: dict[str, Action] = {
    "comment": Action(forms.CommentForm, None, "Comment posted."),
    "request-info": Action(forms.RequestInfoForm, "request_info",
                           "Information requested: the case waits on the customer."),
    "provide-info": Action(forms.ProvideInfoForm, "provide_info",
                           "Thank you: Customer Care has your answer."),
    "propose-solution": Action(forms.ProposeSolutionForm, "propose_solution",
                               "Solution proposed: the customer confirms or rejects it."),
    "confirm": Action(forms.forms.Form, "confirm",
                      "Thank you for confirming: Customer Care closes the case."),
    "reject-solution": Action(forms.RejectForm, "reject_solution",
                              "Solution rejected: the analyst works on."),
    "close": Action(forms.CloseForm, "close", "Case closed."),
    "reopen": Action(forms.ReopenForm, "reopen", "Case reopened."),
    "assign": Action(forms.AssignForm, "assign", "Case handed over."),
    "collaborators": Action(forms.CollaboratorForm, None, "Collaborator added."),
    "criticality": Action(forms.CriticalityForm, None, "Criticality changed."),
    "escalate": Action(forms.EscalateForm, "escalate",
                       "Escalated: a care manager acknowledges it with next steps."),
    "acknowledge-escalation": Action(forms.AcknowledgeForm, "acknowledge_escalation",
                                     "Escalation acknowledged."),
}


def _run(request, case, action: str, form) -> str:
    """Call the action's service; returns an extra word for the success message."""
    user, data = request.user, form.cleaned_data
    if action == "comment":
        event = services.case_comment(actor=user, case=case, body=data["body"],
                                      internal=data.get("internal", False),
                                      attachments=data["attachments"])
        return "Internal note added." if not event.public else ""
    if action == "request-info":
        services.case_request_info(actor=user, case=case, body=data["body"])
    elif action == "provide-info":
        services.case_provide_info(actor=user, case=case, body=data["body"],
                                   facts=form.facts() or None,
                                   attachments=data["attachments"])
    elif action == "propose-solution":
        services.case_propose_solution(actor=user, case=case, body=data["body"])
    elif action == "confirm":
        services.case_confirm(actor=user, case=case)
    elif action == "reject-solution":
        services.case_reject_solution(actor=user, case=case, reason=data["reason"])
    elif action == "close":
        case = services.case_close(actor=user, case=case, **form.close_kwargs())
        return f"Case closed with {case.kb_article.number}."
    elif action == "reopen":
        services.case_reopen(actor=user, case=case, reason=data["reason"])
    elif action == "assign":
        case = services.case_assign(actor=user, case=case, analyst=data["analyst"],
                                    note=data["note"])
        return f"Case handed over to {case.owner}."
    elif action == "collaborators":
        services.case_add_collaborator(actor=user, case=case, user=data["user"])
    elif action == "criticality":
        services.case_change_criticality(actor=user, case=case,
                                         criticality=data["criticality"], reason=data["reason"])
    elif action == "escalate":
        services.case_escalate(actor=user, case=case, business_impact=data["business_impact"])
    elif action == "acknowledge-escalation":
        services.case_acknowledge_escalation(
            actor=user, case=case, next_steps=data["next_steps"],
            communication_plan=data["communication_plan"])
    return ""


def _check_role(user, case, action: str, allowed: list[str]) -> None:
    """403 when the viewer's role may never take the action on this case; a state that
    forbids it now is the service's Conflict (409)."""
    spec = ACTIONS[action]
    care = services.is_care(user, case)
    if action == "comment":
        ok = care or services.is_customer_side(user, case)
    elif action in ("collaborators", "criticality"):
        ok = care
    elif action == "acknowledge-escalation":
        ok = has_capability(user, Capability.MANAGE_CARE, case.organization)
    elif spec.allowed_as in allowed:
        ok = True
    else:
        rule = services.TRANSITIONS.get(spec.allowed_as)
        ok = rule is not None and (
            care if rule.by == services.CARE else services.is_customer_side(user, case))
    if not ok:
        raise PermissionDenied("Your roles do not allow this on the case.")


def _renamed(exc: ValidationError, action: str) -> ValidationError:
    """The services' field names -> the action form's fields."""
    if not hasattr(exc, "error_dict"):
        return exc
    names = forms.CLOSE_ERROR_FIELDS if action == "close" else {}
    renamed: dict[str, list] = {}
    for key, value in exc.message_dict.items():
        target = names.get(key, key)
        if action == "provide-info" and key.startswith("facts."):
            target = "fact_" + key.split(".", 1)[1]
        elif action == "provide-info" and key == "facts":
            target = "body"
        renamed.setdefault(target, []).extend(value)
    return ValidationError(renamed)


def _detail_context(request, case, bound: dict | None = None) -> dict:
    user = request.user
    allowed = services.allowed_actions(user, case)
    care = services.is_care(user, case)
    customer_side = services.is_customer_side(user, case)
    internal = selectors.sees_internal(user, case)
    requirements = {r.name: r for r in case.product.case_requirements.all()}
    escalations = list(case.escalations.select_related("manager", "tam", "raised_by",
                                                       "acknowledged_by")[:3])
    open_escalation = next((e for e in escalations if e.acknowledged_at is None), None)
    context = {
        "case": case,
        "allowed": allowed,
        "care": care,
        "customer_side": customer_side,
        "internal": internal,
        "manager": has_capability(user, Capability.MANAGE_CARE, case.organization),
        "timeline": list(selectors.case_timeline(user, case)),
        "attachments": list(selectors.case_attachments(user, case)),
        "collaborators": list(case.collaborators.all()),
        "facts": [(requirements[name].label if name in requirements else name, value)
                  for name, value in (case.facts or {}).items()],
        "missing_facts": _missing_requirements(case),
        "escalations": escalations,
        "open_escalation": open_escalation,
        "phone": services.escalation_phone(case) if case.criticality == 1 else "",
        "definition": CRITICALITY_DEFINITIONS.get(case.criticality, ""),
        "waiting": case.waiting_on_customer,
        "upload_help": forms.ATTACHMENT_HELP,
        "open_form": "",
    }
    shown = []
    if care or (customer_side and case.status != CaseStatus.CLOSED):
        shown.append("comment")
    shown += [name for name, spec in ACTIONS.items() if spec.allowed_as in allowed]
    if care:
        shown.append("collaborators")
        if case.status != CaseStatus.CLOSED:
            shown.append("criticality")
    bound = bound or {}
    for name in shown:
        key = name.replace("-", "_") + "_form"
        if name in bound:
            context[key] = bound[name]
            context["open_form"] = name
        else:
            context[key] = ACTIONS[name].form(auto_id=f"{key[:6]}_%s",
                                              **_form_kwargs(request, case, name))
    for name, form in bound.items():
        context[name.replace("-", "_") + "_form"] = form
        context["open_form"] = name
    if internal:
        context["history"] = audit_entries_for(case)[:20]
        context["history_url"] = reverse("history", args=["case", case.number])
    return context


def _render_detail(request, case, status: int = 200, bound: dict | None = None):
    return render(request, "cases/case_detail.html", _detail_context(request, case, bound),
                  status=status)


@login_required
@require_GET
def case_detail(request, number):
    case = selectors.case_get(request.user, number)
    return _render_detail(request, case)


@login_required
@require_POST
def case_action(request, number, action):
    user = request.user
    case = selectors.case_get(user, number)
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404("No such action.")
    _check_role(user, case, action, services.allowed_actions(user, case))
    key = action.replace("-", "_") + "_form"
    form = spec.form(request.POST, request.FILES, auto_id=f"{key[:6]}_%s",
                     **_form_kwargs(request, case, action))
    status = 400
    if form.is_valid():
        try:
            extra = _run(request, case, action, form)
        except ValidationError as exc:
            add_service_errors(form, _renamed(exc, action))
        except Conflict as exc:
            form.add_error(None, exc.reason)
            status = 409
        else:
            messages.success(request, extra or spec.done)
            return redirect(_detail_url(case, spec.anchor))
    case = selectors.case_get(user, number)
    return _render_detail(request, case, status=status, bound={action: form})


@login_required
@require_GET
def case_attachment(request, number, item_id):
    case = selectors.case_get(request.user, number)
    attachment = selectors.case_attachments(request.user, case).filter(pk=item_id).first()
    if attachment is None:
        raise Http404("No such file.")
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError) as exc:
        raise Http404("The file is gone.") from exc
    return FileResponse(handle, as_attachment=True, filename=attachment.name)


# --- The Care queues ---------------------------------------------------------------------


@login_required
@require_GET
def case_queues(request):
    user = request.user
    if not has_capability(user, Capability.WORK_CASES):
        raise PermissionDenied("The queues are for Customer Care.")
    name = request.GET.get("queue", "mine")
    if name not in selectors.QUEUES:
        name = "mine"
    counts = selectors.queue_counts(user)
    page = Paginator(selectors.queue(user, name), PER_PAGE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    for case in rows:
        case.next_due_at, case.next_due_label = _next_due(case)
    return render(request, "cases/case_queues.html", {
        "queue": name, "queue_label": selectors.QUEUES[name], "page": page, "rows": rows,
        "tabs": [(key, label, counts[key]) for key, label in selectors.QUEUES.items()],
        "pager_query": urlencode({"queue": name}) + "&",
        "can_manage": has_capability(user, Capability.MANAGE_CARE),
        "care_staff": _is_care_staff(user),
    })


# --- Knowledge base ----------------------------------------------------------------------


@login_required
@require_GET
def kb_list(request):
    user = request.user
    q = _clean(request.GET.get("q"), 200)
    products = _products_seen(user)
    slug = _clean(request.GET.get("product"), 60)
    product = next((p for p in products if p.slug == slug), None)
    articles = selectors.kb_search(user, q, product)
    page = Paginator(articles, PER_PAGE).get_page(request.GET.get("page"))
    kept = {k: v for k, v in {"q": q, "product": product.slug if product else ""}.items() if v}
    return render(request, "cases/kb_list.html", {
        "page": page, "q": q, "product": product, "products": products,
        "pager_query": urlencode(kept) + "&" if kept else "",
        "can_write": _is_care_staff(user), "staff": is_provider_staff(user),
    })


@login_required
@require_GET
def kb_detail(request, number):
    user = request.user
    article = selectors.kb_get(user, number)
    used_by = []
    if _is_care_staff(user):
        used_by = list(selectors.cases_visible(user).filter(kb_article=article)
                       .select_related("organization").order_by("-created_at")[:20])
    return render(request, "cases/kb_detail.html", {
        "article": article, "used_by": used_by, "can_write": _is_care_staff(user),
        "staff": is_provider_staff(user),
    })


@login_required
def kb_new(request):
    _require_care_staff(request)
    products = _products_seen(request.user)
    form = forms.ArticleForm(request.POST or None, products=products)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                article = services.kb_create(actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"{article.number} published.")
                return redirect("kb-detail", article.number)
    return render(request, "cases/kb_form.html", {"form": form, "article": None},
                  status=status)


@login_required
def kb_edit(request, number):
    _require_care_staff(request)
    article = selectors.kb_get(request.user, number)
    form = forms.ArticleForm(request.POST or None, editing=True, initial={
        "title": article.title, "body": article.body, "visibility": article.visibility})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.kb_update(actor=request.user, article=article, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"{article.number} saved.")
                return redirect("kb-detail", article.number)
    return render(request, "cases/kb_form.html", {"form": form, "article": article},
                  status=status)


# --- Hot-fix log -------------------------------------------------------------------------


def _waiting(fix) -> list[dict]:
    """Like selectors.waiting_customers, from the prefetched cases (no query per fix)."""
    rows: dict[int, dict] = {}
    for case in fix.cases.all():
        rows.setdefault(case.organization_id,
                        {"organization": case.organization, "cases": []})["cases"].append(case)
    return sorted(rows.values(), key=lambda r: r["organization"].name)


@login_required
@require_GET
def hotfix_list(request):
    _require_care_staff(request)
    user = request.user
    q = _clean(request.GET.get("q"), 200)
    status = request.GET.get("status", "")
    if status not in Hotfix.Status.values:
        status = ""
    fixes = selectors.hotfix_search(user, q, status).prefetch_related(
        # Only the cases (and so the customers) this person may see.
        Prefetch("cases", queryset=selectors.cases_visible(user).select_related("organization")
                 .only("pk", "number", "status", "hotfix_id", "organization__name",
                       "organization__slug").order_by("number")))
    page = Paginator(fixes, PER_PAGE).get_page(request.GET.get("page"))
    rows = [(fix, _waiting(fix)) for fix in page.object_list]
    kept = {k: v for k, v in {"q": q, "status": status}.items() if v}
    return render(request, "cases/hotfix_list.html", {
        "page": page, "rows": rows, "q": q, "status": status,
        "statuses": Hotfix.Status.choices, "pager_query": urlencode(kept) + "&" if kept else "",
    })


@login_required
def hotfix_new(request):
    _require_care_staff(request)
    products = _products_seen(request.user)
    initial = {}
    wanted = _clean(request.GET.get("case"), 20)
    if wanted:
        initial["cases"] = wanted
    form = forms.HotfixForm(request.POST or None, products=products, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                fix = services.hotfix_create(
                    actor=request.user, product=data["product"], version=data["version"],
                    description=data["description"], cases=form.case_numbers())
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"{fix.number} logged.")
                return redirect(reverse("hotfix-list") + "?" + urlencode({"q": fix.number}))
    return render(request, "cases/hotfix_form.html", {"form": form}, status=status)


@login_required
@require_POST
def hotfix_release(request, number):
    _require_care_staff(request)
    fix = selectors.hotfix_get(request.user, number)
    try:
        fix = services.hotfix_release(actor=request.user, hotfix=fix)
    except Conflict as exc:
        messages.error(request, exc.reason)
    else:
        count = fix.cases.count()
        messages.success(request, f"{fix.number} released: the customers of {count} case(s) "
                         "are told on their case.")
    return redirect(reverse("hotfix-list") + "?" + urlencode({"q": fix.number}))


# --- Care set-up -------------------------------------------------------------------------


def _require_manage_care(request) -> None:
    if not (is_provider_staff(request.user)
            and has_capability(request.user, Capability.MANAGE_CARE)):
        raise PermissionDenied("The care set-up is for care managers.")


def _provider_people():
    return User.objects.filter(organization__kind=OrganizationKind.PROVIDER,
                               is_active=True).order_by("name", "email")


def _active_products():
    return list(Product.objects.filter(is_active=True).order_by("name"))


@login_required
def care_setup(request):
    _require_manage_care(request)
    products = _active_products()
    requirement_form = forms.RequirementForm(auto_id="rq_%s", products=products)
    return _render_setup(request, requirement_form)


def _render_setup(request, requirement_form, status: int = 200):
    groups = list(SupportGroup.objects.select_related("manager").prefetch_related("products")
                  .annotate(expert_count=Count("experts")))
    experts = list(Expert.objects.select_related("user", "group")
                   .prefetch_related(Prefetch("skills", queryset=Skill.objects
                                              .select_related("product"))))
    requirements = list(CaseRequirement.objects.select_related("product"))
    contacts = {c.deployment: c for c in EscalationContact.objects.select_related("manager")}
    return render(request, "cases/care_setup.html", {
        "groups": groups, "experts": experts, "requirements": requirements,
        "contacts": [(value, label, contacts.get(value)) for value, label in Deployment.choices],
        "requirement_form": requirement_form,
    }, status=status)


def _group_get(slug) -> SupportGroup:
    group = SupportGroup.objects.filter(slug=str(slug)[:50]).first()
    if group is None:
        raise Http404("No such support group.")
    return group


def _form_page(request, form, title: str, status: int, intro: str = ""):
    return render(request, "cases/setup_form.html", {"form": form, "title": title,
                                                     "intro": intro}, status=status)


@login_required
def care_group_edit(request, slug=None):
    _require_manage_care(request)
    group = _group_get(slug) if slug is not None else None
    initial = {}
    if group is not None:
        initial = {f: getattr(group, f) for f in ("name", "slug", "description", "timezone",
                                                  "country", "day_start", "day_end",
                                                  "workdays", "is_default", "is_active")}
        initial["products"] = list(group.products.values_list("slug", flat=True))
        initial["manager"] = str(group.manager_id or "")
    form = forms.SupportGroupForm(request.POST or None, initial=initial,
                                  products=_active_products(), people=_provider_people())
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                group = care_setup_services.support_group_save(
                    actor=request.user, group=group, **form.save_kwargs())
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Support group “{group.name}” saved.")
                return redirect(reverse("care-setup") + "#groups")
    title = f"Support group: {group.name}" if group else "New support group"
    return _form_page(request, form, title, status)


def _expert_get(expert_id) -> Expert:
    expert = Expert.objects.select_related("user").filter(pk=expert_id).first()
    if expert is None:
        raise Http404("No such expert.")
    return expert


@login_required
def care_expert_edit(request, expert_id=None):
    _require_manage_care(request)
    expert = _expert_get(expert_id) if expert_id is not None else None
    products = _active_products()
    initial = {}
    if expert is not None:
        initial = {f: getattr(expert, f) for f in ("timezone", "country", "shift_start",
                                                   "shift_end", "workdays", "max_open_cases",
                                                   "is_available")}
        initial["group"] = str(expert.group_id)
        initial.update({f"skill_{s.product.slug}": str(s.level)
                        for s in expert.skills.select_related("product")})
    people = _provider_people().exclude(expert__isnull=False) if expert is None else ()
    form = forms.ExpertForm(request.POST or None, initial=initial, people=people,
                            groups=SupportGroup.objects.order_by("name"), products=products,
                            editing=expert is not None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                expert = care_setup_services.expert_save(actor=request.user, expert=expert,
                                                         **form.save_kwargs())
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Expert {expert.user} saved.")
                return redirect(reverse("care-setup") + "#experts")
    title = f"Expert: {expert.user}" if expert else "New expert"
    return render(request, "cases/expert_form.html", {"form": form, "title": title},
                  status=status)


@login_required
@require_POST
def care_requirement_add(request):
    _require_manage_care(request)
    form = forms.RequirementForm(request.POST, auto_id="rq_%s", products=_active_products())
    if form.is_valid():
        try:
            requirement = care_setup_services.requirement_add(actor=request.user,
                                                              **form.save_kwargs())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{requirement.product.name} cases now ask for "
                             f"“{requirement.label}”.")
            return redirect(reverse("care-setup") + "#requirements")
    return _render_setup(request, form, status=400)


@login_required
@require_POST
def care_requirement_remove(request, requirement_id):
    _require_manage_care(request)
    requirement = CaseRequirement.objects.select_related("product").filter(
        pk=requirement_id).first()
    if requirement is None:
        raise Http404("No such requirement.")
    care_setup_services.requirement_remove(actor=request.user, requirement=requirement)
    messages.success(request, f"{requirement.product.name} cases no longer ask for "
                     f"“{requirement.label}”.")
    return redirect(reverse("care-setup") + "#requirements")


@login_required
def care_escalation_contact(request, deployment):
    _require_manage_care(request)
    if deployment not in Deployment.values:
        raise Http404("No such platform.")
    contact = EscalationContact.objects.filter(deployment=deployment).first()
    initial = {"manager": str(contact.manager_id), "phone": contact.phone} if contact else {}
    form = forms.EscalationContactForm(request.POST or None, initial=initial,
                                       people=_provider_people())
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                care_setup_services.escalation_contact_save(
                    actor=request.user, deployment=deployment, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"{Deployment(deployment).label} escalation "
                                 "contact saved.")
                return redirect(reverse("care-setup") + "#escalation")
    return _form_page(request, form, f"{Deployment(deployment).label} escalations", status,
                      "Escalations of cases on this platform go to this manager; critical "
                      "ones show the phone number to the customer.")
