from django.contrib import admin

from payments.models import Escrow, EscrowEvent, LedgerEntry, LedgerTransaction, PayoutAccount


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


@admin.register(PayoutAccount)
class PayoutAccountAdmin(ReadOnlyAdmin):
    list_display = ["user", "gateway", "account_id", "payouts_enabled", "updated_at"]
    list_filter = ["payouts_enabled", "gateway"]
