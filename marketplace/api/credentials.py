"""Refresh-token rotation and logout: thin edges over `marketplace.credentials`.

Both answer 401 with simplejwt's shape (`code: token_not_valid`, a
`WWW-Authenticate: Bearer` challenge, RFC 6750 §3) for a token they refuse.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import AUTH_HEADER_TYPES
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.serializers import TokenRefreshSerializer

from marketplace.credentials import TokenRefused, token_logout, token_refresh


class TokenRefreshInput(TokenRefreshSerializer):
    """`{refresh}` → `{access, refresh}`: the refresh token is rotated (used once).

    401 for a token that is invalid, expired, blacklisted (already rotated or
    logged out: reusing one revokes every refresh token of the user), issued
    before the last password change, or of a user who is gone or inactive.
    """

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        try:
            return token_refresh(refresh=attrs["refresh"])
        except TokenRefused as exc:
            raise InvalidToken(exc.message) from exc


class LogoutApi(APIView):
    """`{refresh}` → 205: that refresh token is blacklisted (idempotent).

    Public on purpose: the refresh token is the credential (a bearer token),
    so a client, or a user whose token leaked, ends it without an access
    token. The access tokens already issued live until they expire
    (ACCESS_TOKEN_LIFETIME, 15 minutes by default). 401 for an invalid or
    expired token.
    """

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    error_statuses = (401,)

    class InputSerializer(serializers.Serializer):
        refresh = serializers.CharField(max_length=4096)

    def get_authenticate_header(self, request: Request) -> str:
        return f'{AUTH_HEADER_TYPES[0]} realm="api"'

    @extend_schema(request=InputSerializer, responses={205: None})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            token_logout(refresh=data.validated_data["refresh"])
        except TokenRefused as exc:
            raise InvalidToken(exc.message) from exc
        return Response(status=status.HTTP_205_RESET_CONTENT)
