"""Writes of the work: briefs, bids, contracts and milestones.

Each function takes the acting user, checks the role (PermissionDenied → 403),
locks the row it moves, refuses illegal transitions (StateConflict → 409) and
calls the payments app for every movement of money. A movement of money is
never made inside the transaction that moves the work: the work's move and the
escrow's intent commit together, the payments app then calls Stripe with no
transaction open and records its answer (`payments.services.escrow`), and what
follows (notices, a contract completing) is written in a new transaction."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from marketplace.errors import NotFound, PermissionDenied, StateConflict, ValidationFailed
from marketplace.models import StudentProfile, User
from marketplace.money import Money, amount_check
from payments.models import Escrow, PayoutAccount
from payments.services.escrow import escrow_create
from payments.services.funding import FundingResult, escrow_fund
from payments.services.payouts import (
    OnboardingLink,
    payout_account_onboard,
    payout_account_refresh,
)
from payments.services.refunds import escrow_refund_request, escrow_refund_send
from payments.services.releases import (
    escrow_release_request,
    escrow_release_send,
    escrow_retry_pending_releases,
)
from projects.briefs.models import Bid, Project
from projects.briefs.permissions import can_decide_bid
from projects.briefs.services import B, _locked_bid, _locked_project, _reject_open_bids
from projects.briefs.states import BID_STATES, PROJECT_STATES
from projects.contracts import notifications as notices
from projects.contracts.models import Contract, Delivery, Dispute, Milestone
from projects.contracts.permissions import is_contract_company, is_contract_student
from projects.contracts.policies import WORK_GOES_ON, milestone_money_held
from projects.contracts.selectors import TRACK_RECORD_FIELDS, student_track_records
from projects.contracts.states import CONTRACT_STATES, MILESTONE_STATES
from schools.selectors import verification_active_for

logger = logging.getLogger(__name__)


P = Project.Status


W = Milestone.WorkStatus


C = Contract.Status


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
    bid.decided_at = timezone.now()
    BID_STATES.transition(bid, B.ACCEPTED, actor=by, update_fields=["decided_at"])
    PROJECT_STATES.transition(project, P.IN_PROGRESS, actor=by)
    _reject_open_bids(project, by=by, keep=bid)
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


def milestone_lock(milestone_id: int) -> Milestone:
    milestone = (
        Milestone.objects.select_for_update(of=("self",))
        .select_related("contract", "escrow")
        .filter(pk=milestone_id)
        .first()
    )
    if milestone is None:
        raise NotFound("No such milestone.")
    return milestone


def milestone_fund(
    *, milestone_id: int, by: User, payment_method: str | None = None
) -> FundingResult:
    """The company pays a milestone into escrow (amount + fee); see `escrow_fund`.

    The contract must be active; that is checked again with the escrow row
    locked (the lock `contract_cancel` also takes), before Stripe is called and
    when its answer is recorded, so a cancellation and a payment that race
    never leave money in a cancelled contract: a payment that went through
    meanwhile is refunded at once and the answer is a StateConflict.
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


def _check_money_held(milestone: Milestone, refusal: str) -> None:
    """Raise StateConflict unless the work of `milestone` may move (`milestone_money_held`).

    The policy's rule, read under the milestone's lock: its contract goes on
    (not completed or cancelled) and its money is funded, not frozen by a
    dispute and not on its way out (e.g. settled by a dispute's split).
    """
    if milestone.contract.status not in WORK_GOES_ON:
        raise StateConflict(f"This contract is {milestone.contract.status}.")
    if not milestone_money_held(milestone):
        raise StateConflict(refusal)


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
    milestone = milestone_lock(milestone_id)
    if not is_contract_student(by, milestone.contract):
        raise PermissionDenied("Only the student of this contract delivers.")
    _check_money_held(milestone, "Deliver once the milestone is funded and still held in escrow.")
    if not (note.strip() or url.strip() or has_files):
        raise ValidationFailed("Say what you deliver: a note, a link or files.", field="note")
    milestone.submitted_at = timezone.now()
    MILESTONE_STATES.transition(
        milestone, W.SUBMITTED, actor=by, note=note, update_fields=["submitted_at"]
    )
    delivery = Delivery.objects.create(milestone=milestone, note=note, url=url)
    notices.delivery_submitted(milestone, delivery)
    return milestone


