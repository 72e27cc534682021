"""Races between real threads, each on its own database connection (PostgreSQL only)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from django.db import connection, connections

from marketplace.errors import StateConflict

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks (SELECT … FOR UPDATE) and concurrent writers need PostgreSQL; "
    "SQLite serialises writers with a file lock instead",
)


class DatabaseThread(threading.Thread):
    """Runs `fn` in a thread of its own; keeps what it returned or the exception it raised.

    Django opens one connection per thread: it is closed when `fn` ends, so the
    test database can be flushed and dropped afterwards.
    """

    def __init__(self, fn: Callable[[], Any], *, barrier: threading.Barrier | None = None):
        super().__init__(daemon=True)
        self._fn = fn
        self._barrier = barrier
        self._outcome: Any = None

    def run(self) -> None:
        try:
            if self._barrier is not None:
                self._barrier.wait()
            self._outcome = self._fn()
        except Exception as exc:  # handed to the test, which asserts on it
            self._outcome = exc
        finally:
            connections.close_all()

    def outcome(self, timeout: float = 60) -> Any:
        """`fn`'s return value or exception, once the thread ended (fails after `timeout`)."""
        self.join(timeout=timeout)
        assert not self.is_alive(), f"{self.name} still running after {timeout}s"
        return self._outcome


def run_at_once(*fns: Callable[[], Any], timeout: float = 60) -> list[Any]:
    """Start one thread per callable, release them together from a barrier, wait for all.

    Returns, in the order of `fns`, each one's return value or the exception it raised.
    """
    barrier = threading.Barrier(len(fns))
    threads = [DatabaseThread(fn, barrier=barrier) for fn in fns]
    for thread in threads:
        thread.start()
    return [thread.outcome(timeout) for thread in threads]


def tally(outcomes: Iterable[Any]) -> Counter[str]:
    """Count outcomes as "ok", "conflict" (StateConflict) or the repr of any other exception."""
    return Counter(
        "conflict"
        if isinstance(outcome, StateConflict)
        else repr(outcome)
        if isinstance(outcome, Exception)
        else "ok"
        for outcome in outcomes
    )
