"""Writes of the work: briefs, bids, contracts and milestones.

Each function takes the acting user, checks the role (PermissionDenied → 403),
locks the row it moves, refuses illegal transitions (StateConflict → 409) and
calls the payments app for every movement of money."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from marketplace.errors import NotFound, PermissionDenied, StateConflict, ValidationFailed
from marketplace.models import StudentProfile, User
from marketplace.money import Money, amount_check
from payments.models import Escrow, PayoutAccount
from payments.services.escrow import (
    FundingResult,
    escrow_create,
    escrow_freeze,
    escrow_fund,
    escrow_refund,
    escrow_release,
    escrow_retry_pending_releases,
    escrow_settle_split,
)
from payments.services.payouts import (
    OnboardingLink,
    payout_account_onboard,
    payout_account_refresh,
)
from projects.briefs.models import Bid, Project
from projects.briefs.permissions import can_decide_bid
from projects.briefs.services import (
    BID_TRANSITIONS,
    PROJECT_TRANSITIONS,
    B,
    _locked_bid,
    _locked_project,
    _move,
    _reject_open_bids,
)
from projects.contracts import notifications as notices
from projects.contracts.models import Contract, Delivery, Dispute, Milestone, MilestoneEvent
from projects.contracts.permissions import is_contract_company, is_contract_student
from projects.contracts.selectors import TRACK_RECORD_FIELDS, student_track_records
from schools.selectors import verification_active_for

logger = logging.getLogger(__name__)

P = Project.Status
W = Milestone.WorkStatus


WORK_TRANSITIONS: dict[str, set[str]] = {
    W.PENDING: {W.SUBMITTED},
    W.SUBMITTED: {W.APPROVED, W.CHANGES_REQUESTED},
    W.CHANGES_REQUESTED: {W.SUBMITTED},
    W.APPROVED: set(),
}


@dataclass(frozen=True)
class MilestoneSpec:
    """A milestone asked for when accepting a bid; `amount_cents` in the bid's currency."""

    title: str
    amount_cents: int
    due_date: dt.date | None = None


@transaction.atomic
def bid_accept(
    *, bid_id: int, by: User, milestones: Sequence[MilestoneSpec] | None = None
) -> Contract:
    """Accept a bid: create the contract and its milestones, reject the other bids.

    Without `milestones` the contract has one milestone for the whole amount,
    due `estimated_days` from today. The milestones must add up to the bid's
    amount. Each milestone gets an escrow awaiting funding. The brief row is
    locked, so two accepts on one brief cannot both succeed. Raises
    PermissionDenied for another company, StateConflict for a decided bid, a
    brief not open or a student no longer verified, and ValidationFailed
    (field `milestones`) for amounts that do not add up.
    """
    project_id = Bid.objects.filter(pk=bid_id).values_list("project_id", flat=True).first()
    if project_id is None:
        raise NotFound("No such bid.")
    # Brief first, then bid: the same order as bid_submit and project_cancel, so no deadlock.
    project = _locked_project(project_id)
    bid = _locked_bid(bid_id)
    if not can_decide_bid(by, bid):
        raise PermissionDenied("Only the company that posted the brief decides on its bids.")
    if project.status != P.OPEN:
        raise StateConflict(f"This brief is {project.status}; no bid can be accepted.")
    if verification_active_for(user=bid.student) is None:
        raise StateConflict("This student's verification is no longer in force.")
    if not milestones:
        milestones = [
            MilestoneSpec(
                title=project.title[:200],
                amount_cents=bid.amount_cents,
                due_date=timezone.localdate() + dt.timedelta(days=bid.estimated_days),
            )
        ]
    for spec in milestones:
        amount_check(spec.amount_cents, bid.currency, field="milestones")
        if spec.due_date is not None and spec.due_date < timezone.localdate():
            raise ValidationFailed("A milestone cannot be due in the past.", field="milestones")
    total = sum(spec.amount_cents for spec in milestones)
    if total != bid.amount_cents:
        raise ValidationFailed(
            f"The milestones add up to {Money(total, bid.currency)}, "
            f"the bid is {Money(bid.amount_cents, bid.currency)}.",
            field="milestones",
        )
    _move(bid, B.ACCEPTED, BID_TRANSITIONS, "bid")
    bid.decided_at = timezone.now()
    bid.save(update_fields=["status", "decided_at"])
    _move(project, P.IN_PROGRESS, PROJECT_TRANSITIONS, "brief")
    project.save(update_fields=["status"])
    _reject_open_bids(project, keep=bid)
    contract = Contract.objects.create(
        project=project,
        bid=bid,
        company_id=project.company_id,
        student_id=bid.student_id,
        amount_cents=total,
        currency=bid.currency,
    )
    for position, spec in enumerate(milestones, start=1):
        escrow = escrow_create(
            reference=f"contract:{contract.pk}:milestone:{position}",
            company=project.company,
            payee=bid.student,
            amount_cents=spec.amount_cents,
            currency=bid.currency,
        )
        Milestone.objects.create(
            contract=contract,
            position=position,
            title=spec.title,
            amount_cents=spec.amount_cents,
            currency=bid.currency,
            due_date=spec.due_date,
            escrow=escrow,
        )
    notices.bid_accepted(bid, contract)
    logger.info("bid.accepted", extra={"bid_id": bid.pk, "contract_id": contract.pk})
    return contract


