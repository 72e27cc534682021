from __future__ import annotations

import pytest
from django.db import transaction

from marketplace.errors import StateConflict
from payments.models import Escrow, EscrowEvent, LedgerTransaction, PayoutAccount
from payments.services import chargebacks, escrow
from payments.services.chargebacks import (
    chargeback_close,
    chargeback_open,
    escrow_record_external_refund,
)
from payments.services.escrow import escrow_freeze
from payments.services.refunds import escrow_refund_request, escrow_refund_send, escrow_settle_split
from payments.services.releases import escrow_release
from payments.states import ESCROW_STATES
from tests.factories import StudentFactory
from tests.factories.escrows import make_escrow

pytestmark = pytest.mark.django_db

S = Escrow.Status
K = LedgerTransaction.Kind
HELD = {S.FUNDED, S.RELEASE_PENDING, S.FROZEN}


@pytest.fixture(autouse=True)
def fees(settings):  # type: ignore[no-untyped-def]
    settings.COMPANY_FEE_BPS = 500
    settings.STUDENT_COMMISSION_BPS = 1000


def _ready(user) -> PayoutAccount:  # type: ignore[no-untyped-def]
    return PayoutAccount.objects.create(
        user=user, gateway="dummy", account_id=f"acct_{user.pk}", payouts_enabled=True
    )


def _moves(escrow_row: Escrow) -> list[tuple[str, str]]:
    return list(escrow_row.events.order_by("pk").values_list("from_status", "to_status"))


def _at(status: str) -> Escrow:
    """An escrow moved to `status` by the services (the one path for every move)."""
    payee = StudentFactory()
    if status == S.RELEASE_PENDING:
        return make_escrow(payee=payee, status=S.RELEASE_PENDING)  # no payout account yet
    if status == S.RELEASED:
        _ready(payee)
        return make_escrow(payee=payee, status=S.RELEASED)
    if status == S.FROZEN:
        funded = make_escrow(payee=payee, status=S.FUNDED)
        return escrow_freeze(escrow_id=funded.pk, actor=None, note="dispute")
    if status == S.REFUND_PENDING:
        funded = make_escrow(payee=payee, status=S.FUNDED)
        return escrow_refund_request(escrow_id=funded.pk, actor=None)
    return make_escrow(payee=payee, status=status)


def test_the_services_keep_no_transition_table_of_their_own():
    for module in (escrow, chargebacks):
        for name in ("ALLOWED_TRANSITIONS", "TRANSITIONS", "_transition", "HELD"):
            assert not hasattr(module, name), f"{module.__name__}.{name}"


def test_the_one_table_has_the_pending_states_and_no_release_without_intent():
    assert ESCROW_STATES.allowed(S.FUNDED) == {
        S.RELEASE_PENDING,
        S.REFUND_PENDING,
        S.REFUNDED,
        S.FROZEN,
    }
    assert ESCROW_STATES.allowed(S.REFUND_PENDING) == {S.REFUNDED}
    assert ESCROW_STATES.sources(S.RELEASED) == {S.RELEASE_PENDING, S.FROZEN}


@pytest.mark.parametrize("status", list(S))
def test_held_is_funded_approved_or_frozen_money(status):
    row = _at(status)
    assert row.status == status
    assert Escrow.objects.held().filter(pk=row.pk).exists() is (status in HELD)
    assert row.is_held is (status in HELD)


def test_held_is_a_queryset_word_that_chains():
    held = [_at(S.FUNDED), _at(S.RELEASE_PENDING), _at(S.FROZEN)]
    for status in (S.AWAITING_FUNDING, S.REFUND_PENDING, S.REFUNDED):
        _at(status)
    assert set(Escrow.objects.held().values_list("pk", flat=True)) == {e.pk for e in held}
    assert list(Escrow.objects.held().filter(status=S.FROZEN)) == [held[2]]


def test_a_stale_copy_cannot_move_the_escrow():
    row = _at(S.FUNDED)
    stale = Escrow.objects.get(pk=row.pk)
    escrow_freeze(escrow_id=row.pk, actor=None, note="dispute")

    with pytest.raises(StateConflict), transaction.atomic():
        ESCROW_STATES.transition(stale, S.RELEASE_PENDING)
    assert Escrow.objects.get(pk=row.pk).status == S.FROZEN


@pytest.mark.parametrize("status", [S.REFUND_PENDING, S.RELEASED, S.REFUNDED, S.FROZEN])
def test_only_held_money_not_frozen_can_be_frozen(status):
    row = _at(status)
    events = EscrowEvent.objects.count()
    with pytest.raises(StateConflict):
        escrow_freeze(escrow_id=row.pk, actor=None)
    assert Escrow.objects.get(pk=row.pk).status == status
    assert EscrowEvent.objects.count() == events


