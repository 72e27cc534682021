"""Money: escrows, their transitions, the double-entry ledger and payout accounts.

Nothing here knows about briefs or milestones: an escrow carries an opaque
`reference` (such as `milestone:42`) and the app that owns the work points to
its escrow.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from marketplace.models import StatusEvent
from marketplace.money import CURRENCY_CHOICES


class PayoutAccount(models.Model):
    """A payee's connected account at the gateway (Stripe Connect Express, or dummy).

    Money may be transferred only when `payouts_enabled` (set from the gateway's
    account status, never from the browser's return).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payout_account"
    )
    gateway = models.CharField(max_length=16)
    account_id = models.CharField(max_length=255, unique=True)
    payouts_enabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.account_id} ({'ready' if self.payouts_enabled else 'onboarding'})"


class EscrowQuerySet(models.QuerySet["Escrow"]):
    def held(self) -> EscrowQuerySet:
        """Escrows whose money is held: funded, approved but not paid yet, or frozen (HELD)."""
        return self.filter(status__in=Escrow.HELD)


class Escrow(models.Model):
    """Money held for one piece of work between a paying company and a payee.

    Amounts are integer minor units of `currency`. The company is charged
    `amount_cents + company_fee_cents`; on release the payee receives
    `amount_cents - student_commission_cents` and the platform keeps both fees.
    States (`payments.states.ESCROW_STATES`): awaiting_funding → funded →
    release_pending → released, or funded → refund_pending → refunded, or
    funded/release_pending → frozen (a dispute) → released (split) or refunded.
    `release_pending` means the work was approved but the transfer is not
    confirmed yet: it is being sent, the payee's payout account is not ready,
    or the gateway failed and the transfer will be retried (`last_error`).
    `refund_pending` is the same for a refund. `funding_started_at` is set
    while a funding request is at the gateway (a lease: a second request waits
    for it), and `split_release_cents`/`split_refund_cents` hold a dispute's
    split from the moment staff decide it until the gateway carried it out.
    """

    class Status(models.TextChoices):
        AWAITING_FUNDING = "awaiting_funding", "Awaiting funding"
        FUNDED = "funded", "Funded"
        RELEASE_PENDING = "release_pending", "Approved, transfer to the payee not done yet"
        REFUND_PENDING = "refund_pending", "Refund to the company not confirmed yet"
        RELEASED = "released", "Released"
        REFUNDED = "refunded", "Refunded"
        FROZEN = "frozen", "Frozen by a dispute"

    # Money held in escrow, the platform's to give either way (`Escrow.objects.held()`).
    HELD = frozenset({Status.FUNDED, Status.RELEASE_PENDING, Status.FROZEN})

    reference = models.CharField(max_length=100, unique=True)
    company = models.ForeignKey(
        "marketplace.Company", on_delete=models.PROTECT, related_name="escrows"
    )
    payee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="escrows_received"
    )
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount_cents = models.BigIntegerField()
    company_fee_cents = models.BigIntegerField()
    student_commission_cents = models.BigIntegerField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.AWAITING_FUNDING
    )
    gateway = models.CharField(max_length=16)
    funding_attempts = models.PositiveIntegerField(default=0)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    charge_id = models.CharField(max_length=255, blank=True)
    transfer_id = models.CharField(max_length=255, blank=True)
    refund_id = models.CharField(max_length=255, blank=True)
    transfer_attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    funding_started_at = models.DateTimeField(null=True, blank=True)
    split_release_cents = models.BigIntegerField(null=True, blank=True)
    split_refund_cents = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    funded_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    objects = EscrowQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "awaiting_funding",
                        "funded",
                        "release_pending",
                        "refund_pending",
                        "released",
                        "refunded",
                        "frozen",
                    ]
                ),
                name="escrow_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(amount_cents__gt=0)
                & Q(company_fee_cents__gte=0)
                & Q(student_commission_cents__gte=0)
                & Q(student_commission_cents__lte=models.F("amount_cents")),
                name="escrow_amounts_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.status}"

    @property
    def charge_cents(self) -> int:
        """What the company pays: the work amount plus the company's service fee."""
        return self.amount_cents + self.company_fee_cents

    @property
    def payee_cents(self) -> int:
        """What the payee receives on release: the work amount less the commission."""
        return self.amount_cents - self.student_commission_cents

    @property
    def is_held(self) -> bool:
        """Whether the money is held in escrow (`HELD`: funded, release_pending, frozen)."""
        return self.status in self.HELD

    @property
    def split_recorded(self) -> bool:
        """Whether staff decided a dispute's split that the gateway has not carried out yet."""
        return self.status == self.Status.FROZEN and self.split_release_cents is not None


class EscrowEvent(StatusEvent):
    """One row per escrow transition: who moved it, from where, to where, when."""

    escrow = models.ForeignKey(Escrow, on_delete=models.CASCADE, related_name="events")


class LedgerTransaction(models.Model):
    """A balanced group of ledger entries: one money movement. Never updated or deleted."""

    class Kind(models.TextChoices):
        FUNDING = "funding", "Funding"
        RELEASE = "release", "Release"
        REFUND = "refund", "Refund"
        SETTLEMENT = "settlement", "Dispute settlement"
        REVERSAL = "reversal", "Reversal"
        CHARGEBACK = "chargeback", "Card chargeback lost"
        GATEWAY_FEE = "gateway_fee", "Payment provider fee"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    escrow = models.ForeignKey(
        Escrow, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_transactions"
    )
    currency = models.CharField(max_length=3)
    memo = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.currency}"


