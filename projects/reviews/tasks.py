"""Background work of the projects app, run by Celery beat (see CELERY_BEAT_SCHEDULE).

Thin callers of `projects.reviews.services`: they take ids,
re-read the rows and may run any number of times."""

from __future__ import annotations

from celery import shared_task

from projects.reviews.services import rankings_refresh, reviews_reveal_due


@shared_task(ignore_result=True)
def refresh_rankings_task() -> dict[str, int]:
    """Daily: rebuild skill rarity, students' track records and search vectors (idempotent)."""
    return rankings_refresh().__dict__


@shared_task(ignore_result=True)
def reveal_reviews_task() -> None:
    """Hourly: tell reviewed parties their review became readable because its window closed."""
    reviews_reveal_due()
