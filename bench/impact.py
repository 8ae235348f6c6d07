#!/usr/bin/env python3
"""Impact benchmark: a region failure over 10,000 tenant deployments and the full matrix.

    .venv/bin/python bench/impact.py                  # 10,000 tenants, 20 runs, us-east
    .venv/bin/python bench/impact.py --tenants 20000 --target pop-ashburn

What it does, in one run:

1. A fresh CareDeck database (SQLite in a temporary CAREDECK_DATA_DIR, settings
   `caredeck.settings`), migrated, so the reference catalog (10 regions, 13 functional
   areas, 4 failure types, the full 4 x 13 matrix) is loaded as on a fresh install.
2. `--tenants` customer tenants with a deployment each, bulk-created: primary regions
   weighted towards US East as in the demo, a PoP pair of the region's geography, private
   line or internet, and on average 9 of the 13 areas each.
3. `--runs` times, alternately: `impact_of(target=...)` end to end (queries, rules,
   sorting, the whole answer as dicts), and a baseline that only loads the same rows
   from the database (the same `values_list` queries, no processing). Both run with the
   cyclic garbage collector paused, as impact_of does. One warm-up of each first.

Figures: median and p95 of each, the ratio impact/baseline (what the analysis costs
beyond reading its rows), the answer's size as JSON and the time to encode it (what the
API adds). Target (issue 4): under 1 s, aiming for 200 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup(data_dir: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "caredeck.settings"
    os.environ["CAREDECK_DATA_DIR"] = data_dir
    os.environ.pop("DATABASE_URL", None)  # always the throw-away SQLite file
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def seed(tenants: int, seed_value: int) -> None:
    from django.db import transaction

    from caredeck.accounts.models import Contract, Organization
    from caredeck.topology.models import Deployment, FunctionalArea, Pop, Region

    rng = random.Random(seed_value)
    regions = list(Region.objects.order_by("slug"))
    weights = [30 if r.slug == "us-east" else 20 if r.slug == "us-west" else 6 for r in regions]
    pops_of: dict[int, list[int]] = {}
    for pop in Pop.objects.prefetch_related("regions"):
        for region in pop.regions.all():
            pops_of.setdefault(region.pk, []).append(pop.pk)
    all_pops = list(Pop.objects.values_list("pk", flat=True))
    areas = list(FunctionalArea.objects.values_list("pk", flat=True))
    with transaction.atomic():
        organizations = Organization.objects.bulk_create(
            [
                Organization(slug=f"bench-{n:05d}", name=f"Bench Tenant {n:05d}", kind="customer")
                for n in range(tenants)
            ],
            batch_size=2000,
        )
        Contract.objects.bulk_create(
            [Contract(organization=o) for o in organizations], batch_size=2000
        )
        plans = []
        for organization in organizations:
            primary = rng.choices(regions, weights)[0]
            secondary = rng.choice([r for r in regions if r != primary])
            reaching = pops_of.get(primary.pk) or all_pops
            plans.append(
                (
                    Deployment(
                        organization=organization, primary_region=primary,
                        secondary_region=secondary,
                        connectivity=rng.choice(["private_line", "internet"]),
                    ),
                    rng.sample(reaching, 2),
                    [a for a in areas if rng.random() < 0.7],
                )
            )
        deployments = Deployment.objects.bulk_create([p[0] for p in plans], batch_size=2000)
        Deployment.pops.through.objects.bulk_create(
            [
                Deployment.pops.through(deployment_id=d.pk, pop_id=pop)
                for d, (_, pops, _) in zip(deployments, plans, strict=True)
                for pop in pops
            ],
            batch_size=5000,
        )
        Deployment.areas.through.objects.bulk_create(
            [
                Deployment.areas.through(deployment_id=d.pk, functionalarea_id=area)
                for d, (_, _, used) in zip(deployments, plans, strict=True)
                for area in used
            ],
            batch_size=5000,
        )


def baseline(target: str) -> int:
    """Only load the rows impact_of reads, with the same queries; no processing. Like
    impact_of, with the cyclic garbage collector paused, so the ratio compares work."""
    from caredeck.topology.impact import _cyclic_gc_paused

    with _cyclic_gc_paused():
        return _baseline(target)


def _baseline(target: str) -> int:
    from django.db.models import Q

    from caredeck.topology.models import (
        AreaScope,
        Deployment,
        FailureImpact,
        FailureType,
        FunctionalArea,
        Pop,
        Region,
        Zone,
    )

    rows = 0
    region = Region.objects.filter(slug=target).values("id", "slug", "name").first()
    zone = None if region else Zone.objects.filter(slug=target).values("region_id").first()
    pop = None if region or zone else Pop.objects.filter(slug=target).values("id").first()
    types = list(FailureType.objects.values("id", "slug", "name", "element", "connectivity"))
    rows += len(list(FunctionalArea.objects.values_list("id", "slug", "name", "position")))
    rows += len(
        list(
            FailureImpact.objects.filter(failure_type_id__in=[t["id"] for t in types])
            .values_list(
                "failure_type_id", "area_id", "operational", "agent", "customer",
                "data_lost", "delayed", "service_unavailable",
            )
        )
    )
    rows += len(list(Region.objects.values_list("id", "slug")))
    rows += len(
        list(
            Deployment.objects.filter(organization__is_active=True).values_list(
                "id", "organization__slug", "organization__name", "primary_region_id",
                "connectivity",
            )
        )
    )
    links = Deployment.areas.through.objects.all()
    if pop:
        links = links.filter(deployment__pops__id=pop["id"])
    else:
        region_id = region["id"] if region else zone["region_id"]
        homed = list(
            FunctionalArea.objects.filter(
                scope=AreaScope.CENTRALIZED, home_region_id=region_id
            ).values_list("id", flat=True)
        )
        links = links.filter(
            Q(deployment__primary_region_id=region_id) | Q(functionalarea_id__in=homed)
        )
    rows += len(list(links.values_list("deployment_id", "functionalarea_id")))
    return rows


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--target", default="us-east")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the temporary database")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="caredeck-bench-impact-")
    try:
        started = time.perf_counter()
        setup(data_dir)
        seed(args.tenants, args.seed)
        print(f"database: {data_dir} (SQLite), {args.tenants} tenants seeded in "
              f"{time.perf_counter() - started:.1f} s")

        from caredeck.topology.impact import impact_of
        from caredeck.topology.models import Deployment, FailureImpact

        print(f"deployments: {Deployment.objects.count()}, area links: "
              f"{Deployment.areas.through.objects.count()}, matrix cells: "
              f"{FailureImpact.objects.count()}")

        impact_of(target=args.target)  # warm-up: connection, caches, imports
        baseline(args.target)
        impact_times: list[float] = []
        baseline_times: list[float] = []
        rows = 0
        result = None
        for _ in range(args.runs):
            t0 = time.perf_counter()
            result = impact_of(target=args.target)
            impact_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            rows = baseline(args.target)
            baseline_times.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        encoded = json.dumps(result)
        encode_seconds = time.perf_counter() - t0

        summary = result["summary"]
        impact_median = statistics.median(impact_times)
        baseline_median = statistics.median(baseline_times)
        print(f"target: {args.target} ({result['element']}, "
              f"{result['failure'] or 'per connectivity'})")
        print(f"answer: {summary['tenants_affected']} tenants affected, "
              f"{summary['tenants_not_affected']} not affected, "
              f"{sum(len(t['areas']) for t in result['tenants'])} area rows; "
              f"{len(encoded) / 1e6:.1f} MB as JSON, encoded in {encode_seconds * 1000:.0f} ms")
        print(f"impact_of  ({args.runs} runs): median {impact_median * 1000:7.1f} ms   "
              f"p95 {percentile(impact_times, 0.95) * 1000:7.1f} ms")
        print(f"baseline   ({args.runs} runs): median {baseline_median * 1000:7.1f} ms   "
              f"p95 {percentile(baseline_times, 0.95) * 1000:7.1f} ms   ({rows} rows loaded)")
        print(f"ratio impact/baseline (medians): {impact_median / baseline_median:.2f}")
        verdict = (
            "meets the aim (< 200 ms)" if impact_median < 0.2
            else "meets the target (< 1 s)" if impact_median < 1
            else "MISSES the 1 s target"
        )
        print(f"target: under 1 s, aiming for 200 ms: {verdict}")
        return 0 if impact_median < 1 else 1
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
