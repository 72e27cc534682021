"""A payment gateway for the Celery worker of the integration tests.

It stands in for Stripe's idempotency store, because no real Stripe can be
reached here: Stripe answers a second request with the same `Idempotency-Key`
with the object the first one created, and moves no money the second time. This
double keeps that store in Redis, which outlives the worker processes the tests
kill, so a test can tell a real second transfer from a replayed answer.

Per idempotency key it records, in the worker's Redis database:

- `itest:stripe:idempotency:<key>`: the transfer id and amount the first call created;
- `itest:stripe:movements:<key>`: how many times money really moved (must stay 1);
- `itest:stripe:calls:<key>`: how many times we asked (replays included).

When the test sets `itest:transfer_sleep` (seconds), a transfer that really moved
money then sleeps that long before returning: the window in which the "provider"
has paid but our database has not committed, where the test kills the worker.
Everything else is the dummy gateway's behaviour.
"""

from __future__ import annotations

import json
import time

import redis
from django.conf import settings

from payments.gateways.dummy import DummyGateway

IDEMPOTENCY = "itest:stripe:idempotency:"
MOVEMENTS = "itest:stripe:movements:"
CALLS = "itest:stripe:calls:"
SLEEP = "itest:transfer_sleep"

# One round trip, so a worker killed at any instant never leaves a key without its count.
_RECORD = """
redis.call('INCR', KEYS[3])
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('INCR', KEYS[2])
  return {1, ARGV[1]}
end
return {0, redis.call('GET', KEYS[1])}
"""


class IdempotentRecordingGateway(DummyGateway):
    """The dummy gateway whose transfers go through an idempotency store kept in Redis."""

    def __init__(self) -> None:
        self.redis = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    def create_transfer(
        self,
        *,
        amount: int,
        currency: str,
        destination: str,
        source_transaction: str,
        transfer_group: str,
        idempotency_key: str,
    ) -> str:
        transfer_id = super().create_transfer(
            amount=amount,
            currency=currency,
            destination=destination,
            source_transaction=source_transaction,
            transfer_group=transfer_group,
            idempotency_key=idempotency_key,
        )
        request = json.dumps({"id": transfer_id, "amount": amount, "destination": destination})
        moved, stored = self.redis.eval(
            _RECORD,
            3,
            IDEMPOTENCY + idempotency_key,
            MOVEMENTS + idempotency_key,
            CALLS + idempotency_key,
            request,
        )
        first = json.loads(stored)
        if first["amount"] != amount or first["destination"] != destination:
            # What Stripe answers when a key is reused with other parameters.
            raise RuntimeError(f"idempotency key {idempotency_key} reused with other parameters")
        if moved:
            time.sleep(float(self.redis.get(SLEEP) or 0))
        return first["id"]
