"""Signing in with a second factor in tests: a confirmed authenticator and its current code."""

from __future__ import annotations

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from marketplace.models import User


def authenticator(user: User) -> TOTPDevice:
    """`user`'s confirmed authenticator app (made if missing)."""
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, confirmed=True, defaults={"name": "Authenticator app"}
    )
    return device


def code_now(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The 6 digits the app shows now (or `steps_ahead` 30-second steps later)."""
    t0 = device.t0 - steps_ahead * device.step
    return f"{totp(device.bin_key, device.step, t0, device.digits, device.drift):06d}"


def login_with_second_factor(client: Client, user: User) -> TOTPDevice:
    """Sign `user` in on `client` as if password and authenticator code were both given."""
    device = authenticator(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device