def _locked_milestone(milestone_id: int) -> Milestone:
    milestone = (
        Milestone.objects.select_for_update(of=("self",))
        .select_related("contract", "escrow")
        .filter(pk=milestone_id)
        .first()
    )
    if milestone is None:
        raise NotFound("No such milestone.")
    return milestone


def _work(milestone: Milestone, to: str, *, by: User | None, note: str = "") -> None:
    if to not in WORK_TRANSITIONS[milestone.work_status]:
        raise StateConflict(
            f"This milestone's work is {milestone.work_status}; it cannot become {to}."
        )
    MilestoneEvent.objects.create(
        milestone=milestone, actor=by, from_status=milestone.work_status, to_status=to, note=note
    )
    milestone.work_status = to


def milestone_fund(
    *, milestone_id: int, by: User, payment_method: str | None = None
) -> FundingResult:
    """The company pays a milestone into escrow (amount + fee); see `escrow_fund`.

    The contract must be active; that is checked again once the escrow row is
    locked, the lock `contract_cancel` also takes, so a cancellation and a
    payment that race never leave money paid into a cancelled contract.
    """
    milestone = Milestone.objects.select_related("contract").filter(pk=milestone_id).first()
    if milestone is None:
        raise NotFound("No such milestone.")
    if not is_contract_company(by, milestone.contract):
        raise PermissionDenied("Only the company of this contract funds its milestones.")

    if milestone.contract.status != Contract.Status.ACTIVE:
        raise StateConflict(f"This contract is {milestone.contract.status}.")

    def contract_still_active() -> None:
        status = (
            Contract.objects.filter(pk=milestone.contract_id)
            .values_list("status", flat=True)
            .first()
        )
        if status != Contract.Status.ACTIVE:
            raise StateConflict(f"This contract is {status}.")

    result = escrow_fund(
        escrow_id=milestone.escrow_id,
        actor=by,
        payment_method=payment_method,
        guard=contract_still_active,
    )
    if result.status == "succeeded":
        milestone.escrow = result.escrow
        with transaction.atomic():
            notices.milestone_funded(milestone)
    return result


@transaction.atomic
def milestone_submit(
    *, milestone_id: int, by: User, note: str = "", url: str = "", has_files: bool = False
) -> Milestone:
    """The student delivers a funded milestone (first time or after changes were asked).

    A delivery carries something: a note, a link or files (`has_files`, attached
    by `projects.messaging.files.delivery_submit_with_files`); an empty one would start the
    auto-release clock on nothing. Raises PermissionDenied, StateConflict, and
    ValidationFailed (field `note`) for an empty delivery.
    """
    milestone = _locked_milestone(milestone_id)
    if not is_contract_student(by, milestone.contract):
        raise PermissionDenied("Only the student of this contract delivers.")
    if milestone.escrow.status != Escrow.Status.FUNDED:
        raise StateConflict("Deliver once the milestone is funded and still held in escrow.")
    if not (note.strip() or url.strip() or has_files):
        raise ValidationFailed("Say what you deliver: a note, a link or files.", field="note")
    _work(milestone, W.SUBMITTED, by=by, note=note)
    milestone.submitted_at = timezone.now()
    milestone.save(update_fields=["work_status", "submitted_at"])
    delivery = Delivery.objects.create(milestone=milestone, note=note, url=url)
    notices.delivery_submitted(milestone, delivery)
    return milestone


