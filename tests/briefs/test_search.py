"""Brief search: PostgreSQL full text (stemming, weights, kept by triggers) or substrings."""

from __future__ import annotations

import pytest
from django.db import connection

from marketplace.models import Skill
from projects.briefs.models import Project
from projects.briefs.search import search_briefs
from tests.factories import ProjectFactory, SkillFactory, VerifiedStudentFactory

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="full-text search runs on PostgreSQL only"
)


def _found(text: str) -> list[int]:
    return [p.pk for p in search_briefs(Project.objects.all(), text).order_by("-search_rank", "pk")]


@pytest.fixture
def student(as_user):  # type: ignore[no-untyped-def]
    return as_user(VerifiedStudentFactory())


def test_every_word_must_appear_somewhere(student):  # type: ignore[no-untyped-def]
    shop = ProjectFactory(title="Online shop", description="Payments and a catalogue")
    shop.skills.set([SkillFactory(name="Django", slug="django")])
    ProjectFactory(title="Online magazine", description="Articles")
    assert _found("online django") == [shop.pk]
    assert _found("shop catalogue") == [shop.pk]
    everything = Project.objects.all()
    assert search_briefs(everything, "   ") is everything


@postgres_only
def test_english_and_french_words_are_stemmed():
    fr = ProjectFactory(title="Développeuse web", description="Nous cherchons des développeurs.")
    en = ProjectFactory(title="Designing a logo", description="Branding for a bakery.")
    assert _found("développeur") == [fr.pk]
    assert _found("design") == [en.pk]
    assert _found("bakeries") == [en.pk]


@postgres_only
def test_a_title_outranks_skills_which_outrank_the_description():
    in_description = ProjectFactory(title="Brief one", description="We use Kubernetes daily.")
    in_skills = ProjectFactory(title="Brief two", description="Infrastructure work.")
    in_skills.skills.set([SkillFactory(name="Kubernetes", slug="kubernetes")])
    in_title = ProjectFactory(title="Kubernetes migration", description="Move our apps.")
    assert _found("kubernetes") == [in_title.pk, in_skills.pk, in_description.pk]


@postgres_only
def test_the_database_keeps_the_vector_whatever_writes_the_rows():
    brief = ProjectFactory(title="Plain title", description="Nothing to see")
    python = SkillFactory(name="Python", slug="python")
    assert _found("python") == []
    brief.skills.add(python)
    assert _found("python") == [brief.pk]
    Skill.objects.filter(pk=python.pk).update(name="Elixir")
    assert _found("elixir") == [brief.pk]
    brief.skills.remove(python)
    assert _found("elixir") == []
    Project.objects.filter(pk=brief.pk).update(title="Scraping robots")
    assert _found("robot") == [brief.pk]
    bulk = Project.objects.bulk_create(
        [Project(**{**_copy(brief), "title": f"Bulk {i} ocean"}) for i in range(3)]
    )
    assert sorted(_found("ocean")) == sorted(p.pk for p in bulk)


def _copy(brief: Project) -> dict:
    return {
        f.attname: getattr(brief, f.attname)
        for f in Project._meta.concrete_fields
        if f.attname not in ("id", "search_vector")
    }


@postgres_only
def test_search_box_syntax_is_understood_and_never_an_error(student):  # type: ignore[no-untyped-def]
    logo = ProjectFactory(title="Logo for a bakery", description="Fresh bread")
    ProjectFactory(title="Logo for a bank", description="Finance")
    assert _found('"logo for a bakery"') == [logo.pk]
    assert _found("logo -bank") == [logo.pk]
    for odd in ['"', "-", "&|!:*()", "or", "\\", "'; DROP TABLE", "a" * 200]:
        assert student.get("/api/v1/projects/", {"search": odd}).status_code == 200


def test_the_api_orders_by_relevance_when_searching(student):  # type: ignore[no-untyped-def]
    ProjectFactory(title="Other", description="Mentions a chatbot once")
    best = ProjectFactory(title="Chatbot for support", description="A chatbot")
    rows = student.get("/api/v1/projects/", {"search": "chatbot"}).json()["results"]
    if connection.vendor == "postgresql":
        assert rows[0]["id"] == best.pk
    else:  # the substring fallback ranks nothing: newest first
        assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
    assert len(rows) == 2
