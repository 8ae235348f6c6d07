"""The demo data set: a provider with staff, products, customers, a partner, people.

Built through the services, so the demo has a real audit trail. Idempotent: loading it
twice changes nothing the second time.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from django.db import transaction

from caredeck.accounts import services
from caredeck.accounts.models import AccessRequest, Organization, Product, User
from caredeck.accounts.roles import OrganizationKind, Role

DEMO_PASSWORD = "caredeck-demo"  # noqa: S105 - printed for people to sign in with
PROVIDER_NAME = "Nimbus Contact Cloud"

PRODUCTS = [
    ("cloud-cx", "Cloud CX", "The multi-tenant contact-center cloud.", 25),
    ("engage-premise", "Engage (premise)", "The on-premise contact-center suite.", 20),
    ("workforce", "Workforce Engagement", "WFM, quality management and recording.", 15),
]

STAFF = [
    ("admin@provider.example", "Avery Admin", [Role.PLATFORM_ADMIN]),
    ("care.manager@provider.example", "Casey Care-Manager", [Role.CARE_MANAGER]),
    ("analyst@provider.example", "Ana Analyst", [Role.CARE_ANALYST]),
    ("tam@provider.example", "Toni TAM", [Role.TAM]),
    ("pm@provider.example", "Pat Product", [Role.PRODUCT_MANAGER]),
    ("incident@provider.example", "Indra Incident", [Role.INCIDENT_MANAGER, Role.ENGINEER]),
    ("change@provider.example", "Chris Change", [Role.CHANGE_MANAGER, Role.CAB_MEMBER]),
]

CUSTOMERS = [
    ("acme", "Acme Telecom", ["cloud-cx", "workforce"], {"notice_minutes": 10}),
    ("globex", "Globex Insurance", ["cloud-cx"], {}),
    ("initech", "Initech Banking", ["engage-premise"], {"support_24x7": False}),
]

GENERATED_CUSTOMERS = 40


@dataclass
class Login:
    email: str
    role: str


def _user(actor, organization, email, name, roles) -> User:
    existing = User.objects.filter(email=email).first()
    if existing:
        return existing
    return services.user_invite(
        actor=actor,
        organization=organization,
        email=email,
        name=name,
        roles=[r.value for r in roles],
        password_hash=_demo_password_hash(),
    )


@functools.cache
def _demo_password_hash() -> str:
    # Hashing the same public demo password ~100 times at full strength would take most
    # of the demo's start-up. A light PBKDF2 hash is upgraded to full strength by Django
    # at each demo user's first sign-in.
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    hasher = PBKDF2PasswordHasher()
    return hasher.encode(DEMO_PASSWORD, hasher.salt(), iterations=10_000)


@transaction.atomic
def load_demo() -> list[Login]:
    admin = services.platform_admin_ensure(
        email=STAFF[0][0], name=STAFF[0][1], password=DEMO_PASSWORD
    )
    provider = admin.organization
    if provider.name != PROVIDER_NAME:
        services.organization_update(actor=admin, organization=provider, name=PROVIDER_NAME)
    for email, name, roles in STAFF[1:]:
        _user(admin, provider, email, name, roles)
    tam = User.objects.get(email="tam@provider.example")

    for slug, name, description, threshold in PRODUCTS:
        if not Product.objects.filter(slug=slug).exists():
            services.product_create(
                actor=admin,
                slug=slug,
                name=name,
                description=description,
                vote_threshold=threshold,
            )

    def customer(slug, name, platforms, contract):
        found = Organization.objects.filter(slug=slug).first()
        if found:
            return found
        return services.organization_create(
            actor=admin,
            name=name,
            slug=slug,
            kind="customer",
            platforms=list(Product.objects.filter(slug__in=platforms)),
            tam=tam if slug in {"acme", "globex"} else None,
            contract=contract,
        )

    named = [customer(*spec) for spec in CUSTOMERS]
    for slug, org in zip(["acme", "globex", "initech"], named, strict=True):
        _user(
            admin,
            org,
            f"admin@{slug}.example",
            f"{org.name.split()[0]} Admin",
            [Role.CUSTOMER_ADMIN, Role.DESIGNATED_CONTACT],
        )
        _user(
            admin,
            org,
            f"contact@{slug}.example",
            f"{org.name.split()[0]} Contact",
            [Role.DESIGNATED_CONTACT],
        )
        _user(
            admin,
            org,
            f"member@{slug}.example",
            f"{org.name.split()[0]} Member",
            [Role.CUSTOMER_MEMBER],
        )

    rng = random.Random(42)
    words = [
        "Nordic",
        "Pacific",
        "Atlas",
        "Summit",
        "Harbor",
        "Cedar",
        "Orbit",
        "Vertex",
        "Lumen",
        "Kestrel",
        "Meridian",
        "Juniper",
        "Aurora",
        "Granite",
        "Solace",
    ]
    sectors = ["Airlines", "Health", "Retail", "Energy", "Telecom", "Logistics", "Bank"]
    for n in range(GENERATED_CUSTOMERS):
        name = f"{rng.choice(words)} {rng.choice(sectors)} {n + 1:02d}"
        org = customer(
            f"tenant-{n + 1:02d}",
            name,
            rng.sample([p[0] for p in PRODUCTS], k=rng.randint(1, 2)),
            {},
        )
        _user(
            admin,
            org,
            f"admin@tenant-{n + 1:02d}.example",
            f"Admin of {name}",
            [Role.CUSTOMER_ADMIN, Role.DESIGNATED_CONTACT],
        )

    partner = Organization.objects.filter(
        slug="bluebridge"
    ).first() or services.organization_create(
        actor=admin,
        name="BlueBridge Integrators",
        slug="bluebridge",
        kind="partner",
        platforms=list(Product.objects.filter(slug="cloud-cx")),
    )
    _user(admin, partner, "partner@bluebridge.example", "Bo Partner", [Role.PARTNER_USER])
    services.partner_link_set(
        actor=admin,
        partner=partner,
        customer=named[0],
        rights=["view_tenant", "view_audit", "manage_users", "manage_designated_contacts"],
    )
    services.partner_link_set(
        actor=admin, partner=partner, customer=named[1], rights=["view_tenant"]
    )

    _demo_deployments(admin)

    from caredeck.incidents.demo import load_demo_incidents
    from caredeck.maintenance.demo import load_demo_maintenance

    load_demo_incidents(User.objects.get(email="incident@provider.example"))
    load_demo_maintenance(admin)
    from caredeck.ideas.demo import load_demo_ideas

    load_demo_ideas(User.objects.get(email="pm@provider.example"), admin=admin)
    from caredeck.cases.demo import load_demo_cases

    load_demo_cases(admin)
    from caredeck.monitoring.demo import load_demo_monitoring

    load_demo_monitoring(admin)

    if not AccessRequest.objects.exists():
        services.access_request_submit(
            name="Dana Prospect",
            email="dana@umbrella.example",
            company="Umbrella Retail",
            kind="customer",
            message="We sign the SOW next week and want to see CareDeck.",
        )

    return [
        Login("admin@provider.example", "provider platform administrator"),
        Login("care.manager@provider.example", "care manager"),
        Login("analyst.ny@provider.example", "Care analyst, Telephony, New York"),
        Login("tam@provider.example", "TAM of Acme and Globex"),
        Login("admin@acme.example", "customer admin + designated contact, Acme"),
        Login("member@globex.example", "customer member, Globex"),
        Login("partner@bluebridge.example", "partner user acting for Acme and Globex"),
    ]


# --- Deployments: where the demo tenants run -------------------------------------------

# Light-weight tenants (no people) so impact analysis has a customer base to work on.
FLEET_CUSTOMERS = 300
# How the demo spreads tenants over the reference regions (others get weight 3).
REGION_WEIGHTS = {
    "us-east": 30,
    "us-west": 20,
    "ca-central": 6,
    "eu-west-1": 12,
    "eu-west-2": 8,
    "eu-east": 6,
    "apac-singapore": 7,
    "apac-sydney": 6,
    "india": 3,
    "japan": 2,
}
ALWAYS_USED = ("call_routing", "agent_login")


def _deployment_plans(rng: random.Random, count: int) -> list[dict] | None:
    """`count` deployments spread over the catalog's regions, or None without a catalog."""
    from caredeck.topology.models import AreaScope, Connectivity, FunctionalArea, Pop, Region

    regions = list(Region.objects.select_related("geography").order_by("slug"))
    areas = list(FunctionalArea.objects.values_list("slug", "scope"))
    pops = list(Pop.objects.prefetch_related("regions").order_by("slug"))
    if not regions or len(pops) < 2:
        return None
    weights = [REGION_WEIGHTS.get(r.slug, 3) for r in regions]
    plans = []
    for _ in range(count):
        primary = rng.choices(regions, weights)[0]
        neighbours = [
            r for r in regions if r.geography_id == primary.geography_id and r != primary
        ] or [r for r in regions if r.slug in ("us-east", "us-west") and r != primary]
        reaching = [p for p in pops if primary in p.regions.all()]
        if len(reaching) < 2:
            reaching = [p for p in pops if p.geography_id == primary.geography_id]
        if len(reaching) < 2:
            reaching = pops
        # One tenant in five runs voice only, nothing centralized: a US East failure
        # spares it unless it runs there.
        voice_only = rng.random() < 0.2
        used = [
            slug
            for slug, scope in areas
            if slug in ALWAYS_USED
            or (not (voice_only and scope == AreaScope.CENTRALIZED) and rng.random() < 0.6)
        ]
        plans.append(
            {
                "primary_region": primary.slug,
                "secondary_region": rng.choice(neighbours).slug if neighbours else None,
                "pops": sorted(p.slug for p in rng.sample(reaching, 2)),
                "connectivity": rng.choices(
                    [Connectivity.PRIVATE_LINE, Connectivity.INTERNET], [55, 45]
                )[0].value,
                "areas": used,
            }
        )
    return plans


