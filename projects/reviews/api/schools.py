"""A school's view of its students' work, and revocation with its consequences on bids.

These read contracts and the ledger, so they live with the projects app; the
school's own pages are in `schools.api`."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.mixins import ListApi, get_visible
from projects.contracts.selectors import school_students_report
from projects.reviews.school_students import school_students_csv, school_students_with_results
from schools.permissions import school_staff_check
from schools.selectors import school_list


class SchoolStudentOutput(serializers.Serializer):
    id = serializers.IntegerField(source="student_id")
    first_name = serializers.CharField(source="student.first_name")
    last_name = serializers.CharField(source="student.last_name")
    school_email = serializers.EmailField()
    program = serializers.CharField()
    graduation_date = serializers.DateField()
    verified_at = serializers.DateTimeField(source="decided_at", allow_null=True)
    completed_contracts = serializers.IntegerField()
    earned = serializers.DictField(
        child=serializers.IntegerField(),
        help_text='paid to the student per ISO currency, in minor units, e.g. {"EUR": 123000}',
    )
    average_rating = serializers.DecimalField(
        source="reputation.average_rating",
        max_digits=3,
        decimal_places=2,
        allow_null=True,
        help_text='companies\' public ratings, e.g. "4.50"; null without reviews',
    )
    review_count = serializers.IntegerField(source="reputation.review_count")
    on_time_rate = serializers.DecimalField(
        source="reputation.on_time_rate",
        max_digits=3,
        decimal_places=2,
        allow_null=True,
        help_text="share of approved milestones delivered by their due date, 0.00–1.00",
    )


class SchoolStudentsApi(ListApi):
    """The school's verified students: contracts completed, what they earned per currency,
    their average rating by companies and their on-time rate.

    The school's coordinators and staff only (another school's coordinator gets 404).
    """

    @extend_schema(responses=SchoolStudentOutput(many=True))
    def get(self, request: Request, pk: int) -> Response:
        get_visible(school_list(), pk)
        school_staff_check(user=request.user, school_id=pk)
        page = self.paginate_queryset(school_students_report(school_id=pk))
        rows = school_students_with_results(page)
        return self.get_paginated_response(SchoolStudentOutput(rows, many=True).data)


class SchoolStudentsExportApi(APIView):
    """The same list as CSV (UTF-8), every student at once; earnings as `1,230.00 EUR; ...`."""

    @extend_schema(
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="UTF-8 CSV")}
    )
    def get(self, request: Request, pk: int) -> StreamingHttpResponse:
        school = get_visible(school_list(), pk)
        school_staff_check(user=request.user, school_id=pk)
        response = StreamingHttpResponse(
            school_students_csv(school_id=pk), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="school-{school.pk}-students.csv"'
        return response
