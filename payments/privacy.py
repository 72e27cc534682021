"""The payments' share of a user's personal data: payout account, escrows paid to them, ledger.

Exported, never erased: these rows are the books. They hold ids, references and
amounts, not names, so once the account itself is anonymised they no longer
say who the person was.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from marketplace.models import CompanyMembership, User
from marketplace.privacy import Exported, PersonalDataSection, personal_data_section_register
from payments.models import Escrow, LedgerEntry, PayoutAccount
from payments.services.ledger import student_account

# Escrows whose money is not settled yet: held, or a refund not confirmed.
UNSETTLED = Escrow.HELD | {Escrow.Status.REFUND_PENDING}

ACCOUNTING = (
    "accounting records and their supporting documents are kept 10 years (French Code de "
    "commerce art. L123-22), payment records 5 years (Code monétaire et financier art. "
    "L561-12): a legal obligation (GDPR art. 17(3)(b)) and legal claims (art. 17(3)(e)); "
    "they hold ids, references and amounts, not names"
)


def _export(user: User) -> Exported:
    account = PayoutAccount.objects.filter(user=user).first()
    escrows = Escrow.objects.filter(payee=user).order_by("created_at", "pk")
    entries = LedgerEntry.objects.filter(account=student_account(user.pk)).order_by(
        "created_at", "pk"
    )
    return Exported(
        {
            "payout_account": account
            and {
                "gateway": account.gateway,
                "account_id": account.account_id,
                "payouts_enabled": account.payouts_enabled,
                "created_at": account.created_at,
            },
            "escrows_paid_to_you": [
                {
                    "reference": e.reference,
                    "currency": e.currency,
                    "amount_cents": e.amount_cents,
                    "student_commission_cents": e.student_commission_cents,
                    "payee_cents": e.payee_cents,
                    "status": e.status,
                    "transfer_id": e.transfer_id,
                    "created_at": e.created_at,
                    "funded_at": e.funded_at,
                    "settled_at": e.settled_at,
                }
                for e in escrows
            ],
            "ledger_entries": list(
                entries.values("transaction_id", "amount_cents", "currency", "memo", "created_at")
            ),
        }
    )


def _erase(user: User) -> None:
    """Nothing to erase: see ACCOUNTING."""


def _blocker(user: User) -> list[str]:
    reasons = []
    if Escrow.objects.filter(payee=user, status__in=UNSETTLED).exists():
        reasons.append(_("Money is still held in escrow for you, or a refund is pending."))
    membership = CompanyMembership.objects.filter(user=user).first()
    if (
        membership is not None
        and not CompanyMembership.objects.filter(company_id=membership.company_id)
        .exclude(user=user)
        .exists()
        and Escrow.objects.filter(company_id=membership.company_id, status__in=UNSETTLED).exists()
    ):
        reasons.append(
            _(
                "You are the last member of your company and it still has money held in escrow "
                "or a refund pending."
            )
        )
    return reasons


def register() -> None:
    """Register the payments' section (called from PaymentsConfig.ready)."""
    personal_data_section_register(
        PersonalDataSection(
            name="payments",
            description=gettext_noop(
                "your payout account at the payment provider, the escrows paid to you and "
                "the entries of your ledger account (amounts in minor units)"
            ),
            exporter=_export,
            eraser=_erase,
            blocker=_blocker,
            kept={
                "payments.payoutaccount": "the payee's id at the payment provider: " + ACCOUNTING,
                "payments.escrow": ACCOUNTING,
                "payments.escrowevent": ACCOUNTING,
                "payments.ledgertransaction": ACCOUNTING,
                "payments.ledgerentry": ACCOUNTING,
                "payments.chargeback": ACCOUNTING,
                "payments.stripeevent": "the payment provider's events as received: " + ACCOUNTING,
                "payments.dummygatewayobject": (
                    "the offline gateway's copy of what the payment provider holds (a "
                    "connected account keeps the e-mail it was opened with, as Stripe does; "
                    "the provider's own retention applies there): " + ACCOUNTING
                ),
                "payments.reconciliationrun": ACCOUNTING,
            },
        )
    )
