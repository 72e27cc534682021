"""Gateway writes happen with no transaction open, after their intent committed.

The dummy gateway keeps its objects the way Stripe does: what a request did
stays done, and a second request with the same idempotency key and parameters
answers the object the first one made. The crash window is the moment after
the gateway accepted a request and before our answer is recorded: the tests
make recording fail there (the database refuses the write that books the
money, as a commit that fails would) and check that the escrow is left pending,
that nothing is booked, and that the retry then completes it once under the
same key.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.db.models import Sum
from django.utils import timezone

from marketplace.errors import StateConflict, TransientError
from marketplace.models import Notification
from payments.gateways.dummy import DummyGateway
from payments.models import DummyGatewayObject, Escrow, LedgerEntry, LedgerTransaction, StripeEvent
from payments.selectors import ledger_unbalanced_transactions
from payments.services import funding, refunds, releases
from payments.services.funding import FUNDING_LEASE, escrow_fund
from payments.services.payouts import payout_account_onboard
from payments.services.refunds import escrow_retry_pending_refunds
from payments.services.releases import escrow_retry_pending_releases
from payments.services.webhooks import stripe_event_process
from projects.contracts.disputes import dispute_resolve, milestone_dispute
from projects.contracts.models import Contract, Dispute, Milestone
from projects.contracts.services import contract_cancel, milestone_approve, milestone_fund
from projects.contracts.tasks import retry_pending_releases_task
from tests.concurrency import DatabaseThread, postgresql_only
from tests.factories import UserFactory
from tests.factories.contracts import active_contract
from tests.factories.milestones import submitted_milestone

pytestmark = pytest.mark.django_db

S = Escrow.Status
K = LedgerTransaction.Kind
VISA = "pm_card_visa"
WRITES = (
    "create_payment_intent",
    "confirm_payment_intent",
    "create_transfer",
    "create_refund",
    "create_account",
)


@pytest.fixture(autouse=True)
def fees(settings):  # type: ignore[no-untyped-def]
    settings.COMPANY_FEE_BPS = 500
    settings.STUDENT_COMMISSION_BPS = 1000


def _open_transactions() -> int:
    """Atomic blocks open on the connection, the test's own (pytest-django's) left out."""
    return sum(not block._from_testcase for block in connection.atomic_blocks)


@dataclass
class Call:
    method: str
    key: str
    open_transactions: int
    escrows: dict[int, str]


@dataclass
class GatewaySpy:
    calls: list[Call] = field(default_factory=list)

    def keys(self, method: str) -> list[str]:
        return [c.key for c in self.calls if c.method == method]


@pytest.fixture
def spy(monkeypatch) -> GatewaySpy:  # type: ignore[no-untyped-def]
    """Every gateway write: its key, how many transactions were open, the escrows' states then."""
    recorded = GatewaySpy()
    for name in WRITES:
        real = getattr(DummyGateway, name)

        def wrapper(self, *, _real=real, _name=name, **kwargs):  # type: ignore[no-untyped-def]
            recorded.calls.append(
                Call(
                    method=_name,
                    key=kwargs["idempotency_key"],
                    open_transactions=_open_transactions(),
                    escrows=dict(Escrow.objects.values_list("pk", "status")),
                )
            )
            return _real(self, **kwargs)

        monkeypatch.setattr(DummyGateway, name, wrapper)
    return recorded


@pytest.fixture
def failing_booking(monkeypatch):  # type: ignore[no-untyped-def]
    """`failing_booking(kind)`: the database refuses to book a movement of that kind."""
    real = funding.ledger_post
    booking_modules = (funding, releases, refunds)

    def fail(kind: str) -> None:
        def post(**kwargs: Any):  # type: ignore[no-untyped-def]
            if kwargs["kind"] == kind:
                raise OperationalError("server closed the connection unexpectedly")
            return real(**kwargs)

        for module in booking_modules:
            monkeypatch.setattr(module, "ledger_post", post)

    yield fail
    for module in booking_modules:
        monkeypatch.setattr(module, "ledger_post", real)


def _booked(escrow: Escrow, kind: str) -> int:
    return LedgerTransaction.objects.filter(escrow=escrow, kind=kind).count()


