"""Reads of briefs, bids and contracts, always scoped to who is asking.

Object-level rules live here because DRF's object permissions never run on
list routes: a company sees its own briefs, bids and contracts; a student sees
open briefs meant for them, their own bids and contracts; a coordinator sees
open briefs meant for their school; staff see everything."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import (
    Count,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce, TruncDate

from marketplace.models import User
from marketplace.selectors import user_company_id
from payments.models import Escrow, LedgerEntry
from payments.selectors import ledger_entries_for_escrows
from payments.services.ledger import student_account
from projects.briefs.models import Project
from projects.contracts.models import Contract, Dispute, Milestone
from projects.contracts.policies import contract_action_prefetches
from schools.models import EnrolmentVerification, School
from schools.selectors import (
    verifications_in_force_for_school,
)

P = Project.Status


def contract_visible_to(*, user: User) -> QuerySet[Contract]:
    """Contracts where the user is a party (their company or themself), or all for staff."""
    qs = Contract.objects.all()
    if user.is_staff:
        return qs
    company_id = user_company_id(user=user)
    if company_id is not None:
        return qs.filter(company_id=company_id)
    if user.role == User.Role.STUDENT:
        return qs.filter(student=user)
    return qs.none()


MILESTONE_DETAILS = ("deliveries__files", "events", "disputes")


def contract_list(*, user: User) -> QuerySet[Contract]:
    """Visible contracts with milestones, deliveries, history and disputes, in constant queries.

    Also what the registered contract actions read (`contract_action_prefetches`:
    the reviews' sides), so `contract_actions` asks nothing more per row.
    """
    milestones = (
        Milestone.objects.select_related("escrow")
        .prefetch_related(*MILESTONE_DETAILS)
        .order_by("position")
    )
    return (
        contract_visible_to(user=user)
        .select_related("project", "company", "student")
        .prefetch_related(Prefetch("milestones", queryset=milestones))
        .prefetch_related(*contract_action_prefetches())
        .order_by("-created_at", "-id")
    )


def milestone_visible_to(*, user: User) -> QuerySet[Milestone]:
    return (
        Milestone.objects.select_related("escrow", "contract")
        .prefetch_related(*MILESTONE_DETAILS)
        .filter(contract__in=contract_visible_to(user=user))
    )


def dispute_list_open() -> QuerySet[Dispute]:
    """Open disputes, oldest first, for staff."""
    return (
        Dispute.objects.filter(status=Dispute.Status.OPEN)
        .select_related("milestone__escrow", "milestone__contract__project", "opened_by")
        .order_by("created_at", "id")
    )


def contract_ledger_entries(*, contract: Contract) -> QuerySet[LedgerEntry]:
    """Every ledger entry of the contract's milestones, oldest first; they sum to zero."""
    escrow_ids = Escrow.objects.filter(milestone__contract=contract).values_list("pk", flat=True)
    return ledger_entries_for_escrows(escrow_ids=escrow_ids)


def milestone_status(milestone: Milestone) -> str:
    """The API's single milestone state, from the work's status and the escrow's.

    pending (not funded) → funded → submitted ⇄ changes_requested → released,
    or refunded; disputed while a dispute freezes the money. An approved
    milestone whose payee cannot be paid yet stays `submitted` with
    `escrow_status=release_pending`.
    """
    escrow_status = milestone.escrow.status
    if escrow_status == Escrow.Status.AWAITING_FUNDING:
        return "pending"
    if escrow_status in (Escrow.Status.RELEASED, Escrow.Status.REFUNDED):
        return escrow_status
    if escrow_status == Escrow.Status.FROZEN:
        return "disputed"
    work = milestone.work_status
    if work == Milestone.WorkStatus.PENDING:
        return "funded"
    if work == Milestone.WorkStatus.CHANGES_REQUESTED:
        return "changes_requested"
    return "submitted"


def milestone_progress(milestone: Milestone) -> str:
    """The milestone's state as the web pages show it: `milestone_status`, except that money
    approved or refunded but not sent yet reads `release_pending` or `refund_pending`.

    The API keeps its published states (`submitted` with `escrow_status=release_pending`);
    a person reading a page needs to know that the company's part is done.
    """
    if milestone.escrow.status in (Escrow.Status.RELEASE_PENDING, Escrow.Status.REFUND_PENDING):
        return milestone.escrow.status
    return milestone_status(milestone)


def marketplace_stats() -> dict[str, int]:
    """Headline counts for the landing page."""
    return {
        "open_briefs": Project.objects.filter(status=P.OPEN).count(),
        "verified_students": EnrolmentVerification.objects.in_force()
        .values("student")
        .distinct()
        .count(),
        "schools": School.objects.count(),
        "completed_contracts": Contract.objects.filter(status=Contract.Status.COMPLETED).count(),
    }


def school_students_report(*, school_id: int) -> QuerySet[EnrolmentVerification]:
    """The school's verified students with `completed_contracts` annotated (one query).

    Earnings come from `student_earnings` for the rows shown.
    """
    completed = (
        Contract.objects.filter(student=OuterRef("student_id"), status=Contract.Status.COMPLETED)
        .order_by()
        .values("student")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return verifications_in_force_for_school(school_id=school_id).annotate(
        completed_contracts=Coalesce(Subquery(completed, output_field=IntegerField()), 0)
    )


def student_earnings(*, student_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """What each student was paid, per currency, in minor units: `{user_id: {"EUR": 12300}}`.

    Read from the ledger (`student:<id>` accounts), in one query.
    """
    accounts = {student_account(pk): pk for pk in student_ids}
    totals: dict[int, dict[str, int]] = {pk: {} for pk in accounts.values()}
    rows = (
        LedgerEntry.objects.filter(account__in=list(accounts))
        .values("account", "currency")
        .annotate(total=Sum("amount_cents"))
        .order_by("account", "currency")
    )
    for row in rows:
        if row["total"]:
            totals[accounts[row["account"]]][row["currency"]] = row["total"]
    return totals


@dataclass
class TrackRecord:
    """A student's work record: completed contracts, and approved milestones with a due date
    (`timed_milestones`) of which `on_time_milestones` were delivered by it."""

    completed_contracts: int = 0
    timed_milestones: int = 0
    on_time_milestones: int = 0


TRACK_RECORD_FIELDS = ("completed_contracts", "timed_milestones", "on_time_milestones")


def student_track_records(*, student_ids: Iterable[int]) -> dict[int, TrackRecord]:
    """Each student's TrackRecord, in two queries whatever their number.

    A milestone is on time when its accepted delivery (`submitted_at`, the last
    hand-in before approval) fell on or before its due date, in the site's time
    zone. Cancelled contracts count in neither figure.
    """
    ids = list(student_ids)
    out = {pk: TrackRecord() for pk in ids}
    if not ids:
        return out
    contracts = (
        Contract.objects.filter(student_id__in=ids, status=Contract.Status.COMPLETED)
        .values("student_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in contracts:
        out[row["student_id"]].completed_contracts = row["n"]
    timed = (
        Milestone.objects.filter(
            contract__student_id__in=ids,
            work_status=Milestone.WorkStatus.APPROVED,
            due_date__isnull=False,
            submitted_at__isnull=False,
        )
        .exclude(contract__status=Contract.Status.CANCELLED)
        .annotate(delivered_on=TruncDate("submitted_at"))
        .values("contract__student_id")
        .annotate(timed=Count("pk"), on_time=Count("pk", filter=Q(delivered_on__lte=F("due_date"))))
        .order_by()
    )
    for row in timed:
        record = out[row["contract__student_id"]]
        record.timed_milestones = row["timed"]
        record.on_time_milestones = row["on_time"]
    return out
