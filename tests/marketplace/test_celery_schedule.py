from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery.schedules import crontab
from django.conf import settings

from marketplace.celery import app as celery_app

SCHEDULE = settings.CELERY_BEAT_SCHEDULE
REPO_ROOT = Path(__file__).resolve().parent.parent.parent


EXPECTED = {
    "refresh-payout-accounts": (
        "payments.tasks.refresh_payout_accounts_task",
        crontab(minute=45),
    ),
    "auto-release-due-milestones": (
        "projects.contracts.tasks.auto_release_due_milestones_task",
        crontab(minute=0),
    ),
    "retry-pending-releases": (
        "projects.contracts.tasks.retry_pending_releases_task",
        crontab(minute="*/15"),
    ),
    "retry-pending-refunds": ("payments.tasks.retry_pending_refunds_task", crontab(minute="*/15")),
    "expire-verifications": (
        "projects.briefs.tasks.expire_verifications_task",
        crontab(hour=2, minute=0),
    ),
    "warn-expiring-verifications": (
        "schools.tasks.warn_expiring_verifications_task",
        crontab(hour=2, minute=30),
    ),
    "reconcile-ledger": ("payments.tasks.reconcile_ledger_task", crontab(hour=3, minute=0)),
    "reveal-reviews": ("projects.reviews.tasks.reveal_reviews_task", crontab(minute=30)),
    "refresh-rankings": ("projects.reviews.tasks.refresh_rankings_task", crontab(hour=4, minute=0)),
}


def test_beat_runs_each_job_at_its_time_in_utc():
    assert {
        name: (entry["task"], entry["schedule"]) for name, entry in SCHEDULE.items()
    } == EXPECTED
    assert celery_app.conf.timezone == "UTC"
    assert SCHEDULE["retry-pending-releases"]["schedule"].minute == {0, 15, 30, 45}


@pytest.mark.parametrize("entry", sorted(SCHEDULE))
def test_every_scheduled_task_is_registered(entry):
    name = SCHEDULE[entry]["task"]
    module = name.rsplit(".", 1)[0]
    assert importlib.util.find_spec(module) is not None, f"beat would send {name} to no task"
    celery_app.loader.import_default_modules()
    importlib.import_module(module)
    assert name in celery_app.tasks


def test_settings_refuse_a_visibility_timeout_shorter_than_a_task():
    env = {**os.environ, "CELERY_VISIBILITY_TIMEOUT": "300"}
    result = subprocess.run(
        [sys.executable, "-c", "import marketplace.settings.base"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "CELERY_VISIBILITY_TIMEOUT=300 must exceed" in result.stderr
