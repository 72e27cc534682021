"""Routes of `/api/v1/`: the public contract of DESIGN.md, plus a few more."""

from django.urls import path, register_converter

from marketplace.api import views as accounts
from marketplace.api.auth import TokenObtainApi, TokenRefreshApi
from marketplace.api.converters import IdConverter
from projects.api import files as project_files
from projects.api import matching
from projects.api import messages as project_messages
from projects.api import reviews as project_reviews
from projects.api import schools as school_work
from projects.api import views as projects
from projects.api import webhooks as stripe_webhooks
from schools.api import views as schools

register_converter(IdConverter, "id")

urlpatterns = [
    path("auth/register/", accounts.RegisterApi.as_view(), name="register"),
    path("auth/token/", TokenObtainApi.as_view(), name="token"),
    path("auth/token/refresh/", TokenRefreshApi.as_view(), name="token-refresh"),
    path("me/", accounts.MeApi.as_view(), name="me"),
    path("skills/", accounts.SkillListApi.as_view(), name="skill-list"),
    path("notifications/", accounts.NotificationListApi.as_view(), name="notification-list"),
    path(
        "notifications/read-all/",
        accounts.NotificationReadAllApi.as_view(),
        name="notification-read-all",
    ),
    path(
        "notifications/<id:pk>/read/",
        accounts.NotificationReadApi.as_view(),
        name="notification-read",
    ),
    path("students/", matching.StudentListApi.as_view(), name="student-list"),
    path("students/me/", accounts.StudentMeApi.as_view(), name="student-me"),
    path(
        "students/me/recommended-briefs/",
        matching.RecommendedBriefsApi.as_view(),
        name="student-recommended-briefs",
    ),
    path(
        "students/me/payouts/onboard/", projects.PayoutOnboardApi.as_view(), name="payout-onboard"
    ),
    path(
        "payments/stripe/webhook/",
        stripe_webhooks.StripeWebhookApi.as_view(),
        name="stripe-webhook",
    ),
    path(
        "payments/stripe/connect-webhook/",
        stripe_webhooks.StripeConnectWebhookApi.as_view(),
        name="stripe-connect-webhook",
    ),
    path("schools/", schools.SchoolListApi.as_view(), name="school-list"),
    path("schools/<id:pk>/", schools.SchoolDetailApi.as_view(), name="school-detail"),
    path("verifications/", schools.VerificationListCreateApi.as_view(), name="verification-list"),
    path(
        "verifications/confirm/",
        schools.VerificationConfirmApi.as_view(),
        name="verification-confirm",
    ),
    path(
        "verifications/<id:pk>/approve/",
        schools.VerificationApproveApi.as_view(),
        name="verification-approve",
    ),
    path(
        "verifications/<id:pk>/reject/",
        schools.VerificationRejectApi.as_view(),
        name="verification-reject",
    ),
    path(
        "verifications/<id:pk>/revoke/",
        school_work.VerificationRevokeApi.as_view(),
        name="verification-revoke",
    ),
    path(
        "schools/<id:pk>/students/",
        school_work.SchoolStudentsApi.as_view(),
        name="school-students",
    ),
    path(
        "schools/<id:pk>/students/export/",
        school_work.SchoolStudentsExportApi.as_view(),
        name="school-students-export",
    ),
    path(
        "schools/<id:pk>/audit-trail/",
        schools.SchoolAuditTrailApi.as_view(),
        name="school-audit-trail",
    ),
    path(
        "admin/coordinators/",
        schools.CoordinatorCreateApi.as_view(),
        name="admin-coordinator-create",
    ),
    path("projects/", projects.ProjectListCreateApi.as_view(), name="project-list"),
    path("projects/<id:pk>/", projects.ProjectDetailApi.as_view(), name="project-detail"),
    path("projects/<id:pk>/publish/", projects.ProjectPublishApi.as_view(), name="project-publish"),
    path("projects/<id:pk>/cancel/", projects.ProjectCancelApi.as_view(), name="project-cancel"),
    path("projects/<id:pk>/matches/", matching.ProjectMatchesApi.as_view(), name="project-matches"),
    path("projects/<id:pk>/bids/", projects.ProjectBidsApi.as_view(), name="project-bids"),
    path("bids/<id:pk>/withdraw/", projects.BidWithdrawApi.as_view(), name="bid-withdraw"),
    path("bids/<id:pk>/shortlist/", projects.BidShortlistApi.as_view(), name="bid-shortlist"),
    path("bids/<id:pk>/reject/", projects.BidRejectApi.as_view(), name="bid-reject"),
    path("bids/<id:pk>/accept/", projects.BidAcceptApi.as_view(), name="bid-accept"),
    path("contracts/", projects.ContractListApi.as_view(), name="contract-list"),
    path("contracts/<id:pk>/", projects.ContractDetailApi.as_view(), name="contract-detail"),
    path("contracts/<id:pk>/ledger/", projects.ContractLedgerApi.as_view(), name="contract-ledger"),
    path("contracts/<id:pk>/cancel/", projects.ContractCancelApi.as_view(), name="contract-cancel"),
    path("milestones/<id:pk>/fund/", projects.MilestoneFundApi.as_view(), name="milestone-fund"),
    path(
        "milestones/<id:pk>/submit/",
        projects.MilestoneSubmitApi.as_view(),
        name="milestone-submit",
    ),
    path(
        "milestones/<id:pk>/approve/",
        projects.MilestoneApproveApi.as_view(),
        name="milestone-approve",
    ),
    path(
        "milestones/<id:pk>/dispute/",
        projects.MilestoneDisputeApi.as_view(),
        name="milestone-dispute",
    ),
    path("admin/disputes/", projects.AdminDisputeListApi.as_view(), name="admin-dispute-list"),
    path(
        "admin/disputes/<id:pk>/resolve/",
        projects.AdminDisputeResolveApi.as_view(),
        name="admin-dispute-resolve",
    ),
    path(
        "milestones/<id:pk>/request-changes/",
        projects.MilestoneRequestChangesApi.as_view(),
        name="milestone-request-changes",
    ),
]

