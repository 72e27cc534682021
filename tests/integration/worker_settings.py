"""Settings of the Celery worker that the integration tests start as a subprocess.

Not for pytest itself: `marketplace.settings.test` forces eager tasks. The
worker reads real messages from Redis and works on the very database pytest
created for the test run; the fixture in `conftest.py` passes its URL as
DATABASE_URL, with the Redis database and queue it picked for this run.
"""

from marketplace.settings.base import *  # noqa: F403
from marketplace.settings.base import env

CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
CELERY_TASK_DEFAULT_QUEUE = env("ITEST_CELERY_QUEUE")
# A message its worker never acknowledged goes back to the queue after 5 s, looked for
# every second: the test waits seconds for a redelivery instead of an hour. Shorter than
# the task time limit, which base.py refuses, and safe here because every task of these
# tests takes well under a second, except the one the test kills on purpose.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("ITEST_VISIBILITY_TIMEOUT", default=5),
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
PAYMENT_GATEWAY = "tests.integration.stripe_double.IdempotentRecordingGateway"
STRIPE_SECRET_KEY = ""
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SECRET_KEY = "test-only-secret-key-not-for-production-use"
