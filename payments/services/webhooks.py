"""Stripe webhooks, the inbox: verify a delivery, store its event once, record the outcome.

Stripe signs every delivery (`Stripe-Signature`), delivers each event at least
once, retries for days, and may deliver twice or out of order
(https://docs.stripe.com/webhooks). So a delivery is verified with the
endpoint's secret, stored under its unique event id (`StripeEvent`) and
answered at once; `process_stripe_event_task` then runs the handler registered
for its type (`webhook_handler_register`, filled by the apps above in their
`ready()`: the work side's handlers touch milestones, which this app never
imports) and records the outcome: received → processing → succeeded | failed |
ignored. A second delivery of an event finds the stored row. Event types:
https://docs.stripe.com/api/events/types.

The platform endpoint verifies with STRIPE_WEBHOOK_SECRET; the Connect endpoint,
which receives the events of connected accounts (`account.updated`,
`payout.failed`, https://docs.stripe.com/connect/webhooks), has its own secret,
STRIPE_CONNECT_WEBHOOK_SECRET.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from marketplace.errors import DomainError, TransientError
from payments import notifications as notices
from payments.gateways import get_gateway
from payments.gateways.base import GatewayMisconfigured
from payments.models import Escrow, StripeEvent

logger = logging.getLogger(__name__)

E = StripeEvent.Status


@dataclass(frozen=True)
class WebhookOutcome:
    """What a handler did: `note` for staff; `ignored` when there was nothing to do.

    `then` is work to run once the event's transaction committed, with no
    transaction open: a gateway write (a transfer) is never made while the
    event's row is locked (`payments.services.escrow`). Its failure is logged,
    not the event's: what it left undone is retried by its own schedule.
    """

    note: str
    escrow: Escrow | None = None
    ignored: bool = False
    then: Callable[[], object] | None = None


WebhookHandler = Callable[[StripeEvent], WebhookOutcome]
_HANDLERS: dict[str, WebhookHandler] = {}


def webhook_handler_register(*, event_type: str, handler: WebhookHandler) -> None:
    """Make `handler` the one that processes events of `event_type` (e.g. `charge.refunded`).

    Called from an AppConfig's `ready()`. The handler runs inside the event's
    locked transaction and returns a WebhookOutcome (with `then`, what to do
    once that committed); it may raise a DomainError (recorded, waits for
    staff) or TransientError (retried).
    Raises ImproperlyConfigured when another handler already has the type:
    each event type has exactly one.
    """
    current = _HANDLERS.get(event_type)
    if current is not None and current is not handler:
        raise ImproperlyConfigured(f"Stripe event type {event_type} already has a handler.")
    _HANDLERS[event_type] = handler


def webhook_handler_for(*, event_type: str) -> WebhookHandler:
    """The handler registered for `event_type`, or one that ignores the event."""
    return _HANDLERS.get(event_type, _ignore)


def _ignore(event: StripeEvent) -> WebhookOutcome:
    return WebhookOutcome(note=f"{event.type} is not handled", ignored=True)


def _queue_processing(event_id: str) -> None:
    from payments.tasks import process_stripe_event_task  # the task module imports this one

    transaction.on_commit(lambda: process_stripe_event_task.delay(event_id=event_id))


def stripe_webhook_accept(*, payload: bytes, signature: str, connect: bool) -> StripeEvent:
    """Verify and store a webhook delivery, and queue its processing after commit.

    See `stripe_event_receive` (WebhookSignatureInvalid for a bad delivery,
    nothing stored). A repeated delivery of an event already done is not
    queued again.
    """
    event = stripe_event_receive(payload=payload, signature=signature, connect=connect)
    if not event.is_done:
        _queue_processing(event.event_id)
    return event


def stripe_event_process(*, event_id: str) -> StripeEvent | None:
    """Process one stored event once; returns it with its outcome (None if unknown).

    The row is locked while its handler runs, so concurrent deliveries and
    retries wait and then find it done. A done event (succeeded, ignored)
    returns at once. The handler runs in a savepoint: when it raises, nothing
    it did is kept, the event is marked failed with the error and staff are
    told; a TransientError (the gateway could not answer) or an unexpected
    error is raised again after that is recorded, for the task to retry or
    record. A DomainError (amounts that do not match, a partial refund made
    elsewhere...) is not: it waits for staff ("process again" in the admin).
    The outcome's `then` runs after the event's transaction committed.
    """
    event = stripe_event_mark_processing(event_id=event_id)
    if event is None or event.is_done:
        return event
    failure: Exception | None = None
    then: Callable[[], object] | None = None
    with transaction.atomic():
        event = stripe_event_lock(event_id=event_id)
        if event is None or event.is_done:
            return event
        handler = webhook_handler_for(event_type=event.type)
        try:
            with transaction.atomic():
                outcome = handler(event)
        except Exception as exc:
            failure = exc
            message = exc.message if isinstance(exc, DomainError) else repr(exc)
            event = stripe_event_mark_failed(event_id=event_id, error=message)
            if not isinstance(exc, TransientError):
                notices.stripe_event_failed(event)
        else:
            mark = stripe_event_mark_ignored if outcome.ignored else stripe_event_mark_succeeded
            event = mark(event_id=event_id, outcome=outcome.note, escrow=outcome.escrow)
            then = outcome.then
    if then is not None:
        try:
            then()
        except Exception:
            logger.exception(
                "stripe_event.then_failed", extra={"event_id": event_id, "event_type": event.type}
            )
    if failure is not None and (
        isinstance(failure, TransientError) or not isinstance(failure, DomainError)
    ):
        raise failure
    return event


def stripe_event_receive(*, payload: bytes, signature: str, connect: bool) -> StripeEvent:
    """Verify one webhook delivery and store its event once; returns the stored row.

    `payload` is the raw request body and `signature` its `Stripe-Signature`
    header (https://docs.stripe.com/webhooks#verify-events), checked by the
    configured gateway's `construct_event` with the endpoint's secret: the
    platform's (the gateway's own, STRIPE_WEBHOOK_SECRET for Stripe), or
    STRIPE_CONNECT_WEBHOOK_SECRET when `connect`. A second delivery of the same
    event id returns the row stored first, whatever its status (the caller
    queues processing again unless it is done, `StripeEvent.is_done`).

    Raises WebhookSignatureInvalid (400) for a bad or older-than-300-s signature
    or a body that is no event, with nothing stored, and GatewayMisconfigured
    (503) when the endpoint's secret is not set.
    """
    secret: str | None = None
    if connect:
        secret = settings.STRIPE_CONNECT_WEBHOOK_SECRET
        if not secret:
            raise GatewayMisconfigured(
                "STRIPE_CONNECT_WEBHOOK_SECRET is not set: Connect webhooks cannot be read."
            )
    data = get_gateway().construct_event(payload=payload, signature=signature, secret=secret)
    account = data.get("account")
    event, created = StripeEvent.objects.get_or_create(
        event_id=data["id"],
        defaults={
            "type": data["type"],
            "livemode": bool(data.get("livemode")),
            "account": account if isinstance(account, str) else "",
            "payload": data,
        },
    )
    logger.info(
        "stripe_event.received",
        extra={
            "event_id": event.event_id,
            "event_type": event.type,
            "duplicate": not created,
            "status": event.status,
        },
    )
    return event


def stripe_event_lock(*, event_id: str) -> StripeEvent | None:
    """The event's row, locked until the caller's transaction ends; None if unknown.

    Call it inside `transaction.atomic()`: whoever holds the lock is the only
    one processing this event.
    """
    return StripeEvent.objects.select_for_update().filter(event_id=event_id).first()


@transaction.atomic
def stripe_event_mark_processing(*, event_id: str) -> StripeEvent | None:
    """A worker takes the event: received or failed → processing. Done events are returned as is.

    A row left `processing` means a worker stopped before recording an outcome;
    the task's redelivery (late acknowledgement) or staff process it again.
    """
    event = stripe_event_lock(event_id=event_id)
    if event is None or event.is_done or event.status == E.PROCESSING:
        return event
    event.status = E.PROCESSING
    event.save(update_fields=["status"])
    return event


def _finish(
    event_id: str, status: str, *, outcome: str = "", error: str = "", escrow: Escrow | None = None
) -> StripeEvent:
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(event_id=event_id)
        event.status = status
        event.attempts += 1
        event.outcome = outcome[:255]
        event.error = error
        if escrow is not None:
            event.escrow = escrow
        event.processed_at = timezone.now()
        event.save(
            update_fields=["status", "attempts", "outcome", "error", "escrow", "processed_at"]
        )
    logger.log(
        logging.WARNING if status == E.FAILED else logging.INFO,
        "stripe_event.processed",
        extra={"event_id": event_id, "event_type": event.type, "status": status},
    )
    return event


def stripe_event_mark_succeeded(
    *, event_id: str, outcome: str = "", escrow: Escrow | None = None
) -> StripeEvent:
    """Record that a handler acted on the event (`outcome` says what, for staff)."""
    return _finish(event_id, E.SUCCEEDED, outcome=outcome, escrow=escrow)


def stripe_event_mark_ignored(
    *, event_id: str, outcome: str = "", escrow: Escrow | None = None
) -> StripeEvent:
    """Record that there was nothing to do: a type we do not handle, an object not ours."""
    return _finish(event_id, E.IGNORED, outcome=outcome, escrow=escrow)


def stripe_event_mark_failed(
    *, event_id: str, error: str, escrow: Escrow | None = None
) -> StripeEvent:
    """Record that a handler failed and why; the event can be processed again."""
    return _finish(event_id, E.FAILED, error=error, escrow=escrow)


def stripe_events_process_again(*, event_ids: Iterable[str]) -> list[str]:
    """Queue processing again (after commit) for the events that are not done; returns their ids.

    For staff (the admin's "process again"), once the cause of a failure is
    fixed. Succeeded and ignored events are left alone: each event is processed once.
    """
    ids = list(
        StripeEvent.objects.filter(event_id__in=list(event_ids))
        .exclude(status__in=[E.SUCCEEDED, E.IGNORED])
        .order_by("received_at", "pk")
        .values_list("event_id", flat=True)
    )
    for event_id in ids:
        _queue_processing(event_id)
    return ids
