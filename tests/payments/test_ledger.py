from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace.errors import ValidationFailed
from marketplace.money import Money
from payments.models import LedgerEntry, LedgerTransaction, PayoutAccount
from payments.selectors import (
    ledger_balance,
    ledger_entries_for_escrows,
    ledger_totals_by_account_prefix,
    ledger_unbalanced_transactions,
)
from payments.services.funding import escrow_fund
from payments.services.ledger import ledger_post
from payments.services.payouts import payout_account_onboard
from payments.services.refunds import escrow_refund
from payments.services.releases import escrow_release
from tests.factories import CompanyFactory, StudentFactory
from tests.factories.escrows import make_escrow

pytestmark = pytest.mark.django_db

K = LedgerTransaction.Kind


def _nothing_written():
    assert LedgerTransaction.objects.count() == 0
    assert LedgerEntry.objects.count() == 0


@pytest.mark.parametrize(
    "entries",
    [
        [("company:1", -100), ("escrow", 99)],
        [("company:1", -100), ("escrow", 100), ("platform:revenue", 1)],
        [("a", 1), ("b", 1)],
    ],
)
def test_ledger_post_refuses_an_unbalanced_transaction_and_writes_nothing(entries):
    with pytest.raises(ValidationFailed):
        ledger_post(kind=K.FUNDING, currency="EUR", entries=entries)
    _nothing_written()


@pytest.mark.parametrize(
    "entries",
    [
        [],
        [("escrow", 100)],
        [("escrow", 0), ("company:1", 0)],
        [("escrow", 100), ("company:1", 0)],
    ],
)
def test_ledger_post_refuses_fewer_than_two_non_zero_entries_and_writes_nothing(entries):
    with pytest.raises(ValidationFailed):
        ledger_post(kind=K.FUNDING, currency="EUR", entries=entries)
    _nothing_written()


def test_ledger_post_drops_zero_amounts():
    txn = ledger_post(
        kind=K.RELEASE,
        currency="EUR",
        memo="m",
        entries=[("escrow", -1000), ("student:4", 1000), ("platform:revenue", 0)],
    )
    rows = list(txn.entries.order_by("id").values_list("account", "amount_cents", "currency"))
    assert rows == [("escrow", -1000, "EUR"), ("student:4", 1000, "EUR")]
    assert txn.kind == "release"
    assert set(txn.entries.values_list("memo", flat=True)) == {"m"}
    assert ledger_unbalanced_transactions() == []


def test_balances_are_sums_of_entries_per_account_and_currency():
    ledger_post(
        kind=K.FUNDING, currency="EUR", entries=[("company:1", -10_500), ("escrow", 10_500)]
    )
    ledger_post(kind=K.FUNDING, currency="EUR", entries=[("company:1", -2_100), ("escrow", 2_100)])
    ledger_post(kind=K.FUNDING, currency="JPY", entries=[("company:1", -1_575), ("escrow", 1_575)])
    ledger_post(
        kind=K.RELEASE,
        currency="EUR",
        entries=[("escrow", -10_500), ("student:7", 9_000), ("platform:revenue", 1_500)],
    )

    assert ledger_balance(account="company:1", currency="EUR") == Money(-12_600, "EUR")
    assert ledger_balance(account="escrow", currency="EUR") == Money(2_100, "EUR")
    assert ledger_balance(account="student:7", currency="EUR") == Money(9_000, "EUR")
    assert ledger_balance(account="platform:revenue", currency="EUR") == Money(1_500, "EUR")
    assert ledger_balance(account="company:1", currency="JPY") == Money(-1_575, "JPY")
    assert ledger_balance(account="student:7", currency="JPY") == Money(0, "JPY")
    assert ledger_balance(account="nobody", currency="EUR") == Money(0, "EUR")
    assert ledger_totals_by_account_prefix(currency="EUR") == {
        "company": -12_600,
        "escrow": 2_100,
        "student": 9_000,
        "platform:revenue": 1_500,
    }
    assert ledger_unbalanced_transactions() == []


def test_unbalanced_selector_finds_a_transaction_written_around_the_service():
    good = ledger_post(kind=K.FUNDING, currency="EUR", entries=[("a", -1), ("b", 1)])
    bad = LedgerTransaction.objects.create(kind=K.FUNDING, currency="EUR")
    LedgerEntry.objects.create(transaction=bad, account="a", amount_cents=5, currency="EUR")
    assert ledger_unbalanced_transactions() == [bad.pk]
    assert good.pk != bad.pk


_WRITE_TO_LEDGER = re.compile(
    r'^\s*(UPDATE|DELETE FROM)\s+"?payments_ledger(entry|transaction)"?', re.IGNORECASE
)


def test_no_escrow_or_payout_service_updates_or_deletes_ledger_rows():
    company = CompanyFactory()
    student = StudentFactory()
    other = StudentFactory()
    PayoutAccount.objects.create(
        user=student, gateway="dummy", account_id="acct_ready", payouts_enabled=True
    )
    first = make_escrow(company=company, payee=student, amount_cents=10_000)
    second = make_escrow(company=company, payee=student, amount_cents=3_333)
    third = make_escrow(company=company, payee=other, amount_cents=777, currency="JPY")

    with CaptureQueriesContext(connection) as ctx:
        escrow_fund(escrow_id=first.pk, actor=None, payment_method="pm_card_visa")
        before = list(LedgerEntry.objects.order_by("id").values())
        escrow_release(escrow_id=first.pk, actor=None)
        escrow_fund(escrow_id=second.pk, actor=None, payment_method="pm_card_visa")
        escrow_refund(escrow_id=second.pk, actor=None)
        escrow_fund(escrow_id=third.pk, actor=None, payment_method="pm_card_visa")
        escrow_release(escrow_id=third.pk, actor=None)
        payout_account_onboard(user=other)

    writes = [q["sql"] for q in ctx.captured_queries if _WRITE_TO_LEDGER.match(q["sql"])]
    assert writes == []
    after = {row["id"]: row for row in LedgerEntry.objects.values()}
    for row in before:
        assert after[row["id"]] == row
    assert LedgerTransaction.objects.filter(kind=K.FUNDING).count() == 3
    assert LedgerTransaction.objects.filter(kind=K.RELEASE).count() == 2
    assert LedgerTransaction.objects.filter(kind=K.REFUND).count() == 1
    entries = ledger_entries_for_escrows(escrow_ids=[first.pk, second.pk])
    assert sum(e.amount_cents for e in entries) == 0
    assert ledger_unbalanced_transactions() == []
