"""`contract_actions`, `milestone_actions` and `dispute_actions`: role × state, and why not.

States are set on the rows the policies read (the escrow's money, the work, the
contract), as the services would have left them; every action not in the
expected set must be refused with a reason.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from marketplace.errors import StateConflict
from marketplace.policies import Actions
from payments.models import Escrow
from projects.contracts.models import Contract, Dispute, Milestone
from projects.contracts.policies import (
    CONTRACT_ACTIONS,
    MILESTONE_ACTIONS,
    contract_actions,
    dispute_actions,
    milestone_actions,
)
from projects.contracts.selectors import contract_list
from projects.contracts.services import (
    contract_cancel,
    milestone_approve,
    milestone_request_changes,
    milestone_submit,
)
from projects.reviews.models import Review
from tests.factories import CompanyMemberFactory, UserFactory, VerifiedStudentFactory
from tests.factories.contracts import active_contract, completed_contract

pytestmark = pytest.mark.django_db

C = Contract.Status
W = Milestone.WorkStatus
S = Escrow.Status


def assert_actions(actions: Actions, names: tuple[str, ...], allowed: set[str]) -> None:
    """Exactly `allowed` are allowed, in the policy's order; each refusal says why."""
    assert list(actions) == list(names)
    assert {name for name, a in actions.items() if a.allowed} == allowed
    for action in actions.values():
        if action.allowed:
            assert action.reason == "" and action.offered
        else:
            assert str(action.reason).strip(), action.name


def _user(role: str, contract: Contract):  # type: ignore[no-untyped-def]
    return {
        "company": contract.project.created_by,
        "colleague": CompanyMemberFactory(
            membership__company=contract.project.created_by.company_membership.company
        ),
        "student": contract.student,
        "other_company": CompanyMemberFactory(),
        "other_student": VerifiedStudentFactory(),
        "staff": UserFactory(is_staff=True, role="admin"),
    }[role]


def _contract(status: str = C.ACTIVE, *, funded: bool = True) -> Contract:
    contract = active_contract(funded=funded)
    ended = timezone.now() if status in (C.COMPLETED, C.CANCELLED) else None
    Contract.objects.filter(pk=contract.pk).update(status=status, completed_at=ended)
    return contract_list(user=contract.student).get(pk=contract.pk)


CONTRACT_MATRIX = {
    ("company", C.ACTIVE): {"cancel", "message", "view_ledger"},
    ("colleague", C.ACTIVE): {"cancel", "message", "view_ledger"},
    ("company", C.DISPUTED): {"message", "view_ledger"},
    ("company", C.COMPLETED): {"message", "review", "view_ledger"},
    ("company", C.CANCELLED): {"message", "review", "view_ledger"},
    ("student", C.ACTIVE): {"message", "view_ledger"},
    ("student", C.DISPUTED): {"message", "view_ledger"},
    ("student", C.COMPLETED): {"message", "review", "view_ledger"},
    ("student", C.CANCELLED): {"message", "review", "view_ledger"},
    ("other_company", C.ACTIVE): set(),
    ("other_company", C.COMPLETED): set(),
    ("other_student", C.ACTIVE): set(),
    ("other_student", C.COMPLETED): set(),
    ("staff", C.ACTIVE): {"view_ledger"},
    ("staff", C.COMPLETED): {"view_ledger"},
}


@pytest.mark.parametrize(("role", "state"), sorted(CONTRACT_MATRIX))
def test_contract_actions_by_role_and_state(role, state):  # type: ignore[no-untyped-def]
    contract = _contract(state)
    actions = contract_actions(contract=contract, user=_user(role, contract))
    assert_actions(actions, CONTRACT_ACTIONS, CONTRACT_MATRIX[(role, state)])


def test_a_disputed_contract_is_not_cancelled_until_staff_settle_and_says_so():
    contract = _contract(C.DISPUTED)
    cancel = contract_actions(contract=contract, user=contract.project.created_by)["cancel"]
    assert (cancel.allowed, cancel.offered) == (False, True)
    assert "A dispute is open on this contract" in str(cancel.reason)


def test_a_delivered_contract_can_no_longer_be_cancelled():
    contract = _contract()
    Milestone.objects.filter(contract=contract).update(work_status=W.SUBMITTED)
    contract = contract_list(user=contract.student).get(pk=contract.pk)
    cancel = contract_actions(contract=contract, user=contract.project.created_by)["cancel"]
    assert not cancel.allowed
    assert "already delivered" in str(cancel.reason)


def test_each_side_reviews_once_and_within_the_window():
    contract = completed_contract()
    owner, student = contract.project.created_by, contract.student
    contract = contract_list(user=owner).get(pk=contract.pk)
    assert contract_actions(contract=contract, user=owner).allowed("review")
    Review.objects.create(
        contract=contract,
        role=Review.Role.COMPANY_TO_STUDENT,
        author=owner,
        subject_user=student,
        rating=5,
        quality=5,
        communication=5,
        deadlines=5,
    )
    contract = contract_list(user=owner).get(pk=contract.pk)
    written = contract_actions(contract=contract, user=owner)["review"]
    assert (written.allowed, str(written.reason)) == (
        False,
        "Your side already reviewed this contract.",
    )
    assert contract_actions(contract=contract, user=student).allowed("review")
    contract.completed_at = timezone.now() - dt.timedelta(days=60)
    closed = contract_actions(contract=contract, user=student)["review"]
    assert (closed.allowed, closed.offered) == (False, True)
    assert str(closed.reason) == "The review window has closed."


