from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from marketplace.admin import (
    ReadOnlyAdmin,
    StatusEventAdmin,
    StatusEventInline,
    minor_units_parse,
    money_column,
    money_format,
)
from marketplace.errors import DomainError, ValidationFailed
from marketplace.policies import Actions
from payments.models import Escrow
from projects.contracts.disputes import dispute_resolve
from projects.contracts.models import (
    Contract,
    ContractEvent,
    Delivery,
    Dispute,
    DisputeEvent,
    Milestone,
    MilestoneEvent,
)
from projects.contracts.policies import contract_actions, dispute_actions, milestone_actions
from projects.contracts.states import DISPUTE_STATES


class MilestoneInline(admin.TabularInline):
    model = Milestone
    extra = 0
    fields = ["position", "title", "amount", "due_date", "work_status", "escrow_status", "escrow"]
    readonly_fields = fields
    can_delete = False
    amount = money_column("amount_cents", description="amount")

    @admin.display(description="money")
    def escrow_status(self, obj: Milestone) -> str:
        return obj.escrow.get_status_display()

    def get_queryset(self, request: HttpRequest) -> QuerySet[Milestone]:
        return super().get_queryset(request).select_related("escrow")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _shown(actions: Actions) -> bool:
    return any(action.offered for action in actions.values())


def _steps_text(actions: Actions) -> str:
    """`fund, dispute, approve (refused: …)`: the allowed actions and the telling refusals."""
    return ", ".join(
        action.name if action.allowed else f"{action.name} (refused: {action.reason})"
        for action in actions.values()
        if action.offered
    )


class ContractEventInline(StatusEventInline):
    model = ContractEvent


@admin.register(Contract)
class ContractAdmin(ReadOnlyAdmin):
    list_display = ["id", "project", "company", "student", "amount", "status", "created_at"]
    list_filter = ["status", "currency"]
    search_fields = ["=id", "project__title", "company__name", "student__email"]
    list_select_related = ["project", "company", "student"]
    date_hierarchy = "created_at"
    fields = [
        "project",
        "bid",
        "company",
        "student",
        "amount",
        "status",
        "created_at",
        "completed_at",
        "next_steps",
    ]
    readonly_fields = fields
    inlines = [MilestoneInline, ContractEventInline]
    amount = money_column("amount_cents", description="amount")

    @admin.display(description="what the parties may do now")
    def next_steps(self, obj: Contract) -> str:
        """Each party's actions on the contract and its milestones, from the policies: those
        allowed, and those refused for a reason the party is shown."""
        member = obj.company.memberships.select_related("user").first()
        parties = [("company", member.user if member else None), ("student", obj.student)]
        milestones = list(obj.milestones.select_related("escrow").prefetch_related("disputes"))
        rows = []
        for side, user in parties:
            if user is None:
                continue
            parts = [("contract", contract_actions(contract=obj, user=user))]
            parts += [(m.title, milestone_actions(milestone=m, user=user)) for m in milestones]
            steps = "; ".join(
                f"{label}: {_steps_text(actions)}" for label, actions in parts if _shown(actions)
            )
            rows.append((side, steps or "nothing"))
        return format_html_join("", "<p><strong>{}</strong>: {}</p>", rows)


@admin.register(ContractEvent)
class ContractEventAdmin(StatusEventAdmin):
    subject = "contract"
    search_fields = ["=contract__id", "contract__project__title", "actor__email", "note"]


class MilestoneEventInline(StatusEventInline):
    model = MilestoneEvent


@admin.register(Milestone)
class MilestoneAdmin(ReadOnlyAdmin):
    list_display = ["title", "contract", "amount", "work_status", "escrow_status", "due_date"]
    list_filter = ["work_status", "escrow__status", "currency"]
    search_fields = ["title", "contract__project__title", "escrow__reference"]
    list_select_related = ["contract", "escrow"]
    fields = [
        "contract",
        "position",
        "title",
        "amount",
        "due_date",
        "work_status",
        "escrow",
        "escrow_status",
        "submitted_at",
        "approved_at",
    ]
    readonly_fields = fields
    inlines = [MilestoneEventInline]
    amount = money_column("amount_cents", description="amount")

    @admin.display(description="money", ordering="escrow__status")
    def escrow_status(self, obj: Milestone) -> str:
        return obj.escrow.get_status_display()


@admin.register(MilestoneEvent)
class MilestoneEventAdmin(StatusEventAdmin):
    subject = "milestone"
    search_fields = ["milestone__title", "actor__email", "note"]


@admin.register(DisputeEvent)
class DisputeEventAdmin(StatusEventAdmin):
    subject = "dispute"
    search_fields = ["=dispute__id", "actor__email", "note"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "milestone", "url", "created_at"]
    search_fields = ["milestone__title", "url", "note"]
    list_select_related = ["milestone"]
    date_hierarchy = "created_at"


