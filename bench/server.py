"""The app under test: gunicorn on a free loopback port, started and stopped by the bench.

Workers are `gthread` with 2 threads each: unlike `sync` workers (made to sit
behind a buffering proxy) they keep client connections alive, and a thread
waiting on PostgreSQL lets the other one run Python, so 2 workers × 2 threads
serve the 4 clients of the load without queueing them in the listen backlog.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import urllib3

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0


class ServerError(RuntimeError):
    """gunicorn did not start, or answered a setup request wrongly."""


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    pid: int

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each worker process, in MiB (the master is left out)."""
        return [
            child.memory_info().rss / 2**20
            for child in psutil.Process(self.pid).children(recursive=False)
        ]

    def token(self, *, email: str, password: str) -> str:
        """A JWT access token from `POST /api/v1/auth/token/`."""
        pool = urllib3.HTTPConnectionPool(self.host, self.port, retries=False)
        answer = pool.request(
            "POST", "/api/v1/auth/token/", json={"email": email, "password": password}
        )
        if answer.status != 200:
            raise ServerError(f"token: HTTP {answer.status} {answer.data[:300]!r}")
        return json.loads(answer.data)["access"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _wait_ready(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    pool = urllib3.HTTPConnectionPool(HOST, port, retries=False, timeout=5.0)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"gunicorn exited with {process.returncode}; see {log}")
        try:
            if pool.request("GET", "/health/").status == 200:
                return
        except urllib3.exceptions.HTTPError:
            pass  # not listening yet
        time.sleep(0.2)
    raise ServerError(f"gunicorn did not answer /health/ within {READY_TIMEOUT_S} s; see {log}")


@contextmanager
def gunicorn(*, env: dict[str, str], workers: int, threads: int, log: Path) -> Iterator[Server]:
    """Serve the project with gunicorn while the block runs; its output goes to `log`."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "marketplace.wsgi:application",
        f"--bind={HOST}:{port}",
        f"--workers={workers}",
        "--worker-class=gthread",
        f"--threads={threads}",
        "--timeout=120",
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)  # noqa: S603
    try:
        _wait_ready(port, process, log)
        yield Server(HOST, port, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
