"""Background work of the projects app, run by Celery beat (see CELERY_BEAT_SCHEDULE).

Thin callers of `projects.contracts.scheduling` and `.services`: they take ids,
re-read the rows and may run any number of times."""

from __future__ import annotations

from functools import partial

from celery import shared_task
from django.db import transaction

from projects.contracts.scheduling import milestone_auto_release, milestones_due_for_auto_release
from projects.contracts.services import milestone_releases_retry


@shared_task(ignore_result=True)
def auto_release_due_milestones_task() -> int:
    """Queue one `auto_release_milestone_task` per milestone due now; returns how many."""
    ids = list(milestones_due_for_auto_release().values_list("pk", flat=True))
    for milestone_id in ids:
        transaction.on_commit(partial(auto_release_milestone_task.delay, milestone_id=milestone_id))
    return len(ids)


@shared_task(ignore_result=True)
def auto_release_milestone_task(*, milestone_id: int) -> bool:
    """Approve one milestone for the company if it is still due (see `milestone_auto_release`)."""
    return milestone_auto_release(milestone_id=milestone_id)


@shared_task(ignore_result=True)
def retry_pending_releases_task() -> int:
    """Retry approved milestones whose transfer has not gone out yet; returns how many did."""
    return milestone_releases_retry()
