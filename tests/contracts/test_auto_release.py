from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from marketplace.errors import StateConflict
from payments.models import Escrow, LedgerTransaction, PayoutAccount
from payments.selectors import ledger_unbalanced_transactions
from payments.services.escrow import escrow_freeze
from projects.contracts.models import Dispute, Milestone, MilestoneEvent
from projects.contracts.scheduling import milestone_auto_release, milestones_due_for_auto_release
from projects.contracts.services import milestone_approve, milestone_request_changes
from projects.contracts.tasks import (
    auto_release_due_milestones_task,
    auto_release_milestone_task,
    retry_pending_releases_task,
)
from tests.factories.milestones import submitted_milestone

S = Escrow.Status
W = Milestone.WorkStatus
DAYS = 14
LONG_AGO = dt.timedelta(days=DAYS, hours=1)
T0 = dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def auto_release_days(settings):
    settings.AUTO_RELEASE_DAYS = DAYS


@pytest.fixture
def run_batch(django_capture_on_commit_callbacks):
    def run() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return auto_release_due_milestones_task.delay().get()

    return run


def _state(milestone: Milestone) -> tuple[str, str]:
    milestone.refresh_from_db()
    milestone.escrow.refresh_from_db()
    return milestone.work_status, milestone.escrow.status


def _releases(milestone: Milestone) -> int:
    return LedgerTransaction.objects.filter(
        escrow_id=milestone.escrow_id, kind=LedgerTransaction.Kind.RELEASE
    ).count()


@pytest.mark.parametrize(
    ("after", "released"),
    [
        (dt.timedelta(days=DAYS) - dt.timedelta(seconds=1), False),
        (dt.timedelta(days=DAYS), True),
        (dt.timedelta(days=DAYS) + dt.timedelta(seconds=1), True),
    ],
)
def test_a_delivery_is_due_after_auto_release_days_to_the_second(run_batch, after, released):
    with time_machine.travel(T0, tick=False):
        milestone = submitted_milestone()
    assert milestone.submitted_at == T0

    with time_machine.travel(T0 + after, tick=False):
        queued = run_batch()

    assert queued == int(released)
    expected = (W.APPROVED, S.RELEASED) if released else (W.SUBMITTED, S.FUNDED)
    assert _state(milestone) == expected
    assert _releases(milestone) == int(released)


def test_the_due_selector_compares_aware_utc_times(settings):
    settings.TIME_ZONE = "Pacific/Kiritimati"  # UTC+14: a naive local comparison would be off
    with time_machine.travel(T0, tick=False):
        milestone = submitted_milestone()
    boundary = T0 + dt.timedelta(days=DAYS)

    assert not milestones_due_for_auto_release(now=boundary - dt.timedelta(seconds=1)).exists()
    assert list(milestones_due_for_auto_release(now=boundary)) == [milestone]


def test_the_platform_approves_and_releases_once(run_batch):
    milestone = submitted_milestone(submitted_ago=LONG_AGO)

    assert run_batch() == 1

    assert _state(milestone) == (W.APPROVED, S.RELEASED)
    assert milestone.approved_at is not None
    event = MilestoneEvent.objects.get(milestone=milestone, to_status=W.APPROVED)
    assert event.actor is None
    assert _releases(milestone) == 1
    assert ledger_unbalanced_transactions() == []


def test_running_twice_releases_once(run_batch):
    milestone = submitted_milestone(submitted_ago=LONG_AGO)

    assert run_batch() == 1
    assert run_batch() == 0
    assert auto_release_milestone_task.delay(milestone_id=milestone.pk).get() is False

    assert _state(milestone) == (W.APPROVED, S.RELEASED)
    assert _releases(milestone) == 1


def test_a_delivery_the_company_approved_is_left_alone(run_batch):
    milestone = submitted_milestone(submitted_ago=LONG_AGO)
    milestone_approve(milestone_id=milestone.pk, by=milestone.contract.project.created_by)

    assert run_batch() == 0
    assert auto_release_milestone_task.delay(milestone_id=milestone.pk).get() is False

    assert _state(milestone) == (W.APPROVED, S.RELEASED)
    assert _releases(milestone) == 1
    assert MilestoneEvent.objects.get(milestone=milestone, to_status=W.APPROVED).actor is not None


