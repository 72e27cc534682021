"""`manage.py import_briefs PATH`: post real freelance job postings as open briefs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketplace.importing import ImportFileError
from marketplace.management.progress import rich_progress
from projects.demo.importing import HOURLY_BRIEF_HOURS, briefs_import


class Command(BaseCommand):
    help = (
        "Import freelance_jobs.csv as open USD briefs posted by importer companies. "
        f"Hourly postings are budgeted at {HOURLY_BRIEF_HOURS} hours at the top rate; "
        "hourly ones without a range are skipped. A title the company already posted is "
        "not posted again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="freelance_jobs.csv")
        parser.add_argument("--limit", type=int, default=None, help="read only the first N rows")
        parser.add_argument(
            "--company",
            default=None,
            help="post every brief as this company (created if missing); "
            "default: a few importer companies",
        )

    def handle(
        self, *args: Any, path: Path, limit: int | None, company: str | None, **options: Any
    ) -> None:
        if limit is not None and limit < 0:
            raise CommandError("--limit must be zero or more.")
        try:
            with rich_progress() as progress:
                report = briefs_import(
                    path=path, company_name=company, limit=limit, progress=progress
                )
        except ImportFileError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(f"Briefs: {report.summary()}"))