@transaction.atomic
def milestone_request_changes(*, milestone_id: int, by: User, note: str = "") -> Milestone:
    """The company sends a delivery back with what to change.

    Raises PermissionDenied, StateConflict, and ValidationFailed (field `note`)
    when the note is blank: the student needs to know what to change.
    """
    milestone = milestone_lock(milestone_id)
    if not is_contract_company(by, milestone.contract):
        raise PermissionDenied("Only the company of this contract reviews deliveries.")
    MILESTONE_STATES.check(milestone, W.CHANGES_REQUESTED)  # a wrong state is a 409 first
    _check_money_held(
        milestone, "Ask for changes while the milestone's money is held in escrow, not frozen."
    )
    if not note.strip():
        raise ValidationFailed("Say what should change.", field="note")
    event = MILESTONE_STATES.transition(milestone, W.CHANGES_REQUESTED, actor=by, note=note)
    notices.changes_requested(milestone, note, event.pk)
    return milestone


def contract_complete_if_settled(contract: Contract, *, by: User | None = None) -> bool:
    """Complete the contract and its brief once every escrow is released or refunded.

    `by` is who made the last move (None: the platform, e.g. a webhook or a late transfer).
    Returns whether the contract completed now.
    """
    open_escrows = Escrow.objects.filter(milestone__contract=contract).exclude(
        status__in=[Escrow.Status.RELEASED, Escrow.Status.REFUNDED]
    )
    if open_escrows.exists():
        return False
    contract.completed_at = timezone.now()
    CONTRACT_STATES.transition(contract, C.COMPLETED, actor=by, update_fields=["completed_at"])
    project = Project.objects.select_for_update().get(pk=contract.project_id)
    PROJECT_STATES.transition(project, P.COMPLETED, actor=by)
    student_track_record_refresh(student_ids=[contract.student_id])
    return True


def milestone_approve(
    *,
    milestone_id: int,
    by: User | None,
    guard: Callable[[Milestone], None] | None = None,
) -> Milestone:
    """The company accepts a delivery; the escrow is released to the student.

    If the student's payout account is not ready the money waits
    (`escrow_status=release_pending`) and goes out when it is. The milestone row
    is locked, so concurrent approvals release once. `by=None` is the
    platform's own approval (auto-release); `guard(milestone)`, called under
    that lock, may refuse it (StateConflict).

    Three steps (`payments.services.escrow`): the work is approved and the
    escrow's release asked for (release_pending) in one transaction; the
    transfer is made once that committed, with no transaction open, and
    recorded; then the student is told and a finished contract completes. A
    transfer that fails, or whose answer is never recorded, leaves the escrow
    release_pending: the scheduled retry pays it under the same key.
    """
    milestone = _milestone_approve_locked(milestone_id=milestone_id, by=by, guard=guard)
    milestone.escrow = escrow_release_send(escrow_id=milestone.escrow_id, actor=by)
    with transaction.atomic():
        notices.money_released(milestone, automatic=by is None)
        contract = Contract.objects.select_for_update().get(pk=milestone.contract_id)
        if CONTRACT_STATES.can(contract, C.COMPLETED):  # the retry may have completed it
            contract_complete_if_settled(contract, by=by)
        student_track_record_refresh(student_ids=[milestone.contract.student_id])
    return milestone


@transaction.atomic
def _milestone_approve_locked(
    *, milestone_id: int, by: User | None, guard: Callable[[Milestone], None] | None
) -> Milestone:
    """Step 1 of `milestone_approve`: the work approved and the release asked for, committed."""
    milestone = milestone_lock(milestone_id)
    if by is not None and not is_contract_company(by, milestone.contract):
        raise PermissionDenied("Only the company of this contract approves deliveries.")
    if guard is not None:
        guard(milestone)
    MILESTONE_STATES.check(milestone, W.APPROVED)  # a wrong state is a 409 first
    _check_money_held(
        milestone, "Approve while the milestone's money is held in escrow, not frozen."
    )
    milestone.approved_at = timezone.now()
    MILESTONE_STATES.transition(milestone, W.APPROVED, actor=by, update_fields=["approved_at"])
    milestone.escrow = escrow_release_request(escrow_id=milestone.escrow_id, actor=by)
    return milestone


