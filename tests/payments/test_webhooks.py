"""Stripe webhooks end to end through the endpoints: verified, stored once, processed once.

The real Stripe gateway runs on the recorder of `stripe_recorder.py` (see
`tests/payments/stripe_events.py` for why the mock sits at the HTTP layer);
deliveries are signed with the SDK's `generate_signature_header`.
"""

from __future__ import annotations

import threading
import time

import pytest
from rest_framework.test import APIClient

from marketplace.errors import StateConflict, TransientError
from marketplace.models import Notification, User
from payments.models import Escrow, EscrowEvent, LedgerTransaction, PayoutAccount, StripeEvent
from payments.services.funding import escrow_fund
from payments.services.webhooks import (
    stripe_event_mark_processing,
    stripe_event_receive,
    stripe_events_process_again,
)
from projects.contracts.models import Contract
from tests.concurrency import DatabaseThread, postgresql_only, run_at_once
from tests.factories import UserFactory
from tests.payments import stripe_recorder as shapes
from tests.payments.stripe_events import (
    CONNECT_SECRET,
    SECRET,
    StripeWebhooks,
    books,
    deliver_and_approve,
    event,
    fund,
    install,
    milestone_awaiting_funding,
    signed,
)
from tests.payments.stripe_recorder import StripeRecorder
from tests.twofactor import login_with_second_factor

S = Escrow.Status
E = StripeEvent.Status


@pytest.fixture(autouse=True)
def balanced_books(db):  # type: ignore[no-untyped-def]
    yield
    for escrow in Escrow.objects.all():
        books(escrow)


@pytest.fixture
def hooks(db, settings, monkeypatch, django_capture_on_commit_callbacks) -> StripeWebhooks:
    return install(settings, monkeypatch, django_capture_on_commit_callbacks)


def _succeeded_event(escrow: Escrow, *, pi: str = "pi_1", event_id: str = "evt_pi_1") -> bytes:
    return event(
        "payment_intent.succeeded",
        shapes.payment_intent(
            id=pi,
            amount=escrow.charge_cents,
            metadata={"escrow_id": str(escrow.pk), "reference": escrow.reference},
        ),
        event_id=event_id,
    )


# Signatures: only what Stripe signed for this endpoint, recently, is stored.


def test_a_signed_delivery_is_stored_once_and_answered_200(hooks):
    payload = event("customer.created", {"id": "cus_1", "object": "customer"}, event_id="evt_c")

    response = hooks.deliver(payload)

    assert response.status_code == 200
    assert response.json() == {"event_id": "evt_c", "status": "received"}
    stored = StripeEvent.objects.get()
    assert (stored.event_id, stored.type, stored.livemode, stored.account) == (
        "evt_c",
        "customer.created",
        False,
        "",
    )
    assert stored.payload["data"]["object"]["id"] == "cus_1"
    assert (stored.status, stored.attempts, stored.outcome) == (
        E.IGNORED,
        1,
        "customer.created is not handled",
    )
    assert stored.processed_at is not None


def test_the_raw_body_is_verified_not_a_reparsed_one(hooks):
    # localstripe and Stripe send indented JSON: the bytes signed are the bytes read.
    payload = (
        b'{\n  "id": "evt_raw",\n  "object": "event",\n  "type": "ping",\n'
        b'  "livemode": false,\n  "data": {"object": {}}\n}'
    )
    assert hooks.deliver(payload).status_code == 200
    assert StripeEvent.objects.filter(event_id="evt_raw").exists()


NOT_AN_EVENT = b'{"id": "evt_x", "object": "charge", "type": "charge.refunded"}'


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: (p, signed(p, secret="whsec_someone_else")),
        lambda p: (p.replace(b"evt_x", b"evt_y"), signed(p)),
        lambda p: (p, signed(p, timestamp=int(time.time()) - 301)),
        lambda p: (p, ""),
        lambda p: (p, "t=notanumber,v1=abc"),
        lambda p: (p, signed(p, secret=CONNECT_SECRET)),
        lambda p: (b"{not json", signed(b"{not json")),
        lambda p: (NOT_AN_EVENT, signed(NOT_AN_EVENT)),
    ],
    ids=[
        "wrong-secret",
        "altered-body",
        "older-than-300s",
        "no-header",
        "garbled-header",
        "connect-secret-on-platform-endpoint",
        "bad-json",
        "not-an-event",
    ],
)
def test_a_bad_delivery_is_a_400_and_stores_nothing(hooks, tamper):
    payload, signature = tamper(event("payment_intent.succeeded", {}, event_id="evt_x"))

    response = hooks.deliver(payload, signature=signature)

    assert response.status_code == 400
    assert response.json()["code"] == "webhook_signature_invalid"
    assert StripeEvent.objects.count() == 0
    assert hooks.recorder.requests == []


