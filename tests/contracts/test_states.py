from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import models, transaction

from marketplace.errors import StateConflict
from marketplace.models import User
from payments.services.payouts import payout_account_onboard
from projects.contracts.disputes import dispute_resolve, milestone_dispute
from projects.contracts.models import (
    Contract,
    ContractEvent,
    Dispute,
    DisputeEvent,
    Milestone,
    MilestoneEvent,
)
from projects.contracts.services import (
    contract_cancel,
    milestone_approve,
    milestone_request_changes,
    milestone_submit,
)
from projects.contracts.states import CONTRACT_STATES, DISPUTE_STATES, MILESTONE_STATES
from tests.factories import UserFactory
from tests.factories.contracts import active_contract

pytestmark = pytest.mark.django_db

C = Contract.Status
W = Milestone.WorkStatus
D = Dispute.Status


@dataclass
class World:
    contract: Contract
    owner: User
    student: User
    staff: User

    @property
    def first(self) -> Milestone:
        return self.contract.milestones.order_by("position").first()  # type: ignore[return-value]


def _world(amounts: tuple[int, ...] = (10_000,), *, funded: bool = True) -> World:
    contract = active_contract(amounts=amounts, funded=funded)
    payout_account_onboard(user=contract.student)
    return World(
        contract=contract,
        owner=contract.project.created_by,
        student=contract.student,
        staff=UserFactory(role=User.Role.ADMIN, is_staff=True),
    )


def _events(obj: models.Model) -> list[tuple[str, str, int | None]]:
    return list(
        obj.events.order_by("pk").values_list(  # type: ignore[attr-defined]
            "from_status", "to_status", "actor_id"
        )
    )


def _row(obj: models.Model) -> dict[str, Any]:
    return type(obj).objects.filter(pk=obj.pk).values().get()  # type: ignore[attr-defined]


def _submit(w: World, milestone: Milestone | None = None) -> Milestone:
    milestone = milestone or w.first
    return milestone_submit(milestone_id=milestone.pk, by=w.student, note="Done")


def _dispute(w: World, milestone: Milestone | None = None) -> Dispute:
    milestone = milestone or w.first
    return milestone_dispute(milestone_id=milestone.pk, by=w.owner, reason="Not what we asked")


def _resolve(w: World, dispute: Dispute) -> Dispute:
    charge = Milestone.objects.get(pk=dispute.milestone_id).escrow.charge_cents
    return dispute_resolve(
        dispute_id=dispute.pk, by=w.staff, release_cents=0, refund_cents=charge, note="Refunded."
    )


# --- the contract ---------------------------------------------------------------------------


def _approve_the_last(w: World) -> Callable[[], Any]:
    _submit(w)
    return lambda: milestone_approve(milestone_id=w.first.pk, by=w.owner)


def _cancel(w: World) -> Callable[[], Any]:
    return lambda: contract_cancel(contract_id=w.contract.pk, by=w.owner, reason="Budget cut")


def _open_a_dispute(w: World) -> Callable[[], Any]:
    return lambda: _dispute(w)


def _settle(w: World) -> Callable[[], Any]:
    dispute = _dispute(w)
    return lambda: _resolve(w, dispute)


# (start, to): the milestones' amounts, what brings the contract to `start` and returns the
# call that moves it to `to`, and who that call acts as. Settling the only milestone's money
# completes the contract; with another milestone still held, the work goes on.
CONTRACT_MOVES: dict[tuple[str, str], tuple[tuple[int, ...], Callable[[World], Any], str]] = {
    (C.ACTIVE, C.COMPLETED): ((10_000,), _approve_the_last, "owner"),
    (C.ACTIVE, C.CANCELLED): ((10_000,), _cancel, "owner"),
    (C.ACTIVE, C.DISPUTED): ((10_000,), _open_a_dispute, "owner"),
    (C.DISPUTED, C.ACTIVE): ((10_000, 10_000), _settle, "staff"),
    (C.DISPUTED, C.COMPLETED): ((10_000,), _settle, "staff"),
}
# No service cancels a disputed contract: staff settle the dispute first (see below).
NOT_BY_A_SERVICE = {(C.DISPUTED, C.CANCELLED)}


def test_a_service_makes_every_move_of_the_contract_table_but_one():
    table = {(s, to) for s in CONTRACT_STATES.states for to in CONTRACT_STATES.allowed(s)}
    assert set(CONTRACT_MOVES) == table - NOT_BY_A_SERVICE


@pytest.mark.parametrize(("start", "to"), sorted(CONTRACT_MOVES))
def test_each_move_of_a_contract_writes_one_event(start, to):  # type: ignore[no-untyped-def]
    amounts, prepare, who = CONTRACT_MOVES[start, to]
    w = _world(amounts)
    run = prepare(w)
    assert Contract.objects.get(pk=w.contract.pk).status == start
    before = _events(w.contract)

    run()

    assert Contract.objects.get(pk=w.contract.pk).status == to
    assert _events(w.contract) == [*before, (start, to, getattr(w, who).pk)]


def test_a_second_dispute_keeps_the_contract_disputed_without_an_event():
    w = _world((10_000, 10_000))
    first, second = w.contract.milestones.order_by("position")
    _dispute(w, first)

    _dispute(w, second)

    assert Contract.objects.get(pk=w.contract.pk).status == C.DISPUTED
    assert _events(w.contract) == [(C.ACTIVE, C.DISPUTED, w.owner.pk)]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda w: _dispute(w), "This contract is disputed; it cannot be cancelled."),
        (lambda w: _cancel(w)(), "This contract is cancelled; it cannot be cancelled."),
        (
            lambda w: _approve_the_last(w)(),
            "This contract is completed; it cannot be cancelled.",
        ),
    ],
)
def test_cancelling_a_contract_not_active_is_a_409_and_changes_nothing(setup, message):  # type: ignore[no-untyped-def]
    w = _world()
    setup(w)
    row, events = _row(w.contract), ContractEvent.objects.count()

    with pytest.raises(StateConflict) as refused:
        _cancel(w)()

    assert refused.value.status_code == 409
    assert refused.value.message == message
    assert _row(w.contract) == row
    assert ContractEvent.objects.count() == events


