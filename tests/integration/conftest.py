"""Fixtures that run real Celery workers, as subprocesses, against Redis and PostgreSQL.

Each test claims a Redis database of its own (15 down to 1, see `redis_db`) and a
queue named after a random token, so parallel runs on one Redis never share a
message; the pytest process publishes there for real (not eagerly) while the
test runs. Workers use `tests.integration.worker_settings` and the test database
pytest-django created. Every worker's process group is killed at teardown and
the claimed Redis database is flushed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.db import connection
from kombu import pools

from marketplace.celery import app as celery_app
from marketplace.models import FailedTask

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
REPO_ROOT = Path(__file__).resolve().parent.parent.parent
OWNER_KEY = "marketplace:itest:owner"
WORKER_BOOT_TIMEOUT = 30.0


def redis_answers() -> bool:
    try:
        return bool(
            redis.Redis(
                host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=0.5, socket_timeout=0.5
            ).ping()
        )
    except (redis.RedisError, OSError):
        return False


@dataclass
class RedisDB:
    number: int
    client: redis.Redis
    token: str

    @property
    def url(self) -> str:
        return f"redis://{REDIS_HOST}:{REDIS_PORT}/{self.number}"

    @property
    def queue(self) -> str:
        return f"itest-{self.token}"

    def queued(self) -> int:
        return int(self.client.llen(self.queue))

    def unacked(self) -> int:
        return int(self.client.hlen("unacked"))


@pytest.fixture
def redis_db() -> Iterator[RedisDB]:
    """A Redis database no other run uses: claimed with SET NX, flushed at teardown."""
    token = secrets.token_hex(6)
    for number in range(15, 0, -1):
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number, socket_timeout=5)
        try:
            if client.set(OWNER_KEY, f"{os.getpid()}:{token}", nx=True, ex=600):
                break
        except redis.ResponseError:  # a server configured with fewer databases
            pass
        client.close()
    else:
        pytest.fail("every Redis database 1-15 is claimed by another test run")
    # Left over by a run that died before its teardown (its claim has expired).
    for key in client.scan_iter():
        if key != OWNER_KEY.encode():
            client.delete(key)
    try:
        yield RedisDB(number=number, client=client, token=token)
    finally:
        client.flushdb()
        client.close()


def _reset_producers() -> None:
    # The app caches its broker connection pool and routing (queues) on first use.
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    celery_app.__dict__.pop("amqp", None)
    pools.reset()


@pytest.fixture
def real_celery(redis_db: RedisDB) -> Iterator[RedisDB]:
    """Make `.delay()` in this process publish to the claimed Redis database, not run eagerly."""
    keys = (
        "task_always_eager",
        "broker_url",
        "task_default_queue",
        "broker_transport_options",
    )
    saved = {key: celery_app.conf[key] for key in keys}
    celery_app.conf.update(
        task_always_eager=False,
        broker_url=redis_db.url,
        task_default_queue=redis_db.queue,
        broker_transport_options={"visibility_timeout": 5},
    )
    _reset_producers()
    try:
        yield redis_db
    finally:
        celery_app.conf.update(saved)
        _reset_producers()


def _database_url() -> str:
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = quote(db["PASSWORD"] or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}{db['HOST'] or ''}{port}/{quote(db['NAME'], safe='')}"


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole process group (main process and pool children); no clean-up runs."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@dataclass
class Workers:
    redis_db: RedisDB
    tmp_path: Path
    started: list[Worker] = field(default_factory=list)

    def start(self) -> Worker:
        """Start `celery -A marketplace worker` (prefork, one child) and wait until it is ready."""
        index = len(self.started) + 1
        name = f"itest-{self.redis_db.token}-{index}"
        log_path = self.tmp_path / f"worker-{index}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.integration.worker_settings",
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": self.redis_db.url,
            "ITEST_CELERY_QUEUE": self.redis_db.queue,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
            ),
            "PYTHONUNBUFFERED": "1",
        }
        command = [
            sys.executable, "-m", "celery", "-A", "marketplace", "worker",
            "--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO",
            "--queues", self.redis_db.queue, "--hostname", f"{name}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as one
            )
        worker = Worker(name=name, process=process, log_path=log_path)
        self.started.append(worker)
        deadline = time.monotonic() + WORKER_BOOT_TIMEOUT
        while " ready." not in worker.log():
            if process.poll() is not None:
                pytest.fail(f"worker {name} exited with {process.returncode}\n{self.logs()}")
            if time.monotonic() > deadline:
                pytest.fail(f"worker {name} not ready after {WORKER_BOOT_TIMEOUT} s\n{self.logs()}")
            time.sleep(0.1)
        return worker

    def logs(self) -> str:
        parts = [
            f"----- {w.name} (log {w.log_path}) -----\n{w.log()[-8000:]}" for w in self.started
        ]
        failed = list(FailedTask.objects.values_list("task_name", "kwargs", "error"))
        return "\n".join([*parts, f"----- FailedTask rows: {failed}"])

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
        """Poll `check` every 0.1 s until true; past `timeout`, fail with the workers' logs."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout} s waiting for {what}\n{self.logs()}")
            time.sleep(0.1)


