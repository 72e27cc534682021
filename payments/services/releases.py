"""Releasing held money to the payee: the transfer, its retries, and late releases.

The three steps of every money movement (`payments.services.escrow`): the
escrow moves to `release_pending` and commits, the transfer is sent with no
transaction open under `escrow-<id>-release`, and the answer is recorded in a
new transaction. A payee whose account is not ready, or a failed transfer,
leaves the escrow `release_pending`; the retries send the same request again.
Money released late is announced through the listeners the apps above register
(`escrow_late_release_listener_register`). Ledger: `escrow` −charge,
`student:<id>` +payee share, `platform:revenue` +fees.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from marketplace.audit import audit_record
from marketplace.errors import DomainError, StateConflict
from marketplace.notifications import notify
from marketplace.selectors import staff_users
from payments.gateways import get_gateway
from payments.models import Escrow, LedgerTransaction
from payments.services.escrow import GatewayAnswer, S, escrow_lock, escrow_payee_account
from payments.services.ledger import (
    ESCROW_ACCOUNT,
    PLATFORM_REVENUE_ACCOUNT,
    ledger_post,
    student_account,
)
from payments.states import ESCROW_STATES

# After this many failed transfer attempts staff are told (the retries go on).
TRANSFER_ATTEMPTS_BEFORE_ALERT = 3

logger = logging.getLogger(__name__)


class LateReleaseListener(Protocol):
    def __call__(self, *, escrow_ids: list[int]) -> None: ...


_LATE_RELEASE_LISTENERS: list[LateReleaseListener] = []


def escrow_late_release_listener_register(*, listener: LateReleaseListener) -> None:
    """Have `listener(escrow_ids=[...])` called for money that waited and has just gone out.

    Called from an AppConfig's `ready()` (the projects app tells its students
    and completes finished contracts; this app never imports it). Money waited
    when the escrow was `release_pending` before the call that released it: the
    retry (`escrow_retry_pending_releases`, scheduled or by staff), a payout
    account becoming ready (`escrow_release_pending_for_payee`) or
    `escrow_release` called again. The approval whose own transfer went
    through tells its own. Listeners run after the release committed, with no
    transaction open; each escrow is announced once, by the call that recorded
    its release. A listener registered twice is called once.
    """
    if listener not in _LATE_RELEASE_LISTENERS:
        _LATE_RELEASE_LISTENERS.append(listener)


def _announce_late_releases(escrow_ids: list[int]) -> None:
    if not escrow_ids:
        return
    for listener in list(_LATE_RELEASE_LISTENERS):
        try:
            listener(escrow_ids=list(escrow_ids))
        except Exception:
            # The money is paid and booked; a listener failing must not undo that or stop the run.
            logger.exception(
                "escrow.late_release_listener_failed", extra={"escrow_ids": escrow_ids}
            )


def _alert_staff_transfer_failed(escrow: Escrow) -> None:
    for admin in staff_users():
        notify(
            user=admin,
            template="transfer_failed",
            key=f"transfer-failed:{escrow.pk}:{admin.pk}",
            context={
                "escrow_reference": escrow.reference,
                "error": escrow.last_error,
                "attempts": escrow.transfer_attempts,
                "admin_url": f"{settings.SITE_URL}/admin/payments/escrow/{escrow.pk}/change/",
            },
            url=f"/admin/payments/escrow/{escrow.pk}/change/",
        )


def escrow_release_request(*, escrow_id: int, actor: AbstractBaseUser | None) -> Escrow:
    """Step 1 of a release: the payee is to be paid, funded → release_pending.

    Commits with the caller's transaction (the projects app approves the work
    in the same one); `escrow_release_send` then makes the transfer, once that
    committed. The EscrowEvent says "payout account not ready" when the payee
    cannot be paid yet. Raises StateConflict unless funded.
    """
    with transaction.atomic():
        escrow = escrow_lock(escrow_id)
        if escrow.status != S.FUNDED:
            raise StateConflict(f"Only funded money can be released; this is {escrow.status}.")
        note = "" if escrow_payee_account(escrow) is not None else "payout account not ready"
        ESCROW_STATES.transition(escrow, S.RELEASE_PENDING, actor=actor, note=note)
    return escrow


def escrow_release_send(*, escrow_id: int, actor: AbstractBaseUser | None = None) -> Escrow:
    """Steps 2 and 3 of a release: transfer the payee's share, then record it. Call it outside
    any transaction.

    A `release_pending` escrow whose payee's payout account is ready gets the
    Transfer (https://docs.stripe.com/api/transfers/create: the payee share,
    `source_transaction` the charge, `transfer_group` the escrow's reference,
    key `escrow-<id>-release`); the answer is recorded under the row lock:
    released, `transfer_id`, the release transaction posted. A gateway error
    (transient or not) is recorded instead (`last_error`, `transfer_attempts`;
    staff are told at TRANSFER_ATTEMPTS_BEFORE_ALERT) and the escrow waits for
    the retry; it is not raised. An escrow in any other state, or whose payee
    cannot be paid yet, is returned as it is, and so is one another worker
    recorded meanwhile (same key, so the same transfer). Returns the escrow.
    """
    return _release_send(escrow_id, actor=actor).escrow


def _release_send(
    escrow_id: int, *, actor: AbstractBaseUser | None, audited: bool = False
) -> GatewayAnswer:
    escrow = Escrow.objects.get(pk=escrow_id)
    if escrow.status != S.RELEASE_PENDING:
        return GatewayAnswer(escrow, recorded=False)
    account = escrow_payee_account(escrow)
    if account is None:
        return GatewayAnswer(escrow, recorded=False)
    try:
        transfer_id = get_gateway().create_transfer(
            amount=escrow.payee_cents,
            currency=escrow.currency,
            destination=account.account_id,
            source_transaction=escrow.charge_id,
            transfer_group=escrow.reference,
            idempotency_key=f"escrow-{escrow.pk}-release",
        )
    except DomainError as exc:
        return GatewayAnswer(_transfer_failed(escrow_id, exc), recorded=False, failure=exc)
    return _release_record(escrow_id, transfer_id=transfer_id, actor=actor, audited=audited)


def _transfer_failed(escrow_id: int, exc: DomainError) -> Escrow:
    with transaction.atomic():
        escrow = escrow_lock(escrow_id)
        if escrow.status != S.RELEASE_PENDING:
            return escrow  # recorded meanwhile by another worker
        escrow.transfer_attempts += 1
        escrow.last_error = exc.message
        escrow.save(update_fields=["transfer_attempts", "last_error"])
        if escrow.transfer_attempts == TRANSFER_ATTEMPTS_BEFORE_ALERT:
            _alert_staff_transfer_failed(escrow)
    logger.warning(
        "escrow.transfer_failed", extra={"escrow_id": escrow_id, "error": type(exc).__name__}
    )
    return escrow


def _release_record(
    escrow_id: int, *, transfer_id: str, actor: AbstractBaseUser | None, audited: bool
) -> GatewayAnswer:
    with transaction.atomic():
        escrow = escrow_lock(escrow_id)
        # A card dispute may have frozen it while Stripe was paying: Stripe paid, so it is
        # released (a lost chargeback is then the platform's loss, `chargeback_close`).
        if escrow.status not in (S.RELEASE_PENDING, S.FROZEN) or escrow.split_recorded:
            return GatewayAnswer(escrow, recorded=False)
        from_status = escrow.status
        escrow.transfer_id = transfer_id
        escrow.transfer_attempts += 1
        escrow.last_error = ""
        escrow.settled_at = timezone.now()
        ESCROW_STATES.transition(
            escrow,
            S.RELEASED,
            actor=actor,
            update_fields=["transfer_id", "transfer_attempts", "last_error", "settled_at"],
        )
        ledger_post(
            kind=LedgerTransaction.Kind.RELEASE,
            currency=escrow.currency,
            escrow=escrow,
            memo=f"{escrow.reference} released",
            entries=[
                (ESCROW_ACCOUNT, -escrow.charge_cents),
                (student_account(escrow.payee_id), escrow.payee_cents),
                (
                    PLATFORM_REVENUE_ACCOUNT,
                    escrow.company_fee_cents + escrow.student_commission_cents,
                ),
            ],
        )
        if audited:
            audit_record(
                actor=actor,
                action="transfer.retry",
                subject=escrow,
                detail={
                    "reference": escrow.reference,
                    "payee_id": escrow.payee_id,
                    "amount_cents": escrow.payee_cents,
                    "currency": escrow.currency,
                    "transfer_id": transfer_id,
                    "attempts": escrow.transfer_attempts,
                    "status": [from_status, escrow.status],
                },
            )
    logger.info("escrow.released", extra={"escrow_id": escrow.pk})
    return GatewayAnswer(escrow, recorded=True)


def escrow_release(*, escrow_id: int, actor: AbstractBaseUser | None) -> Escrow:
    """Pay the payee their share of a funded escrow, or park it until they can be paid.

    The three steps of the module docstring: `escrow_release_request`
    (funded → release_pending, committed), then `escrow_release_send` (the
    transfer, key `escrow-<id>-release`, recorded in a new transaction). If the
    payee's payout account is not ready, or the gateway fails for now, the
    escrow stays `release_pending` and is released later
    (`escrow_release_pending_for_payee`, `escrow_retry_pending_releases`).
    Called again on a `release_pending` escrow it tries that transfer again
    (announced to the late-release listeners when it goes out). Raises
    StateConflict for an escrow that is neither, or when another worker
    recorded the release meanwhile.
    """
    with transaction.atomic():
        escrow = escrow_lock(escrow_id)
        waited = escrow.status == S.RELEASE_PENDING
        if not waited:
            escrow_release_request(escrow_id=escrow_id, actor=actor)
    sent = _release_send(escrow_id, actor=actor)
    if sent.recorded and waited:
        _announce_late_releases([escrow_id])
    if sent.escrow.status == S.RELEASED and not sent.recorded:
        raise StateConflict("This money was released meanwhile.")
    return sent.escrow


def escrow_retry_pending_releases(
    *,
    limit: int = 500,
    escrow_ids: Iterable[int] | None = None,
    actor: AbstractBaseUser | None = None,
) -> list[int]:
    """Try again every approved escrow whose payee can be paid; returns the ids released.

    Run on a schedule: it picks up transfers that failed, transfers whose
    answer was never recorded (same key: Stripe answers the transfer it made)
    and payees who became ready without the event reaching us. `escrow_ids`
    narrows it to those escrows (staff retrying chosen ones, `actor`); the
    others are left as they are. Each transfer a staff `actor` sends is
    audited (`transfer.retry`) in the transaction that records it; a retry
    that fails again moves nothing and writes no entry, and the scheduled run
    (no actor) is not audited. What goes out is announced to the late-release
    listeners. Safe to run any number of times, concurrently too.
    """
    pending = Escrow.objects.filter(
        status=S.RELEASE_PENDING,
        payee__payout_account__payouts_enabled=True,
    )
    if escrow_ids is not None:
        pending = pending.filter(pk__in=list(escrow_ids))
    ids = list(pending.order_by("pk").values_list("pk", flat=True)[:limit])
    released = [
        pk for pk in ids if _release_send(pk, actor=actor, audited=actor is not None).recorded
    ]
    _announce_late_releases(released)
    return released


def escrow_release_pending_for_payee(*, user_id: int) -> list[int]:
    """Release every `release_pending` escrow of a payee whose account just became ready.

    Call it outside any transaction. What goes out is announced to the
    late-release listeners. Returns the ids of the escrows released.
    """
    ids = list(
        Escrow.objects.filter(payee_id=user_id, status=S.RELEASE_PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    released = [pk for pk in ids if _release_send(pk, actor=None).recorded]
    _announce_late_releases(released)
    return released
