"""Stripe webhook deliveries for the tests: events as Stripe shapes them, signed as Stripe signs.

`install` points the product at the real `StripeGateway` (PAYMENT_GATEWAY
"stripe") whose HTTP layer is the recorder of `tests/payments/stripe_recorder.py`,
the suite's only mock of Stripe. Why there and not at the gateway's
`retrieve_*`: the handlers must read objects back from Stripe rather than trust
an event's payload, and the recorder shows that they did (each
`GET /v1/payment_intents/<id>` or `/v1/accounts/<id>` is recorded, and one that
nobody queued an answer for fails the test), while the SDK's parsing and the
gateway's mapping of Stripe's answers (an expanded `latest_charge`, the
`payouts_enabled` + `capabilities.transfers` readiness rule) run for real.
Signatures come from the SDK's own `WebhookSignature.generate_signature_header`.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

import stripe
from django.db.models import Sum
from rest_framework.test import APIClient

from payments.gateways import stripe as stripe_gateway_module
from payments.models import Escrow, LedgerEntry, LedgerTransaction, PayoutAccount
from payments.selectors import ledger_unbalanced_transactions
from projects.briefs.services import bid_submit
from projects.contracts.models import Milestone
from projects.contracts.services import bid_accept, milestone_approve, milestone_submit
from tests.factories import ProjectFactory, VerifiedStudentFactory
from tests.payments import stripe_recorder as shapes
from tests.payments.stripe_recorder import StripeRecorder

SECRET = "whsec_test"
CONNECT_SECRET = "whsec_connect_test"
PLATFORM_URL = "/api/v1/payments/stripe/webhook/"
CONNECT_URL = "/api/v1/payments/stripe/connect-webhook/"

_ids = itertools.count(1)


def event(
    event_type: str,
    obj: dict[str, Any],
    *,
    event_id: str | None = None,
    account: str | None = None,
    created: int | None = None,
) -> bytes:
    """An Event as https://docs.stripe.com/api/events/object shapes it, serialised."""
    body: dict[str, Any] = {
        "id": event_id or f"evt_test_{next(_ids)}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created or int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {"object": obj},
    }
    if account is not None:
        body["account"] = account
    return json.dumps(body).encode()