def milestones_released_late(*, escrow_ids: list[int]) -> None:
    """Money that waited went out: tell the students and complete finished contracts.

    The payments app's late-release listener (registered with
    `payment_events_register`): it calls this once per release that did not
    happen in the approval itself (the retry, staff's retry, a payout account
    becoming ready), after the release committed.
    """
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

    Contracts whose last milestone was waiting on this account complete then
    (`milestones_released_late`, told by the payments app). Raises
    PermissionDenied for a non-student.
    """
    if user.role != User.Role.STUDENT:
        raise PermissionDenied("Only students receive payouts.")
    return payout_account_onboard(user=user, country=country)


def student_payouts_refresh(*, user: User) -> PayoutAccount | None:
    """Ask the gateway again whether the student's payout account can be paid (the return page).

    When it just became ready, the money waiting for it goes out, the student
    is told and finished contracts complete (`milestones_released_late`, told
    by the payments app). Returns the account, or None when the student has
    none. Raises TransientError when the gateway cannot answer.
    """
    return payout_account_refresh(user=user)


def milestone_releases_retry(
    *, escrow_ids: Sequence[int] | None = None, by: User | None = None
) -> int:
    """Retry the transfers of approved milestones not paid yet, then complete finished contracts.

    For the scheduled task (no `by`), or for staff (`by`), with `escrow_ids`
    only those escrows: safe to run any number of times (each transfer has
    its idempotency key). A staff retry audits each transfer it sends
    (`transfer.retry`); the scheduled one is the system's and is not
    audited. The students are told and contracts completed by
    `milestones_released_late`. Returns how many escrows were released.
    Raises PermissionDenied when `by` is not staff.
    """
    if by is not None and not by.is_staff:
        raise PermissionDenied("Only the platform's staff retry transfers.")
    return len(escrow_retry_pending_releases(escrow_ids=escrow_ids, actor=by))


def contract_cancel(*, contract_id: int, by: User, reason: str) -> Contract:
    """The company cancels a contract before any delivery: every funded milestone is refunded.

    "Cancel before delivery: full refund": each milestone whose money is held
    (`funded`) is refunded in full, fee included (key `escrow-<id>-refund`);
    unfunded milestones are simply never paid. The contract becomes
    `cancelled`, its brief `cancelled`, and the student is told why and how
    much goes back to the company.

    Allowed only to the members of the contract's company, and only while the
    contract is active, no milestone was delivered (submitted, sent back for
    changes or approved), no money was released or is waiting to be, and no
    dispute is open. The milestone rows, then the escrow rows, then the
    contract are locked (the order approvals and disputes use), so a delivery,
    an approval, a dispute, a payment or another cancellation racing with this
    one waits, then sees the cancelled contract; each escrow is refunded at
    most once, so refunds never exceed what was charged.

    Two steps (`payments.services.escrow`): the cancellation and each refund's
    intent (escrow funded → refund_pending) commit together under those locks;
    then the refunds are asked of Stripe with no transaction open and recorded.
    A refund the gateway refuses or fails for now keeps its escrow
    refund_pending with the error (`last_error`): the cancellation stands and
    the scheduled retry (`escrow_retry_pending_refunds`) refunds it under the
    same key.

    Raises NotFound, PermissionDenied for anyone but the company's members,
    ValidationFailed (field `reason`) without a reason and StateConflict in any
    other state.
    """
    contract, refunds = _contract_cancel_locked(contract_id=contract_id, by=by, reason=reason)
    for escrow_id in refunds:
        escrow_refund_send(
            escrow_id=escrow_id, actor=by, note=f"Contract cancelled: {reason.strip()}"
        )
    return contract


@transaction.atomic
def _contract_cancel_locked(
    *, contract_id: int, by: User, reason: str
) -> tuple[Contract, list[int]]:
    """Step 1 of `contract_cancel`: checks, the cancellation, the refunds asked for.

    Returns the contract and the ids of the escrows to refund.
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
    refunds = []
    for milestone in milestones:
        escrow = escrows[milestone.escrow_id]
        if escrow.status == Escrow.Status.FUNDED:
            escrow_refund_request(
                escrow_id=escrow.pk, actor=by, note=f"Contract cancelled: {reason}"
            )
        if escrow.status in (Escrow.Status.FUNDED, Escrow.Status.REFUND_PENDING):
            refunds.append(escrow.pk)
            refunded += escrow.charge_cents
    # When the contract ended, completed or cancelled: the review window counts from it.
    contract.completed_at = timezone.now()
    CONTRACT_STATES.transition(
        contract, C.CANCELLED, actor=by, note=reason, update_fields=["completed_at"]
    )
    project = Project.objects.select_for_update().get(pk=contract.project_id)
    PROJECT_STATES.transition(project, P.CANCELLED, actor=by, note=reason)
    student_track_record_refresh(student_ids=[contract.student_id])
    notices.contract_cancelled(contract, reason=reason, refunded_cents=refunded)
    logger.info(
        "contract.cancelled", extra={"contract_id": contract.pk, "refunded_cents": refunded}
    )
    return contract, refunds


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
