import datetime as dt
import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from marketplace.admin import ReadOnlyAdmin, StatusEventAdmin, money_column, money_format
from marketplace.errors import TransientError
from payments.models import (
    Chargeback,
    DummyGatewayObject,
    Escrow,
    EscrowEvent,
    LedgerEntry,
    LedgerTransaction,
    PayoutAccount,
    ReconciliationRun,
    StripeEvent,
)
from payments.selectors import ledger_account_balances
from payments.services.reconciliation import ledger_reconcile
from payments.services.releases import escrow_retry_pending_releases
from payments.services.webhooks import stripe_events_process_again


class EscrowEventInline(admin.TabularInline):
    model = EscrowEvent
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "actor", "note", "created_at"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Escrow)
class EscrowAdmin(ReadOnlyAdmin):
    """Money held per piece of work. Transfers waiting (`release_pending`) show their last error.

    The "retry the transfer" action (the page the "transfer failed" alert links
    to) calls `escrow_retry_pending_releases`, which announces what went out to
    the late-release listeners: the projects app tells the student and
    completes the contract.
    """

    list_display = [
        "reference",
        "company",
        "payee",
        "amount",
        "charge",
        "status",
        "transfer_attempts",
        "created_at",
    ]
    list_filter = ["status", "currency", "gateway", ("last_error", admin.EmptyFieldListFilter)]
    search_fields = [
        "reference",
        "payment_intent_id",
        "charge_id",
        "transfer_id",
        "refund_id",
        "company__name",
        "payee__email",
    ]
    list_select_related = ["company", "payee"]
    date_hierarchy = "created_at"
    fields = [
        "reference",
        "company",
        "payee",
        "status",
        "amount",
        "company_fee",
        "charge",
        "student_commission",
        "payee_share",
        "gateway",
        "payment_intent_id",
        "charge_id",
        "transfer_id",
        "refund_id",
        "funding_attempts",
        "transfer_attempts",
        "last_error",
        "funding_started_at",
        "split_release",
        "split_refund",
        "created_at",
        "funded_at",
        "settled_at",
    ]
    readonly_fields = fields
    inlines = [EscrowEventInline]
    actions = ["retry_transfer"]

    amount = money_column("amount_cents", description="work amount")
    company_fee = money_column("company_fee_cents", description="company fee")
    student_commission = money_column("student_commission_cents", description="commission")
    charge = money_column("charge_cents", description="charged to the company", sortable=False)
    payee_share = money_column("payee_cents", description="payee's share", sortable=False)

    @admin.display(description="dispute split: released")
    def split_release(self, obj: Escrow) -> str:
        return (
            "—"
            if obj.split_release_cents is None
            else money_format(obj.split_release_cents, obj.currency)
        )

    @admin.display(description="dispute split: refunded")
    def split_refund(self, obj: Escrow) -> str:
        return (
            "—"
            if obj.split_refund_cents is None
            else money_format(obj.split_refund_cents, obj.currency)
        )

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.is_staff and request.user.has_perm("payments.change_escrow")

    @admin.action(
        description="Retry the transfer of approved money not paid yet", permissions=["retry"]
    )
    def retry_transfer(self, request: HttpRequest, queryset: QuerySet[Escrow]) -> None:
        waiting = list(
            queryset.filter(status=Escrow.Status.RELEASE_PENDING).values_list("pk", flat=True)
        )
        released = len(escrow_retry_pending_releases(escrow_ids=waiting, actor=request.user))
        still = len(waiting) - released
        skipped = queryset.count() - len(waiting)
        text = f"{released} transfer(s) sent."
        if still:
            text += (
                f" {still} still waiting: the student's payout account is not ready, or the "
                "gateway failed again (see the last error)."
            )
        if skipped:
            text += f" {skipped} selected escrow(s) were not waiting for a transfer."
        self.message_user(request, text, messages.SUCCESS if not still else messages.WARNING)


@admin.register(EscrowEvent)
class EscrowEventAdmin(StatusEventAdmin):
    """Every escrow transition: who moved the money from which state to which, and why."""

    subject = "escrow"
    list_filter = ["to_status", "from_status"]
    search_fields = ["escrow__reference", "actor__email", "note"]