def _gateway(kind: str) -> int:
    return DummyGatewayObject.objects.filter(kind=kind).count()


def _books_balance() -> None:
    assert ledger_unbalanced_transactions() == []
    assert LedgerEntry.objects.aggregate(total=Sum("amount_cents"))["total"] in (0, None)


# --- no transaction open, intent first ------------------------------------------------------


def test_every_gateway_write_is_made_with_no_transaction_open_and_a_key(spy):
    approved = submitted_milestone()
    milestone_approve(milestone_id=approved.pk, by=approved.contract.project.created_by)
    cancelled = active_contract()
    contract_cancel(contract_id=cancelled.pk, by=cancelled.project.created_by, reason="Budget")
    disputed = active_contract()
    payout_account_onboard(user=disputed.student)
    dispute = milestone_dispute(
        milestone_id=disputed.milestones.get().pk, by=disputed.student, reason="Scope"
    )
    dispute_resolve(
        dispute_id=dispute.pk,
        by=UserFactory(is_staff=True),
        release_cents=6_000,
        refund_cents=4_500,
        note="Half",
    )

    assert {c.method for c in spy.calls} == {
        "create_payment_intent",
        "create_transfer",
        "create_refund",
        "create_account",
    }
    assert [c for c in spy.calls if c.open_transactions] == []
    assert all(c.key for c in spy.calls)


def test_the_transfer_is_asked_for_once_the_approval_committed(spy):
    milestone = submitted_milestone()

    milestone_approve(milestone_id=milestone.pk, by=milestone.contract.project.created_by)

    [transfer] = [c for c in spy.calls if c.method == "create_transfer"]
    assert transfer.key == f"escrow-{milestone.escrow_id}-release"
    assert transfer.escrows[milestone.escrow_id] == S.RELEASE_PENDING
    assert Escrow.objects.get(pk=milestone.escrow_id).status == S.RELEASED


def test_refunds_are_asked_for_once_the_cancellation_committed(spy):
    contract = active_contract(amounts=(10_000, 5_000))

    contract_cancel(contract_id=contract.pk, by=contract.project.created_by, reason="Budget")

    refunds = [c for c in spy.calls if c.method == "create_refund"]
    ids = list(contract.milestones.order_by("pk").values_list("escrow_id", flat=True))
    assert [c.key for c in refunds] == [f"escrow-{pk}-refund" for pk in ids]
    # Every refund's intent committed, with the cancellation, before the first request.
    assert [refunds[0].escrows[pk] for pk in ids] == [S.REFUND_PENDING, S.REFUND_PENDING]
    assert set(Escrow.objects.filter(pk__in=ids).values_list("status", flat=True)) == {S.REFUNDED}


# --- the crash window: release ----------------------------------------------------------------


def test_a_transfer_accepted_but_never_recorded_is_released_once_by_the_retry(
    spy, failing_booking, assert_books
):
    milestone = submitted_milestone()
    owner = milestone.contract.project.created_by
    key = f"escrow-{milestone.escrow_id}-release"
    failing_booking(K.RELEASE)

    with pytest.raises(OperationalError):
        milestone_approve(milestone_id=milestone.pk, by=owner)

    escrow = Escrow.objects.get(pk=milestone.escrow_id)
    assert escrow.status == S.RELEASE_PENDING  # never "funded" with the money gone
    assert escrow.transfer_id == ""
    assert _booked(escrow, K.RELEASE) == 0
    assert _gateway("transfer") == 1  # Stripe paid
    assert Milestone.objects.get(pk=milestone.pk).work_status == Milestone.WorkStatus.APPROVED
    assert Contract.objects.get(pk=milestone.contract_id).status == Contract.Status.ACTIVE
    assert assert_books(escrow)["held"] == escrow.charge_cents

    failing_booking(K.FUNDING)  # the database works again for releases
    assert retry_pending_releases_task.delay().get() == 1
    assert escrow_retry_pending_releases() == []

    assert spy.keys("create_transfer") == [key, key]
    assert _gateway("transfer") == 1
    escrow.refresh_from_db()
    assert escrow.status == S.RELEASED
    assert escrow.transfer_id == DummyGatewayObject.objects.get(kind="transfer").object_id
    assert _booked(escrow, K.RELEASE) == 1
    books = assert_books(escrow)
    assert (books["transferred"], books["revenue"], books["held"]) == (9_000, 1_500, 0)
    _books_balance()
    # The late release is announced once: the student told, the contract completed.
    assert Contract.objects.get(pk=milestone.contract_id).status == Contract.Status.COMPLETED
    told = Notification.objects.filter(kind="money_released", user=milestone.contract.student)
    assert told.count() == 1


