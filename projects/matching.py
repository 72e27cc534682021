"""Explainable matching of students to a brief.

The score is an integer out of 100, the sum of five parts, each returned with
its points, its maximum and a sentence, so a person can see why:

| part          | max | rule                                                        |
| ------------- | --- | ----------------------------------------------------------- |
| skills        |  60 | 60 × required skills the student has ÷ skills required     |
| experience    |  15 | 3 per completed contract, up to 5                           |
| availability  |  10 | available 10, busy 4 (unavailable students are not listed)  |
| school        |   5 | verified at a partner school                                |
| day rate      |  10 | day rate set, in the brief's currency, and within its budget |

Only students verified today (and, for a school-restricted brief, at one of its
schools) are candidates. The whole score is computed in SQL so the ranking
paginates; the parts are rebuilt from the same annotations.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from marketplace.models import Skill, StudentProfile
from projects.models import Contract, Project
from schools.models import EnrolmentVerification

SKILLS_MAX = 60
EXPERIENCE_PER_CONTRACT = 3
EXPERIENCE_CAP = 5
AVAILABILITY_POINTS = {
    StudentProfile.Availability.AVAILABLE: 10,
    StudentProfile.Availability.BUSY: 4,
}
PARTNER_SCHOOL_POINTS = 5
DAY_RATE_POINTS = 10


@dataclass(frozen=True)
class ScorePart:
    name: str
    points: int
    max_points: int
    detail: str


def match_candidates(*, project: Project) -> QuerySet[StudentProfile]:
    """Candidate profiles annotated with `score` and its inputs, best first."""
    required_ids = list(project.skills.values_list("pk", flat=True))
    verified = EnrolmentVerification.objects.filter(
        student=OuterRef("user_id"),
        status=EnrolmentVerification.Status.VERIFIED,
        graduation_date__gte=timezone.localdate(),
    )
    if project.visibility == Project.Visibility.SCHOOLS:
        verified = verified.filter(school__in=project.allowed_schools.all())
    completed = (
        Contract.objects.filter(student=OuterRef("user_id"), status=Contract.Status.COMPLETED)
        .order_by()
        .values("student")
        .annotate(n=Count("pk"))
        .values("n")
    )
    n_required = len(required_ids)
    skills_points = (
        Count("skills", filter=Q(skills__in=required_ids), distinct=True) * SKILLS_MAX / n_required
        if n_required
        else Value(0)
    )
    return (
        StudentProfile.objects.filter(Exists(verified))
        .exclude(availability=StudentProfile.Availability.UNAVAILABLE)
        .exclude(user__is_active=False)
        .annotate(
            matched_count=Count("skills", filter=Q(skills__in=required_ids), distinct=True),
            completed_contracts=Coalesce(Subquery(completed, output_field=IntegerField()), 0),
            school_name=Subquery(verified.order_by("-decided_at").values("school__name")[:1]),
            partner_school=Exists(verified.filter(school__is_partner=True)),
            rate_fits=Case(
                When(
                    day_rate_cents__isnull=False,
                    currency=project.currency,
                    day_rate_cents__lte=project.budget_cents,
                    then=Value(True),
                ),
                default=Value(False),
                output_field=BooleanField(),
            ),
        )
        .annotate(
            score=(
                skills_points
                + Least("completed_contracts", Value(EXPERIENCE_CAP)) * EXPERIENCE_PER_CONTRACT
                + Case(
                    *[When(availability=k, then=Value(v)) for k, v in AVAILABILITY_POINTS.items()],
                    default=Value(0),
                    output_field=IntegerField(),
                )
                + Case(
                    When(partner_school=True, then=Value(PARTNER_SCHOOL_POINTS)), default=Value(0)
                )
                + Case(When(rate_fits=True, then=Value(DAY_RATE_POINTS)), default=Value(0))
            )
        )
        .select_related("user")
        .prefetch_related(
            Prefetch(
                "skills", queryset=Skill.objects.filter(pk__in=required_ids), to_attr="matched"
            )
        )
        .order_by("-score", "-matched_count", "user_id")
    )


def score_parts(*, profile: StudentProfile, project: Project, n_required: int) -> list[ScorePart]:
    """The parts of one annotated candidate's score, with a sentence each."""
    matched = profile.matched_count  # type: ignore[attr-defined]
    completed = profile.completed_contracts  # type: ignore[attr-defined]
    availability_points = AVAILABILITY_POINTS.get(profile.availability, 0)
    return [
        ScorePart(
            "skills",
            (matched * SKILLS_MAX // n_required) if n_required else 0,
            SKILLS_MAX,
            f"matched {matched} of {n_required} skills"
            if n_required
            else "the brief lists no skills",
        ),
        ScorePart(
            "experience",
            min(completed, EXPERIENCE_CAP) * EXPERIENCE_PER_CONTRACT,
            EXPERIENCE_CAP * EXPERIENCE_PER_CONTRACT,
            f"{completed} completed contract{'s' if completed != 1 else ''}",
        ),
        ScorePart(
            "availability",
            availability_points,
            max(AVAILABILITY_POINTS.values()),
            profile.get_availability_display().lower(),
        ),
        ScorePart(
            "school",
            PARTNER_SCHOOL_POINTS if profile.partner_school else 0,  # type: ignore[attr-defined]
            PARTNER_SCHOOL_POINTS,
            f"verified at {profile.school_name}"  # type: ignore[attr-defined]
            + (" (partner school)" if profile.partner_school else ""),  # type: ignore[attr-defined]
        ),
        ScorePart(
            "day_rate",
            DAY_RATE_POINTS if profile.rate_fits else 0,  # type: ignore[attr-defined]
            DAY_RATE_POINTS,
            "day rate within the budget"
            if profile.rate_fits  # type: ignore[attr-defined]
            else "no day rate in the brief's currency within the budget",
        ),
    ]
