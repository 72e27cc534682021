"""Reads of briefs, bids and contracts, always scoped to who is asking.

Object-level rules live here because DRF's object permissions never run on
list routes: a company sees its own briefs, bids and contracts; a student sees
open briefs meant for them, their own bids and contracts; a coordinator sees
open briefs meant for their school; staff see everything.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from marketplace.errors import PermissionDenied
from marketplace.models import StudentProfile, User
from marketplace.selectors import user_company_id
from payments.models import Escrow, LedgerEntry
from payments.selectors import ledger_entries_for_escrows
from payments.services.ledger import student_account
from projects.models import Bid, Contract, Dispute, Milestone, Project
from schools.models import EnrolmentVerification, School
from schools.selectors import (
    coordinator_school_id,
    verifications_in_force_for_school,
    verified_school_ids_of,
)

P = Project.Status


def _open_for_schools(school_ids: list[int]) -> Q:
    # Subqueries rather than joins: no duplicate rows to remove, and the planner keeps
    # using the status index on a large table.
    restricted = Project.allowed_schools.through.objects.filter(school_id__in=school_ids)
    return Q(status=P.OPEN) & (
        Q(visibility=Project.Visibility.ALL) | Q(pk__in=restricted.values("project_id"))
    )


def project_visible_to(*, user: User) -> QuerySet[Project]:
    """Briefs the user may see (see the module docstring), without duplicates."""
    qs = Project.objects.all()
    if user.is_staff:
        return qs
    company_id = user_company_id(user=user)
    if company_id is not None:
        return qs.filter(
            Q(company_id=company_id) | Q(status=P.OPEN, visibility=Project.Visibility.ALL)
        )
    if user.role == User.Role.STUDENT:
        school_ids = verified_school_ids_of(user=user)
        bid_on = Bid.objects.filter(student=user).values("project_id")
        return qs.filter(_open_for_schools(school_ids) | Q(pk__in=bid_on))
    school_id = coordinator_school_id(user=user)
    if school_id is not None:
        return qs.filter(_open_for_schools([school_id]))
    return qs.filter(status=P.OPEN, visibility=Project.Visibility.ALL)


def project_list(*, user: User) -> QuerySet[Project]:
    """Visible briefs with what a list shows, fetched in a constant number of queries."""
    bids = (
        Bid.objects.filter(project=OuterRef("pk"))
        .order_by()
        .values("project")
        .annotate(n=Count("pk"))
        .values("n")
    )
    # A subquery, not a join and GROUP BY: PostgreSQL computes it for the page's rows only,
    # and count() leaves it out.
    return (
        project_visible_to(user=user)
        .select_related("company")
        .prefetch_related("skills", "allowed_schools")
        .annotate(bid_count=Coalesce(Subquery(bids, output_field=IntegerField()), 0))
        .order_by("-created_at", "-id")
    )


def bid_visible_to(*, user: User) -> QuerySet[Bid]:
    """Bids the user may see: their own, or those on their company's briefs."""
    qs = Bid.objects.select_related("project", "student")
    if user.is_staff:
        return qs
    company_id = user_company_id(user=user)
    if company_id is not None:
        return qs.filter(project__company_id=company_id)
    if user.role == User.Role.STUDENT:
        return qs.filter(student=user)
    return qs.none()


def bid_list_for_project(*, project: Project, user: User) -> QuerySet[Bid]:
    return bid_visible_to(user=user).filter(project=project).order_by("-created_at", "-id")


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
    """Visible contracts with milestones, deliveries, history and disputes, in constant queries."""
    milestones = (
        Milestone.objects.select_related("escrow")
        .prefetch_related(*MILESTONE_DETAILS)
        .order_by("position")
    )
    return (
        contract_visible_to(user=user)
        .select_related("project", "company", "student")
        .prefetch_related(Prefetch("milestones", queryset=milestones))
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


def marketplace_stats() -> dict[str, int]:
    """Headline counts for the landing page."""
    return {
        "open_briefs": Project.objects.filter(status=P.OPEN).count(),
        "verified_students": EnrolmentVerification.objects.filter(
            status=EnrolmentVerification.Status.VERIFIED, graduation_date__gte=timezone.localdate()
        )
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


def student_list_for(*, user: User) -> QuerySet[StudentProfile]:
    """Student profiles a company member or staff may browse, with `rating_hundredths`.

    Company members see the students verified today (as on a student's public
    profile); staff see every active student. `rating_hundredths` is the
    average public rating × 100 rounded down (NULL without reviews), for sorting.
    Raises PermissionDenied for students and coordinators.
    """
    if not user.is_staff and user_company_id(user=user) is None:
        raise PermissionDenied("Only companies and staff browse students.")
    qs = StudentProfile.objects.filter(user__is_active=True, user__role=User.Role.STUDENT)
    if not user.is_staff:
        in_force = EnrolmentVerification.objects.filter(
            status=EnrolmentVerification.Status.VERIFIED,
            graduation_date__gte=timezone.localdate(),
        ).values("student_id")
        qs = qs.filter(user_id__in=in_force)
    return (
        qs.select_related("user")
        .prefetch_related("skills")
        .annotate(
            rating_hundredths=Case(
                When(review_count__gt=0, then=F("rating_total") * 100 / F("review_count")),
                default=None,
                output_field=IntegerField(),
            )
        )
    )
