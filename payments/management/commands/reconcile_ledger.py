"""`manage.py reconcile_ledger [--day YYYY-MM-DD]`: compare the ledger with the payment gateway."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from payments.services.reconciliation import ledger_reconcile


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, not {value!r}") from exc


class Command(BaseCommand):
    help = (
        "Compare the ledger with the payment gateway's payment intents, transfers and refunds, "
        "store the run and tell staff of any difference. Exits with status 1 when the two differ."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--day",
            type=_day,
            default=None,
            help="only the escrows touched on this local date (default: every escrow)",
        )

    def handle(self, *args: Any, day: dt.date | None, **options: Any) -> None:
        run = ledger_reconcile(day=day)
        scope = day.isoformat() if day else "all escrows"
        summary = f"Reconciliation #{run.pk} ({scope}, {run.gateway}): {run.checked} checked"
        if run.ok:
            self.stdout.write(self.style.SUCCESS(f"{summary}, no differences."))
            return
        self.stdout.write(f"{summary}, {len(run.differences)} differences:")
        for d in run.differences:
            self.stdout.write(
                f"  {d['reference']}  {d['kind']}  ledger={d['ledger']}  gateway={d['gateway']}"
                f"  {d['detail']}"
            )
        raise CommandError(f"{len(run.differences)} differences found.", returncode=1)
