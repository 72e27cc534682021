"""A payment localstripe charged whose answer we failed to record is funded once, by its webhook.

`escrow_fund` calls the real Stripe gateway (against localstripe) with no
transaction open, then records the answer in a transaction of its own. Here
that recording fails (the database refuses the funding's ledger entries): the
card is charged at localstripe and nothing is booked here. localstripe then
delivers `payment_intent.succeeded` to our endpoint on a live server, whose
handler finds the escrow by the intent's metadata and funds it, once. Only the
webhook path is exercised: localstripe ignores `Idempotency-Key` (a retry
would charge again there, where Stripe would answer the first intent).
"""

from __future__ import annotations

import time

import pytest
import stripe
from django.db import OperationalError, connection

from marketplace.errors import StateConflict
from payments.models import Escrow, LedgerTransaction, StripeEvent
from payments.services import funding
from payments.services.funding import escrow_fund
from tests.integration.conftest import LocalStripe
from tests.integration.test_localstripe_webhooks import (  # noqa: F401 (a fixture)
    API_KEY,
    WAIT_SECONDS,
    stripe_to_live_server,
)
from tests.payments.stripe_events import books, milestone_awaiting_funding

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the live server's thread and this test write the same tables at once, which "
        "in-memory SQLite refuses (`database table is locked`): PostgreSQL only",
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("stripe_to_live_server"),
]

S = Escrow.Status


def _wait_funded(escrow: Escrow) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        escrow.refresh_from_db()
        if escrow.status == S.FUNDED:
            return
        if time.monotonic() > deadline:
            events = list(StripeEvent.objects.values_list("event_id", "status", "error"))
            pytest.fail(f"escrow {escrow.reference} is {escrow.status}; events: {events}")
        time.sleep(0.1)


def test_a_charge_whose_answer_was_not_recorded_is_funded_once_by_its_webhook(
    localstripe: LocalStripe, monkeypatch
):
    escrow = milestone_awaiting_funding().escrow
    real = funding.ledger_post

    def funding_not_booked(**kwargs):  # type: ignore[no-untyped-def]
        if kwargs["kind"] == LedgerTransaction.Kind.FUNDING:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(funding, "ledger_post", funding_not_booked)
        with pytest.raises(OperationalError):
            escrow_fund(escrow_id=escrow.pk, actor=None, payment_method="pm_card_visa")

    escrow.refresh_from_db()
    assert (escrow.status, escrow.payment_intent_id, escrow.funding_started_at) == (
        S.AWAITING_FUNDING,
        "",
        None,
    )

    _wait_funded(escrow)

    client = stripe.StripeClient(API_KEY, base_addresses={"api": localstripe.url})
    ours = [
        intent
        for intent in client.v1.payment_intents.list().data
        if intent.metadata and intent.metadata["escrow_id"] == str(escrow.pk)
    ]
    assert [(intent.id, intent.status) for intent in ours] == [
        (escrow.payment_intent_id, "succeeded")
    ]
    assert LedgerTransaction.objects.filter(escrow=escrow, kind="funding").count() == 1
    assert escrow.events.filter(to_status=S.FUNDED).count() == 1
    assert books(escrow)["held"] == escrow.charge_cents
    with pytest.raises(StateConflict):
        escrow_fund(escrow_id=escrow.pk, actor=None, payment_method="pm_card_visa")
