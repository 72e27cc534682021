"""`manage.py import_schools PATH`: load schools and their e-mail domains from the public JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketplace.importing import ImportFileError
from marketplace.management.progress import rich_progress
from schools.importing import schools_import


class Command(BaseCommand):
    help = (
        "Import schools from a university-domains-list JSON file "
        "(idempotent: matched on name and country code)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="world_universities_and_domains.json")

    def handle(self, *args: Any, path: Path, **options: Any) -> None:
        try:
            with rich_progress() as progress:
                report = schools_import(path=path, progress=progress)
        except ImportFileError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(f"Schools: {report.summary()}"))
