"""Every state change of organizations, people, roles and tokens.

One function per use case: it checks the actor's capability, validates, writes in one
transaction with its audit entry, and queues the messages it causes.
"""

from __future__ import annotations

import functools
import zoneinfo
from decimal import Decimal
from typing import Any

from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.text import slugify

from caredeck.accounts.access import has_capability
from caredeck.accounts.models import (
    AccessRequest,
    AccessRequestStatus,
    ApiToken,
    Contract,
    Organization,
    PartnerLink,
    Product,
    RoleGrant,
    User,
)
from caredeck.accounts.roles import (
    DELEGABLE_CAPABILITIES,
    ROLES_BY_KIND,
    Capability,
    OrganizationKind,
    Role,
)
from caredeck.core.audit import audit_record, changes_between, snapshot
from caredeck.core.exceptions import Conflict
from caredeck.notify.services import email_queue, notify_users

PRODUCT_FIELDS = ("slug", "name", "description", "vote_threshold", "lead", "is_active")
ORGANIZATION_FIELDS = ("name", "slug", "kind", "tam", "segment", "is_active")
CONTRACT_FIELDS = (
    "notice_minutes",
    "update_minutes",
    "rca_business_days",
    "availability_target",
    "support_timezone",
    "support_country",
    "support_24x7",
    "support_day_start",
    "support_day_end",
    "case_response_minutes",
    "case_resolution_minutes",
    "sla_credit_tiers",
)
USER_FIELDS = ("name", "timezone", "is_active")


def _require(actor, capability: Capability, organization: Organization | None = None) -> None:
    if not has_capability(actor, capability, organization):
        raise PermissionDenied(f"Your roles do not allow this ({capability.label.lower()}).")


def _full_clean(obj, exclude: list[str] | None = None) -> None:
    """Model validation, so services refuse what the database or a form would."""
    obj.full_clean(exclude=exclude, validate_unique=True)


@functools.cache
def _timezone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _check_timezone(field: str, name: str) -> None:
    # A look-up among the known names rather than ZoneInfo(name): that opens files, and a
    # directory name such as "Europe" raises IsADirectoryError, not "not found".
    if name not in _timezone_names():
        raise ValidationError({field: ["Unknown time zone."]})


def _refuse_slug_change(obj, fields: dict[str, Any]) -> None:
    # The slug is the public id: integrations address the object by it and its history
    # is keyed by it, so it is fixed once created.
    if "slug" in fields and fields["slug"] != obj.slug:
        raise ValidationError({"slug": ["The id cannot change once created."]})



# --- Products ------------------------------------------------------------------------


def product_create(*, actor, **fields: Any) -> Product:
    _require(actor, Capability.MANAGE_PRODUCTS)
    product = Product(**fields)
    _full_clean(product)
    with transaction.atomic():
        product.save()
        audit_record(
            actor=actor,
            obj=product,
            action="created",
            changes=changes_between({}, snapshot(product, PRODUCT_FIELDS)),
        )
    return product


def product_update(*, actor, product: Product, **fields: Any) -> Product:
    _require(actor, Capability.MANAGE_PRODUCTS)
    _refuse_slug_change(product, fields)
    before = snapshot(product, PRODUCT_FIELDS)
    for name, value in fields.items():
        setattr(product, name, value)
    _full_clean(product)
    with transaction.atomic():
        product.save()
        changes = changes_between(before, snapshot(product, PRODUCT_FIELDS))
        if changes:
            audit_record(actor=actor, obj=product, action="updated", changes=changes)
    return product


# --- Organizations and contracts -------------------------------------------------------


def _validate_tam(tam: User | None) -> None:
    if tam is None:
        return
    if tam.organization.kind != OrganizationKind.PROVIDER or Role.TAM not in tam.roles:
        raise ValidationError({"tam": ["The TAM must be a provider user with the TAM role."]})


