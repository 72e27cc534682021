"""Background work of the payments app: Stripe events, reconciling the ledger, payout accounts,
refunds not confirmed yet."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from payments.services.payouts import payout_accounts_refresh_not_ready
from payments.services.reconciliation import ledger_reconcile
from payments.services.refunds import escrow_retry_pending_refunds
from payments.services.webhooks import stripe_event_process


@shared_task(ignore_result=True)
def reconcile_ledger_task() -> None:
    """Daily: compare yesterday's money activity (local date) with the gateway; staff are told.

    Running it twice stores two runs and tells staff twice at most, one report per run.
    """
    ledger_reconcile(day=timezone.localdate() - dt.timedelta(days=1))


@shared_task(ignore_result=True)
def refresh_payout_accounts_task() -> int:
    """Periodic: ask the gateway about payout accounts not ready yet; returns how many now are.

    Catches readiness whose `account.updated` webhook never arrived. The money
    waiting for those payees goes out with the next `retry_pending_releases_task`.
    """
    return len(payout_accounts_refresh_not_ready())


@shared_task(ignore_result=True)
def retry_pending_refunds_task() -> int:
    """Periodic: ask again for refunds not confirmed yet (`refund_pending`); returns how many went.

    Each keeps its idempotency key, so a refund Stripe made but we never
    recorded is answered again, not made twice.
    """
    return len(escrow_retry_pending_refunds())


@shared_task(ignore_result=True)
def process_stripe_event_task(*, event_id: str) -> str | None:
    """Process one stored Stripe webhook event once (see `stripe_event_process`).

    Queued after commit by the webhook view and by staff ("process again").
    TransientError is retried with backoff (MarketplaceTask); a processed event
    returns at once. Returns the event's status.
    """
    event = stripe_event_process(event_id=event_id)
    return event.status if event is not None else None