class LedgerEntry(models.Model):
    """One side of a movement. `amount_cents` is signed: positive debit, negative credit.

    Accounts are strings such as `company:7`, `escrow`, `student:12`,
    `platform:revenue`. The entries of a transaction sum to zero.
    """

    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="entries"
    )
    account = models.CharField(max_length=64)
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    memo = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(condition=~Q(amount_cents=0), name="ledgerentry_nonzero"),
        ]
        indexes = [
            models.Index(fields=["account", "currency"], name="ledgerentry_account_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.amount_cents:+d} {self.currency}"


class DummyGatewayObject(models.Model):
    """What the dummy gateway did, kept like Stripe keeps its objects (offline demo and tests).

    One row per object (payment intent, transfer, refund, connected account),
    with Stripe's shape: `amount` in minor units of `currency`, a `status`
    (`requires_payment_method`/`succeeded` for intents, `paid` for transfers,
    `succeeded` for refunds, `enabled` for accounts). A transfer's
    `destination` is the connected account and its `source` the charge; a
    refund's `source` is the payment intent. Every object was created under an
    `idempotency_key`, and the same key answers the same object, never a second one.
    """

    class Kind(models.TextChoices):
        PAYMENT_INTENT = "payment_intent", "Payment intent"
        TRANSFER = "transfer", "Transfer"
        REFUND = "refund", "Refund"
        ACCOUNT = "account", "Connected account"

    object_id = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=255, unique=True)
    amount = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True)
    status = models.CharField(max_length=32)
    destination = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=255, blank=True)
    transfer_group = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["payment_intent", "transfer", "refund", "account"]),
                name="dummygatewayobject_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.object_id} ({self.status})"


class ReconciliationRun(models.Model):
    """One comparison of the ledger with the gateway (`payments.services.reconciliation`).

    `day` is the local date whose activity was checked, or null for a check of
    every escrow; `checked` counts the escrows compared. `differences` is a
    list of `{reference, kind, ledger, gateway, detail}` dicts (amounts in
    minor units, None for a missing side); `ok` is true when it is empty.
    """

    created_at = models.DateTimeField(default=timezone.now)
    day = models.DateField(null=True, blank=True)
    gateway = models.CharField(max_length=16)
    checked = models.PositiveIntegerField(default=0)
    differences = models.JSONField(default=list, blank=True)
    ok = models.BooleanField(default=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        outcome = "ok" if self.ok else f"{len(self.differences)} differences"
        return f"Reconciliation {self.day or 'all'} at {self.created_at:%Y-%m-%d %H:%M}: {outcome}"


class StripeEvent(models.Model):
    """One webhook event from Stripe, stored once and processed once (the inbox).

    `event_id` is Stripe's `evt_…` id and is unique: Stripe delivers at least
    once, may deliver twice or out of order (https://docs.stripe.com/webhooks),
    so a second delivery finds this row instead of making another.
    `account` is the connected account of a Connect event (`acct_…`, empty for
    the platform's own events, https://docs.stripe.com/connect/webhooks).
    Status: received → processing → succeeded | failed | ignored (a type we do
    not act on, or an object that is not ours); a failed event is processed
    again by the task's retries or by staff. `attempts` counts the handler
    runs, `outcome` says what the last one did (e.g. a decline code) and
    `error` why it failed, for staff.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSING = "processing", "Processing"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        IGNORED = "ignored", "Ignored"

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    livemode = models.BooleanField(default=False)
    account = models.CharField(max_length=255, blank=True)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    escrow = models.ForeignKey(
        Escrow, on_delete=models.PROTECT, null=True, blank=True, related_name="stripe_events"
    )
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=["received", "processing", "succeeded", "failed", "ignored"]
                ),
                name="stripeevent_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="stripeevent_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}: {self.status}"

    @property
    def is_done(self) -> bool:
        """Nothing more to do: it succeeded or was ignored (a failed event may run again)."""
        return self.status in (self.Status.SUCCEEDED, self.Status.IGNORED)


class Chargeback(models.Model):
    """A card dispute (chargeback) on an escrow's charge, from `charge.dispute.*` events.

    With separate charges and transfers the platform is liable for disputes
    (https://docs.stripe.com/disputes, https://docs.stripe.com/connect/disputes).
    `funds_held` says whether the money was still in escrow when the dispute
    opened (it is then frozen, and `resume_status` is where the escrow goes back
    to if the dispute is won); otherwise it was already paid out and a lost
    dispute is the platform's loss. Amounts in minor units of `currency`.
    Status: open → won | lost.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    escrow = models.ForeignKey(Escrow, on_delete=models.PROTECT, related_name="chargebacks")
    dispute_id = models.CharField(max_length=255, unique=True)
    charge_id = models.CharField(max_length=255, blank=True)
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    funds_held = models.BooleanField()
    resume_status = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["open", "won", "lost"]), name="chargeback_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(amount_cents__gt=0), name="chargeback_amount_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["escrow", "status"], name="chargeback_escrow_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.dispute_id} on {self.escrow_id}: {self.status}"
