"""Reviews of ended contracts, replies, and the public reputation of students and companies.

Rules in `projects.reviews.selectors` and `.services`: double-blind until both sides wrote or the
14-day window closed; private feedback leaves only through the staff list;
averages are strings with two decimals ("4.50") computed exactly with Decimal.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.mixins import ListApi, get_visible
from marketplace.errors import NotFound
from marketplace.models import Company, StudentProfile, User
from projects.contracts.selectors import contract_visible_to
from projects.reviews.models import Review
from projects.reviews.selectors import (
    Reputation,
    company_get,
    company_reputation,
    contract_review_state,
    review_get_visible,
    review_list_for_contract,
    review_list_for_staff,
    review_list_public_for_company,
    review_list_public_for_student,
    student_profile_visible_to,
    student_reputations,
)
from projects.reviews.services import review_reply_create, review_submit

RECENT_REVIEWS = 5


def _stars(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=5, help_text=help_text)


def _average() -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=3, decimal_places=2, allow_null=True, help_text='e.g. "4.50"; null without data'
    )


class PersonRef(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()


class ReplyOutput(serializers.Serializer):
    body = serializers.CharField()
    author = PersonRef()
    created_at = serializers.DateTimeField()


def _reply(review: Review) -> dict | None:
    reply = getattr(review, "reply", None)  # None when the reverse one-to-one is absent
    return ReplyOutput(reply).data if reply is not None else None  # type: ignore[return-value]


class ReviewOutput(serializers.Serializer):
    id = serializers.IntegerField()
    contract = serializers.IntegerField(source="contract_id")
    role = serializers.CharField(help_text="company_to_student or student_to_company")
    author = PersonRef()
    rating = serializers.IntegerField()
    quality = serializers.IntegerField()
    communication = serializers.IntegerField()
    deadlines = serializers.IntegerField()
    comment = serializers.CharField()
    created_at = serializers.DateTimeField()
    reply = serializers.SerializerMethodField()

    @extend_schema_field(ReplyOutput(allow_null=True))
    def get_reply(self, obj: Review) -> dict | None:
        return _reply(obj)


class PublicReviewOutput(serializers.Serializer):
    id = serializers.IntegerField()
    project_title = serializers.CharField(source="contract.project.title")
    reviewer = serializers.SerializerMethodField(help_text="the company's name, or the student's")
    rating = serializers.IntegerField()
    quality = serializers.IntegerField()
    communication = serializers.IntegerField()
    deadlines = serializers.IntegerField()
    comment = serializers.CharField()
    created_at = serializers.DateTimeField()
    reply = serializers.SerializerMethodField()

    def get_reviewer(self, obj: Review) -> str:
        if obj.role == Review.Role.COMPANY_TO_STUDENT:
            return obj.contract.company.name
        return obj.author.first_name or obj.author.display_name or "A student"

    @extend_schema_field(ReplyOutput(allow_null=True))
    def get_reply(self, obj: Review) -> dict | None:
        return _reply(obj)


class AdminReviewOutput(ReviewOutput):
    private_feedback = serializers.CharField()
    subject_user = serializers.IntegerField(source="subject_user_id", allow_null=True)
    subject_company = serializers.IntegerField(source="subject_company_id", allow_null=True)


class SubAveragesOutput(serializers.Serializer):
    quality = _average()
    communication = _average()
    deadlines = _average()


class ReputationOutput(serializers.Serializer):
    average_rating = _average()
    review_count = serializers.IntegerField(help_text="public reviews counted in the average")
    averages = SubAveragesOutput()
    completed_contracts = serializers.IntegerField()


class StudentReputationOutput(ReputationOutput):
    on_time_rate = serializers.DecimalField(
        max_digits=3,
        decimal_places=2,
        allow_null=True,
        help_text="share of approved milestones with a due date delivered by it, 0.00–1.00",
    )
    on_time_milestones = serializers.IntegerField()
    timed_milestones = serializers.IntegerField(help_text="approved milestones with a due date")


class ContractReviewsApi(ListApi):
    """The reviews of an ended contract: your side's, and the other side's once both sides
    wrote or the window closed (staff read both). POST writes your side's, once."""

    class InputSerializer(serializers.Serializer):
        rating = _stars("overall, 1–5")
        quality = _stars("1–5")
        communication = _stars("1–5")
        deadlines = _stars("1–5")
        comment = serializers.CharField(
            max_length=5_000, required=False, allow_blank=True, default=""
        )
        private_feedback = serializers.CharField(
            max_length=5_000,
            required=False,
            allow_blank=True,
            default="",
            help_text="read by the platform's staff only",
        )

    @extend_schema(responses=ReviewOutput(many=True))
    def get(self, request: Request, pk: int) -> Response:
        contract = get_visible(contract_visible_to(user=request.user), pk)
        state = contract_review_state(contract=contract, user=request.user)
        response = self.paginated(
            review_list_for_contract(contract=contract, user=request.user),  # type: ignore[arg-type]
            ReviewOutput,
        )
        response.data.update(
            {
                "window_opens_at": state.window.opens_at,
                "window_closes_at": state.window.closes_at,
                "can_review": state.can_review,
                "my_side_written": state.written,
                "other_side_written": state.other_side_written,
            }
        )
        return response

    @extend_schema(request=InputSerializer, responses={201: ReviewOutput})
    def post(self, request: Request, pk: int) -> Response:
        get_visible(contract_visible_to(user=request.user), pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review = review_submit(contract_id=pk, by=request.user, **data.validated_data)
        out = review_get_visible(review_id=review.pk, user=request.user)
        return Response(ReviewOutput(out).data, status=status.HTTP_201_CREATED)


class ReviewDetailApi(APIView):
    """One review, if you may read it (404 otherwise, hidden reviews included)."""

    @extend_schema(responses=ReviewOutput)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ReviewOutput(review_get_visible(review_id=pk, user=request.user)).data)


