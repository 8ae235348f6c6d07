"""Registers checks (their tenant reads their history) and probe locations (provider
staff) with the audit log."""

from django.urls import reverse

from caredeck.accounts.selectors import provider_organization
from caredeck.core.audit import AuditedKind, register_audited, staff_only
from caredeck.monitoring.models import Check, ProbeLocation, SimulatedOutage


def _checks_visible(user):
    from caredeck.monitoring.selectors import checks_visible

    return checks_visible(user)


register_audited(
    AuditedKind(
        kind="check", model=Check, lookup="pk", visible_to=_checks_visible,
        owner_of=lambda check: check.organization,
        url_of=lambda check: reverse("check-detail", args=[check.pk]),
    )
)
register_audited(
    AuditedKind(
        kind="probe_location", model=ProbeLocation, lookup="slug",
        visible_to=staff_only(ProbeLocation), owner_of=lambda loc: provider_organization(),
        url_of=lambda loc: reverse("probe-location-list"),
    )
)

# The demo's simulated outages (break / mend a region or PoP on the simulator page).
register_audited(
    AuditedKind(
        kind="simulated_outage", model=SimulatedOutage, lookup="target",
        visible_to=staff_only(SimulatedOutage), owner_of=lambda outage: provider_organization(),
        url_of=lambda outage: reverse("simulator"),
    )
)
