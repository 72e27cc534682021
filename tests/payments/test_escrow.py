from __future__ import annotations

from collections import Counter

import pytest

from marketplace.errors import StateConflict, ValidationFailed
from marketplace.money import Money
from payments.gateways.base import PaymentDeclined
from payments.gateways.dummy import DummyGateway, _id
from payments.models import Escrow, EscrowEvent, LedgerEntry, LedgerTransaction, PayoutAccount
from payments.selectors import ledger_balance
from payments.services.escrow import escrow_create
from payments.services.funding import escrow_fund, escrow_mark_funded
from payments.services.payouts import payout_account_onboard, payout_account_set_ready
from payments.services.refunds import escrow_refund
from payments.services.releases import escrow_release
from projects.briefs.services import bid_submit
from projects.contracts.models import Milestone
from projects.contracts.services import bid_accept, milestone_approve, milestone_submit
from tests.concurrency import postgresql_only, run_at_once, tally
from tests.factories import (
    CompanyMemberFactory,
    ProjectFactory,
    StudentFactory,
    VerifiedStudentFactory,
)
from tests.factories.escrows import make_escrow

S = Escrow.Status
K = LedgerTransaction.Kind


@pytest.fixture
def fees(settings):
    settings.COMPANY_FEE_BPS = 500
    settings.STUDENT_COMMISSION_BPS = 1000
    return settings


@pytest.fixture
def member(db):
    return CompanyMemberFactory()


@pytest.fixture
def company(member):
    return member.company_membership.company


@pytest.fixture
def payee(db):
    return StudentFactory()


def _ready(user, account_id: str = "acct_ready") -> PayoutAccount:
    return PayoutAccount.objects.create(
        user=user, gateway="dummy", account_id=account_id, payouts_enabled=True
    )


def _events(escrow: Escrow) -> list[tuple[str, str, int | None]]:
    return list(
        EscrowEvent.objects.filter(escrow=escrow)
        .order_by("id")
        .values_list("from_status", "to_status", "actor_id")
    )


def _entries(txn: LedgerTransaction) -> dict[str, int]:
    return dict(txn.entries.values_list("account", "amount_cents"))


def _txns(escrow: Escrow, kind: str) -> list[LedgerTransaction]:
    return list(LedgerTransaction.objects.filter(escrow=escrow, kind=kind))


@pytest.fixture
def spy_gateway(monkeypatch):
    calls: dict[str, list[dict]] = {"intent": [], "transfer": [], "refund": []}
    real_intent = DummyGateway.create_payment_intent
    real_transfer = DummyGateway.create_transfer
    real_refund = DummyGateway.create_refund

    def intent(self, **kwargs):
        calls["intent"].append(kwargs)
        return real_intent(self, **kwargs)

    def transfer(self, **kwargs):
        calls["transfer"].append(kwargs)
        return real_transfer(self, **kwargs)

    def refund(self, **kwargs):
        calls["refund"].append(kwargs)
        return real_refund(self, **kwargs)

    monkeypatch.setattr(DummyGateway, "create_payment_intent", intent)
    monkeypatch.setattr(DummyGateway, "create_transfer", transfer)
    monkeypatch.setattr(DummyGateway, "create_refund", refund)
    return calls


# --- create -------------------------------------------------------------------------------


def test_create_computes_fees_from_settings(fees, company, payee, assert_books):
    escrow = make_escrow(company=company, payee=payee, amount_cents=10_000, currency="EUR")
    assert escrow.status == S.AWAITING_FUNDING
    assert escrow.company_fee_cents == 500
    assert escrow.student_commission_cents == 1000
    assert escrow.charge_cents == 10_500
    assert escrow.payee_cents == 9_000
    assert escrow.gateway == "dummy"
    assert escrow.company_id == company.pk
    assert escrow.payee_id == payee.pk
    assert escrow.funding_attempts == 0
    assert _events(escrow) == []
    assert LedgerTransaction.objects.count() == 0
    assert_books(escrow)


