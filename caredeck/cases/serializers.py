"""API shapes of Customer Care (../shared/API.md, "Support cases"). Input serializers
check types and sizes (a bad field is a 400 on that field); the rules (who may act,
which status allows what, what completeness needs) are the services'.

Output is built per reader by the `*_data` functions: Care staff on the tenant
(`selectors.sees_internal`) read the assessment and routing reasons, internal notes, SLA
warnings and breaches and the collaborators; the customer reads the status, the owner's
and group's names, the clocks and the public timeline. The `*Output` serializers only
describe those shapes for the schema.
"""

from __future__ import annotations

from django.core.validators import slug_re
from rest_framework import serializers

from caredeck.accounts.models import Product
from caredeck.cases.models import CaseStatus, Criticality, Deployment, Hotfix, KnowledgeArticle
from caredeck.cases.selectors import QUEUES

BIGINT_MAX = 2**63 - 1
# The API's action names (URL segments) for services.TRANSITIONS' names.
ACTION_NAMES = {
    "request_info": "request-info", "provide_info": "provide-info",
    "propose_solution": "propose-solution", "confirm": "confirm",
    "reject_solution": "reject-solution", "close": "close", "reopen": "reopen",
    "assign": "assign", "escalate": "escalate",
    "acknowledge_escalation": "acknowledge-escalation",
}


def _product_named(value: str) -> Product | None:
    """A filter's product slug: None when blank, a 400 when it names nothing."""
    if not value:
        return None
    product = Product.objects.filter(slug=value).first() if slug_re.match(value) else None
    if product is None:
        raise serializers.ValidationError("No such product.")
    return product


# --- Input: cases -----------------------------------------------------------------------


class CaseFilterSerializer(serializers.Serializer):
    """The list's query parameters (a blank one is no filter)."""

    status = serializers.ChoiceField(choices=["open", "closed"], required=False,
                                     allow_blank=True, help_text="open (active) or closed.")
    q = serializers.CharField(required=False, allow_blank=True, max_length=200,
                              help_text="A case number, or words of the summary or "
                              "description.")
    organization = serializers.CharField(required=False, allow_blank=True, max_length=50,
                                         help_text="Slug of one of your tenants.")
    queue = serializers.ChoiceField(
        choices=list(QUEUES), required=False, allow_blank=True,
        help_text="Customer Care's queues: " + "; ".join(
            f"{name}: {label}" for name, label in QUEUES.items()) + ".",
    )


class CaseOpenSerializer(serializers.Serializer):
    product = serializers.CharField(max_length=50,
                                    help_text="Slug of one of the organization's products.")
    deployment = serializers.ChoiceField(choices=Deployment.values)
    criticality = serializers.ChoiceField(
        choices=Criticality.values,
        help_text="1 critical (production down), 2 high, 3 medium, 4 low.",
    )
    summary = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=20000, help_text="Markdown.")
    facts = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=500), required=False,
        help_text="Answers to the product's required facts, by name (e.g. phone_number).",
    )
    organization = serializers.CharField(
        required=False, allow_blank=True, max_length=50,
        help_text="Slug of the customer. Implied for a customer's own people; a partner "
        "and Care (opening on a customer's behalf for a phone call) must give it.",
    )
    requester = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=BIGINT_MAX,
        help_text="Care only: user id of the customer's caller.",
    )


class CommentSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=20000, help_text="Markdown.")
    internal = serializers.BooleanField(required=False, default=False,
                                        help_text="An internal note (Care only).")


class BodySerializer(serializers.Serializer):
    body = serializers.CharField(max_length=20000, help_text="Markdown.")


class ProvideInfoSerializer(serializers.Serializer):
    body = serializers.CharField(required=False, allow_blank=True, max_length=20000,
                                 help_text="Markdown; may be left out when `facts` answer.")
    facts = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=500), required=False,
        help_text="The facts asked for, by name.",
    )


class NoInputSerializer(serializers.Serializer):
    pass


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)


class NewArticleSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=50000, help_text="Markdown.")
    visibility = serializers.ChoiceField(choices=KnowledgeArticle.Visibility.values,
                                         required=False, default="public")


class NewHotfixSerializer(serializers.Serializer):
    product = serializers.CharField(required=False, allow_blank=True, max_length=50,
                                    help_text="Product slug; by default the case's.")
    version = serializers.CharField(max_length=40)
    description = serializers.CharField(max_length=10000)


