"""Stripe's webhooks from a real localstripe to our own endpoint on a live Django server.

Nothing is mocked: localstripe (the `localstripe` fixture of conftest.py) signs
and POSTs `payment_intent.succeeded` to `<live_server>/api/v1/payments/stripe/webhook/`;
the view verifies it with STRIPE_WEBHOOK_SECRET, stores it and runs the task
(eager Celery, in the server's thread), whose handler reads the intent back
from localstripe through the real Stripe gateway and funds the escrow. The live
server runs in this process, on the test database, so the test is
transactional and polls the database, bounded, for the outcome.

localstripe delivers every event to every registered endpoint, about a second
after it happens; an event of another test still in flight may reach this
endpoint too, so assertions name this test's own escrow and intent. The
endpoint is registered for this test only: at teardown it is replaced by one
that receives no event type (localstripe cannot delete an endpoint).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from payments.gateways import get_gateway
from payments.gateways.stripe import StripeGateway
from payments.models import Escrow, LedgerTransaction, StripeEvent
from tests.integration.conftest import LocalStripe
from tests.payments.stripe_events import books, milestone_awaiting_funding

SECRET = "whsec_live_server_test"
API_KEY = "sk_test_localstripe"
ENDPOINT = "live-server"
WAIT_SECONDS = 20.0

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stripe_to_live_server(settings, live_server, localstripe: LocalStripe) -> Iterator[str]:
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_SECRET_KEY = API_KEY
    settings.STRIPE_API_BASE = localstripe.url
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    settings.COMPANY_FEE_BPS = 500
    settings.STUDENT_COMMISSION_BPS = 1000
    # live_server listens on localhost, an IPv4 socket: 127.0.0.1 reaches it.
    port = live_server.url.rsplit(":", 1)[1]
    url = f"http://127.0.0.1:{port}/api/v1/payments/stripe/webhook/"
    localstripe.register_webhook(ENDPOINT, url, SECRET, events=["payment_intent.succeeded"])
    try:
        yield url
    finally:
        localstripe.register_webhook(ENDPOINT, url, SECRET, events=["none.never"])


def _wait_funded(escrow: Escrow, payment_intent_id: str) -> StripeEvent:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        escrow.refresh_from_db()
        stored = StripeEvent.objects.filter(
            type="payment_intent.succeeded", payload__data__object__id=payment_intent_id
        ).first()
        if escrow.status == Escrow.Status.FUNDED and stored and stored.is_done:
            return stored
        if time.monotonic() > deadline:
            events = list(StripeEvent.objects.values_list("event_id", "status", "error"))
            pytest.fail(
                f"escrow {escrow.reference} is {escrow.status} after {WAIT_SECONDS} s; "
                f"events: {events}"
            )
        time.sleep(0.1)


def _pay(escrow: Escrow) -> str:
    gateway = get_gateway()
    assert isinstance(gateway, StripeGateway)
    intent = gateway.create_payment_intent(
        amount=escrow.charge_cents,
        currency=escrow.currency,
        metadata={"escrow_id": str(escrow.pk), "reference": escrow.reference},
        idempotency_key=f"itest-{uuid.uuid4().hex}",
        payment_method="pm_card_visa",
    )
    assert intent.status == "succeeded"
    return intent.id


def test_a_payment_localstripe_reports_funds_the_escrow_through_our_endpoint(
    stripe_to_live_server,
):
    milestone = milestone_awaiting_funding()
    escrow = milestone.escrow
    assert (escrow.gateway, escrow.status) == ("stripe", Escrow.Status.AWAITING_FUNDING)
    payment_intent_id = _pay(escrow)
    # Our request recorded the intent (as escrow_fund does); the success comes by webhook.
    Escrow.objects.filter(pk=escrow.pk).update(payment_intent_id=payment_intent_id)

    stored = _wait_funded(escrow, payment_intent_id)

    assert (stored.status, stored.attempts, stored.escrow_id) == (
        StripeEvent.Status.SUCCEEDED,
        1,
        escrow.pk,
    )
    assert escrow.payment_intent_id == payment_intent_id
    assert escrow.charge_id.startswith("ch_")
    assert LedgerTransaction.objects.filter(escrow=escrow, kind="funding").count() == 1
    assert books(escrow)["held"] == escrow.charge_cents == 10_500


def test_a_payment_whose_answer_we_never_recorded_is_found_by_its_metadata(
    stripe_to_live_server,
):
    milestone = milestone_awaiting_funding()
    escrow = milestone.escrow
    payment_intent_id = _pay(escrow)  # our side never learnt the intent's id

    stored = _wait_funded(escrow, payment_intent_id)

    assert stored.status == StripeEvent.Status.SUCCEEDED
    assert escrow.payment_intent_id == payment_intent_id
    books(escrow)
