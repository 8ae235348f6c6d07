"""Every change to synthetic monitoring: checks (define, change, pause, delete) and probe
locations (built-in or remote agents, with their tokens). Provider staff who run
monitoring (MANAGE_MONITORING) make them; tenants read their own checks.
"""

from __future__ import annotations

import datetime
import secrets
import zlib

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.utils import timezone

from caredeck.accounts.access import has_capability
from caredeck.accounts.models import Organization
from caredeck.accounts.roles import Capability
from caredeck.core.audit import audit_record, changes_between, snapshot
from caredeck.core.validation import clean_text
from caredeck.monitoring.models import (
    Check,
    CheckAssignment,
    CheckKind,
    ProbeLocation,
)
from caredeck.monitoring.probes import validate_spec
from caredeck.topology.models import FunctionalArea, Pop, Region

CHECK_FIELDS = ["name", "kind", "target", "interval", "timeout", "retries", "assertions",
                "config", "failures_to_alert", "successes_to_recover", "quorum", "is_active"]
LIMITS = {
    "interval": (30, 86400), "timeout": (1, 120), "retries": (0, 3),
    "failures_to_alert": (1, 20), "successes_to_recover": (1, 20), "quorum": (1, 20),
}
DEFAULTS = {"interval": 300, "timeout": 10, "retries": 0, "failures_to_alert": 2,
            "successes_to_recover": 2, "quorum": 2}


def _require(actor) -> None:
    if not has_capability(actor, Capability.MANAGE_MONITORING):
        raise PermissionDenied("Your roles do not allow this (run synthetic monitoring).")


def _number(name: str, value, errors: dict) -> int | None:
    low, high = LIMITS[name]
    if isinstance(value, bool):
        value = None
    try:
        number = int(value)
    except (TypeError, ValueError):
        errors[name] = [f"Give a whole number from {low} to {high}."]
        return None
    if not low <= number <= high:
        errors[name] = [f"Give a whole number from {low} to {high}."]
        return None
    return number


def default_locations(organization: Organization) -> list[ProbeLocation]:
    """The probe locations at the PoPs that serve the tenant (its deployment's pair)."""
    deployment = getattr(organization, "deployment", None)
    if deployment is None:
        return []
    return list(ProbeLocation.objects.filter(pop__in=deployment.pops.all(), is_active=True))


def _clean(organization, fields: dict, *, partial: bool, current: Check | None = None):
    errors: dict[str, list[str]] = {}
    cleaned: dict = {}
    if "name" in fields or not partial:
        try:
            cleaned["name"] = clean_text("name", fields.get("name"), limit=120)
        except ValidationError as error:
            errors.update(error.message_dict)
    if "area" in fields or not partial:
        area = fields.get("area")
        if not isinstance(area, FunctionalArea):
            area = FunctionalArea.objects.filter(slug=str(area or "")).first()
        deployment = getattr(organization, "deployment", None)
        if area is None:
            errors["area"] = ["Choose a functional area."]
        elif deployment is None or not deployment.areas.filter(pk=area.pk).exists():
            errors["area"] = [f"{organization.name} does not use this functional area."]
        else:
            cleaned["area"] = area
    kind = fields.get("kind", current.kind if current else None)
    if "kind" in fields or not partial:
        if kind not in CheckKind.values:
            errors["kind"] = [f"Choose one of {', '.join(CheckKind.values)}."]
        else:
            cleaned["kind"] = kind
    if "target" in fields or not partial:
        try:
            cleaned["target"] = clean_text("target", fields.get("target"), limit=500)
        except ValidationError as error:
            errors.update(error.message_dict)
    for name in LIMITS:
        if name in fields:
            number = _number(name, fields[name], errors)
            if number is not None:
                cleaned[name] = number
        elif not partial:
            cleaned[name] = DEFAULTS[name]
    for name in ("assertions", "config"):
        if name in fields:
            value = fields[name]
            if value in (None, ""):
                value = [] if name == "assertions" else {}
            if name == "assertions" and not isinstance(value, list):
                errors[name] = ["Give a list of assertions."]
            elif name == "config" and not isinstance(value, dict):
                errors[name] = ["Give an object."]
            else:
                cleaned[name] = value
    if "kind" not in errors and "target" not in errors and kind in CheckKind.values:
        spec_errors = validate_spec(
            kind, cleaned.get("target", current.target if current else ""),
            cleaned.get("assertions", current.assertions if current else []),
            cleaned.get("config", current.config if current else {}),
        )
        for field, messages in spec_errors.items():
            errors.setdefault(field, []).extend(messages)
    # A partial change is checked against the check's other value (a longer timeout
    # alone must still be shorter than the current interval).
    interval = cleaned.get("interval", current.interval if current else None)
    timeout = cleaned.get("timeout", current.timeout if current else None)
    if interval and timeout and timeout >= interval:
        errors["timeout"] = ["The timeout must be shorter than the interval."]
    locations = fields.get("locations")
    if locations is not None:
        if not isinstance(locations, list | tuple):
            errors["locations"] = ["Give a list of probe location ids."]
        else:
            found = {loc.slug: loc for loc in ProbeLocation.objects.filter(
                slug__in=[str(x) for x in locations], is_active=True)}
            unknown = [str(x) for x in locations if str(x) not in found]
            if unknown:
                errors["locations"] = [f"No such probe location: {', '.join(unknown)}."]
            else:
                cleaned["locations"] = list(found.values())
    if errors:
        raise ValidationError(errors)
    return cleaned


