"""Scheduled work of the payments app: reconciling the ledger, refreshing payout accounts."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from payments.services.payouts import payout_accounts_refresh_not_ready
from payments.services.reconciliation import ledger_reconcile


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
