"""How much CPU other programs took while the bench measured: the noise in its numbers.

On a shared machine (another test run, a browser) the load competes for the
same cores. `ForeignCpu` compares the machine's busy CPU time over a window
with what the bench's own processes used in it: this process, the gunicorn
master and workers, and the PostgreSQL backends connected to the bench database.
"""

from __future__ import annotations

import os
import time

import psutil
import psycopg


def _busy_s() -> float:
    """CPU seconds the whole machine spent busy since boot, all cores added."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def _cpu_s(pids: set[int]) -> float:
    """CPU seconds (user + system) the processes used since they started."""
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue  # ended since it was listed
        total += times.user + times.system
    return total


class ForeignCpu:
    """`start()`, then `stop()` returns other programs' share of all cores meanwhile, in %.

    A process of ours that ends inside the window is missed, so the estimate
    errs towards more noise, never less.
    """

    def __init__(self, *, server_pid: int, database_url: str):
        self.server_pid = server_pid
        self.database_url = database_url

    def _own_pids(self) -> set[int]:
        with psycopg.connect(self.database_url) as conn:
            backends = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            ).fetchall()
        workers = psutil.Process(self.server_pid).children()
        return {os.getpid(), self.server_pid, *(w.pid for w in workers), *(b for (b,) in backends)}

    def start(self) -> None:
        self.pids = self._own_pids()
        self.own_s, self.busy_s, self.wall_s = _cpu_s(self.pids), _busy_s(), time.monotonic()

    def stop(self) -> float:
        busy = _busy_s() - self.busy_s
        wall = time.monotonic() - self.wall_s
        # Backends opened inside the window are counted whole: all their time is in it.
        new = self._own_pids() - self.pids
        own = _cpu_s(self.pids) - self.own_s + _cpu_s(new)
        return max(0.0, busy - own) / (wall * (os.cpu_count() or 1)) * 100
