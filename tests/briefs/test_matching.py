"""The matching formulas of projects.briefs.matching on small cases computed by hand."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from django.utils import timezone

from marketplace.models import StudentProfile
from marketplace.services import student_profile_update
from projects.briefs.matching import (
    brief_score_parts,
    match_candidates,
    recommended_briefs,
    schools_in_force,
    score_parts,
)
from projects.briefs.models import Project
from projects.briefs.services import bid_submit
from projects.reviews.tasks import refresh_rankings_task
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


def weight(n: int, total: int) -> int:
    """The documented rarity weight, written out independently of the SQL."""
    return 100 + round(100 * math.log((1 + total) / (1 + n)))


@pytest.fixture
def skills():
    return {
        slug: SkillFactory(name=slug.title(), slug=slug)
        for slug in ["python", "django", "sql", "figma", "seo"]
    }


@pytest.fixture
def partner():
    return SchoolFactory(name="Partner Academy", is_partner=True)


@pytest.fixture
def plain():
    return SchoolFactory(name="Plain College", is_partner=False)


def _student(
    name: str,
    school,
    skills: list[str] = (),
    *,
    availability: str = AVAILABLE,
    day_rate: int | None = None,
    currency: str = "EUR",
    status: str = V.VERIFIED,
    graduation_days: int = 365,
    is_active: bool = True,
    **track_record: int,
):
    """A student whose skills go through the service (so skill rarity is counted)."""
    user = StudentFactory(email=f"{name}@example.test", is_active=is_active)
    student_profile_update(
        user=user,
        skills=list(skills),
        availability=availability,
        day_rate_cents=day_rate,
        currency=currency,
    )
    StudentProfile.objects.filter(user=user).update(**track_record)
    if school is not None:
        VerificationFactory(
            student=user,
            school=school,
            status=status,
            graduation_date=timezone.localdate() + dt.timedelta(days=graduation_days),
        )
    return user


def _ranking(project) -> list[tuple[str, int]]:
    return [(p.user.email.split("@")[0], p.score) for p in match_candidates(project=project)]


def _parts(project, user) -> dict[str, tuple[int, int, str]]:
    profile = match_candidates(project=project).get(user=user)
    school = schools_in_force(student_ids=[user.pk]).get(user.pk)
    parts = score_parts(profile=profile, school=school)
    assert profile.score == sum(p.points for p in parts)
    return {p.name: (p.points, p.max_points, p.detail) for p in parts}


def test_the_weights_are_smoothed_inverse_document_frequency():
    # Four profiles; python listed by 3, django by 2, sql by 1.
    assert [weight(n, 4) for n in (3, 2, 1, 0)] == [122, 151, 192, 261]


def test_students_for_a_brief_scored_by_hand(skills, partner, plain):
    brief = ProjectFactory(budget_cents=150_000, currency="EUR")
    brief.skills.set([skills["python"], skills["django"], skills["sql"]])
    a = _student(
        "a",
        partner,
        ["python", "django", "sql"],
        day_rate=150_000,
        review_count=3,
        rating_total=13,
        completed_contracts=7,
        timed_milestones=4,
        on_time_milestones=3,
    )
    b = _student("b", plain, ["python"], availability=BUSY, day_rate=100_000)
    c = _student(
        "c",
        partner,
        ["python", "django"],
        day_rate=50_000,
        currency="USD",
        review_count=1,
        rating_total=5,
        completed_contracts=2,
        timed_milestones=2,
        on_time_milestones=0,
    )
    _student("d", partner, [])  # shares no skill with the brief: not a candidate

    # N = 4 profiles: python 3 → 122, django 2 → 151, sql 1 → 192; all three weigh 465.
    # a: skills 40·465/465 = 40; rating 15·(13−3)/(4·3) = 12.5 → 12; experience min(7,5)·2
    #    = 10; on time 10·3/4 = 7.5 → 7; partner 5; available 10; rate fits 10 → 94.
    # c: skills 40·(122+151)/465 = 23.48 → 23; rating 15·(5−1)/4 = 15; experience 4;
    #    on time 0/2 → 0; partner 5; available 10; USD rate 0 → 57.
    # b: skills 40·122/465 = 10.49 → 10; no reviews 0; 0; no dated milestones 0;
    #    plain school 0; busy 4; rate fits 10 → 24.
    assert _ranking(brief) == [("a", 94), ("c", 57), ("b", 24)]
    assert _parts(brief, a) == {
        "skills": (40, 40, "matched 3 of 3 skills (rarer skills count more)"),
        "rating": (12, 15, "rated 4.33 of 5 in 3 reviews"),
        "experience": (10, 10, "7 completed contracts"),
        "on_time": (7, 10, "3 of 4 dated milestones delivered on time"),
        "school": (5, 5, "verified at Partner Academy (partner school)"),
        "availability": (10, 10, "available"),
        "day_rate": (10, 10, "day rate within the budget"),
    }
    assert _parts(brief, c) == {
        "skills": (23, 40, "matched 2 of 3 skills (rarer skills count more)"),
        "rating": (15, 15, "rated 5.00 of 5 in 1 review"),
        "experience": (4, 10, "2 completed contracts"),
        "on_time": (0, 10, "0 of 2 dated milestones delivered on time"),
        "school": (5, 5, "verified at Partner Academy (partner school)"),
        "availability": (10, 10, "available"),
        "day_rate": (0, 10, "no day rate in the brief's currency within the budget"),
    }
    assert _parts(brief, b) == {
        "skills": (10, 40, "matched 1 of 3 skills (rarer skills count more)"),
        "rating": (0, 15, "no reviews yet"),
        "experience": (0, 10, "0 completed contracts"),
        "on_time": (0, 10, "no dated milestones yet"),
        "school": (0, 5, "verified at Plain College"),
        "availability": (4, 10, "busy"),
        "day_rate": (10, 10, "day rate within the budget"),
    }
    matched = match_candidates(project=brief).get(user=c).matched
    assert sorted(s.slug for s in matched) == ["django", "python"]


def test_a_rare_skill_outranks_a_common_one(skills, plain):
    brief = ProjectFactory()
    brief.skills.set([skills["python"], skills["seo"]])
    for i in range(3):
        _student(f"filler{i}", None, ["python"])
    common = _student("common", plain, ["python"])
    rare = _student("rare", plain, ["seo"])
    # N = 5: python listed by 4 → 100 + round(100·ln(6/5)) = 118, seo by 1 → ln 3 → 210.
    assert (weight(4, 5), weight(1, 5)) == (118, 210)
    # rare: 40·210/328 = 25.6 → 25; common: 40·118/328 = 14.4 → 14; both + available 10.
    assert _ranking(brief) == [("rare", 35), ("common", 24)]
    assert rare.pk > common.pk  # the later account wins on its skills, not on age


def test_skill_counts_follow_profile_edits(skills):
    user = _student("x", None, ["python", "sql"])
    _student("y", None, ["python"])
    student_profile_update(user=user, skills=["sql", "figma"])
    counts = {s.slug: s.student_count for s in type(skills["python"]).objects.all()}
    assert counts == {"python": 1, "django": 0, "sql": 1, "figma": 1, "seo": 0}


def test_only_verified_available_active_students_with_a_skill_are_candidates(skills, partner):
    brief = ProjectFactory()
    brief.skills.set([skills["python"]])
    _student("listed", partner, ["python"])
    _student("unverified", None, ["python"])
    _student("pending", partner, ["python"], status=V.PENDING_REVIEW)
    _student("revoked", partner, ["python"], status=V.REVOKED)
    _student("expired", partner, ["python"], status=V.EXPIRED)
    _student("graduated", partner, ["python"], graduation_days=-1)
    _student("today", partner, ["python"], graduation_days=0)
    _student("unavailable", partner, ["python"], availability=UNAVAILABLE)
    _student("inactive", partner, ["python"], is_active=False)
    _student("unskilled", partner, ["figma"])
    assert sorted(name for name, _ in _ranking(brief)) == ["listed", "today"]


def test_a_school_restricted_brief_only_matches_students_of_its_schools(skills, partner, plain):
    brief = ProjectFactory(visibility=Project.Visibility.SCHOOLS)
    brief.allowed_schools.set([plain])
    brief.skills.set([skills["python"]])
    _student("at_plain", plain, ["python"])
    _student("at_partner", partner, ["python"])
    assert [name for name, _ in _ranking(brief)] == ["at_plain"]


def test_a_brief_without_skills_ranks_every_verified_student_on_the_rest(partner):
    project = ProjectFactory(budget_cents=50_000, currency="EUR")
    user = _student("any", partner, [], day_rate=50_000, completed_contracts=1)
    assert _ranking(project) == [("any", 27)]  # 0 + 0 + 2 + 0 + 5 + 10 + 10
    assert _parts(project, user)["skills"] == (0, 40, "the brief lists no skills")


def test_ties_go_to_the_older_account(skills, plain):
    brief = ProjectFactory()
    brief.skills.set([skills["python"], skills["sql"]])
    second = _student("second", plain, ["python"])
    first = _student("first", plain, ["python"])
    assert [name for name, _ in _ranking(brief)] == ["second", "first"]
    assert second.pk < first.pk


# --- briefs for a student ---------------------------------------------------------------


def test_briefs_for_a_student_scored_by_hand(skills, plain):
    student = _student("me", plain, ["python", "sql"], day_rate=50_000)
    other_school = SchoolFactory()
    soon = timezone.localdate() + dt.timedelta(days=3)
    b1 = ProjectFactory(budget_cents=100_000, deadline=None)
    b1.skills.set([skills["python"], skills["django"]])
    b2 = ProjectFactory(budget_cents=40_000, deadline=soon, visibility=Project.Visibility.SCHOOLS)
    b2.allowed_schools.set([plain])
    b2.skills.set([skills["sql"]])
    ProjectFactory().skills.set([skills["figma"]])  # no shared skill
    bid_on = ProjectFactory()
    bid_on.skills.set([skills["python"]])
    bid_submit(
        project_id=bid_on.pk, by=student, amount_cents=10_000, estimated_days=2, cover_letter="Hi"
    )
    elsewhere = ProjectFactory(visibility=Project.Visibility.SCHOOLS)
    elsewhere.allowed_schools.set([other_school])
    elsewhere.skills.set([skills["python"]])
    ProjectFactory(status=Project.Status.DRAFT).skills.set([skills["python"]])

    rows = list(recommended_briefs(student=student))
    # N = 1: python and sql are listed by the one profile → 100; django by none → 169.
    # b2: skills 60·100/100 = 60; budget 400 € < 500 € rate → 0; for my school 10;
    #     deadline in 3 days → 0: 70.
    # b1: skills 60·100/269 = 22.3 → 22; rate fits 20; open to all 0; no deadline 10: 52.
    assert [(p.pk, p.score) for p in rows] == [(b2.pk, 70), (b1.pk, 52)]
    assert {
        p.name: (p.points, p.max_points, p.detail) for p in brief_score_parts(project=rows[1])
    } == {
        "skills": (22, 60, "you have 1 of its 2 skills (rarer skills count more)"),
        "budget": (20, 20, "your day rate fits the budget"),
        "school": (0, 10, "open to every verified student"),
        "deadline": (10, 10, "no deadline"),
    }
    parts = {p.name: p.detail for p in brief_score_parts(project=rows[0])}
    assert parts["school"] == "meant for students of your school"
    assert parts["deadline"] == f"deadline {soon.isoformat()}, less than 7 days away"
    assert [s.slug for s in rows[0].matched] == ["sql"]


def test_a_student_without_skills_gets_every_open_brief_newest_first(plain):
    student = _student("blank", plain, [])
    older = ProjectFactory(created_at=timezone.now() - dt.timedelta(days=2))
    newer = ProjectFactory()
    assert [p.pk for p in recommended_briefs(student=student)] == [newer.pk, older.pk]


def test_the_daily_job_recounts_skills_and_track_records(skills):
    user = _student("x", None, ["python"])
    type(skills["python"]).objects.update(student_count=99)
    StudentProfile.objects.filter(user=user).update(completed_contracts=3)
    assert refresh_rankings_task() == {"skills": 5, "students_changed": 1}
    assert {s.slug: s.student_count for s in type(skills["python"]).objects.all()}["python"] == 1
    assert StudentProfile.objects.get(user=user).completed_contracts == 0
