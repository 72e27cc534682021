"""How API requests are authenticated: simplejwt bearer tokens, with the second factor.

Kept apart from the token views: DRF reads DEFAULT_AUTHENTICATION_CLASSES while
defining any view class, so this module must not import one.
"""

from __future__ import annotations

from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.tokens import Token

from marketplace.models import User
from marketplace.two_factor import two_factor_required

# RFC 8176 authentication method references, carried by every token in the `amr` claim.
AMR_CLAIM = "amr"
AMR_PASSWORD = "pwd"
AMR_OTP = "otp"


class JWTAuthentication(authentication.JWTAuthentication):
    """simplejwt's bearer tokens, refusing a token without a second factor (`amr` lacks
    `otp`) for an account that must have one (`two_factor_required`): 401 with code
    `two_factor_required`."""

    def get_user(self, validated_token: Token) -> User:
        user = super().get_user(validated_token)
        if two_factor_required(user) and AMR_OTP not in validated_token.get(AMR_CLAIM, []):
            raise AuthenticationFailed(
                "This account signs in with a second factor: get a new token with `otp`.",
                code="two_factor_required",
            )
        return user
