from __future__ import annotations

from urllib.parse import quote

import pytest
from django.db import connection

from projects.briefs.models import Project
from tests.factories import (
    CompanyMemberFactory,
    ProjectFactory,
    SchoolDomainFactory,
    SchoolFactory,
    SkillFactory,
    VerifiedStudentFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def student(as_user):  # type: ignore[no-untyped-def]
    return as_user(VerifiedStudentFactory())


@pytest.fixture
def briefs():  # type: ignore[no-untyped-def]
    python = SkillFactory(name="Python", slug="python")
    django = SkillFactory(name="Django", slug="django")
    figma = SkillFactory(name="Figma", slug="figma")
    shop = ProjectFactory(
        title="Build our online Shop",
        description="An e-commerce site",
        category=Project.Category.WEB,
        budget_cents=200_000,
    )
    shop.skills.set([python, django])
    logo = ProjectFactory(
        title="A new logo",
        description="Our brand needs a fresh look 🎨",
        category=Project.Category.DESIGN,
        budget_cents=50_000,
        currency="USD",
    )
    logo.skills.set([figma])
    plan = ProjectFactory(
        title="Business plan",
        description="Five-year plan for the SHOP chain",
        category=Project.Category.BUSINESS,
        budget_cents=100_000,
        kind=Project.Kind.MENTORING,
    )
    draft = ProjectFactory(title="Secret shop", status=Project.Status.DRAFT, published_at=None)
    return {"shop": shop.pk, "logo": logo.pk, "plan": plan.pk, "draft": draft.pk}


def _ids(res) -> set[int]:  # type: ignore[no-untyped-def]
    assert res.status_code == 200, res.content
    return {row["id"] for row in res.json()["results"]}


BAD_PROJECT_FILTERS = [
    ("budget_min=abc", "budget_min"),
    ("budget_min=1.5", "budget_min"),
    ("budget_max=-1", "budget_max"),
    ("budget_min=500&budget_max=100", "budget_min"),
    ("category=bogus", "category"),
    ("status=bogus", "status"),
    ("kind=bogus", "kind"),
    ("currency=XXX", "currency"),
    ("currency=eur", "currency"),
    ("page=0", "page"),
    ("page=-1", "page"),
    ("page=abc", "page"),
    ("page=999999", "page"),
    ("page=%C2%B2", "page"),
    ("page=" + "9" * 5000, "page"),
    ("page_size=0", "page_size"),
    ("page_size=abc", "page_size"),
    ("page_size=-3", "page_size"),
    ("page_size=%C2%B2", "page_size"),
    ("search=" + "a" * 10_000, "search"),
    ("search=%00", "search"),
    ("search=shop%00shop", "search"),
    ("skills=python%00", "skills"),
    ("skills=" + "a," * 1500, "skills"),
    ("category=%00", "category"),
]


@pytest.mark.parametrize(("query", "field"), BAD_PROJECT_FILTERS)
def test_bad_project_filters_answer_400_naming_the_field(student, briefs, query, field):  # type: ignore[no-untyped-def]
    res = student.get(f"/api/v1/projects/?{query}")
    assert res.status_code == 400, res.content
    body = res.json()
    assert body["code"] == "invalid"
    assert field in body["errors"], body
    assert body["errors"][field]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("country=FRA", "country"),
        ("country=F", "country"),
        ("country=F1", "country"),
        ("country=%00%00", "country"),
        ("search=%00", "search"),
        ("search=" + "a" * 10_000, "search"),
        ("page=0", "page"),
        ("page=999999", "page"),
        ("page_size=abc", "page_size"),
    ],
)
def test_bad_school_filters_answer_400_naming_the_field(api, query, field):  # type: ignore[no-untyped-def]
    SchoolFactory()
    res = api.get(f"/api/v1/schools/?{query}")
    assert res.status_code == 400, res.content
    assert field in res.json()["errors"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("search=%00", "search"), ("search=" + "b" * 1000, "search"), ("page=abc", "page")],
)
def test_bad_skill_filters_answer_400_naming_the_field(api, query, field):  # type: ignore[no-untyped-def]
    res = api.get(f"/api/v1/skills/?{query}")
    assert res.status_code == 400, res.content
    assert field in res.json()["errors"]


@pytest.mark.parametrize(
    ("query", "field"), [("status=bogus", "status"), ("status=%00", "status"), ("page=0", "page")]
)
def test_bad_verification_filters_answer_400_naming_the_field(student, query, field):  # type: ignore[no-untyped-def]
    res = student.get(f"/api/v1/verifications/?{query}")
    assert res.status_code == 400, res.content
    assert field in res.json()["errors"]


