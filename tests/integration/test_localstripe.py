"""The real `StripeGateway` against a real localstripe server (a stateful fake Stripe API).

localstripe (GPL-3.0-or-later, a `test` extra only; the product never imports
it) runs in a subprocess bound to 127.0.0.1 only: its own CLI binds every
interface, so the fixture runs its aiohttp app with `web.run_app(app,
host="127.0.0.1", port=<free port>)`. It starts empty (its state is kept in
memory: the pickle it would write to the shared /tmp/localstripe.pickle is
switched off, and `DELETE /_config/data` clears it once it answers) and is
killed by its PID at teardown (the `localstripe` fixture, in conftest.py, shared
with test_localstripe_webhooks.py). The gateway reaches it through
`settings.STRIPE_API_BASE`, with any `sk_test_` key.

localstripe has no Connect: accounts, account links and transfers are 404
there, and Stripe's own Connect endpoints cannot be reached from here. Those
calls are covered by tests/payments/test_stripe_gateway.py, where the HTTP
layer is replaced by a recorder checking Stripe's documented request shapes
(the only allowed mock). Nothing is mocked in this module.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

pytest.importorskip(
    "localstripe",
    reason="localstripe is not installed (pip install -e '.[test]' installs it)",
)

import stripe  # noqa: E402

from marketplace.errors import TransientError  # noqa: E402
from payments.gateways import get_gateway  # noqa: E402
from payments.gateways.base import (  # noqa: E402
    GatewayMisconfigured,
    PaymentDeclined,
    PaymentIntentResult,
    WebhookSignatureInvalid,
)
from payments.gateways.stripe import StripeGateway  # noqa: E402
from tests.integration.conftest import LocalStripe  # noqa: E402

WEBHOOK_SECRET = "whsec_localstripe_test"
API_KEY = "sk_test_localstripe"
WEBHOOK_TIMEOUT = 15.0


@dataclass
class Delivery:
    body: bytes
    signature: str

    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """A small HTTP server on 127.0.0.1 that keeps each POST's raw body and Stripe-Signature."""

    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def record(self, delivery: Delivery) -> None:
        with self.arrived:
            self.deliveries.append(delivery)
            self.arrived.notify_all()

    def wait_for(self, event_type: str, object_id: str) -> Delivery:
        """The delivery of `event_type` about `object_id`; fails after WEBHOOK_TIMEOUT."""

        def found() -> Delivery | None:
            for delivery in self.deliveries:
                event = delivery.event()
                if event["type"] == event_type and event["data"]["object"]["id"] == object_id:
                    return delivery
            return None

        deadline = time.monotonic() + WEBHOOK_TIMEOUT
        with self.arrived:
            while (delivery := found()) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [d.event()["type"] for d in self.deliveries]
                    pytest.fail(
                        f"no {event_type} for {object_id} after {WEBHOOK_TIMEOUT} s: {seen}"
                    )
                self.arrived.wait(remaining)
        return delivery


@pytest.fixture(scope="session")
def webhooks(localstripe: LocalStripe) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.record(Delivery(body=body, signature=self.headers.get("Stripe-Signature", "")))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/stripe/webhook/"
    localstripe.register_webhook("itest", receiver.url, WEBHOOK_SECRET)
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def gateway(settings, localstripe: LocalStripe) -> StripeGateway:
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_SECRET_KEY = API_KEY
    settings.STRIPE_API_BASE = localstripe.url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    gateway = get_gateway()
    assert isinstance(gateway, StripeGateway)
    return gateway


@pytest.fixture
def stripe_client(localstripe: LocalStripe) -> stripe.StripeClient:
    """A plain SDK client, to look at localstripe's state behind the gateway's back."""
    return stripe.StripeClient(API_KEY, base_addresses={"api": localstripe.url})


def _key() -> str:
    # localstripe ignores Idempotency-Key; unique keys keep these tests honest on real Stripe too.
    return f"itest-{uuid.uuid4().hex}"


def _fund(
    gateway: StripeGateway,
    *,
    amount: int = 10_500,
    currency: str = "EUR",
    payment_method: str | None = "pm_card_visa",
) -> tuple[PaymentIntentResult, str]:
    reference = f"M-{uuid.uuid4().hex[:8]}"
    intent = gateway.create_payment_intent(
        amount=amount,
        currency=currency,
        metadata={"escrow_id": "1", "reference": reference},
        idempotency_key=_key(),
        payment_method=payment_method,
    )
    return intent, reference


def _intent_with_reference(client: stripe.StripeClient, reference: str) -> Any:
    (intent,) = [
        pi
        for pi in client.v1.payment_intents.list({"limit": 100}).auto_paging_iter()
        if pi.metadata.to_dict().get("reference") == reference
    ]
    return intent


def _failed_charge(client: stripe.StripeClient, declined: PaymentDeclined) -> Any:
    """The failed Charge a decline names (in the CardError's body, as Stripe does)."""
    stripe_error = declined.__cause__
    assert isinstance(stripe_error, stripe.CardError)
    assert isinstance(stripe_error.json_body, dict)
    return client.v1.charges.retrieve(stripe_error.json_body["error"]["charge"])


