"""Matching's computation against its floor, and the query plans of the routes measured.

The floor is ONE hand-written SQL query returning the ids of the candidates
matching must consider for a brief: verified today (at one of the brief's
schools when it is restricted), active, not unavailable, sharing at least one
of the brief's required skills. No ranking can be cheaper than finding the
candidates, so `matcher time / floor time` says what the ranking costs on top.
The floor is only honest if it returns exactly the matcher's candidates:
`compare` checks that before timing and raises otherwise.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from projects.briefs.matching import match_candidates
from projects.briefs.models import Project

PAGE_SIZE = 20  # the API's page (REST_FRAMEWORK["PAGE_SIZE"])

FLOOR_SQL = """
SELECT p.id
FROM marketplace_studentprofile p
JOIN marketplace_user u ON u.id = p.user_id
WHERE u.is_active
  AND p.availability <> 'unavailable'
  AND EXISTS (
    SELECT 1 FROM marketplace_studentprofile_skills ps
    WHERE ps.studentprofile_id = p.id
      AND ps.skill_id IN (
        SELECT skill_id FROM projects_project_skills WHERE project_id = %(project)s
      )
  )
  AND EXISTS (
    SELECT 1 FROM schools_enrolmentverification v
    WHERE v.student_id = p.user_id
      AND v.status = 'verified'
      AND v.graduation_date >= %(today)s
      {schools}
  )
"""
SCHOOLS_CLAUSE = (
    "AND v.school_id IN "
    "(SELECT school_id FROM projects_project_allowed_schools WHERE project_id = %(project)s)"
)


class FloorMismatch(AssertionError):
    """The floor query and the matcher disagree on who the candidates are."""


@dataclass(frozen=True)
class Comparison:
    """One brief: candidates, and the median matcher and floor times in milliseconds."""

    project_id: int
    label: str
    candidates: int
    matcher_ms: float
    floor_ms: float

    def as_dict(self) -> dict[str, object]:
        return {
            "project_id": self.project_id,
            "label": self.label,
            "candidates": self.candidates,
            "matcher_ms": round(self.matcher_ms, 2),
            "floor_ms": round(self.floor_ms, 2),
            "ratio": round(self.matcher_ms / self.floor_ms, 2),
        }


def _floor_query(project: Project) -> tuple[str, dict[str, object]]:
    schools = SCHOOLS_CLAUSE if project.visibility == Project.Visibility.SCHOOLS else ""
    return FLOOR_SQL.format(schools=schools), {
        "project": project.pk,
        "today": timezone.localdate(),
    }


def floor_ids(project: Project) -> list[int]:
    """The candidates' profile ids, by the floor query."""
    sql, params = _floor_query(project)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def matcher_page(project: Project) -> int:
    """What the matches route computes: the candidate count and the first page."""
    candidates = match_candidates(project=project)
    count = candidates.count()
    list(candidates[:PAGE_SIZE])
    return count


def _median_ms(action: Callable[[], object], runs: int) -> float:
    action()  # warm the buffer cache and the connection; not counted
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def compare(*, project_id: int, label: str, runs: int) -> Comparison:
    """Check the floor returns the matcher's candidates, then time both `runs` times.

    Raises FloorMismatch with both set sizes when the candidate sets differ.
    """
    project = Project.objects.get(pk=project_id)
    matched = set(match_candidates(project=project).values_list("pk", flat=True))
    floor = set(floor_ids(project))
    if matched != floor:
        raise FloorMismatch(
            f"brief {project_id} ({label}): the matcher has {len(matched)} candidates, the "
            f"floor {len(floor)}; {len(matched - floor)} only in the matcher, "
            f"{len(floor - matched)} only in the floor"
        )
    return Comparison(
        project_id=project_id,
        label=label,
        candidates=len(floor),
        matcher_ms=_median_ms(lambda: matcher_page(project), runs),
        floor_ms=_median_ms(lambda: floor_ids(project), runs),
    )


def explain(sql: str, params: object = None) -> str:
    """PostgreSQL's plan of `sql` as run: EXPLAIN (ANALYZE, BUFFERS), as text."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def floor_plan(project_id: int) -> str:
    return explain(*_floor_query(Project.objects.get(pk=project_id)))


def seq_scans(plan: str) -> list[str]:
    """Tables a plan reads whole (`Seq Scan on <table>`)."""
    return sorted(set(re.findall(r"Seq Scan on (\w+)", plan)))


@dataclass(frozen=True)
class SlowQuery:
    """The slowest SQL statement of one in-process request, with its plan."""

    path: str
    queries: int
    total_ms: float
    slowest_ms: float
    sql: str
    plan: str


def slowest_query(*, path: str, token: str) -> SlowQuery:
    """Serve `path` in-process with the bench token and explain its slowest statement.

    The SQL is captured as psycopg sent it (parameters bound client-side), so it
    can be explained as is.
    """
    with CaptureQueriesContext(connection) as captured:
        answer = Client().get(
            path, headers={"authorization": f"Bearer {token}"}, HTTP_HOST="127.0.0.1"
        )
    if answer.status_code != 200:
        raise AssertionError(f"{path}: HTTP {answer.status_code} {answer.content[:300]!r}")
    slowest = max(captured.captured_queries, key=lambda q: float(q["time"]))
    return SlowQuery(
        path=path,
        queries=len(captured.captured_queries),
        total_ms=sum(float(q["time"]) for q in captured.captured_queries) * 1000,
        slowest_ms=float(slowest["time"]) * 1000,
        sql=slowest["sql"],
        plan=explain(slowest["sql"]),
    )
