"""Output shapes of briefs, bids, contracts, milestones and ledger entries.

Amounts are integers in the currency's minor unit (`*_cents`), with `currency`."""

from __future__ import annotations

from rest_framework import serializers

from marketplace.api.policies import actions_field, actions_schema, context_user
from projects.briefs.models import Bid, Project
from projects.briefs.policies import (
    BID_ACTIONS,
    BRIEF_ACTIONS,
    BriefViewer,
    bid_actions,
    brief_actions,
    brief_viewer,
)


class CompanyRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ProjectOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField()
    category = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    visibility = serializers.CharField()
    budget_cents = serializers.IntegerField()
    currency = serializers.CharField()
    deadline = serializers.DateField(allow_null=True)
    skills = serializers.SerializerMethodField()
    allowed_schools = serializers.SerializerMethodField()
    company = CompanyRef()
    bid_count = serializers.IntegerField(required=False)
    created_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True)
    actions = actions_field(BRIEF_ACTIONS)

    def get_skills(self, obj: Project) -> list[str]:
        return sorted(s.slug for s in obj.skills.all())

    def get_allowed_schools(self, obj: Project) -> list[int]:
        return sorted(s.pk for s in obj.allowed_schools.all())

    @actions_schema
    def get_actions(self, obj: Project) -> list[dict]:
        user = context_user(self.context)
        # Read once for every brief of the answer (two queries for a student, none otherwise).
        viewer: BriefViewer | None = self.context.get("_brief_viewer")
        if viewer is None:
            viewer = brief_viewer(user=user)
            if isinstance(self.context, dict):
                self.context["_brief_viewer"] = viewer
        return brief_actions(project=obj, user=user, viewer=viewer).as_list()


class StudentRef(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()


class BidOutput(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    student = StudentRef()
    amount_cents = serializers.IntegerField()
    currency = serializers.CharField()
    estimated_days = serializers.IntegerField()
    cover_letter = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    actions = actions_field(BID_ACTIONS)

    @actions_schema
    def get_actions(self, obj: Bid) -> list[dict]:
        return bid_actions(bid=obj, user=context_user(self.context)).as_list()