def _first_run(check: Check, location: ProbeLocation, now) -> datetime.datetime:
    """Spread first runs over the interval (a stable offset per check and location), so
    10,000 checks created together do not all fire in the same second."""
    offset = zlib.crc32(f"{check.pk}:{location.pk}".encode()) % max(check.interval, 1)
    return now + datetime.timedelta(seconds=offset)


def _assign(check: Check, locations: list[ProbeLocation], now) -> None:
    current = set(check.assignments.values_list("location_id", flat=True))
    wanted = {loc.pk for loc in locations}
    check.assignments.exclude(location_id__in=wanted).delete()
    CheckAssignment.objects.bulk_create([
        CheckAssignment(synthetic_check=check, location=loc,
                        next_run_at=_first_run(check, loc, now))
        for loc in locations if loc.pk not in current
    ])


def check_create(*, actor, organization: Organization, **fields) -> Check:
    _require(actor)
    cleaned = _clean(organization, fields, partial=False)
    locations = cleaned.pop("locations", None)
    if locations is None:
        locations = default_locations(organization)
    if not locations:
        raise ValidationError({"locations": [
            "Name the probe locations: the tenant's deployment has no PoP with a probe."]})
    now = timezone.now()
    with transaction.atomic():
        check = Check.objects.create(organization=organization, **cleaned)
        _assign(check, locations, now)
        audit_record(actor=actor, obj=check, action="created", changes={
            **{k: [None, v] for k, v in snapshot(check, CHECK_FIELDS).items()},
            "locations": [None, sorted(loc.slug for loc in locations)],
        })
    return check


def check_update(*, actor, check: Check, **fields) -> Check:
    _require(actor)
    cleaned = _clean(check.organization, fields, partial=True, current=check)
    locations = cleaned.pop("locations", None)
    if "is_active" in fields:
        cleaned["is_active"] = bool(fields["is_active"])
    now = timezone.now()
    with transaction.atomic():
        check = Check.objects.select_for_update().get(pk=check.pk)
        before = snapshot(check, CHECK_FIELDS)
        for name, value in cleaned.items():
            setattr(check, name, value)
        check.save()
        changes = changes_between(before, snapshot(check, CHECK_FIELDS))
        if locations is not None:
            old = sorted(check.assignments.values_list("location__slug", flat=True))
            _assign(check, locations, now)
            new = sorted(loc.slug for loc in locations)
            if old != new:
                changes["locations"] = [old, new]
        audit_record(actor=actor, obj=check, action="updated", changes=changes)
    return check


def check_delete(*, actor, check: Check) -> None:
    _require(actor)
    with transaction.atomic():
        audit_record(actor=actor, obj=check, action="deleted",
                     changes={"name": [check.name, None]})
        check.delete()


def location_create(*, actor, slug, name, mode=ProbeLocation.Mode.BUILTIN, pop=None,
                    region=None) -> tuple[ProbeLocation, str]:
    """A probe location; for a remote agent, also its token (shown once)."""
    _require(actor)
    errors: dict[str, list[str]] = {}
    try:
        name = clean_text("name", name, limit=120)
    except ValidationError as error:
        errors.update(error.message_dict)
    slug = str(slug or "").strip()
    try:
        validate_slug(slug)
    except ValidationError:
        errors["slug"] = ["Use letters, digits, hyphens (a PoP or region id)."]
    if slug and ProbeLocation.objects.filter(slug=slug).exists():
        errors["slug"] = ["A probe location with this id exists."]
    if mode not in ProbeLocation.Mode.values:
        errors["mode"] = ["Choose builtin or agent."]
    if pop not in (None, "") and not isinstance(pop, Pop):
        pop = Pop.objects.filter(slug=str(pop)).first()
        if pop is None:
            errors["pop"] = ["No such PoP."]
    if region not in (None, "") and not isinstance(region, Region):
        region = Region.objects.filter(slug=str(region)).first()
        if region is None:
            errors["region"] = ["No such region."]
    if errors:
        raise ValidationError(errors)
    token = ""
    with transaction.atomic():
        location = ProbeLocation(slug=slug, name=name, mode=mode, pop=pop or None,
                                 region=region or None)
        if mode == ProbeLocation.Mode.AGENT:
            token = "cdp_" + secrets.token_urlsafe(32)
            location.token_digest = ProbeLocation.digest_of(token)
        location.save()
        audit_record(actor=actor, obj=location, action="created",
                     changes={"slug": [None, slug], "mode": [None, mode]})
    return location, token


def location_rotate_token(*, actor, location: ProbeLocation) -> str:
    _require(actor)
    if location.mode != ProbeLocation.Mode.AGENT:
        raise ValidationError({"mode": ["Only a remote agent has a token."]})
    token = "cdp_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        ProbeLocation.objects.filter(pk=location.pk).update(
            token_digest=ProbeLocation.digest_of(token))
        audit_record(actor=actor, obj=location, action="token_rotated", changes={})
    return token


def location_for_token(token: str) -> ProbeLocation | None:
    if not token or not token.startswith("cdp_"):
        return None
    return ProbeLocation.objects.filter(
        token_digest=ProbeLocation.digest_of(token), mode=ProbeLocation.Mode.AGENT,
        is_active=True,
    ).first()