class EntryInline(admin.TabularInline):
    model = LedgerEntry
    extra = 0
    can_delete = False
    fields = ["account", "amount", "memo", "created_at"]
    readonly_fields = fields
    amount = money_column("amount_cents", description="amount (debit +, credit −)")

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    """One money movement; its entries (inline) sum to zero."""

    list_display = ["id", "kind", "currency", "escrow", "memo", "created_at"]
    list_filter = ["kind", "currency"]
    search_fields = ["memo", "escrow__reference", "entries__account"]
    list_select_related = ["escrow"]
    date_hierarchy = "created_at"
    inlines = [EntryInline]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    """Ledger lines, append-only; search an account (`student:12`) to read its history."""

    list_display = ["created_at", "transaction", "account", "amount", "memo"]
    list_filter = ["currency", "transaction__kind"]
    search_fields = ["=account", "memo", "transaction__escrow__reference"]
    list_select_related = ["transaction"]
    date_hierarchy = "created_at"
    change_list_template = "admin/payments/ledgerentry/change_list.html"
    amount = money_column("amount_cents", description="amount (debit +, credit −)")

    def get_urls(self) -> list[URLPattern]:
        balances = path(
            "balances/",
            self.admin_site.admin_view(self.balances_view),
            name="payments_ledgerentry_balances",
        )
        return [balances, *super().get_urls()]

    def balances_view(self, request: HttpRequest) -> TemplateResponse:
        """Every ledger account's balance per currency (signed minor units, debit positive)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Ledger balances per account",
            "opts": self.model._meta,
            "balances": ledger_account_balances(),
        }
        return TemplateResponse(request, "admin/payments/ledgerentry/balances.html", context)


@admin.register(PayoutAccount)
class PayoutAccountAdmin(ReadOnlyAdmin):
    list_display = ["user", "gateway", "account_id", "payouts_enabled", "updated_at"]
    list_filter = ["payouts_enabled", "gateway"]
    search_fields = ["user__email", "account_id"]
    list_select_related = ["user"]


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    """Comparisons of the ledger with the gateway; staff can run one now from the list."""

    list_display = ["created_at", "day", "gateway", "checked", "difference_count", "ok"]
    list_filter = ["ok", "gateway"]
    date_hierarchy = "created_at"
    fields = ["created_at", "day", "gateway", "checked", "ok", "differences_table"]
    readonly_fields = fields
    change_list_template = "admin/payments/reconciliationrun/change_list.html"

    @admin.display(description="differences")
    def difference_count(self, obj: ReconciliationRun) -> int:
        return len(obj.differences)

    @admin.display(description="differences")
    def differences_table(self, obj: ReconciliationRun) -> str:
        """One row per difference; ledger and gateway amounts are minor units of the escrow."""
        if not obj.differences:
            return "none"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    d.get("reference", ""),
                    d.get("kind", ""),
                    "—" if d.get("ledger") is None else d["ledger"],
                    "—" if d.get("gateway") is None else d["gateway"],
                    d.get("detail", ""),
                )
                for d in obj.differences
            ),
        )
        return format_html(
            "<table><thead><tr><th>reference</th><th>what differs</th>"
            "<th>ledger (minor units)</th><th>gateway (minor units)</th><th>detail</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    def get_urls(self) -> list[URLPattern]:
        run = path(
            "run/",
            self.admin_site.admin_view(require_POST(self.run_view)),
            name="payments_reconciliationrun_run",
        )
        return [run, *super().get_urls()]

    def has_run_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.add_reconciliationrun")

    def run_view(self, request: HttpRequest) -> HttpResponse:
        """POST: compare the ledger with the gateway now (`ledger_reconcile`), then show the run.

        An optional `day` (YYYY-MM-DD) checks only that local date's activity,
        as `manage.py reconcile_ledger --day` does.
        """
        if not self.has_run_permission(request):
            raise PermissionDenied
        changelist = reverse("admin:payments_reconciliationrun_changelist")
        day = None
        if request.POST.get("day"):
            try:
                day = dt.date.fromisoformat(request.POST["day"])
            except ValueError:
                self.message_user(request, "Give the day as YYYY-MM-DD.", messages.ERROR)
                return HttpResponseRedirect(changelist)
        try:
            run = ledger_reconcile(day=day)
        except TransientError as exc:
            self.message_user(
                request, f"The gateway did not answer; try again. ({exc})", messages.ERROR
            )
            return HttpResponseRedirect(changelist)
        if run.ok:
            self.message_user(request, f"{run.checked} escrows checked, no differences.")
        else:
            self.message_user(
                request,
                f"{run.checked} escrows checked, {len(run.differences)} differences.",
                messages.WARNING,
            )
        return HttpResponseRedirect(
            reverse("admin:payments_reconciliationrun_change", args=[run.pk])
        )

    def changelist_view(self, request: HttpRequest, extra_context=None):  # type: ignore[no-untyped-def]
        extra = {"can_run": self.has_run_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)


@admin.register(DummyGatewayObject)
class DummyGatewayObjectAdmin(ReadOnlyAdmin):
    list_display = ["object_id", "kind", "money", "status", "destination", "created_at"]
    list_filter = ["kind", "status"]
    search_fields = ["object_id", "idempotency_key", "destination", "source", "transfer_group"]
    date_hierarchy = "created_at"
    money = money_column("amount", description="amount")


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    """The webhook inbox: what Stripe told us and what came of it; failed events can run again."""

    list_display = [
        "event_id",
        "type",
        "status",
        "account",
        "attempts",
        "outcome",
        "received_at",
        "processed_at",
    ]
    list_filter = ["status", "type", "livemode"]
    search_fields = ["event_id", "account", "outcome", "error", "escrow__reference"]
    date_hierarchy = "received_at"
    actions = ["process_again"]
    fields = [
        "event_id",
        "type",
        "livemode",
        "account",
        "status",
        "attempts",
        "outcome",
        "error",
        "escrow",
        "received_at",
        "processed_at",
        "payload_json",
    ]
    readonly_fields = fields

    @admin.display(description="payload")
    def payload_json(self, obj: StripeEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))

    def has_process_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.change_stripeevent")

    @admin.action(description="Process again (events not done yet)", permissions=["process"])
    def process_again(self, request: HttpRequest, queryset) -> None:  # type: ignore[no-untyped-def]
        queued = stripe_events_process_again(
            event_ids=list(queryset.values_list("event_id", flat=True))
        )
        self.message_user(
            request,
            f"{len(queued)} event(s) queued for processing; succeeded and ignored ones are "
            "never processed twice.",
        )


@admin.register(Chargeback)
class ChargebackAdmin(ReadOnlyAdmin):
    list_display = [
        "dispute_id",
        "escrow",
        "amount",
        "reason",
        "status",
        "funds_held",
        "created_at",
        "closed_at",
    ]
    list_filter = ["status", "funds_held", "currency"]
    search_fields = ["dispute_id", "charge_id", "escrow__reference"]
    list_select_related = ["escrow"]
    date_hierarchy = "created_at"
    amount = money_column("amount_cents", description="amount")