def test_the_contract_table_refuses_moves_out_of_an_end():
    w = _world()
    _cancel(w)()
    contract = Contract.objects.get(pk=w.contract.pk)
    row, events = _row(contract), ContractEvent.objects.count()

    for to in (C.ACTIVE, C.DISPUTED, C.COMPLETED):
        with pytest.raises(StateConflict, match="cannot become"), transaction.atomic():
            CONTRACT_STATES.transition(contract, to, actor=w.owner)

    assert _row(contract) == row
    assert ContractEvent.objects.count() == events


# --- the milestone's work -------------------------------------------------------------------


def _pending(w: World) -> Milestone:
    return w.first


def _submitted(w: World) -> Milestone:
    return _submit(w)


def _changes_requested(w: World) -> Milestone:
    _submit(w)
    return milestone_request_changes(milestone_id=w.first.pk, by=w.owner, note="Add a footer.")


WORK_STARTS = {
    W.PENDING: _pending,
    W.SUBMITTED: _submitted,
    W.CHANGES_REQUESTED: _changes_requested,
}
WORK_SERVICES: dict[str, tuple[Callable[[World, Milestone], Any], str]] = {
    W.SUBMITTED: (lambda w, m: _submit(w, m), "student"),
    W.APPROVED: (lambda w, m: milestone_approve(milestone_id=m.pk, by=w.owner), "owner"),
    W.CHANGES_REQUESTED: (
        lambda w, m: milestone_request_changes(milestone_id=m.pk, by=w.owner, note="Redo it."),
        "owner",
    ),
}
WORK_MOVES = sorted(
    (start, to) for start in MILESTONE_STATES.states for to in MILESTONE_STATES.allowed(start)
)


def test_a_service_makes_every_move_of_the_work_table():
    assert {start for start, _ in WORK_MOVES} <= set(WORK_STARTS)
    assert {to for _, to in WORK_MOVES} <= set(WORK_SERVICES)


@pytest.mark.parametrize(("start", "to"), WORK_MOVES)
def test_each_move_of_a_milestones_work_writes_one_event(start, to):  # type: ignore[no-untyped-def]
    w = _world()
    milestone = WORK_STARTS[start](w)
    before = _events(milestone)
    service, who = WORK_SERVICES[to]

    service(w, milestone)

    assert Milestone.objects.get(pk=milestone.pk).work_status == to
    assert _events(milestone) == [*before, (start, to, getattr(w, who).pk)]


def test_the_platforms_approval_has_no_actor():
    w = _world()
    milestone = _submit(w)

    milestone_approve(milestone_id=milestone.pk, by=None)

    assert _events(milestone)[-1] == (W.SUBMITTED, W.APPROVED, None)
    assert _events(w.contract)[-1] == (C.ACTIVE, C.COMPLETED, None)
    assert _events(w.contract.project)[-1] == ("in_progress", "completed", None)


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (start, to)
        for start in (W.PENDING, W.APPROVED)
        for to in (W.APPROVED, W.CHANGES_REQUESTED)
        if to not in MILESTONE_STATES.allowed(start)
    ],
)
def test_a_move_the_work_table_refuses_is_a_409_and_changes_nothing(start, to):  # type: ignore[no-untyped-def]
    w = _world()
    milestone = w.first
    if start == W.APPROVED:
        _submit(w)
        milestone_approve(milestone_id=milestone.pk, by=w.owner)
    row, events = _row(milestone), MilestoneEvent.objects.count()
    service, _ = WORK_SERVICES[to]

    with pytest.raises(StateConflict) as refused:
        service(w, milestone)

    assert refused.value.status_code == 409
    assert refused.value.message == f"This milestone's work is {start} and cannot become {to}."
    assert _row(milestone) == row
    assert MilestoneEvent.objects.count() == events


# --- the dispute ----------------------------------------------------------------------------


def test_the_dispute_table_has_one_move_and_resolving_writes_its_event():
    assert {s: set(DISPUTE_STATES.allowed(s)) for s in DISPUTE_STATES.states} == {
        D.OPEN: {D.RESOLVED},
        D.RESOLVED: set(),
    }
    w = _world()
    dispute = _dispute(w)
    assert _events(dispute) == []

    _resolve(w, dispute)

    dispute.refresh_from_db()
    assert dispute.status == D.RESOLVED
    assert _events(dispute) == [(D.OPEN, D.RESOLVED, w.staff.pk)]
    assert DisputeEvent.objects.get(dispute=dispute).note == "Refunded."


def test_resolving_a_resolved_dispute_is_a_409_and_changes_nothing():
    w = _world((10_000, 10_000))
    dispute = _resolve(w, _dispute(w))
    row, events = _row(dispute), DisputeEvent.objects.count()

    with pytest.raises(StateConflict) as refused:
        _resolve(w, dispute)

    assert refused.value.status_code == 409
    assert _row(dispute) == row
    assert DisputeEvent.objects.count() == events
    resolved = "This dispute is resolved and cannot become open"
    with pytest.raises(StateConflict, match=resolved), transaction.atomic():
        DISPUTE_STATES.transition(dispute, D.OPEN, actor=w.staff)
    assert DisputeEvent.objects.count() == events