def sla_tiers_clean(value) -> list[dict[str, Any]]:
    """[{"below": "99.99", "credit": 5}, ...]: levels in (0, 100], credits 0-100 %,
    sorted from the highest level down; the lowest level reached applies."""
    message = 'Give a list of {"below": availability %, "credit": % of the monthly fee}.'
    if not isinstance(value, list) or len(value) > 10:
        raise ValidationError({"sla_credit_tiers": [message]})
    tiers = []
    for tier in value:
        if not isinstance(tier, dict) or set(tier) != {"below", "credit"}:
            raise ValidationError({"sla_credit_tiers": [message]})
        try:
            below = Decimal(str(tier["below"]))
            credit = Decimal(str(tier["credit"]))
        except (ArithmeticError, ValueError):
            raise ValidationError({"sla_credit_tiers": [message]}) from None
        if isinstance(tier["below"], bool) or isinstance(tier["credit"], bool) or not (
            below.is_finite() and credit.is_finite() and 0 < below <= 100 and 0 <= credit <= 100
        ):
            raise ValidationError(
                {"sla_credit_tiers": ["Levels are 0-100 % availability; credits 0-100 %."]}
            )
        tiers.append({"below": str(below), "credit": float(credit)
                      if credit != credit.to_integral_value() else int(credit)})
    levels = [Decimal(t["below"]) for t in tiers]
    if len(set(levels)) != len(levels):
        raise ValidationError({"sla_credit_tiers": ["Each level once."]})
    return sorted(tiers, key=lambda t: Decimal(t["below"]), reverse=True)


def _apply_contract(contract: Contract, terms: dict[str, Any]) -> None:
    unknown = set(terms) - set(CONTRACT_FIELDS)
    if unknown:
        raise ValidationError(
            {"contract": [f"Unknown contract terms: {', '.join(sorted(unknown))}."]}
        )
    for name, value in terms.items():
        if name in ("case_response_minutes", "case_resolution_minutes") and isinstance(value, dict):
            # Targets given for some criticalities keep the others: every case needs one.
            value = {**(getattr(contract, name) or {}), **{str(k): v for k, v in value.items()}}
        setattr(contract, name, value)
    for name in ("case_response_minutes", "case_resolution_minutes"):
        value = getattr(contract, name) or {}
        if not isinstance(value, dict) or set(map(str, value)) != {"1", "2", "3", "4"}:
            raise ValidationError({name: ["Give minutes per criticality 1, 2, 3 and 4."]})
        cleaned = {}
        for key, minutes in value.items():
            if (
                isinstance(minutes, bool)
                or not isinstance(minutes, int)
                or not 1 <= minutes <= 525600
            ):
                raise ValidationError({name: [f"Criticality {key}: minutes must be 1 to 525600."]})
            cleaned[str(key)] = minutes
        setattr(contract, name, cleaned)
    contract.sla_credit_tiers = sla_tiers_clean(contract.sla_credit_tiers)
    _check_timezone("support_timezone", contract.support_timezone)
    try:
        contract.full_clean(exclude=["organization"])
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from exc
    if not contract.support_24x7 and contract.support_day_start >= contract.support_day_end:
        raise ValidationError({"support_day_end": ["The support day must end after it starts."]})


def organization_create(
    *,
    actor,
    name: str,
    kind: str,
    slug: str = "",
    platforms: list[Product] | None = None,
    tam: User | None = None,
    contract: dict[str, Any] | None = None,
) -> Organization:
    _require(actor, Capability.MANAGE_ORGANIZATIONS)
    if kind not in (OrganizationKind.CUSTOMER, OrganizationKind.PARTNER):
        raise ValidationError({"kind": ["Create customers or partners; there is one provider."]})
    organization = Organization(name=name, kind=kind, slug=slug or slugify(name)[:50], tam=tam)
    _full_clean(organization)
    _validate_tam(tam)
    terms = Contract(organization=organization)
    _apply_contract(terms, contract or {})
    with transaction.atomic():
        organization.save()
        organization.platforms.set(platforms or [])
        terms.organization = organization
        terms.save()
        after = snapshot(organization, ORGANIZATION_FIELDS)
        after["platforms"] = sorted(p.slug for p in platforms or [])
        after["contract"] = snapshot(terms, CONTRACT_FIELDS)
        audit_record(
            actor=actor, obj=organization, action="created", changes=changes_between({}, after)
        )
    return organization


