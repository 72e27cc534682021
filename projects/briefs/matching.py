"""Explainable matching: students ranked for a brief, briefs recommended to a student.

Both scores are whole numbers out of 100, the sum of parts that are each
returned with their points, their maximum and a sentence (in the request's
language), so a person can see why. Each part is one SQL annotation
(`p_<part>`) and the score their sum, so the ranking paginates and the parts
shown are the ones that ranked; all divisions are integer divisions (rounded
down).

Skills weigh by rarity, as inverse document frequency does in text search
(scikit-learn's smoothed idf: ln((1 + N) / (1 + n)) + 1, with N the student
profiles and n those listing the skill): a skill few students have counts more
than one everybody has. As integers: `weight = 100 + round(100 × ln((1 + N) /
(1 + n)))`, so a skill nobody else has weighs about 100 × (1 + ln N).

Students for a brief (`match_candidates`):

| part         | max | rule                                                              |
| ------------ | --- | ----------------------------------------------------------------- |
| skills       |  40 | 40 × weight of the required skills they have ÷ weight of all      |
| rating       |  15 | 15 × (average rating − 1) ÷ 4, public reviews only; none: 0       |
| experience   |  10 | 2 per completed contract, up to 5                                 |
| on_time      |  10 | 10 × share of dated milestones delivered on time; none: 0         |
| school       |   5 | verified at a partner school                                      |
| availability |  10 | available 10, busy 4                                              |
| day_rate     |  10 | day rate set, in the brief's currency, within its budget          |

Candidates: active students verified today (at one of the brief's schools when
it is restricted), not unavailable, with at least one of the brief's skills
(any verified student when the brief lists none).

Briefs for a student (`recommended_briefs`):

| part     | max | rule                                                                  |
| -------- | --- | --------------------------------------------------------------------- |
| skills   |  60 | 60 × weight of the brief's skills the student has ÷ weight of all     |
| budget   |  20 | the student's day rate is set, in the brief's currency, within budget |
| school   |  10 | the brief is restricted to a school where the student is verified     |
| deadline |  10 | no deadline, or at least `DEADLINE_ROOM_DAYS` days away               |

Candidates: open briefs the student may see and has not bid on, sharing at
least one skill with the student (all of them when the student lists none).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Cast, Coalesce, Least, Ln, Round
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext_lazy

from marketplace.models import Skill, StudentProfile, User
from projects.briefs.models import Bid, Project
from projects.briefs.selectors import project_visible_to
from schools.models import EnrolmentVerification, School
from schools.selectors import verified_school_ids_of

# Students for a brief.
SKILLS_MAX = 40
RATING_MAX = 15
EXPERIENCE_PER_CONTRACT = 2
EXPERIENCE_CAP = 5
ON_TIME_MAX = 10
PARTNER_SCHOOL_POINTS = 5
AVAILABILITY_POINTS = {
    StudentProfile.Availability.AVAILABLE: 10,
    StudentProfile.Availability.BUSY: 4,
}
DAY_RATE_POINTS = 10

# Briefs for a student.
BRIEF_SKILLS_MAX = 60
BRIEF_BUDGET_POINTS = 20
BRIEF_SCHOOL_POINTS = 10
BRIEF_DEADLINE_POINTS = 10
DEADLINE_ROOM_DAYS = 7

AVAILABILITY_WORDS = {
    StudentProfile.Availability.AVAILABLE: pgettext_lazy("student", "available"),
    StudentProfile.Availability.BUSY: pgettext_lazy("student", "busy"),
    StudentProfile.Availability.UNAVAILABLE: pgettext_lazy("student", "unavailable"),
}

# What a match row reads of the profile (see `match_candidates`).
RANKED_PROFILE_FIELDS = (
    "user_id",
    "headline",
    "availability",
    "currency",
    "day_rate_cents",
    "review_count",
    "rating_total",
    "completed_contracts",
    "timed_milestones",
    "on_time_milestones",
)

# Each part's maximum, in the order parts are shown.
STUDENT_MAXIMA = {
    "skills": SKILLS_MAX,
    "rating": RATING_MAX,
    "experience": EXPERIENCE_CAP * EXPERIENCE_PER_CONTRACT,
    "on_time": ON_TIME_MAX,
    "school": PARTNER_SCHOOL_POINTS,
    "availability": max(AVAILABILITY_POINTS.values()),
    "day_rate": DAY_RATE_POINTS,
}
BRIEF_MAXIMA = {
    "skills": BRIEF_SKILLS_MAX,
    "budget": BRIEF_BUDGET_POINTS,
    "school": BRIEF_SCHOOL_POINTS,
    "deadline": BRIEF_DEADLINE_POINTS,
}


@dataclass(frozen=True)
class ScorePart:
    name: str
    points: int
    max_points: int
    detail: str


def rarity_weight(student_count: F | CombinedExpression, total_students: int) -> Cast:
    """SQL for a skill's integer weight from how many of `total_students` list it (see above)."""
    ratio = Value(float(total_students + 1)) / (Cast(student_count, FloatField()) + Value(1.0))
    return Cast(Value(100) + Round(Ln(ratio) * Value(100.0)), IntegerField())


