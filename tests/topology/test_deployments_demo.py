"""The demo data set gives a few hundred tenants a deployment, spread over the regions."""

from __future__ import annotations

import time
from collections import Counter

from caredeck.topology.impact import impact_of
from caredeck.topology.models import Deployment
from caredeck.web.demo import FLEET_CUSTOMERS, load_demo


def test_the_demo_spreads_tenants_over_the_regions(db):
    started = time.monotonic()
    load_demo()
    elapsed = time.monotonic() - started
    count = Deployment.objects.count()
    assert count >= FLEET_CUSTOMERS + 20
    regions = Counter(Deployment.objects.values_list("primary_region__slug", flat=True))
    assert len(regions) >= 8
    assert regions.most_common(1)[0][0] == "us-east"
    for deployment in Deployment.objects.prefetch_related("pops", "areas")[:50]:
        assert len(deployment.pops.all()) == 2
        assert deployment.secondary_region_id != deployment.primary_region_id
        assert {"call_routing", "agent_login"} <= {a.slug for a in deployment.areas.all()}
    acme = Deployment.objects.get(organization__slug="acme")
    assert acme.primary_region.slug == "us-east"
    assert acme.areas.count() == 13
    assert elapsed < 30

    load_demo()
    assert Deployment.objects.count() == count

    summary = impact_of(target="us-east")["summary"]
    assert summary["tenants_affected"] > 100
    assert summary["tenants_not_affected"] > 0
