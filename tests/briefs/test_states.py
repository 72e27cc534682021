from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from marketplace.errors import StateConflict
from marketplace.models import User
from payments.services.payouts import payout_account_onboard
from projects.briefs.lifecycle import (
    verification_revoke_and_withdraw_bids,
    verifications_expire_and_withdraw_bids,
)
from projects.briefs.models import Bid, BidEvent, Project, ProjectEvent
from projects.briefs.services import (
    bid_reject,
    bid_shortlist,
    bid_submit,
    bid_withdraw,
    project_cancel,
    project_create,
    project_publish,
)
from projects.briefs.states import BID_STATES, PROJECT_STATES
from projects.contracts.services import (
    bid_accept,
    contract_cancel,
    milestone_approve,
    milestone_fund,
    milestone_submit,
)
from tests.concurrency import postgresql_only, run_at_once, tally
from tests.factories import CompanyMemberFactory, CoordinatorFactory, VerifiedStudentFactory

P = Project.Status
B = Bid.Status


@dataclass
class Move:
    """A row in its `start` state and the service call that moves it, made by `actor`."""

    obj: Project | Bid
    run: Callable[[], Any]
    actor: User | None


def _events(obj: Project | Bid) -> list[tuple[str, str, int | None]]:
    return list(obj.events.order_by("pk").values_list("from_status", "to_status", "actor_id"))


def _row(obj: Project | Bid) -> dict[str, Any]:
    return type(obj).objects.filter(pk=obj.pk).values().get()


def _draft(owner: User) -> Project:
    return project_create(
        by=owner, title="Landing page", description="A page.", budget_cents=90_000
    )


def _open(owner: User) -> Project:
    project = _draft(owner)
    return project_publish(project_id=project.pk, by=owner)


def _bid(project: Project, student: User | None = None) -> Bid:
    return bid_submit(
        project_id=project.pk,
        by=student or VerifiedStudentFactory(),
        amount_cents=90_000,
        estimated_days=5,
        cover_letter="Hi",
    )


def _cancelled(owner: User) -> Project:
    project = _open(owner)
    return project_cancel(project_id=project.pk, by=owner)


def _in_progress(owner: User) -> Project:
    project = _open(owner)
    contract = bid_accept(bid_id=_bid(project).pk, by=owner)
    payout_account_onboard(user=contract.student)
    milestone_fund(
        milestone_id=contract.milestones.get().pk, by=owner, payment_method="pm_card_visa"
    )
    return Project.objects.get(pk=project.pk)


# --- the brief ------------------------------------------------------------------------------


def _publish(owner: User) -> Move:
    project = _draft(owner)
    return Move(project, lambda: project_publish(project_id=project.pk, by=owner), owner)


def _cancel_draft(owner: User) -> Move:
    project = _draft(owner)
    return Move(project, lambda: project_cancel(project_id=project.pk, by=owner), owner)


def _cancel_open(owner: User) -> Move:
    project = _open(owner)
    return Move(project, lambda: project_cancel(project_id=project.pk, by=owner), owner)


def _accept_a_bid(owner: User) -> Move:
    project = _open(owner)
    bid = _bid(project)
    return Move(project, lambda: bid_accept(bid_id=bid.pk, by=owner), owner)


def _complete(owner: User) -> Move:
    project = _in_progress(owner)
    milestone = project.contract.milestones.get()
    milestone_submit(milestone_id=milestone.pk, by=project.contract.student, note="Done")
    return Move(project, lambda: milestone_approve(milestone_id=milestone.pk, by=owner), owner)


def _cancel_contract(owner: User) -> Move:
    project = _in_progress(owner)
    return Move(
        project,
        lambda: contract_cancel(contract_id=project.contract.pk, by=owner, reason="Budget cut"),
        owner,
    )


