from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from marketplace.models import StudentProfile
from projects.matching import match_candidates, score_parts
from projects.models import Bid, Contract, Project
from schools.models import EnrolmentVerification
from tests.factories import (
    ProjectFactory,
    SchoolFactory,
    SkillFactory,
    StudentFactory,
    VerificationFactory,
)

pytestmark = pytest.mark.django_db

V = EnrolmentVerification.Status
AVAILABLE = StudentProfile.Availability.AVAILABLE
BUSY = StudentProfile.Availability.BUSY
UNAVAILABLE = StudentProfile.Availability.UNAVAILABLE


@pytest.fixture
def skills():
    return {
        slug: SkillFactory(name=slug.title(), slug=slug)
        for slug in ["python", "django", "sql", "figma", "seo", "excel", "go", "rust"]
    }


@pytest.fixture
def partner():
    return SchoolFactory(name="Partner Academy", is_partner=True)


@pytest.fixture
def plain():
    return SchoolFactory(name="Plain College", is_partner=False)


@pytest.fixture
def brief(skills):
    project = ProjectFactory(budget_cents=150_000, currency="EUR")
    project.skills.set([skills["python"], skills["django"], skills["sql"]])
    return project


def _completed_contracts(user, n: int, status: str = Contract.Status.COMPLETED) -> None:
    for _ in range(n):
        project = ProjectFactory(status=Project.Status.COMPLETED)
        bid = Bid.objects.create(
            project=project,
            student=user,
            amount_cents=1000,
            currency="EUR",
            estimated_days=1,
            cover_letter="x",
            status=Bid.Status.ACCEPTED,
        )
        Contract.objects.create(
            project=project,
            bid=bid,
            company=project.company,
            student=user,
            amount_cents=1000,
            currency="EUR",
            status=status,
        )


def _student(
    name: str,
    school,
    skills: list = (),
    *,
    availability: str = AVAILABLE,
    day_rate: int | None = None,
    currency: str = "EUR",
    completed: int = 0,
    status: str = V.VERIFIED,
    graduation_days: int = 365,
    is_active: bool = True,
):
    user = StudentFactory(email=f"{name}@example.test", is_active=is_active)
    profile = user.student_profile
    profile.availability = availability
    profile.day_rate_cents = day_rate
    profile.currency = currency
    profile.save()
    profile.skills.set(skills)
    if school is not None:
        VerificationFactory(
            student=user,
            school=school,
            status=status,
            graduation_date=timezone.localdate() + dt.timedelta(days=graduation_days),
        )
    _completed_contracts(user, completed)
    return user


def _ranking(project) -> list[tuple[str, int, list[tuple[str, int]]]]:
    n_required = project.skills.count()
    return [
        (
            profile.user.email.split("@")[0],
            profile.score,
            [
                (p.name, p.points)
                for p in score_parts(profile=profile, project=project, n_required=n_required)
            ],
        )
        for profile in match_candidates(project=project)
    ]


def _parts(project, user) -> dict[str, tuple[int, int, str]]:
    profile = match_candidates(project=project).get(user=user)
    return {
        p.name: (p.points, p.max_points, p.detail)
        for p in score_parts(profile=profile, project=project, n_required=project.skills.count())
    }


def test_scores_parts_and_order_by_hand(brief, skills, partner, plain):
    py, dj, sql = skills["python"], skills["django"], skills["sql"]
    _student("zero", partner, [])
    one = _student("one", plain, [py], availability=BUSY, day_rate=100_000)
    two = _student("two", partner, [py, dj, skills["figma"]], day_rate=200_000, completed=2)
    _completed_contracts(two, 1, status=Contract.Status.ACTIVE)
    three = _student("three", partner, [py, dj, sql], day_rate=150_000, completed=7)
    _student("usd", plain, [py, dj, sql], availability=BUSY, day_rate=50_000, currency="USD")

    assert _ranking(brief) == [
        (
            "three",
            100,
            [
                ("skills", 60),
                ("experience", 15),
                ("availability", 10),
                ("school", 5),
                ("day_rate", 10),
            ],
        ),
        (
            "usd",
            64,
            [
                ("skills", 60),
                ("experience", 0),
                ("availability", 4),
                ("school", 0),
                ("day_rate", 0),
            ],
        ),
        (
            "two",
            61,
            [
                ("skills", 40),
                ("experience", 6),
                ("availability", 10),
                ("school", 5),
                ("day_rate", 0),
            ],
        ),
        (
            "one",
            34,
            [
                ("skills", 20),
                ("experience", 0),
                ("availability", 4),
                ("school", 0),
                ("day_rate", 10),
            ],
        ),
        (
            "zero",
            15,
            [
                ("skills", 0),
                ("experience", 0),
                ("availability", 10),
                ("school", 5),
                ("day_rate", 0),
            ],
        ),
    ]

    assert _parts(brief, two) == {
        "skills": (40, 60, "matched 2 of 3 skills"),
        "experience": (6, 15, "2 completed contracts"),
        "availability": (10, 10, "available"),
        "school": (5, 5, "verified at Partner Academy (partner school)"),
        "day_rate": (0, 10, "no day rate in the brief's currency within the budget"),
    }
    assert _parts(brief, one) == {
        "skills": (20, 60, "matched 1 of 3 skills"),
        "experience": (0, 15, "0 completed contracts"),
        "availability": (4, 10, "busy"),
        "school": (0, 5, "verified at Plain College"),
        "day_rate": (10, 10, "day rate within the budget"),
    }
    assert _parts(brief, three)["experience"] == (15, 15, "7 completed contracts")
    matched = match_candidates(project=brief).get(user=two).matched
    assert sorted(s.slug for s in matched) == ["django", "python"]


