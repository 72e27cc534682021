"""`manage.py simulate_marketplace --briefs N`: play the whole flow on imported real briefs."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test.utils import override_settings

from marketplace.management.progress import quiet_info_logs, rich_progress
from projects.demo.simulation import (
    SimulationNotReady,
    marketplace_simulate,
    simulation_summary_rows,
)


class Command(BaseCommand):
    help = (
        "Simulate students verifying, bidding, delivering and getting paid on N open "
        "imported briefs (run import_schools and import_briefs first), then check the ledger."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--briefs", type=int, required=True, help="open briefs to play")
        parser.add_argument(
            "--students", type=int, default=None, help="new students (default: briefs / 10, ≥ 5)"
        )
        parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        parser.add_argument(
            "--send-emails",
            action="store_true",
            help="send the verification e-mails with the configured backend; they go to real "
            "school domains, so keep a console backend (default: discarded)",
        )

    def handle(
        self,
        *args: Any,
        briefs: int,
        students: int | None,
        seed: int,
        send_emails: bool,
        **options: Any,
    ) -> None:
        if briefs <= 0 or (students is not None and students <= 0):
            raise CommandError("--briefs and --students must be positive.")
        # Hundreds of simulated verification e-mails would flood the console backend.
        backend = None if send_emails else "django.core.mail.backends.dummy.EmailBackend"
        started = time.monotonic()
        try:
            with (
                override_settings(**({"EMAIL_BACKEND": backend} if backend else {})),
                quiet_info_logs(verbosity=options["verbosity"]),
                rich_progress() as progress,
            ):
                report = marketplace_simulate(
                    briefs=briefs, students=students, seed=seed, progress=progress
                )
        except SimulationNotReady as exc:
            raise CommandError(exc.message) from exc
        elapsed = time.monotonic() - started
        width = max(len(label) for label, _ in simulation_summary_rows(report=report))
        self.stdout.write(f"Simulation of {briefs} briefs (seed {seed}) in {elapsed:.1f} s")
        for label, value in simulation_summary_rows(report=report):
            self.stdout.write(f"  {label:<{width}}  {value}")
        if not report.ledger_balanced:
            raise CommandError("The ledger does not balance; see the lines above.")
        self.stdout.write(self.style.SUCCESS("The ledger balances."))
