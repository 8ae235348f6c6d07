"""Organizations (the provider, customers, partners), people, roles, tokens, contracts."""

from __future__ import annotations

import hashlib
import secrets
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.timezone import now

from caredeck.accounts.roles import DELEGABLE_CAPABILITIES, OrganizationKind, Role


class Product(models.Model):
    """One of the provider's platforms / product lines (each has its own ideas lab)."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    # Votes an idea needs to move to PM review (used by the ideas lab).
    vote_threshold = models.PositiveIntegerField(
        default=25, validators=[MinValueValidator(1), MaxValueValidator(100000)]
    )
    # The product manager who leads the line: told when a PM answer is overdue.
    lead = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Segment(models.TextChoices):
    ENTERPRISE = "enterprise", "Enterprise"
    MID_MARKET = "mid_market", "Mid-market"
    SMALL_BUSINESS = "small_business", "Small business"
    PUBLIC_SECTOR = "public_sector", "Public sector"


class Organization(models.Model):
    """A tenant (customer), a partner, or the provider itself."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=OrganizationKind.choices)
    platforms = models.ManyToManyField(Product, blank=True, related_name="organizations")
    tam = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="tam_accounts", verbose_name="technical account manager",
    )
    # The customer segment, for reports (e.g. top ideas per segment).
    segment = models.CharField(max_length=20, choices=Segment.choices, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name"]
        constraints = [
            # There is exactly one provider: the organization that runs CareDeck.
            models.UniqueConstraint(
                fields=["kind"], condition=models.Q(kind="provider"), name="one_provider"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_provider(self) -> bool:
        return self.kind == OrganizationKind.PROVIDER


def default_case_response_minutes() -> dict[str, int]:
    """Minutes to first response per case criticality (1 critical ... 4 low)."""
    return {"1": 15, "2": 60, "3": 240, "4": 480}


def default_case_resolution_minutes() -> dict[str, int]:
    return {"1": 240, "2": 1440, "3": 4320, "4": 10080}


def default_sla_credit_tiers() -> list[dict]:
    """Service credit (% of the monthly fee) when measured availability falls below a
    level; the lowest level reached applies."""
    return [
        {"below": "99.99", "credit": 5},
        {"below": "99.0", "credit": 15},
        {"below": "95.0", "credit": 100},
    ]


class Contract(models.Model):
    """The clock and SLA terms of one tenant; the defaults are the provider's promises."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="contract"
    )
    notice_minutes = models.PositiveIntegerField(
        "first outage notice within (minutes)", default=15,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
    )
    update_minutes = models.PositiveIntegerField(
        "status update every (minutes)", default=30,
        validators=[MinValueValidator(5), MaxValueValidator(24 * 60)],
    )
    rca_business_days = models.PositiveIntegerField(
        "root-cause analysis within (business days)", default=5,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
    )
    availability_target = models.DecimalField(
        "availability target (% per month)", max_digits=6, decimal_places=3,
        default=Decimal("99.990"),
        validators=[MinValueValidator(Decimal("90")), MaxValueValidator(Decimal("100"))],
    )
    support_timezone = models.CharField(max_length=64, default="UTC")
    support_country = models.CharField(
        "holiday calendar (country code)", max_length=2, default="US",
        validators=[RegexValidator(r"^[A-Z]{2}$", "Use a two-letter country code, e.g. US.")],
    )
    support_24x7 = models.BooleanField("24x7 support", default=True)
    support_day_start = models.TimeField(default="08:00")
    support_day_end = models.TimeField(default="18:00")
    # Minutes to first response and to resolution, per case criticality 1 (critical) to 4.
    case_response_minutes = models.JSONField(default=default_case_response_minutes)
    case_resolution_minutes = models.JSONField(default=default_case_resolution_minutes)
    sla_credit_tiers = models.JSONField("SLA credit tiers", default=default_sla_credit_tiers)

    def __str__(self) -> str:
        return f"Contract of {self.organization}"


class PartnerLink(models.Model):
    """A partner organization acting for a customer, with the rights granted on it."""

    partner = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="customer_links",
        limit_choices_to={"kind": OrganizationKind.PARTNER},
    )
    customer = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="partner_links",
        limit_choices_to={"kind": OrganizationKind.CUSTOMER},
    )
    rights = models.JSONField(default=list)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["partner__name", "customer__name"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "customer"], name="one_link_per_pair")
        ]

    RIGHT_CHOICES = [(c.value, c.label) for c in DELEGABLE_CAPABILITIES]

    def __str__(self) -> str:
        return f"{self.partner} for {self.customer}"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **extra):
        email = self.normalize_email(email).lower()
        user = self.model(email=email, **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        raise NotImplementedError("Use `caredeck createadmin`, which also grants the role.")


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=120)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="users"
    )
    timezone = models.CharField(max_length=64, default="UTC")
    is_active = models.BooleanField(default=True)
    invited_at = models.DateTimeField(null=True, blank=True)
    date_joined = models.DateTimeField(default=now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        ordering = ["name", "email"]

    def __str__(self) -> str:
        return self.name or self.email

    @property
    def is_staff(self) -> bool:
        # No Django admin site: every change goes through services that audit it.
        return False

    @property
    def roles(self) -> list[str]:
        cached = getattr(self, "_roles_cache", None)
        if cached is None:
            cached = sorted(self.role_grants.values_list("role", flat=True))
            self._roles_cache = cached
        return cached

    @property
    def invitation_pending(self) -> bool:
        return self.invited_at is not None and not self.has_usable_password()


class RoleGrant(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_grants")
    role = models.CharField(max_length=40, choices=Role.choices)
    granted_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="one_grant_per_role")]

    def __str__(self) -> str:
        return f"{self.user} as {self.get_role_display()}"


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 digest is stored; the token is shown once."""

    PREFIX = "cdk_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    # The first characters, so a person can tell tokens apart without the secret.
    hint = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def new_secret(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    @staticmethod
    def digest_of(raw: str) -> str:
        return _digest(raw)


class AccessRequestStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a decision"
    APPROVED = "approved", "Approved"
    DECLINED = "declined", "Declined"


class AccessRequest(models.Model):
    """A person from a prospective customer or partner asking to use CareDeck."""

    name = models.CharField(max_length=120)
    email = models.EmailField()
    company = models.CharField(max_length=120)
    kind = models.CharField(
        "we are a", max_length=20,
        choices=[(OrganizationKind.CUSTOMER, "Customer"), (OrganizationKind.PARTNER, "Partner")],
    )
    message = models.TextField("what you need access for", blank=True, max_length=2000)
    status = models.CharField(
        max_length=20, choices=AccessRequestStatus.choices, default=AccessRequestStatus.PENDING
    )
    created_at = models.DateTimeField(default=now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_note = models.TextField(blank=True)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Access request from {self.name} ({self.company})"
