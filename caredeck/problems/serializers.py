"""API shapes of problems, post-incident reviews and action items (see ../shared/API.md)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from caredeck.problems import states
from caredeck.problems.models import ActionItem, PostIncidentReview, Problem, ProblemStatus
from caredeck.problems.selectors import problem_staff


@extend_schema_field(OpenApiTypes.INT)
class StaffField(serializers.PrimaryKeyRelatedField):
    """A provider staff member by user id; anyone else is "no such staff member"."""

    default_error_messages = {
        "does_not_exist": "No active provider staff member has id {pk_value}.",
        "incorrect_type": "Give a user id (a number).",
    }

    def get_queryset(self):
        return problem_staff()


# --- Output --------------------------------------------------------------------------


class ActionItemSerializer(serializers.ModelSerializer):
    owner_name = serializers.CharField(source="owner.name", read_only=True)
    incident = serializers.CharField(source="review.incident.number", read_only=True)
    problem = serializers.SerializerMethodField()
    done = serializers.SerializerMethodField()

    class Meta:
        model = ActionItem
        fields = ["id", "title", "owner", "owner_name", "due_on", "done", "done_at",
                  "incident", "problem", "created_at"]

    def get_problem(self, item) -> str | None:
        return item.problem.number if item.problem_id else None

    def get_done(self, item) -> bool:
        return item.done_at is not None


class IncidentBriefSerializer(serializers.Serializer):
    number = serializers.CharField()
    title = serializers.CharField()
    severity = serializers.CharField()
    status = serializers.CharField()
    detected_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    failure_target = serializers.CharField()


class RecurrenceSerializer(serializers.Serializer):
    incident = serializers.CharField(source="incident.number")
    other_incident = serializers.CharField(source="other.number")
    other_problem = serializers.SerializerMethodField()
    match = serializers.ChoiceField(choices=["area", "element"])
    value = serializers.CharField()
    days_apart = serializers.IntegerField()

    def get_other_problem(self, recurrence) -> str | None:
        return self.context.get("problem_numbers", {}).get(recurrence.other.problem_id)


class ProblemSerializer(serializers.ModelSerializer):
    # A plain string here: the choice set is named once, on the transition's input (as a
    # second "status" enum it would collide with the incidents' and maintenance's).
    status = serializers.CharField(
        read_only=True, help_text="; ".join(f"`{v}`: {label}" for v, label in
                                            ProblemStatus.choices),
    )
    owner_name = serializers.CharField(source="owner.name", read_only=True)
    incidents = serializers.SerializerMethodField()
    recurring = serializers.SerializerMethodField()
    recurrence = serializers.SerializerMethodField()
    action_items = serializers.SerializerMethodField()
    allowed_transitions = serializers.SerializerMethodField()

    class Meta:
        model = Problem
        fields = [
            "number", "title", "description", "status", "owner", "owner_name", "root_cause",
            "workaround", "area", "element", "rca_document", "rca_due_at",
            "rca_published_at", "incidents", "recurring", "recurrence", "action_items",
            "allowed_transitions", "created_at", "updated_at", "resolved_at",
        ]
        read_only_fields = fields

    def _recurrences(self, problem) -> list:
        return self.context.get("recurrences", {}).get(problem.pk, [])

    def get_incidents(self, problem) -> list[dict]:
        incidents = sorted(problem.incidents.all(), key=lambda i: i.detected_at, reverse=True)
        return IncidentBriefSerializer(incidents, many=True).data

    def get_recurring(self, problem) -> bool:
        return bool(self._recurrences(problem))

    def get_recurrence(self, problem) -> list[dict]:
        return RecurrenceSerializer(
            self._recurrences(problem), many=True, context=self.context
        ).data

    def get_action_items(self, problem) -> list[dict]:
        return ActionItemSerializer(problem.action_items.all(), many=True).data

    def get_allowed_transitions(self, problem) -> list[str]:
        return list(states.allowed_next(problem.status))


class ReviewSerializer(serializers.ModelSerializer):
    incident = serializers.CharField(source="incident.number", read_only=True)
    facilitator_name = serializers.CharField(source="facilitator.name", read_only=True)
    problem = serializers.SerializerMethodField()
    action_items = ActionItemSerializer(many=True, read_only=True)

    class Meta:
        model = PostIncidentReview
        fields = ["incident", "held_on", "facilitator", "facilitator_name", "summary",
                  "went_well", "went_wrong", "problem", "action_items", "created_at"]
        read_only_fields = fields

    def get_problem(self, review) -> str | None:
        problem = review.incident.problem
        return problem.number if problem else None


# --- Input ---------------------------------------------------------------------------

_TEXT = {"required": False, "allow_blank": True, "max_length": 20000}


class ProblemCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(**_TEXT)
    owner = StaffField(required=False, help_text="User id of provider staff; default: you.")
    root_cause = serializers.CharField(**_TEXT)
    workaround = serializers.CharField(**_TEXT)
    area = serializers.CharField(required=False, allow_blank=True, max_length=60,
                                 help_text="Functional-area id, e.g. call_routing.")
    element = serializers.CharField(required=False, allow_blank=True, max_length=60,
                                    help_text="Zone, region or PoP id, e.g. us-east.")
    incidents = serializers.ListField(
        child=serializers.CharField(max_length=20), required=False, max_length=200,
        help_text="Incident numbers to link, e.g. INC-000042.",
    )


class ProblemUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(**_TEXT)
    owner = StaffField(required=False)
    root_cause = serializers.CharField(**_TEXT)
    workaround = serializers.CharField(**_TEXT)
    area = serializers.CharField(required=False, allow_blank=True, max_length=60)
    element = serializers.CharField(required=False, allow_blank=True, max_length=60)
    rca_document = serializers.CharField(required=False, allow_blank=True, max_length=200000)

    def validate(self, attrs):
        # Ignoring it would look like success while nothing moved.
        if isinstance(self.initial_data, dict) and "status" in self.initial_data:
            raise serializers.ValidationError(
                {"status": ["Change the status with POST …/transition/."]}
            )
        return attrs


class TransitionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ProblemStatus.choices)


class IncidentNumberSerializer(serializers.Serializer):
    incident = serializers.CharField(max_length=20, help_text="e.g. INC-000042")


class ActionItemInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    owner = StaffField()
    due_on = serializers.DateField()


class NewProblemSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(**_TEXT)
    owner = StaffField(required=False)
    root_cause = serializers.CharField(**_TEXT)
    workaround = serializers.CharField(**_TEXT)
    area = serializers.CharField(required=False, allow_blank=True, max_length=60)
    element = serializers.CharField(required=False, allow_blank=True, max_length=60)


class ReviewInputSerializer(serializers.Serializer):
    held_on = serializers.DateField()
    facilitator = StaffField(required=False, help_text="User id; default: you.")
    summary = serializers.CharField(max_length=20000)
    went_well = serializers.CharField(**_TEXT)
    went_wrong = serializers.CharField(**_TEXT)
    action_items = ActionItemInputSerializer(many=True, required=False)
    problem = serializers.CharField(
        max_length=20, required=False, allow_blank=True,
        help_text="Number of an existing problem to link, e.g. PRB-000003.",
    )
    new_problem = NewProblemSerializer(required=False, help_text="Open a new problem.")

