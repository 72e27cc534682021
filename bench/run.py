"""`python -m bench.run` (`make bench`): seed, serve, load and time, at growing data sizes.

1. Drops and re-creates the database of BENCH_DATABASE_URL (its name must
   contain "bench": nothing else is ever dropped), migrates it and runs the real
   importers on ../shared/data.
2. For each size (10k, 30k, 100k students; briefs = half as many): seeds up to
   it, serves the app with gunicorn on loopback, measures the baseline, search
   and matches routes under load, reads the workers' memory, then times the
   matcher against its floor query in-process and explains the slowest queries.
3. Writes bench/results/<time>.json and latest.json, the query plans beside
   them, draws latency.png and prints the goals with PASS or MISS.

Exits 1 on any error answer, a floor that disagrees with the matcher, or a
server that does not start.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import django
import psutil
import psycopg

from bench.load import LoadResult, run_load
from bench.noise import ForeignCpu
from bench.plot import draw
from bench.server import Server, ServerError, gunicorn

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench"
# (key, goal, threshold, "min" when the value must reach it, "max" when it must stay below)
GOALS = (
    ("search_vs_baseline_throughput", "brief search ≥ 40% of baseline throughput", 0.40, "min"),
    ("matches_vs_floor_time", "matches computation ≤ 3× the floor", 3.0, "max"),
    ("worker_rss_mb", "worker memory < 300 MB", 300.0, "max"),
)


class BenchFailed(RuntimeError):
    """The run cannot be trusted: an endpoint answered errors."""


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL database to DROP and re-create (default: $BENCH_DATABASE_URL)",
    )
    parser.add_argument(
        "--sizes",
        default="10000,30000,100000",
        type=lambda text: sorted(int(n) for n in text.split(",")),
        help="students at each measured step, comma-separated (default: %(default)s)",
    )
    parser.add_argument("--brief-ratio", type=float, default=0.5, help="briefs per student")
    parser.add_argument("--duration", type=float, default=12.0, help="seconds measured per route")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up per route")
    parser.add_argument("--concurrency", type=int, default=4, help="clients in flight")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per brief, matcher/floor")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the generated data")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    return parser.parse_args(argv)


def _environment(database_url: str) -> dict[str, str]:
    """Production settings on the bench database: DEBUG off, so no query is recorded."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "marketplace.settings.production",
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        # Tasks in-process, no e-mail sent and no payment provider called.
        "CELERY_BROKER_URL": "",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "STRIPE_SECRET_KEY": "",
        "PAYMENT_GATEWAY": "dummy",
    }


def _recreate_database(database_url: str) -> None:
    """DROP and CREATE the bench database through the server's `postgres` database."""
    url = urlsplit(database_url)
    name = url.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"Refusing to drop {name!r}: the bench database's name must hold 'bench'.")
    admin_url = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        quoted = psycopg.sql.Identifier(name)
        conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(quoted))
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(quoted))


def _machine() -> dict[str, object]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (pg_version,) = cursor.fetchone()
    cpuinfo = Path("/proc/cpuinfo")
    models = [
        line.split(":", 1)[1].strip()
        for line in (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
        if line.startswith("model name")
    ]
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": models[0] if models else platform.processor(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "postgresql": pg_version.split()[0],
        "python": platform.python_version(),
        "django": django.get_version(),
        "platform": platform.platform(),
    }


def _log(started: float, message: str) -> None:
    print(f"[{time.perf_counter() - started:7.1f} s] {message}", flush=True)


def _load(
    server: Server, paths: list[str], token: str, args: argparse.Namespace
) -> tuple[LoadResult, float]:
    """Load `paths`; the result, and other programs' share of the CPU meanwhile (%)."""
    noise = ForeignCpu(server_pid=server.pid, database_url=args.database_url)
    noise.start()
    result = run_load(
        host=server.host,
        port=server.port,
        paths=paths,
        headers={"Authorization": f"Bearer {token}"},
        concurrency=args.concurrency,
        warmup_s=args.warmup,
        duration_s=args.duration,
    )
    foreign_pct = noise.stop()
    if result.errors:
        raise BenchFailed(f"{result.errors} error answers, e.g. {list(result.error_samples)}")
    return result, foreign_pct