def signed(payload: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(
        payload.decode(), secret, timestamp=timestamp
    )


def dispute(
    *,
    id: str = "dp_1",
    amount: int = 10_500,
    currency: str = "eur",
    charge: str = "ch_1",
    payment_intent: str | None = "pi_1",
    status: str = "needs_response",
    reason: str = "fraudulent",
) -> dict[str, Any]:
    """https://docs.stripe.com/api/disputes/object"""
    return {
        "id": id,
        "object": "dispute",
        "amount": amount,
        "currency": currency,
        "charge": charge,
        "payment_intent": payment_intent,
        "reason": reason,
        "status": status,
        "is_charge_refundable": False,
        "livemode": False,
    }


def refunded_charge(
    *,
    id: str = "ch_1",
    amount: int = 10_500,
    amount_refunded: int = 10_500,
    currency: str = "eur",
    payment_intent: str = "pi_1",
    refund_id: str | None = "re_outside_1",
) -> dict[str, Any]:
    """A Charge after a refund (https://docs.stripe.com/api/charges/object)."""
    charge = shapes.charge(id=id, amount=amount, currency=currency)
    charge.update(
        payment_intent=payment_intent,
        amount_refunded=amount_refunded,
        refunded=amount_refunded == amount,
    )
    if refund_id is not None:
        charge["refunds"] = {
            "object": "list",
            "data": [shapes.refund(id=refund_id, amount=amount_refunded, payment_intent=None)],
            "has_more": False,
        }
    return charge


def reversed_transfer(
    *, id: str = "tr_1", amount: int = 9_000, amount_reversed: int = 9_000, currency: str = "eur"
) -> dict[str, Any]:
    transfer = shapes.transfer(id=id, amount=amount, currency=currency)
    transfer.update(amount_reversed=amount_reversed, reversed=amount_reversed == amount)
    return transfer


def payout(
    *,
    id: str = "po_1",
    amount: int = 9_000,
    currency: str = "eur",
    failure_code: str = "account_closed",
) -> dict[str, Any]:
    """A failed Payout of a connected account (https://docs.stripe.com/api/payouts/object)."""
    return {
        "id": id,
        "object": "payout",
        "amount": amount,
        "currency": currency,
        "status": "failed",
        "failure_code": failure_code,
        "failure_message": "The bank account has been closed.",
        "livemode": False,
    }


@dataclass
class StripeWebhooks:
    """The Stripe gateway on a recorder, and a Stripe that posts signed events to our endpoints.

    `on_commit` is pytest-django's `django_capture_on_commit_callbacks`: the
    view queues processing after commit, which a test's wrapping transaction
    would otherwise hold back (eager Celery then runs it in the request).
    """

    recorder: StripeRecorder
    client: APIClient
    on_commit: Any = None

    def deliver(
        self,
        payload: bytes,
        *,
        connect: bool = False,
        signature: str | None = None,
        timestamp: int | None = None,
    ) -> Any:
        if signature is None:
            signature = signed(payload, CONNECT_SECRET if connect else SECRET, timestamp)
        url = CONNECT_URL if connect else PLATFORM_URL
        if self.on_commit is None:
            return self.client.post(
                url, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
            )
        with self.on_commit(execute=True):
            return self.client.post(
                url, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
            )

    def answer_intent(self, **fields: Any) -> dict[str, Any]:
        """Queue Stripe's answer to reading an intent back; `fields` as `shapes.payment_intent`."""
        intent = shapes.payment_intent(**fields)
        self.recorder.answer("GET", f"/v1/payment_intents/{intent['id']}", intent)
        return intent

    def answer_fee_unknown(self, charge_id: str = "ch_1") -> None:
        """Queue the charge read that books Stripe's fee once funded (no fee known yet)."""
        self.recorder.answer(
            "GET", f"/v1/charges/{charge_id}", shapes.charge(id=charge_id, balance_transaction=None)
        )

    def reads(self, path: str) -> int:
        return sum(1 for r in self.recorder.requests if r.method == "GET" and r.path == path)


def install(settings: Any, monkeypatch: Any, on_commit: Any = None) -> StripeWebhooks:
    """PAYMENT_GATEWAY=stripe with the test secrets; every Stripe request goes to a recorder."""
    settings.COMPANY_FEE_BPS = 500
    settings.STUDENT_COMMISSION_BPS = 1000
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.STRIPE_API_BASE = ""
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = CONNECT_SECRET
    recorder = StripeRecorder()
    monkeypatch.setattr(stripe_gateway_module, "_shared_http_client", lambda: recorder)
    return StripeWebhooks(recorder=recorder, client=APIClient(), on_commit=on_commit)


# A marketplace on the Stripe gateway: 10,000 EUR cents of work, charged 10,500, paid 9,000.


def milestone_awaiting_funding(
    *, account_id: str = "acct_1", payouts_enabled: bool = True
) -> Milestone:
    """Bid, accept: one milestone whose escrow awaits funding; the student's account exists."""
    student = VerifiedStudentFactory()
    PayoutAccount.objects.create(
        user=student, gateway="stripe", account_id=account_id, payouts_enabled=payouts_enabled
    )
    project = ProjectFactory(budget_cents=20_000)
    bid = bid_submit(
        project_id=project.pk, by=student, amount_cents=10_000, estimated_days=3, cover_letter="hi"
    )
    milestone = bid_accept(bid_id=bid.pk, by=project.created_by).milestones.get()
    return Milestone.objects.select_related("escrow", "contract__project").get(pk=milestone.pk)


def fund(
    hooks: StripeWebhooks, milestone: Milestone, *, pi: str = "pi_1", charge: str = "ch_1"
) -> Escrow:
    """Fund the milestone as Stripe tells it: a signed payment_intent.succeeded, read back."""
    escrow = milestone.escrow
    intent = {
        "id": pi,
        "amount": escrow.charge_cents,
        "latest_charge": charge,
        "metadata": {"escrow_id": str(escrow.pk), "reference": escrow.reference},
    }
    hooks.answer_intent(**intent)
    hooks.answer_fee_unknown(charge)
    response = hooks.deliver(event("payment_intent.succeeded", shapes.payment_intent(**intent)))
    assert response.status_code == 200, response.content
    escrow.refresh_from_db()
    assert escrow.status == Escrow.Status.FUNDED
    return escrow


def deliver_and_approve(
    hooks: StripeWebhooks, milestone: Milestone, *, transfer: str = "tr_1"
) -> Escrow:
    """The student delivers, the company approves; Stripe answers the transfer if one is made."""
    escrow = milestone.escrow
    hooks.recorder.answer(
        "POST", "/v1/transfers", shapes.transfer(id=transfer, amount=escrow.payee_cents)
    )
    milestone_submit(milestone_id=milestone.pk, by=milestone.contract.student, note="done")
    milestone_approve(milestone_id=milestone.pk, by=milestone.contract.project.created_by)
    escrow.refresh_from_db()
    return escrow


def _sum(escrow: Escrow, **filters: Any) -> int:
    return (
        LedgerEntry.objects.filter(transaction__escrow=escrow, **filters)
        .exclude(transaction__kind="gateway_fee")
        .aggregate(total=Sum("amount_cents"))["total"]
        or 0
    )


def books(escrow: Escrow) -> dict[str, int]:
    """An escrow's money by leg, checked: every transaction balanced, and
    charged = transferred + revenue + refunded + chargebacks + reversals + held."""
    assert ledger_unbalanced_transactions() == []
    legs = {
        "charged": _sum(escrow, account="escrow", transaction__kind=LedgerTransaction.Kind.FUNDING),
        "transferred": _sum(escrow, account__startswith="student:"),
        "revenue": _sum(escrow, account="platform:revenue"),
        "refunded": _sum(escrow, account__startswith="company:")
        - _sum(
            escrow,
            account__startswith="company:",
            transaction__kind=LedgerTransaction.Kind.FUNDING,
        ),
        "chargebacks": _sum(escrow, account="platform:chargebacks"),
        "reversals": _sum(escrow, account="platform:reversals"),
        "held": _sum(escrow, account="escrow"),
    }
    assert legs["charged"] == sum(v for k, v in legs.items() if k != "charged")
    return legs
