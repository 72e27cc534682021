"""The brief and student filters, the student list and recommended briefs over HTTP."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from marketplace.models import StudentProfile
from marketplace.services import student_profile_update
from projects.briefs.models import Project
from tests.factories import (
    CompanyMemberFactory,
    CoordinatorFactory,
    ProjectFactory,
    SchoolFactory,
    SkillFactory,
    StudentFactory,
    UserFactory,
    VerificationFactory,
    VerifiedStudentFactory,
)

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 1)


def _ids(res) -> list[int]:  # type: ignore[no-untyped-def]
    assert res.status_code == 200, res.content
    return [row["id"] for row in res.json()["results"]]


@pytest.fixture
def skills():
    return {s: SkillFactory(name=s.title(), slug=s) for s in ("python", "django", "figma")}


@pytest.fixture
def student(as_user):  # type: ignore[no-untyped-def]
    return as_user(VerifiedStudentFactory())


# --- briefs -------------------------------------------------------------------------------


@pytest.fixture
def briefs(skills):  # type: ignore[no-untyped-def]
    today = timezone.localdate()
    both = ProjectFactory(budget_cents=300_000, deadline=today + dt.timedelta(days=30))
    both.skills.set([skills["python"], skills["django"]])
    py = ProjectFactory(budget_cents=100_000, deadline=today + dt.timedelta(days=5))
    py.skills.set([skills["python"]])
    design = ProjectFactory(budget_cents=200_000, deadline=None)
    design.skills.set([skills["figma"]])
    old = ProjectFactory(budget_cents=50_000, created_at=timezone.now() - dt.timedelta(days=40))
    return {"both": both.pk, "py": py.pk, "design": design.pk, "old": old.pk}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("skills=python,django", ["py", "both"]),
        ("skills=python,django&skills_match=any", ["py", "both"]),
        ("skills=python,django&skills_match=all", ["both"]),
        ("skills=DJANGO,%20python,&skills_match=all", ["both"]),
        ("ordering=budget", ["old", "py", "design", "both"]),
        ("ordering=-budget", ["both", "design", "py", "old"]),
        ("ordering=deadline&skills=python,figma", ["py", "both", "design"]),
        ("ordering=-deadline&skills=python,figma", ["both", "py", "design"]),
        ("ordering=budget&budget_min=100000&budget_max=200000", ["py", "design"]),
    ],
)
def test_brief_filters_and_orderings(student, briefs, query, expected):  # type: ignore[no-untyped-def]
    assert _ids(student.get(f"/api/v1/projects/?{query}")) == [briefs[k] for k in expected]


def test_brief_date_filters(student, briefs):  # type: ignore[no-untyped-def]
    today = timezone.localdate()
    soon = (today + dt.timedelta(days=10)).isoformat()
    assert set(_ids(student.get(f"/api/v1/projects/?deadline_before={soon}"))) == {briefs["py"]}
    assert set(_ids(student.get(f"/api/v1/projects/?deadline_after={soon}"))) == {briefs["both"]}
    since = (today - dt.timedelta(days=7)).isoformat()
    assert briefs["old"] not in _ids(student.get(f"/api/v1/projects/?created_since={since}"))
    assert len(_ids(student.get(f"/api/v1/projects/?created_since={since}"))) == 3


def test_the_school_filter_shows_what_that_schools_students_may_see(as_user, briefs):  # type: ignore[no-untyped-def]
    mine, other = SchoolFactory(), SchoolFactory()
    for_mine = ProjectFactory(visibility=Project.Visibility.SCHOOLS)
    for_mine.allowed_schools.set([mine])
    for_other = ProjectFactory(visibility=Project.Visibility.SCHOOLS)
    for_other.allowed_schools.set([other])
    client = as_user(UserFactory(is_staff=True))
    found = set(_ids(client.get(f"/api/v1/projects/?school={mine.pk}&page_size=100")))
    assert for_mine.pk in found and for_other.pk not in found
    assert set(briefs.values()) <= found
    restricted = _ids(client.get(f"/api/v1/projects/?visibility=schools&school={mine.pk}"))
    assert restricted == [for_mine.pk]


BAD_BRIEF_QUERIES = [
    ("search=" + "a" * 10_000, "search"),
    ("search=abc%00def", "search"),
    ("skills=python,unknown", "skills"),
    ("skills=" + ",".join(f"s{i}" for i in range(21)), "skills"),
    ("skills_match=some", "skills_match"),
    ("ordering=popular", "ordering"),
    ("ordering=", None),
    ("school=abc", "school"),
    ("school=0", "school"),
    ("school=" + "9" * 30, "school"),
    ("school=999999", "school"),
    ("visibility=secret", "visibility"),
    ("deadline_after=tomorrow", "deadline_after"),
    ("deadline_before=2026-02-30", "deadline_before"),
    ("deadline_after=2026-12-31&deadline_before=2026-01-01", "deadline_after"),
    ("created_since=2026-13-01", "created_since"),
    ("budget_min=%F0%9F%8E%A8", "budget_min"),
    ("page=99999999999999999999", "page"),
]


@pytest.mark.parametrize(("query", "field"), BAD_BRIEF_QUERIES)
def test_bad_brief_filters_are_a_400_naming_the_field(student, skills, query, field):  # type: ignore[no-untyped-def]
    res = student.get(f"/api/v1/projects/?{query}")
    if field is None:  # an empty value means "not given"
        assert res.status_code == 200
        return
    assert res.status_code == 400, res.content
    assert list(res.json()["errors"]) == [field]


def test_an_emoji_search_is_just_a_search(student):  # type: ignore[no-untyped-def]
    assert student.get("/api/v1/projects/?search=%F0%9F%A6%84%20shop").status_code == 200


# --- students ----------------------------------------------------------------------------


def _profile(user, **fields):  # type: ignore[no-untyped-def]
    skills = fields.pop("skills", None)
    track = {k: fields.pop(k) for k in list(fields) if k in ("review_count", "rating_total")}
    student_profile_update(user=user, skills=skills, **fields)
    StudentProfile.objects.filter(user=user).update(**track)
    return user


@pytest.fixture
def people(skills):  # type: ignore[no-untyped-def]
    paris = SchoolFactory(name="Paris Tech", country="FR")
    boston = SchoolFactory(name="Boston Tech", country="US")
    ana = _profile(
        VerifiedStudentFactory(first_name="Ana", verification__school=paris),
        skills=["python", "django"],
        day_rate_cents=40_000,
        review_count=2,
        rating_total=9,
    )
    ben = _profile(
        VerifiedStudentFactory(first_name="Ben", verification__school=boston),
        skills=["python"],
        day_rate_cents=60_000,
        availability="busy",
        review_count=1,
        rating_total=3,
    )
    cleo = _profile(
        VerifiedStudentFactory(first_name="Clémentine", verification__school=paris),
        skills=["figma"],
        day_rate_cents=None,
    )
    dan = _profile(StudentFactory(first_name="Dan"), skills=["python"])  # not verified
    return {"ana": ana.pk, "ben": ben.pk, "cleo": cleo.pk, "dan": dan.pk, "paris": paris.pk}


@pytest.fixture
def company(as_user):  # type: ignore[no-untyped-def]
    return as_user(CompanyMemberFactory())


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ordering=rating", ["ana", "ben", "cleo"]),
        ("skills=python&ordering=rating", ["ana", "ben"]),
        ("skills=python,django&skills_match=all", ["ana"]),
        ("country=us", ["ben"]),
        ("day_rate_min=50000", ["ben"]),
        ("day_rate_max=50000", ["ana"]),
        ("availability=busy", ["ben"]),
        ("rating_min=4.5&ordering=rating", ["ana"]),
        ("rating_min=3", ["ana", "ben"]),
        ("search=clément", ["cleo"]),
        ("ordering=day_rate", ["ana", "ben", "cleo"]),
        ("ordering=-day_rate", ["ben", "ana", "cleo"]),
    ],
)
def test_companies_filter_verified_students(company, people, query, expected):  # type: ignore[no-untyped-def]
    got = _ids(company.get(f"/api/v1/students/?{query}"))
    if "ordering" not in query:
        got = sorted(got)
        expected = sorted(expected, key=lambda k: people[k])
    assert got == [people[k] for k in expected]


def test_the_school_filter_and_a_row(company, people):  # type: ignore[no-untyped-def]
    res = company.get(f"/api/v1/students/?school={people['paris']}&ordering=rating")
    assert _ids(res) == [people["ana"], people["cleo"]]
    row = res.json()["results"][0]
    assert row == {
        "id": people["ana"],
        "first_name": "Ana",
        "last_name": row["last_name"],
        "headline": row["headline"],
        "skills": ["django", "python"],
        "day_rate_cents": 40_000,
        "currency": "EUR",
        "availability": "available",
        "school": {"id": people["paris"], "name": "Paris Tech", "country": "FR"},
        "verified": True,
        "average_rating": "4.50",
        "review_count": 2,
        "completed_contracts": 0,
        "on_time_rate": None,
    }


def test_staff_see_unverified_students_and_filter_them(as_user, people):  # type: ignore[no-untyped-def]
    staff = as_user(UserFactory(is_staff=True))
    assert people["dan"] in _ids(staff.get("/api/v1/students/"))
    assert _ids(staff.get("/api/v1/students/?verified=false")) == [people["dan"]]
    assert people["dan"] not in _ids(staff.get("/api/v1/students/?verified=true"))


def test_students_and_coordinators_may_not_browse_students(as_user, people):  # type: ignore[no-untyped-def]
    assert as_user(VerifiedStudentFactory()).get("/api/v1/students/").status_code == 403
    assert as_user(CoordinatorFactory().user).get("/api/v1/students/").status_code == 403


BAD_STUDENT_QUERIES = [
    ("school=999999", "school"),
    ("rating_min=6", "rating_min"),
    ("rating_min=0", "rating_min"),
    ("rating_min=four", "rating_min"),
    ("rating_min=4.555", "rating_min"),
    ("day_rate_min=9&day_rate_max=1", "day_rate_min"),
    ("day_rate_max=-5", "day_rate_max"),
    ("country=FRA", "country"),
    ("availability=asleep", "availability"),
    ("verified=maybe", "verified"),
    ("skills=nope", "skills"),
    ("ordering=age", "ordering"),
    ("search=" + "x" * 10_000, "search"),
    ("search=%00", "search"),
    ("currency=BTC", "currency"),
]


@pytest.mark.parametrize(("query", "field"), BAD_STUDENT_QUERIES)
def test_bad_student_filters_are_a_400_naming_the_field(company, query, field):  # type: ignore[no-untyped-def]
    res = company.get(f"/api/v1/students/?{query}")
    assert res.status_code == 400, res.content
    assert list(res.json()["errors"]) == [field]


# --- recommended briefs and matches ------------------------------------------------------


def test_recommended_briefs_for_the_signed_in_student(as_user, skills):  # type: ignore[no-untyped-def]
    me = _profile(VerifiedStudentFactory(), skills=["python"], day_rate_cents=10_000)
    brief = ProjectFactory(budget_cents=90_000)
    brief.skills.set([skills["python"]])
    ProjectFactory().skills.set([skills["figma"]])
    res = as_user(me).get("/api/v1/students/me/recommended-briefs/")
    assert res.status_code == 200
    (row,) = res.json()["results"]
    assert row["brief"]["id"] == brief.pk
    assert row["matched_skills"] == ["python"]
    assert [p["name"] for p in row["parts"]] == ["skills", "budget", "school", "deadline"]
    assert row["score"] == sum(p["points"] for p in row["parts"]) == 60 + 20 + 0 + 10
    assert (
        as_user(CompanyMemberFactory()).get("/api/v1/students/me/recommended-briefs/").status_code
        == 403
    )


def test_matches_name_the_school_and_every_part(as_user, skills):  # type: ignore[no-untyped-def]
    owner = CompanyMemberFactory()
    brief = ProjectFactory(company=owner.company_membership.company, created_by=owner)
    brief.skills.set([skills["python"]])
    school = SchoolFactory(name="École 42")
    student = _profile(VerifiedStudentFactory(verification__school=school), skills=["python"])
    VerificationFactory(
        student=StudentFactory(), school=school, graduation_date=TODAY - dt.timedelta(days=1)
    )
    res = as_user(owner).get(f"/api/v1/projects/{brief.pk}/matches/")
    (row,) = res.json()["results"]
    assert row["student"]["id"] == student.pk
    assert row["student"]["school"] == "École 42"
    assert [p["name"] for p in row["parts"]] == [
        "skills",
        "rating",
        "experience",
        "on_time",
        "school",
        "availability",
        "day_rate",
    ]
    assert row["score"] == sum(p["points"] for p in row["parts"])


def test_a_percent_sign_in_an_unknown_skill_is_quoted_back(student):  # type: ignore[no-untyped-def]
    res = student.get("/api/v1/projects/?skills=50%25s,%25d")
    assert res.status_code == 400
    assert res.json()["errors"] == {"skills": ["Unknown skills: 50%s, %d."]}