def _total_students() -> int:
    return StudentProfile.objects.count()


def _parts(row: object, maxima: dict[str, int], details: dict[str, str]) -> list[ScorePart]:
    """A ranked row's parts: its `p_<name>` annotations, their maxima and sentences."""
    return [
        ScorePart(name, getattr(row, f"p_{name}"), top, details[name])
        for name, top in maxima.items()
    ]


def _points(condition: Q, points: int) -> Case:
    return Case(When(condition, then=Value(points)), default=Value(0), output_field=IntegerField())


# --- students for a brief ---------------------------------------------------------------


def match_candidates(*, project: Project) -> QuerySet[StudentProfile]:
    """Candidate profiles for the brief, best first (ties: the older account), annotated
    with `score` and `p_<part>`.

    Also annotated: `matched_weight`, `required_count`, `required_weight`
    (integers) and, once fetched, `matched` (the required skills they have).
    `score_parts` turns a row into its sentences.
    """
    total = _total_students()
    required = dict(
        Skill.objects.filter(projects=project).values_list(
            "pk", rarity_weight(F("student_count"), total)
        )
    )
    required_weight = sum(required.values())
    verified = EnrolmentVerification.objects.in_force().filter(student=OuterRef("user_id"))
    if project.visibility == Project.Visibility.SCHOOLS:
        # Ids, not a subquery: PostgreSQL then estimates each school's size from its statistics.
        verified = verified.filter(school_id__in=[s.pk for s in project.allowed_schools.all()])
    # Narrow rows: the ranking aggregates tens of thousands of them (bench/README.md); the
    # page's users and skills are fetched afterwards for its rows only.
    qs = (
        StudentProfile.objects.filter(Exists(verified), user__is_active=True)
        .exclude(availability=StudentProfile.Availability.UNAVAILABLE)
        .only(*RANKED_PROFILE_FIELDS)
    )
    if required:
        # One correlated sum per candidate instead of a join and GROUP BY: rows stay narrow,
        # and count() drops the annotation, so counting costs what finding them does.
        weights = (
            StudentProfile.skills.through.objects.filter(
                studentprofile_id=OuterRef("pk"), skill_id__in=list(required)
            )
            .order_by()
            .values("studentprofile_id")
            .annotate(
                w=Sum(
                    Case(
                        *[When(skill_id=pk, then=Value(w)) for pk, w in required.items()],
                        output_field=IntegerField(),
                    )
                )
            )
            .values("w")
        )
        qs = qs.filter(
            Exists(
                StudentProfile.skills.through.objects.filter(
                    studentprofile_id=OuterRef("pk"), skill_id__in=list(required)
                )
            )
        ).annotate(
            matched_weight=Subquery(weights, output_field=IntegerField()),
            p_skills=F("matched_weight") * SKILLS_MAX / required_weight,
        )
    else:
        qs = qs.annotate(matched_weight=Value(0), p_skills=Value(0))
    qs = qs.annotate(
        required_count=Value(len(required)),
        required_weight=Value(required_weight),
        p_rating=Case(
            When(
                review_count__gt=0,
                then=(F("rating_total") - F("review_count")) * RATING_MAX / (F("review_count") * 4),
            ),
            default=Value(0),
            output_field=IntegerField(),
        ),
        p_experience=Least(F("completed_contracts"), Value(EXPERIENCE_CAP))
        * EXPERIENCE_PER_CONTRACT,
        p_on_time=Case(
            When(
                timed_milestones__gt=0,
                then=F("on_time_milestones") * ON_TIME_MAX / F("timed_milestones"),
            ),
            default=Value(0),
            output_field=IntegerField(),
        ),
        p_school=_points(Exists(verified.filter(school__is_partner=True)), PARTNER_SCHOOL_POINTS),
        p_availability=Case(
            *[When(availability=k, then=Value(v)) for k, v in AVAILABILITY_POINTS.items()],
            default=Value(0),
            output_field=IntegerField(),
        ),
        p_day_rate=_points(
            Q(
                day_rate_cents__isnull=False,
                currency=project.currency,
                day_rate_cents__lte=project.budget_cents,
            ),
            DAY_RATE_POINTS,
        ),
    ).annotate(score=sum((F(f"p_{name}") for name in list(STUDENT_MAXIMA)[1:]), F("p_skills")))
    return qs.prefetch_related(
        Prefetch("user", queryset=User.objects.only("id", "first_name", "last_name")),
        Prefetch("skills", queryset=Skill.objects.filter(pk__in=list(required)), to_attr="matched"),
    ).order_by("-score", "user_id")


