"""Money that waited (release_pending) and goes out later is announced once, through one registry.

The payments app calls the late-release listeners the apps above registered;
the contracts app's (`milestones_released_late`, registered when it is ready)
tells the student and completes the contract. Every path that releases waiting
money announces it: the scheduled retry, staff's retry, a payout account
becoming ready through onboarding, the return page's refresh or Stripe's
`account.updated`. The approval whose own transfer went through tells its own.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable

import pytest

from marketplace.errors import StateConflict, TransientError
from marketplace.models import Notification
from payments.gateways.dummy import DummyGateway
from payments.models import Escrow, LedgerTransaction, PayoutAccount, StripeEvent
from payments.services import releases
from payments.services.payouts import payout_account_onboard
from payments.services.releases import escrow_release, escrow_retry_pending_releases
from payments.services.webhooks import stripe_event_process
from projects.contracts.models import Contract, Milestone
from projects.contracts.services import (
    milestone_approve,
    milestone_releases_retry,
    milestone_submit,
    milestones_released_late,
    student_payouts_onboard,
    student_payouts_refresh,
)
from tests.factories import UserFactory
from tests.factories.contracts import active_contract

pytestmark = pytest.mark.django_db

S = Escrow.Status


@pytest.fixture(autouse=True)
def fees(settings):  # type: ignore[no-untyped-def]
    settings.COMPANY_FEE_BPS = 500
    settings.STUDENT_COMMISSION_BPS = 1000


@pytest.fixture
def announced(monkeypatch) -> list[list[int]]:  # type: ignore[no-untyped-def]
    """Every announcement, beside the registered listeners (the contracts app's among them)."""
    calls: list[list[int]] = []

    def record(*, escrow_ids: list[int]) -> None:
        calls.append(escrow_ids)

    listeners = [*releases._LATE_RELEASE_LISTENERS, record]
    monkeypatch.setattr(releases, "_LATE_RELEASE_LISTENERS", listeners)
    return calls


def _delivered(*, onboarded: bool) -> Milestone:
    """A funded, delivered milestone; its student connected payouts (ready) when `onboarded`."""
    contract = active_contract()
    if onboarded:
        payout_account_onboard(user=contract.student)
    milestone = contract.milestones.get()
    milestone_submit(milestone_id=milestone.pk, by=contract.student, note="done")
    return milestone


def _approve(milestone: Milestone) -> Escrow:
    milestone_approve(milestone_id=milestone.pk, by=milestone.contract.project.created_by)
    return Escrow.objects.get(pk=milestone.escrow_id)


def _transfer_failing(monkeypatch, milestone: Milestone) -> None:  # type: ignore[no-untyped-def]
    def down(self, **kwargs):  # type: ignore[no-untyped-def]
        raise TransientError("Stripe is down")

    with monkeypatch.context() as patch:
        patch.setattr(DummyGateway, "create_transfer", down)
        assert _approve(milestone).status == S.RELEASE_PENDING


def _account_not_ready(milestone: Milestone) -> None:
    PayoutAccount.objects.filter(user=milestone.contract.student).update(payouts_enabled=False)
    assert _approve(milestone).status == S.RELEASE_PENDING


def _account_updated(milestone: Milestone) -> None:
    account = PayoutAccount.objects.get(user=milestone.contract.student)
    event_id = f"evt_{uuid.uuid4().hex}"
    StripeEvent.objects.create(
        event_id=event_id,
        type="account.updated",
        account=account.account_id,
        payload={
            "id": event_id,
            "object": "event",
            "type": "account.updated",
            "account": account.account_id,
            "data": {"object": {"id": account.account_id, "object": "account"}},
        },
    )
    event = stripe_event_process(event_id=event_id)
    assert event is not None
    assert (event.status, event.outcome) == (
        StripeEvent.Status.SUCCEEDED,
        f"payouts enabled for {account.account_id}",
    )


def _scheduled(monkeypatch, milestone: Milestone) -> Callable[[], object]:  # type: ignore[no-untyped-def]
    _transfer_failing(monkeypatch, milestone)
    return milestone_releases_retry


def _staff(monkeypatch, milestone: Milestone) -> Callable[[], object]:  # type: ignore[no-untyped-def]
    _transfer_failing(monkeypatch, milestone)
    staff = UserFactory(is_staff=True)
    return lambda: escrow_retry_pending_releases(escrow_ids=[milestone.escrow_id], actor=staff)


def _again(monkeypatch, milestone: Milestone) -> Callable[[], object]:  # type: ignore[no-untyped-def]
    _transfer_failing(monkeypatch, milestone)
    return lambda: escrow_release(escrow_id=milestone.escrow_id, actor=None)


def _onboarding(monkeypatch, milestone: Milestone) -> Callable[[], object]:  # type: ignore[no-untyped-def]
    assert _approve(milestone).status == S.RELEASE_PENDING  # no payout account at all
    return lambda: student_payouts_onboard(user=milestone.contract.student)


def _refresh(monkeypatch, milestone: Milestone) -> Callable[[], object]:  # type: ignore[no-untyped-def]
    payout_account_onboard(user=milestone.contract.student)
    _account_not_ready(milestone)
    return lambda: student_payouts_refresh(user=milestone.contract.student)


def _webhook(monkeypatch, milestone: Milestone) -> Callable[[], object]:  # type: ignore[no-untyped-def]
    payout_account_onboard(user=milestone.contract.student)
    _account_not_ready(milestone)
    return lambda: _account_updated(milestone)


PATHS = {
    "scheduled retry": (_scheduled, True),
    "staff retry": (_staff, True),
    "release asked again": (_again, True),
    "onboarding": (_onboarding, False),
    "return page refresh": (_refresh, False),
    "account.updated": (_webhook, False),
}


def test_the_contracts_app_listens_once_it_is_ready():
    assert releases._LATE_RELEASE_LISTENERS.count(milestones_released_late) == 1


@pytest.mark.parametrize("path", list(PATHS))
def test_each_path_that_releases_waiting_money_announces_it_once(monkeypatch, announced, path):
    setup, onboarded = PATHS[path]
    milestone = _delivered(onboarded=onboarded)
    release = setup(monkeypatch, milestone)
    assert announced == []

    release()
    with contextlib.suppress(StateConflict):  # released already: nothing to do, or a 409
        release()
    escrow_retry_pending_releases()

    assert announced == [[milestone.escrow_id]]
    escrow = Escrow.objects.get(pk=milestone.escrow_id)
    assert escrow.status == S.RELEASED
    assert LedgerTransaction.objects.filter(escrow=escrow, kind="release").count() == 1
    assert Contract.objects.get(pk=milestone.contract_id).status == Contract.Status.COMPLETED
    told = Notification.objects.filter(key=f"money-released:{milestone.pk}")
    assert list(told.values_list("user", flat=True)) == [milestone.contract.student_id]


def test_an_approval_paid_at_once_tells_its_own_and_announces_nothing(announced):
    milestone = _delivered(onboarded=True)

    assert _approve(milestone).status == S.RELEASED

    assert announced == []
    assert Contract.objects.get(pk=milestone.contract_id).status == Contract.Status.COMPLETED
    assert Notification.objects.filter(key=f"money-released:{milestone.pk}").count() == 1


def test_a_failing_listener_does_not_undo_the_release_nor_stop_the_others(monkeypatch, announced):
    milestone = _delivered(onboarded=True)
    _transfer_failing(monkeypatch, milestone)

    def broken(*, escrow_ids: list[int]) -> None:
        raise RuntimeError("listener bug")

    monkeypatch.setattr(
        releases,
        "_LATE_RELEASE_LISTENERS",
        [broken, *releases._LATE_RELEASE_LISTENERS],
    )

    assert escrow_retry_pending_releases() == [milestone.escrow_id]

    assert Escrow.objects.get(pk=milestone.escrow_id).status == S.RELEASED
    assert announced == [[milestone.escrow_id]]
    assert Contract.objects.get(pk=milestone.contract_id).status == Contract.Status.COMPLETED
