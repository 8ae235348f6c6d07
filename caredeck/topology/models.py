"""The platform's topology and the failure-mode matrix, as data.

Geographies hold regions (each a group of availability zones) and transit PoPs (two per
geography). Functional areas are what tenants use (call routing, reporting, ...), each
with a regional scope. A failure type says what fails (a zone, a region, a PoP) and the
matrix gives, per failure type and functional area, what operations, agents and callers
experience. A tenant's deployment says where it runs and how it connects, so the impact
of any failure can be computed per tenant (topology/impact.py).

Every element has a stable slug `id`, e.g. `us-east`, `us-east-a`, `pop-ashburn`.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

SLUG = {"max_length": 60, "unique": True}
AVAILABILITY = {
    "max_digits": 9,
    "decimal_places": 7,
    "validators": [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
}


class Geography(models.Model):
    slug = models.SlugField(**SLUG)
    name = models.CharField(max_length=80)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "geographies"

    def __str__(self) -> str:
        return self.name


class Region(models.Model):
    slug = models.SlugField(**SLUG)
    name = models.CharField(max_length=80)
    geography = models.ForeignKey(Geography, on_delete=models.PROTECT, related_name="regions")

    class Meta:
        ordering = ["geography__name", "name"]

    def __str__(self) -> str:
        return self.name


class Zone(models.Model):
    """An availability zone: independent power, cooling and network within a region."""

    slug = models.SlugField(**SLUG)
    name = models.CharField(max_length=80)
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="zones")

    class Meta:
        ordering = ["region__name", "name"]

    def __str__(self) -> str:
        return self.name


class Pop(models.Model):
    """A transit-network point of presence: where carriers and customers connect."""

    slug = models.SlugField(**SLUG)
    name = models.CharField(max_length=80)
    geography = models.ForeignKey(Geography, on_delete=models.PROTECT, related_name="pops")
    regions = models.ManyToManyField(Region, blank=True, related_name="pops")

    class Meta:
        ordering = ["geography__name", "name"]
        verbose_name = "PoP"

    def __str__(self) -> str:
        return self.name


class AreaScope(models.TextChoices):
    DISTRIBUTED = "distributed", "Distributed across regions"
    CENTRALIZED = "centralized", "Centralized in a home region"
    PER_REGION = "per_region", "Per region"


class FunctionalArea(models.Model):
    slug = models.SlugField(**SLUG)
    name = models.CharField(max_length=120)
    services = models.JSONField(default=list, blank=True)  # ["SIP server", "routing"]
    scope = models.CharField(max_length=20, choices=AreaScope.choices)
    home_region = models.ForeignKey(
        Region, null=True, blank=True, on_delete=models.PROTECT, related_name="homed_areas"
    )
    standby_region = models.ForeignKey(
        Region, null=True, blank=True, on_delete=models.PROTECT, related_name="standby_areas"
    )
    note = models.TextField(blank=True)
    # Designed availability of each component in one region: [{"name", "availability"}].
    # Components of an area run in series; regions in parallel (topology/availability.py).
    components = models.JSONField(default=list, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class FailedElement(models.TextChoices):
    ZONE = "zone", "Availability zone"
    REGION = "region", "Region"
    POP = "pop", "PoP"


class Connectivity(models.TextChoices):
    PRIVATE_LINE = "private_line", "Private line"
    INTERNET = "internet", "Internet"


class FailureType(models.Model):
    slug = models.SlugField(**SLUG)
    name = models.CharField(max_length=120)
    element = models.CharField(max_length=10, choices=FailedElement.choices)
    # For PoP failures: the connectivity of the tenants this row of the matrix is for.
    connectivity = models.CharField(
        max_length=20, choices=Connectivity.choices, blank=True, default=""
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


NO_IMPACT = "none"


class FailureImpact(models.Model):
    """One cell of the matrix: a failure type × a functional area."""

    failure_type = models.ForeignKey(FailureType, on_delete=models.CASCADE, related_name="impacts")
    area = models.ForeignKey(FunctionalArea, on_delete=models.CASCADE, related_name="impacts")
    operational = models.TextField(default=NO_IMPACT)
    agent = models.TextField(default=NO_IMPACT)
    customer = models.TextField(default=NO_IMPACT)
    data_lost = models.BooleanField(default=False)
    delayed = models.BooleanField(default=False)
    service_unavailable = models.BooleanField(default=False)

    class Meta:
        ordering = ["failure_type__position", "area__position"]
        constraints = [
            models.UniqueConstraint(fields=["failure_type", "area"], name="one_cell_per_pair")
        ]

    def __str__(self) -> str:
        return f"{self.failure_type.slug} × {self.area.slug}"

    @property
    def affects(self) -> bool:
        """"none" in all three texts is no impact."""
        return any(
            text.strip().lower() != NO_IMPACT
            for text in (self.operational, self.agent, self.customer)
        )


class Deployment(models.Model):
    """Where one tenant runs and how it reaches the platform."""

    organization = models.OneToOneField(
        "accounts.Organization", on_delete=models.CASCADE, related_name="deployment"
    )
    primary_region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="primary_deployments"
    )
    secondary_region = models.ForeignKey(
        Region, null=True, blank=True, on_delete=models.PROTECT,
        related_name="secondary_deployments",
    )
    pops = models.ManyToManyField(Pop, related_name="deployments")  # the pair it reaches
    connectivity = models.CharField(max_length=20, choices=Connectivity.choices)
    areas = models.ManyToManyField(FunctionalArea, related_name="deployments")

    class Meta:
        ordering = ["organization__name"]

    def __str__(self) -> str:
        return f"Deployment of {self.organization}"
