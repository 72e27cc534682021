"""Password change and reset by e-mail: thin edges over `marketplace.credentials`."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.auth import AuthRateThrottle
from marketplace.api.authentication import AMR_CLAIM
from marketplace.credentials import (
    password_change,
    password_reset_confirm,
    password_reset_request,
    token_pair_issue,
)


class TokenPairOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class DetailOutput(serializers.Serializer):
    detail = serializers.CharField(help_text="a sentence for a person")


class PasswordChangeApi(APIView):
    """`{old_password, new_password}` → `{access, refresh}`, a new pair for the caller.

    Every token and every other session issued before is refused from then on.
    400 naming `old_password` (wrong) or `new_password` (refused by the
    password validators); 429 after too many attempts.
    """

    throttle_classes = [AuthRateThrottle]
    throttle_scope = "auth"

    class InputSerializer(serializers.Serializer):
        old_password = serializers.CharField(max_length=128, trim_whitespace=False)
        new_password = serializers.CharField(max_length=128, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses=TokenPairOutput)
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = password_change(user=request.user, **data.validated_data)
        # Keep how the caller signed in (password, second factor) in the new pair.
        token = request.auth
        claims = {AMR_CLAIM: token[AMR_CLAIM]} if token and AMR_CLAIM in token else {}
        return Response(token_pair_issue(user=user, claims=claims))


class PasswordResetApi(APIView):
    """`{email}` → 202, the same answer whether an account has that e-mail or not.

    The account, if any, gets an e-mail with a single-use link to the web page
    that sets a new password. 429 after too many attempts.
    """

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = [AuthRateThrottle]
    throttle_scope = "auth"

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)

    @extend_schema(request=InputSerializer, responses={202: DetailOutput})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        password_reset_request(email=data.validated_data["email"])
        return Response(
            {
                "detail": _(
                    "If an account has this e-mail, a link to reset its password is on its way."
                )
            },
            status=status.HTTP_202_ACCEPTED,
        )


class PasswordResetConfirmApi(APIView):
    """`{uid, token, new_password}` (from the e-mailed link `…/reset/<uid>/<token>/`) → 200.

    Every token and session of the account ends; sign in again with the new
    password. 400 naming `token` (invalid, used or expired link) or
    `new_password`; 429 after too many attempts.
    """

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = [AuthRateThrottle]
    throttle_scope = "auth"

    class InputSerializer(serializers.Serializer):
        uid = serializers.CharField(max_length=64)
        token = serializers.CharField(max_length=128)
        new_password = serializers.CharField(max_length=128, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses=DetailOutput)
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        password_reset_confirm(**data.validated_data)
        return Response({"detail": _("Your password is changed. Sign in with it.")})
