"""A closed-loop HTTP load generator: N threads, each on one keep-alive connection.

Each thread sends its next request as soon as the previous answer arrived, so
`concurrency` requests are always in flight. Only requests that start and end
inside the measured window count; those of the warm-up before it do not.

Why not Locust: it brings gevent and monkey-patching, and it rounds its
percentiles into buckets; a few threads over urllib3 are enough to keep two
workers busy and give exact percentiles.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import urllib3

# Long enough for the slowest route at 100k students; a timeout counts as an error.
REQUEST_TIMEOUT_S = 60.0
ERROR_SAMPLES = 3


@dataclass(frozen=True)
class LoadResult:
    """What one endpoint answered during the measured window.

    `throughput_rps` is requests per second; latencies are in milliseconds.
    `errors` counts non-200 answers and failed connections over warm-up and
    window alike, with up to ERROR_SAMPLES described in `error_samples`.
    """

    requests: int
    errors: int
    duration_s: float
    throughput_rps: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    error_samples: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "duration_s": round(self.duration_s, 2),
            "throughput_rps": round(self.throughput_rps, 2),
            "p50_ms": round(self.p50_ms, 1),
            "p95_ms": round(self.p95_ms, 1),
            "max_ms": round(self.max_ms, 1),
            "error_samples": list(self.error_samples),
        }


class _Worker(threading.Thread):
    """One simulated client, cycling through `paths` from its own offset."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        paths: Sequence[str],
        headers: dict[str, str],
        offset: int,
        stride: int,
        window: tuple[float, float],
    ):
        super().__init__(daemon=True)
        self.pool = urllib3.HTTPConnectionPool(
            host, port, maxsize=1, retries=False, timeout=REQUEST_TIMEOUT_S
        )
        self.paths, self.headers = paths, headers
        self.index, self.stride = offset, stride
        self.window = window
        self.latencies_s: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        measure_from, measure_to = self.window
        while (started := time.perf_counter()) < measure_to:
            path = self.paths[self.index % len(self.paths)]
            self.index += self.stride
            try:
                answer = self.pool.request("GET", path, headers=self.headers)
                status, body = answer.status, answer.data
            except urllib3.exceptions.HTTPError as exc:
                self.errors.append(f"{path}: {exc!r}")
                continue
            ended = time.perf_counter()
            if status != 200:
                self.errors.append(f"{path}: HTTP {status} {body[:200]!r}")
            elif started >= measure_from and ended <= measure_to:
                self.latencies_s.append(ended - started)
        self.pool.close()


def run_load(
    *,
    host: str,
    port: int,
    paths: Sequence[str],
    headers: dict[str, str],
    concurrency: int,
    warmup_s: float,
    duration_s: float,
) -> LoadResult:
    """GET `paths` in turn with `concurrency` clients for `warmup_s` then `duration_s` seconds."""
    measure_from = time.perf_counter() + warmup_s
    window = (measure_from, measure_from + duration_s)
    workers = [
        _Worker(
            host=host,
            port=port,
            paths=paths,
            headers=headers,
            offset=i,
            stride=concurrency,
            window=window,
        )
        for i in range(concurrency)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    latencies_ms = sorted(s * 1000 for w in workers for s in w.latencies_s)
    errors = [e for w in workers for e in w.errors]
    # quantiles() needs two points; a route slower than the window leaves fewer.
    cuts = (
        statistics.quantiles(latencies_ms, n=100, method="inclusive")
        if len(latencies_ms) > 1
        else []
    )
    return LoadResult(
        requests=len(latencies_ms),
        errors=len(errors),
        duration_s=duration_s,
        throughput_rps=len(latencies_ms) / duration_s,
        p50_ms=cuts[49] if cuts else float("nan"),
        p95_ms=cuts[94] if cuts else float("nan"),
        max_ms=latencies_ms[-1] if latencies_ms else float("nan"),
        error_samples=tuple(errors[:ERROR_SAMPLES]),
    )
