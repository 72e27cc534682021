"""Scheduled work of the schools app: warning students before their verification ends.

The expiry itself runs in `projects.briefs.tasks`, because ending a
verification also withdraws the student's bids (projects imports schools, never
the reverse).
"""

from __future__ import annotations

from celery import shared_task

from schools.services import verifications_warn_expiring


@shared_task(ignore_result=True)
def warn_expiring_verifications_task() -> None:
    """Daily: warn once each student whose verification ends within VERIFICATION_EXPIRING_DAYS."""
    verifications_warn_expiring()
