"""The Celery application. Settings come from Django's, under the CELERY_ prefix.

Every task runs on `MarketplaceTask`: late acknowledgement (a task whose worker
dies is delivered again), bounded retries of transient errors with exponential
backoff and jitter, and a `FailedTask` row for staff once the retries are spent.
Tasks take ids and re-read state, so running one twice does no harm.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task
from django.db import OperationalError

from marketplace.errors import TransientError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings.local")


class MarketplaceTask(Task):
    """Base task: acks late, requeues when its worker is lost, retries transient errors."""

    acks_late = True
    reject_on_worker_lost = True
    retry_backoff = 5  # seconds, doubled each retry
    retry_backoff_max = 600
    retry_jitter = True
    max_retries = 5
    # OSError covers refused connections, timeouts and SMTP errors.
    autoretry_for = (TransientError, OSError, OperationalError)

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        from marketplace.services import failed_task_record

        failed_task_record(
            task_name=self.name,
            task_id=task_id,
            kwargs=dict(kwargs or {}),
            error=repr(exc),
            traceback=str(einfo or ""),
        )


app = Celery("marketplace", task_cls=MarketplaceTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