PROJECT_MOVES = {
    (P.DRAFT, P.OPEN): _publish,
    (P.DRAFT, P.CANCELLED): _cancel_draft,
    (P.OPEN, P.IN_PROGRESS): _accept_a_bid,
    (P.OPEN, P.CANCELLED): _cancel_open,
    (P.IN_PROGRESS, P.COMPLETED): _complete,
    (P.IN_PROGRESS, P.CANCELLED): _cancel_contract,
}


def test_a_service_makes_every_move_of_the_brief_table():
    table = {(s, to) for s in PROJECT_STATES.states for to in PROJECT_STATES.allowed(s)}
    assert set(PROJECT_MOVES) == table


@pytest.mark.django_db
@pytest.mark.parametrize(("start", "to"), sorted(PROJECT_MOVES))
def test_each_move_of_a_brief_writes_one_event(start, to):  # type: ignore[no-untyped-def]
    move = PROJECT_MOVES[start, to](CompanyMemberFactory())
    assert Project.objects.get(pk=move.obj.pk).status == start
    before = _events(move.obj)

    move.run()

    assert Project.objects.get(pk=move.obj.pk).status == to
    assert _events(move.obj) == [*before, (start, to, move.actor.pk)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make", "service", "message"),
    [
        (_open, project_publish, "This brief is open and cannot become open."),
        (_in_progress, project_publish, "This brief is in_progress and cannot become open."),
        (_cancelled, project_publish, "This brief is cancelled and cannot become open."),
        (_cancelled, project_cancel, "This brief is cancelled and cannot become cancelled."),
    ],
)
def test_a_move_the_brief_table_refuses_is_a_409_and_changes_nothing(make, service, message):  # type: ignore[no-untyped-def]
    owner = CompanyMemberFactory()
    project = make(owner)
    row, events = _row(project), ProjectEvent.objects.count()

    with pytest.raises(StateConflict) as refused:
        service(project_id=project.pk, by=owner)

    assert refused.value.status_code == 409
    assert refused.value.message == message
    assert _row(project) == row
    assert ProjectEvent.objects.count() == events


# --- the bid --------------------------------------------------------------------------------


@pytest.fixture
def owner() -> User:
    return CompanyMemberFactory()


def _submitted(owner: User) -> Bid:
    return _bid(_open(owner))


def _shortlisted(owner: User) -> Bid:
    bid = _submitted(owner)
    return bid_shortlist(bid_id=bid.pk, by=owner)


BID_SERVICES: dict[str, Callable[[Bid, User], Any]] = {
    B.SHORTLISTED: lambda bid, owner: bid_shortlist(bid_id=bid.pk, by=owner),
    B.ACCEPTED: lambda bid, owner: bid_accept(bid_id=bid.pk, by=owner),
    B.REJECTED: lambda bid, owner: bid_reject(bid_id=bid.pk, by=owner),
    B.WITHDRAWN: lambda bid, owner: bid_withdraw(bid_id=bid.pk, by=bid.student),
}
BID_STARTS = {B.SUBMITTED: _submitted, B.SHORTLISTED: _shortlisted}
BID_MOVES = sorted((start, to) for start in BID_STATES.states for to in BID_STATES.allowed(start))


def test_a_service_makes_every_move_of_the_bid_table():
    assert {start for start, _ in BID_MOVES} <= set(BID_STARTS)
    assert {to for _, to in BID_MOVES} <= set(BID_SERVICES)


