"""Routes of `/api/v1/` served by this app (included by `marketplace.api.urls`)."""

from django.urls import path

from projects.contracts.api import views

urlpatterns = [
    path("students/me/payouts/onboard/", views.PayoutOnboardApi.as_view(), name="payout-onboard"),
    path("bids/<id:pk>/accept/", views.BidAcceptApi.as_view(), name="bid-accept"),
    path("contracts/", views.ContractListApi.as_view(), name="contract-list"),
    path("contracts/<id:pk>/", views.ContractDetailApi.as_view(), name="contract-detail"),
    path("contracts/<id:pk>/ledger/", views.ContractLedgerApi.as_view(), name="contract-ledger"),
    path("contracts/<id:pk>/cancel/", views.ContractCancelApi.as_view(), name="contract-cancel"),
    path("milestones/<id:pk>/fund/", views.MilestoneFundApi.as_view(), name="milestone-fund"),
    path(
        "milestones/<id:pk>/submit/",
        views.MilestoneSubmitApi.as_view(),
        name="milestone-submit",
    ),
    path(
        "milestones/<id:pk>/approve/",
        views.MilestoneApproveApi.as_view(),
        name="milestone-approve",
    ),
    path(
        "milestones/<id:pk>/dispute/",
        views.MilestoneDisputeApi.as_view(),
        name="milestone-dispute",
    ),
    path("admin/disputes/", views.AdminDisputeListApi.as_view(), name="admin-dispute-list"),
    path(
        "admin/disputes/<id:pk>/resolve/",
        views.AdminDisputeResolveApi.as_view(),
        name="admin-dispute-resolve",
    ),
    path(
        "milestones/<id:pk>/request-changes/",
        views.MilestoneRequestChangesApi.as_view(),
        name="milestone-request-changes",
    ),
]
