"""The demo data set: a provider with staff, products, customers, a partner, people.

Built through the services, so the demo has a real audit trail. Idempotent: loading it
twice changes nothing the second time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from django.db import transaction

from caredeck.accounts import services
from caredeck.accounts.models import AccessRequest, Organization, Product, User
from caredeck.accounts.roles import Role

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
        actor=actor, organization=organization, email=email, name=name,
        roles=[r.value for r in roles], password=DEMO_PASSWORD,
    )


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
                actor=admin, slug=slug, name=name, description=description,
                vote_threshold=threshold,
            )

    def customer(slug, name, platforms, contract):
        found = Organization.objects.filter(slug=slug).first()
        if found:
            return found
        return services.organization_create(
            actor=admin, name=name, slug=slug, kind="customer",
            platforms=list(Product.objects.filter(slug__in=platforms)),
            tam=tam if slug in {"acme", "globex"} else None, contract=contract,
        )

    named = [customer(*spec) for spec in CUSTOMERS]
    for slug, org in zip(["acme", "globex", "initech"], named, strict=True):
        _user(admin, org, f"admin@{slug}.example", f"{org.name.split()[0]} Admin",
              [Role.CUSTOMER_ADMIN, Role.DESIGNATED_CONTACT])
        _user(admin, org, f"contact@{slug}.example", f"{org.name.split()[0]} Contact",
              [Role.DESIGNATED_CONTACT])
        _user(admin, org, f"member@{slug}.example", f"{org.name.split()[0]} Member",
              [Role.CUSTOMER_MEMBER])

    rng = random.Random(42)
    words = ["Nordic", "Pacific", "Atlas", "Summit", "Harbor", "Cedar", "Orbit", "Vertex",
             "Lumen", "Kestrel", "Meridian", "Juniper", "Aurora", "Granite", "Solace"]
    sectors = ["Airlines", "Health", "Retail", "Energy", "Telecom", "Logistics", "Bank"]
    for n in range(GENERATED_CUSTOMERS):
        name = f"{rng.choice(words)} {rng.choice(sectors)} {n + 1:02d}"
        org = customer(
            f"tenant-{n + 1:02d}", name, rng.sample([p[0] for p in PRODUCTS], k=rng.randint(1, 2)),
            {},
        )
        _user(admin, org, f"admin@tenant-{n + 1:02d}.example", f"Admin of {name}",
              [Role.CUSTOMER_ADMIN, Role.DESIGNATED_CONTACT])

    partner = Organization.objects.filter(slug="bluebridge").first() or services.organization_create(
        actor=admin, name="BlueBridge Integrators", slug="bluebridge", kind="partner",
        platforms=list(Product.objects.filter(slug="cloud-cx")),
    )
    _user(admin, partner, "partner@bluebridge.example", "Bo Partner", [Role.PARTNER_USER])
    services.partner_link_set(
        actor=admin, partner=partner, customer=named[0],
        rights=["view_tenant", "view_audit", "manage_users", "manage_designated_contacts"],
    )
    services.partner_link_set(
        actor=admin, partner=partner, customer=named[1], rights=["view_tenant"]
    )

    if not AccessRequest.objects.exists():
        services.access_request_submit(
            name="Dana Prospect", email="dana@umbrella.example", company="Umbrella Retail",
            kind="customer", message="We sign the SOW next week and want to see CareDeck.",
        )

    return [
        Login("admin@provider.example", "provider platform administrator"),
        Login("care.manager@provider.example", "care manager"),
        Login("tam@provider.example", "TAM of Acme and Globex"),
        Login("admin@acme.example", "customer admin + designated contact, Acme"),
        Login("member@globex.example", "customer member, Globex"),
        Login("partner@bluebridge.example", "partner user acting for Acme and Globex"),
    ]