def test_an_emoji_search_is_answered(student, briefs):  # type: ignore[no-untyped-def]
    found = _ids(student.get(f"/api/v1/projects/?search={quote('🎨')}"))
    # Substring search finds it; PostgreSQL's full-text parser drops symbols (no lexeme).
    assert found == (set() if connection.vendor == "postgresql" else {briefs["logo"]})
    assert _ids(student.get(f"/api/v1/projects/?search={quote('🦄')}")) == set()
    assert student.get(f"/api/v1/schools/?search={quote('🦄')}").status_code == 200
    assert student.get(f"/api/v1/skills/?search={quote('🦄')}").status_code == 200


def test_huge_budgets_and_ids_do_not_crash(student, briefs):  # type: ignore[no-untyped-def]
    huge = "9" * 30
    for name in ("budget_min", "budget_max"):
        res = student.get(f"/api/v1/projects/?{name}={huge}")
        assert res.status_code == 400
        assert name in res.json()["errors"]
    assert _ids(student.get("/api/v1/projects/?budget_max=1000000000000")) == {
        briefs["shop"],
        briefs["logo"],
        briefs["plan"],
    }
    assert student.get(f"/api/v1/projects/{huge}/").status_code == 404
    assert student.get(f"/api/v1/contracts/{huge}/").status_code == 404
    assert student.get(f"/api/v1/schools/{huge}/").status_code == 404
    assert student.get(f"/api/v1/projects/?page_size={huge}").status_code == 200
    assert student.get(f"/api/v1/projects/?page_size={'9' * 5000}").status_code == 200


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"shop", "logo", "plan"}),
        ("search=shop", {"shop", "plan"}),
        ("search=SHOP", {"shop", "plan"}),
        ("search=%20%20", {"shop", "logo", "plan"}),
        ("search=e-commerce", {"shop"}),
        ("skills=python", {"shop"}),
        ("skills=figma,django", {"shop", "logo"}),
        ("skills=figma,%20django,", {"shop", "logo"}),
        ("budget_min=100000", {"shop", "plan"}),
        ("budget_max=100000", {"logo", "plan"}),
        ("budget_min=100000&budget_max=100000", {"plan"}),
        ("budget_min=60000&budget_max=150000", {"plan"}),
        ("category=design", {"logo"}),
        ("kind=mentoring", {"plan"}),
        ("currency=USD", {"logo"}),
        ("status=open", {"shop", "logo", "plan"}),
        ("status=draft", set()),
        ("search=shop&skills=python&budget_min=1000&budget_max=300000", {"shop"}),
        ("search=plan&category=web", set()),
    ],
)
def test_project_filters_select_the_right_briefs(student, briefs, query, expected):  # type: ignore[no-untyped-def]
    assert _ids(student.get(f"/api/v1/projects/?{query}")) == {briefs[k] for k in expected}


def test_the_owner_filters_its_own_drafts(as_user, briefs):  # type: ignore[no-untyped-def]
    draft = Project.objects.get(pk=briefs["draft"])
    owner = as_user(draft.created_by)
    assert _ids(owner.get("/api/v1/projects/?status=draft")) == {draft.pk}
    assert _ids(owner.get("/api/v1/projects/?status=draft&search=secret")) == {draft.pk}
    assert _ids(as_user(CompanyMemberFactory()).get("/api/v1/projects/?status=draft")) == set()


def test_pagination_pages_through_the_results(student, briefs):  # type: ignore[no-untyped-def]
    res = student.get("/api/v1/projects/?page_size=2")
    body = res.json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["previous"] is None
    assert "page=2" in body["next"]
    second = student.get("/api/v1/projects/?page_size=2&page=2").json()
    assert len(second["results"]) == 1
    assert second["next"] is None
    seen = {r["id"] for r in body["results"]} | {r["id"] for r in second["results"]}
    assert seen == {briefs["shop"], briefs["logo"], briefs["plan"]}
    assert len(student.get("/api/v1/projects/?page_size=1000").json()["results"]) == 3
    assert student.get("/api/v1/projects/?page=last&page_size=2").status_code == 200


def test_school_filters_work(api):  # type: ignore[no-untyped-def]
    paris = SchoolFactory(name="Université Paris Cité", country="FR")
    SchoolDomainFactory(school=paris, domain="etu.u-paris.fr")
    mit = SchoolFactory(name="MIT", country="US", country_name="United States")
    assert _ids(api.get("/api/v1/schools/?country=FR")) == {paris.pk}
    assert _ids(api.get("/api/v1/schools/?country=us")) == {mit.pk}
    assert _ids(api.get("/api/v1/schools/?search=paris")) == {paris.pk}
    assert _ids(api.get("/api/v1/schools/?search=u-paris.fr")) == {paris.pk}
    assert _ids(api.get("/api/v1/schools/?search=paris&country=US")) == set()
    row = api.get(f"/api/v1/schools/{paris.pk}/").json()
    assert "etu.u-paris.fr" in row["domains"]
    assert row["country"] == "FR"


def test_skill_search_works(api):  # type: ignore[no-untyped-def]
    python = SkillFactory(name="Python", slug="python")
    SkillFactory(name="Figma", slug="figma")
    assert _ids(api.get("/api/v1/skills/?search=pyt")) == {python.pk}
