"""Writes of the work: briefs, bids, contracts and milestones.

Each function takes the acting user, checks the role (PermissionDenied → 403),
locks the row it moves, refuses illegal transitions (StateConflict → 409) and
calls the payments app for every movement of money.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplace.errors import NotFound, PermissionDenied, StateConflict, ValidationFailed
from marketplace.models import Skill, User
from marketplace.money import SUPPORTED_CURRENCIES, Money, amount_check
from marketplace.selectors import user_company
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
from projects import notices
from projects.models import Bid, Contract, Delivery, Dispute, Milestone, MilestoneEvent, Project
from projects.permissions import (
    can_decide_bid,
    can_manage_project,
    is_contract_company,
    is_contract_student,
)
from projects.reviews import student_stats_refresh
from schools.models import School
from schools.selectors import verification_active_for

logger = logging.getLogger(__name__)

P = Project.Status
B = Bid.Status
W = Milestone.WorkStatus

PROJECT_TRANSITIONS: dict[str, set[str]] = {
    P.DRAFT: {P.OPEN, P.CANCELLED},
    P.OPEN: {P.IN_PROGRESS, P.CANCELLED},
    P.IN_PROGRESS: {P.COMPLETED, P.CANCELLED},
    P.COMPLETED: set(),
    P.CANCELLED: set(),
}
BID_TRANSITIONS: dict[str, set[str]] = {
    B.SUBMITTED: {B.SHORTLISTED, B.ACCEPTED, B.REJECTED, B.WITHDRAWN},
    B.SHORTLISTED: {B.ACCEPTED, B.REJECTED, B.WITHDRAWN},
    B.ACCEPTED: set(),
    B.REJECTED: set(),
    B.WITHDRAWN: set(),
}
WORK_TRANSITIONS: dict[str, set[str]] = {
    W.PENDING: {W.SUBMITTED},
    W.SUBMITTED: {W.APPROVED, W.CHANGES_REQUESTED},
    W.CHANGES_REQUESTED: {W.SUBMITTED},
    W.APPROVED: set(),
}
EDITABLE_PROJECT_FIELDS = {
    "title",
    "description",
    "category",
    "budget_cents",
    "currency",
    "deadline",
    "kind",
    "visibility",
}


def _move(obj: Project | Bid, to: str, table: dict[str, set[str]], what: str) -> None:
    if to not in table[obj.status]:
        raise StateConflict(f"This {what} is {obj.status} and cannot become {to}.")
    obj.status = to


def _skills_from_slugs(slugs: Sequence[str]) -> list[Skill]:
    found = list(Skill.objects.filter(slug__in=set(slugs)))
    missing = sorted(set(slugs) - {s.slug for s in found})
    if missing:
        raise ValidationFailed(f"Unknown skills: {', '.join(missing)}.", field="skills")
    return found


def _schools_from_ids(ids: Sequence[int]) -> list[School]:
    found = list(School.objects.filter(pk__in=set(ids)))
    missing = sorted(set(ids) - {s.pk for s in found})
    if missing:
        raise ValidationFailed(f"Unknown schools: {missing}.", field="allowed_schools")
    return found


def _check_project_values(fields: dict[str, object], *, currency: str) -> None:
    if currency not in SUPPORTED_CURRENCIES:
        raise ValidationFailed("Unsupported currency.", field="currency")
    if "budget_cents" in fields:
        budget = int(fields["budget_cents"] or 0)  # type: ignore[call-overload]
        amount_check(budget, currency, field="budget_cents", one_charge=False)
    deadline = fields.get("deadline")
    if isinstance(deadline, dt.date) and deadline < timezone.localdate():
        raise ValidationFailed("The deadline is in the past.", field="deadline")


@transaction.atomic
def project_create(
    *,
    by: User,
    title: str,
    description: str,
    budget_cents: int,
    currency: str = "EUR",
    category: str = Project.Category.OTHER,
    kind: str = Project.Kind.PROJECT,
    visibility: str = Project.Visibility.ALL,
    deadline: dt.date | None = None,
    skills: Sequence[str] = (),
    allowed_schools: Sequence[int] = (),
) -> Project:
    """Draft a brief for the user's company. Amounts in minor units of `currency`.

    Raises PermissionDenied unless the user belongs to a company, and
    ValidationFailed (field named) for unknown skills or schools.
    """
    company = user_company(user=by)
    if company is None:
        raise PermissionDenied("Only company members can post briefs.")
    _check_project_values({"budget_cents": budget_cents, "deadline": deadline}, currency=currency)
    project = Project.objects.create(
        company=company,
        created_by=by,
        title=title,
        description=description,
        budget_cents=budget_cents,
        currency=currency,
        category=category,
        kind=kind,
        visibility=visibility,
        deadline=deadline,
    )
    project.skills.set(_skills_from_slugs(skills))
    project.allowed_schools.set(_schools_from_ids(allowed_schools))
    return project


def _locked_project(project_id: int) -> Project:
    project = Project.objects.select_for_update().filter(pk=project_id).first()
    if project is None:
        raise NotFound("No such brief.")
    return project


@transaction.atomic
def project_update(
    *,
    project_id: int,
    by: User,
    skills: Sequence[str] | None = None,
    allowed_schools: Sequence[int] | None = None,
    **fields: object,
) -> Project:
    """Edit a draft or open brief of the user's company.

    Raises StateConflict once work started or when the currency would change
    under existing bids, and ValidationFailed when an open brief would be
    restricted to no school (nobody could see it).
    """
    project = _locked_project(project_id)
    if not can_manage_project(by, project):
        raise PermissionDenied("Only the company that posted this brief can edit it.")
    if project.status not in (P.DRAFT, P.OPEN):
        raise StateConflict(f"A brief that is {project.status} can no longer be edited.")
    unknown = set(fields) - EDITABLE_PROJECT_FIELDS
    if unknown:
        raise ValidationFailed("This field cannot be changed.", field=sorted(unknown)[0])
    currency = str(fields.get("currency", project.currency))
    _check_project_values(fields, currency=currency)
    if currency != project.currency and project.bids.exists():
        raise StateConflict("Students already bid in this currency; it can no longer change.")
    for name, value in fields.items():
        setattr(project, name, value)
    project.save()
    if skills is not None:
        project.skills.set(_skills_from_slugs(skills))
    if allowed_schools is not None:
        project.allowed_schools.set(_schools_from_ids(allowed_schools))
    restricted = project.visibility == Project.Visibility.SCHOOLS
    if project.status == P.OPEN and restricted and not project.allowed_schools.exists():
        raise ValidationFailed(
            "Choose at least one school for a restricted brief.", field="allowed_schools"
        )
    return project


@transaction.atomic
def project_publish(*, project_id: int, by: User) -> Project:
    """Open a draft brief to bids. A school-restricted brief needs at least one school."""
    project = _locked_project(project_id)
    if not can_manage_project(by, project):
        raise PermissionDenied("Only the company that posted this brief can publish it.")
    if project.visibility == Project.Visibility.SCHOOLS and not project.allowed_schools.exists():
        raise ValidationFailed(
            "Choose at least one school for a restricted brief.", field="allowed_schools"
        )
    if project.deadline is not None and project.deadline < timezone.localdate():
        raise ValidationFailed("The deadline has passed.", field="deadline")
    _move(project, P.OPEN, PROJECT_TRANSITIONS, "brief")
    project.published_at = timezone.now()
    project.save(update_fields=["status", "published_at"])
    return project


@transaction.atomic
def project_cancel(*, project_id: int, by: User) -> Project:
    """Cancel a draft or open brief; its pending bids are rejected.

    Raises StateConflict once a bid was accepted: the contract governs the
    money then, and `contract_cancel` cancels both.
    """
    project = _locked_project(project_id)
    if not can_manage_project(by, project):
        raise PermissionDenied("Only the company that posted this brief can cancel it.")
    if project.status == P.IN_PROGRESS:
        raise StateConflict("Work on this brief started: cancel its contract instead.")
    _move(project, P.CANCELLED, PROJECT_TRANSITIONS, "brief")
    project.save(update_fields=["status"])
    _reject_open_bids(project)
    return project


def _reject_open_bids(project: Project, *, keep: Bid | None = None) -> None:
    pending = project.bids.filter(status__in=[B.SUBMITTED, B.SHORTLISTED])
    if keep is not None:
        pending = pending.exclude(pk=keep.pk)
    ids = list(pending.values_list("pk", flat=True))
    Bid.objects.filter(pk__in=ids).update(status=B.REJECTED, decided_at=timezone.now())
    notices.bids_rejected(project, ids)


def _can_see_restricted(project: Project, student: User) -> bool:
    if project.visibility == Project.Visibility.ALL:
        return True
    verification = verification_active_for(user=student)
    return (
        verification is not None
        and project.allowed_schools.filter(pk=verification.school_id).exists()
    )


@transaction.atomic
def bid_submit(
    *, project_id: int, by: User, amount_cents: int, estimated_days: int, cover_letter: str
) -> Bid:
    """A verified student bids on an open brief, in the brief's currency (minor units).

    Raises PermissionDenied for a non-student or an unverified one, NotFound
    for a brief the student may not see, StateConflict for a brief not open or
    a second bid, and ValidationFailed for a non-positive amount or duration.
    """
    if by.role != User.Role.STUDENT:
        raise PermissionDenied("Only students can bid.")
    if verification_active_for(user=by) is None:
        raise PermissionDenied("Only verified students can bid; ask your school to verify you.")
    project = _locked_project(project_id)
    if not _can_see_restricted(project, by) or project.status == P.DRAFT:
        raise NotFound("No such brief.")
    if project.status != P.OPEN:
        raise StateConflict(f"This brief is {project.status}; it takes no bids.")
    amount_check(amount_cents, project.currency, field="amount_cents", one_charge=False)
    if estimated_days <= 0:
        raise ValidationFailed("The estimate must be at least one day.", field="estimated_days")
    if Bid.objects.filter(project=project, student=by).exists():
        raise StateConflict("You already bid on this brief.")
    try:
        with transaction.atomic():
            bid = Bid.objects.create(
                project=project,
                student=by,
                amount_cents=amount_cents,
                currency=project.currency,
                estimated_days=estimated_days,
                cover_letter=cover_letter,
            )
            notices.bid_submitted(bid)
            return bid
    except IntegrityError as exc:
        raise StateConflict("You already bid on this brief.") from exc


def _locked_bid(bid_id: int) -> Bid:
    bid = (
        Bid.objects.select_for_update(of=("self",))
        .select_related("project")
        .filter(pk=bid_id)
        .first()
    )
    if bid is None:
        raise NotFound("No such bid.")
    return bid


@transaction.atomic
def bid_withdraw(*, bid_id: int, by: User) -> Bid:
    """The student takes back a bid not yet decided."""
    bid = _locked_bid(bid_id)
    if bid.student_id != by.pk:
        raise PermissionDenied("Only the student who bid can withdraw.")
    _move(bid, B.WITHDRAWN, BID_TRANSITIONS, "bid")
    bid.decided_at = timezone.now()
    bid.save(update_fields=["status", "decided_at"])
    return bid


@transaction.atomic
def bid_shortlist(*, bid_id: int, by: User) -> Bid:
    """The company keeps a submitted bid for a closer look."""
    bid = _locked_bid(bid_id)
    if not can_decide_bid(by, bid):
        raise PermissionDenied("Only the company that posted the brief decides on its bids.")
    _move(bid, B.SHORTLISTED, BID_TRANSITIONS, "bid")
    bid.save(update_fields=["status"])
    return bid


@transaction.atomic
def bid_reject(*, bid_id: int, by: User) -> Bid:
    """The company declines a bid."""
    bid = _locked_bid(bid_id)
    if not can_decide_bid(by, bid):
        raise PermissionDenied("Only the company that posted the brief decides on its bids.")
    _move(bid, B.REJECTED, BID_TRANSITIONS, "bid")
    bid.decided_at = timezone.now()
    bid.save(update_fields=["status", "decided_at"])
    notices.bids_rejected(bid.project, [bid.pk])
    return bid


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
    by `projects.files.delivery_submit_with_files`); an empty one would start the
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


def _contract_settle_if_done(contract: Contract) -> None:
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
    student_stats_refresh(student_ids=[contract.student_id])


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
    _contract_settle_if_done(milestone.contract)
    student_stats_refresh(student_ids=[milestone.contract.student_id])
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
            _contract_settle_if_done(contract)


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
    student_stats_refresh(student_ids=[contract.student_id])
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
    _contract_settle_if_done(contract)
    notices.dispute_resolved(dispute)
    logger.info("dispute.resolved", extra={"dispute_id": dispute.pk})
    return dispute