def organization_update(
    *,
    actor,
    organization: Organization,
    platforms: list[Product] | None = None,
    contract: dict[str, Any] | None = None,
    **fields: Any,
) -> Organization:
    _require(actor, Capability.MANAGE_ORGANIZATIONS, organization)
    _refuse_slug_change(organization, fields)
    if "kind" in fields and fields["kind"] != organization.kind:
        raise ValidationError({"kind": ["The kind of an organization cannot change."]})
    terms, _ = Contract.objects.get_or_create(organization=organization)
    before = snapshot(organization, ORGANIZATION_FIELDS)
    before["platforms"] = sorted(organization.platforms.values_list("slug", flat=True))
    before_terms = snapshot(terms, CONTRACT_FIELDS)
    for name, value in fields.items():
        setattr(organization, name, value)
    _full_clean(organization)
    if "tam" in fields:
        _validate_tam(organization.tam)
    if contract:
        _apply_contract(terms, contract)
    with transaction.atomic():
        organization.save()
        if platforms is not None:
            organization.platforms.set(platforms)
        terms.save()
        after = snapshot(organization, ORGANIZATION_FIELDS)
        after["platforms"] = sorted(organization.platforms.values_list("slug", flat=True))
        changes = changes_between(before, after)
        changes.update(
            {
                f"contract.{k}": v
                for k, v in changes_between(before_terms, snapshot(terms, CONTRACT_FIELDS)).items()
            }
        )
        if changes:
            audit_record(actor=actor, obj=organization, action="updated", changes=changes)
    return organization


def partner_link_set(
    *, actor, partner: Organization, customer: Organization, rights: list[str]
) -> PartnerLink:
    _require(actor, Capability.MANAGE_PARTNER_LINKS)
    errors = {}
    if partner.kind != OrganizationKind.PARTNER:
        errors["partner"] = ["Choose a partner organization."]
    if customer.kind != OrganizationKind.CUSTOMER:
        errors["customer"] = ["Choose a customer organization."]
    allowed = {c.value for c in DELEGABLE_CAPABILITIES}
    if not set(rights) <= allowed:
        errors["rights"] = [f"Rights must be among: {', '.join(sorted(allowed))}."]
    if errors:
        raise ValidationError(errors)
    rights = sorted(set(rights) | {Capability.VIEW_TENANT.value})
    with transaction.atomic():
        link, created = PartnerLink.objects.select_for_update().get_or_create(
            partner=partner, customer=customer, defaults={"rights": rights}
        )
        before = [] if created else link.rights
        link.rights = rights
        link.save()
        if created or before != rights:
            audit_record(
                actor=actor,
                obj=customer,
                action="partner_linked",
                changes={f"partner:{partner.slug}": [before or None, rights]},
            )
    return link


def partner_link_remove(*, actor, link: PartnerLink) -> None:
    _require(actor, Capability.MANAGE_PARTNER_LINKS)
    with transaction.atomic():
        audit_record(
            actor=actor,
            obj=link.customer,
            action="partner_unlinked",
            changes={f"partner:{link.partner.slug}": [link.rights, None]},
        )
        link.delete()


# --- People and roles ------------------------------------------------------------------


def _validate_roles(organization: Organization, roles: list[str]) -> list[str]:
    allowed = ROLES_BY_KIND[organization.kind]
    bad = [r for r in roles if r not in Role.values or Role(r) not in allowed]
    if bad:
        names = ", ".join(sorted(r.value for r in allowed))
        raise ValidationError(
            {
                "roles": [
                    f"Not a role for a {organization.kind} user: {', '.join(bad)}. Use: {names}."
                ]
            }
        )
    return sorted(set(roles))


def _require_role_change(actor, organization: Organization, before: set[str], after: set[str]):
    """Naming designated contacts and changing other roles are separate capabilities."""
    changed = before ^ after
    if not changed:
        return
    # Both checks when both change: a role change must not carry a contact change along.
    if Role.DESIGNATED_CONTACT.value in changed:
        _require(actor, Capability.MANAGE_DESIGNATED_CONTACTS, organization)
    if changed - {Role.DESIGNATED_CONTACT.value}:
        _require(actor, Capability.MANAGE_USERS, organization)
    if Role.PLATFORM_ADMIN.value in changed and not has_capability(
        actor, Capability.MANAGE_ORGANIZATIONS
    ):
        raise PermissionDenied("Only a platform administrator grants that role.")


