"""Writes of the work: briefs, bids, contracts and milestones.

Each function takes the acting user, checks the role (PermissionDenied → 403),
locks the row it moves, refuses illegal transitions (StateConflict → 409) and
calls the payments app for every movement of money."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplace.errors import NotFound, PermissionDenied, StateConflict, ValidationFailed
from marketplace.models import Skill, User
from marketplace.money import SUPPORTED_CURRENCIES, amount_check
from marketplace.privacy import user_lock_active
from marketplace.selectors import user_company
from projects.briefs import notifications as notices
from projects.briefs.models import Bid, Project
from projects.briefs.permissions import can_decide_bid, can_manage_project
from projects.briefs.states import BID_STATES, PROJECT_STATES
from schools.models import School
from schools.selectors import verification_active_for, verified_school_ids_of

logger = logging.getLogger(__name__)


P = Project.Status


B = Bid.Status


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
    project.published_at = timezone.now()
    PROJECT_STATES.transition(project, P.OPEN, actor=by, update_fields=["published_at"])
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
    PROJECT_STATES.transition(project, P.CANCELLED, actor=by)
    _reject_open_bids(project, by=by)
    return project


def _reject_open_bids(project: Project, *, by: User | None, keep: Bid | None = None) -> None:
    """Reject the brief's bids still open (all but `keep`), with one event row each."""
    pending = project.bids.select_for_update().filter(status__in=BID_STATES.sources(B.REJECTED))
    if keep is not None:
        pending = pending.exclude(pk=keep.pk)
    bids = list(pending.order_by("pk"))
    now = timezone.now()
    for bid in bids:
        bid.decided_at = now
    BID_STATES.transition_many(bids, B.REJECTED, actor=by, update_fields=["decided_at"])
    notices.bids_rejected(project, [bid.pk for bid in bids])


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
    # The bidder's row first: an erasure holding it finishes before, and this bid is refused.
    user_lock_active(user_id=by.pk)
    if verification_active_for(user=by) is None:
        raise PermissionDenied("Only verified students can bid; ask your school to verify you.")
    project = _locked_project(project_id)
    # Whatever its status now, a brief restricted to other schools stays hidden (404, not 409).
    meant_for_me = Project.objects.for_schools(verified_school_ids_of(user=by))
    if project.status == P.DRAFT or not meant_for_me.filter(pk=project.pk).exists():
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
    bid.decided_at = timezone.now()
    BID_STATES.transition(bid, B.WITHDRAWN, actor=by, update_fields=["decided_at"])
    return bid


@transaction.atomic
def bid_shortlist(*, bid_id: int, by: User) -> Bid:
    """The company keeps a submitted bid for a closer look."""
    bid = _locked_bid(bid_id)
    if not can_decide_bid(by, bid):
        raise PermissionDenied("Only the company that posted the brief decides on its bids.")
    BID_STATES.transition(bid, B.SHORTLISTED, actor=by)
    return bid


@transaction.atomic
def bid_reject(*, bid_id: int, by: User) -> Bid:
    """The company declines a bid."""
    bid = _locked_bid(bid_id)
    if not can_decide_bid(by, bid):
        raise PermissionDenied("Only the company that posted the brief decides on its bids.")
    bid.decided_at = timezone.now()
    BID_STATES.transition(bid, B.REJECTED, actor=by, update_fields=["decided_at"])
    notices.bids_rejected(bid.project, [bid.pk])
    return bid