class CloseSerializer(serializers.Serializer):
    root_cause = serializers.CharField(max_length=10000)
    kb_article = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=20,
        help_text="An existing article: its id (or KB number).",
    )
    new_kb_article = NewArticleSerializer(required=False, allow_null=True,
                                          help_text="Or a new article.")
    hotfix = NewHotfixSerializer(required=False, allow_null=True,
                                 help_text="A hot-fix log entry for this case.")


class AssignSerializer(serializers.Serializer):
    analyst = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX,
                                       help_text="User id of the new owner.")
    note = serializers.CharField(max_length=5000, help_text="The hand-over note.")


class CollaboratorSerializer(serializers.Serializer):
    user = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX,
                                    help_text="User id of a Care colleague.")


class CriticalitySerializer(serializers.Serializer):
    criticality = serializers.ChoiceField(choices=Criticality.values)
    reason = serializers.CharField(max_length=2000)


class EscalateSerializer(serializers.Serializer):
    business_impact = serializers.CharField(max_length=5000)


class AcknowledgeSerializer(serializers.Serializer):
    next_steps = serializers.CharField(max_length=5000)
    communication_plan = serializers.CharField(max_length=5000)


# --- Input: knowledge base and hot-fix log ----------------------------------------------


class KbFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=200)
    product = serializers.CharField(required=False, allow_blank=True, max_length=50,
                                    help_text="Product slug.")

    def validate_product(self, value: str) -> Product | None:
        return _product_named(value)


class KbCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=50000, help_text="Markdown.")
    product = serializers.CharField(required=False, allow_blank=True, allow_null=True,
                                    max_length=50, help_text="Product slug.")
    visibility = serializers.ChoiceField(choices=KnowledgeArticle.Visibility.values,
                                         required=False, default="public")

    def validate_product(self, value: str | None) -> Product | None:
        return _product_named(value or "")


class KbUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(required=False, max_length=200)
    body = serializers.CharField(required=False, max_length=50000)
    visibility = serializers.ChoiceField(choices=KnowledgeArticle.Visibility.values,
                                         required=False)


class HotfixFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=200,
                              help_text="Number, version, description, product, case "
                              "number or customer.")
    status = serializers.ChoiceField(choices=Hotfix.Status.values, required=False,
                                     allow_blank=True)


class HotfixCreateSerializer(serializers.Serializer):
    product = serializers.CharField(max_length=50, help_text="Product slug.")
    version = serializers.CharField(max_length=40)
    description = serializers.CharField(max_length=10000)
    cases = serializers.ListField(child=serializers.CharField(max_length=20), required=False,
                                  max_length=500, help_text="Numbers of the waiting cases.")

    def validate_product(self, value: str) -> Product:
        return _product_named(value)


# --- Output -----------------------------------------------------------------------------


def _name(user) -> str | None:
    return user.name if user is not None else None


def event_data(event, *, internal: bool) -> dict:
    data = {
        "id": event.pk,
        "kind": event.kind,
        "at": event.at,
        "actor": _name(event.actor),
        "body": event.body,
        "public": event.public,
        "attachments": [{"id": a.pk, "name": a.name, "size": a.size}
                        for a in event.attachments.all()],
    }
    if internal:
        data["data"] = event.data
    return data


def article_ref(article, *, viewer_sees_internal: bool) -> dict | None:
    if article is None:
        return None
    if article.visibility != KnowledgeArticle.Visibility.PUBLIC and not viewer_sees_internal:
        return None
    return {"id": article.pk, "number": article.number, "title": article.title}


def case_summary(case, *, internal: bool) -> dict:
    data = {
        "number": case.number,
        "organization": case.organization.slug,
        "organization_name": case.organization.name,
        "product": case.product.slug,
        "deployment": case.deployment,
        "criticality": case.criticality,
        "summary": case.summary,
        "status": case.status,
        "status_display": case.get_status_display(),
        "owner": _name(case.owner),
        "group": case.group.name if case.group_id else None,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "response_due_at": case.response_due_at,
        "resolution_due_at": case.resolution_due_at,
        "sla_paused_at": case.sla_paused_at,
    }
    if internal:
        data["owner_id"] = case.owner_id
        data["response_breached_at"] = case.response_breached_at
        data["resolution_breached_at"] = case.resolution_breached_at
    return data