def test_a_signature_within_300_seconds_passes(hooks):
    payload = event("ping", {}, event_id="evt_old")
    assert hooks.deliver(payload, timestamp=int(time.time()) - 290).status_code == 200


def test_the_connect_endpoint_verifies_with_its_own_secret(hooks):
    payload = event("ping", {}, event_id="evt_connect", account="acct_1")

    refused = hooks.deliver(payload, connect=True, signature=signed(payload, SECRET))
    accepted = hooks.deliver(payload, connect=True)

    assert (refused.status_code, accepted.status_code) == (400, 200)
    assert StripeEvent.objects.get().account == "acct_1"


def test_a_connect_endpoint_without_its_secret_answers_503_and_stores_nothing(hooks, settings):
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = ""
    payload = event("account.updated", {"id": "acct_1"}, account="acct_1")

    response = hooks.deliver(payload, connect=True)

    assert response.status_code == 503
    assert response.json()["code"] == "payment_provider_misconfigured"
    assert StripeEvent.objects.count() == 0


def test_the_webhook_needs_no_user_and_no_csrf_token(hooks):
    client = APIClient(enforce_csrf_checks=True)
    payload = event("ping", {}, event_id="evt_csrf")
    response = client.post(
        "/api/v1/payments/stripe/webhook/",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signed(payload),
    )
    assert response.status_code == 200


def test_get_is_not_allowed(hooks):
    assert hooks.client.get("/api/v1/payments/stripe/webhook/").status_code == 405


# Once: duplicates and retries.


def test_the_same_event_delivered_ten_times_changes_state_once(hooks):
    milestone = milestone_awaiting_funding()
    escrow = milestone.escrow
    hooks.answer_intent(amount=escrow.charge_cents, metadata={"escrow_id": str(escrow.pk)})
    hooks.answer_fee_unknown()
    payload = _succeeded_event(escrow)

    codes = [hooks.deliver(payload).status_code for _ in range(10)]

    assert codes == [200] * 10
    stored = StripeEvent.objects.get()
    assert (stored.status, stored.attempts, stored.escrow_id) == (E.SUCCEEDED, 1, escrow.pk)
    assert stored.outcome == f"escrow {escrow.reference} funded"
    escrow.refresh_from_db()
    assert (escrow.status, escrow.payment_intent_id, escrow.charge_id) == (S.FUNDED, "pi_1", "ch_1")
    assert EscrowEvent.objects.filter(escrow=escrow, to_status=S.FUNDED).count() == 1
    assert LedgerTransaction.objects.filter(escrow=escrow).count() == 1
    assert Notification.objects.filter(kind="milestone_funded").count() == 1
    assert hooks.reads("/v1/payment_intents/pi_1") == 1
    assert books(escrow)["held"] == 10_500


def test_a_duplicate_of_a_processed_event_is_answered_without_queueing(hooks, monkeypatch):
    payload = event("ping", {}, event_id="evt_dup")
    hooks.deliver(payload)
    from payments import tasks

    queued: list[str] = []
    monkeypatch.setattr(
        tasks.process_stripe_event_task, "delay", lambda **kw: queued.append(kw["event_id"])
    )

    response = hooks.deliver(payload)

    assert response.json() == {"event_id": "evt_dup", "status": "ignored"}
    assert queued == []


def test_a_failed_event_delivered_again_is_processed_again(hooks):
    UserFactory(role=User.Role.ADMIN, is_staff=True)
    milestone = milestone_awaiting_funding()
    escrow = milestone.escrow
    payload = _succeeded_event(escrow)
    # Stripe says the intent charged another amount than the escrow's: refused twice.
    for _ in range(2):
        hooks.answer_intent(amount=99, metadata={"escrow_id": str(escrow.pk)})
        assert hooks.deliver(payload).status_code == 200

    stored = StripeEvent.objects.get()
    assert (stored.status, stored.attempts) == (E.FAILED, 2)
    assert "charged 99 EUR" in stored.error
    escrow.refresh_from_db()
    assert escrow.status == S.AWAITING_FUNDING
    assert LedgerTransaction.objects.count() == 0
    assert Notification.objects.filter(kind="stripe_event_failed").count() == 1


