"""Token routes (simplejwt), throttled against password guessing."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView


class AuthRateThrottle(ScopedRateThrottle):
    """AUTH_THROTTLE_RATE requests per client address (default 10/minute), read at each request."""

    scope = "auth"

    def get_rate(self) -> str:
        return settings.AUTH_THROTTLE_RATE


class TokenObtainApi(TokenObtainPairView):
    """`{email, password}` → `{access, refresh}`; 429 after too many attempts."""

    throttle_classes = [AuthRateThrottle]
    throttle_scope = "auth"
    error_statuses = (401,)  # a wrong e-mail or password, declared in the schema


class TokenRefreshApi(TokenRefreshView):
    """`{refresh}` → `{access}`."""

    throttle_classes = [AuthRateThrottle]
    throttle_scope = "auth"
    error_statuses = (401,)  # an invalid or expired refresh token
