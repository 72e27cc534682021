from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum

from payments.models import Escrow, LedgerEntry, LedgerTransaction
from payments.selectors import ledger_unbalanced_transactions
from projects.contracts.models import Milestone
from projects.contracts.tasks import (
    auto_release_due_milestones_task,
    auto_release_milestone_task,
    retry_pending_releases_task,
)
from tests.factories.milestones import submitted_milestone
from tests.integration.conftest import RedisDB, Workers, redis_answers
from tests.integration.stripe_double import CALLS, IDEMPOTENCY, MOVEMENTS, SLEEP

S = Escrow.Status

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="a real worker is a second process on the test database: PostgreSQL only",
    ),
    pytest.mark.skipif(
        not redis_answers(), reason="no Redis answers on 127.0.0.1:6379 to carry the tasks"
    ),
    pytest.mark.django_db(transaction=True),
]


def _due() -> Milestone:
    return submitted_milestone(
        submitted_ago=dt.timedelta(days=settings.AUTO_RELEASE_DAYS, minutes=5)
    )


def _escrow_status(milestone: Milestone) -> str:
    return Escrow.objects.values_list("status", flat=True).get(pk=milestone.escrow_id)


def _releases(milestone: Milestone) -> int:
    return LedgerTransaction.objects.filter(
        escrow_id=milestone.escrow_id, kind=LedgerTransaction.Kind.RELEASE
    ).count()


def _counter(redis_db: RedisDB, prefix: str, milestone: Milestone) -> int:
    return int(redis_db.client.get(f"{prefix}escrow-{milestone.escrow_id}-release") or 0)


def _idle(redis_db: RedisDB) -> bool:
    return redis_db.queued() == 0 and redis_db.unacked() == 0


def _assert_books_balance() -> None:
    assert ledger_unbalanced_transactions() == []
    assert LedgerEntry.objects.aggregate(total=Sum("amount_cents"))["total"] == 0


def test_the_worker_releases_a_delivery_left_unreviewed(workers: Workers, real_celery: RedisDB):
    due = _due()
    recent = submitted_milestone(submitted_ago=dt.timedelta(days=1))
    workers.start()

    auto_release_due_milestones_task.delay()

    workers.wait_for("the due escrow to be released", lambda: _escrow_status(due) == S.RELEASED)
    workers.wait_for("the queue to drain", lambda: _idle(real_celery))
    due.refresh_from_db()
    assert due.work_status == Milestone.WorkStatus.APPROVED
    assert _releases(due) == 1
    assert _counter(real_celery, MOVEMENTS, due) == 1
    assert _escrow_status(recent) == S.FUNDED
    assert _releases(recent) == 0
    _assert_books_balance()


def test_a_worker_killed_mid_transfer_is_replaced_and_money_moves_once(
    workers: Workers, real_celery: RedisDB
):
    milestone = _due()
    key = f"escrow-{milestone.escrow_id}-release"
    # The "provider" pays, then the worker sleeps before committing: the kill lands there.
    real_celery.client.set(SLEEP, 8)
    first = workers.start()

    auto_release_milestone_task.delay(milestone_id=milestone.pk)

    workers.wait_for(
        "the first worker's transfer", lambda: _counter(real_celery, MOVEMENTS, milestone) == 1
    )
    first.kill()
    assert first.process.returncode == -9
    # Paid at the provider, the answer not recorded here, and the message kept by Redis.
    # The approval and the transfer's intent committed before the provider was called:
    # the escrow waits in release_pending, never "funded" with the money gone.
    assert _escrow_status(milestone) == S.RELEASE_PENDING, workers.logs()
    assert _releases(milestone) == 0
    assert real_celery.unacked() == 1, workers.logs()

    workers.start()
    # The redelivered auto-release finds the milestone approved and does nothing more;
    # the scheduled retry sends the transfer again under the same key.
    workers.wait_for("the redelivered task to be done", lambda: _idle(real_celery))
    assert _escrow_status(milestone) == S.RELEASE_PENDING, workers.logs()
    retry_pending_releases_task.delay()

    workers.wait_for(
        "the retry to release the escrow", lambda: _escrow_status(milestone) == S.RELEASED
    )
    workers.wait_for("the queue to drain", lambda: _idle(real_celery))
    assert _releases(milestone) == 1
    assert _counter(real_celery, MOVEMENTS, milestone) == 1
    assert _counter(real_celery, CALLS, milestone) >= 2  # the replay asked again, under the key
    escrow = Escrow.objects.get(pk=milestone.escrow_id)
    assert escrow.transfer_id in real_celery.client.get(IDEMPOTENCY + key).decode()
    _assert_books_balance()


def test_a_task_queued_in_a_rolled_back_transaction_never_runs(
    workers: Workers, real_celery: RedisDB
):
    rolled_back = _due()
    committed = _due()
    workers.start()
    workers.wait_for("the setup's e-mails to be sent", lambda: _idle(real_celery))

    with contextlib.suppress(RuntimeError), transaction.atomic():
        Milestone.objects.filter(pk=rolled_back.pk).update(title="renamed, then rolled back")
        transaction.on_commit(
            lambda: auto_release_milestone_task.delay(milestone_id=rolled_back.pk)
        )
        raise RuntimeError("roll back")
    assert real_celery.queued() == 0
    # Queued after it, in the same FIFO queue: once this one ran, the other would have too.
    with transaction.atomic():
        transaction.on_commit(lambda: auto_release_milestone_task.delay(milestone_id=committed.pk))

    workers.wait_for(
        "the committed task to release its escrow",
        lambda: _escrow_status(committed) == S.RELEASED,
    )
    workers.wait_for("the queue to drain", lambda: _idle(real_celery))
    rolled_back.refresh_from_db()
    assert rolled_back.title != "renamed, then rolled back"
    assert rolled_back.work_status == Milestone.WorkStatus.SUBMITTED
    assert _escrow_status(rolled_back) == S.FUNDED
    assert _releases(rolled_back) == 0
    assert _counter(real_celery, CALLS, rolled_back) == 0
