"""Scheduled work of the payments app: reconciling the ledger with the gateway."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from payments.services.reconciliation import ledger_reconcile


@shared_task(ignore_result=True)
def reconcile_ledger_task() -> None:
    """Daily: compare yesterday's money activity (local date) with the gateway; staff are told.

    Running it twice stores two runs and tells staff twice at most, one report per run.
    """
    ledger_reconcile(day=timezone.localdate() - dt.timedelta(days=1))