@pytest.fixture
def workers(transactional_db, real_celery: RedisDB, tmp_path: Path) -> Iterator[Workers]:
    """Start real workers with `workers.start()`; all of them are SIGKILLed at teardown.

    Requesting `transactional_db` first makes the workers die before pytest-django
    empties the tables, so no worker holds a lock or a row it is about to write.
    """
    pool = Workers(redis_db=real_celery, tmp_path=tmp_path)
    try:
        yield pool
    finally:
        for worker in pool.started:
            worker.kill()


# localstripe, a stateful fake Stripe API (GPL-3.0-or-later, a test tool run in a
# subprocess, never imported): shared by test_localstripe.py and test_localstripe_webhooks.py.

BOOT_TIMEOUT = 20.0
# localstripe's app on loopback only, its state in memory only (no /tmp/localstripe.pickle).
LAUNCH = """
import sys
from aiohttp import web
import localstripe.resources
import localstripe.server
localstripe.resources.Store.dump_to_disk = lambda self: None
web.run_app(localstripe.server.app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http(method: str, url: str, data: dict[str, str] | None = None) -> int:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, method=method)
    with urllib.request.urlopen(request, timeout=2) as response:
        return int(response.status)


@dataclass
class LocalStripe:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def register_webhook(
        self, name: str, url: str, secret: str, events: list[str] | None = None
    ) -> None:
        """localstripe's own endpoint: deliver every event (or `events`), signed with `secret`,
        to `url`. Registering `name` again replaces it (localstripe cannot delete one)."""
        assert url.startswith("http://127.0.0.1:")
        if events is None:
            assert _http(
                "POST", f"{self.url}/_config/webhooks/{name}", {"url": url, "secret": secret}
            )
            return
        body = json.dumps({"url": url, "secret": secret, "events": events}).encode()
        request = urllib.request.Request(
            f"{self.url}/_config/webhooks/{name}",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=2) as response:
            assert response.status == 200


def _start(log_path: Path) -> LocalStripe:
    port = _free_port()
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LocalStripe(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    deadline = time.monotonic() + BOOT_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"localstripe exited with {process.returncode}:\n{server.log()}")
        try:
            # Answers once the app serves; also the `--from-scratch` of its CLI.
            if _http("DELETE", f"{server.url}/_config/data") == 200:
                return server
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            _stop(process)
            raise RuntimeError(f"localstripe not answering after {BOOT_TIMEOUT} s:\n{server.log()}")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM by PID (aiohttp shuts down cleanly), SIGKILL if it is still there after 10 s."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    """One localstripe for the test session, on 127.0.0.1 (used by test_localstripe*.py)."""
    pytest.importorskip(
        "localstripe", reason="localstripe is not installed (pip install -e '.[test]' installs it)"
    )
    log_path = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    for attempt in range(3):  # the free port may be taken between probing and binding
        try:
            server = _start(log_path)
            break
        except RuntimeError:
            if attempt == 2:
                raise
    try:
        yield server
    finally:
        _stop(server.process)
