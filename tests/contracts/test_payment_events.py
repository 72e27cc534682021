"""Each Stripe event's handler: its state change, its ledger entries, who is told.

Events are delivered signed to the webhook endpoint and processed by the task
(eager), on the real Stripe gateway whose HTTP layer is the recorder (see
`tests/payments/stripe_events.py`). After every scenario the ledger is
balanced and `charged = transferred + revenue + refunded + chargebacks +
reversals + held` holds for the escrow (`books`).
"""

from __future__ import annotations

import pytest

from marketplace.errors import TransientError
from marketplace.models import Notification, OutboundEmail, User
from payments.models import (
    Chargeback,
    Escrow,
    EscrowEvent,
    LedgerEntry,
    LedgerTransaction,
    StripeEvent,
)
from payments.services.refunds import escrow_refund
from payments.services.webhooks import stripe_event_process, stripe_event_receive
from payments.tasks import process_stripe_event_task
from projects.contracts.disputes import milestone_dispute
from projects.contracts.models import Contract, Milestone
from projects.contracts.services import milestone_submit
from tests.factories import UserFactory
from tests.payments import stripe_recorder as shapes
from tests.payments.stripe_events import (
    StripeWebhooks,
    books,
    deliver_and_approve,
    dispute,
    event,
    fund,
    install,
    milestone_awaiting_funding,
    payout,
    refunded_charge,
    reversed_transfer,
    signed,
)

S = Escrow.Status
E = StripeEvent.Status
K = LedgerTransaction.Kind
C = Chargeback.Status


@pytest.fixture(autouse=True)
def balanced_books(db):  # type: ignore[no-untyped-def]
    yield
    for escrow in Escrow.objects.all():
        books(escrow)


@pytest.fixture
def hooks(db, settings, monkeypatch, django_capture_on_commit_callbacks) -> StripeWebhooks:
    settings.SITE_URL = "https://market.example"
    return install(settings, monkeypatch, django_capture_on_commit_callbacks)


@pytest.fixture
def staff(db) -> User:
    return UserFactory(role=User.Role.ADMIN, is_staff=True, email="staff@example.com")


@pytest.fixture
def milestone(hooks) -> Milestone:
    return milestone_awaiting_funding()


@pytest.fixture
def funded(hooks, milestone) -> Escrow:
    return fund(hooks, milestone)


def _deliver(hooks: StripeWebhooks, payload: bytes, *, connect: bool = False) -> StripeEvent:
    response = hooks.deliver(payload, connect=connect)
    assert response.status_code == 200, response.content
    return StripeEvent.objects.get(event_id=response.json()["event_id"])


def _entries(escrow: Escrow, kind: str) -> list[dict[str, int]]:
    return [
        dict(txn.entries.values_list("account", "amount_cents"))
        for txn in LedgerTransaction.objects.filter(escrow=escrow, kind=kind).order_by("pk")
    ]


def _moves(escrow: Escrow) -> list[tuple[str, str]]:
    return list(
        EscrowEvent.objects.filter(escrow=escrow)
        .order_by("pk")
        .values_list("from_status", "to_status")
    )


def _told(template: str) -> list[str]:
    return sorted(Notification.objects.filter(kind=template).values_list("user__email", flat=True))


def _intent_event(escrow: Escrow, event_type: str = "payment_intent.succeeded", **fields) -> bytes:  # type: ignore[no-untyped-def]
    metadata = {"escrow_id": str(escrow.pk), "reference": escrow.reference}
    return event(
        event_type, shapes.payment_intent(amount=escrow.charge_cents, metadata=metadata, **fields)
    )


# payment_intent.succeeded


def test_a_succeeded_payment_funds_the_escrow_and_tells_the_student(hooks, milestone):
    escrow = fund(hooks, milestone)

    stored = StripeEvent.objects.get()
    assert (stored.status, stored.escrow_id) == (E.SUCCEEDED, escrow.pk)
    assert (escrow.payment_intent_id, escrow.charge_id) == ("pi_1", "ch_1")
    assert _moves(escrow) == [(S.AWAITING_FUNDING, S.FUNDED)]
    assert _entries(escrow, K.FUNDING) == [
        {f"company:{escrow.company_id}": -10_500, "escrow": 10_500}
    ]
    assert _told("milestone_funded") == [milestone.contract.student.email]
    assert books(escrow)["held"] == 10_500