def _demo_deployments(admin) -> None:
    """Deployments for the cloud customers, through the service (audited), and a fleet
    of light-weight tenants with deployments, bulk-created. Idempotent."""
    from caredeck.accounts.models import Contract
    from caredeck.topology.deployments import deployment_set
    from caredeck.topology.models import Deployment, FunctionalArea, Pop, Region

    rng = random.Random(2024)
    cloud = (
        Organization.objects.filter(kind=OrganizationKind.CUSTOMER, platforms__slug="cloud-cx")
        .exclude(slug__startswith="fleet-")
        .order_by("slug")
    )
    plans = _deployment_plans(rng, cloud.count() + FLEET_CUSTOMERS)
    if plans is None:
        return
    deployed = set(Deployment.objects.values_list("organization_id", flat=True))
    for organization, plan in zip(cloud, plans, strict=False):
        if organization.pk in deployed:
            continue
        if organization.slug == "acme":
            # The tenant people sign in as first: US East, everything, by private line.
            plan = {
                **plan,
                "primary_region": "us-east",
                "secondary_region": "us-west",
                "pops": ["pop-ashburn", "pop-san-jose"],
                "connectivity": "private_line",
                "areas": list(FunctionalArea.objects.values_list("slug", flat=True)),
            }
        deployment_set(actor=admin, organization=organization, **plan)

    fleet_plans = plans[cloud.count() :]
    slugs = [f"fleet-{n + 1:03d}" for n in range(FLEET_CUSTOMERS)]
    existing = set(Organization.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    words = [
        "Northwind",
        "Blue Ridge",
        "Helix",
        "Sierra",
        "Tidewater",
        "Copper",
        "Beacon",
        "Riverstone",
        "Polaris",
        "Evergreen",
        "Falcon",
        "Crescent",
        "Ironwood",
        "Zephyr",
    ]
    sectors = [
        "Care",
        "Insurance",
        "Travel",
        "Utilities",
        "Retail",
        "Health",
        "Finance",
        "Telecom",
        "Logistics",
        "Hospitality",
        "Public Services",
    ]
    missing = [
        (slug, plan) for slug, plan in zip(slugs, fleet_plans, strict=True) if slug not in existing
    ]
    if not missing:
        return
    names = {slug: f"{rng.choice(words)} {rng.choice(sectors)} {slug[-3:]}" for slug, _ in missing}
    organizations = Organization.objects.bulk_create(
        [
            Organization(slug=slug, name=names[slug], kind=OrganizationKind.CUSTOMER)
            for slug, _ in missing
        ]
    )
    # SQLite and PostgreSQL both return the keys of bulk-created rows.
    by_slug = {o.slug: o for o in organizations}
    Contract.objects.bulk_create([Contract(organization=o) for o in organizations])
    cloud_cx = Product.objects.filter(slug="cloud-cx").first()
    if cloud_cx is not None:
        Organization.platforms.through.objects.bulk_create(
            [
                Organization.platforms.through(organization=o, product=cloud_cx)
                for o in organizations
            ]
        )
    region_ids = dict(Region.objects.values_list("slug", "id"))
    pop_ids = dict(Pop.objects.values_list("slug", "id"))
    area_ids = dict(FunctionalArea.objects.values_list("slug", "id"))
    deployments = Deployment.objects.bulk_create(
        [
            Deployment(
                organization=by_slug[slug],
                primary_region_id=region_ids[plan["primary_region"]],
                secondary_region_id=region_ids.get(plan["secondary_region"]),
                connectivity=plan["connectivity"],
            )
            for slug, plan in missing
        ]
    )
    plan_of = {by_slug[slug].pk: plan for slug, plan in missing}
    Deployment.pops.through.objects.bulk_create(
        [
            Deployment.pops.through(deployment=d, pop_id=pop_ids[p])
            for d in deployments
            for p in plan_of[d.organization_id]["pops"]
        ]
    )
    Deployment.areas.through.objects.bulk_create(
        [
            Deployment.areas.through(deployment=d, functionalarea_id=area_ids[a])
            for d in deployments
            for a in plan_of[d.organization_id]["areas"]
        ]
    )
