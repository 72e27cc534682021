from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError

from marketplace.models import Notification, OutboundEmail
from payments.gateways.dummy import DummyGateway
from payments.models import (
    DummyGatewayObject,
    Escrow,
    LedgerEntry,
    LedgerTransaction,
    ReconciliationRun,
)
from payments.services.escrow import escrow_freeze
from payments.services.funding import escrow_fund, escrow_mark_funded
from payments.services.ledger import ESCROW_ACCOUNT, company_account, ledger_post
from payments.services.payouts import payout_account_onboard
from payments.services.reconciliation import ledger_reconcile
from payments.services.refunds import escrow_refund, escrow_settle_split
from payments.tasks import reconcile_ledger_task
from tests.factories import CompanyMemberFactory, StudentFactory, UserFactory
from tests.factories.escrows import make_escrow
from tests.twofactor import login_with_second_factor

pytestmark = pytest.mark.django_db

S = Escrow.Status
K = LedgerTransaction.Kind
DAY = dt.date(2025, 3, 14)


@pytest.fixture(autouse=True)
def fees(settings):
    settings.COMPANY_FEE_BPS = 500
    settings.STUDENT_COMMISSION_BPS = 1000
    settings.SITE_URL = "https://market.example"


@pytest.fixture
def member():
    return CompanyMemberFactory()


@pytest.fixture
def company(member):
    return member.company_membership.company


@pytest.fixture
def payee():
    student = StudentFactory()
    payout_account_onboard(user=student)
    return student


@pytest.fixture
def staff():
    return [
        UserFactory(is_staff=True, email="ops1@example.com"),
        UserFactory(is_staff=True, email="ops2@example.com", language="fr"),
    ]


@pytest.fixture
def books(company, payee, member):
    def escrow(amount_cents: int, status: str = S.FUNDED) -> Escrow:
        return make_escrow(
            company=company, payee=payee, amount_cents=amount_cents, status=status, actor=member
        )

    released = escrow(10_000, S.RELEASED)
    refunded = escrow(20_000, S.REFUNDED)
    split = escrow(30_000)
    escrow_freeze(escrow_id=split.pk, actor=member)
    escrow_settle_split(escrow_id=split.pk, release_cents=20_000, refund_cents=11_500, actor=member)
    held = escrow(40_000)
    waiting = escrow(50_000, S.AWAITING_FUNDING)
    escrow_fund(escrow_id=waiting.pk, actor=member)
    untouched = escrow(60_000, S.AWAITING_FUNDING)
    escrows = {
        "released": released,
        "refunded": refunded,
        "split": split,
        "held": held,
        "waiting": waiting,
        "untouched": untouched,
    }
    for escrow in escrows.values():
        escrow.refresh_from_db()
    return escrows


def _object(object_id: str) -> DummyGatewayObject:
    return DummyGatewayObject.objects.get(object_id=object_id)


def _diffs(run) -> list[tuple]:
    return [(d["reference"], d["kind"], d["ledger"], d["gateway"]) for d in run.differences]