def _measure_size(
    *, students: int, args: argparse.Namespace, env: dict[str, str], context: dict, started: float
) -> tuple[dict, str]:
    """Seed up to `students`, then measure; returns the size's result and its plans as text."""
    from django.db import connections

    from bench import floor, seed
    from projects.briefs.models import Project

    seeded = time.perf_counter()
    seed.grow(
        students=students,
        briefs=int(students * args.brief_ratio),
        cat=context["cat"],
        rng=context["rng"],
    )
    seed_s = time.perf_counter() - seeded
    briefs = Project.objects.count()
    _log(started, f"seeded {students:,} students, {briefs:,} briefs in {seed_s:.1f} s")
    connections.close_all()  # the server's workers get the database to themselves

    bench_briefs = context["bench_briefs"]
    routes = {
        "baseline": ["/api/v1/me/"],
        "search": context["searches"],
        "matches": [f"/api/v1/projects/{b.id}/matches/" for b in bench_briefs],
    }
    log = args.results / f"{context['stamp']}-gunicorn.log"
    with gunicorn(env=env, workers=args.workers, threads=args.threads, log=log) as server:
        token = server.token(email=seed.BENCH_EMAIL, password=seed.BENCH_PASSWORD)
        endpoints, foreign = {}, {}
        for name, paths in routes.items():
            endpoints[name], foreign[name] = _load(server, paths, token, args)
            e = endpoints[name]
            _log(
                started,
                f"  {name:8} {e.throughput_rps:7.1f} req/s  p50 {e.p50_ms:7.1f} ms  "
                f"p95 {e.p95_ms:7.1f} ms  ({e.requests} requests; other programs took "
                f"{foreign[name]:.0f}% of the CPU)",
            )
        rss = server.worker_rss_mb()

    # Two briefs per popularity class, the restricted ones included.
    compared = [b for i, b in enumerate(bench_briefs) if i % seed.BRIEFS_PER_CLASS < 2]
    comparisons = [floor.compare(project_id=b.id, label=b.label, runs=args.runs) for b in compared]
    matcher_ms = sum(c.matcher_ms for c in comparisons)
    floor_ms = sum(c.floor_ms for c in comparisons)
    for c in comparisons:
        _log(
            started,
            f"  brief {c.project_id} {c.label:15} {c.candidates:6} candidates  "
            f"matcher {c.matcher_ms:8.1f} ms  floor {c.floor_ms:7.1f} ms",
        )

    widest = max(comparisons, key=lambda c: c.candidates)
    searches = [floor.slowest_query(path=p, token=token) for p in routes["search"][:10]]
    slow_search = max(searches, key=lambda q: q.total_ms)
    slow_matches = floor.slowest_query(
        path=f"/api/v1/projects/{widest.project_id}/matches/", token=token
    )
    floor_plan = floor.floor_plan(widest.project_id)
    plans = "\n\n".join(
        [
            f"===== {students:,} students, {label}: slowest of {q.queries} queries "
            f"({q.slowest_ms:.1f} of {q.total_ms:.1f} ms), {q.path}\n{q.sql}\n\n{q.plan}"
            for label, q in (("search", slow_search), ("matches", slow_matches))
        ]
        + [f"===== {students:,} students, floor of brief {widest.project_id}\n{floor_plan}"]
    )

    result = {
        "students": students,
        "briefs": briefs,
        "seed_s": round(seed_s, 1),
        "endpoints": {
            name: {**r.as_dict(), "foreign_cpu_pct": round(foreign[name], 1)}
            for name, r in endpoints.items()
        },
        "worker_rss_mb": [round(mb, 1) for mb in rss],
        "computation": {
            "runs_per_brief": args.runs,
            "matcher_ms": round(matcher_ms, 2),
            "floor_ms": round(floor_ms, 2),
            "briefs": [c.as_dict() for c in comparisons],
        },
        "slow_queries": {
            name: {
                "path": q.path,
                "queries": q.queries,
                "total_ms": round(q.total_ms, 1),
                "slowest_ms": round(q.slowest_ms, 1),
                "seq_scans": floor.seq_scans(q.plan),
            }
            for name, q in (("search", slow_search), ("matches", slow_matches))
        },
        "floor_seq_scans": floor.seq_scans(floor_plan),
        "ratios": {
            "search_vs_baseline_throughput": round(
                endpoints["search"].throughput_rps / endpoints["baseline"].throughput_rps, 3
            ),
            "matches_vs_floor_time": round(matcher_ms / floor_ms, 2),
            "worker_rss_mb": round(max(rss), 1),
        },
    }
    return result, plans


