"""Escrow funding, release and refund driven through the real `StripeGateway`.

Stripe's API cannot be reached from here, its Connect endpoints (transfers,
accounts) included, and localstripe has no Connect. So the SDK's HTTP layer is
replaced by the recorder of `tests/payments/stripe_recorder.py`, which checks
every request against Stripe's documented shapes (method, path, form
parameters, `Idempotency-Key`) and answers the JSON of Stripe's API reference
(https://docs.stripe.com/api). The escrow services, the gateway, the SDK's
encoding, its bounded retries and its error classes all run for real; these
tests pin the exact requests each money movement makes.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Sum

from marketplace.errors import TransientError
from payments.gateways import stripe as stripe_gateway
from payments.gateways.base import PaymentDeclined
from payments.models import Escrow, EscrowEvent, LedgerEntry, LedgerTransaction, PayoutAccount
from payments.services.funding import escrow_fund, escrow_mark_funded, escrow_record_gateway_fee
from payments.services.refunds import escrow_refund
from payments.services.releases import escrow_release, escrow_retry_pending_releases
from tests.factories import CompanyMemberFactory, StudentFactory
from tests.factories.escrows import make_escrow
from tests.payments import stripe_recorder as shapes
from tests.payments.stripe_recorder import StripeRecorder

S = Escrow.Status
K = LedgerTransaction.Kind
FEE = 334  # Stripe's fee on the 105.00 EUR charge, from its balance transaction


@pytest.fixture
def recorder(settings, monkeypatch) -> StripeRecorder:
    recorder = StripeRecorder()
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_escrow"
    settings.STRIPE_API_BASE = ""
    settings.COMPANY_FEE_BPS = 500
    settings.STUDENT_COMMISSION_BPS = 1000
    monkeypatch.setattr(stripe_gateway, "_shared_http_client", lambda: recorder)
    return recorder


@pytest.fixture
def member(db):
    return CompanyMemberFactory()


@pytest.fixture
def payee(db):
    return StudentFactory()


@pytest.fixture
def escrow(recorder, member, payee) -> Escrow:
    return make_escrow(
        company=member.company_membership.company,
        payee=payee,
        amount_cents=10_000,
        currency="EUR",
        reference="contract:7:milestone:1",
    )


def _sent(recorder: StripeRecorder) -> list[tuple[str, str, str | None]]:
    return [(r.method, r.path, r.idempotency_key) for r in recorder.requests]


def _intent(**overrides: Any) -> dict[str, Any]:
    return shapes.payment_intent(**overrides)


def _waiting(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "status": "requires_payment_method",
        "latest_charge": None,
        "payment_method": None,
        **overrides,
    }
    return shapes.payment_intent(**fields)


def _answer_fee(recorder: StripeRecorder, charge_id: str = "ch_1", fee: int = FEE) -> None:
    recorder.answer(
        "GET",
        f"/v1/charges/{charge_id}",
        shapes.charge(id=charge_id, balance_transaction=shapes.balance_transaction(fee=fee)),
    )


def _create_form(escrow: Escrow, **extra: str) -> dict[str, str]:
    return {
        "amount": "10500",
        "currency": "eur",
        "payment_method_types[0]": "card",
        "metadata[escrow_id]": str(escrow.pk),
        "metadata[reference]": escrow.reference,
        **extra,
    }


def _entries(escrow: Escrow, kind: str) -> list[dict[str, int]]:
    return [
        dict(txn.entries.values_list("account", "amount_cents"))
        for txn in LedgerTransaction.objects.filter(escrow=escrow, kind=kind)
    ]


def _balance(account: str) -> int:
    return (
        LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount_cents"))["total"]
        or 0
    )


def _fund(recorder: StripeRecorder, escrow: Escrow, member) -> Escrow:
    recorder.answer("POST", "/v1/payment_intents", _intent())
    _answer_fee(recorder)
    escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_visa")
    recorder.requests.clear()
    escrow.refresh_from_db()
    return escrow


def _ready(payee, account_id: str = "acct_1") -> PayoutAccount:
    return PayoutAccount.objects.create(
        user=payee, gateway="stripe", account_id=account_id, payouts_enabled=True
    )


# Funding.


def test_fund_with_a_payment_method_is_one_confirmed_create_then_the_fee_is_booked(
    recorder, escrow, member, assert_books
):
    recorder.answer("POST", "/v1/payment_intents", _intent())
    _answer_fee(recorder)

    result = escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_visa")

    key = f"escrow-{escrow.pk}-fund-0"
    assert _sent(recorder) == [
        ("POST", "/v1/payment_intents", key),
        ("GET", "/v1/charges/ch_1", None),
    ]
    create, fee = recorder.requests
    assert create.form == _create_form(escrow, payment_method="pm_card_visa", confirm="true")
    assert fee.query == {"expand[0]": "balance_transaction"}
    assert (result.status, result.amount_cents, result.fee_cents) == ("succeeded", 10_500, 500)
    escrow.refresh_from_db()
    assert (escrow.status, escrow.payment_intent_id, escrow.charge_id) == (S.FUNDED, "pi_1", "ch_1")
    assert escrow.funding_attempts == 0
    company = f"company:{escrow.company_id}"
    assert _entries(escrow, K.FUNDING) == [{company: -10_500, "escrow": 10_500}]
    assert _entries(escrow, K.GATEWAY_FEE) == [{"platform:revenue": -FEE, "stripe:fees": FEE}]
    assert LedgerTransaction.objects.get(kind=K.GATEWAY_FEE).memo == (
        "contract:7:milestone:1 Stripe fee"
    )
    assert assert_books(escrow)["held"] == 10_500


def test_fund_without_then_with_a_payment_method_creates_one_intent_and_confirms_it(
    recorder, escrow, member
):
    recorder.answer("POST", "/v1/payment_intents", _waiting())
    recorder.answer("GET", "/v1/payment_intents/pi_1", _waiting(), times=2)
    recorder.answer(
        "POST",
        "/v1/payment_intents/pi_1",
        shapes.payment_intent(
            status="requires_confirmation", latest_charge=None, payment_method="pm_card_visa"
        ),
    )
    recorder.answer("POST", "/v1/payment_intents/pi_1/confirm", _intent())
    _answer_fee(recorder)

    first = escrow_fund(escrow_id=escrow.pk, actor=member)
    again = escrow_fund(escrow_id=escrow.pk, actor=member)
    paid = escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_visa")

    key = f"escrow-{escrow.pk}-fund-0"
    assert _sent(recorder) == [
        ("POST", "/v1/payment_intents", key),
        ("GET", "/v1/payment_intents/pi_1", None),
        ("GET", "/v1/payment_intents/pi_1", None),
        ("POST", "/v1/payment_intents/pi_1", f"{key}-confirm-payment-method"),
        ("POST", "/v1/payment_intents/pi_1/confirm", f"{key}-confirm"),
        ("GET", "/v1/charges/ch_1", None),
    ]
    create, _, _, attach, confirm, _ = recorder.requests
    assert create.form == _create_form(escrow)
    assert attach.form == {"payment_method": "pm_card_visa"}
    assert confirm.form == {}
    assert (first.status, first.client_secret) == ("requires_payment_method", "pi_1_secret_abc123")
    assert (again.status, again.client_secret) == (first.status, first.client_secret)
    assert paid.status == "succeeded"
    escrow.refresh_from_db()
    assert (escrow.status, escrow.payment_intent_id, escrow.charge_id) == (S.FUNDED, "pi_1", "ch_1")
    assert len(_entries(escrow, K.FUNDING)) == 1


def test_a_declined_card_counts_the_attempt_and_the_retry_is_a_new_intent_under_the_next_key(
    recorder, escrow, member, assert_books
):
    recorder.answer(
        "POST",
        "/v1/payment_intents",
        shapes.error(
            "card_error", "Your card was declined.", code="card_declined", decline_code="generic"
        ),
        status=402,
    )
    recorder.answer("POST", "/v1/payment_intents", _intent(id="pi_2", latest_charge="ch_2"))
    _answer_fee(recorder, "ch_2")

    with pytest.raises(PaymentDeclined) as declined:
        escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_chargeDeclined")
    assert declined.value.decline_code == "generic"
    escrow.refresh_from_db()
    assert (escrow.status, escrow.funding_attempts, escrow.payment_intent_id) == (
        S.AWAITING_FUNDING,
        1,
        "",
    )
    assert LedgerTransaction.objects.count() == 0

    escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_visa")

    assert _sent(recorder) == [
        ("POST", "/v1/payment_intents", f"escrow-{escrow.pk}-fund-0"),
        ("POST", "/v1/payment_intents", f"escrow-{escrow.pk}-fund-1"),
        ("GET", "/v1/charges/ch_2", None),
    ]
    assert recorder.requests[0].form["payment_method"] == "pm_card_chargeDeclined"
    assert recorder.requests[1].form["payment_method"] == "pm_card_visa"
    escrow.refresh_from_db()
    assert (escrow.status, escrow.payment_intent_id, escrow.charge_id) == (S.FUNDED, "pi_2", "ch_2")
    assert_books(escrow)


def test_a_declined_confirmation_confirms_the_same_intent_again_under_the_next_key(
    recorder, escrow, member
):
    recorder.answer("POST", "/v1/payment_intents", _waiting())
    escrow_fund(escrow_id=escrow.pk, actor=member)
    attached = shapes.payment_intent(
        status="requires_confirmation", latest_charge=None, payment_method="pm_card_visa"
    )
    recorder.answer("GET", "/v1/payment_intents/pi_1", attached, times=2)
    recorder.answer(
        "POST",
        "/v1/payment_intents/pi_1/confirm",
        shapes.error("card_error", "Insufficient funds.", code="card_declined"),
        status=402,
    )
    recorder.answer("POST", "/v1/payment_intents/pi_1/confirm", _intent())
    _answer_fee(recorder)

    with pytest.raises(PaymentDeclined):
        escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_visa")
    escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_visa")

    confirms = [r.idempotency_key for r in recorder.requests if r.path.endswith("/confirm")]
    assert confirms == [f"escrow-{escrow.pk}-fund-0-confirm", f"escrow-{escrow.pk}-fund-1-confirm"]
    assert [r.path for r in recorder.writes()].count("/v1/payment_intents") == 1
    escrow.refresh_from_db()
    assert (escrow.status, escrow.funding_attempts, escrow.payment_intent_id) == (
        S.FUNDED,
        1,
        "pi_1",
    )


@pytest.mark.parametrize("status", ["requires_action", "processing"])
def test_3d_secure_or_processing_keeps_the_escrow_unfunded_with_the_client_secret(
    recorder, escrow, member, status, assert_books
):
    recorder.answer("POST", "/v1/payment_intents", _intent(status=status, latest_charge=None))
    recorder.answer("GET", "/v1/payment_intents/pi_1", _intent(status=status, latest_charge=None))

    result = escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_threeDSecure2")
    # Asked again with the card (a double click): the intent is read, nothing is written.
    again = escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_threeDSecure2")

    assert (result.status, result.client_secret) == (status, "pi_1_secret_abc123")
    assert (again.status, again.client_secret) == (status, "pi_1_secret_abc123")
    assert _sent(recorder) == [
        ("POST", "/v1/payment_intents", f"escrow-{escrow.pk}-fund-0"),
        ("GET", "/v1/payment_intents/pi_1", None),
    ]
    escrow.refresh_from_db()
    assert (escrow.status, escrow.payment_intent_id, escrow.funding_attempts) == (
        S.AWAITING_FUNDING,
        "pi_1",
        0,
    )
    assert LedgerTransaction.objects.count() == 0
    assert EscrowEvent.objects.count() == 0

    # The customer finished 3-D Secure in the browser: the next call finds the intent succeeded.
    recorder.answer("GET", "/v1/payment_intents/pi_1", _intent())
    _answer_fee(recorder)
    assert escrow_fund(escrow_id=escrow.pk, actor=member).status == "succeeded"
    escrow.refresh_from_db()
    assert escrow.status == S.FUNDED
    assert_books(escrow)


def test_a_canceled_intent_is_replaced_under_the_next_key(recorder, escrow, member):
    recorder.answer("POST", "/v1/payment_intents", _waiting())
    escrow_fund(escrow_id=escrow.pk, actor=member)
    recorder.answer("GET", "/v1/payment_intents/pi_1", _waiting(status="canceled"))
    recorder.answer("POST", "/v1/payment_intents", _intent(id="pi_2", latest_charge="ch_2"))
    _answer_fee(recorder, "ch_2")

    escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_visa")

    assert _sent(recorder)[1:] == [
        ("GET", "/v1/payment_intents/pi_1", None),
        ("POST", "/v1/payment_intents", f"escrow-{escrow.pk}-fund-1"),
        ("GET", "/v1/charges/ch_2", None),
    ]
    escrow.refresh_from_db()
    assert (escrow.status, escrow.payment_intent_id, escrow.funding_attempts) == (
        S.FUNDED,
        "pi_2",
        1,
    )


def test_a_lost_answer_to_a_charging_create_is_retried_under_the_same_key(recorder, escrow, member):
    # Stripe may have charged the card: only the same key can tell without charging twice.
    recorder.fail_connection("POST", "/v1/payment_intents", times=3)
    recorder.answer("POST", "/v1/payment_intents", _intent())
    _answer_fee(recorder)

    with pytest.raises(TransientError):
        escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_visa")
    escrow.refresh_from_db()
    assert (escrow.status, escrow.funding_attempts, escrow.payment_intent_id) == (
        S.AWAITING_FUNDING,
        0,
        "",
    )

    escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_visa")

    key = f"escrow-{escrow.pk}-fund-0"
    assert [r.idempotency_key for r in recorder.writes()] == [key] * 4
    escrow.refresh_from_db()
    assert escrow.status == S.FUNDED


def test_a_failed_create_without_a_card_only_counts_the_attempt(recorder, escrow, member):
    recorder.answer(
        "POST", "/v1/payment_intents", shapes.error("api_error", "Try again."), 500, times=3
    )
    recorder.answer("POST", "/v1/payment_intents", _waiting(id="pi_2"))

    with pytest.raises(TransientError):
        escrow_fund(escrow_id=escrow.pk, actor=member)
    before_retry = Escrow.objects.filter(pk=escrow.pk).values().get()
    result = escrow_fund(escrow_id=escrow.pk, actor=member)

    assert before_retry["funding_attempts"] == 1
    assert before_retry["payment_intent_id"] == ""
    assert [r.idempotency_key for r in recorder.writes()] == [
        *[f"escrow-{escrow.pk}-fund-0"] * 3,
        f"escrow-{escrow.pk}-fund-1",
    ]
    assert result.client_secret == "pi_2_secret_abc123"
    assert EscrowEvent.objects.count() == 0


def test_a_failed_confirmation_is_retried_safely_under_the_next_key(recorder, escrow, member):
    recorder.answer("POST", "/v1/payment_intents", _waiting())
    escrow_fund(escrow_id=escrow.pk, actor=member)
    recorder.answer("GET", "/v1/payment_intents/pi_1", _waiting())
    recorder.answer(
        "POST",
        "/v1/payment_intents/pi_1",
        _intent(status="requires_confirmation", latest_charge=None, payment_method="pm_card_visa"),
    )
    recorder.answer(
        "POST",
        "/v1/payment_intents/pi_1/confirm",
        shapes.error("api_error", "Try again."),
        status=500,
        times=3,
    )
    # The retry reads the intent first: here the first confirmation did go through.
    recorder.answer("GET", "/v1/payment_intents/pi_1", _intent())
    _answer_fee(recorder)

    with pytest.raises(TransientError):
        escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_visa")
    escrow.refresh_from_db()
    assert (escrow.status, escrow.funding_attempts) == (S.AWAITING_FUNDING, 1)

    escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_visa")

    assert _sent(recorder)[-2:] == [
        ("GET", "/v1/payment_intents/pi_1", None),
        ("GET", "/v1/charges/ch_1", None),
    ]
    assert len([r for r in recorder.writes() if r.path.endswith("/confirm")]) == 3
    escrow.refresh_from_db()
    assert escrow.status == S.FUNDED
    assert len(_entries(escrow, K.FUNDING)) == 1


# Stripe's fee.


def test_a_fee_not_known_yet_is_booked_later_once(recorder, escrow, member, assert_books):
    recorder.answer("POST", "/v1/payment_intents", _intent())
    recorder.answer("GET", "/v1/charges/ch_1", shapes.charge(balance_transaction=None))

    escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_visa")
    escrow.refresh_from_db()
    assert escrow.status == S.FUNDED
    assert _entries(escrow, K.GATEWAY_FEE) == []

    _answer_fee(recorder, fee=298)
    txn = escrow_record_gateway_fee(escrow_id=escrow.pk)
    assert escrow_record_gateway_fee(escrow_id=escrow.pk) == txn  # no second read
    assert [r.path for r in recorder.requests].count("/v1/charges/ch_1") == 2
    assert _entries(escrow, K.GATEWAY_FEE) == [{"platform:revenue": -298, "stripe:fees": 298}]
    assert_books(escrow)


def test_a_fee_read_that_fails_never_fails_the_funding(recorder, escrow, member):
    recorder.answer("POST", "/v1/payment_intents", _intent())
    recorder.answer(
        "GET", "/v1/charges/ch_1", shapes.error("api_error", "Try again."), 500, times=3
    )

    result = escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_visa")

    assert result.status == "succeeded"
    escrow.refresh_from_db()
    assert escrow.status == S.FUNDED
    assert LedgerTransaction.objects.filter(kind=K.GATEWAY_FEE).count() == 0


def test_a_payment_whose_answer_was_lost_is_funded_by_its_webhook(recorder, escrow):
    _answer_fee(recorder, "ch_9")

    funded = escrow_mark_funded(payment_intent_id="pi_9", charge_id="ch_9", escrow_id=escrow.pk)
    again = escrow_mark_funded(payment_intent_id="pi_9", charge_id="ch_9", escrow_id=escrow.pk)

    assert funded.pk == again.pk == escrow.pk
    escrow.refresh_from_db()
    assert (escrow.status, escrow.payment_intent_id, escrow.charge_id) == (S.FUNDED, "pi_9", "ch_9")
    assert len(_entries(escrow, K.FUNDING)) == 1
    assert len(_entries(escrow, K.GATEWAY_FEE)) == 1
    # A second intent succeeding for a funded escrow funds nothing more.
    escrow_mark_funded(payment_intent_id="pi_other", charge_id="ch_other", escrow_id=escrow.pk)
    escrow.refresh_from_db()
    assert escrow.payment_intent_id == "pi_9"
    assert len(_entries(escrow, K.FUNDING)) == 1


# Release and refund.


def test_release_transfers_the_payee_share_from_the_charge(
    recorder, escrow, member, payee, assert_books
):
    _ready(payee)
    _fund(recorder, escrow, member)
    recorder.answer("POST", "/v1/transfers", shapes.transfer(transfer_group=escrow.reference))

    escrow_release(escrow_id=escrow.pk, actor=member)

    assert _sent(recorder) == [("POST", "/v1/transfers", f"escrow-{escrow.pk}-release")]
    assert recorder.requests[0].form == {
        "amount": "9000",
        "currency": "eur",
        "destination": "acct_1",
        "source_transaction": "ch_1",
        "transfer_group": "contract:7:milestone:1",
    }
    escrow.refresh_from_db()
    assert (escrow.status, escrow.transfer_id) == (S.RELEASED, "tr_1")
    books = assert_books(escrow)
    assert books == {
        "charged": 10_500,
        "transferred": 9_000,
        "revenue": 1_500,
        "refunded": 0,
        "held": 0,
    }
    # Revenue is gross of Stripe's fee; the margin is what platform:revenue keeps.
    assert _balance("stripe:fees") == FEE
    assert _balance("platform:revenue") == 1_500 - FEE


def test_refund_gives_the_whole_charge_back(recorder, escrow, member, assert_books):
    _fund(recorder, escrow, member)
    recorder.answer("POST", "/v1/refunds", shapes.refund())

    escrow_refund(escrow_id=escrow.pk, actor=member, note="cancelled")

    assert _sent(recorder) == [("POST", "/v1/refunds", f"escrow-{escrow.pk}-refund")]
    assert recorder.requests[0].form == {"payment_intent": "pi_1", "amount": "10500"}
    escrow.refresh_from_db()
    assert (escrow.status, escrow.refund_id) == (S.REFUNDED, "re_1")
    assert assert_books(escrow)["refunded"] == 10_500
    # Stripe's fee stays paid: the cancelled job cost the platform that much.
    assert _balance("platform:revenue") == -FEE
    assert _balance("stripe:fees") == FEE


def test_a_refund_that_fails_waits_with_its_error_and_a_retry_completes(
    recorder, escrow, member, assert_books
):
    _fund(recorder, escrow, member)
    recorder.answer("POST", "/v1/refunds", shapes.error("api_error", "Try again."), 500, times=3)
    recorder.answer("POST", "/v1/refunds", shapes.refund())

    with pytest.raises(TransientError):
        escrow_refund(escrow_id=escrow.pk, actor=member)
    escrow.refresh_from_db()
    # Stripe may have refunded: the intent stays recorded, nothing is booked yet.
    assert (escrow.status, escrow.refund_id) == (S.REFUND_PENDING, "")
    assert escrow.last_error == "Stripe failed to answer; try again later."
    assert _entries(escrow, K.REFUND) == []

    escrow_refund(escrow_id=escrow.pk, actor=member)

    assert {r.idempotency_key for r in recorder.writes()} == {f"escrow-{escrow.pk}-refund"}
    assert assert_books(escrow)["refunded"] == 10_500


def test_a_failed_transfer_waits_with_its_error_and_the_retry_releases_under_the_same_key(
    recorder, escrow, member, payee, assert_books
):
    _ready(payee)
    _fund(recorder, escrow, member)
    # Three 500s: the first request and the SDK's two retries.
    recorder.answer(
        "POST", "/v1/transfers", shapes.error("api_error", "Something broke."), 500, times=3
    )
    recorder.answer("POST", "/v1/transfers", shapes.transfer())

    escrow_release(escrow_id=escrow.pk, actor=member)

    escrow.refresh_from_db()
    assert escrow.status == S.RELEASE_PENDING
    assert escrow.last_error == "Stripe failed to answer; try again later."
    assert (escrow.transfer_attempts, escrow.transfer_id) == (1, "")
    assert _entries(escrow, K.RELEASE) == []
    assert assert_books(escrow)["held"] == 10_500

    assert escrow_retry_pending_releases() == [escrow.pk]

    assert [r.idempotency_key for r in recorder.writes()] == [f"escrow-{escrow.pk}-release"] * 4
    assert {tuple(sorted(r.form.items())) for r in recorder.writes()} == {
        tuple(sorted(recorder.requests[0].form.items()))
    }
    escrow.refresh_from_db()
    assert (escrow.status, escrow.transfer_id, escrow.last_error) == (S.RELEASED, "tr_1", "")
    assert escrow.transfer_attempts == 2
    assert assert_books(escrow)["transferred"] == 9_000
