"""Finding people and work: students for a brief, briefs for a student, the student list.

Each score comes with its parts (name, points, max_points, detail) so a page can
say why: "matched 4 of 5 skills". The formulas are in projects.briefs.matching.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from marketplace.api.mixins import ListApi, get_visible
from marketplace.errors import PermissionDenied
from marketplace.models import StudentProfile, User
from projects.briefs.api.serializers import ProjectOutput
from projects.briefs.filters import StudentFilter
from projects.briefs.matching import (
    brief_score_parts,
    match_candidates,
    recommended_briefs,
    schools_in_force,
    score_parts,
)
from projects.briefs.policies import brief_actions
from projects.briefs.selectors import project_list, student_list_for
from schools.models import School

TWO_PLACES = Decimal("0.01")


class ScorePartOutput(serializers.Serializer):
    name = serializers.CharField()
    points = serializers.IntegerField()
    max_points = serializers.IntegerField()
    detail = serializers.CharField()


class SchoolRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    country = serializers.CharField(help_text="ISO 3166 alpha-2")


class MatchStudentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    headline = serializers.CharField()
    school = serializers.CharField(allow_null=True)
    availability = serializers.CharField()
    day_rate_cents = serializers.IntegerField(allow_null=True, help_text="minor units")
    currency = serializers.CharField()


class ScoredOutput(serializers.Serializer):
    score = serializers.IntegerField(help_text="0–100, the sum of the parts")
    matched_skills = serializers.ListField(child=serializers.CharField())
    parts = ScorePartOutput(many=True)


class MatchOutput(ScoredOutput):
    student = MatchStudentOutput()


class ProjectMatchesApi(ListApi):
    """Verified, available students ranked for this brief, with the parts of each score."""

    @extend_schema(responses=MatchOutput(many=True))
    def get(self, request: Request, pk: int) -> Response:
        project = get_visible(project_list(user=request.user), pk)
        matches = brief_actions(project=project, user=request.user)["view_matches"]
        if not matches.allowed:
            raise PermissionDenied(str(matches.reason))
        page = self.paginate_queryset(match_candidates(project=project))
        schools = schools_in_force(student_ids=[p.user_id for p in page])
        rows = []
        for p in page:
            school = schools.get(p.user_id)
            rows.append(
                {
                    "student": {
                        "id": p.user_id,
                        "first_name": p.user.first_name,
                        "last_name": p.user.last_name,
                        "headline": p.headline,
                        "school": school.name if school else None,
                        "availability": p.availability,
                        "day_rate_cents": p.day_rate_cents,
                        "currency": p.currency,
                    },
                    "score": p.score,
                    "matched_skills": sorted(s.slug for s in p.matched),
                    "parts": [part.__dict__ for part in score_parts(profile=p, school=school)],
                }
            )
        return self.get_paginated_response(MatchOutput(rows, many=True).data)


class RecommendationOutput(ScoredOutput):
    brief = ProjectOutput()


class RecommendedBriefsApi(ListApi):
    """Open briefs for the signed-in student, best match first, with the parts of each score.

    Briefs the student already bid on are left out. Students only (403 otherwise).
    """

    @extend_schema(responses=RecommendationOutput(many=True))
    def get(self, request: Request) -> Response:
        if request.user.role != User.Role.STUDENT:
            raise PermissionDenied("Recommended briefs are for students.")
        page = self.paginate_queryset(recommended_briefs(student=request.user))
        rows = [
            {
                "brief": p,
                "score": p.score,
                "matched_skills": sorted(s.slug for s in p.matched),
                "parts": [part.__dict__ for part in brief_score_parts(project=p)],
            }
            for p in page
        ]
        data = RecommendationOutput(rows, many=True, context={"request": request}).data
        return self.get_paginated_response(data)


def _ratio(numerator: int, denominator: int) -> str | None:
    """numerator ÷ denominator with two decimals, as the API writes decimals ("4.33")."""
    if not denominator:
        return None
    return str((Decimal(numerator) / Decimal(denominator)).quantize(TWO_PLACES, ROUND_HALF_UP))


def _decimal(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=3, decimal_places=2, allow_null=True, help_text=help_text
    )


class StudentListOutput(serializers.Serializer):
    id = serializers.IntegerField(source="user_id")
    first_name = serializers.CharField(source="user.first_name")
    last_name = serializers.CharField(source="user.last_name")
    headline = serializers.CharField()
    skills = serializers.SerializerMethodField()
    day_rate_cents = serializers.IntegerField(allow_null=True, help_text="minor units")
    currency = serializers.CharField()
    availability = serializers.CharField()
    school = serializers.SerializerMethodField(help_text="the school verified today, if any")
    verified = serializers.SerializerMethodField()
    average_rating = serializers.SerializerMethodField()
    review_count = serializers.IntegerField()
    completed_contracts = serializers.IntegerField()
    on_time_rate = serializers.SerializerMethodField()

    def _school(self, obj: StudentProfile) -> School | None:
        return self.context["schools"].get(obj.user_id)

    def get_skills(self, obj: StudentProfile) -> list[str]:
        return sorted(s.slug for s in obj.skills.all())

    @extend_schema_field(SchoolRef(allow_null=True))
    def get_school(self, obj: StudentProfile) -> dict | None:
        school = self._school(obj)
        return SchoolRef(school).data if school else None

    def get_verified(self, obj: StudentProfile) -> bool:
        return self._school(obj) is not None

    @extend_schema_field(_decimal("average of public reviews, 1.00–5.00; null without any"))
    def get_average_rating(self, obj: StudentProfile) -> str | None:
        return _ratio(obj.rating_total, obj.review_count)

    @extend_schema_field(_decimal("share of dated milestones delivered on time, 0.00–1.00"))
    def get_on_time_rate(self, obj: StudentProfile) -> str | None:
        return _ratio(obj.on_time_milestones, obj.timed_milestones)


class StudentListApi(ListApi):
    """Students a company may hire, filtered and sorted (see projects.briefs.filters.StudentFilter).

    Company members see students verified today; staff see every active student.
    Students and coordinators get 403.
    """

    filter_backends = [DjangoFilterBackend]
    filterset_class = StudentFilter
    queryset = StudentProfile.objects.none()  # for the schema: the model the filters describe

    @extend_schema(responses=StudentListOutput(many=True))
    def get(self, request: Request) -> Response:
        qs = self.filter_queryset(student_list_for(user=request.user))
        page = self.paginate_queryset(qs)
        schools = schools_in_force(student_ids=[p.user_id for p in page])
        data = StudentListOutput(page, many=True, context={"schools": schools}).data
        return self.get_paginated_response(data)