# --- the crash window: funding ----------------------------------------------------------------


def _succeeded_event(escrow: Escrow, payment_intent_id: str) -> str:
    event_id = f"evt_{uuid.uuid4().hex}"
    StripeEvent.objects.create(
        event_id=event_id,
        type="payment_intent.succeeded",
        payload={
            "id": event_id,
            "object": "event",
            "type": "payment_intent.succeeded",
            "data": {
                "object": {
                    "id": payment_intent_id,
                    "object": "payment_intent",
                    "status": "succeeded",
                    "metadata": {"escrow_id": str(escrow.pk), "reference": escrow.reference},
                }
            },
        },
    )
    return event_id


@pytest.mark.parametrize("completed_by", ["webhook", "retry"])
def test_a_payment_accepted_but_never_recorded_is_funded_once(
    spy, failing_booking, assert_books, completed_by
):
    contract = active_contract(funded=False)
    owner = contract.project.created_by
    milestone = contract.milestones.get()
    key = f"escrow-{milestone.escrow_id}-fund-0"
    failing_booking(K.FUNDING)

    with pytest.raises(OperationalError):
        milestone_fund(milestone_id=milestone.pk, by=owner, payment_method=VISA)

    escrow = Escrow.objects.get(pk=milestone.escrow_id)
    [intent] = DummyGatewayObject.objects.filter(kind="payment_intent")
    assert intent.status == "succeeded"  # Stripe charged the card
    assert (escrow.status, escrow.payment_intent_id, escrow.funding_attempts) == (
        S.AWAITING_FUNDING,
        "",
        0,
    )
    assert escrow.funding_started_at is None  # the next try may go at once
    assert _booked(escrow, K.FUNDING) == 0

    failing_booking(K.REFUND)  # the database books funding again
    if completed_by == "webhook":
        event = stripe_event_process(event_id=_succeeded_event(escrow, intent.object_id))
        assert event is not None and event.status == StripeEvent.Status.SUCCEEDED
        with pytest.raises(StateConflict):  # the company trying again finds it paid
            milestone_fund(milestone_id=milestone.pk, by=owner, payment_method=VISA)
    else:
        result = milestone_fund(milestone_id=milestone.pk, by=owner, payment_method=VISA)
        assert result.status == "succeeded"
        assert spy.keys("create_payment_intent") == [key, key]  # Stripe answered the same intent
        event = stripe_event_process(event_id=_succeeded_event(escrow, intent.object_id))
        assert event is not None and event.outcome.endswith("already funded")

    assert DummyGatewayObject.objects.filter(kind="payment_intent").count() == 1
    escrow.refresh_from_db()
    assert (escrow.status, escrow.payment_intent_id) == (S.FUNDED, intent.object_id)
    assert _booked(escrow, K.FUNDING) == 1
    assert escrow.events.filter(to_status=S.FUNDED).count() == 1
    assert assert_books(escrow)["held"] == escrow.charge_cents
    _books_balance()


def test_a_second_payment_while_one_is_at_the_gateway_is_refused(spy):
    contract = active_contract(funded=False)
    owner = contract.project.created_by
    milestone = contract.milestones.get()
    Escrow.objects.filter(pk=milestone.escrow_id).update(funding_started_at=timezone.now())

    with pytest.raises(StateConflict, match="under way"):
        milestone_fund(milestone_id=milestone.pk, by=owner, payment_method=VISA)
    assert spy.calls == []

    # A lease whose request died long ago no longer holds the escrow.
    Escrow.objects.filter(pk=milestone.escrow_id).update(
        funding_started_at=timezone.now() - FUNDING_LEASE - dt.timedelta(seconds=1)
    )
    assert milestone_fund(milestone_id=milestone.pk, by=owner, payment_method=VISA).status == (
        "succeeded"
    )
    assert Escrow.objects.get(pk=milestone.escrow_id).funding_started_at is None


