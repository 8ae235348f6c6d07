"""Pages for signing in, people, organizations, products, tokens and access requests.

Thin: parse with a form, call one service or selector, render or redirect.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_POST

from caredeck.accounts import forms, selectors, services
from caredeck.accounts.access import has_capability, is_provider_staff
from caredeck.accounts.models import AccessRequestStatus, Contract
from caredeck.accounts.roles import Capability, OrganizationKind, Role
from caredeck.accounts.tokens import invitation_token_generator
from caredeck.core.audit import audit_entries_for
from caredeck.core.exceptions import Conflict
from caredeck.web.forms import add_service_errors


def _require(request, capability: Capability, organization=None) -> None:
    if not has_capability(request.user, capability, organization):
        raise PermissionDenied


# --- Signing in and passwords --------------------------------------------------------


class SignInView(auth_views.LoginView):
    form_class = forms.SignInForm
    redirect_authenticated_user = True


def password_reset(request):
    form = forms.EmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.password_reset_request(email=form.cleaned_data["email"])
        return redirect("password-reset-sent")
    return render(request, "registration/password_reset_form.html", {"form": form})


def password_reset_sent(request):
    return render(request, "registration/password_reset_sent.html")


class PasswordSetView(auth_views.PasswordResetConfirmView):
    """Choosing a password from an e-mailed link: a reset, or accepting an invitation."""

    template_name = "registration/password_set.html"
    success_url = reverse_lazy("password-set-done")
    audit_action = "password_reset"
    title = "Choose a new password"

    def form_valid(self, form):
        services.user_password_set(
            user=form.user, password=form.cleaned_data["new_password1"], action=self.audit_action
        )
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        return redirect(self.success_url)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "title": self.title}


class InvitationAcceptView(PasswordSetView):
    audit_action = "invitation_accepted"
    token_generator = invitation_token_generator
    title = "Welcome to CareDeck: choose your password"


def password_set_done(request):
    return render(request, "registration/password_set_done.html")


# --- Access requests -------------------------------------------------------------------


def access_request_new(request):
    form = forms.AccessRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.access_request_submit(**form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return redirect("access-request-thanks")
    return render(request, "accounts/access_request_form.html", {"form": form})


def access_request_thanks(request):
    return render(request, "accounts/access_request_thanks.html")


@login_required
def access_request_list(request):
    _require(request, Capability.MANAGE_ACCESS_REQUESTS)
    status = request.GET.get("status", AccessRequestStatus.PENDING)
    requests = selectors.access_requests_visible(request.user)
    if status in AccessRequestStatus.values:
        requests = requests.filter(status=status)
    return render(
        request, "accounts/access_request_list.html",
        {"requests": requests[:200], "status": status, "statuses": AccessRequestStatus.choices},
    )


@login_required
def access_request_detail(request, request_id):
    access_request = selectors.access_request_get(request.user, request_id)
    approve_form = forms.ApproveAccessForm(access_request=access_request)
    decline_form = forms.DeclineAccessForm()
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "approve":
                approve_form = forms.ApproveAccessForm(request.POST, access_request=access_request)
                if approve_form.is_valid():
                    services.access_request_approve(
                        actor=request.user, access_request=access_request,
                        **approve_form.cleaned_data,
                    )
                    messages.success(request, f"Approved. {access_request.email} is invited.")
                    return redirect("access-request-detail", access_request.pk)
            elif action == "decline":
                decline_form = forms.DeclineAccessForm(request.POST)
                if decline_form.is_valid():
                    services.access_request_decline(
                        actor=request.user, access_request=access_request,
                        note=decline_form.cleaned_data["note"],
                    )
                    messages.success(request, "Declined; the requester is told.")
                    return redirect("access-request-detail", access_request.pk)
        except ValidationError as exc:
            add_service_errors(approve_form if action == "approve" else decline_form, exc)
        except Conflict as exc:
            messages.error(request, exc.reason)
            return redirect("access-request-detail", access_request.pk)
    return render(
        request, "accounts/access_request_detail.html",
        {
            "access_request": access_request,
            "approve_form": approve_form,
            "decline_form": decline_form,
            "history": audit_entries_for(access_request)[:50],
        },
    )


# --- Products --------------------------------------------------------------------------


@login_required
def admin_home(request):
    _require(request, Capability.MANAGE_PRODUCTS)
    return render(
        request, "accounts/admin_home.html",
        {
            "products": selectors.products_visible(request.user).annotate(
                tenants=Count("organizations")
            ),
            "pending_requests": selectors.access_requests_pending(request.user).count(),
        },
    )


@login_required
def product_create(request):
    _require(request, Capability.MANAGE_PRODUCTS)
    form = forms.ProductForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            product = services.product_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Product {product.name} created.")
            return redirect("admin-home")
    return render(request, "accounts/product_form.html", {"form": form})


@login_required
def product_edit(request, product):
    _require(request, Capability.MANAGE_PRODUCTS)
    instance = selectors.product_get(request.user, product)
    form = forms.ProductForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            services.product_update(actor=request.user, product=instance, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Product saved.")
            return redirect("admin-home")
    return render(
        request, "accounts/product_form.html",
        {"form": form, "product": instance, "history": audit_entries_for(instance)[:50]},
    )


# --- Organizations ---------------------------------------------------------------------


@login_required
def organization_list(request):
    if not is_provider_staff(request.user):
        return redirect("organization-detail", request.user.organization.slug)
    query = request.GET.get("q", "").strip()
    kind = request.GET.get("kind", "")
    organizations = (
        selectors.organizations_visible(request.user)
        .annotate(people=Count("users", distinct=True))
        .order_by("kind", "name")
    )
    if query:
        organizations = organizations.filter(Q(name__icontains=query) | Q(slug__icontains=query))
    if kind in OrganizationKind.values:
        organizations = organizations.filter(kind=kind)
    from django.core.paginator import Paginator

    page = Paginator(organizations, 50).get_page(request.GET.get("page"))
    return render(
        request, "accounts/organization_list.html",
        {
            "page": page, "query": query, "kind": kind, "kinds": OrganizationKind.choices,
            "can_create": has_capability(request.user, Capability.MANAGE_ORGANIZATIONS),
        },
    )


def _organization_forms(request, organization=None):
    data = request.POST if request.method == "POST" else None
    org_form = forms.OrganizationForm(
        data, instance=organization, tams=selectors.tams(), prefix="org"
    )
    contract = getattr(organization, "contract", None) if organization else None
    contract_form = forms.ContractForm(
        data, instance=contract or Contract(), prefix="contract"
    )
    return org_form, contract_form


@login_required
def organization_create(request):
    _require(request, Capability.MANAGE_ORGANIZATIONS)
    org_form, contract_form = _organization_forms(request)
    if request.method == "POST" and org_form.is_valid() and contract_form.is_valid():
        data = org_form.cleaned_data
        try:
            organization = services.organization_create(
                actor=request.user, name=data["name"], slug=data["slug"], kind=data["kind"],
                platforms=list(data["platforms"]), tam=data["tam"],
                contract=contract_form.terms(),
            )
        except ValidationError as exc:
            add_service_errors(org_form, exc)
        else:
            messages.success(request, f"{organization.name} created.")
            return redirect("organization-detail", organization.slug)
    return render(
        request, "accounts/organization_form.html",
        {"org_form": org_form, "contract_form": contract_form},
    )


@login_required
def organization_edit(request, org):
    organization = selectors.organization_get(request.user, org)
    _require(request, Capability.MANAGE_ORGANIZATIONS, organization)
    org_form, contract_form = _organization_forms(request, organization)
    if request.method == "POST" and org_form.is_valid() and contract_form.is_valid():
        data = org_form.cleaned_data
        try:
            services.organization_update(
                actor=request.user, organization=organization,
                name=data["name"], slug=data["slug"] or organization.slug, tam=data["tam"],
                platforms=list(data["platforms"]), contract=contract_form.terms(),
            )
        except ValidationError as exc:
            add_service_errors(org_form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("organization-detail", organization.slug)
    return render(
        request, "accounts/organization_form.html",
        {"org_form": org_form, "contract_form": contract_form, "organization": organization},
    )


@login_required
def organization_detail(request, org):
    organization = selectors.organization_get(request.user, org)
    user = request.user
    can_link = has_capability(user, Capability.MANAGE_PARTNER_LINKS) and (
        organization.kind == OrganizationKind.CUSTOMER
    )
    return render(
        request, "accounts/organization_detail.html",
        {
            "organization": organization,
            "contract": getattr(organization, "contract", None),
            "people": selectors.users_visible(user).filter(organization=organization),
            "links": selectors.partner_links_of(user, organization),
            "link_form": forms.PartnerLinkForm() if can_link else None,
            "can_edit": has_capability(user, Capability.MANAGE_ORGANIZATIONS, organization),
            "can_invite": has_capability(user, Capability.MANAGE_USERS, organization),
            "can_audit": has_capability(user, Capability.VIEW_AUDIT, organization),
            "history": audit_entries_for(organization)[:20],
        },
    )


@login_required
@require_POST
def partner_link_add(request, org):
    customer = selectors.organization_get(request.user, org)
    _require(request, Capability.MANAGE_PARTNER_LINKS)
    form = forms.PartnerLinkForm(request.POST)
    if form.is_valid():
        try:
            services.partner_link_set(
                actor=request.user, partner=form.cleaned_data["partner"], customer=customer,
                rights=form.cleaned_data["rights"],
            )
            messages.success(request, "Partner link saved.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, "Choose a partner.")
    return redirect("organization-detail", customer.slug)


@login_required
@require_POST
def partner_link_remove(request, link_id):
    link = selectors.partner_link_get(request.user, link_id)
    services.partner_link_remove(actor=request.user, link=link)
    messages.success(request, "Partner link removed.")
    return redirect("organization-detail", link.customer.slug)


# --- People ----------------------------------------------------------------------------


@login_required
def team(request):
    """The people of the tenant one works for now, and its designated contacts."""
    organization = request.tenant
    _require(request, Capability.VIEW_TENANT, organization)
    people = selectors.users_visible(request.user).filter(organization=organization)
    return render(
        request, "accounts/team.html",
        {
            "organization": organization,
            "people": people,
            "contacts": [p for p in people if Role.DESIGNATED_CONTACT in p.roles],
            "can_invite": has_capability(request.user, Capability.MANAGE_USERS, organization),
            "can_name_contacts": has_capability(
                request.user, Capability.MANAGE_DESIGNATED_CONTACTS, organization
            ) and organization.kind == OrganizationKind.CUSTOMER,
        },
    )


@login_required
def user_invite(request, org):
    organization = selectors.organization_get(request.user, org)
    _require(request, Capability.MANAGE_USERS, organization)
    form = forms.InviteUserForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_invite(
                actor=request.user, organization=organization, **form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Invitation sent to {user.email}.")
            return redirect("user-detail", user.pk)
    return render(
        request, "accounts/user_invite.html", {"form": form, "organization": organization}
    )


@login_required
def user_detail(request, user_id):
    person = selectors.user_get(request.user, user_id)
    can_manage = has_capability(request.user, Capability.MANAGE_USERS, person.organization)
    form = forms.UserForm(
        request.POST or None, user=person, can_manage=can_manage,
        initial={
            "name": person.name, "timezone": person.timezone, "roles": person.roles,
            "is_active": person.is_active,
        },
    )
    if request.method == "POST":
        if not (can_manage or person.pk == request.user.pk):
            raise PermissionDenied
        if form.is_valid():
            data = dict(form.cleaned_data)
            roles = data.pop("roles", None)
            try:
                services.user_update(actor=request.user, user=person, roles=roles, **data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, "Saved.")
                return redirect("user-detail", person.pk)
    return render(
        request, "accounts/user_detail.html",
        {
            "person": person,
            "form": form if (can_manage or person.pk == request.user.pk) else None,
            "can_manage": can_manage,
            "can_audit": has_capability(request.user, Capability.VIEW_AUDIT, person.organization),
            "history": audit_entries_for(person)[:30],
        },
    )


@login_required
@require_POST
def designated_contact_toggle(request, user_id):
    person = selectors.user_get(request.user, user_id)
    roles = set(person.roles) ^ {Role.DESIGNATED_CONTACT.value}
    try:
        services.user_update(actor=request.user, user=person, roles=sorted(roles))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        named = Role.DESIGNATED_CONTACT in roles
        messages.success(
            request,
            f"{person.name} is {'now' if named else 'no longer'} a designated contact.",
        )
    return redirect(request.POST.get("next") or reverse("team"))


@login_required
@require_POST
def invitation_resend(request, user_id):
    person = selectors.user_get(request.user, user_id)
    try:
        services.user_invitation_resend(actor=request.user, user=person)
        messages.success(request, f"Invitation sent again to {person.email}.")
    except Conflict as exc:
        messages.error(request, exc.reason)
    return redirect("user-detail", person.pk)


# --- Own account and API tokens --------------------------------------------------------


@login_required
def account(request):
    user = request.user
    profile_form = forms.ProfileForm(
        request.POST or None, initial={"name": user.name, "timezone": user.timezone}
    )
    if request.method == "POST" and profile_form.is_valid():
        try:
            services.user_update(actor=user, user=user, **profile_form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(profile_form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("account")
    return render(
        request, "accounts/account.html",
        {
            "profile_form": profile_form,
            "token_form": forms.TokenForm(),
            "tokens": selectors.tokens_of(user),
        },
    )


@login_required
@require_POST
def token_create(request):
    form = forms.TokenForm(request.POST)
    context = {"token_form": form, "tokens": selectors.tokens_of(request.user)}
    if form.is_valid():
        try:
            token, raw = services.token_create(actor=request.user, name=form.cleaned_data["name"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            context.update(new_token=raw, new_token_name=token.name, token_form=forms.TokenForm())
    if not request.htmx:
        # Without JavaScript the whole page comes back, with the new token shown once.
        context["profile_form"] = forms.ProfileForm(
            initial={"name": request.user.name, "timezone": request.user.timezone}
        )
        return render(request, "accounts/account.html", context)
    return render(request, "accounts/_tokens.html", context)


@login_required
@require_POST
def token_revoke(request, token_id):
    token = selectors.token_get(request.user, token_id)
    try:
        services.token_revoke(actor=request.user, token=token)
    except Conflict as exc:
        messages.error(request, exc.reason)
    if request.htmx:
        return render(
            request, "accounts/_tokens.html",
            {"token_form": forms.TokenForm(), "tokens": selectors.tokens_of(request.user)},
        )
    return redirect("account")


