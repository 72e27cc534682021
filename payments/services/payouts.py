"""Payout accounts: a payee connects an account at the gateway before being paid."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from payments.gateways import get_gateway
from payments.models import PayoutAccount
from payments.services.escrow import escrow_release_pending_for_payee


@dataclass(frozen=True)
class OnboardingLink:
    url: str
    account: PayoutAccount
    released_escrow_ids: list[int]


def payout_account_onboard(*, user: AbstractBaseUser, country: str = "FR") -> OnboardingLink:
    """Create the user's connected account if needed and return its onboarding URL.

    The account is created once (idempotency key `user-<id>-account`). When the
    gateway says payouts are already enabled (the dummy gateway does at once),
    the account is marked ready and any approved, waiting money is released.
    """
    gateway = get_gateway()
    with transaction.atomic():
        account = PayoutAccount.objects.select_for_update().filter(user=user).first()
        if account is None:
            status = gateway.create_account(
                email=user.email, country=country, idempotency_key=f"user-{user.pk}-account"
            )
            account = PayoutAccount.objects.create(
                user=user,
                gateway=gateway.name,
                account_id=status.id,
                payouts_enabled=status.payouts_enabled,
            )
    url = gateway.create_account_link(
        account_id=account.account_id,
        refresh_url=f"{settings.SITE_URL}/payouts/refresh/",
        return_url=f"{settings.SITE_URL}/payouts/return/",
    )
    released = []
    if account.payouts_enabled:
        released = escrow_release_pending_for_payee(user_id=user.pk)
    return OnboardingLink(url=url, account=account, released_escrow_ids=released)


@transaction.atomic
def payout_account_set_ready(*, account_id: str, payouts_enabled: bool) -> PayoutAccount | None:
    """Record the gateway's word on an account (e.g. Stripe's `account.updated`).

    When it becomes ready, the payee's waiting releases go out. Returns None for
    an unknown account.
    """
    account = PayoutAccount.objects.select_for_update().filter(account_id=account_id).first()
    if account is None:
        return None
    became_ready = payouts_enabled and not account.payouts_enabled
    account.payouts_enabled = payouts_enabled
    account.save(update_fields=["payouts_enabled", "updated_at"])
    if became_ready:
        escrow_release_pending_for_payee(user_id=account.user_id)
    return account
