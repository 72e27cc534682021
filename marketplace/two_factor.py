"""Two-factor sign-in: an authenticator app (TOTP) and single-use recovery codes.

Built on django-otp: `TOTPDevice` (RFC 6238, 30-second steps, 6 digits, one
step of tolerance, a code is refused once used: replay protection) and
`StaticDevice` holding the recovery codes. Both devices throttle guessing:
after each wrong code the next attempt waits 2^(failures-1) seconds
(`ThrottlingMixin`). Staff and school coordinators, who move money and vouch
for students, must sign in with a second factor when `TWO_FACTOR_REQUIRED` is
on (production refuses to start without it); companies and students may turn
it on.

WebAuthn passkeys are not offered: the django-otp plugin for them is still
before its 1.0 release and needs its own browser scripts.
"""

from __future__ import annotations

import math
import re

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.db import transaction
from django.utils import timezone
from django_otp import devices_for_user
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from marketplace.audit import audit_record
from marketplace.errors import PermissionDenied, StateConflict, ValidationFailed
from marketplace.models import User

RECOVERY_CODE_COUNT = 10
TOTP_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"
# A TOTP code is six digits; a recovery code is eight base32 characters (40 random bits).
_TOTP_CODE = re.compile(r"^\d{6}$")
_SPACES = re.compile(r"[\s-]+")


def two_factor_role(user: User) -> bool:
    """Whether `user`'s role calls for a second factor: staff and school coordinators."""
    if not user.is_authenticated:
        return False
    return bool(user.is_staff or user.role in (User.Role.COORDINATOR, User.Role.ADMIN))


def two_factor_required(user: User) -> bool:
    """Whether `user` must sign in with a second factor: `two_factor_role`, when
    `TWO_FACTOR_REQUIRED` is on (it is in production; the demo turns it off)."""
    return bool(settings.TWO_FACTOR_REQUIRED) and two_factor_role(user)


def two_factor_enabled(user: User) -> bool:
    """Whether `user` has a confirmed authenticator app."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(user: User) -> int:
    """How many unused recovery codes `user` holds."""
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def totp_device_start(*, user: User) -> TOTPDevice:
    """A new, unconfirmed authenticator for `user` (replacing any unconfirmed one).

    Its `config_url` is the `otpauth://` URI the set-up page shows as a QR code.
    Raises StateConflict when an authenticator is already confirmed (turn it
    off first, so a stolen session cannot silently swap the victim's app).
    """
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)
        if two_factor_enabled(user):
            raise StateConflict("Two-factor sign-in is already on.")
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)


def _recovery_codes_issue(user: User) -> list[str]:
    """Replace `user`'s recovery codes with `RECOVERY_CODE_COUNT` new ones; the codes."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def totp_device_confirm(*, user: User, device_id: int, code: str) -> list[str]:
    """Turn two-factor sign-in on with the first code from the app; returns the recovery codes.

    The codes are shown once and stored as django-otp stores them. Raises
    ValidationFailed (field `code`) for a wrong or throttled code or an unknown
    device, StateConflict when an authenticator is already confirmed.
    """
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)
        if two_factor_enabled(user):
            raise StateConflict("Two-factor sign-in is already on.")
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(pk=device_id, user=user, confirmed=False)
            .first()
        )
        if device is None:
            raise ValidationFailed("Start the set-up again.", field="code")
        if not device.verify_token(_clean(code)):
            raise ValidationFailed("This code is not right; try the current one.", field="code")
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        return _recovery_codes_issue(user)


def recovery_codes_regenerate(*, user: User, password: str) -> list[str]:
    """New recovery codes (the old ones stop working). Needs the password.

    Raises ValidationFailed (field `password`) for a wrong password and
    StateConflict when two-factor sign-in is off.
    """
    if not check_password(password, user.password):
        raise ValidationFailed("The password is not right.", field="password")
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)
        if not two_factor_enabled(user):
            raise StateConflict("Two-factor sign-in is off.")
        return _recovery_codes_issue(user)


def two_factor_disable(*, user: User, password: str) -> None:
    """Turn two-factor sign-in off (authenticator and recovery codes). Needs the password.

    Raises ValidationFailed (field `password`) for a wrong password and
    PermissionDenied when the account must keep it (`two_factor_required`).
    """
    if two_factor_required(user):
        raise PermissionDenied("Staff and coordinators must keep two-factor sign-in.")
    if not check_password(password, user.password):
        raise ValidationFailed("The password is not right.", field="password")
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()


def two_factor_reset(*, user_id: int, by: User, reason: str) -> User:
    """Staff remove a user's authenticator and recovery codes (a lost phone).

    The user sets two-factor sign-in up again at their next sign-in if they
    must have it. Written to the audit trail. Raises PermissionDenied for a
    caller who is not staff, ValidationFailed (field `reason`) without a reason.
    """
    if not by.is_staff:
        raise PermissionDenied("Only staff reset two-factor sign-in.")
    if not reason.strip():
        raise ValidationFailed("Say why (e.g. how the person proved who they are).", field="reason")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        removed = TOTPDevice.objects.filter(user=user).delete()[0]
        StaticDevice.objects.filter(user=user).delete()
        audit_record(
            actor=by,
            action="user.two_factor_reset",
            subject=user,
            detail={"authenticators_removed": removed},
            reason=reason.strip(),
        )
    return user


def _clean(code: str) -> str:
    return _SPACES.sub("", code or "").lower()[:32]


def two_factor_wait(*, user: User, code: str) -> int:
    """Seconds before the device that `code` is aimed at (see `two_factor_check`) takes a
    code again after wrong ones; 0 when it takes one now. Read-only: ask it before
    `two_factor_check`, whose own failure starts a new wait."""
    model = TOTPDevice if _TOTP_CODE.match(_clean(code)) else StaticDevice
    now = timezone.now()
    wait = 0
    for device in model.objects.filter(user=user, confirmed=True):
        allowed, data = device.verify_is_allowed()
        if not allowed and data and data.get("locked_until"):
            wait = max(wait, math.ceil((data["locked_until"] - now).total_seconds()))
    return wait


def two_factor_check(*, user: User, code: str) -> Device | None:
    """The device of `user` that accepts `code` (and uses it up), or None.

    Six digits are checked against the authenticator; anything else against
    the recovery codes, so a wrong guess only slows down the device it was
    aimed at. A recovery code works once. Every wrong code throttles that
    device (django-otp's ThrottlingMixin): a throttled device refuses even the
    right code until its wait is over.
    """
    code = _clean(code)
    if not code:
        return None
    model = TOTPDevice if _TOTP_CODE.match(code) else StaticDevice
    with transaction.atomic():
        for device in devices_for_user(user, confirmed=True, for_verify=True):
            if isinstance(device, model) and device.verify_token(code):
                return device
    return None