def test_a_delivery_sent_back_for_changes_is_not_released(run_batch):
    milestone = submitted_milestone(submitted_ago=LONG_AGO)
    milestone_request_changes(
        milestone_id=milestone.pk, by=milestone.contract.project.created_by, note="more colour"
    )

    assert run_batch() == 0
    assert auto_release_milestone_task.delay(milestone_id=milestone.pk).get() is False

    assert _state(milestone) == (W.CHANGES_REQUESTED, S.FUNDED)
    assert _releases(milestone) == 0


def test_frozen_money_is_not_released(run_batch):
    milestone = submitted_milestone(submitted_ago=LONG_AGO)
    escrow_freeze(escrow_id=milestone.escrow_id, actor=None, note="chargeback")

    assert run_batch() == 0
    assert auto_release_milestone_task.delay(milestone_id=milestone.pk).get() is False

    assert _state(milestone) == (W.SUBMITTED, S.FROZEN)
    assert _releases(milestone) == 0


def test_a_milestone_with_an_open_dispute_is_not_released(run_batch):
    milestone = submitted_milestone(submitted_ago=LONG_AGO)
    Dispute.objects.create(
        milestone=milestone, opened_by=milestone.contract.student, reason="late and incomplete"
    )

    assert run_batch() == 0
    assert auto_release_milestone_task.delay(milestone_id=milestone.pk).get() is False

    assert _state(milestone) == (W.SUBMITTED, S.FUNDED)


def test_only_due_milestones_are_queued(run_batch):
    due = [submitted_milestone(submitted_ago=LONG_AGO) for _ in range(3)]
    recent = submitted_milestone(submitted_ago=dt.timedelta(days=DAYS - 1))

    assert run_batch() == 3

    assert [_state(m) for m in due] == [(W.APPROVED, S.RELEASED)] * 3
    assert _state(recent) == (W.SUBMITTED, S.FUNDED)


def test_the_batch_queues_after_commit(django_capture_on_commit_callbacks, monkeypatch):
    milestone = submitted_milestone(submitted_ago=LONG_AGO)
    queued: list[dict] = []
    monkeypatch.setattr(auto_release_milestone_task, "delay", lambda **kw: queued.append(kw))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        auto_release_due_milestones_task.delay()
    assert queued == []

    for callback in callbacks:
        callback()
    assert queued == [{"milestone_id": milestone.pk}]


def test_a_conflict_at_approval_counts_as_done(monkeypatch):
    milestone = submitted_milestone(submitted_ago=LONG_AGO)

    def approved_meanwhile(**kwargs):  # type: ignore[no-untyped-def]
        raise StateConflict("already approved")

    monkeypatch.setattr("projects.contracts.scheduling.milestone_approve", approved_meanwhile)

    assert milestone_auto_release(milestone_id=milestone.pk) is False
    assert _state(milestone) == (W.SUBMITTED, S.FUNDED)


def test_an_unknown_milestone_is_nothing_to_do():
    assert auto_release_milestone_task.delay(milestone_id=987_654).get() is False


def test_money_for_a_student_without_payouts_waits_then_goes_out(run_batch):
    milestone = submitted_milestone(submitted_ago=LONG_AGO, payouts_enabled=False)

    assert run_batch() == 1
    assert _state(milestone) == (W.APPROVED, S.RELEASE_PENDING)
    assert run_batch() == 0
    assert retry_pending_releases_task.delay().get() == 0

    PayoutAccount.objects.filter(user=milestone.contract.student).update(payouts_enabled=True)
    assert retry_pending_releases_task.delay().get() == 1
    assert retry_pending_releases_task.delay().get() == 0

    assert _state(milestone) == (W.APPROVED, S.RELEASED)
    assert _releases(milestone) == 1
    assert milestone.escrow.settled_at <= timezone.now()