def test_the_intent_is_read_back_and_an_expanded_charge_is_understood(hooks, milestone):
    escrow = milestone.escrow
    hooks.answer_intent(
        amount=10_500,
        latest_charge=shapes.charge(id="ch_expanded"),  # localstripe's shape
        metadata={"escrow_id": str(escrow.pk)},
    )
    hooks.answer_fee_unknown("ch_expanded")

    _deliver(hooks, _intent_event(escrow, latest_charge="ch_from_the_payload"))

    escrow.refresh_from_db()
    assert (escrow.status, escrow.charge_id) == (S.FUNDED, "ch_expanded")


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"amount": 10_000}, "charged 10000 EUR, but escrow"),
        ({"currency": "usd"}, "charged 10500 USD, but escrow"),
        ({"status": "requires_payment_method"}, "is requires_payment_method at Stripe"),
    ],
    ids=["other-amount", "other-currency", "not-succeeded-at-stripe"],
)
def test_a_payment_stripe_does_not_confirm_changes_nothing_and_tells_staff(
    hooks, milestone, staff, answer, error
):
    escrow = milestone.escrow
    fields = {"amount": 10_500, "metadata": {"escrow_id": str(escrow.pk)}, **answer}
    hooks.answer_intent(**fields)

    stored = _deliver(hooks, _intent_event(escrow))

    assert stored.status == E.FAILED
    assert error in stored.error
    escrow.refresh_from_db()
    assert escrow.status == S.AWAITING_FUNDING
    assert LedgerTransaction.objects.count() == 0
    assert _told("stripe_event_failed") == ["staff@example.com"]
    assert _told("milestone_funded") == []


def test_an_unknown_intent_at_stripe_fails(hooks, milestone):
    hooks.recorder.answer(
        "GET",
        "/v1/payment_intents/pi_1",
        shapes.error("invalid_request_error", "No such payment_intent", code="resource_missing"),
        status=404,
    )
    stored = _deliver(hooks, _intent_event(milestone.escrow))
    assert (stored.status, stored.error) == (E.FAILED, "Stripe has no payment intent pi_1.")


def test_a_payment_that_is_not_ours_is_ignored(hooks):
    payload = event("payment_intent.succeeded", shapes.payment_intent(id="pi_other", metadata={}))
    stored = _deliver(hooks, payload)
    assert (stored.status, stored.outcome) == (E.IGNORED, "no escrow for pi_other")
    assert hooks.recorder.requests == []


def test_an_intent_naming_our_escrow_id_for_another_reference_is_ignored(hooks, milestone):
    escrow = milestone.escrow
    payload = event(
        "payment_intent.succeeded",
        shapes.payment_intent(
            id="pi_staging", metadata={"escrow_id": str(escrow.pk), "reference": "staging:1"}
        ),
    )
    stored = _deliver(hooks, payload)
    assert stored.status == E.IGNORED
    assert stored.outcome == f"pi_staging is for staging:1, not escrow {escrow.reference}"
    escrow.refresh_from_db()
    assert escrow.status == S.AWAITING_FUNDING
    assert hooks.recorder.requests == []


def test_a_second_payment_for_a_funded_escrow_fails_loudly(hooks, funded, staff):
    hooks.answer_intent(id="pi_second", amount=10_500, metadata={"escrow_id": str(funded.pk)})
    hooks.answer_fee_unknown()

    stored = _deliver(hooks, _intent_event(funded, id="pi_second"))

    assert stored.status == E.FAILED
    assert "pi_second paid escrow" in stored.error
    assert "refund one of them" in stored.error
    funded.refresh_from_db()
    assert (funded.status, funded.payment_intent_id) == (S.FUNDED, "pi_1")
    assert LedgerTransaction.objects.filter(escrow=funded).count() == 1
    assert _told("stripe_event_failed") == ["staff@example.com"]


def test_a_transient_failure_is_recorded_then_raised_for_the_retry(hooks, milestone, staff):
    escrow = milestone.escrow
    payload = _intent_event(escrow)
    stripe_event_receive(payload=payload, signature=signed(payload), connect=False)
    event_id = StripeEvent.objects.get().event_id
    hooks.recorder.fail_connection("GET", "/v1/payment_intents/pi_1", times=3)

    with pytest.raises(TransientError):
        stripe_event_process(event_id=event_id)

    stored = StripeEvent.objects.get()
    assert (stored.status, stored.attempts) == (E.FAILED, 1)
    assert "cannot be reached" in stored.error
    assert _told("stripe_event_failed") == []  # the task retries; staff see it if retries run out

    hooks.answer_intent(amount=10_500, metadata={"escrow_id": str(escrow.pk)})
    hooks.answer_fee_unknown()
    assert process_stripe_event_task(event_id=event_id) == E.SUCCEEDED
    escrow.refresh_from_db()
    assert escrow.status == S.FUNDED
    assert process_stripe_event_task(event_id=event_id) == E.SUCCEEDED
    assert StripeEvent.objects.get().attempts == 2


