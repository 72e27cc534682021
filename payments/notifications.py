"""What staff and payees are told about money events: failed payouts, chargebacks, reversals.

Each function names one event; the services call them inside their
transaction, and the e-mails leave after commit. Keys make every event told
once per recipient, however often a service or task runs."""

from __future__ import annotations

from marketplace.money import Money
from marketplace.notifications import notify, notify_staff
from payments.models import Chargeback, Escrow, PayoutAccount, StripeEvent

# Where a student of an Express account logs in to Stripe to change their bank details.
STRIPE_EXPRESS_LOGIN_URL = "https://connect.stripe.com/express_login"


def _escrow_admin_url(escrow: Escrow) -> str:
    return f"/admin/payments/escrow/{escrow.pk}/change/"


def payout_failed(
    account: PayoutAccount, *, payout_id: str, amount_cents: int, currency: str, failure_code: str
) -> None:
    """The student's bank refused a payout from their Stripe account; staff are told too."""
    amount = Money(amount_cents, currency).format()
    notify(
        user=account.user,
        template="payout_failed",
        key=f"payout-failed:{payout_id}:{account.user_id}",
        context={"amount": amount, "failure_code": failure_code, "url": STRIPE_EXPRESS_LOGIN_URL},
        url=STRIPE_EXPRESS_LOGIN_URL,
    )
    admin_url = f"/admin/payments/payoutaccount/{account.pk}/change/"
    notify_staff(
        template="payout_failed_staff",
        key=f"payout-failed:{payout_id}",
        context={
            "student_email": account.user.email,
            "account_id": account.account_id,
            "payout_id": payout_id,
            "amount": amount,
            "failure_code": failure_code,
            "admin_url": admin_url,
        },
        url=admin_url,
    )


def chargeback_opened(chargeback: Chargeback) -> None:
    """Staff: a card dispute opened on an escrow's charge (frozen if the money was held)."""
    admin_url = f"/admin/payments/chargeback/{chargeback.pk}/change/"
    notify_staff(
        template="chargeback_opened",
        key=f"chargeback-opened:{chargeback.dispute_id}",
        context={
            "escrow_reference": chargeback.escrow.reference,
            "dispute_id": chargeback.dispute_id,
            "amount": Money(chargeback.amount_cents, chargeback.currency).format(),
            "reason": chargeback.reason or "unknown",
            "funds_held": chargeback.funds_held,
            "admin_url": admin_url,
        },
        url=admin_url,
    )


def chargeback_closed(chargeback: Chargeback) -> None:
    """Staff: the bank decided a card dispute (won, or lost and by whom the money is borne)."""
    admin_url = f"/admin/payments/chargeback/{chargeback.pk}/change/"
    notify_staff(
        template="chargeback_closed",
        key=f"chargeback-closed:{chargeback.dispute_id}",
        context={
            "escrow_reference": chargeback.escrow.reference,
            "escrow_status": chargeback.escrow.status,
            "dispute_id": chargeback.dispute_id,
            "amount": Money(chargeback.amount_cents, chargeback.currency).format(),
            "won": chargeback.status == Chargeback.Status.WON,
            "funds_held": chargeback.funds_held,
            "admin_url": admin_url,
        },
        url=admin_url,
    )


def transfer_reversed(escrow: Escrow, *, transfer_id: str, amount_cents: int) -> None:
    """Staff: money was pulled back from a student's transfer."""
    admin_url = _escrow_admin_url(escrow)
    notify_staff(
        template="transfer_reversed",
        key=f"transfer-reversed:{transfer_id}:{amount_cents}",
        context={
            "escrow_reference": escrow.reference,
            "transfer_id": transfer_id,
            "amount": Money(amount_cents, escrow.currency).format(),
            "admin_url": admin_url,
        },
        url=admin_url,
    )


def refunded_outside(escrow: Escrow) -> None:
    """Staff: an escrow's charge was refunded outside the platform, and that was recorded."""
    admin_url = _escrow_admin_url(escrow)
    notify_staff(
        template="refunded_outside",
        key=f"refunded-outside:{escrow.pk}",
        context={
            "escrow_reference": escrow.reference,
            "amount": Money(escrow.charge_cents, escrow.currency).format(),
            "refund_id": escrow.refund_id,
            "admin_url": admin_url,
        },
        url=admin_url,
    )


def stripe_event_failed(event: StripeEvent) -> None:
    """Staff: a Stripe event could not be processed; it waits for them in the admin.

    Told once per event: a redelivery or another attempt that fails again shows
    in the admin (attempts, error), not in more e-mails.
    """
    admin_url = f"/admin/payments/stripeevent/{event.pk}/change/"
    notify_staff(
        template="stripe_event_failed",
        key=f"stripe-event-failed:{event.event_id}",
        context={
            "event_id": event.event_id,
            "event_type": event.type,
            "error": event.error,
            "attempts": event.attempts,
            "admin_url": admin_url,
        },
        url=admin_url,
    )