def escalation_data(escalation, *, internal: bool) -> dict:
    data = {
        "raised_at": escalation.raised_at,
        "raised_by": _name(escalation.raised_by),
        "business_impact": escalation.business_impact,
        "ack_due_at": escalation.ack_due_at,
        "acknowledged_at": escalation.acknowledged_at,
        "acknowledged_by": _name(escalation.acknowledged_by),
        "next_steps": escalation.next_steps,
        "communication_plan": escalation.communication_plan,
    }
    if internal:
        data["manager"] = _name(escalation.manager)
        data["tam"] = _name(escalation.tam)
    return data


def case_data(case, *, internal: bool, actions: list[str], events, escalations,
              phone: str | None) -> dict:
    assessment = case.assessment or {}
    names = assessment.get("missing_names") or []
    labels = assessment.get("missing") or []
    data = case_summary(case, internal=internal)
    data.update({
        "description": case.description,
        "facts": case.facts,
        "missing_facts": [{"name": name, "label": label} for name, label in zip(names, labels,
                                                                              strict=False)],
        "criticality_definition": case.criticality_definition,
        "requester": _name(case.requester),
        "channel": case.channel,
        "root_cause": case.root_cause,
        "kb_article": article_ref(case.kb_article, viewer_sees_internal=internal),
        "hotfix": None if case.hotfix is None else {
            "number": case.hotfix.number, "version": case.hotfix.version,
            "status": case.hotfix.status, "released_at": case.hotfix.released_at,
        },
        "close_reason": case.close_reason,
        "first_response_at": case.first_response_at,
        "resolved_at": case.resolved_at,
        "closed_at": case.closed_at,
        "response_left_minutes": case.response_left_minutes,
        "resolution_left_minutes": case.resolution_left_minutes,
        "waiting_since": case.waiting_since,
        "auto_close_at": case.auto_close_at,
        "escalations": [escalation_data(e, internal=internal) for e in escalations],
        "phone": phone or None,
        "allowed_actions": [ACTION_NAMES.get(a, a) for a in actions],
        "timeline": [event_data(e, internal=internal) for e in events],
    })
    if internal:
        data.update({
            "complexity": case.complexity,
            "assessment": assessment,
            "routing": case.routing or {},
            "opened_by": _name(case.opened_by),
            "collaborators": [{"id": u.pk, "name": u.name}
                              for u in case.collaborators.order_by("name", "pk")],
            "response_warn_at": case.response_warn_at,
            "resolution_warn_at": case.resolution_warn_at,
            "solutions_proposed": case.solutions_proposed,
            "solutions_rejected": case.solutions_rejected,
            "reopened": case.reopened,
        })
    return data


def kb_data(article, *, detail: bool = False) -> dict:
    data = {
        "id": article.pk,
        "number": article.number,
        "title": article.title,
        "product": article.product.slug if article.product_id else None,
        "visibility": article.visibility,
        "author": _name(article.author),
        "created_at": article.created_at,
        "updated_at": article.updated_at,
    }
    if detail:
        data["body"] = article.body
    return data


def hotfix_data(fix, cases) -> dict:
    """`cases`: the fix's cases the reader may see (with their organizations)."""
    waiting: dict[int, dict] = {}
    for case in sorted(cases, key=lambda c: (c.organization.name, c.number)):
        row = waiting.setdefault(case.organization_id, {
            "organization": case.organization.slug,
            "organization_name": case.organization.name, "cases": []})
        row["cases"].append(case.number)
    return {
        "id": fix.pk,
        "number": fix.number,
        "product": fix.product.slug,
        "version": fix.version,
        "description": fix.description,
        "status": fix.status,
        "released_at": fix.released_at,
        "created_by": _name(fix.created_by),
        "created_at": fix.created_at,
        "cases": sorted(case.number for case in cases),
        "waiting": list(waiting.values()),
    }


class AttachmentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    size = serializers.IntegerField()


class CaseEventOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    at = serializers.DateTimeField()
    actor = serializers.CharField(allow_null=True)
    body = serializers.CharField(help_text="Markdown.")
    public = serializers.BooleanField(help_text="False: an internal entry (Care only).")
    attachments = AttachmentOutput(many=True)
    data = serializers.DictField(required=False, help_text="Care only.")


