"""Scheduled work that spans apps: ending verifications and what depends on them.

Celery autodiscovers `<app>.tasks` only; `ProjectsConfig.ready` imports this
module so workers know these tasks."""

from __future__ import annotations

from celery import shared_task

from projects.briefs.lifecycle import verifications_expire_and_withdraw_bids


@shared_task(ignore_result=True)
def expire_verifications_task() -> None:
    """Daily: expire verifications past their graduation date and withdraw those students' bids."""
    verifications_expire_and_withdraw_bids()