def test_a_page_of_contracts_is_decided_without_a_query_per_row():
    owner = CompanyMemberFactory()
    for _ in range(3):
        active_contract(owner=owner, amounts=(10_000, 20_000))
    contracts = list(contract_list(user=owner))
    owner.company_membership  # noqa: B018 (read once per request)
    with CaptureQueriesContext(connection) as ctx:
        for contract in contracts:
            assert contract_actions(contract=contract, user=owner).allowed("cancel")
            for milestone in contract.milestones.all():
                assert milestone_actions(milestone=milestone, user=owner).allowed("dispute")
    assert len(ctx.captured_queries) == 0


# --- milestones ------------------------------------------------------------------------------

# (money, work, contract) as the services leave them, and the actions each role may take.
MILESTONE_STATES = {
    "unfunded": (S.AWAITING_FUNDING, W.PENDING, C.ACTIVE),
    "unfunded_on_a_cancelled_contract": (S.AWAITING_FUNDING, W.PENDING, C.CANCELLED),
    "funded": (S.FUNDED, W.PENDING, C.ACTIVE),
    "delivered": (S.FUNDED, W.SUBMITTED, C.ACTIVE),
    "sent_back": (S.FUNDED, W.CHANGES_REQUESTED, C.ACTIVE),
    "disputed": (S.FROZEN, W.SUBMITTED, C.DISPUTED),
    "approved_waiting_for_payouts": (S.RELEASE_PENDING, W.APPROVED, C.ACTIVE),
    "paid": (S.RELEASED, W.APPROVED, C.COMPLETED),
    "refunded": (S.REFUNDED, W.PENDING, C.CANCELLED),
    # A dispute's split settled the money: the work stays where it was, the contract completed.
    "settled_by_a_dispute": (S.RELEASED, W.SUBMITTED, C.COMPLETED),
    "sent_back_then_refunded_by_a_dispute": (S.REFUNDED, W.CHANGES_REQUESTED, C.COMPLETED),
    "sent_back_and_disputed": (S.FROZEN, W.CHANGES_REQUESTED, C.DISPUTED),
    # Another milestone of the contract is disputed: this one's money is still held.
    "delivered_on_a_disputed_contract": (S.FUNDED, W.SUBMITTED, C.DISPUTED),
}

MILESTONE_MATRIX = {
    ("company", "unfunded"): {"fund"},
    ("student", "unfunded"): set(),
    ("company", "unfunded_on_a_cancelled_contract"): set(),
    ("student", "unfunded_on_a_cancelled_contract"): set(),
    ("company", "funded"): {"dispute"},
    ("student", "funded"): {"submit", "dispute"},
    ("company", "delivered"): {"approve", "request_changes", "dispute"},
    ("student", "delivered"): {"dispute"},
    ("company", "sent_back"): {"dispute"},
    ("student", "sent_back"): {"submit", "dispute"},
    ("company", "disputed"): set(),
    ("student", "disputed"): set(),
    ("company", "approved_waiting_for_payouts"): set(),
    ("student", "approved_waiting_for_payouts"): set(),
    ("company", "paid"): set(),
    ("student", "paid"): set(),
    ("company", "refunded"): set(),
    ("student", "refunded"): set(),
    ("company", "settled_by_a_dispute"): set(),
    ("student", "settled_by_a_dispute"): set(),
    ("company", "sent_back_then_refunded_by_a_dispute"): set(),
    ("student", "sent_back_then_refunded_by_a_dispute"): set(),
    ("company", "sent_back_and_disputed"): set(),
    ("student", "sent_back_and_disputed"): set(),
    ("company", "delivered_on_a_disputed_contract"): {"approve", "request_changes", "dispute"},
    ("student", "delivered_on_a_disputed_contract"): {"dispute"},
    ("other_company", "unfunded"): set(),
    ("other_company", "delivered"): set(),
    ("other_student", "funded"): set(),
    ("staff", "delivered"): set(),
}


def _milestone(state: str) -> Milestone:
    money, work, status = MILESTONE_STATES[state]
    contract = active_contract(funded=False)
    milestone = contract.milestones.get()
    Escrow.objects.filter(pk=milestone.escrow_id).update(status=money)
    Milestone.objects.filter(pk=milestone.pk).update(work_status=work)
    Contract.objects.filter(pk=contract.pk).update(status=status)
    if money == S.FROZEN:
        Dispute.objects.create(milestone=milestone, opened_by=contract.student, reason="Late")
    return contract_list(user=contract.student).get(pk=contract.pk).milestones.get()


