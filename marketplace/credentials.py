"""Credentials of a user: API tokens (issue, refresh, log out, revoke) and passwords.

Refresh tokens are recorded by simplejwt's `token_blacklist` app: each one issued
is an `OutstandingToken` row, and a `BlacklistedToken` row beside it refuses it.
Every token carries a hash of the password (simplejwt's CHECK_REVOKE_TOKEN), so
a password change refuses all tokens issued before it.

Every change to a user's tokens or password first locks the user's row: one
lock per user serialises a refresh, a logout, a revocation and a password
change, so two of them never both use the same refresh token and never deadlock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch, get_md5_hash_password

from marketplace.errors import DomainError, ValidationFailed
from marketplace.models import OutboundEmail, User
from marketplace.notifications import email_queue

logger = logging.getLogger(__name__)

# The web page that sets a new password (frontend); the link's one rule is here.
RESET_LINK_PATH = "/accounts/reset/{uid}/{token}/"
# At most one reset e-mail per account in this many seconds, whoever asks: the
# link of the first one still works, and nobody can flood an inbox.
RESET_EMAIL_INTERVAL = 300
MAX_USER_ID = 2**63 - 1


class TokenRefused(DomainError):
    """A refresh token that may not be used: invalid, expired, revoked or of no active user.

    Maps to 401 (the API answers it with simplejwt's code `token_not_valid`).
    """

    status_code = 401
    code = "token_not_valid"


class _UncheckedRefreshToken(RefreshToken):
    """A refresh token whose blacklist is read by the callers below, under the user's lock."""

    def check_blacklist(self) -> None:
        return None


def _user_lock(*, user_id: Any) -> User | None:
    if not str(user_id).isdigit() or int(user_id) > MAX_USER_ID:
        return None
    return User.objects.select_for_update().filter(pk=int(user_id)).first()


def _refresh_decode(raw: str) -> _UncheckedRefreshToken:
    try:
        return _UncheckedRefreshToken(raw)  # type: ignore[arg-type]
    except TokenError as exc:
        raise TokenRefused(str(exc.args[0])) from exc


def _tokens_blacklist(*, user: User) -> int:
    pending = list(
        OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True).values_list(
            "pk", flat=True
        )
    )
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token_id=pk) for pk in pending], ignore_conflicts=True
    )
    return len(pending)


@transaction.atomic
def user_tokens_revoke(*, user: User) -> int:
    """Blacklist every refresh token of `user` that is not blacklisted yet.

    Returns how many tokens were newly blacklisted (0 on a second call:
    idempotent). Expired tokens are blacklisted too, which costs nothing and
    keeps the count honest. Access tokens cannot be listed (they are not
    stored): they die at the end of ACCESS_TOKEN_LIFETIME, or at once when the
    password changed (CHECK_REVOKE_TOKEN) or the user is inactive.
    """
    _user_lock(user_id=user.pk)
    return _tokens_blacklist(user=user)


def token_pair_issue(*, user: User, claims: Mapping[str, Any] | None = None) -> dict[str, str]:
    """A new `{access, refresh}` pair for `user`, the refresh token recorded as outstanding.

    `claims` are copied into both tokens (e.g. how the user signed in).
    """
    refresh = RefreshToken.for_user(user)
    for name, value in (claims or {}).items():
        refresh[name] = value
    if claims:
        # for_user recorded the token before the claims were added.
        OutstandingToken.objects.filter(jti=refresh[api_settings.JTI_CLAIM]).update(
            token=str(refresh)
        )
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def token_refresh(*, refresh: str) -> dict[str, str]:
    """`{access, refresh}` for a refresh token, which is blacklisted (rotation).

    Refuses (TokenRefused) a token that is malformed, forged, expired, not
    recorded as outstanding, of a user who is gone or inactive, issued before
    the password last changed (RFC 9700 §4.14.2 asks for refresh tokens to be
    revoked on a password change), or blacklisted. A blacklisted token whose
    password hash still matches was rotated or logged out already: presenting
    it again means a copy is in other hands, so every refresh token of the user
    is revoked (reuse detection, RFC 9700 §4.14.2 and the OWASP OAuth 2.0
    cheat sheet), and the user signs in again.
    """
    token = _refresh_decode(refresh)
    reused = False
    with transaction.atomic():
        user = _user_lock(user_id=token.get(api_settings.USER_ID_CLAIM))
        if user is None or not user.is_active:
            raise TokenRefused(_("No active account found for the given token."))
        if token.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
            raise TokenRefused(_("The password changed since this token was issued."))
        row = OutstandingToken.objects.filter(jti=token[api_settings.JTI_CLAIM]).first()
        if row is None:
            raise TokenRefused(_("Token is invalid."))
        if BlacklistedToken.objects.filter(token=row).exists():
            reused = True
            revoked = _tokens_blacklist(user=user)
        else:
            BlacklistedToken.objects.create(token=row)
            token.set_jti()
            token.set_exp()
            token.set_iat()
            OutstandingToken.objects.create(
                user=user,
                jti=token[api_settings.JTI_CLAIM],
                token=str(token),
                created_at=token.current_time,
                expires_at=datetime_from_epoch(token["exp"]),
            )
    if reused:  # raised after the commit: the revocation must stay
        logger.warning("auth.refresh_reused", extra={"user_id": user.pk, "revoked": revoked})
        raise TokenRefused(_("Token is blacklisted."))
    return {"access": str(token.access_token), "refresh": str(token)}


