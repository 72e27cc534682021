import json

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.html import format_html

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
from payments.services.webhooks import stripe_events_process_again


class ReadOnlyAdmin(admin.ModelAdmin):
    """Money rows are written by services only; the admin reads them."""

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class EscrowEventInline(admin.TabularInline):
    model = EscrowEvent
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "actor", "note", "created_at"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Escrow)
class EscrowAdmin(ReadOnlyAdmin):
    list_display = [
        "reference",
        "company",
        "payee",
        "amount_cents",
        "currency",
        "status",
        "created_at",
    ]
    list_filter = ["status", "currency", "gateway"]
    search_fields = ["reference", "payment_intent_id", "transfer_id"]
    inlines = [EscrowEventInline]


class EntryInline(admin.TabularInline):
    model = LedgerEntry
    extra = 0
    can_delete = False
    readonly_fields = ["account", "amount_cents", "currency", "memo", "created_at"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "currency", "escrow", "memo", "created_at"]
    list_filter = ["kind", "currency"]
    inlines = [EntryInline]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["transaction", "account", "amount_cents", "currency", "created_at"]
    list_filter = ["currency"]
    search_fields = ["account"]
    change_list_template = "admin/payments/ledgerentry/change_list.html"

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


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "day", "gateway", "checked", "difference_count", "ok"]
    list_filter = ["ok", "gateway"]
    date_hierarchy = "created_at"
    fields = ["created_at", "day", "gateway", "checked", "ok", "differences_table"]
    readonly_fields = fields

    @admin.display(description="differences")
    def difference_count(self, obj: ReconciliationRun) -> int:
        return len(obj.differences)

    @admin.display(description="differences")
    def differences_table(self, obj: ReconciliationRun) -> str:
        if not obj.differences:
            return "none"
        return format_html("<pre>{}</pre>", json.dumps(obj.differences, indent=2))


@admin.register(DummyGatewayObject)
class DummyGatewayObjectAdmin(ReadOnlyAdmin):
    list_display = ["object_id", "kind", "amount", "currency", "status", "created_at"]
    list_filter = ["kind", "status"]
    search_fields = ["object_id", "idempotency_key", "destination", "source"]


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
    search_fields = ["event_id", "account", "outcome", "error"]
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
        "amount_cents",
        "currency",
        "reason",
        "status",
        "funds_held",
        "created_at",
        "closed_at",
    ]
    list_filter = ["status", "funds_held", "currency"]
    search_fields = ["dispute_id", "charge_id", "escrow__reference"]
