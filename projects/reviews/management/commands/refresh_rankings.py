"""`manage.py refresh_rankings`: rebuild what search and matching rank by."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from projects.reviews.services import rankings_refresh


class Command(BaseCommand):
    help = (
        "Recount how many students list each skill, copy students' ratings, contracts and "
        "on-time deliveries onto their profiles. The same job runs daily; run it after a "
        "bulk load that bypassed the services."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        done = rankings_refresh()
        self.stdout.write(
            self.style.SUCCESS(
                f"Rankings: {done.skills} skills recounted, {done.students_changed} student "
                f"profiles changed."
            )
        )
