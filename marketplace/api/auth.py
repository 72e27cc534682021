"""Token routes (simplejwt), throttled against password guessing, with the second factor."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django_otp import user_has_device
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenObtainSerializer
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from marketplace.api.authentication import AMR_CLAIM, AMR_OTP, AMR_PASSWORD
from marketplace.api.credentials import TokenRefreshInput
from marketplace.two_factor import two_factor_check, two_factor_required, two_factor_wait


class AuthRateThrottle(ScopedRateThrottle):
    """AUTH_THROTTLE_RATE requests per client address (default 10/minute), read at each request."""

    scope = "auth"

    def get_rate(self) -> str:
        return settings.AUTH_THROTTLE_RATE


class TokenObtainInput(TokenObtainPairSerializer):
    """`{email, password, otp?}`: `otp` is the authenticator's 6-digit code or a recovery code.

    Errors: 401 `no_active_account` (wrong e-mail or password), 401 `otp_required`
    (the account has two-factor sign-in and no `otp` was sent), 401 `otp_invalid`
    (wrong, used or throttled code), 403 `two_factor_setup_required` (staff or a
    coordinator who has not set it up yet: done on the web, at /account/security/).
    """

    otp = serializers.CharField(required=False, allow_blank=True, max_length=64, write_only=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        TokenObtainSerializer.validate(self, attrs)  # the password: sets self.user, or 401
        methods = [AMR_PASSWORD]
        if user_has_device(self.user, confirmed=True):
            if not attrs.get("otp"):
                raise AuthenticationFailed(
                    "This account signs in with a second factor: send `otp`.", code="otp_required"
                )
            # A wait already running when the code came: the code was not even checked.
            wait = two_factor_wait(user=self.user, code=attrs["otp"])
            if two_factor_check(user=self.user, code=attrs["otp"]) is None:
                raise AuthenticationFailed(
                    f"Too many wrong codes: wait {wait} seconds, then send the current one."
                    if wait
                    else "The second factor is not right.",
                    code="otp_invalid",
                )
            methods.append(AMR_OTP)
        elif two_factor_required(self.user):
            raise PermissionDenied(
                "Set up two-factor sign-in on the web first (Account, Security).",
                code="two_factor_setup_required",
            )
        refresh = self.get_token(self.user)
        refresh[AMR_CLAIM] = methods
        return {"refresh": str(refresh), "access": str(refresh.access_token)}


class TokenObtainApi(TokenObtainPairView):
    """`{email, password, otp?}` → `{access, refresh}`; 429 after too many attempts.

    Accounts with two-factor sign-in send `otp` too (see `TokenObtainInput`).
    """

    serializer_class = TokenObtainInput
    throttle_classes = [AuthRateThrottle]
    throttle_scope = "auth"
    error_statuses = (401, 403)  # wrong credentials or second factor; 2FA not set up


class TokenRefreshApi(TokenRefreshView):
    """`{refresh}` → `{access, refresh}`: the refresh token is rotated (see `TokenRefreshInput`)."""

    serializer_class = TokenRefreshInput
    throttle_classes = [AuthRateThrottle]
    throttle_scope = "auth"
    error_statuses = (401,)  # an invalid or expired refresh token