def test_staff_process_a_failed_event_again(hooks, django_capture_on_commit_callbacks):
    from payments.services.webhooks import stripe_event_process

    milestone = milestone_awaiting_funding()
    escrow = milestone.escrow
    payload = _succeeded_event(escrow)
    stripe_event_receive(payload=payload, signature=signed(payload), connect=False)
    hooks.recorder.fail_connection("GET", "/v1/payment_intents/pi_1", times=3)
    with pytest.raises(TransientError):
        stripe_event_process(event_id="evt_pi_1")
    assert StripeEvent.objects.get().status == E.FAILED

    hooks.answer_intent(amount=escrow.charge_cents, metadata={"escrow_id": str(escrow.pk)})
    hooks.answer_fee_unknown()
    with django_capture_on_commit_callbacks(execute=True):
        queued = stripe_events_process_again(event_ids=["evt_pi_1", "evt_unknown"])

    assert queued == ["evt_pi_1"]
    stored = StripeEvent.objects.get()
    assert (stored.status, stored.attempts, stored.error) == (E.SUCCEEDED, 2, "")
    escrow.refresh_from_db()
    assert escrow.status == S.FUNDED
    with django_capture_on_commit_callbacks(execute=True):
        assert stripe_events_process_again(event_ids=["evt_pi_1"]) == []


def test_the_admin_lists_events_and_processes_failed_ones_again(
    hooks, client, django_capture_on_commit_callbacks
):
    admin = User.objects.create_superuser(email="root@example.com", password="pw-123456789")
    login_with_second_factor(client, admin)
    hooks.deliver(event("ping", {}, event_id="evt_admin"))
    stored = StripeEvent.objects.get()
    StripeEvent.objects.filter(pk=stored.pk).update(status=E.FAILED)

    listing = client.get("/admin/payments/stripeevent/?status__exact=failed&type__exact=ping")
    assert listing.status_code == 200
    assert b"evt_admin" in listing.content
    assert client.get(f"/admin/payments/stripeevent/{stored.pk}/change/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/payments/stripeevent/",
            {"action": "process_again", "_selected_action": [stored.pk]},
        )

    assert response.status_code == 302
    stored.refresh_from_db()
    assert (stored.status, stored.attempts) == (E.IGNORED, 2)


def test_receive_returns_the_stored_row_for_a_second_delivery(hooks):
    payload = event("ping", {}, event_id="evt_twice")
    first = stripe_event_receive(payload=payload, signature=signed(payload), connect=False)
    second = stripe_event_receive(payload=payload, signature=signed(payload), connect=False)
    assert first.pk == second.pk
    assert second.status == E.RECEIVED


def test_processing_marks_received_events_only(hooks):
    payload = event("ping", {}, event_id="evt_mark")
    stripe_event_receive(payload=payload, signature=signed(payload), connect=False)

    assert stripe_event_mark_processing(event_id="evt_mark").status == E.PROCESSING
    assert stripe_event_mark_processing(event_id="evt_nope") is None


# Out of order: the state comes from Stripe, read back, not from the event.


def test_a_success_whose_funding_answer_was_lost_funds_once(hooks):
    milestone = milestone_awaiting_funding()
    escrow = milestone.escrow
    # Our request reached Stripe, which charged; its answer never came back.
    hooks.recorder.fail_connection("POST", "/v1/payment_intents", times=3)
    with pytest.raises(Exception, match="Stripe cannot be reached"):
        escrow_fund(escrow_id=escrow.pk, actor=None, payment_method="pm_card_visa")
    escrow.refresh_from_db()
    assert (escrow.status, escrow.payment_intent_id) == (S.AWAITING_FUNDING, "")

    # The webhook names the escrow in the intent's metadata and arrives first.
    hooks.answer_intent(id="pi_lost", amount=10_500, metadata={"escrow_id": str(escrow.pk)})
    hooks.answer_fee_unknown()
    assert hooks.deliver(_succeeded_event(escrow, pi="pi_lost")).status_code == 200
    escrow.refresh_from_db()
    assert (escrow.status, escrow.payment_intent_id) == (S.FUNDED, "pi_lost")

    # Our retry now finds the escrow funded: no second charge is asked for.
    posts_before = len(hooks.recorder.writes())
    with pytest.raises(StateConflict):
        escrow_fund(escrow_id=escrow.pk, actor=None, payment_method="pm_card_visa")
    assert len(hooks.recorder.writes()) == posts_before
    assert LedgerTransaction.objects.filter(escrow=escrow).count() == 1
    assert books(escrow)["held"] == 10_500