def test_a_chargeback_won_returns_approved_money_to_release_pending_through_the_table():
    row = _at(S.RELEASE_PENDING)

    chargeback, _ = chargeback_open(
        escrow_id=row.pk,
        dispute_id="dp_1",
        charge_id=row.charge_id,
        amount_cents=row.charge_cents,
        currency="EUR",
        reason="fraudulent",
    )
    chargeback_close(dispute_id="dp_1", won=True)

    row.refresh_from_db()
    assert row.status == S.RELEASE_PENDING
    assert _moves(row)[-2:] == [(S.RELEASE_PENDING, S.FROZEN), (S.FROZEN, S.RELEASE_PENDING)]
    assert row.events.order_by("pk").last().note == "card dispute dp_1 won"


def test_a_chargeback_lost_on_held_money_refunds_it_through_the_table():
    row = _at(S.FUNDED)
    chargeback_open(
        escrow_id=row.pk,
        dispute_id="dp_2",
        charge_id=row.charge_id,
        amount_cents=row.charge_cents,
        currency="EUR",
        reason="fraudulent",
    )
    chargeback_close(dispute_id="dp_2", won=False)

    row.refresh_from_db()
    assert (row.status, row.settled_at is not None) == (S.REFUNDED, True)
    assert _moves(row)[-1] == (S.FROZEN, S.REFUNDED)
    assert LedgerTransaction.objects.filter(escrow=row, kind=K.CHARGEBACK).count() == 1


def test_a_chargeback_on_money_being_refunded_freezes_nothing():
    row = _at(S.REFUND_PENDING)
    chargeback, created = chargeback_open(
        escrow_id=row.pk,
        dispute_id="dp_3",
        charge_id=row.charge_id,
        amount_cents=row.charge_cents,
        currency="EUR",
        reason="fraudulent",
    )
    assert created
    assert (chargeback.funds_held, chargeback.resume_status) == (False, "")
    assert Escrow.objects.get(pk=row.pk).status == S.REFUND_PENDING


def test_a_card_dispute_won_keeps_a_split_being_paid_out_frozen():
    payee = StudentFactory()
    _ready(payee)
    row = escrow_freeze(
        escrow_id=make_escrow(payee=payee, status=S.FUNDED).pk, actor=None, note="dispute"
    )
    chargeback_open(
        escrow_id=row.pk,
        dispute_id="dp_4",
        charge_id=row.charge_id,
        amount_cents=row.charge_cents,
        currency="EUR",
        reason="fraudulent",
    )
    Escrow.objects.filter(pk=row.pk).update(split_release_cents=5_000, split_refund_cents=5_500)

    chargeback_close(dispute_id="dp_4", won=True)

    assert Escrow.objects.get(pk=row.pk).status == S.FROZEN
    # The split then completes as staff decided it.
    settled = escrow_settle_split(
        escrow_id=row.pk, release_cents=5_000, refund_cents=5_500, actor=None
    )
    assert settled.status == S.RELEASED


def test_stripes_refund_report_completes_our_own_refund_once():
    row = _at(S.REFUND_PENDING)

    recorded_elsewhere = escrow_record_external_refund(
        escrow_id=row.pk, amount_refunded=row.charge_cents, currency="eur", refund_id="re_ours"
    )

    assert recorded_elsewhere is False  # ours, not a refund made outside the platform
    row.refresh_from_db()
    assert (row.status, row.refund_id) == (S.REFUNDED, "re_ours")
    assert _moves(row)[-2:] == [(S.FUNDED, S.REFUND_PENDING), (S.REFUND_PENDING, S.REFUNDED)]
    # Our own answer, arriving after, records nothing more.
    assert escrow_refund_send(escrow_id=row.pk).status == S.REFUNDED
    assert LedgerTransaction.objects.filter(escrow=row, kind=K.REFUND).count() == 1


def test_a_release_asked_twice_while_the_payee_cannot_be_paid_stays_pending():
    row = _at(S.FUNDED)
    assert escrow_release(escrow_id=row.pk, actor=None).status == S.RELEASE_PENDING
    assert escrow_release(escrow_id=row.pk, actor=None).status == S.RELEASE_PENDING
    assert _moves(row) == [(S.AWAITING_FUNDING, S.FUNDED), (S.FUNDED, S.RELEASE_PENDING)]
    assert row.events.get(to_status=S.RELEASE_PENDING).note == "payout account not ready"