def _set_roles(user: User, roles: list[str]) -> None:
    RoleGrant.objects.filter(user=user).exclude(role__in=roles).delete()
    for role in roles:
        RoleGrant.objects.get_or_create(user=user, role=role)
    user._roles_cache = None
    user._caps_cache = None


def invitation_link(user: User, *, path_name: str = "invitation-accept") -> str:
    from django.conf import settings

    from caredeck.accounts.tokens import invitation_token_generator

    generator = (
        invitation_token_generator if path_name == "invitation-accept" else default_token_generator
    )
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = generator.make_token(user)
    return settings.BASE_URL + reverse(path_name, kwargs={"uidb64": uid, "token": token})


def user_invite(
    *,
    actor,
    organization: Organization,
    email: str,
    name: str,
    roles: list[str],
    password: str | None = None,
    password_hash: str | None = None,
    timezone_name: str = "UTC",
) -> User:
    """Create a user in `organization`; without a password, e-mail an invitation.

    `password_hash` (an already hashed password, e.g. from an import or the demo data)
    skips hashing here; Django re-hashes it at the first sign-in if its parameters are
    weaker than the current ones.
    """
    _require(actor, Capability.MANAGE_USERS, organization)
    email = (email or "").strip().lower()
    errors: dict[str, list[str]] = {}
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = ["Enter a valid e-mail address."]
    if not errors and User.objects.filter(email__iexact=email).exists():
        errors["email"] = ["A user with this e-mail address already exists."]
    if not (name or "").strip():
        errors["name"] = ["Give the person's name."]
    if timezone_name not in _timezone_names():
        errors["timezone"] = ["Unknown time zone."]
    if errors:
        raise ValidationError(errors)
    roles = _validate_roles(organization, roles)
    _require_role_change(actor, organization, set(), set(roles) - {Role.DESIGNATED_CONTACT})
    if Role.DESIGNATED_CONTACT in roles:
        _require(actor, Capability.MANAGE_DESIGNATED_CONTACTS, organization)
    user = User(email=email, name=name.strip(), organization=organization, timezone=timezone_name)
    if password:
        from django.contrib.auth.password_validation import validate_password

        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
        user.set_password(password)
    elif password_hash:
        user.password = password_hash
    else:
        user.set_unusable_password()
        user.invited_at = timezone.now()
    _full_clean(user, exclude=["password"])
    with transaction.atomic():
        user.save()
        _set_roles(user, roles)
        audit_record(
            actor=actor,
            obj=user,
            action="created" if (password or password_hash) else "invited",
            changes=changes_between(
                {}, {**snapshot(user, ("email", "name", "organization")), "roles": roles}
            ),
        )
        if not (password or password_hash):
            _queue_invitation(actor, user)
    return user


def _queue_invitation(actor, user: User) -> None:
    email_queue(
        dedupe_key=f"invitation:{user.pk}:{user.invited_at.isoformat()}",
        to=user.email,
        template="invitation",
        event="user.invited",
        organization=user.organization,
        context={
            "user": user,
            "organization": user.organization,
            "inviter": getattr(actor, "name", None) or "The CareDeck team",
            "link": invitation_link(user),
        },
    )


def user_invitation_resend(*, actor, user: User) -> User:
    _require(actor, Capability.MANAGE_USERS, user.organization)
    if user.has_usable_password():
        raise Conflict("This person has already accepted the invitation.")
    with transaction.atomic():
        user.invited_at = timezone.now()
        user.save(update_fields=["invited_at"])
        audit_record(actor=actor, obj=user, action="invitation_resent")
        _queue_invitation(actor, user)
    return user