@transaction.atomic
def milestone_request_changes(*, milestone_id: int, by: User, note: str = "") -> Milestone:
    """The company sends a delivery back with what to change.

    Raises PermissionDenied, StateConflict, and ValidationFailed (field `note`)
    when the note is blank: the student needs to know what to change.
    """
    milestone = _locked_milestone(milestone_id)
    if not is_contract_company(by, milestone.contract):
        raise PermissionDenied("Only the company of this contract reviews deliveries.")
    _work(milestone, W.CHANGES_REQUESTED, by=by, note=note)  # a wrong state is a 409 first
    if not note.strip():
        raise ValidationFailed("Say what should change.", field="note")
    milestone.save(update_fields=["work_status"])
    event = milestone.events.order_by("-pk").first()
    notices.changes_requested(milestone, note, event.pk if event else 0)
    return milestone


def contract_complete_if_settled(contract: Contract) -> None:
    open_escrows = Escrow.objects.filter(milestone__contract=contract).exclude(
        status__in=[Escrow.Status.RELEASED, Escrow.Status.REFUNDED]
    )
    if open_escrows.exists():
        return
    contract.status = Contract.Status.COMPLETED
    contract.completed_at = timezone.now()
    contract.save(update_fields=["status", "completed_at"])
    project = Project.objects.select_for_update().get(pk=contract.project_id)
    _move(project, P.COMPLETED, PROJECT_TRANSITIONS, "brief")
    project.save(update_fields=["status"])
    student_track_record_refresh(student_ids=[contract.student_id])


@transaction.atomic
def milestone_approve(*, milestone_id: int, by: User | None) -> Milestone:
    """The company accepts a delivery; the escrow is released to the student.

    If the student's payout account is not ready the money waits
    (`escrow_status=release_pending`) and goes out when it is. The milestone row
    is locked, so concurrent approvals release once. `by=None` is the
    platform's own approval (auto-release).
    """
    milestone = _locked_milestone(milestone_id)
    if by is not None and not is_contract_company(by, milestone.contract):
        raise PermissionDenied("Only the company of this contract approves deliveries.")
    _work(milestone, W.APPROVED, by=by)
    milestone.approved_at = timezone.now()
    milestone.save(update_fields=["work_status", "approved_at"])
    milestone.escrow = escrow_release(escrow_id=milestone.escrow_id, actor=by)
    notices.money_released(milestone, automatic=by is None)
    contract_complete_if_settled(milestone.contract)
    student_track_record_refresh(student_ids=[milestone.contract.student_id])
    return milestone


def _after_late_releases(escrow_ids: list[int]) -> None:
    """Money that waited went out: tell the students and complete finished contracts."""
    if not escrow_ids:
        return
    with transaction.atomic():
        milestones = Milestone.objects.select_related(
            "escrow", "contract__project", "contract__student"
        ).filter(escrow_id__in=escrow_ids)
        for milestone in milestones:
            notices.money_released(milestone, automatic=False)
        ids = Contract.objects.filter(
            status=Contract.Status.ACTIVE, milestones__escrow_id__in=escrow_ids
        ).values("pk")
        for contract in Contract.objects.select_for_update().filter(pk__in=ids):
            contract_complete_if_settled(contract)


def student_payouts_onboard(*, user: User, country: str = "FR") -> OnboardingLink:
    """Connect the student's payout account; money waiting for it goes out when it is ready.

    Contracts whose last milestone was waiting on this account complete here.
    Raises PermissionDenied for a non-student.
    """
    if user.role != User.Role.STUDENT:
        raise PermissionDenied("Only students receive payouts.")
    link = payout_account_onboard(user=user, country=country)
    _after_late_releases(link.released_escrow_ids)
    return link


