"""Scheduled work of reviews. `ProjectsConfig.ready` imports this module so workers know it
(Celery autodiscovers `<app>.tasks` only)."""

from __future__ import annotations

from celery import shared_task

from projects.reviews import reviews_reveal_due


@shared_task(ignore_result=True)
def reveal_reviews_task() -> None:
    """Hourly: tell reviewed parties their review became readable because its window closed."""
    reviews_reveal_due()