def user_update(*, actor, user: User, roles: list[str] | None = None, **fields: Any) -> User:
    """Change a user's name, time zone, active flag or roles."""
    if actor.pk == user.pk and set(fields) <= {"name", "timezone"} and roles is None:
        pass  # everyone may edit their own name and time zone
    elif fields:
        _require(actor, Capability.MANAGE_USERS, user.organization)
    if fields.get("is_active") is False and actor.pk == user.pk:
        raise ValidationError({"is_active": ["You cannot deactivate yourself."]})
    before = {**snapshot(user, USER_FIELDS), "roles": list(user.roles)}
    new_roles = None
    if roles is not None:
        new_roles = _validate_roles(user.organization, roles)
        _require_role_change(actor, user.organization, set(user.roles), set(new_roles))
        if (
            actor.pk == user.pk
            and Role.PLATFORM_ADMIN in before["roles"]
            and (Role.PLATFORM_ADMIN not in new_roles)
        ):
            raise ValidationError({"roles": ["You cannot remove your own administrator role."]})
    for name, value in fields.items():
        setattr(user, name, value)
    if "timezone" in fields:
        _check_timezone("timezone", user.timezone)
    _full_clean(user, exclude=["password"])
    with transaction.atomic():
        user.save()
        if new_roles is not None:
            _set_roles(user, new_roles)
        after = {**snapshot(user, USER_FIELDS), "roles": list(user.roles)}
        changes = changes_between(before, after)
        if changes:
            audit_record(actor=actor, obj=user, action="updated", changes=changes)
    return user


def user_password_set(*, user: User, password: str, action: str) -> User:
    """The user chose a password (accepting an invitation or resetting it)."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit_record(actor=user, obj=user, action=action)
    return user


def password_reset_request(*, email: str) -> None:
    """E-mail a reset link if such an active user exists; say nothing either way."""
    user = User.objects.filter(email__iexact=(email or "").strip(), is_active=True).first()
    if user is None:
        return
    with transaction.atomic():
        email_queue(
            # One message per request moment; a double click within the second is one mail.
            dedupe_key=f"password-reset:{user.pk}:{timezone.now():%Y%m%d%H%M%S}",
            to=user.email,
            template="password_reset",
            event="user.password_reset",
            organization=user.organization,
            context={
                "user": user,
                "link": invitation_link(user, path_name="password-reset-confirm"),
            },
        )
        audit_record(actor=user, obj=user, action="password_reset_requested")


def platform_admin_ensure(*, email: str, name: str = "", password: str | None = None) -> User:
    """Create (or complete) a provider platform administrator. Idempotent."""
    if password:
        from django.contrib.auth.password_validation import validate_password

        try:
            validate_password(password, User(email=email, name=name))
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
    with transaction.atomic():
        provider = Organization.objects.filter(kind=OrganizationKind.PROVIDER).first()
        if provider is None:
            provider = Organization.objects.create(
                kind=OrganizationKind.PROVIDER, name="Provider", slug="provider"
            )
            Contract.objects.create(organization=provider)
            audit_record(actor=None, obj=provider, action="created")
        email = email.strip().lower()
        user = User.objects.filter(email__iexact=email).first()
        created = user is None
        if created:
            user = User.objects.create_user(
                email=email,
                name=name or email.split("@")[0],
                organization=provider,
                password=password,
            )
        elif user.organization_id != provider.pk:
            raise ValidationError(
                {"email": ["This e-mail belongs to a user of another organization."]}
            )
        elif password:
            user.set_password(password)
            user.save(update_fields=["password"])
        RoleGrant.objects.get_or_create(user=user, role=Role.PLATFORM_ADMIN)
        audit_record(actor=None, obj=user, action="created" if created else "admin_ensured")
    return user


# --- API tokens ------------------------------------------------------------------------


def token_create(*, actor: User, name: str) -> tuple[ApiToken, str]:
    """A new personal token; the secret is returned here and never again."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["Name the token, e.g. after the script that uses it."]})
    if len(name) > 80:
        raise ValidationError({"name": ["Use at most 80 characters."]})
    raw = ApiToken.new_secret()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=actor, name=name, hint=raw[:10], digest=ApiToken.digest_of(raw)
        )
        audit_record(
            actor=actor, obj=actor, action="token_created", changes={"token": [None, name]}
        )
    return token, raw


def token_revoke(*, actor: User, token: ApiToken) -> ApiToken:
    if token.user_id != actor.pk:
        raise PermissionDenied("You can revoke only your own tokens.")
    if token.revoked_at:
        raise Conflict("This token is already revoked.")
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor, obj=actor, action="token_revoked", changes={"token": [token.name, None]}
        )
    return token