@pytest.mark.parametrize(
    ("amount", "currency", "fee_bps", "commission_bps", "fee", "commission"),
    [
        (10_000, "EUR", 250, 0, 250, 0),
        (10_000, "EUR", 0, 0, 0, 0),
        (1010, "EUR", 500, 500, 51, 51),  # 50.5 → 51
        (1009, "EUR", 500, 500, 50, 50),  # 50.45 → 50
        (50, "EUR", 10_000, 10_000, 50, 50),
        (1500, "JPY", 500, 1000, 75, 150),
        (1999, "JPY", 500, 1000, 100, 200),  # 99.95 and 199.9
        (999_999, "USD", 333, 777, 33_300, 77_700),  # 33 299.97 and 77 699.92
    ],
)
def test_create_uses_the_configured_basis_points(
    settings, company, payee, amount, currency, fee_bps, commission_bps, fee, commission
):
    settings.COMPANY_FEE_BPS = fee_bps
    settings.STUDENT_COMMISSION_BPS = commission_bps
    escrow = escrow_create(
        reference="milestone:1",
        company=company,
        payee=payee,
        amount_cents=amount,
        currency=currency,
    )
    escrow.refresh_from_db()
    assert (escrow.company_fee_cents, escrow.student_commission_cents) == (fee, commission)
    assert escrow.charge_cents == amount + fee
    assert escrow.payee_cents == amount - commission


@pytest.mark.parametrize(
    ("amount", "currency", "field"),
    [(0, "EUR", "amount_cents"), (-100, "EUR", "amount_cents"), (100, "XYZ", "currency")],
)
def test_create_refuses_a_bad_amount_or_currency(company, payee, amount, currency, field):
    with pytest.raises(ValidationFailed) as exc:
        escrow_create(
            reference="milestone:1",
            company=company,
            payee=payee,
            amount_cents=amount,
            currency=currency,
        )
    assert exc.value.field == field
    assert Escrow.objects.count() == 0


# --- fund ---------------------------------------------------------------------------------


def test_fund_with_a_card_funds_and_posts_one_funding_transaction(
    fees, payee, member, company, assert_books
):
    escrow = make_escrow(company=company, payee=payee, amount_cents=10_000, currency="EUR")
    result = escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_visa")

    assert result.status == "succeeded"
    assert result.amount_cents == 10_500
    assert result.fee_cents == 500
    assert result.client_secret
    escrow.refresh_from_db()
    assert escrow.status == S.FUNDED
    assert escrow.payment_intent_id.startswith("pi_")
    assert escrow.charge_id.startswith("ch_")
    assert escrow.funded_at is not None
    [txn] = LedgerTransaction.objects.all()
    assert txn.kind == K.FUNDING
    assert txn.escrow_id == escrow.pk
    assert txn.currency == "EUR"
    assert _entries(txn) == {f"company:{company.pk}": -10_500, "escrow": 10_500}
    assert _events(escrow) == [(S.AWAITING_FUNDING, S.FUNDED, member.pk)]
    assert assert_books(escrow)["held"] == 10_500


def test_fund_without_payment_method_returns_a_client_secret_and_waits(
    fees, company, payee, member, assert_books
):
    escrow = make_escrow(company=company, payee=payee)
    result = escrow_fund(escrow_id=escrow.pk, actor=member)

    assert result.status == "requires_payment_method"
    assert result.client_secret.startswith(result.escrow.payment_intent_id + "_secret_")
    assert result.amount_cents == 10_500
    escrow.refresh_from_db()
    assert escrow.status == S.AWAITING_FUNDING
    assert escrow.payment_intent_id
    assert escrow.charge_id == ""
    assert escrow.funded_at is None
    assert LedgerTransaction.objects.count() == 0
    assert _events(escrow) == []
    assert_books(escrow)


def test_mark_funded_from_the_webhook_is_idempotent(fees, payee, member, company, assert_books):
    escrow = make_escrow(company=company, payee=payee)
    pi = escrow_fund(escrow_id=escrow.pk, actor=member).escrow.payment_intent_id

    first = escrow_mark_funded(payment_intent_id=pi, charge_id="ch_from_webhook")
    second = escrow_mark_funded(payment_intent_id=pi, charge_id="ch_other")

    assert first.pk == second.pk == escrow.pk
    escrow.refresh_from_db()
    assert escrow.status == S.FUNDED
    assert escrow.charge_id == "ch_from_webhook"
    [txn] = _txns(escrow, K.FUNDING)
    assert _entries(txn) == {f"company:{company.pk}": -10_500, "escrow": 10_500}
    assert _events(escrow) == [(S.AWAITING_FUNDING, S.FUNDED, None)]
    assert_books(escrow)


