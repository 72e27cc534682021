"""Output shapes of briefs, bids, contracts, milestones and ledger entries.

Amounts are integers in the currency's minor unit (`*_cents`), with `currency`."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from marketplace.api.policies import actions_field, actions_schema, context_user
from projects.briefs.api.serializers import CompanyRef, StudentRef
from projects.contracts.models import Contract, Milestone
from projects.contracts.policies import (
    CONTRACT_ACTIONS,
    MILESTONE_ACTIONS,
    contract_actions,
    milestone_actions,
)
from projects.contracts.selectors import milestone_status


class AttachmentOutput(serializers.Serializer):
    id = serializers.UUIDField(source="uuid")
    name = serializers.CharField()
    content_type = serializers.CharField(help_text="detected from the content, not the name")
    size = serializers.IntegerField(help_text="bytes")
    url = serializers.SerializerMethodField(help_text="download route (the parties and staff)")

    def get_url(self, obj: Any) -> str:  # a messaging Attachment
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
    actions = actions_field(MILESTONE_ACTIONS)

    def get_status(self, obj: Milestone) -> str:
        return milestone_status(obj)

    @actions_schema
    def get_actions(self, obj: Milestone) -> list[dict]:
        return milestone_actions(milestone=obj, user=context_user(self.context)).as_list()


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
    actions = actions_field(CONTRACT_ACTIONS)

    @actions_schema
    def get_actions(self, obj: Contract) -> list[dict]:
        return contract_actions(contract=obj, user=context_user(self.context)).as_list()


class LedgerEntryOutput(serializers.Serializer):
    transaction = serializers.IntegerField(source="transaction_id")
    account = serializers.CharField()
    amount_cents = serializers.IntegerField(help_text="signed: positive debit, negative credit")
    currency = serializers.CharField()
    created_at = serializers.DateTimeField()
    memo = serializers.CharField()
