"""The care set-up a care manager keeps: support groups (products, business hours and
holiday calendar), experts (group, shift in their own time zone, load, skills), the facts
each product's case form asks for, and the escalation contacts of cloud and premise.

Called by the care set-up pages. Each change is validated, written in one transaction
and audited; a requirement is audited on the support group of its product (the care
set-up's history), or not at all when no group supports the product yet.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from caredeck.accounts.access import has_capability, is_provider_staff
from caredeck.accounts.models import Product, User
from caredeck.accounts.roles import Capability
from caredeck.cases.models import (
    CaseRequirement,
    Deployment,
    EscalationContact,
    Expert,
    Skill,
    SupportGroup,
)
from caredeck.core.audit import audit_record, changes_between, snapshot
from caredeck.core.validation import clean_text

COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
SLUG_RE = re.compile(r"^[-a-z0-9_]{1,50}$")
GROUP_FIELDS = ["name", "slug", "description", "is_default", "timezone", "country",
                "day_start", "day_end", "workdays", "manager_id", "is_active"]
EXPERT_FIELDS = ["group_id", "timezone", "country", "shift_start", "shift_end", "workdays",
                 "max_open_cases", "is_available"]


def _require_manage(actor) -> None:
    if not (is_provider_staff(actor) and has_capability(actor, Capability.MANAGE_CARE)):
        raise PermissionDenied("A care manager keeps the care set-up.")


def _timezone(name, errors, field="timezone") -> str:
    name = str(name or "").strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        errors[field] = ["Give a time zone name such as Europe/London."]
    else:
        if not name:
            errors[field] = ["Give a time zone name such as Europe/London."]
    return name


def _country(code, errors) -> str:
    code = str(code or "").strip().upper()
    if not COUNTRY_RE.match(code):
        errors["country"] = ["Give a two-letter country code, such as US or GB."]
    return code


def _hours(start, end, errors, names=("day_start", "day_end")):
    for name, value in zip(names, (start, end), strict=True):
        if not isinstance(value, datetime.time):
            errors[name] = ["Give a time as HH:MM."]
    if not errors.get(names[0]) and not errors.get(names[1]) and start == end:
        errors[names[1]] = ["The end must differ from the start."]


def _workdays(days, errors) -> list[int]:
    try:
        cleaned = sorted({int(d) for d in days or ()})
    except (TypeError, ValueError):
        cleaned = []
    if not cleaned or any(d < 0 or d > 6 for d in cleaned):
        errors["workdays"] = ["Choose at least one working day."]
    return cleaned


def _staff_user(user, errors, field: str, *, required: bool):
    if user in (None, ""):
        if required:
            errors[field] = ["Choose a person."]
        return None
    if not isinstance(user, User):
        user = User.objects.filter(pk=user).first() if str(user).isdigit() else None
    if user is None or not user.is_active or not is_provider_staff(user):
        errors[field] = ["Choose an active person of the provider."]
        return None
    return user


def support_group_save(
    *, actor, group: SupportGroup | None = None, name, slug, description="", products=(),
    timezone, country, day_start, day_end, workdays, manager=None, is_default=False,
    is_active=True,
) -> SupportGroup:
    """Create (group=None) or change a support group."""
    _require_manage(actor)
    errors: dict[str, list[str]] = {}
    cleaned = {}
    for field, value, limit in (("name", name, 120), ("description", description, 5000)):
        try:
            cleaned[field] = clean_text(field, value, required=field == "name", limit=limit)
        except ValidationError as error:
            errors.update(error.message_dict)
    slug = str(slug or "").strip().lower()
    if not SLUG_RE.match(slug):
        errors["slug"] = ["Lower-case letters, digits and dashes."]
    others = SupportGroup.objects.exclude(pk=group.pk if group else None)
    if "slug" not in errors and others.filter(slug=slug).exists():
        errors["slug"] = ["Another group has this slug."]
    if "name" not in errors and others.filter(name__iexact=cleaned["name"]).exists():
        errors["name"] = ["Another group has this name."]
    timezone = _timezone(timezone, errors)
    country = _country(country, errors)
    _hours(day_start, day_end, errors)
    workdays = _workdays(workdays, errors)
    manager = _staff_user(manager, errors, "manager", required=False)
    products = list(products or ())
    if any(not isinstance(p, Product) for p in products):
        errors["products"] = ["Choose products of the catalogue."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        creating = group is None
        group = group or SupportGroup()
        before = snapshot(group, GROUP_FIELDS) if not creating else {}
        before_products = sorted(group.products.values_list("slug", flat=True)) \
            if not creating else []
        group.name, group.slug = cleaned["name"], slug
        group.description = cleaned["description"]
        group.timezone, group.country = timezone, country
        group.day_start, group.day_end, group.workdays = day_start, day_end, workdays
        group.manager, group.is_default, group.is_active = manager, bool(is_default), \
            bool(is_active)
        group.save()
        group.products.set(products)
        after = snapshot(group, GROUP_FIELDS)
        changes = changes_between(before, after) if not creating else {
            k: [None, v] for k, v in after.items()}
        after_products = sorted(p.slug for p in products)
        if after_products != before_products:
            changes["products"] = [before_products, after_products]
        audit_record(actor=actor, obj=group, action="created" if creating else "updated",
                     changes=changes)
    return group


def expert_save(
    *, actor, expert: Expert | None = None, user=None, group, timezone, country, shift_start,
    shift_end, workdays, max_open_cases, is_available=True, skills=None,
) -> Expert:
    """Create (expert=None, with `user`) or change an expert. `skills`: {Product: level
    1-3}; a product left out loses its skill."""
    _require_manage(actor)
    errors: dict[str, list[str]] = {}
    if expert is None:
        user = _staff_user(user, errors, "user", required=True)
        if user is not None and Expert.objects.filter(user=user).exists():
            errors["user"] = [f"{user} is already an expert."]
    if not isinstance(group, SupportGroup):
        errors["group"] = ["Choose a support group."]
    timezone = _timezone(timezone, errors)
    country = _country(country, errors)
    _hours(shift_start, shift_end, errors, ("shift_start", "shift_end"))
    workdays = _workdays(workdays, errors)
    try:
        max_open_cases = int(max_open_cases)
    except (TypeError, ValueError):
        max_open_cases = -1
    if not 0 <= max_open_cases <= 500:
        errors["max_open_cases"] = ["Give a number from 0 to 500."]
    skills = dict(skills or {})
    for product, level in skills.items():
        if not isinstance(product, Product) or level not in (1, 2, 3):
            errors["skills"] = ["Give each skill a level from 1 (working) to 3 (expert)."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        creating = expert is None
        expert = expert or Expert(user=user)
        before = snapshot(expert, EXPERT_FIELDS) if not creating else {}
        before_skills = {s.product.slug: s.level for s in expert.skills.select_related(
            "product")} if not creating else {}
        expert.group = group
        expert.timezone, expert.country = timezone, country
        expert.shift_start, expert.shift_end, expert.workdays = shift_start, shift_end, workdays
        expert.max_open_cases, expert.is_available = max_open_cases, bool(is_available)
        expert.save()
        expert.skills.exclude(product__in=list(skills)).delete()
        for product, level in skills.items():
            Skill.objects.update_or_create(expert=expert, product=product,
                                           defaults={"level": level})
        after = snapshot(expert, EXPERT_FIELDS)
        changes = changes_between(before, after) if not creating else {
            k: [None, v] for k, v in after.items()}
        after_skills = {p.slug: level for p, level in skills.items()}
        if after_skills != before_skills:
            changes["skills"] = [before_skills or None, after_skills]
        if creating:
            changes["user"] = [None, expert.user.email]
        audit_record(actor=actor, obj=expert, action="created" if creating else "updated",
                     changes=changes)
    return expert


def _group_of(product: Product) -> SupportGroup | None:
    return product.support_groups.order_by("pk").first()


def requirement_add(*, actor, product, name, label, help_text="", order=0) -> CaseRequirement:
    """A fact the product's case form asks for (and completeness needs)."""
    _require_manage(actor)
    errors: dict[str, list[str]] = {}
    if not isinstance(product, Product):
        errors["product"] = ["Choose a product."]
    name = str(name or "").strip().lower()
    if not re.match(r"^[a-z0-9_]{1,50}$", name):
        errors["name"] = ["Lower-case letters, digits and underscores, such as phone_number."]
    cleaned = {}
    for field, value, limit, required in (("label", label, 120, True),
                                          ("help_text", help_text, 300, False)):
        try:
            cleaned[field] = clean_text(field, value, required=required, limit=limit)
        except ValidationError as error:
            errors.update(error.message_dict)
    try:
        order = int(order or 0)
    except (TypeError, ValueError):
        order = -1
    if not 0 <= order <= 1000:
        errors["order"] = ["Give a number from 0 to 1000."]
    if not errors and product.case_requirements.filter(name=name).exists():
        errors["name"] = [f"{product.name} already asks for “{name}”."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        requirement = CaseRequirement.objects.create(
            product=product, name=name, label=cleaned["label"],
            help_text=cleaned["help_text"], order=order)
        group = _group_of(product)
        if group is not None:
            audit_record(actor=actor, obj=group, action="requirement_added", changes={
                "requirement": [None, f"{product.slug}: {name} ({requirement.label})"]})
    return requirement


def requirement_remove(*, actor, requirement: CaseRequirement) -> None:
    _require_manage(actor)
    with transaction.atomic():
        product = requirement.product
        text = f"{product.slug}: {requirement.name} ({requirement.label})"
        requirement.delete()
        group = _group_of(product)
        if group is not None:
            audit_record(actor=actor, obj=group, action="requirement_removed",
                         changes={"requirement": [text, None]})


def escalation_contact_save(*, actor, deployment, manager, phone) -> EscalationContact:
    """Who escalations of a platform (cloud or premise) go to, and the number to call."""
    _require_manage(actor)
    errors: dict[str, list[str]] = {}
    if deployment not in Deployment.values:
        errors["deployment"] = ["Choose cloud or premise."]
    manager = _staff_user(manager, errors, "manager", required=True)
    phone = str(phone or "").strip()
    if not re.match(r"^\+?[0-9 ()./-]{5,40}$", phone):
        errors["phone"] = ["Give a phone number, such as +1 555 0100."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        contact = EscalationContact.objects.select_for_update().filter(
            deployment=deployment).first()
        creating = contact is None
        before = {} if creating else snapshot(contact, ["manager_id", "phone"])
        contact = contact or EscalationContact(deployment=deployment)
        contact.manager, contact.phone = manager, phone
        contact.save()
        after = snapshot(contact, ["manager_id", "phone"])
        audit_record(actor=actor, obj=contact, action="created" if creating else "updated",
                     changes=changes_between(before, after) if not creating
                     else {k: [None, v] for k, v in after.items()})
    return contact