def test_an_unknown_event_id_is_nothing_to_process(db):
    assert stripe_event_process(event_id="evt_never_stored") is None


# payment_intent.payment_failed


def _declined(escrow: Escrow) -> bytes:
    intent = shapes.payment_intent(
        amount=escrow.charge_cents,
        status="requires_payment_method",
        latest_charge="ch_failed",
        metadata={"escrow_id": str(escrow.pk)},
    )
    intent["last_payment_error"] = {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "insufficient_funds",
    }
    return event("payment_intent.payment_failed", intent)


def test_a_declined_payment_keeps_the_escrow_unfunded_and_tells_the_company(hooks, milestone):
    escrow = milestone.escrow
    hooks.answer_intent(status="requires_payment_method", metadata={"escrow_id": str(escrow.pk)})
    payload = _declined(escrow)
    assert b"insufficient_funds" in payload

    stored = _deliver(hooks, payload)
    hooks.deliver(payload)

    assert (stored.status, stored.outcome) == (E.SUCCEEDED, "declined: insufficient_funds")
    escrow.refresh_from_db()
    assert escrow.status == S.AWAITING_FUNDING
    assert LedgerTransaction.objects.count() == 0
    member = milestone.contract.project.created_by
    assert _told("payment_failed") == [member.email]
    email = OutboundEmail.objects.get(template="payment_failed")
    assert "insufficient_funds" in email.body_text
    assert milestone.title in email.subject


def test_a_decline_reported_after_the_payment_succeeded_is_old_news(hooks, funded):
    hooks.answer_intent(metadata={"escrow_id": str(funded.pk)})
    stored = _deliver(hooks, _declined(funded))
    assert stored.status == E.IGNORED
    assert stored.outcome.endswith(f"escrow {funded.reference} is funded")
    assert _told("payment_failed") == []


# charge.refunded


def test_our_own_refund_reported_by_stripe_is_ignored(hooks, funded):
    hooks.recorder.answer("POST", "/v1/refunds", shapes.refund(id="re_ours"))
    escrow_refund(escrow_id=funded.pk, actor=None, note="cancelled")

    stored = _deliver(hooks, event("charge.refunded", refunded_charge(refund_id="re_ours")))

    assert (stored.status, stored.outcome) == (E.IGNORED, "refund already recorded")
    assert len(_entries(funded, K.REFUND)) == 1
    books(funded)


def test_a_whole_refund_made_in_the_dashboard_is_recorded_once(hooks, funded, staff):
    payload = event("charge.refunded", refunded_charge(refund_id="re_dashboard"))

    stored = _deliver(hooks, payload)
    hooks.deliver(payload)
    _deliver(hooks, event("charge.refunded", refunded_charge(refund_id="re_dashboard")))

    assert stored.status == E.SUCCEEDED
    funded.refresh_from_db()
    assert (funded.status, funded.refund_id) == (S.REFUNDED, "re_dashboard")
    assert _moves(funded)[-1] == (S.FUNDED, S.REFUNDED)
    assert _entries(funded, K.REFUND) == [
        {"escrow": -10_500, f"company:{funded.company_id}": 10_500}
    ]
    assert not [r for r in hooks.recorder.writes() if r.path == "/v1/refunds"]
    assert _told("refunded_outside") == ["staff@example.com"]
    legs = books(funded)
    assert (legs["refunded"], legs["held"]) == (10_500, 0)
    contract = Contract.objects.get(pk=funded.milestone.contract_id)
    assert contract.status == Contract.Status.COMPLETED


def test_a_partial_refund_made_elsewhere_fails_for_staff(hooks, funded, staff):
    stored = _deliver(hooks, event("charge.refunded", refunded_charge(amount_refunded=4_000)))

    assert stored.status == E.FAILED
    assert "partial refund of 4000 of the 10500 EUR" in stored.error
    funded.refresh_from_db()
    assert funded.status == S.FUNDED
    assert _entries(funded, K.REFUND) == []
    assert _told("stripe_event_failed") == ["staff@example.com"]
    books(funded)