def test_a_payment_that_went_through_after_the_contract_was_cancelled_is_refunded(
    spy, monkeypatch, assert_books
):
    contract = active_contract(amounts=(10_000, 5_000), funded=False)
    owner = contract.project.created_by
    first, second = contract.milestones.order_by("position")
    milestone_fund(milestone_id=first.pk, by=owner, payment_method=VISA)
    real = DummyGateway.create_payment_intent

    def paid_while_cancelled(self, **kwargs):  # type: ignore[no-untyped-def]
        contract_cancel(contract_id=contract.pk, by=owner, reason="Meanwhile")
        return real(self, **kwargs)

    monkeypatch.setattr(DummyGateway, "create_payment_intent", paid_while_cancelled)

    with pytest.raises(StateConflict, match="cancelled"):
        escrow_fund(
            escrow_id=second.escrow_id,
            actor=owner,
            payment_method=VISA,
            guard=lambda: _still_active(contract.pk),
        )

    escrow = Escrow.objects.get(pk=second.escrow_id)
    assert escrow.status == S.REFUNDED
    assert (_booked(escrow, K.FUNDING), _booked(escrow, K.REFUND)) == (1, 1)
    assert assert_books(escrow)["refunded"] == escrow.charge_cents
    assert Contract.objects.get(pk=contract.pk).status == Contract.Status.CANCELLED
    _books_balance()


def _still_active(contract_id: int) -> None:
    status = Contract.objects.values_list("status", flat=True).get(pk=contract_id)
    if status != Contract.Status.ACTIVE:
        raise StateConflict(f"This contract is {status}.")


# --- the crash window: refunds and splits -------------------------------------------------------


def test_a_refund_accepted_but_never_recorded_is_refunded_once_by_the_retry(
    spy, failing_booking, assert_books
):
    contract = active_contract()
    escrow = contract.milestones.get().escrow
    key = f"escrow-{escrow.pk}-refund"
    failing_booking(K.REFUND)

    with pytest.raises(OperationalError):
        contract_cancel(contract_id=contract.pk, by=contract.project.created_by, reason="Budget")

    escrow.refresh_from_db()
    assert escrow.status == S.REFUND_PENDING
    assert _booked(escrow, K.REFUND) == 0
    assert _gateway("refund") == 1
    assert Contract.objects.get(pk=contract.pk).status == Contract.Status.CANCELLED

    failing_booking(K.RELEASE)
    assert escrow_retry_pending_refunds() == [escrow.pk]
    assert escrow_retry_pending_refunds() == []

    assert spy.keys("create_refund") == [key, key]
    assert _gateway("refund") == 1
    escrow.refresh_from_db()
    assert (escrow.status, escrow.refund_id) == (
        S.REFUNDED,
        DummyGatewayObject.objects.get(kind="refund").object_id,
    )
    assert assert_books(escrow)["refunded"] == escrow.charge_cents
    _books_balance()


