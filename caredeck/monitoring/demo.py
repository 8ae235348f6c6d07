"""Demo synthetic monitoring: a built-in probe location at every PoP of the catalog, and
for every demo tenant with a deployment (the fleet of people-less tenants aside) four
checks against its simulated endpoints (``simulator.py``), run from the two PoPs of its
deployment:

- **web**: a transaction — the health page (status, JSON path) → log in (extract the
  token) → open the agent desktop with it (read the queue); status and latency asserted;
- **chat**: a WebSocket conversation — "hello" → "welcome…", "agent please" → "agent …
  joined";
- **voice**: SIP OPTIONS, and a SIP call that must be answered and play its prompt for
  2 s.

Every 60 s, down after 2 failed runs from both locations (quorum 2), so breaking a region
on the simulator page shows detection → incident → notices within about three minutes.

Idempotent and quick: locations are keyed by PoP, checks by tenant and name; a second
load only moves the checks' targets when the simulator's port changed.
"""

from __future__ import annotations

from caredeck.monitoring import services
from caredeck.monitoring.models import Check, CheckKind, ProbeLocation
from caredeck.monitoring.simulator import endpoints, region_slugs, simulator_port, sip_ports
from caredeck.topology.models import Deployment, Pop

INTERVAL = 60
COMMON = {"interval": INTERVAL, "timeout": 10, "retries": 0, "failures_to_alert": 2,
          "successes_to_recover": 2, "quorum": 2}
WEB, CHAT, OPTIONS, CALL = ("Web: log in and open the agent desktop", "Chat: reach an agent",
                            "Voice: SIP OPTIONS", "Voice: a call plays the prompt")
NAMES = (WEB, CHAT, OPTIONS, CALL)


def check_specs(urls: dict[str, str], areas: set[str]) -> list[dict]:
    """The demo's four checks of one tenant, as `check_create` takes them."""
    chat_area = "chat_email" if "chat_email" in areas else "agent_login"
    return [
        {"name": WEB, "kind": CheckKind.HTTP, "area": "agent_login", "target": urls["web"],
         "assertions": [{"type": "status", "value": 200}, {"type": "latency_ms", "max": 3000}],
         "config": {"steps": [
             {"name": "health", "url": urls["web"], "assertions": [
                 {"type": "status", "value": 200},
                 {"type": "json_path", "path": "$.status", "value": "ok"}]},
             {"name": "log in", "method": "POST", "url": urls["login"],
              "json": {"user": "probe"}, "extract": {"token": "$.token"}},
             {"name": "open desktop", "url": urls["desktop"],
              "headers": {"Authorization": "Bearer {{token}}"},
              "extract": {"queue": {"regex": "queue: (\\w+)"}},
              "assertions": [{"type": "body_contains", "value": "Agent desktop"}]},
         ]}},
        {"name": CHAT, "kind": CheckKind.WEBSOCKET, "area": chat_area, "target": urls["chat"],
         "assertions": [{"type": "latency_ms", "max": 5000}],
         "config": {"script": [
             {"send": "hello"}, {"expect": "welcome", "within": 5},
             {"send": "agent please"}, {"expect_regex": "agent .* joined", "within": 5},
         ]}},
        {"name": OPTIONS, "kind": CheckKind.SIP_OPTIONS, "area": "call_routing",
         "target": urls["sip"], "assertions": [{"type": "latency_ms", "max": 2000}],
         "config": {"accepted_codes": [200]}},
        {"name": CALL, "kind": CheckKind.SIP_CALL, "area": "call_routing",
         "target": urls["sip"], "config": {"media_seconds": 2, "answer_timeout": 5}},
    ]


def ensure_locations(admin) -> list[ProbeLocation]:
    """A built-in probe location at every PoP (keyed by the PoP's id)."""
    existing = set(ProbeLocation.objects.values_list("slug", flat=True))
    for pop in Pop.objects.order_by("slug"):
        if pop.slug not in existing:
            services.location_create(actor=admin, slug=pop.slug, name=f"Probe at {pop.name}",
                                     pop=pop)
    return list(ProbeLocation.objects.filter(pop__isnull=False))


def demo_deployments():
    return (Deployment.objects.select_related("organization", "primary_region")
            .prefetch_related("areas")
            .filter(organization__is_active=True)
            .exclude(organization__slug__startswith="fleet-")
            .order_by("organization__slug"))


def load_demo_monitoring(admin, *, port: int | None = None,
                         ports: dict[str, int] | None = None) -> int:
    """Locations and checks of the demo (see the module). `port` is the simulator's web
    port and `ports` its SIP port per region (default: the simulator's settings).
    Returns the number of checks created or moved."""
    if not Pop.objects.exists():
        return 0
    ensure_locations(admin)
    port = port or simulator_port()
    ports = ports or sip_ports(region_slugs(), port)
    existing = {(c.organization_id, c.name): c
                for c in Check.objects.filter(name__in=NAMES)}
    touched = 0
    for deployment in demo_deployments():
        organization, region = deployment.organization, deployment.primary_region.slug
        urls = endpoints(region, organization.slug, port=port, sip_port=ports[region])
        areas = {a.slug for a in deployment.areas.all()}
        for spec in check_specs(urls, areas):
            check = existing.get((organization.pk, spec["name"]))
            if check is None:
                services.check_create(actor=admin, organization=organization,
                                      **COMMON, **spec)
                touched += 1
            elif check.target != spec["target"] or check.config != spec["config"]:
                services.check_update(actor=admin, check=check, target=spec["target"],
                                      config=spec["config"])
                touched += 1
    return touched