def test_a_refund_made_elsewhere_after_release_fails_for_staff(hooks, milestone, staff):
    fund(hooks, milestone)
    escrow = deliver_and_approve(hooks, milestone)
    assert escrow.status == S.RELEASED

    stored = _deliver(hooks, event("charge.refunded", refunded_charge()))

    assert stored.status == E.FAILED
    assert "while it is released" in stored.error
    books(escrow)


# charge.dispute.created / closed


def test_a_chargeback_on_held_money_freezes_it_without_moving_money(hooks, funded, staff):
    payload = event("charge.dispute.created", dispute())

    stored = _deliver(hooks, payload)
    hooks.deliver(payload)

    assert stored.status == E.SUCCEEDED
    chargeback = Chargeback.objects.get()
    assert (chargeback.escrow_id, chargeback.dispute_id, chargeback.amount_cents) == (
        funded.pk,
        "dp_1",
        10_500,
    )
    assert (chargeback.status, chargeback.funds_held, chargeback.resume_status) == (
        C.OPEN,
        True,
        S.FUNDED,
    )
    assert (chargeback.reason, chargeback.currency, chargeback.charge_id) == (
        "fraudulent",
        "EUR",
        "ch_1",
    )
    funded.refresh_from_db()
    assert funded.status == S.FROZEN
    assert _moves(funded)[-1] == (S.FUNDED, S.FROZEN)
    assert LedgerTransaction.objects.filter(escrow=funded).count() == 1  # the funding only
    assert _told("chargeback_opened") == ["staff@example.com"]
    assert books(funded)["held"] == 10_500


def test_a_won_chargeback_unfreezes_the_escrow(hooks, funded, staff):
    _deliver(hooks, event("charge.dispute.created", dispute()))

    stored = _deliver(hooks, event("charge.dispute.closed", dispute(status="won")))

    assert stored.status == E.SUCCEEDED
    funded.refresh_from_db()
    assert funded.status == S.FUNDED
    assert _moves(funded)[-2:] == [(S.FUNDED, S.FROZEN), (S.FROZEN, S.FUNDED)]
    chargeback = Chargeback.objects.get()
    assert chargeback.status == C.WON
    assert chargeback.closed_at is not None
    assert LedgerTransaction.objects.filter(escrow=funded).count() == 1
    assert _told("chargeback_closed") == ["staff@example.com"]
    assert books(funded)["held"] == 10_500


def test_a_won_chargeback_on_approved_work_goes_back_to_release_pending(hooks, staff):
    milestone = milestone_awaiting_funding(payouts_enabled=False)
    fund(hooks, milestone)
    escrow = deliver_and_approve(hooks, milestone)
    assert escrow.status == S.RELEASE_PENDING

    _deliver(hooks, event("charge.dispute.created", dispute()))
    assert Chargeback.objects.get().resume_status == S.RELEASE_PENDING
    _deliver(hooks, event("charge.dispute.closed", dispute(status="warning_closed")))

    escrow.refresh_from_db()
    assert escrow.status == S.RELEASE_PENDING
    books(escrow)


def test_a_won_chargeback_leaves_a_marketplace_dispute_frozen(hooks, funded, milestone, staff):
    milestone_submit(milestone_id=milestone.pk, by=milestone.contract.student, note="done")
    milestone_dispute(
        milestone_id=milestone.pk, by=milestone.contract.project.created_by, reason="Late."
    )
    _deliver(hooks, event("charge.dispute.created", dispute()))
    assert Chargeback.objects.get().resume_status == S.FUNDED

    _deliver(hooks, event("charge.dispute.closed", dispute(status="won")))

    funded.refresh_from_db()
    assert funded.status == S.FROZEN
    assert Chargeback.objects.get().status == C.WON


def test_a_lost_chargeback_on_held_money_returns_it_to_the_company(hooks, funded, staff):
    _deliver(hooks, event("charge.dispute.created", dispute()))

    stored = _deliver(hooks, event("charge.dispute.closed", dispute(status="lost")))

    assert stored.status == E.SUCCEEDED
    funded.refresh_from_db()
    assert funded.status == S.REFUNDED
    assert funded.settled_at is not None
    assert _moves(funded)[-1] == (S.FROZEN, S.REFUNDED)
    assert _entries(funded, K.CHARGEBACK) == [
        {"escrow": -10_500, f"company:{funded.company_id}": 10_500}
    ]
    assert Chargeback.objects.get().status == C.LOST
    assert not hooks.recorder.writes()  # the bank moved the money, not us
    legs = books(funded)
    assert (legs["refunded"], legs["held"], legs["chargebacks"]) == (10_500, 0, 0)
    assert Contract.objects.get(milestones__escrow=funded).status == Contract.Status.COMPLETED