def test_mark_funded_ignores_an_unknown_payment_intent(fees, company, payee):
    make_escrow(company=company, payee=payee)
    assert escrow_mark_funded(payment_intent_id="pi_unknown", charge_id="ch_x") is None
    assert LedgerTransaction.objects.count() == 0


@pytest.mark.parametrize(
    ("payment_method", "decline_code"),
    [
        ("pm_card_chargeDeclined", "card_declined"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card"),
    ],
)
def test_declined_funding_only_counts_the_attempt(
    fees, company, payee, member, payment_method, decline_code, assert_books
):
    escrow = make_escrow(company=company, payee=payee)
    before = Escrow.objects.filter(pk=escrow.pk).values().get()

    with pytest.raises(PaymentDeclined) as exc:
        escrow_fund(escrow_id=escrow.pk, actor=member, payment_method=payment_method)

    assert exc.value.decline_code == decline_code
    assert exc.value.extra == {"decline_code": decline_code}
    assert exc.value.field == "payment_method"
    assert exc.value.status_code == 402
    after = Escrow.objects.filter(pk=escrow.pk).values().get()
    assert after == {**before, "funding_attempts": 1}
    assert _events(escrow) == []
    assert LedgerTransaction.objects.count() == 0
    assert_books(escrow)


def test_a_retry_after_a_decline_uses_a_new_idempotency_key(
    fees, company, payee, member, spy_gateway, assert_books
):
    escrow = make_escrow(company=company, payee=payee)
    for _ in range(2):
        with pytest.raises(PaymentDeclined):
            escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_chargeDeclined")
    escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_visa")

    keys = [call["idempotency_key"] for call in spy_gateway["intent"]]
    assert keys == [f"escrow-{escrow.pk}-fund-{n}" for n in range(3)]
    assert {call["amount"] for call in spy_gateway["intent"]} == {10_500}
    assert spy_gateway["intent"][-1]["metadata"] == {
        "escrow_id": str(escrow.pk),
        "reference": escrow.reference,
    }
    escrow.refresh_from_db()
    assert escrow.funding_attempts == 2
    assert escrow.status == S.FUNDED
    assert escrow.payment_intent_id == _id("pi", keys[2])
    assert escrow.payment_intent_id != _id("pi", keys[0])
    assert len(_txns(escrow, K.FUNDING)) == 1
    assert_books(escrow)


def test_funding_twice_is_a_state_conflict(fees, company, payee, member, assert_books):
    escrow = make_escrow(company=company, payee=payee, status=S.FUNDED, actor=member)
    with pytest.raises(StateConflict):
        escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_visa")
    escrow.refresh_from_db()
    assert escrow.status == S.FUNDED
    assert escrow.funding_attempts == 0
    assert len(_txns(escrow, K.FUNDING)) == 1
    assert len(_events(escrow)) == 1
    assert_books(escrow)


# --- release ------------------------------------------------------------------------------


def test_release_with_a_ready_payout_account(
    fees, member, company, payee, spy_gateway, assert_books
):
    account = _ready(payee)
    escrow = make_escrow(company=company, payee=payee, status=S.FUNDED, actor=member)

    released = escrow_release(escrow_id=escrow.pk, actor=member)

    assert released.status == S.RELEASED
    escrow.refresh_from_db()
    assert escrow.status == S.RELEASED
    assert escrow.transfer_id.startswith("tr_")
    assert escrow.settled_at is not None
    assert spy_gateway["transfer"] == [
        {
            "amount": 9_000,
            "currency": "EUR",
            "destination": account.account_id,
            "source_transaction": escrow.charge_id,
            "transfer_group": escrow.reference,
            "idempotency_key": f"escrow-{escrow.pk}-release",
        }
    ]
    [txn] = _txns(escrow, K.RELEASE)
    assert _entries(txn) == {
        "escrow": -10_500,
        f"student:{payee.pk}": 9_000,
        "platform:revenue": 1_500,
    }
    assert ledger_balance(account="escrow", currency="EUR") == Money(0, "EUR")
    assert ledger_balance(account=f"student:{payee.pk}", currency="EUR") == Money(9_000, "EUR")
    assert ledger_balance(account="platform:revenue", currency="EUR") == Money(1_500, "EUR")
    assert ledger_balance(account=f"company:{company.pk}", currency="EUR") == Money(-10_500, "EUR")
    # The transfer is asked for (release_pending, committed) before the gateway is called.
    assert _events(escrow) == [
        (S.AWAITING_FUNDING, S.FUNDED, member.pk),
        (S.FUNDED, S.RELEASE_PENDING, member.pk),
        (S.RELEASE_PENDING, S.RELEASED, member.pk),
    ]
    assert assert_books(escrow) == {
        "charged": 10_500,
        "transferred": 9_000,
        "revenue": 1_500,
        "refunded": 0,
        "held": 0,
    }


def test_release_in_a_zero_decimal_currency(fees, company, member, payee, assert_books):
    _ready(payee)
    escrow = make_escrow(
        company=company,
        payee=payee,
        status=S.FUNDED,
        actor=member,
        amount_cents=1999,
        currency="JPY",
    )
    escrow_release(escrow_id=escrow.pk, actor=member)

    [txn] = _txns(escrow, K.RELEASE)
    assert txn.currency == "JPY"
    assert _entries(txn) == {
        "escrow": -2_099,
        f"student:{payee.pk}": 1_799,
        "platform:revenue": 300,
    }
    assert ledger_balance(account="escrow", currency="JPY") == Money(0, "JPY")
    assert ledger_balance(account="platform:revenue", currency="EUR") == Money(0, "EUR")
    assert assert_books(escrow)["transferred"] == 1_799


def test_release_without_a_payout_account_waits_then_onboarding_releases(
    fees, company, member, payee, assert_books
):
    escrow = make_escrow(company=company, payee=payee, status=S.FUNDED, actor=member)

    assert escrow_release(escrow_id=escrow.pk, actor=member).status == S.RELEASE_PENDING
    assert escrow_release(escrow_id=escrow.pk, actor=member).status == S.RELEASE_PENDING
    escrow.refresh_from_db()
    assert escrow.status == S.RELEASE_PENDING
    assert escrow.transfer_id == ""
    assert _txns(escrow, K.RELEASE) == []
    assert EscrowEvent.objects.get(escrow=escrow, to_status=S.RELEASE_PENDING).note == (
        "payout account not ready"
    )
    assert assert_books(escrow)["held"] == 10_500

    link = payout_account_onboard(user=payee)

    assert link.account.payouts_enabled is True
    escrow.refresh_from_db()
    assert escrow.status == S.RELEASED
    assert len(_txns(escrow, K.RELEASE)) == 1
    assert _events(escrow) == [
        (S.AWAITING_FUNDING, S.FUNDED, member.pk),
        (S.FUNDED, S.RELEASE_PENDING, member.pk),
        (S.RELEASE_PENDING, S.RELEASED, None),
    ]
    assert ledger_balance(account=f"student:{payee.pk}", currency="EUR") == Money(9_000, "EUR")
    assert assert_books(escrow)["transferred"] == 9_000


def test_an_account_becoming_ready_releases_the_pending_money(
    fees, company, member, payee, assert_books
):
    account = PayoutAccount.objects.create(
        user=payee, gateway="dummy", account_id="acct_later", payouts_enabled=False
    )
    escrow = make_escrow(company=company, payee=payee, status=S.FUNDED, actor=member)
    assert escrow_release(escrow_id=escrow.pk, actor=member).status == S.RELEASE_PENDING

    payout_account_set_ready(account_id=account.account_id, payouts_enabled=False)
    escrow.refresh_from_db()
    assert escrow.status == S.RELEASE_PENDING

    payout_account_set_ready(account_id=account.account_id, payouts_enabled=True)
    escrow.refresh_from_db()
    assert escrow.status == S.RELEASED
    assert escrow.transfer_id
    assert len(_txns(escrow, K.RELEASE)) == 1
    assert assert_books(escrow)["revenue"] == 1_500


@pytest.mark.parametrize("status", [S.AWAITING_FUNDING, S.RELEASED, S.REFUNDED])
def test_release_needs_funded_money(fees, company, member, payee, status, assert_books):
    _ready(payee)
    escrow = make_escrow(company=company, payee=payee, status=status, actor=member)
    n_entries = LedgerEntry.objects.count()
    n_events = EscrowEvent.objects.count()

    with pytest.raises(StateConflict):
        escrow_release(escrow_id=escrow.pk, actor=member)

    escrow.refresh_from_db()
    assert escrow.status == status
    assert LedgerEntry.objects.count() == n_entries
    assert EscrowEvent.objects.count() == n_events
    assert_books(escrow)


# --- refund -------------------------------------------------------------------------------


def test_refund_gives_the_company_the_whole_charge_back(
    fees, payee, member, company, spy_gateway, assert_books
):
    escrow = make_escrow(company=company, payee=payee, status=S.FUNDED, actor=member)

    escrow_refund(escrow_id=escrow.pk, actor=member, note="cancelled before delivery")

    escrow.refresh_from_db()
    assert escrow.status == S.REFUNDED
    assert escrow.refund_id.startswith("re_")
    assert escrow.settled_at is not None
    assert spy_gateway["refund"] == [
        {
            "payment_intent_id": escrow.payment_intent_id,
            "amount": 10_500,
            "idempotency_key": f"escrow-{escrow.pk}-refund",
        }
    ]
    [txn] = _txns(escrow, K.REFUND)
    assert _entries(txn) == {"escrow": -10_500, f"company:{company.pk}": 10_500}
    assert ledger_balance(account=f"company:{company.pk}", currency="EUR") == Money(0, "EUR")
    assert ledger_balance(account="escrow", currency="EUR") == Money(0, "EUR")
    assert ledger_balance(account="platform:revenue", currency="EUR") == Money(0, "EUR")
    # The refund is asked for (refund_pending, committed) before the gateway is called.
    assert _events(escrow)[-2:] == [
        (S.FUNDED, S.REFUND_PENDING, member.pk),
        (S.REFUND_PENDING, S.REFUNDED, member.pk),
    ]
    assert EscrowEvent.objects.get(escrow=escrow, to_status=S.REFUNDED).note == (
        "cancelled before delivery"
    )
    assert assert_books(escrow) == {
        "charged": 10_500,
        "transferred": 0,
        "revenue": 0,
        "refunded": 10_500,
        "held": 0,
    }


@pytest.mark.parametrize("status", [S.AWAITING_FUNDING, S.RELEASE_PENDING, S.RELEASED, S.REFUNDED])
def test_refund_needs_funded_money(fees, company, member, payee, status, assert_books):
    if status == S.RELEASED:
        _ready(payee)
    escrow = make_escrow(company=company, payee=payee, status=status, actor=member)
    n_entries = LedgerEntry.objects.count()

    with pytest.raises(StateConflict):
        escrow_refund(escrow_id=escrow.pk, actor=member)

    escrow.refresh_from_db()
    assert escrow.status == status
    assert LedgerEntry.objects.count() == n_entries
    assert_books(escrow)


def test_funding_a_settled_escrow_is_a_state_conflict(fees, company, payee, member):
    escrow = make_escrow(company=company, payee=payee, status=S.FUNDED, actor=member)
    escrow_refund(escrow_id=escrow.pk, actor=member)
    with pytest.raises(StateConflict):
        escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_visa")
    assert len(_txns(escrow, K.FUNDING)) == 1


# --- the books, over many amounts ---------------------------------------------------------


@pytest.mark.parametrize("currency", ["EUR", "JPY"])
@pytest.mark.parametrize(
    "amount", [50, 59, 60, 61, 99, 101, 1_009, 1_010, 9_999, 10_001, 95_238_094]
)
def test_charged_is_transferred_plus_revenue_plus_refunded(
    fees, company, member, payee, amount, currency, assert_books
):
    _ready(payee)
    money = {"amount_cents": amount, "currency": currency}
    released = make_escrow(company=company, payee=payee, status=S.RELEASED, actor=member, **money)
    refunded = make_escrow(company=company, payee=payee, status=S.REFUNDED, actor=member, **money)

    books = assert_books(released)
    assert books["charged"] == released.charge_cents
    assert books["transferred"] == released.payee_cents
    assert books["revenue"] == released.company_fee_cents + released.student_commission_cents
    books = assert_books(refunded)
    assert books["refunded"] == refunded.charge_cents
    assert ledger_balance(account="escrow", currency=currency) == Money(0, currency)


# --- concurrency (PostgreSQL) -------------------------------------------------------------


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_releases_release_once(fees, company, member, payee, assert_books):
    _ready(payee)
    escrow = make_escrow(company=company, payee=payee, status=S.FUNDED, actor=member)

    def release() -> object:
        return escrow_release(escrow_id=escrow.pk, actor=member)

    outcomes = tally(run_at_once(*[release] * 20))

    assert outcomes == Counter({"ok": 1, "conflict": 19})
    assert len(_txns(escrow, K.RELEASE)) == 1
    assert EscrowEvent.objects.filter(escrow=escrow, to_status=S.RELEASED).count() == 1
    assert assert_books(escrow)["transferred"] == 9_000


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_fundings_charge_once(fees, company, payee, member, assert_books):
    escrow = make_escrow(company=company, payee=payee)

    def fund() -> object:
        return escrow_fund(escrow_id=escrow.pk, actor=member, payment_method="pm_card_visa")

    outcomes = tally(run_at_once(*[fund] * 20))

    assert outcomes == Counter({"ok": 1, "conflict": 19})
    assert len(_txns(escrow, K.FUNDING)) == 1
    assert assert_books(escrow)["held"] == 10_500


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_milestone_approvals_release_once(fees, assert_books):
    student = VerifiedStudentFactory()
    _ready(student)
    project = ProjectFactory(budget_cents=20_000)
    owner = project.created_by
    bid = bid_submit(
        project_id=project.pk, by=student, amount_cents=10_000, estimated_days=3, cover_letter="hi"
    )
    contract = bid_accept(bid_id=bid.pk, by=owner)
    milestone = contract.milestones.get()
    escrow_fund(escrow_id=milestone.escrow_id, actor=owner, payment_method="pm_card_visa")
    milestone_submit(milestone_id=milestone.pk, by=student, note="done")

    def approve() -> object:
        return milestone_approve(milestone_id=milestone.pk, by=owner)

    outcomes = tally(run_at_once(*[approve] * 20))

    assert outcomes == Counter({"ok": 1, "conflict": 19})
    milestone = Milestone.objects.select_related("escrow").get(pk=milestone.pk)
    assert milestone.work_status == Milestone.WorkStatus.APPROVED
    assert milestone.escrow.status == S.RELEASED
    assert len(_txns(milestone.escrow, K.RELEASE)) == 1
    assert assert_books(milestone.escrow)["transferred"] == 9_000


@pytest.mark.parametrize(
    ("amount", "currency", "ok"),
    [
        (49, "EUR", False),
        (50, "EUR", True),
        (29, "GBP", False),
        (30, "GBP", True),
        (49, "JPY", False),
        (50, "JPY", True),
        (95_238_094, "EUR", True),
        (95_238_095, "EUR", False),
    ],
)
def test_create_refuses_amounts_a_card_cannot_carry(company, payee, amount, currency, ok):  # type: ignore[no-untyped-def]
    def create() -> Escrow:
        return escrow_create(
            reference="r", company=company, payee=payee, amount_cents=amount, currency=currency
        )

    if ok:
        assert create().amount_cents == amount
    else:
        with pytest.raises(ValidationFailed) as err:
            create()
        assert err.value.field == "amount_cents"
        assert not Escrow.objects.exists()