def _verdicts(size: dict) -> dict[str, bool]:
    return {
        key: size["ratios"][key] >= limit if kind == "min" else size["ratios"][key] <= limit
        for key, _, limit, kind in GOALS
    }


def _print_table(result: dict) -> None:
    sizes = result["sizes"]
    header = f"{'':44}" + "".join(f"{s['students'] // 1000:>10}k" for s in sizes)
    config = result["config"]
    print(
        f"\nGoals ({result['machine']['cpu_count']} cores, {config['workers']} workers × "
        f"{config['threads']} threads, {config['concurrency']} clients)"
    )
    print(header)
    for key, goal, _, _ in GOALS:
        cells = "".join(
            f"{s['ratios'][key]:>7} {'PASS' if s['goals'][key] else 'MISS':>4}" for s in sizes
        )
        print(f"{goal:44}{cells}")
    for name in ("baseline", "search", "matches"):
        cells = "".join(f"{s['endpoints'][name]['throughput_rps']:>11}" for s in sizes)
        print(f"{name + ' req/s':44}{cells}")
        cells = "".join(
            f"{s['endpoints'][name]['p50_ms']:>5.0f}/{s['endpoints'][name]['p95_ms']:<5.0f}"
            for s in sizes
        )
        print(f"{name + ' p50/p95 ms':44}{cells}")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    started = time.perf_counter()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.results.mkdir(parents=True, exist_ok=True)
    env = _environment(args.database_url)
    _recreate_database(args.database_url)
    os.environ.update(env)
    # The in-process requests of the query plans run without collectstatic; whitenoise says so.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    django.setup()
    # Imported once Django is set up: these modules load the models.
    from django.core.management import call_command

    from bench import seed

    call_command("migrate", interactive=False, verbosity=0)
    _log(started, f"migrated {urlsplit(args.database_url).path.lstrip('/')}; importing real data")
    seed.import_real_data(data_dir=args.data)
    rng = random.Random(args.seed)  # noqa: S311  (repeatable test data, not secrets)
    cat = seed.build_catalogue(rng=rng)
    context = {
        "stamp": stamp,
        "rng": rng,
        "cat": cat,
        "bench_briefs": seed.create_bench_company(cat=cat, rng=rng),
        "searches": seed.search_paths(cat=cat, rng=rng),
    }
    _log(
        started, f"{len(cat.templates):,} real briefs imported, {len(cat.skill_ids):,} skills asked"
    )
    result = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "config": {
            k: v for k, v in vars(args).items() if k not in {"data", "results", "database_url"}
        },
        "goals": {key: {"goal": goal, "limit": limit} for key, goal, limit, _ in GOALS},
        "sizes": [],
    }
    plans = []
    try:
        for students in args.sizes:
            size, size_plans = _measure_size(
                students=students, args=args, env=env, context=context, started=started
            )
            size["goals"] = _verdicts(size)
            result["sizes"].append(size)
            plans.append(size_plans)
    except (BenchFailed, ServerError, AssertionError) as exc:
        print(f"\nbench FAILED: {exc}", file=sys.stderr)
        return 1
    result["duration_s"] = round(time.perf_counter() - started, 1)
    plans_path = args.results / f"{stamp}-plans.txt"
    plans_path.write_text("\n\n".join(plans) + "\n")
    result["plans"] = plans_path.name
    text = json.dumps(result, indent=2)
    (args.results / f"{stamp}.json").write_text(text)
    (args.results / "latest.json").write_text(text)
    draw(result, args.results / "latency.png")
    _print_table(result)
    print(
        f"\n{args.results / f'{stamp}.json'}, {plans_path.name}, latency.png "
        f"in {result['duration_s']:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