def test_a_chargeback_after_release_is_the_platforms_loss(hooks, milestone, staff):
    fund(hooks, milestone)
    escrow = deliver_and_approve(hooks, milestone)
    assert escrow.status == S.RELEASED

    _deliver(hooks, event("charge.dispute.created", dispute(reason="product_not_received")))
    chargeback = Chargeback.objects.get()
    assert (chargeback.funds_held, chargeback.resume_status) == (False, "")
    escrow.refresh_from_db()
    assert escrow.status == S.RELEASED
    assert _entries(escrow, K.CHARGEBACK) == []

    _deliver(hooks, event("charge.dispute.closed", dispute(status="lost")))

    escrow.refresh_from_db()
    assert escrow.status == S.RELEASED
    assert _entries(escrow, K.CHARGEBACK) == [
        {f"company:{escrow.company_id}": 10_500, "platform:chargebacks": -10_500}
    ]
    legs = books(escrow)
    assert legs == {
        "charged": 10_500,
        "transferred": 9_000,
        "revenue": 1_500,
        "refunded": 10_500,
        "chargebacks": -10_500,
        "reversals": 0,
        "held": 0,
    }


def test_a_won_chargeback_after_release_moves_nothing(hooks, milestone, staff):
    fund(hooks, milestone)
    escrow = deliver_and_approve(hooks, milestone)
    _deliver(hooks, event("charge.dispute.created", dispute()))
    _deliver(hooks, event("charge.dispute.closed", dispute(status="won")))

    escrow.refresh_from_db()
    assert escrow.status == S.RELEASED
    assert _entries(escrow, K.CHARGEBACK) == []
    books(escrow)


def test_a_closed_dispute_before_its_created_event_is_recorded_once(hooks, funded, staff):
    stored = _deliver(hooks, event("charge.dispute.closed", dispute(status="lost")))
    late = _deliver(hooks, event("charge.dispute.created", dispute()))

    assert stored.status == E.SUCCEEDED
    assert (late.status, late.outcome) == (E.SUCCEEDED, "chargeback dp_1 known")
    funded.refresh_from_db()
    assert funded.status == S.REFUNDED
    assert Chargeback.objects.get().status == C.LOST
    assert len(_entries(funded, K.CHARGEBACK)) == 1
    books(funded)


def test_a_dispute_that_overtook_the_payment_funds_then_freezes(hooks, milestone, staff):
    escrow = milestone.escrow
    # Our request recorded the intent; its success has not reached us yet.
    Escrow.objects.filter(pk=escrow.pk).update(payment_intent_id="pi_1")
    hooks.answer_intent(amount=10_500, metadata={"escrow_id": str(escrow.pk)})
    hooks.answer_fee_unknown()

    _deliver(hooks, event("charge.dispute.created", dispute()))

    escrow.refresh_from_db()
    assert escrow.status == S.FROZEN
    assert _moves(escrow) == [(S.AWAITING_FUNDING, S.FUNDED), (S.FUNDED, S.FROZEN)]
    books(escrow)


def test_a_lost_dispute_for_less_than_held_fails_for_staff(hooks, funded, staff):
    _deliver(hooks, event("charge.dispute.created", dispute(amount=5_000)))
    stored = _deliver(hooks, event("charge.dispute.closed", dispute(amount=5_000, status="lost")))

    assert stored.status == E.FAILED
    assert "settle it by hand" in stored.error
    funded.refresh_from_db()
    assert funded.status == S.FROZEN
    assert Chargeback.objects.get().status == C.OPEN


def test_a_dispute_on_a_charge_that_is_not_ours_is_ignored(hooks):
    stored = _deliver(
        hooks, event("charge.dispute.created", dispute(charge="ch_x", payment_intent="pi_x"))
    )
    assert stored.status == E.IGNORED
    assert not Chargeback.objects.exists()


# transfer.reversed