class ReviewReplyApi(APIView):
    """The reviewed party answers a review, once, publicly."""

    class InputSerializer(serializers.Serializer):
        body = serializers.CharField(max_length=5_000)

    @extend_schema(request=InputSerializer, responses={201: ReviewOutput})
    def post(self, request: Request, pk: int) -> Response:
        review_get_visible(review_id=pk, user=request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review_reply_create(review_id=pk, by=request.user, **data.validated_data)
        out = review_get_visible(review_id=pk, user=request.user)
        return Response(ReviewOutput(out).data, status=status.HTTP_201_CREATED)


def _reputation(rep: Reputation) -> dict:
    return {
        "average_rating": rep.average_rating,
        "review_count": rep.review_count,
        "averages": rep.averages,
        "completed_contracts": rep.completed_contracts,
        "on_time_rate": rep.on_time_rate,
        "on_time_milestones": rep.on_time_milestones,
        "timed_milestones": rep.timed_milestones,
    }


class StudentPublicProfileApi(APIView):
    """A student's public profile with their reputation and latest public reviews.

    Company members see verified students and those who worked for them; the
    student, their school's coordinators and staff see it too; others get 404.
    """

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        first_name = serializers.CharField()
        last_name = serializers.CharField()
        headline = serializers.CharField()
        bio = serializers.CharField()
        skills = serializers.ListField(child=serializers.CharField())
        availability = serializers.CharField()
        portfolio_links = serializers.ListField(child=serializers.URLField())
        reputation = StudentReputationOutput()
        recent_reviews = PublicReviewOutput(many=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        if not student_profile_visible_to(user=request.user, student_id=pk):
            raise NotFound("No such student.")
        student = User.objects.get(pk=pk)
        profile = StudentProfile.objects.prefetch_related("skills").filter(
            user_id=pk
        ).first() or StudentProfile(user=student)
        rep = student_reputations(student_ids=[pk])[pk]
        body = {
            "id": student.pk,
            "first_name": student.first_name,
            "last_name": student.last_name,
            "headline": profile.headline,
            "bio": profile.bio,
            "skills": sorted(s.slug for s in profile.skills.all()) if profile.pk else [],
            "availability": profile.availability,
            "portfolio_links": profile.portfolio_links,
            "reputation": _reputation(rep),
            "recent_reviews": review_list_public_for_student(student_id=pk)[:RECENT_REVIEWS],
        }
        return Response(self.OutputSerializer(body).data)


class StudentReviewsApi(ListApi):
    """A student's public reviews by companies, newest first (same visibility as the profile)."""

    @extend_schema(responses=PublicReviewOutput(many=True))
    def get(self, request: Request, pk: int) -> Response:
        if not student_profile_visible_to(user=request.user, student_id=pk):
            raise NotFound("No such student.")
        return self.paginated(review_list_public_for_student(student_id=pk), PublicReviewOutput)


class CompanyPageApi(APIView):
    """A company's page: its name, its reputation among students and its latest reviews."""

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()
        website = serializers.CharField()
        reputation = ReputationOutput()
        recent_reviews = PublicReviewOutput(many=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        company: Company = company_get(company_id=pk)
        body = {
            "id": company.pk,
            "name": company.name,
            "website": company.website,
            "reputation": _reputation(company_reputation(company_id=pk)),
            "recent_reviews": review_list_public_for_company(company_id=pk)[:RECENT_REVIEWS],
        }
        return Response(self.OutputSerializer(body).data)


class CompanyReviewsApi(ListApi):
    """A company's public reviews by students, newest first."""

    @extend_schema(responses=PublicReviewOutput(many=True))
    def get(self, request: Request, pk: int) -> Response:
        company_get(company_id=pk)
        return self.paginated(review_list_public_for_company(company_id=pk), PublicReviewOutput)


class AdminReviewListApi(ListApi):
    """Every review with its private feedback, newest first (staff)."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses=AdminReviewOutput(many=True))
    def get(self, request: Request) -> Response:
        return self.paginated(review_list_for_staff(), AdminReviewOutput)