@pytest.mark.django_db
@pytest.mark.parametrize(("start", "to"), BID_MOVES)
def test_each_move_of_a_bid_writes_one_event(owner, start, to):  # type: ignore[no-untyped-def]
    bid = BID_STARTS[start](owner)
    before = _events(bid)
    actor = bid.student if to == B.WITHDRAWN else owner

    BID_SERVICES[to](bid, owner)

    bid.refresh_from_db()
    assert bid.status == to
    assert _events(bid) == [*before, (start, to, actor.pk)]
    assert (bid.decided_at is not None) == (to != B.SHORTLISTED)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "to"),
    [
        (start, to)
        for start in (B.ACCEPTED, B.REJECTED, B.WITHDRAWN, B.SHORTLISTED)
        for to in (B.SHORTLISTED, B.REJECTED, B.WITHDRAWN)
        if to not in BID_STATES.allowed(start)
    ],
)
def test_a_move_the_bid_table_refuses_is_a_409_and_changes_nothing(owner, start, to):  # type: ignore[no-untyped-def]
    bid = _submitted(owner)
    BID_SERVICES[start](bid, owner)
    row, events = _row(bid), BidEvent.objects.count()

    with pytest.raises(StateConflict) as refused:
        BID_SERVICES[to](bid, owner)

    assert refused.value.status_code == 409
    assert refused.value.message == f"This bid is {start} and cannot become {to}."
    assert _row(bid) == row
    assert BidEvent.objects.count() == events


@pytest.mark.django_db
def test_accepting_a_refused_bid_is_a_409_and_changes_nothing(owner):  # type: ignore[no-untyped-def]
    project = _open(owner)
    refused_bid, other = _bid(project), _bid(project)
    bid_reject(bid_id=refused_bid.pk, by=owner)
    rows = (_row(project), _row(refused_bid), _row(other))
    events = (ProjectEvent.objects.count(), BidEvent.objects.count())

    with pytest.raises(StateConflict, match="This bid is rejected and cannot become accepted."):
        bid_accept(bid_id=refused_bid.pk, by=owner)

    assert (_row(project), _row(refused_bid), _row(other)) == rows
    assert (ProjectEvent.objects.count(), BidEvent.objects.count()) == events
    assert not hasattr(Project.objects.get(pk=project.pk), "contract")


@pytest.mark.django_db
def test_a_stale_copy_of_a_bid_cannot_move_it(owner):  # type: ignore[no-untyped-def]
    bid = _submitted(owner)
    stale = Bid.objects.get(pk=bid.pk)
    bid_withdraw(bid_id=bid.pk, by=bid.student)

    with pytest.raises(StateConflict, match="This bid is now withdrawn"), transaction.atomic():
        BID_STATES.transition(stale, B.SHORTLISTED, actor=owner)

    assert _events(bid) == [(B.SUBMITTED, B.WITHDRAWN, bid.student_id)]


# Batches: one event per bid, the same actor for all.


@pytest.mark.django_db
def test_accepting_a_bid_rejects_the_others_with_an_event_each(owner):  # type: ignore[no-untyped-def]
    project = _open(owner)
    chosen, submitted, shortlisted, withdrawn = (_bid(project) for _ in range(4))
    bid_shortlist(bid_id=shortlisted.pk, by=owner)
    bid_withdraw(bid_id=withdrawn.pk, by=withdrawn.student)

    bid_accept(bid_id=chosen.pk, by=owner)

    assert _events(chosen) == [(B.SUBMITTED, B.ACCEPTED, owner.pk)]
    assert _events(submitted) == [(B.SUBMITTED, B.REJECTED, owner.pk)]
    assert _events(shortlisted) == [
        (B.SUBMITTED, B.SHORTLISTED, owner.pk),
        (B.SHORTLISTED, B.REJECTED, owner.pk),
    ]
    assert _events(withdrawn) == [(B.SUBMITTED, B.WITHDRAWN, withdrawn.student_id)]
    assert set(Bid.objects.filter(project=project).values_list("pk", "status")) == {
        (chosen.pk, B.ACCEPTED),
        (submitted.pk, B.REJECTED),
        (shortlisted.pk, B.REJECTED),
        (withdrawn.pk, B.WITHDRAWN),
    }
    assert Bid.objects.filter(project=project, decided_at__isnull=True).count() == 0


