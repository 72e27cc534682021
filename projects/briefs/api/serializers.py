"""Output shapes of briefs, bids, contracts, milestones and ledger entries.

Amounts are integers in the currency's minor unit (`*_cents`), with `currency`."""

from __future__ import annotations

from rest_framework import serializers

from projects.briefs.models import Project


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

    def get_skills(self, obj: Project) -> list[str]:
        return sorted(s.slug for s in obj.skills.all())

    def get_allowed_schools(self, obj: Project) -> list[int]:
        return sorted(s.pk for s in obj.allowed_schools.all())


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
