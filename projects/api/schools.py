"""A school's view of its students' work, and revocation with its consequences on bids.

These read contracts and the ledger, so they live with the projects app; the
school's own pages are in `schools.api`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.mixins import ListApi, get_visible
from marketplace.money import Money
from projects.lifecycle import verification_revoke_and_withdraw_bids
from projects.reviews import student_reputations
from projects.selectors import school_students_report, student_earnings
from schools.api.views import ReasonInput, VerificationOutput
from schools.models import EnrolmentVerification
from schools.permissions import school_staff_check
from schools.selectors import school_list, verification_list_for


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


def _rows(verifications: list[EnrolmentVerification]) -> list[EnrolmentVerification]:
    ids = [v.student_id for v in verifications]
    earnings = student_earnings(student_ids=ids)
    reputations = student_reputations(student_ids=ids)
    for verification in verifications:
        verification.earned = earnings.get(verification.student_id, {})  # type: ignore[attr-defined]
        verification.reputation = reputations[verification.student_id]  # type: ignore[attr-defined]
    return verifications


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
        return self.get_paginated_response(SchoolStudentOutput(_rows(page), many=True).data)


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """Text a spreadsheet will show, not run: a cell starting like a formula gets a `'` first.

    Source: OWASP, "CSV Injection".
    """
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


class Echo:
    """A file-like object whose write returns the line, for streaming CSV."""

    def write(self, value: str) -> str:
        return value


CSV_HEADER = [
    "student_id",
    "first_name",
    "last_name",
    "school_email",
    "program",
    "graduation_date",
    "verified_at",
    "completed_contracts",
    "earned",
    "average_rating",
    "on_time_rate",
]


def _blank_if_none(value: object) -> object:
    return "" if value is None else value


class SchoolStudentsExportApi(APIView):
    """The same list as CSV (UTF-8), every student at once; earnings as `1,230.00 EUR; ...`."""

    @extend_schema(
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="UTF-8 CSV")}
    )
    def get(self, request: Request, pk: int) -> StreamingHttpResponse:
        school = get_visible(school_list(), pk)
        school_staff_check(user=request.user, school_id=pk)
        rows = _rows(list(school_students_report(school_id=pk)))

        def lines() -> Iterator[str]:
            writer = csv.writer(Echo())
            yield writer.writerow(CSV_HEADER)
            for v in rows:
                earned = "; ".join(
                    Money(cents, currency).format()
                    for currency, cents in sorted(v.earned.items())  # type: ignore[attr-defined]
                )
                yield writer.writerow(
                    [
                        v.student_id,
                        csv_safe(v.student.first_name),
                        csv_safe(v.student.last_name),
                        csv_safe(v.school_email),
                        csv_safe(v.program),
                        v.graduation_date.isoformat(),
                        v.decided_at.isoformat() if v.decided_at else "",
                        v.completed_contracts,  # type: ignore[attr-defined]
                        earned,
                        _blank_if_none(v.reputation.average_rating),  # type: ignore[attr-defined]
                        _blank_if_none(v.reputation.on_time_rate),  # type: ignore[attr-defined]
                    ]
                )

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="school-{school.pk}-students.csv"'
        return response


class VerificationRevokeApi(APIView):
    """The coordinator withdraws a verification in force, with a reason; the student's open
    bids are withdrawn with it (finished work and payouts stay)."""

    @extend_schema(request=ReasonInput, responses=VerificationOutput)
    def post(self, request: Request, pk: int) -> Response:
        get_visible(verification_list_for(user=request.user), pk)
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        verification = verification_revoke_and_withdraw_bids(
            verification_id=pk, by=request.user, **data.validated_data
        )
        return Response(VerificationOutput(verification).data)
