"""The copies that search and matching rank by, rebuilt from their sources.

Each is kept up to date where its source changes; `rankings_refresh` rebuilds
them all (daily, and after bulk imports that bypass the services):
`Skill.student_count` (rarity of skills) and the students' track record on
their profiles. (Briefs' full-text `search_vector` is kept by PostgreSQL
triggers and needs no rebuild.)
"""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.services import skill_student_counts_refresh
from projects.reviews import student_stats_refresh_all


@dataclass(frozen=True)
class RankingsRefresh:
    skills: int
    students_changed: int


def rankings_refresh() -> RankingsRefresh:
    """Rebuild every ranking copy; returns the rows touched of each kind."""
    return RankingsRefresh(
        skills=skill_student_counts_refresh(),
        students_changed=student_stats_refresh_all(),
    )