def test_a_transfer_reversal_is_posted_once_per_amount(hooks, milestone, staff):
    fund(hooks, milestone)
    escrow = deliver_and_approve(hooks, milestone)

    first = _deliver(hooks, event("transfer.reversed", reversed_transfer(amount_reversed=3_000)))
    whole = reversed_transfer(amount_reversed=9_000)
    _deliver(hooks, event("transfer.reversed", whole))
    hooks.deliver(event("transfer.reversed", whole))
    older = _deliver(hooks, event("transfer.reversed", reversed_transfer(amount_reversed=3_000)))

    assert first.status == E.SUCCEEDED
    assert (older.status, older.outcome) == (E.IGNORED, "reversal already recorded")
    student = f"student:{escrow.payee_id}"
    assert _entries(escrow, K.REVERSAL) == [
        {student: -3_000, "platform:reversals": 3_000},
        {student: -6_000, "platform:reversals": 6_000},
    ]
    assert LedgerEntry.objects.filter(account="platform:reversals").count() == 2
    assert len(_told("transfer_reversed")) == 2
    legs = books(escrow)
    assert (legs["transferred"], legs["reversals"]) == (0, 9_000)


def test_a_reversal_of_more_than_was_paid_fails(hooks, milestone, staff):
    fund(hooks, milestone)
    escrow = deliver_and_approve(hooks, milestone)
    stored = _deliver(
        hooks, event("transfer.reversed", reversed_transfer(amount=20_000, amount_reversed=20_000))
    )
    assert stored.status == E.FAILED
    assert _entries(escrow, K.REVERSAL) == []


# account.updated and payout.failed (the Connect endpoint)


def test_an_account_becoming_ready_releases_the_waiting_money(hooks, staff):
    milestone = milestone_awaiting_funding(account_id="acct_1", payouts_enabled=False)
    fund(hooks, milestone)
    escrow = deliver_and_approve(hooks, milestone)
    hooks.recorder.answer(
        "GET", "/v1/accounts/acct_1", shapes.account(payouts_enabled=True, transfers="active")
    )

    stored = _deliver(
        hooks,
        event("account.updated", shapes.account(payouts_enabled=True), account="acct_1"),
        connect=True,
    )

    assert (stored.status, stored.outcome) == (E.SUCCEEDED, "payouts enabled for acct_1")
    escrow.refresh_from_db()
    assert escrow.status == S.RELEASED
    assert _entries(escrow, K.RELEASE) == [
        {"escrow": -10_500, f"student:{escrow.payee_id}": 9_000, "platform:revenue": 1_500}
    ]
    assert Notification.objects.filter(key=f"money-released:{milestone.pk}").exists()
    books(escrow)


def test_an_account_whose_transfers_are_not_active_stays_not_ready(hooks):
    milestone_awaiting_funding(account_id="acct_1", payouts_enabled=False)
    hooks.recorder.answer(
        "GET", "/v1/accounts/acct_1", shapes.account(payouts_enabled=True, transfers="pending")
    )
    stored = _deliver(
        hooks, event("account.updated", shapes.account(), account="acct_1"), connect=True
    )
    assert stored.outcome == "payouts not enabled for acct_1"


def test_an_account_that_is_not_ours_is_ignored(hooks):
    stored = _deliver(
        hooks,
        event("account.updated", shapes.account(id="acct_other"), account="acct_other"),
        connect=True,
    )
    assert stored.status == E.IGNORED
    assert hooks.recorder.requests == []


def test_a_failed_payout_tells_the_student_and_staff_once(hooks, milestone, staff):
    payload = event("payout.failed", payout(), account="acct_1")

    stored = _deliver(hooks, payload, connect=True)
    hooks.deliver(payload, connect=True)

    assert (stored.status, stored.outcome) == (E.SUCCEEDED, "payout po_1 failed: account_closed")
    student = milestone.contract.student
    assert _told("payout_failed") == [student.email]
    assert _told("payout_failed_staff") == ["staff@example.com"]
    email = OutboundEmail.objects.get(template="payout_failed")
    assert "https://connect.stripe.com/express_login" in email.body_text
    assert "account_closed" in email.body_text


def test_a_platform_payout_failure_is_ignored(hooks):
    stored = _deliver(hooks, event("payout.failed", payout()))
    assert stored.status == E.IGNORED


def test_any_other_type_is_ignored(hooks):
    stored = _deliver(hooks, event("invoice.paid", {"id": "in_1", "object": "invoice"}))
    assert (stored.status, stored.outcome) == (E.IGNORED, "invoice.paid is not handled")