@pytest.mark.django_db
def test_cancelling_a_brief_rejects_its_open_bids_with_an_event_each(owner):  # type: ignore[no-untyped-def]
    project = _open(owner)
    bids = [_bid(project) for _ in range(3)]

    project_cancel(project_id=project.pk, by=owner)

    assert [_events(bid) for bid in bids] == [[(B.SUBMITTED, B.REJECTED, owner.pk)]] * 3


@pytest.mark.django_db
def test_batch_rejection_reads_and_writes_the_bids_in_fixed_queries(owner):  # type: ignore[no-untyped-def]
    def bid_queries(n: int) -> list[str]:
        project = _open(owner)
        for _ in range(n):
            _bid(project)
        with CaptureQueriesContext(connection) as queries:
            project_cancel(project_id=project.pk, by=owner)
        # The notices sent per bid are not counted: only what touches the bids and their events.
        return [
            q["sql"].split(" ", 1)[0]
            for q in queries.captured_queries
            if q["sql"].startswith(('SELECT "projects_bid"', 'UPDATE "projects_bid"'))
            or q["sql"].startswith('INSERT INTO "briefs_bidevent"')
        ]

    few, more = bid_queries(2), bid_queries(6)
    assert few == more
    assert [verb for verb in few if verb != "SELECT"] == ["UPDATE", "INSERT"]


@pytest.mark.django_db
def test_a_revoked_students_bids_are_withdrawn_by_the_coordinator(owner):  # type: ignore[no-untyped-def]
    student = VerifiedStudentFactory()
    verification = student.enrolment_verifications.get()
    coordinator = CoordinatorFactory(school=verification.school).user
    submitted = _bid(_open(owner), student)
    shortlisted = _bid(_open(owner), student)
    bid_shortlist(bid_id=shortlisted.pk, by=owner)

    verification_revoke_and_withdraw_bids(
        verification_id=verification.pk, by=coordinator, reason="Left the school."
    )

    assert _events(submitted) == [(B.SUBMITTED, B.WITHDRAWN, coordinator.pk)]
    assert _events(shortlisted)[-1] == (B.SHORTLISTED, B.WITHDRAWN, coordinator.pk)
    assert set(BidEvent.objects.filter(to_status=B.WITHDRAWN).values_list("note", flat=True)) == {
        "Enrolment verification revoked."
    }


@pytest.mark.django_db
def test_expired_students_bids_are_withdrawn_by_the_platform(owner):  # type: ignore[no-untyped-def]
    student = VerifiedStudentFactory()
    bid = _bid(_open(owner), student)
    verification = student.enrolment_verifications.get()

    verifications_expire_and_withdraw_bids(today=verification.graduation_date.replace(year=9999))

    assert _events(bid) == [(B.SUBMITTED, B.WITHDRAWN, None)]


# Concurrency (PostgreSQL): one bid, two moves at once, one winner.


@pytest.fixture
def raced_bid(transactional_db):  # type: ignore[no-untyped-def]
    owner = CompanyMemberFactory()
    return owner, _submitted(owner)


@postgresql_only
def test_a_withdrawal_racing_an_acceptance_leaves_one_winner_and_one_event(raced_bid):  # type: ignore[no-untyped-def]
    owner, bid = raced_bid

    outcomes = run_at_once(
        lambda: bid_withdraw(bid_id=bid.pk, by=bid.student),
        lambda: bid_accept(bid_id=bid.pk, by=owner),
    )

    assert tally(outcomes) == {"ok": 1, "conflict": 1}
    bid.refresh_from_db()
    winner = B.WITHDRAWN if isinstance(outcomes[0], Bid) else B.ACCEPTED
    assert bid.status == winner
    assert list(BidEvent.objects.filter(bid=bid).values_list("from_status", "to_status")) == [
        (B.SUBMITTED, winner)
    ]
    project = Project.objects.get(pk=bid.project_id)
    assert project.status == (P.IN_PROGRESS if winner == B.ACCEPTED else P.OPEN)