def test_a_normal_flow_reconciles_clean(books, staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = ledger_reconcile()

    assert run.ok is True
    assert run.differences == []
    assert run.checked == 5
    assert run.day is None
    assert run.gateway == "dummy"
    assert Notification.objects.filter(kind="reconciliation_report").count() == 0
    assert OutboundEmail.objects.filter(template="reconciliation_report").count() == 0
    assert mail.outbox == []


def test_the_gateway_holds_what_the_ledger_says(books):
    released, split = books["released"], books["split"]
    assert _object(released.payment_intent_id).amount == 10_500
    assert _object(released.transfer_id).amount == 9_000
    assert _object(books["refunded"].refund_id).amount == 21_000
    assert _object(split.transfer_id).amount == 18_000
    assert _object(split.refund_id).amount == 11_500
    assert _object(books["waiting"].payment_intent_id).status == "requires_payment_method"


def test_a_payment_intent_missing_at_the_gateway(books):
    held = books["held"]
    _object(held.payment_intent_id).delete()

    run = ledger_reconcile()

    assert run.ok is False
    assert run.differences == [
        {
            "reference": held.reference,
            "kind": "charge_missing_at_gateway",
            "ledger": 42_000,
            "gateway": None,
            "detail": f"no payment intent {held.payment_intent_id} at the gateway",
        }
    ]


def test_amounts_that_differ_on_each_leg(books):
    released, refunded, split = books["released"], books["refunded"], books["split"]
    DummyGatewayObject.objects.filter(object_id=released.payment_intent_id).update(amount=10_400)
    DummyGatewayObject.objects.filter(object_id=released.transfer_id).update(amount=9_001)
    DummyGatewayObject.objects.filter(object_id=refunded.refund_id).update(amount=20_000)
    DummyGatewayObject.objects.filter(object_id=split.refund_id).update(currency="USD")

    run = ledger_reconcile()

    assert _diffs(run) == [
        (released.reference, "charge_amount", 10_500, 10_400),
        (released.reference, "transfer_amount", 9_000, 9_001),
        (refunded.reference, "refund_amount", 21_000, 20_000),
        (split.reference, "refund_currency", "EUR", "USD"),
    ]
    assert run.differences[1]["detail"] == (
        f"{released.transfer_id}: gateway 9001, ledger 9000 (EUR)"
    )


def test_a_transfer_and_a_refund_missing_at_the_gateway(books):
    released, refunded = books["released"], books["refunded"]
    _object(released.transfer_id).delete()
    _object(refunded.refund_id).delete()

    run = ledger_reconcile()

    assert _diffs(run) == [
        (released.reference, "transfer_missing_at_gateway", 9_000, None),
        (refunded.reference, "refund_missing_at_gateway", 21_000, None),
    ]


def test_a_succeeded_payment_intent_whose_escrow_still_awaits_funding(books):
    waiting = books["waiting"]
    DummyGatewayObject.objects.filter(object_id=waiting.payment_intent_id).update(
        status="succeeded"
    )

    run = ledger_reconcile()

    assert run.differences == [
        {
            "reference": waiting.reference,
            "kind": "charge_status",
            "ledger": "awaiting_funding",
            "gateway": "succeeded",
            "detail": f"{waiting.payment_intent_id} succeeded for 52500; "
            "the escrow still awaits funding",
        }
    ]


def test_a_funding_the_gateway_never_confirmed(books):
    waiting = books["waiting"]
    escrow_mark_funded(payment_intent_id=waiting.payment_intent_id, charge_id="ch_forged")

    run = ledger_reconcile()

    assert _diffs(run) == [
        (waiting.reference, "charge_status", "funded", "requires_payment_method"),
    ]


def test_money_the_gateway_moved_and_the_ledger_does_not_show(books, payee):
    held = books["held"]
    transfer_id = DummyGateway().create_transfer(
        amount=36_000,
        currency="EUR",
        destination=payee.payout_account.account_id,
        source_transaction=held.charge_id,
        transfer_group=held.reference,
        idempotency_key="stray-transfer",
    )
    Escrow.objects.filter(pk=held.pk).update(transfer_id=transfer_id)

    run = ledger_reconcile()

    assert _diffs(run) == [(held.reference, "transfer_missing_in_ledger", None, 36_000)]


def test_stray_ledger_transactions(books, company):
    held = books["held"]
    ledger_post(
        kind=K.REFUND,
        currency="EUR",
        escrow=held,
        memo="stray refund",
        entries=[(ESCROW_ACCOUNT, -42_000), (company_account(company.pk), 42_000)],
    )
    stray = ledger_post(
        kind=K.FUNDING,
        currency="EUR",
        memo="no escrow",
        entries=[(company_account(company.pk), -700), (ESCROW_ACCOUNT, 700)],
    )

    run = ledger_reconcile()

    assert run.differences == [
        {
            "reference": held.reference,
            "kind": "refund_missing_at_gateway",
            "ledger": 42_000,
            "gateway": None,
            "detail": "no refund recorded on the escrow at the gateway",
        },
        {
            "reference": f"ledger-transaction:{stray.pk}",
            "kind": "transaction_without_escrow",
            "ledger": "funding",
            "gateway": None,
            "detail": "a funding in EUR attached to no escrow (no escrow)",
        },
    ]


def test_an_unbalanced_ledger_transaction(books):
    txn = LedgerTransaction.objects.get(escrow=books["held"], kind=K.FUNDING)
    LedgerEntry.objects.create(transaction=txn, account="escrow", amount_cents=5, currency="EUR")

    run = ledger_reconcile()

    assert _diffs(run) == [
        (books["held"].reference, "charge_amount", 42_005, 42_000),
        (f"ledger-transaction:{txn.pk}", "unbalanced_transaction", 5, None),
    ]


def test_staff_are_told_only_when_there_are_differences(
    books, staff, django_capture_on_commit_callbacks
):
    UserFactory(is_staff=True, is_active=False)
    UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        assert ledger_reconcile().ok
    assert mail.outbox == []

    _object(books["held"].payment_intent_id).delete()
    with django_capture_on_commit_callbacks(execute=True):
        run = ledger_reconcile()

    keys = set(
        Notification.objects.filter(kind="reconciliation_report").values_list("key", flat=True)
    )
    assert keys == {f"reconciliation:{run.pk}:{user.pk}" for user in staff}
    assert sorted(m.to[0] for m in mail.outbox) == ["ops1@example.com", "ops2@example.com"]
    english = next(m for m in mail.outbox if m.to == ["ops1@example.com"])
    assert "1 difference" in english.subject
    assert books["held"].reference in english.body
    assert "charge_missing_at_gateway" in english.body
    assert OutboundEmail.objects.get(to="ops2@example.com").language == "fr"


def test_day_limits_the_check_to_escrows_touched_that_day(company, payee, member):
    with time_machine.travel(dt.datetime(2025, 3, 13, 12, tzinfo=dt.UTC), tick=False):
        before = make_escrow(company=company, payee=payee, status=S.FUNDED, actor=member)
    with time_machine.travel(dt.datetime(2025, 3, 14, 12, tzinfo=dt.UTC), tick=False):
        on_day = make_escrow(company=company, payee=payee, status=S.FUNDED, actor=member)
        escrow_refund(escrow_id=before.pk, actor=member)
        later = make_escrow(company=company, payee=payee)
    with time_machine.travel(dt.datetime(2025, 3, 15, 12, tzinfo=dt.UTC), tick=False):
        escrow_fund(escrow_id=later.pk, actor=member, payment_method="pm_card_visa")
    for escrow in (before, on_day, later):
        escrow.refresh_from_db()
        _object(escrow.payment_intent_id).delete()

    assert {d["reference"] for d in ledger_reconcile(day=DAY).differences} == {
        before.reference,
        on_day.reference,
    }
    assert {d["reference"] for d in ledger_reconcile(day=dt.date(2025, 3, 15)).differences} == {
        later.reference
    }
    assert ledger_reconcile(day=dt.date(2025, 3, 16)).checked == 0
    assert ledger_reconcile().checked == 3


def test_escrows_of_another_gateway_are_not_compared(books):
    Escrow.objects.filter(pk=books["held"].pk).update(gateway="stripe")
    _object(books["held"].payment_intent_id).delete()

    run = ledger_reconcile()

    assert run.ok
    assert run.checked == 4


def test_the_command_exits_zero_when_clean(books, capsys):
    call_command("reconcile_ledger")
    out = capsys.readouterr().out
    assert "5 checked, no differences." in out


def test_the_command_exits_non_zero_on_differences(books, capsys, monkeypatch):
    # run_from_argv closes every connection when it ends, which would end the test's transaction.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)
    held = books["held"]
    _object(held.payment_intent_id).delete()

    execute_from_command_line(["manage.py", "reconcile_ledger", "--day", "2000-01-01"])
    assert "no differences." in capsys.readouterr().out

    with pytest.raises(SystemExit) as exc:
        execute_from_command_line(["manage.py", "reconcile_ledger"])
    assert exc.value.code == 1
    out, err = capsys.readouterr()
    assert "1 differences:" in out
    assert f"{held.reference}  charge_missing_at_gateway  ledger=42000  gateway=None" in out
    assert "1 differences found." in err


def test_the_command_refuses_a_bad_day():
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("reconcile_ledger", "--day", "14/03/2025")


def test_the_task_checks_yesterday(company, payee, member):
    with time_machine.travel(dt.datetime(2025, 3, 14, 12, tzinfo=dt.UTC), tick=False):
        make_escrow(company=company, payee=payee, status=S.FUNDED, actor=member)
    with time_machine.travel(dt.datetime(2025, 3, 15, 3, tzinfo=dt.UTC), tick=False):
        reconcile_ledger_task.delay()

    [run] = ReconciliationRun.objects.all()
    assert run.day == DAY
    assert run.checked == 1
    assert run.ok


def test_admin_lists_runs_and_ledger_balances(books, client, company, payee):
    _object(books["held"].payment_intent_id).delete()
    run = ledger_reconcile()
    admin = UserFactory(is_staff=True, is_superuser=True)
    login_with_second_factor(client, admin)

    changelist = client.get("/admin/payments/reconciliationrun/")
    detail = client.get(f"/admin/payments/reconciliationrun/{run.pk}/change/")
    balances = client.get("/admin/payments/ledgerentry/balances/")

    assert changelist.status_code == 200
    assert detail.status_code == 200
    assert "charge_missing_at_gateway" in detail.content.decode()
    assert balances.status_code == 200
    rows = {(r["account"], r["currency"]): r["balance_cents"] for r in balances.context["balances"]}
    assert rows[("escrow", "EUR")] == 42_000
    assert rows[(f"student:{payee.pk}", "EUR")] == 9_000 + 18_000
    assert rows[("platform:revenue", "EUR")] == 500 + 1_000 + 2_000
    assert rows[(company_account(company.pk), "EUR")] == -(10_500 + 42_000 + 31_500 - 11_500)
    assert sum(rows.values()) == 0
    assert client.get("/admin/payments/ledgerentry/").status_code == 200


def test_ledger_balances_are_for_staff_only(client):
    client.force_login(UserFactory())
    response = client.get("/admin/payments/ledgerentry/balances/")
    assert response.status_code == 302


def test_lost_chargebacks_and_reversals_are_not_differences(books):
    from payments.selectors import ledger_unbalanced_transactions
    from payments.services.chargebacks import (
        chargeback_close,
        chargeback_open,
        escrow_record_transfer_reversal,
    )

    held, released = books["held"], books["released"]
    chargeback_open(
        escrow_id=held.pk,
        dispute_id="dp_held",
        charge_id=held.charge_id,
        amount_cents=held.charge_cents,
        currency=held.currency,
        reason="fraudulent",
    )
    chargeback_close(dispute_id="dp_held", won=False)
    chargeback_open(
        escrow_id=released.pk,
        dispute_id="dp_paid",
        charge_id=released.charge_id,
        amount_cents=released.charge_cents,
        currency=released.currency,
        reason="fraudulent",
    )
    chargeback_close(dispute_id="dp_paid", won=False)
    escrow_record_transfer_reversal(
        escrow_id=released.pk,
        transfer_id=released.transfer_id,
        amount_reversed=1_000,
        currency=released.currency,
    )
    run = ledger_reconcile()
    assert _diffs(run) == []
    assert ledger_unbalanced_transactions() == []
