"""Draw a bench result as a PNG: latency against data size, and matching against its floor.

`python -m bench.plot bench/results/latest.json` redraws bench/results/latency.png.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server or in CI
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

ENDPOINT_LABELS = {
    "baseline": "GET /me/ (baseline)",
    "search": "GET /projects/?search&skills",
    "matches": "GET /projects/{id}/matches/",
}


def draw(result: dict, path: Path) -> None:
    """Left: p50 (solid) and p95 (dashed) latency per endpoint, in ms, against students.
    Right: median matcher and floor computation time, in ms, against students."""
    sizes = result["sizes"]
    students = [s["students"] for s in sizes]
    fig, (http, compute) = plt.subplots(1, 2, figsize=(12, 4.8))
    for key, label in ENDPOINT_LABELS.items():
        p50 = [s["endpoints"][key]["p50_ms"] for s in sizes]
        p95 = [s["endpoints"][key]["p95_ms"] for s in sizes]
        (line,) = http.plot(students, p50, marker="o", label=label)
        http.plot(students, p95, marker="o", linestyle="--", color=line.get_color())
    http.set(
        title=f"HTTP latency, p50 solid, p95 dashed ({result['config']['concurrency']} clients)",
        xlabel="students (briefs = half)",
        ylabel="ms",
        yscale="log",
    )
    http.legend(fontsize="small")
    for key, label in (("matcher_ms", "matcher (count + page)"), ("floor_ms", "floor SQL")):
        compute.plot(students, [s["computation"][key] for s in sizes], marker="o", label=label)
    compute.set(
        title="Matching computation for the compared briefs",
        xlabel="students",
        ylabel="ms, sum of each brief's median",
    )
    compute.legend(fontsize="small")
    for axes in (http, compute):
        axes.grid(True, alpha=0.3)
        axes.set_xticks(students, [f"{n // 1000}k" for n in students])
    machine = result["machine"]
    fig.suptitle(
        f"make bench, {result['started_at'][:16]}: {machine['cpu_count']} cores, "
        f"PostgreSQL {machine['postgresql']}, Python {machine['python']}",
        fontsize="medium",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/latest.json")
    target = source.with_name("latency.png")
    draw(json.loads(source.read_text()), target)
    print(target)