def student_payouts_refresh(*, user: User) -> PayoutAccount | None:
    """Ask the gateway again whether the student's payout account can be paid (the return page).

    When it just became ready, the money waiting for it goes out, the student
    is told and finished contracts complete. Returns the account, or None when
    the student has none. Raises TransientError when the gateway cannot answer.
    """
    waiting = list(
        Escrow.objects.filter(payee=user, status=Escrow.Status.RELEASE_PENDING).values_list(
            "pk", flat=True
        )
    )
    account = payout_account_refresh(user=user)
    released = list(
        Escrow.objects.filter(pk__in=waiting, status=Escrow.Status.RELEASED).values_list(
            "pk", flat=True
        )
    )
    _after_late_releases(released)
    return account


def milestone_releases_retry(*, escrow_ids: Sequence[int] | None = None) -> int:
    """Retry the transfers of approved milestones not paid yet, then complete finished contracts.

    For the scheduled task, and for staff with `escrow_ids` (only those
    escrows): safe to run any number of times (each transfer has its
    idempotency key). Returns how many escrows were released.
    """
    released = escrow_retry_pending_releases(escrow_ids=escrow_ids)
    _after_late_releases(released)
    return len(released)


@transaction.atomic
def contract_cancel(*, contract_id: int, by: User, reason: str) -> Contract:
    """The company cancels a contract before any delivery: every funded milestone is refunded.

    "Cancel before delivery: full refund": each milestone whose money is held
    (`funded`) is refunded in full, fee included (`escrow_refund`, key
    `escrow-<id>-refund`); unfunded milestones are simply never paid. The
    contract becomes `cancelled`, its brief `cancelled`, and the student is
    told why and how much went back to the company.

    Allowed only to the members of the contract's company, and only while the
    contract is active, no milestone was delivered (submitted, sent back for
    changes or approved), no money was released or is waiting to be, and no
    dispute is open. The milestone rows, then the escrow rows, then the
    contract are locked (the order approvals and disputes use), so a delivery,
    an approval, a dispute, a payment or another cancellation racing with this
    one waits, then sees the cancelled contract; each escrow is refunded at
    most once, so refunds never exceed what was charged. A gateway error rolls
    everything back; a retry completes (the refund keys replay at Stripe).

    Raises NotFound, PermissionDenied for anyone but the company's members,
    ValidationFailed (field `reason`) without a reason and StateConflict in any
    other state.
    """
    contract = Contract.objects.filter(pk=contract_id).first()
    if contract is None:
        raise NotFound("No such contract.")
    if not is_contract_company(by, contract):
        raise PermissionDenied("Only the company of this contract can cancel it.")
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("Say why the contract is cancelled.", field="reason")
    milestones = list(
        Milestone.objects.select_for_update().filter(contract_id=contract.pk).order_by("pk")
    )
    escrows = {
        escrow.pk: escrow
        for escrow in Escrow.objects.select_for_update(of=("self",))
        .filter(milestone__contract_id=contract.pk)
        .order_by("pk")
    }
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    if contract.status != Contract.Status.ACTIVE:
        raise StateConflict(f"This contract is {contract.status}; it cannot be cancelled.")
    if Dispute.objects.filter(milestone__contract=contract, status=Dispute.Status.OPEN).exists():
        raise StateConflict("A dispute is open on this contract; staff settle it first.")
    for milestone in milestones:
        if milestone.work_status != W.PENDING:
            raise StateConflict(
                f"“{milestone.title}” was already delivered; the contract can no longer "
                "be cancelled (request changes or open a dispute instead)."
            )
        if escrows[milestone.escrow_id].status in (
            Escrow.Status.RELEASE_PENDING,
            Escrow.Status.RELEASED,
            Escrow.Status.FROZEN,
        ):
            raise StateConflict(
                f"The money of “{milestone.title}” was already released or is frozen."
            )
    refunded = 0
    for milestone in milestones:
        if escrows[milestone.escrow_id].status == Escrow.Status.FUNDED:
            escrow = escrow_refund(
                escrow_id=milestone.escrow_id, actor=by, note=f"Contract cancelled: {reason}"
            )
            refunded += escrow.charge_cents
    contract.status = Contract.Status.CANCELLED
    # When the contract ended, completed or cancelled: the review window counts from it.
    contract.completed_at = timezone.now()
    contract.save(update_fields=["status", "completed_at"])
    project = Project.objects.select_for_update().get(pk=contract.project_id)
    _move(project, P.CANCELLED, PROJECT_TRANSITIONS, "brief")
    project.save(update_fields=["status"])
    student_track_record_refresh(student_ids=[contract.student_id])
    notices.contract_cancelled(contract, reason=reason, refunded_cents=refunded)
    logger.info(
        "contract.cancelled", extra={"contract_id": contract.pk, "refunded_cents": refunded}
    )
    return contract