# --- Access requests -------------------------------------------------------------------


def access_request_submit(
    *, name: str, email: str, company: str, kind: str, message: str = ""
) -> AccessRequest:
    request = AccessRequest(
        name=(name or "").strip(),
        email=(email or "").strip().lower(),
        company=(company or "").strip(),
        kind=kind,
        message=message or "",
    )
    _full_clean(request)
    with transaction.atomic():
        request.save()
        audit_record(actor=None, obj=request, action="submitted")
        from django.conf import settings

        admins = User.objects.filter(
            is_active=True,
            role_grants__role=Role.PLATFORM_ADMIN,
            organization__kind=OrganizationKind.PROVIDER,
        ).distinct()
        notify_users(
            event="access.requested",
            users=admins,
            dedupe_base=f"access-requested:{request.pk}",
            template="access_requested",
            context={
                "access_request": request,
                "link": settings.BASE_URL + reverse("access-request-detail", args=[request.pk]),
            },
            url=reverse("access-request-detail", args=[request.pk]),
        )
    return request


def access_request_approve(
    *,
    actor,
    access_request: AccessRequest,
    organization: Organization | None = None,
    new_organization_name: str = "",
    roles: list[str] | None = None,
) -> AccessRequest:
    """Approve: into an existing organization, or a new one; the person is invited."""
    _require(actor, Capability.MANAGE_ACCESS_REQUESTS)
    if access_request.status != AccessRequestStatus.PENDING:
        raise Conflict(f"This request was already {access_request.get_status_display().lower()}.")
    if organization is None and not new_organization_name.strip():
        raise ValidationError({"organization": ["Choose an organization or name a new one."]})
    if organization is not None and organization.kind != access_request.kind:
        raise ValidationError(
            {
                "organization": [
                    f"The requester is a {access_request.kind}; choose a {access_request.kind}."
                ]
            }
        )
    default_roles = (
        [Role.CUSTOMER_MEMBER.value]
        if access_request.kind == OrganizationKind.CUSTOMER
        else [Role.PARTNER_USER.value]
    )
    with transaction.atomic():
        locked = AccessRequest.objects.select_for_update().get(pk=access_request.pk)
        if locked.status != AccessRequestStatus.PENDING:
            raise Conflict("Someone else decided this request a moment ago.")
        if organization is None:
            base_slug = slugify(new_organization_name)[:44] or "tenant"
            slug, n = base_slug, 1
            while Organization.objects.filter(slug=slug).exists():
                n += 1
                slug = f"{base_slug}-{n}"
            organization = organization_create(
                actor=actor, name=new_organization_name.strip(), kind=access_request.kind, slug=slug
            )
        user = user_invite(
            actor=actor,
            organization=organization,
            email=access_request.email,
            name=access_request.name,
            roles=roles or default_roles,
        )
        locked.status = AccessRequestStatus.APPROVED
        locked.decided_at = timezone.now()
        locked.decided_by = actor
        locked.organization = organization
        locked.user = user
        locked.save()
        audit_record(
            actor=actor,
            obj=locked,
            action="approved",
            changes={"status": ["pending", "approved"], "organization": [None, organization.slug]},
        )
    return locked


def access_request_decline(
    *, actor, access_request: AccessRequest, note: str = ""
) -> AccessRequest:
    _require(actor, Capability.MANAGE_ACCESS_REQUESTS)
    with transaction.atomic():
        locked = AccessRequest.objects.select_for_update().get(pk=access_request.pk)
        if locked.status != AccessRequestStatus.PENDING:
            raise Conflict(f"This request was already {locked.get_status_display().lower()}.")
        locked.status = AccessRequestStatus.DECLINED
        locked.decided_at = timezone.now()
        locked.decided_by = actor
        locked.decision_note = (note or "").strip()
        locked.save()
        audit_record(
            actor=actor, obj=locked, action="declined", changes={"status": ["pending", "declined"]}
        )
        email_queue(
            dedupe_key=f"access-declined:{locked.pk}",
            to=locked.email,
            template="access_declined",
            event="access.declined",
            context={"access_request": locked},
        )
    return locked
