"""Output shapes of briefs, bids, contracts, milestones and ledger entries.

Amounts are integers in the currency's minor unit (`*_cents`), with `currency`.
"""

from __future__ import annotations

from rest_framework import serializers

from projects.models import Attachment, Milestone, Project
from projects.selectors import milestone_status


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


class AttachmentOutput(serializers.Serializer):
    id = serializers.UUIDField(source="uuid")
    name = serializers.CharField()
    content_type = serializers.CharField(help_text="detected from the content, not the name")
    size = serializers.IntegerField(help_text="bytes")
    url = serializers.SerializerMethodField(help_text="download route (the parties and staff)")

    def get_url(self, obj: Attachment) -> str:
        return f"/api/v1/files/{obj.uuid}/"


class DeliveryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    note = serializers.CharField()
    url = serializers.CharField()
    files = AttachmentOutput(many=True)
    created_at = serializers.DateTimeField()


class MilestoneEventOutput(serializers.Serializer):
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    note = serializers.CharField(help_text="what to change, for changes_requested")
    actor = serializers.IntegerField(source="actor_id", allow_null=True)
    created_at = serializers.DateTimeField()


class DisputeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    milestone = serializers.IntegerField(source="milestone_id")
    contract = serializers.IntegerField(source="milestone.contract_id")
    held_cents = serializers.IntegerField(
        source="milestone.escrow.charge_cents", help_text="what the split divides"
    )
    currency = serializers.CharField(source="milestone.currency")
    status = serializers.CharField()
    reason = serializers.CharField()
    opened_by = serializers.IntegerField(source="opened_by_id")
    release_cents = serializers.IntegerField(allow_null=True)
    refund_cents = serializers.IntegerField(allow_null=True)
    resolution_note = serializers.CharField()
    created_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)


class MilestoneOutput(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    title = serializers.CharField()
    amount_cents = serializers.IntegerField()
    currency = serializers.CharField()
    due_date = serializers.DateField(allow_null=True)
    status = serializers.SerializerMethodField(
        help_text="pending, funded, submitted, changes_requested, released, refunded or disputed"
    )
    work_status = serializers.CharField()
    escrow_status = serializers.CharField(source="escrow.status")
    charge_cents = serializers.IntegerField(source="escrow.charge_cents")
    company_fee_cents = serializers.IntegerField(source="escrow.company_fee_cents")
    student_payout_cents = serializers.IntegerField(source="escrow.payee_cents")
    submitted_at = serializers.DateTimeField(allow_null=True)
    approved_at = serializers.DateTimeField(allow_null=True)
    deliveries = DeliveryOutput(many=True)
    history = MilestoneEventOutput(many=True, source="events")
    disputes = DisputeOutput(many=True)

    def get_status(self, obj: Milestone) -> str:
        return milestone_status(obj)


class ContractOutput(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    project_title = serializers.CharField(source="project.title")
    bid = serializers.IntegerField(source="bid_id")
    company = CompanyRef()
    student = StudentRef()
    amount_cents = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    milestones = MilestoneOutput(many=True)


class LedgerEntryOutput(serializers.Serializer):
    transaction = serializers.IntegerField(source="transaction_id")
    account = serializers.CharField()
    amount_cents = serializers.IntegerField(help_text="signed: positive debit, negative credit")
    currency = serializers.CharField()
    created_at = serializers.DateTimeField()
    memo = serializers.CharField()
