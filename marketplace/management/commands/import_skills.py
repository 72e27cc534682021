"""`manage.py import_skills PATH`: load skills from an O*NET or a skill-tags CSV file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketplace.importing import ImportFileError, skills_import
from marketplace.management.progress import rich_progress


class Command(BaseCommand):
    help = (
        "Import skills from onet_technology_skills_unique.csv or skill_tags.csv "
        "(told apart by the header; idempotent: matched on the slug)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="a CSV file with a `skill` column")

    def handle(self, *args: Any, path: Path, **options: Any) -> None:
        try:
            with rich_progress() as progress:
                report = skills_import(path=path, progress=progress)
        except ImportFileError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(f"Skills: {report.summary()}"))