@pytest.mark.parametrize(("role", "state"), sorted(MILESTONE_MATRIX))
def test_milestone_actions_by_role_and_state(role, state):  # type: ignore[no-untyped-def]
    milestone = _milestone(state)
    actions = milestone_actions(milestone=milestone, user=_user(role, milestone.contract))
    assert_actions(actions, MILESTONE_ACTIONS, MILESTONE_MATRIX[(role, state)])


def test_funding_a_milestone_of_a_cancelled_contract_is_offered_with_why():
    contract = active_contract(funded=False)
    owner = contract.project.created_by
    contract_cancel(contract_id=contract.pk, by=owner, reason="Plans changed")
    milestone = contract_list(user=owner).get(pk=contract.pk).milestones.get()
    fund = milestone_actions(milestone=milestone, user=owner)["fund"]
    assert (fund.allowed, fund.offered) == (False, True)
    assert str(fund.reason) == "The contract is cancelled."


@pytest.mark.parametrize(
    ("state", "action", "reason"),
    [
        ("unfunded", "submit", "The company has not paid this milestone into escrow yet"),
        ("disputed", "submit", None),
        ("disputed", "approve", "This milestone's money is frozen"),
        ("disputed", "request_changes", "A dispute is open on this milestone"),
    ],
)
def test_blocked_actions_are_offered_with_why(state, action, reason):  # type: ignore[no-untyped-def]
    milestone = _milestone(state)
    contract = milestone.contract
    user = contract.student if action == "submit" else contract.project.created_by
    if state == "disputed" and action == "submit":
        Milestone.objects.filter(pk=milestone.pk).update(work_status=W.CHANGES_REQUESTED)
        milestone.work_status = W.CHANGES_REQUESTED
        reason = "This milestone's money is frozen"
    refused = milestone_actions(milestone=milestone, user=user)[action]
    assert (refused.allowed, refused.offered) == (False, True)
    assert str(refused.reason).startswith(reason)


@pytest.mark.parametrize("state", ["settled_by_a_dispute", "sent_back_then_refunded_by_a_dispute"])
def test_work_settled_by_a_dispute_offers_nothing_and_says_the_contract_ended(state):  # type: ignore[no-untyped-def]
    milestone = _milestone(state)
    contract = milestone.contract
    for user in (contract.project.created_by, contract.student):
        for action in milestone_actions(milestone=milestone, user=user).values():
            assert (action.allowed, action.offered) == (False, False), action


def test_money_paid_in_is_not_offered_for_funding_again():
    # Frozen by a dispute (the contract disputed): funded already, so no "Fund" control.
    milestone = _milestone("disputed")
    owner = milestone.contract.project.created_by
    fund = milestone_actions(milestone=milestone, user=owner)["fund"]
    assert (fund.allowed, fund.offered) == (False, False)
    assert str(fund.reason).startswith("This milestone's money is frozen until")


# Each service that moves the work refuses (409) exactly what its policy refuses: both read
# `milestone_money_held`. (role, call)
WORK_SERVICES = {
    "submit": ("student", lambda m, by: milestone_submit(milestone_id=m.pk, by=by, note="Done")),
    "approve": ("company", lambda m, by: milestone_approve(milestone_id=m.pk, by=by)),
    "request_changes": (
        "company",
        lambda m, by: milestone_request_changes(milestone_id=m.pk, by=by, note="Darker"),
    ),
}


@pytest.mark.parametrize("action", sorted(WORK_SERVICES))
@pytest.mark.parametrize("state", sorted(MILESTONE_STATES))
def test_the_services_refuse_what_the_policy_refuses(state, action):  # type: ignore[no-untyped-def]
    milestone = _milestone(state)
    role, call = WORK_SERVICES[action]
    user = _user(role, milestone.contract)
    decided = milestone_actions(milestone=milestone, user=user)[action]
    try:
        call(milestone, user)
    except StateConflict:
        moved = False
    else:
        moved = True
    assert moved is decided.allowed, decided


def test_the_roles_are_told_whose_action_it_is():
    milestone = _milestone("delivered")
    student = milestone.contract.student
    approve = milestone_actions(milestone=milestone, user=student)["approve"]
    assert (approve.allowed, approve.offered) == (False, False)
    assert str(approve.reason) == "Only the company of this contract approves deliveries."


# --- disputes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("staff", "status", "allowed"),
    [
        (True, Dispute.Status.OPEN, True),
        (True, Dispute.Status.RESOLVED, False),
        (False, Dispute.Status.OPEN, False),
    ],
)
def test_staff_resolve_open_disputes(staff, status, allowed):  # type: ignore[no-untyped-def]
    milestone = _milestone("disputed")
    dispute = milestone.disputes.get()
    dispute.status = status
    user = UserFactory(is_staff=True, role="admin") if staff else milestone.contract.student
    resolve = dispute_actions(dispute=dispute, user=user)["resolve"]
    assert resolve.allowed is allowed
    assert allowed or str(resolve.reason)