def test_a_split_paid_but_never_recorded_is_settled_once_by_resolving_again(spy, failing_booking):
    contract = active_contract()
    payout_account_onboard(user=contract.student)
    dispute = milestone_dispute(
        milestone_id=contract.milestones.get().pk, by=contract.student, reason="Scope"
    )
    staff = UserFactory(is_staff=True)
    escrow = dispute.milestone.escrow
    failing_booking(K.SETTLEMENT)

    with pytest.raises(OperationalError):
        dispute_resolve(
            dispute_id=dispute.pk, by=staff, release_cents=6_000, refund_cents=4_500, note="Half"
        )

    escrow.refresh_from_db()
    assert (escrow.status, escrow.split_release_cents, escrow.split_refund_cents) == (
        S.FROZEN,
        6_000,
        4_500,
    )
    assert _booked(escrow, K.SETTLEMENT) == 0
    assert (_gateway("transfer"), _gateway("refund")) == (1, 1)
    assert Dispute.objects.get(pk=dispute.pk).status == Dispute.Status.OPEN

    failing_booking(K.RELEASE)
    with pytest.raises(StateConflict, match="same amounts"):
        dispute_resolve(
            dispute_id=dispute.pk, by=staff, release_cents=0, refund_cents=10_500, note="All"
        )
    resolved = dispute_resolve(
        dispute_id=dispute.pk, by=staff, release_cents=6_000, refund_cents=4_500, note="Half"
    )

    assert resolved.status == Dispute.Status.RESOLVED
    assert spy.keys("create_transfer") == [f"escrow-{escrow.pk}-settle-release"] * 2
    assert spy.keys("create_refund") == [f"escrow-{escrow.pk}-settle-refund"] * 2
    assert (_gateway("transfer"), _gateway("refund")) == (1, 1)
    escrow.refresh_from_db()
    assert escrow.status == S.RELEASED
    entries = dict(
        LedgerEntry.objects.filter(
            transaction__escrow=escrow, transaction__kind=K.SETTLEMENT
        ).values_list("account", "amount_cents")
    )
    assert entries == {
        "escrow": -10_500,
        f"student:{escrow.payee_id}": 5_400,
        "platform:revenue": 600,
        f"company:{escrow.company_id}": 4_500,
    }
    assert Contract.objects.get(pk=contract.pk).status == Contract.Status.COMPLETED
    _books_balance()


def test_a_transfer_failing_for_now_is_recorded_after_the_approval_committed(spy, monkeypatch):
    def down(self, **kwargs):  # type: ignore[no-untyped-def]
        raise TransientError("Stripe is down")

    milestone = submitted_milestone()
    monkeypatch.setattr(DummyGateway, "create_transfer", down)

    approved = milestone_approve(milestone_id=milestone.pk, by=None)

    assert approved.work_status == Milestone.WorkStatus.APPROVED
    assert (approved.escrow.status, approved.escrow.last_error) == (
        S.RELEASE_PENDING,
        "Stripe is down",
    )
    assert approved.escrow.transfer_attempts == 1


# --- a retry racing the approval's own transfer (PostgreSQL) -----------------------------------


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_the_retry_racing_an_approval_in_flight_pays_and_tells_once(monkeypatch):
    milestone = submitted_milestone()
    owner = milestone.contract.project.created_by
    key = f"escrow-{milestone.escrow_id}-release"
    real = DummyGateway.create_transfer
    keys: list[str] = []
    at_stripe = threading.Event()
    go_on = threading.Event()

    def slow(self, **kwargs):  # type: ignore[no-untyped-def]
        keys.append(kwargs["idempotency_key"])
        transfer_id = real(self, **kwargs)
        if len(keys) == 1:  # the approval's request: Stripe paid, its answer is on its way
            at_stripe.set()
            go_on.wait(timeout=30)
        return transfer_id

    monkeypatch.setattr(DummyGateway, "create_transfer", slow)
    approval = DatabaseThread(
        lambda: milestone_approve(milestone_id=milestone.pk, by=owner).escrow.status
    )
    approval.start()
    assert at_stripe.wait(timeout=30)
    # No row is locked while Stripe answers: the scheduled retry runs now, same key.
    retry = DatabaseThread(escrow_retry_pending_releases)
    retry.start()
    assert retry.outcome() == [milestone.escrow_id]
    go_on.set()

    assert approval.outcome() == S.RELEASED  # the approval answers the released milestone
    assert keys == [key, key]
    assert _gateway("transfer") == 1
    escrow = Escrow.objects.get(pk=milestone.escrow_id)
    assert (escrow.status, _booked(escrow, K.RELEASE)) == (S.RELEASED, 1)
    assert escrow.events.filter(to_status=S.RELEASED).count() == 1
    assert Contract.objects.get(pk=milestone.contract_id).status == Contract.Status.COMPLETED
    told = Notification.objects.filter(key=f"money-released:{milestone.pk}")
    assert told.count() == 1
    _books_balance()
