"""Disputes over a milestone: a party opens one, the money is frozen, staff settle it.

Settling is a split of the held money (release X to the student, refund Y to
the company, X + Y = what is held), sent through the payments app's three
steps (`payments.services.refunds.escrow_settle_split`).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from marketplace.audit import audit_record
from marketplace.errors import NotFound, PermissionDenied, StateConflict, ValidationFailed
from marketplace.models import User
from payments.models import Escrow
from payments.services.escrow import escrow_freeze
from payments.services.refunds import escrow_settle_split
from projects.contracts import notifications as notices
from projects.contracts.models import Contract, Dispute
from projects.contracts.permissions import is_contract_company, is_contract_student
from projects.contracts.services import C, W, contract_complete_if_settled, milestone_lock
from projects.contracts.states import CONTRACT_STATES, DISPUTE_STATES

logger = logging.getLogger(__name__)


@transaction.atomic
def milestone_dispute(*, milestone_id: int, by: User, reason: str) -> Dispute:
    """Either party disputes a milestone whose money is held: it is frozen until staff settle.

    Raises PermissionDenied for anyone else, ValidationFailed (field `reason`)
    without a reason, and StateConflict once the delivery was approved, the
    money left escrow, or while a dispute is already open.
    """
    milestone = milestone_lock(milestone_id)
    contract = milestone.contract
    if not (is_contract_company(by, contract) or is_contract_student(by, contract)):
        raise PermissionDenied("Only the two parties of the contract can open a dispute.")
    if not reason.strip():
        raise ValidationFailed("Say what the dispute is about.", field="reason")
    if milestone.disputes.filter(status=Dispute.Status.OPEN).exists():
        raise StateConflict("A dispute is already open on this milestone.")
    if milestone.work_status == W.APPROVED:
        # Approval settles the work; the transfer may only wait for the student's account.
        raise StateConflict("This delivery was approved; it can no longer be disputed.")
    escrow_freeze(escrow_id=milestone.escrow_id, actor=by, note=reason.strip())
    dispute = Dispute.objects.create(milestone=milestone, opened_by=by, reason=reason.strip())
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    if contract.status != C.DISPUTED:  # a second dispute on another milestone: still disputed
        CONTRACT_STATES.transition(contract, C.DISPUTED, actor=by, note=reason.strip())
    notices.dispute_opened(dispute)
    logger.info("dispute.opened", extra={"dispute_id": dispute.pk})
    return dispute


def dispute_resolve(
    *, dispute_id: int, by: User, release_cents: int, refund_cents: int, note: str
) -> Dispute:
    """Staff settle a dispute with a split of what is held (see `escrow_settle_split`).

    `release_cents + refund_cents` must equal the milestone's charge (amount +
    company fee). The written `note` is shown to both parties. Raises
    PermissionDenied for non-staff, NotFound, StateConflict for a resolved
    dispute, ValidationFailed for a missing note or amounts that do not add up.

    Three steps (`payments.services.escrow`): the dispute is checked under its
    lock; `escrow_settle_split` records the split, has Stripe pay it out with
    no transaction open and books it; then the dispute is resolved under its
    lock again, and the resolution is audited (`dispute.resolve`, the split in
    minor units, the note as its reason) in that same transaction. When the
    gateway fails its error is raised, the dispute stays open and unaudited
    and the split stays recorded: resolving again with the same amounts
    completes it (Stripe answers with the same transfer and refund), other
    amounts are refused (StateConflict).
    """
    with transaction.atomic():
        dispute = _open_dispute_lock(dispute_id=dispute_id, by=by, note=note)
        escrow_id = milestone_lock(dispute.milestone_id).escrow_id
    escrow_settle_split(
        escrow_id=escrow_id,
        release_cents=release_cents,
        refund_cents=refund_cents,
        actor=by,
        note=note.strip(),
    )
    return _dispute_resolve_locked(
        dispute_id=dispute_id,
        by=by,
        release_cents=release_cents,
        refund_cents=refund_cents,
        note=note,
    )


@transaction.atomic
def _dispute_resolve_locked(
    *, dispute_id: int, by: User, release_cents: int, refund_cents: int, note: str
) -> Dispute:
    """Step 3 of `dispute_resolve`: the money is settled; resolve the dispute, checked again."""
    dispute = _open_dispute_lock(dispute_id=dispute_id, by=by, note=note)
    milestone = milestone_lock(dispute.milestone_id)
    if milestone.escrow.status not in (Escrow.Status.RELEASED, Escrow.Status.REFUNDED):
        raise StateConflict("The money of this milestone is not settled.")
    dispute.resolved_by = by
    dispute.release_cents = release_cents
    dispute.refund_cents = refund_cents
    dispute.resolution_note = note.strip()
    dispute.resolved_at = timezone.now()
    DISPUTE_STATES.transition(
        dispute,
        Dispute.Status.RESOLVED,
        actor=by,
        note=note.strip(),
        update_fields=[
            "resolved_by",
            "release_cents",
            "refund_cents",
            "resolution_note",
            "resolved_at",
        ],
    )
    contract = Contract.objects.select_for_update().get(pk=milestone.contract_id)
    # Settled money completes the contract straight from disputed; otherwise, once no
    # dispute is left open, the work goes on.
    if (
        not contract_complete_if_settled(contract, by=by)
        and contract.status == C.DISPUTED
        and not Dispute.objects.filter(
            milestone__contract=contract, status=Dispute.Status.OPEN
        ).exists()
    ):
        CONTRACT_STATES.transition(contract, C.ACTIVE, actor=by, note=note.strip())
    escrow = milestone.escrow
    audit_record(
        actor=by,
        action="dispute.resolve",
        subject=dispute,
        detail={
            "milestone_id": milestone.pk,
            "contract_id": milestone.contract_id,
            "escrow_id": escrow.pk,
            "held_cents": escrow.charge_cents,
            "release_cents": release_cents,
            "refund_cents": refund_cents,
            "currency": escrow.currency,
            "status": [Dispute.Status.OPEN.value, Dispute.Status.RESOLVED.value],
            "escrow_status": escrow.status,
        },
        reason=note.strip(),
    )
    notices.dispute_resolved(dispute)
    logger.info("dispute.resolved", extra={"dispute_id": dispute.pk})
    return dispute


def _open_dispute_lock(*, dispute_id: int, by: User, note: str) -> Dispute:
    """The open dispute, locked, once staff may resolve it with this note (else raises)."""
    if not by.is_staff:
        raise PermissionDenied("Only the platform's staff resolve disputes.")
    dispute = Dispute.objects.select_for_update().filter(pk=dispute_id).first()
    if dispute is None:
        raise NotFound("No such dispute.")
    if dispute.status != Dispute.Status.OPEN:
        raise StateConflict("This dispute is already resolved.")
    if not note.strip():
        raise ValidationFailed("Explain the decision to both parties.", field="note")
    return dispute
