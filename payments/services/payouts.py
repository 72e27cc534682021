"""Payout accounts: a payee connects an account at the gateway before being paid.

Whether an account can be paid comes only from the gateway: Stripe's
`account.updated` event (https://docs.stripe.com/connect/webhooks) or a
re-fetch of the account (`payout_account_refresh`), never from the browser
coming back from onboarding: reaching the AccountLink's `return_url` does not
mean onboarding is complete (https://docs.stripe.com/api/account_links). On
the dummy gateway onboarding is instant.

As everywhere in this app (`payments.services.escrow`), gateway writes are made
with no transaction open: the account is created under its idempotency key
before its row is written, and money waiting for a payee who became ready is
released once the readiness committed, by `escrow_release_pending_for_payee`,
which announces it to the late-release listeners (the projects app tells the
student and completes finished contracts).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from marketplace.errors import TransientError
from payments.gateways import get_gateway
from payments.gateways.base import PaymentGateway
from payments.models import PayoutAccount
from payments.services.releases import escrow_release_pending_for_payee

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OnboardingLink:
    url: str
    account: PayoutAccount
    released_escrow_ids: list[int]


def payout_account_onboard(*, user: AbstractBaseUser, country: str = "FR") -> OnboardingLink:
    """Create the user's connected account if needed and return its onboarding URL.

    The account is created once (idempotency key `user-<id>-account`, metadata
    `{"user_id": "<id>"}` so Stripe's account names its user): the request is
    made with no transaction open and its answer stored afterwards, so two
    requests at once get the same account from Stripe and store one row. When
    the gateway says payouts are already enabled (the dummy gateway does at
    once), the account is marked ready and any approved, waiting money is
    released (`released_escrow_ids`, announced to the late-release listeners).
    """
    gateway = get_gateway()
    account = PayoutAccount.objects.filter(user=user).first()
    if account is None:
        status = gateway.create_account(
            email=user.email,
            country=country,
            idempotency_key=f"user-{user.pk}-account",
            metadata={"user_id": str(user.pk)},
        )
        with transaction.atomic():
            account, _ = PayoutAccount.objects.get_or_create(
                user=user,
                defaults={
                    "gateway": gateway.name,
                    "account_id": status.id,
                    "payouts_enabled": status.payouts_enabled,
                },
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


def payout_account_set_ready(
    *, account_id: str, payouts_enabled: bool, release_waiting: bool = True
) -> PayoutAccount | None:
    """Record the gateway's word on an account (Stripe's `account.updated`, or a re-fetch).

    When it becomes ready and `release_waiting`, the payee's waiting releases
    go out now, once the readiness committed (`escrow_release_pending_for_payee`:
    call this with no transaction open then); otherwise
    `escrow_retry_pending_releases` sends them on its next run. Returns None
    for an unknown account.
    """
    with transaction.atomic():
        account = PayoutAccount.objects.select_for_update().filter(account_id=account_id).first()
        if account is None:
            return None
        became_ready = payouts_enabled and not account.payouts_enabled
        account.payouts_enabled = payouts_enabled
        account.save(update_fields=["payouts_enabled", "updated_at"])
    if became_ready and release_waiting:
        escrow_release_pending_for_payee(user_id=account.user_id)
    return account


def _refresh(
    gateway: PaymentGateway, account: PayoutAccount, *, release_waiting: bool
) -> PayoutAccount:
    if account.gateway != gateway.name:
        return account  # made on another gateway, which this one cannot ask about
    status = gateway.retrieve_account(account_id=account.account_id)
    if status is None:
        logger.warning("payout_account.missing_at_gateway", extra={"account_id": account.pk})
        return account
    refreshed = payout_account_set_ready(
        account_id=account.account_id,
        payouts_enabled=status.payouts_enabled,
        release_waiting=release_waiting,
    )
    return refreshed or account


def payout_account_refresh(
    *, user: AbstractBaseUser, release_waiting: bool = True
) -> PayoutAccount | None:
    """Re-fetch the user's connected account and record whether it can be paid now.

    Reads the account (https://docs.stripe.com/api/accounts/retrieve; ready
    when payouts are enabled and the transfers capability is active) and hands
    the answer to `payout_account_set_ready`, so money waiting for this payee
    goes out when it just became ready (with `release_waiting`, which needs no
    transaction open: the webhook handler passes False and releases after
    its event's transaction). No request
    is made for an account created on another gateway; an account the gateway
    no longer has is left as it is. Returns the account, or None when the user
    has none. Raises TransientError when the gateway cannot answer now.
    """
    account = PayoutAccount.objects.filter(user=user).first()
    if account is None:
        return None
    return _refresh(get_gateway(), account, release_waiting=release_waiting)


def payout_accounts_refresh_not_ready(*, limit: int = 200) -> list[int]:
    """Re-fetch up to `limit` accounts of this gateway not ready yet; returns those now ready.

    For the periodic task, in case `account.updated` never reached us. The
    least recently updated are asked first. Readiness only is recorded here:
    the money waiting for them goes out with the next
    `escrow_retry_pending_releases` run (the scheduled retry, which announces
    it to the late-release listeners). An account
    the gateway cannot answer about now is skipped until the next run.
    """
    gateway = get_gateway()
    accounts = PayoutAccount.objects.filter(payouts_enabled=False, gateway=gateway.name).order_by(
        "updated_at", "pk"
    )[:limit]
    ready = []
    for account in accounts:
        try:
            refreshed = _refresh(gateway, account, release_waiting=False)
        except TransientError:
            logger.warning("payout_account.refresh_failed", extra={"account_id": account.pk})
            continue
        if refreshed.payouts_enabled:
            ready.append(refreshed.pk)
    return ready