def test_a_confirmed_visa_payment_succeeds_with_a_charge(gateway, stripe_client):
    intent, reference = _fund(gateway)

    assert intent.status == "succeeded"
    assert intent.charge_id.startswith("ch_")
    assert (intent.amount, intent.currency) == (10_500, "EUR")
    assert gateway.retrieve_payment_intent(payment_intent_id=intent.id) == intent
    charge = stripe_client.v1.charges.retrieve(intent.charge_id)
    assert (charge.status, charge.amount, charge.payment_intent) == ("succeeded", 10_500, intent.id)
    assert _intent_with_reference(stripe_client, reference).metadata.to_dict() == {
        "escrow_id": "1",
        "reference": reference,
    }
    # localstripe's balance transactions carry no fee.
    assert gateway.retrieve_charge_fee(charge_id=intent.charge_id) == 0


def test_a_yen_amount_is_charged_as_is(gateway, stripe_client):
    intent, _ = _fund(gateway, amount=5_000, currency="JPY")

    assert (intent.amount, intent.currency) == (5_000, "JPY")
    charge = stripe_client.v1.charges.retrieve(intent.charge_id)
    assert (charge.amount, charge.currency) == (5_000, "jpy")


def test_a_declined_card_raises_payment_declined_and_charges_nothing(gateway, stripe_client):
    with pytest.raises(PaymentDeclined) as declined:
        _fund(gateway, payment_method="pm_card_chargeCustomerFail")

    assert declined.value.decline_code == "card_declined"
    assert declined.value.status_code == 402
    failed = _failed_charge(stripe_client, declined.value)
    assert (failed.status, failed.paid) == ("failed", False)
    assert failed.failure_code == "card_declined"
    intent = gateway.retrieve_payment_intent(payment_intent_id=failed.payment_intent)
    assert intent is not None
    assert intent.status == "requires_payment_method"


def test_without_a_payment_method_the_intent_waits_then_confirm_charges_it(gateway):
    intent, _ = _fund(gateway, payment_method=None)

    assert intent.status == "requires_payment_method"
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert intent.charge_id == ""

    key = _key()
    confirmed = gateway.confirm_payment_intent(
        payment_intent_id=intent.id, payment_method="pm_card_visa", idempotency_key=key
    )
    assert confirmed.id == intent.id
    assert confirmed.status == "succeeded"
    assert confirmed.charge_id.startswith("ch_")

    # Asked again (a retry after a lost answer): the succeeded intent, no second charge.
    again = gateway.confirm_payment_intent(
        payment_intent_id=intent.id, payment_method="pm_card_visa", idempotency_key=key
    )
    assert again == confirmed


def test_confirming_with_a_declining_card_raises_payment_declined(gateway):
    intent, _ = _fund(gateway, payment_method=None)

    with pytest.raises(PaymentDeclined) as declined:
        gateway.confirm_payment_intent(
            payment_intent_id=intent.id,
            payment_method="pm_card_chargeCustomerFail",
            idempotency_key=_key(),
        )

    assert declined.value.decline_code == "card_declined"
    after = gateway.retrieve_payment_intent(payment_intent_id=intent.id)
    assert after is not None
    assert after.status == "requires_payment_method"
    assert after.charge_id != ""  # the failed charge


def test_partial_then_full_refunds(gateway):
    intent, _ = _fund(gateway, amount=10_000)

    partial_id = gateway.create_refund(
        payment_intent_id=intent.id, amount=4_000, idempotency_key=_key()
    )
    rest_id = gateway.create_refund(
        payment_intent_id=intent.id, amount=6_000, idempotency_key=_key()
    )

    partial = gateway.retrieve_refund(refund_id=partial_id)
    rest = gateway.retrieve_refund(refund_id=rest_id)
    assert partial is not None
    assert rest is not None
    assert (partial.amount, partial.currency, partial.status) == (4_000, "EUR", "succeeded")
    assert (rest.amount, rest.payment_intent) == (6_000, intent.id)


def test_a_full_refund(gateway):
    intent, _ = _fund(gateway, amount=7_700)

    refund_id = gateway.create_refund(
        payment_intent_id=intent.id, amount=intent.amount, idempotency_key=_key()
    )

    refund = gateway.retrieve_refund(refund_id=refund_id)
    assert refund is not None
    assert (refund.amount, refund.payment_intent, refund.status) == (7_700, intent.id, "succeeded")


def test_reads_of_missing_objects_answer_none(gateway):
    assert gateway.retrieve_payment_intent(payment_intent_id="pi_doesnotexist") is None
    assert gateway.retrieve_refund(refund_id="re_doesnotexist") is None
    assert gateway.retrieve_charge_fee(charge_id="ch_doesnotexist") is None