@transaction.atomic
def token_logout(*, refresh: str) -> None:
    """Blacklist one refresh token (log out); idempotent.

    Whoever holds a refresh token may end it (it is a bearer credential, RFC
    6750 §1.2): no access token is needed, so a leaked token can be killed.
    Raises TokenRefused for a malformed, forged or expired token.
    """
    token = _refresh_decode(refresh)
    _user_lock(user_id=token.get(api_settings.USER_ID_CLAIM))
    token.blacklist()


def _password_set(*, user: User, password: str) -> None:
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages), field="new_password") from exc
    user.set_password(password)
    user.save(update_fields=["password"])
    _tokens_blacklist(user=user)


@transaction.atomic
def password_change(*, user: User, old_password: str, new_password: str) -> User:
    """Change the password of a signed-in user; returns the user as saved.

    Every token issued before is refused from then on (their password hash no
    longer matches, and the refresh tokens are blacklisted), and Django ends
    every session signed in with the old password
    (https://docs.djangoproject.com/en/5.2/topics/auth/default/#session-invalidation-on-password-change):
    the caller keeps its own with `update_session_auth_hash` or a new token
    pair. Raises ValidationFailed naming `old_password` when it is wrong, and
    `new_password` when Django's validators (AUTH_PASSWORD_VALIDATORS) refuse it.
    """
    locked = _user_lock(user_id=user.pk)
    if locked is None or not old_password or not locked.check_password(old_password):
        raise ValidationFailed(_("The current password is not right."), field="old_password")
    _password_set(user=locked, password=new_password)
    return locked


def password_reset_link(*, user: User) -> str:
    """The absolute, single-use link that sets a new password for `user`.

    Django's password-reset token (`default_token_generator`): it dies once the
    password changes or the user signs in, and after PASSWORD_RESET_TIMEOUT
    seconds (https://docs.djangoproject.com/en/5.2/ref/settings/#password-reset-timeout).
    """
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return settings.SITE_URL + RESET_LINK_PATH.format(uid=uid, token=token)


def password_reset_user(*, uid: str, token: str) -> User | None:
    """The active user whose reset link has this `uid` and a valid `token`, else None."""
    try:
        user_id = urlsafe_base64_decode(uid).decode()
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    if not user_id.isdigit() or int(user_id) > MAX_USER_ID:
        return None
    user = User.objects.filter(pk=int(user_id), is_active=True).first()
    if user is None or not default_token_generator.check_token(user, token):
        return None
    return user


def password_reset_request(*, email: str) -> None:
    """Ask for a reset link for `email`; the same answer whether an account has it or not.

    The lookup and the e-mail happen in `password_reset_email_task` after
    commit, so the request takes the same time either way (no account
    enumeration, OWASP Forgot Password cheat sheet).
    """
    from marketplace.tasks import password_reset_email_task

    email = email.strip()
    transaction.on_commit(lambda: password_reset_email_task.delay(email=email))


def password_reset_email_send(*, email: str) -> OutboundEmail | None:
    """E-mail a reset link (template `password_reset`) to the active account of `email`.

    Nothing is sent without one. One e-mail per account per
    RESET_EMAIL_INTERVAL seconds: a repeated request returns the stored one.
    Returns the e-mail, or None.
    """
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None:
        return None
    window = int(time.time()) // RESET_EMAIL_INTERVAL
    return email_queue(
        key=f"password-reset:{user.pk}:{window}",
        to=user.email,
        template="password_reset",
        language=user.language,
        context={
            "user": user,
            "link": password_reset_link(user=user),
            "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
        },
    )


@transaction.atomic
def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Set a new password from a reset link; the link dies with it.

    Every token and session of the user ends as with `password_change`; no
    new token is issued (the user signs in, with their second factor if any).
    Raises ValidationFailed naming `token` for an invalid, used or expired
    link, and `new_password` for a password Django's validators refuse.
    """
    user = password_reset_user(uid=uid, token=token)
    # Locked, then checked again: two uses of one link at once, one wins.
    locked = _user_lock(user_id=user.pk) if user is not None else None
    if locked is None or password_reset_user(uid=uid, token=token) is None:
        raise ValidationFailed(
            _("This link is invalid or has expired: ask for a new one."), field="token"
        )
    _password_set(user=locked, password=new_password)
    return locked