class CaseSummaryOutput(serializers.Serializer):
    number = serializers.CharField()
    organization = serializers.CharField(help_text="Slug.")
    organization_name = serializers.CharField()
    product = serializers.CharField(help_text="Slug.")
    deployment = serializers.CharField()
    criticality = serializers.IntegerField()
    summary = serializers.CharField()
    status = serializers.CharField(help_text="One of: " + ", ".join(CaseStatus.values) + ".")
    status_display = serializers.CharField()
    owner = serializers.CharField(allow_null=True, help_text="The owning analyst's name.")
    group = serializers.CharField(allow_null=True, help_text="The support group's name.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    response_due_at = serializers.DateTimeField(allow_null=True)
    resolution_due_at = serializers.DateTimeField(allow_null=True)
    sla_paused_at = serializers.DateTimeField(allow_null=True,
                                              help_text="Set while waiting on the customer.")
    owner_id = serializers.IntegerField(required=False, allow_null=True, help_text="Care only.")
    response_breached_at = serializers.DateTimeField(required=False, allow_null=True,
                                                     help_text="Care only.")
    resolution_breached_at = serializers.DateTimeField(required=False, allow_null=True,
                                                       help_text="Care only.")


class MissingFactOutput(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()


class ArticleRefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    title = serializers.CharField()


class HotfixRefOutput(serializers.Serializer):
    number = serializers.CharField()
    version = serializers.CharField()
    status = serializers.CharField()
    released_at = serializers.DateTimeField(allow_null=True)


class EscalationOutput(serializers.Serializer):
    raised_at = serializers.DateTimeField()
    raised_by = serializers.CharField(allow_null=True)
    business_impact = serializers.CharField()
    ack_due_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    acknowledged_by = serializers.CharField(allow_null=True)
    next_steps = serializers.CharField()
    communication_plan = serializers.CharField()
    manager = serializers.CharField(required=False, allow_null=True, help_text="Care only.")
    tam = serializers.CharField(required=False, allow_null=True, help_text="Care only.")


class CollaboratorOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CaseOutput(CaseSummaryOutput):
    description = serializers.CharField(help_text="Markdown.")
    facts = serializers.DictField(child=serializers.CharField())
    missing_facts = MissingFactOutput(many=True, help_text="What the case waits for.")
    criticality_definition = serializers.CharField()
    requester = serializers.CharField(allow_null=True)
    channel = serializers.CharField(help_text="web, api or phone.")
    root_cause = serializers.CharField()
    kb_article = ArticleRefOutput(allow_null=True)
    hotfix = HotfixRefOutput(allow_null=True)
    close_reason = serializers.CharField()
    first_response_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    response_left_minutes = serializers.IntegerField(allow_null=True,
                                                     help_text="While paused.")
    resolution_left_minutes = serializers.IntegerField(allow_null=True,
                                                       help_text="While paused.")
    waiting_since = serializers.DateTimeField(allow_null=True)
    auto_close_at = serializers.DateTimeField(allow_null=True)
    escalations = EscalationOutput(many=True)
    phone = serializers.CharField(allow_null=True, help_text="The number to call while a "
                                  "critical case's escalation is open.")
    allowed_actions = serializers.ListField(
        child=serializers.CharField(),
        help_text="The actions (…/<action>/) the caller may take now.")
    timeline = CaseEventOutput(many=True)
    complexity = serializers.CharField(required=False, help_text="Care only.")
    assessment = serializers.DictField(required=False, help_text="Care only: missing, "
                                       "missing_names, complexity, reasons.")
    routing = serializers.DictField(required=False, help_text="Care only: group, owner, "
                                    "reasons, decided_at.")
    opened_by = serializers.CharField(required=False, allow_null=True, help_text="Care only.")
    collaborators = CollaboratorOutput(many=True, required=False, help_text="Care only.")
    response_warn_at = serializers.DateTimeField(required=False, allow_null=True)
    resolution_warn_at = serializers.DateTimeField(required=False, allow_null=True)
    solutions_proposed = serializers.IntegerField(required=False)
    solutions_rejected = serializers.IntegerField(required=False)
    reopened = serializers.IntegerField(required=False)


class KbSummaryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    title = serializers.CharField()
    product = serializers.CharField(allow_null=True)
    visibility = serializers.CharField()
    author = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class KbOutput(KbSummaryOutput):
    body = serializers.CharField(help_text="Markdown.")


class WaitingOutput(serializers.Serializer):
    organization = serializers.CharField()
    organization_name = serializers.CharField()
    cases = serializers.ListField(child=serializers.CharField())


class HotfixOutput(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    product = serializers.CharField()
    version = serializers.CharField()
    description = serializers.CharField()
    status = serializers.CharField()
    released_at = serializers.DateTimeField(allow_null=True)
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    cases = serializers.ListField(child=serializers.CharField())
    waiting = WaitingOutput(many=True, help_text="Which customers wait for the fix.")