def schools_in_force(*, student_ids: list[int]) -> dict[int, School]:
    """The school of each student's verification in force (the latest decided), one query."""
    rows = (
        EnrolmentVerification.objects.in_force()
        .filter(student_id__in=student_ids)
        .select_related("school")
        .order_by("student_id", "decided_at", "pk")
    )
    return {v.student_id: v.school for v in rows}


def score_parts(*, profile: StudentProfile, school: School | None) -> list[ScorePart]:
    """The parts of one row of `match_candidates`, each with its sentence."""
    p = profile
    n_req, n = p.required_count, len(p.matched)  # type: ignore[attr-defined]
    reviews = p.review_count
    average = (
        (Decimal(p.rating_total) / reviews).quantize(Decimal("0.01"), ROUND_HALF_UP)
        if reviews
        else None
    )
    details = {
        "skills": (
            ngettext(
                "matched %(n)d of %(total)d skill (rarer skills count more)",
                "matched %(n)d of %(total)d skills (rarer skills count more)",
                n_req,
            )
            % {"n": n, "total": n_req}
            if n_req
            else _("the brief lists no skills")
        ),
        "rating": (
            ngettext(
                "rated %(average)s of 5 in %(count)d review",
                "rated %(average)s of 5 in %(count)d reviews",
                reviews,
            )
            % {"average": average, "count": reviews}
            if reviews
            else _("no reviews yet")
        ),
        "experience": ngettext(
            "%(count)d completed contract", "%(count)d completed contracts", p.completed_contracts
        )
        % {"count": p.completed_contracts},
        "on_time": (
            ngettext(
                "%(n)d of %(total)d dated milestone delivered on time",
                "%(n)d of %(total)d dated milestones delivered on time",
                p.timed_milestones,
            )
            % {"n": p.on_time_milestones, "total": p.timed_milestones}
            if p.timed_milestones
            else _("no dated milestones yet")
        ),
        "school": (
            _("verified at %(school)s (partner school)")
            if p.p_school  # type: ignore[attr-defined]
            else _("verified at %(school)s")
        )
        % {"school": school.name if school else "?"},
        "availability": str(AVAILABILITY_WORDS[p.availability]),
        "day_rate": (
            _("day rate within the budget")
            if p.p_day_rate  # type: ignore[attr-defined]
            else _("no day rate in the brief's currency within the budget")
        ),
    }
    return _parts(p, STUDENT_MAXIMA, details)


# --- briefs for a student ---------------------------------------------------------------


