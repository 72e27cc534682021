"""Stripe webhooks, the inbox: verify a delivery, store its event once, record the outcome.

Stripe signs every delivery (`Stripe-Signature`), delivers each event at least
once, retries for days, and may deliver twice or out of order
(https://docs.stripe.com/webhooks). So a delivery is verified with the
endpoint's secret, stored under its unique event id (`StripeEvent`) and
answered at once; a task processes it afterwards (the handlers live in
`projects.payment_events`, because they touch milestones) and records the
outcome here: received → processing → succeeded | failed | ignored. A second
delivery of an event finds the stored row. Event types:
https://docs.stripe.com/api/events/types.

The platform endpoint verifies with STRIPE_WEBHOOK_SECRET; the Connect endpoint,
which receives the events of connected accounts (`account.updated`,
`payout.failed`, https://docs.stripe.com/connect/webhooks), has its own secret,
STRIPE_CONNECT_WEBHOOK_SECRET.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from marketplace.celery import app as celery_app
from payments.gateways import get_gateway
from payments.gateways.base import GatewayMisconfigured
from payments.models import Escrow, StripeEvent

logger = logging.getLogger(__name__)

E = StripeEvent.Status
# payments may not import projects, where the dispatching task lives (its handlers
# touch milestones): "process again" sends it by name, and Celery finds it registered.
PROCESS_TASK_NAME = "projects.tasks.process_stripe_event_task"


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
        signature = celery_app.signature(PROCESS_TASK_NAME, kwargs={"event_id": event_id})
        transaction.on_commit(signature.delay)
    return ids