def test_an_older_account_update_after_a_newer_one_keeps_stripes_current_state(hooks):
    milestone = milestone_awaiting_funding(account_id="acct_late", payouts_enabled=False)
    fund(hooks, milestone)
    escrow = deliver_and_approve(hooks, milestone)
    assert escrow.status == S.RELEASE_PENDING
    hooks.recorder.requests.clear()
    ready = shapes.account(id="acct_late", payouts_enabled=True, transfers="active")
    not_ready = shapes.account(id="acct_late", payouts_enabled=False, transfers="inactive")
    newer = event("account.updated", ready, account="acct_late", created=2_000_000_000)
    older = event("account.updated", not_ready, account="acct_late", created=1_999_999_000)
    for _ in range(2):  # Stripe's current account, read back for each event
        hooks.recorder.answer("GET", "/v1/accounts/acct_late", ready)

    assert hooks.deliver(newer, connect=True).status_code == 200
    assert hooks.deliver(older, connect=True).status_code == 200

    assert PayoutAccount.objects.get(account_id="acct_late").payouts_enabled is True
    escrow.refresh_from_db()
    assert escrow.status == S.RELEASED
    assert [r.path for r in hooks.recorder.writes()] == ["/v1/transfers"]
    assert hooks.reads("/v1/accounts/acct_late") == 2
    assert LedgerTransaction.objects.filter(escrow=escrow, kind="release").count() == 1
    assert Notification.objects.filter(key=f"money-released:{milestone.pk}").count() == 1
    assert Contract.objects.get(pk=milestone.contract_id).status == Contract.Status.COMPLETED
    updates = StripeEvent.objects.filter(type="account.updated")
    assert list(updates.values_list("status", flat=True)) == [E.SUCCEEDED] * 2
    books(escrow)


# Concurrency, on PostgreSQL.


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_deliveries_of_one_event_change_state_once(settings, monkeypatch):
    hooks = install(settings, monkeypatch)
    milestone = milestone_awaiting_funding()
    escrow = milestone.escrow
    hooks.answer_intent(amount=escrow.charge_cents, metadata={"escrow_id": str(escrow.pk)})
    hooks.answer_fee_unknown()
    payload = _succeeded_event(escrow)

    def deliver() -> int:
        return (
            APIClient()
            .post(
                "/api/v1/payments/stripe/webhook/",
                data=payload,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=signed(payload),
            )
            .status_code
        )

    assert run_at_once(*[deliver] * 10) == [200] * 10
    stored = StripeEvent.objects.get()
    assert (stored.status, stored.attempts) == (E.SUCCEEDED, 1)
    assert EscrowEvent.objects.filter(escrow=escrow, to_status=S.FUNDED).count() == 1
    assert LedgerTransaction.objects.filter(escrow=escrow).count() == 1
    assert Notification.objects.filter(kind="milestone_funded").count() == 1
    assert hooks.reads("/v1/payment_intents/pi_1") == 1
    assert books(escrow)["held"] == 10_500


class _SlowCreateRecorder(StripeRecorder):
    """Holds the answer to creating the PaymentIntent until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.creating = threading.Event()
        self.answer_now = threading.Event()

    def request(self, method, url, headers, post_data=None, *, _usage=None):  # type: ignore[no-untyped-def]
        if method.upper() == "POST" and url.endswith("/v1/payment_intents"):
            self.creating.set()
            assert self.answer_now.wait(timeout=30)
        return super().request(method, url, headers, post_data, _usage=_usage)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_success_delivered_before_our_funding_call_returned_funds_once(settings, monkeypatch):
    hooks = install(settings, monkeypatch)
    slow = _SlowCreateRecorder()
    monkeypatch.setattr("payments.gateways.stripe._shared_http_client", lambda: slow, raising=True)
    hooks.recorder = slow
    milestone = milestone_awaiting_funding()
    escrow = milestone.escrow
    slow.answer(
        "POST",
        "/v1/payment_intents",
        shapes.payment_intent(amount=10_500, metadata={"escrow_id": str(escrow.pk)}),
    )
    hooks.answer_intent(amount=10_500, metadata={"escrow_id": str(escrow.pk)})
    hooks.answer_fee_unknown()
    hooks.answer_fee_unknown()
    funder = DatabaseThread(
        lambda: escrow_fund(escrow_id=escrow.pk, actor=None, payment_method="pm_card_visa").status
    )
    funder.start()
    assert slow.creating.wait(timeout=30)  # Stripe has charged; our answer is on its way
    receiver = DatabaseThread(lambda: hooks.deliver(_succeeded_event(escrow)).status_code)
    receiver.start()
    # No row is locked while Stripe answers (payments.services.escrow): the webhook may
    # fund the escrow before our call records its answer, or find it funded after.
    time.sleep(0.5)
    slow.answer_now.set()

    assert {"fund": funder.outcome(timeout=30), "webhook": receiver.outcome(timeout=30)} == {
        "fund": "succeeded",
        "webhook": 200,
    }
    escrow.refresh_from_db()
    assert (escrow.status, escrow.payment_intent_id) == (S.FUNDED, "pi_1")
    assert EscrowEvent.objects.filter(escrow=escrow, to_status=S.FUNDED).count() == 1
    assert LedgerTransaction.objects.filter(escrow=escrow).count() == 1
    stored = StripeEvent.objects.get()
    assert stored.status == E.SUCCEEDED
    assert stored.outcome in (
        f"escrow {escrow.reference} funded",
        f"escrow {escrow.reference} already funded",
    )
    books(escrow)