# Reviews, messages and delivered files.
urlpatterns += [
    path(
        "contracts/<id:pk>/reviews/",
        project_reviews.ContractReviewsApi.as_view(),
        name="contract-reviews",
    ),
    path("reviews/<id:pk>/", project_reviews.ReviewDetailApi.as_view(), name="review-detail"),
    path("reviews/<id:pk>/reply/", project_reviews.ReviewReplyApi.as_view(), name="review-reply"),
    path("admin/reviews/", project_reviews.AdminReviewListApi.as_view(), name="admin-review-list"),
    path(
        "students/<id:pk>/",
        project_reviews.StudentPublicProfileApi.as_view(),
        name="student-detail",
    ),
    path(
        "students/<id:pk>/reviews/",
        project_reviews.StudentReviewsApi.as_view(),
        name="student-reviews",
    ),
    path("companies/<id:pk>/", project_reviews.CompanyPageApi.as_view(), name="company-detail"),
    path(
        "companies/<id:pk>/reviews/",
        project_reviews.CompanyReviewsApi.as_view(),
        name="company-reviews",
    ),
    path(
        "contracts/<id:pk>/messages/",
        project_messages.ContractMessagesApi.as_view(),
        name="contract-messages",
    ),
    path(
        "contracts/<id:pk>/messages/read/",
        project_messages.ContractMessagesReadApi.as_view(),
        name="contract-messages-read",
    ),
    path(
        "projects/<id:pk>/questions/",
        project_messages.ProjectQuestionsApi.as_view(),
        name="project-questions",
    ),
    path(
        "projects/<id:pk>/questions/<id:thread_pk>/messages/",
        project_messages.QuestionThreadMessagesApi.as_view(),
        name="project-question-messages",
    ),
    path(
        "projects/<id:pk>/questions/<id:thread_pk>/read/",
        project_messages.QuestionThreadReadApi.as_view(),
        name="project-question-read",
    ),
    path(
        "milestones/<id:pk>/deliveries/",
        project_files.MilestoneDeliveriesApi.as_view(),
        name="milestone-deliveries",
    ),
    path("files/<uuid:file_id>/", project_files.FileDownloadApi.as_view(), name="file-download"),
]
