"""A school's view of its students' work, and revocation with its consequences on bids.

These read contracts and the ledger, so they live with the projects app; the
school's own pages are in `schools.api`."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.mixins import get_visible
from projects.briefs.lifecycle import verification_revoke_and_withdraw_bids
from schools.api.views import ReasonInput, VerificationOutput
from schools.selectors import verification_list_for


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