@transaction.atomic
def milestone_dispute(*, milestone_id: int, by: User, reason: str) -> Dispute:
    """Either party disputes a milestone whose money is held: it is frozen until staff settle.

    Raises PermissionDenied for anyone else, ValidationFailed (field `reason`)
    without a reason, and StateConflict once the delivery was approved, the
    money left escrow, or while a dispute is already open.
    """
    milestone = _locked_milestone(milestone_id)
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
    contract.status = Contract.Status.DISPUTED
    contract.save(update_fields=["status"])
    notices.dispute_opened(dispute)
    logger.info("dispute.opened", extra={"dispute_id": dispute.pk})
    return dispute


@transaction.atomic
def dispute_resolve(
    *, dispute_id: int, by: User, release_cents: int, refund_cents: int, note: str
) -> Dispute:
    """Staff settle a dispute with a split of what is held (see `escrow_settle_split`).

    `release_cents + refund_cents` must equal the milestone's charge (amount +
    company fee). The written `note` is shown to both parties. Raises
    PermissionDenied for non-staff, NotFound, StateConflict for a resolved
    dispute, ValidationFailed for a missing note or amounts that do not add up.
    """
    if not by.is_staff:
        raise PermissionDenied("Only the platform's staff resolve disputes.")
    dispute = Dispute.objects.select_for_update().filter(pk=dispute_id).first()
    if dispute is None:
        raise NotFound("No such dispute.")
    if dispute.status != Dispute.Status.OPEN:
        raise StateConflict("This dispute is already resolved.")
    if not note.strip():
        raise ValidationFailed("Explain the decision to both parties.", field="note")
    milestone = _locked_milestone(dispute.milestone_id)
    milestone.escrow = escrow_settle_split(
        escrow_id=milestone.escrow_id,
        release_cents=release_cents,
        refund_cents=refund_cents,
        actor=by,
        note=note.strip(),
    )
    dispute.status = Dispute.Status.RESOLVED
    dispute.resolved_by = by
    dispute.release_cents = release_cents
    dispute.refund_cents = refund_cents
    dispute.resolution_note = note.strip()
    dispute.resolved_at = timezone.now()
    dispute.save()
    contract = Contract.objects.select_for_update().get(pk=milestone.contract_id)
    if not Dispute.objects.filter(
        milestone__contract=contract, status=Dispute.Status.OPEN
    ).exists():
        contract.status = Contract.Status.ACTIVE
        contract.save(update_fields=["status"])
    contract_complete_if_settled(contract)
    notices.dispute_resolved(dispute)
    logger.info("dispute.resolved", extra={"dispute_id": dispute.pk})
    return dispute


def student_track_record_refresh(*, student_ids: Sequence[int]) -> int:
    """Copy each student's TrackRecord onto their StudentProfile, where search and matching
    rank by it; returns the profiles changed. Called where a milestone is approved or a
    contract completes or is cancelled (ratings are the reviews app's to copy). Three
    queries whatever the number of ids.
    """
    records = student_track_records(student_ids=student_ids)
    changed = []
    for profile in StudentProfile.objects.filter(user_id__in=list(student_ids)):
        record = records[profile.user_id]
        if any(getattr(profile, name) != getattr(record, name) for name in TRACK_RECORD_FIELDS):
            for name in TRACK_RECORD_FIELDS:
                setattr(profile, name, getattr(record, name))
            changed.append(profile)
    StudentProfile.objects.bulk_update(changed, TRACK_RECORD_FIELDS, batch_size=500)
    return len(changed)