class DisputeResolveForm(forms.Form):
    """A split of what the disputed escrow holds, typed in major units of its currency.

    The two parts must add up to the held amount (the charge: work + company
    fee); the rest of the rules (at most the work's amount released, a payout
    account to pay) are the service's, whose errors land on the field they name.
    """

    release = forms.CharField(label="Release to the student", max_length=20)
    refund = forms.CharField(label="Refund to the company", max_length=20)
    note = forms.CharField(
        label="Decision, as both parties will read it", widget=forms.Textarea, max_length=10_000
    )

    def __init__(self, *args: Any, escrow: Escrow, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.escrow = escrow
        for name in ("release", "refund"):
            self.fields[name].help_text = escrow.currency

    def clean_release(self) -> int:
        return minor_units_parse(self.cleaned_data["release"], self.escrow.currency)

    def clean_refund(self) -> int:
        return minor_units_parse(self.cleaned_data["refund"], self.escrow.currency)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        release, refund = data.get("release"), data.get("refund")
        held = self.escrow.charge_cents
        if release is not None and refund is not None and release + refund != held:
            currency = self.escrow.currency
            raise forms.ValidationError(
                f"Release and refund must add up to the {money_format(held, currency)} held; "
                f"they add up to {money_format(release + refund, currency)}."
            )
        return data


# The service's error fields, as the form names them.
SERVICE_FIELDS = {"release_cents": "release", "refund_cents": "refund", "note": "note"}


class DisputeEventInline(StatusEventInline):
    model = DisputeEvent


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    """Disputes over milestones; an open one is settled from its "Resolve" page (a split)."""

    list_display = [
        "id",
        "project",
        "milestone",
        "opened_by",
        "held",
        "status",
        "created_at",
        "resolve_link",
    ]
    list_filter = ["status"]
    search_fields = ["=id", "milestone__contract__project__title", "opened_by__email", "reason"]
    list_select_related = ["milestone__escrow", "milestone__contract__project", "opened_by"]
    date_hierarchy = "created_at"
    fields = [
        "milestone",
        "project",
        "opened_by",
        "reason",
        "held",
        "status",
        "resolved_by",
        "released",
        "refunded",
        "resolution_note",
        "created_at",
        "resolved_at",
    ]
    readonly_fields = fields
    inlines = [DisputeEventInline]
    change_form_template = "admin/contracts/dispute/change_form.html"

    held = money_column(
        "milestone__escrow__charge_cents",
        currency_field="milestone__escrow__currency",
        description="held",
        sortable=False,
    )
    released = money_column(
        "release_cents", currency_field="milestone__currency", description="released"
    )
    refunded = money_column(
        "refund_cents", currency_field="milestone__currency", description="refunded"
    )

    @admin.display(description="brief", ordering="milestone__contract__project__title")
    def project(self, obj: Dispute) -> str:
        return obj.milestone.contract.project.title

    @admin.display(description="")
    def resolve_link(self, obj: Dispute) -> str:
        # Staff only see this list; whether the dispute may still be resolved is its table's.
        if not DISPUTE_STATES.can(obj, Dispute.Status.RESOLVED):
            return ""
        url = reverse("admin:contracts_dispute_resolve", args=[obj.pk])
        return format_html('<a class="button" href="{}">Resolve…</a>', url)

    def get_urls(self) -> list[URLPattern]:
        resolve = path(
            "<int:dispute_id>/resolve/",
            self.admin_site.admin_view(self.resolve_view),
            name="contracts_dispute_resolve",
        )
        return [resolve, *super().get_urls()]

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.is_staff and request.user.has_perm("contracts.change_dispute")

    def resolve_view(self, request: HttpRequest, dispute_id: int) -> HttpResponse:
        """GET: the dispute and the split form. POST: settle it through `dispute_resolve`.

        Nothing changes unless the service accepts the split; its refusals
        (amounts, a student who cannot be paid yet, a gateway down) are shown
        on the form.
        """
        if not self.has_resolve_permission(request):
            raise PermissionDenied
        dispute = get_object_or_404(
            Dispute.objects.select_related(
                "milestone__escrow", "milestone__contract__project", "opened_by"
            ),
            pk=dispute_id,
        )
        escrow = dispute.milestone.escrow
        change_url = reverse("admin:contracts_dispute_change", args=[dispute.pk])
        resolve = dispute_actions(dispute=dispute, user=request.user)["resolve"]
        if not resolve.allowed:
            self.message_user(request, str(resolve.reason), messages.WARNING)
            return HttpResponseRedirect(change_url)
        form = DisputeResolveForm(request.POST or None, escrow=escrow)
        if request.method == "POST" and form.is_valid():
            try:
                dispute_resolve(
                    dispute_id=dispute.pk,
                    by=request.user,
                    release_cents=form.cleaned_data["release"],
                    refund_cents=form.cleaned_data["refund"],
                    note=form.cleaned_data["note"],
                )
            except ValidationFailed as exc:
                form.add_error(SERVICE_FIELDS.get(exc.field or ""), exc.message)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, f"Dispute {dispute.pk} resolved.")
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Resolve dispute {dispute.pk}",
            "opts": self.model._meta,
            "original": dispute,
            "dispute": dispute,
            "form": form,
            "held": money_format(escrow.charge_cents, escrow.currency),
            "work": money_format(escrow.amount_cents, escrow.currency),
            "fee": money_format(escrow.company_fee_cents, escrow.currency),
        }
        return TemplateResponse(request, "admin/contracts/dispute/resolve.html", context)
