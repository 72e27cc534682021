"""Full-text search of briefs.

On PostgreSQL each brief keeps a `search_vector`: its title (weight A), its
skills' names (B) and its description (C), each parsed with both the English
and the French text search configurations. The database maintains it with
triggers (projects/migrations/0004_search_vector.py), whatever writes the rows
(services, bulk loads, the admin), so "développeuse" finds
"développeur" and "designing" finds "design". A query is read the way a search
box is (`websearch_to_tsquery`: words, "quoted phrases", `-word`, `or`) in both
languages and the results are ranked with `ts_rank` and its default weights
(A 1.0, B 0.4, C 0.2, D 0.1), so a word in the title outranks the same word in
the description. Source: PostgreSQL 15 manual, chapter 12 "Full Text Search"
(12.3.2 Parsing Queries, 12.3.3 Ranking Search Results).

Other databases (SQLite in the demo and the plain test run) get the same API
with a case-insensitive substring match on title, description and skill names,
every word required, newest first.
"""

from __future__ import annotations

from functools import reduce
from operator import or_

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import F, Q, QuerySet, Value

from projects.briefs.models import Project

LANGUAGES = ("english", "french")


def full_text_enabled() -> bool:
    """True on PostgreSQL, where briefs carry a `search_vector`."""
    return connection.vendor == "postgresql"


def search_briefs(queryset: QuerySet[Project], text: str) -> QuerySet[Project]:
    """Briefs of `queryset` matching `text`, annotated with `search_rank` (float, higher first).

    `text` is a search box's content; an empty one (after stripping) leaves the
    queryset as it is. On SQLite `search_rank` is 0 for every row.
    """
    text = text.strip()
    if not text:
        return queryset
    if full_text_enabled():
        query = reduce(
            or_, (SearchQuery(text, config=lang, search_type="websearch") for lang in LANGUAGES)
        )
        return queryset.filter(search_vector=query).annotate(
            search_rank=SearchRank(F("search_vector"), query)
        )
    for word in text.split():
        in_skills = Project.objects.filter(skills__name__icontains=word).values("pk")
        queryset = queryset.filter(
            Q(title__icontains=word) | Q(description__icontains=word) | Q(pk__in=in_skills)
        )
    return queryset.annotate(search_rank=Value(0.0))