def test_students_not_verified_today_or_not_available_are_not_candidates(brief, skills, partner):
    everything = [skills["python"], skills["django"], skills["sql"]]
    _student("listed", partner, everything)
    _student("unverified", None, everything)
    _student("pending", partner, everything, status=V.PENDING_REVIEW)
    _student("unconfirmed", partner, everything, status=V.PENDING_EMAIL)
    _student("rejected", partner, everything, status=V.REJECTED)
    _student("revoked", partner, everything, status=V.REVOKED)
    _student("expired", partner, everything, status=V.EXPIRED)
    _student("graduated", partner, everything, graduation_days=-1)
    _student("unavailable", partner, everything, availability=UNAVAILABLE)
    _student("inactive", partner, everything, is_active=False)

    assert [name for name, _, _ in _ranking(brief)] == ["listed"]


def test_a_student_who_graduated_today_is_still_a_candidate(brief, partner):
    _student("today", partner, [], graduation_days=0)
    assert [name for name, _, _ in _ranking(brief)] == ["today"]


def test_a_school_restricted_brief_only_matches_students_of_its_schools(
    brief, skills, partner, plain
):
    brief.visibility = Project.Visibility.SCHOOLS
    brief.save()
    brief.allowed_schools.set([plain])
    _student("at_plain", plain, [skills["python"]])
    _student("at_partner", partner, [skills["python"], skills["django"], skills["sql"]])

    assert _ranking(brief) == [
        (
            "at_plain",
            30,
            [
                ("skills", 20),
                ("experience", 0),
                ("availability", 10),
                ("school", 0),
                ("day_rate", 0),
            ],
        )
    ]


def test_only_the_verification_in_force_counts_for_the_school_part(brief, partner, plain):
    user = _student("moved", partner, [], graduation_days=-10)
    VerificationFactory(
        student=user,
        school=plain,
        graduation_date=timezone.localdate() + dt.timedelta(days=100),
        school_email="moved@" + plain.domains.first().domain,
    )
    assert _parts(brief, user)["school"] == (0, 5, "verified at Plain College")


def test_ties_go_to_more_matched_skills_then_to_the_older_account(brief, skills, partner, plain):
    experienced = _student("experienced", partner, [], completed=5)  # 0 + 15 + 10 + 5 = 30
    skilled = _student("skilled", plain, [skills["sql"]])  # 20 + 10 = 30
    twin_a = _student("twin_a", plain, [])
    twin_b = _student("twin_b", plain, [])

    ranking = _ranking(brief)
    assert [(name, score) for name, score, _ in ranking] == [
        ("skilled", 30),
        ("experienced", 30),
        ("twin_a", 10),
        ("twin_b", 10),
    ]
    assert experienced.pk < skilled.pk
    assert twin_a.pk < twin_b.pk


def test_a_brief_without_skills_scores_the_other_parts(partner):
    project = ProjectFactory(budget_cents=50_000, currency="EUR")
    user = _student("any", partner, [SkillFactory(slug="python", name="Python")], day_rate=50_000)

    assert _ranking(project) == [
        (
            "any",
            25,
            [
                ("skills", 0),
                ("experience", 0),
                ("availability", 10),
                ("school", 5),
                ("day_rate", 10),
            ],
        )
    ]
    assert _parts(project, user)["skills"] == (0, 60, "the brief lists no skills")


@pytest.mark.parametrize(("matched", "points"), [(1, 8), (3, 25), (4, 34), (6, 51), (7, 60)])
def test_skill_points_round_down_and_the_score_is_the_sum_of_its_parts(
    skills, plain, matched, points
):
    project = ProjectFactory(budget_cents=50_000, currency="JPY")
    required = [s for slug, s in skills.items() if slug != "rust"]
    project.skills.set(required)
    user = _student("n", plain, required[:matched] + [skills["rust"]], day_rate=50_000)

    profile = match_candidates(project=project).get(user=user)
    parts = score_parts(profile=profile, project=project, n_required=7)

    assert parts[0].points == points
    assert profile.score == sum(p.points for p in parts) == points + 10
    assert parts[0].detail == f"matched {matched} of 7 skills"
