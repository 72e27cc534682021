"""Briefs, bids, contracts, milestones and their money, one view per use case.

Every view first finds the object through a selector scoped to the caller (404
when it is not theirs to see), then calls one service, which checks the role
(403) and the state (409)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.mixins import ListApi, get_visible
from marketplace.errors import PermissionDenied
from marketplace.models import User
from projects.briefs.selectors import bid_visible_to
from projects.contracts.api.serializers import (
    ContractOutput,
    DisputeOutput,
    LedgerEntryOutput,
    MilestoneOutput,
)
from projects.contracts.disputes import dispute_resolve, milestone_dispute
from projects.contracts.selectors import (
    contract_ledger_entries,
    contract_list,
    contract_visible_to,
    dispute_list_open,
    milestone_visible_to,
)
from projects.contracts.services import (
    MilestoneSpec,
    bid_accept,
    contract_cancel,
    milestone_approve,
    milestone_fund,
    milestone_request_changes,
    milestone_submit,
    student_payouts_onboard,
)


def _contract_out(request: Request, pk: int) -> dict:
    contract = get_visible(contract_list(user=request.user), pk)
    return ContractOutput(contract, context={"request": request}).data  # type: ignore[return-value]


class MilestoneSpecInput(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    amount_cents = serializers.IntegerField(min_value=1, max_value=10**12)
    due_date = serializers.DateField(required=False, allow_null=True)


class BidAcceptApi(APIView):
    """Accept a bid: 201 with the new contract and its milestones (each awaiting funding)."""

    class InputSerializer(serializers.Serializer):
        milestones = MilestoneSpecInput(many=True, required=False, allow_empty=False, max_length=50)

    @extend_schema(request=InputSerializer, responses={201: ContractOutput})
    def post(self, request: Request, pk: int) -> Response:
        get_visible(bid_visible_to(user=request.user), pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        specs = [MilestoneSpec(**m) for m in data.validated_data.get("milestones") or []]
        contract = bid_accept(bid_id=pk, by=request.user, milestones=specs or None)
        return Response(_contract_out(request, contract.pk), status=status.HTTP_201_CREATED)


class ContractListApi(ListApi):
    """The caller's contracts (their company's, or their own as a student) with milestones."""

    @extend_schema(responses=ContractOutput(many=True))
    def get(self, request: Request) -> Response:
        return self.paginated(contract_list(user=request.user), ContractOutput)


class ContractDetailApi(APIView):
    @extend_schema(responses=ContractOutput)
    def get(self, request: Request, pk: int) -> Response:
        return Response(_contract_out(request, pk))


class ContractLedgerApi(ListApi):
    """Every ledger entry of the contract, oldest first; the entries sum to zero."""

    @extend_schema(responses=LedgerEntryOutput(many=True))
    def get(self, request: Request, pk: int) -> Response:
        contract = get_visible(contract_visible_to(user=request.user), pk)
        return self.paginated(contract_ledger_entries(contract=contract), LedgerEntryOutput)


class ContractCancelApi(APIView):
    """The company cancels the contract before any delivery: every funded milestone is refunded.

    Answers the contract, now `cancelled`; 409 once a milestone was delivered
    or paid out, or while a dispute is open.
    """

    error_statuses = (503,)

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=10_000)

    @extend_schema(request=InputSerializer, responses=ContractOutput)
    def post(self, request: Request, pk: int) -> Response:
        get_visible(contract_visible_to(user=request.user), pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contract_cancel(contract_id=pk, by=request.user, **data.validated_data)
        return Response(_contract_out(request, pk))


def _milestone_out(request: Request, pk: int) -> dict:
    milestone = get_visible(milestone_visible_to(user=request.user), pk)
    return MilestoneOutput(milestone, context={"request": request}).data  # type: ignore[return-value]


class MilestoneFundApi(APIView):
    """The company pays amount + fee into escrow.

    With `payment_method` (e.g. `pm_card_visa`) the payment is confirmed at once;
    without one the answer carries the `client_secret` for Stripe.js.
    """

    error_statuses = (402, 503)

    class InputSerializer(serializers.Serializer):
        payment_method = serializers.CharField(max_length=255, required=False, allow_blank=False)

    class OutputSerializer(serializers.Serializer):
        status = serializers.CharField(help_text="Stripe PaymentIntent status, e.g. succeeded")
        client_secret = serializers.CharField(required=False)
        amount_cents = serializers.IntegerField(help_text="charged: milestone amount + fee")
        fee_cents = serializers.IntegerField()
        currency = serializers.CharField()
        milestone = MilestoneOutput()

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        get_visible(milestone_visible_to(user=request.user), pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = milestone_fund(milestone_id=pk, by=request.user, **data.validated_data)
        body = {
            "status": result.status,
            "amount_cents": result.amount_cents,
            "fee_cents": result.fee_cents,
            "currency": result.escrow.currency,
            "milestone": _milestone_out(request, pk),
        }
        if result.status != "succeeded":
            body["client_secret"] = result.client_secret
        return Response(body)


class MilestoneSubmitApi(APIView):
    """The student delivers: a note and an optional link."""

    class InputSerializer(serializers.Serializer):
        note = serializers.CharField(
            max_length=10_000, required=False, allow_blank=True, default=""
        )
        url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses=MilestoneOutput)
    def post(self, request: Request, pk: int) -> Response:
        get_visible(milestone_visible_to(user=request.user), pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        milestone_submit(milestone_id=pk, by=request.user, **data.validated_data)
        return Response(_milestone_out(request, pk))


class MilestoneApproveApi(APIView):
    """The company accepts the delivery; the money is released to the student."""

    error_statuses = (503,)

    @extend_schema(request=None, responses=MilestoneOutput)
    def post(self, request: Request, pk: int) -> Response:
        get_visible(milestone_visible_to(user=request.user), pk)
        milestone_approve(milestone_id=pk, by=request.user)
        return Response(_milestone_out(request, pk))


class MilestoneRequestChangesApi(APIView):
    """The company sends the delivery back with what to change."""

    class InputSerializer(serializers.Serializer):
        note = serializers.CharField(
            max_length=10_000, required=False, allow_blank=True, default=""
        )

    @extend_schema(request=InputSerializer, responses=MilestoneOutput)
    def post(self, request: Request, pk: int) -> Response:
        get_visible(milestone_visible_to(user=request.user), pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        milestone_request_changes(milestone_id=pk, by=request.user, **data.validated_data)
        return Response(_milestone_out(request, pk))


class PayoutOnboardApi(APIView):
    """The student connects a payout account; answers the onboarding `url` to open."""

    error_statuses = (503,)

    class InputSerializer(serializers.Serializer):
        country = serializers.RegexField(r"^[A-Z]{2}$", required=False, default="FR")

    class OutputSerializer(serializers.Serializer):
        url = serializers.URLField()
        payouts_enabled = serializers.BooleanField()

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request: Request) -> Response:
        if request.user.role != User.Role.STUDENT:
            raise PermissionDenied("Only students receive payouts.")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        link = student_payouts_onboard(user=request.user, **data.validated_data)
        return Response({"url": link.url, "payouts_enabled": link.account.payouts_enabled})


class MilestoneDisputeApi(APIView):
    """Either party disputes a milestone whose money is held; it is frozen until staff settle."""

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=10_000)

    @extend_schema(request=InputSerializer, responses={201: DisputeOutput})
    def post(self, request: Request, pk: int) -> Response:
        get_visible(milestone_visible_to(user=request.user), pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dispute = milestone_dispute(milestone_id=pk, by=request.user, **data.validated_data)
        return Response(DisputeOutput(dispute).data, status=status.HTTP_201_CREATED)


class AdminDisputeListApi(ListApi):
    """Open disputes, oldest first (staff)."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses=DisputeOutput(many=True))
    def get(self, request: Request) -> Response:
        return self.paginated(dispute_list_open(), DisputeOutput)


class AdminDisputeResolveApi(APIView):
    """Staff split what is held: `release_cents` to the student's side, `refund_cents` back.

    The two add up to the milestone's charge (amount + company fee); the note is
    shown to both parties.
    """

    permission_classes = [IsAdminUser]
    error_statuses = (503,)

    class InputSerializer(serializers.Serializer):
        release_cents = serializers.IntegerField(min_value=0, max_value=10**12)
        refund_cents = serializers.IntegerField(min_value=0, max_value=10**12)
        note = serializers.CharField(max_length=10_000)

    @extend_schema(request=InputSerializer, responses=DisputeOutput)
    def post(self, request: Request, pk: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dispute = dispute_resolve(dispute_id=pk, by=request.user, **data.validated_data)
        return Response(DisputeOutput(dispute).data)