@pytest.mark.parametrize(
    "connect_call",
    [
        lambda g: g.create_account(
            email="student@example.edu", country="FR", idempotency_key=_key()
        ),
        lambda g: g.create_account_link(
            account_id="acct_1", refresh_url="http://x/r", return_url="http://x/d"
        ),
        lambda g: g.create_transfer(
            amount=100,
            currency="EUR",
            destination="acct_1",
            source_transaction="ch_1",
            transfer_group="M-1",
            idempotency_key=_key(),
        ),
        lambda g: g.retrieve_transfer(transfer_id="tr_1"),
    ],
    ids=["account", "account-link", "transfer", "retrieve-transfer"],
)
def test_connect_is_missing_on_localstripe_and_that_is_no_transient_failure(
    gateway, connect_call: Callable[[StripeGateway], Any]
):
    with pytest.raises(GatewayMisconfigured) as missing:
        connect_call(gateway)
    assert not isinstance(missing.value, TransientError)


def test_signed_payment_intent_succeeded_webhook_verifies(gateway, webhooks):
    intent, _ = _fund(gateway)

    delivery = webhooks.wait_for("payment_intent.succeeded", intent.id)

    event = gateway.construct_event(payload=delivery.body, signature=delivery.signature)
    assert event["type"] == "payment_intent.succeeded"
    assert event["data"]["object"]["id"] == intent.id
    assert event["data"]["object"]["amount"] == intent.amount


def test_signed_payment_failed_webhook_verifies(gateway, webhooks, stripe_client):
    with pytest.raises(PaymentDeclined) as declined:
        _fund(gateway, payment_method="pm_card_chargeCustomerFail")
    failed_charge = _failed_charge(stripe_client, declined.value)

    delivery = webhooks.wait_for("payment_intent.payment_failed", failed_charge.payment_intent)

    event = gateway.construct_event(payload=delivery.body, signature=delivery.signature)
    assert event["type"] == "payment_intent.payment_failed"
    assert event["data"]["object"]["last_payment_error"]["code"] == "card_declined"


def test_delivered_webhooks_do_not_verify_with_another_secret(gateway, webhooks, settings):
    intent, _ = _fund(gateway)
    delivery = webhooks.wait_for("payment_intent.succeeded", intent.id)

    settings.STRIPE_WEBHOOK_SECRET = "whsec_not_the_endpoint_secret"
    with pytest.raises(WebhookSignatureInvalid):
        get_gateway().construct_event(payload=delivery.body, signature=delivery.signature)
    with pytest.raises(WebhookSignatureInvalid):
        gateway.construct_event(payload=delivery.body + b" ", signature=delivery.signature)


# The escrow services end to end on localstripe: funding without a payment method,
# then confirming that same intent (Stripe.js's path, done server-side), and a refund.


@pytest.fixture
def stripe_escrow(db, gateway, settings):  # type: ignore[no-untyped-def]
    from tests.factories import CompanyMemberFactory
    from tests.factories.escrows import make_escrow

    settings.COMPANY_FEE_BPS = 500
    settings.STUDENT_COMMISSION_BPS = 1000
    member = CompanyMemberFactory()
    escrow = make_escrow(
        company=member.company_membership.company,
        amount_cents=10_000,
        currency="EUR",
        reference=f"itest:{uuid.uuid4().hex[:8]}",
    )
    return escrow, member


def test_escrow_funded_without_then_with_a_card_confirms_one_intent(
    gateway, stripe_escrow, stripe_client
):
    from payments.models import Escrow, LedgerTransaction
    from payments.services.funding import escrow_fund
    from payments.services.refunds import escrow_refund

    escrow, member = stripe_escrow

    waiting = escrow_fund(escrow_id=escrow.pk, actor=member)
    again = escrow_fund(escrow_id=escrow.pk, actor=member)
    # (A declined confirmation then a second one on the same intent is Stripe's documented
    # retry, pinned in tests/payments/test_escrow_stripe.py: localstripe keeps such an
    # intent's failed charge and refuses to confirm it again.)
    paid = escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_visa")

    assert waiting.status == "requires_payment_method"
    assert (again.status, again.client_secret) == (waiting.status, waiting.client_secret)
    assert paid.status == "succeeded"
    escrow.refresh_from_db()
    assert escrow.status == Escrow.Status.FUNDED
    assert escrow.funding_attempts == 0
    assert escrow.payment_intent_id == waiting.escrow.payment_intent_id
    intents = [
        pi
        for pi in stripe_client.v1.payment_intents.list({"limit": 100}).auto_paging_iter()
        if pi.metadata.to_dict().get("reference") == escrow.reference
    ]
    assert [(pi.id, pi.status, pi.amount) for pi in intents] == [
        (escrow.payment_intent_id, "succeeded", 10_500)
    ]
    assert stripe_client.v1.charges.retrieve(escrow.charge_id).amount == 10_500
    # localstripe charges no fee: no gateway_fee transaction.
    assert not LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.GATEWAY_FEE).exists()

    escrow_refund(escrow_id=escrow.pk, actor=member)

    escrow.refresh_from_db()
    refund = gateway.retrieve_refund(refund_id=escrow.refund_id)
    assert refund is not None
    assert (refund.amount, refund.payment_intent, refund.status) == (
        10_500,
        escrow.payment_intent_id,
        "succeeded",
    )