def recommended_briefs(*, student: User) -> QuerySet[Project]:
    """Open briefs for the student, best first, annotated with `score` and `p_<part>`.

    Also annotated: `matched_count`, `skill_count` and, once fetched,
    `matched` (the brief's skills the student has). See `brief_score_parts`.
    """
    profile = StudentProfile.objects.filter(user=student).first()
    mine = list(profile.skills.values_list("pk", flat=True)) if profile else []
    school_ids = verified_school_ids_of(user=student)
    total = _total_students()
    weight = rarity_weight(F("skills__student_count"), total)
    qs = project_visible_to(user=student).filter(status=Project.Status.OPEN)
    qs = qs.exclude(pk__in=Bid.objects.filter(student=student).values("project_id"))
    if mine:
        qs = qs.filter(pk__in=Project.objects.filter(skills__in=mine).values("pk"))
    restricted_to_mine = Project.allowed_schools.through.objects.filter(
        project_id=OuterRef("pk"), school_id__in=school_ids
    )
    if profile and profile.day_rate_cents is not None:
        rate_fits = Q(budget_cents__gte=profile.day_rate_cents, currency=profile.currency)
        p_budget: Case | Value = _points(rate_fits, BRIEF_BUDGET_POINTS)
    else:
        p_budget = Value(0, output_field=IntegerField())
    room = timezone.localdate() + dt.timedelta(days=DEADLINE_ROOM_DAYS)
    qs = qs.annotate(
        skill_count=Count("skills"),
        matched_count=Count("skills", filter=Q(skills__in=mine)),
        brief_weight=Coalesce(Sum(weight), 0),
        matched_weight=Coalesce(Sum(weight, filter=Q(skills__in=mine)), 0),
    ).annotate(
        p_skills=Case(
            When(
                brief_weight__gt=0, then=F("matched_weight") * BRIEF_SKILLS_MAX / F("brief_weight")
            ),
            default=Value(0),
            output_field=IntegerField(),
        ),
        p_budget=p_budget,
        p_school=_points(
            Q(visibility=Project.Visibility.SCHOOLS) & Q(Exists(restricted_to_mine)),
            BRIEF_SCHOOL_POINTS,
        ),
        p_deadline=_points(Q(deadline__isnull=True) | Q(deadline__gte=room), BRIEF_DEADLINE_POINTS),
    )
    qs = qs.annotate(score=F("p_skills") + F("p_budget") + F("p_school") + F("p_deadline"))
    return (
        qs.select_related("company")
        .prefetch_related(
            Prefetch("skills", queryset=Skill.objects.filter(pk__in=mine), to_attr="matched"),
            "skills",
            "allowed_schools",
        )
        .order_by("-score", "-created_at", "-id")
    )


def brief_score_parts(*, project: Project) -> list[ScorePart]:
    """The parts of one row of `recommended_briefs`, each with its sentence."""
    p = project
    n, n_brief = p.matched_count, p.skill_count  # type: ignore[attr-defined]
    if p.deadline is None:
        deadline = _("no deadline")
    elif p.p_deadline:  # type: ignore[attr-defined]
        deadline = _("deadline %(date)s") % {"date": p.deadline.isoformat()}
    else:
        deadline = _("deadline %(date)s, less than %(days)d days away") % {
            "date": p.deadline.isoformat(),
            "days": DEADLINE_ROOM_DAYS,
        }
    details = {
        "skills": (
            ngettext(
                "you have %(n)d of its %(total)d skill (rarer skills count more)",
                "you have %(n)d of its %(total)d skills (rarer skills count more)",
                n_brief,
            )
            % {"n": n, "total": n_brief}
            if n_brief
            else _("the brief lists no skills")
        ),
        "budget": (
            _("your day rate fits the budget")
            if p.p_budget  # type: ignore[attr-defined]
            else _("no day rate of yours in its currency within the budget")
        ),
        "school": (
            _("meant for students of your school")
            if p.p_school  # type: ignore[attr-defined]
            else _("open to every verified student")
        ),
        "deadline": deadline,
    }
    return _parts(p, BRIEF_MAXIMA, details)
