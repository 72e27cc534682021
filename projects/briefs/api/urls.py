"""Routes of `/api/v1/` served by this app (included by `marketplace.api.urls`)."""

from django.urls import path

from projects.briefs.api import matching, schools, views

urlpatterns = [
    path("students/", matching.StudentListApi.as_view(), name="student-list"),
    path(
        "students/me/recommended-briefs/",
        matching.RecommendedBriefsApi.as_view(),
        name="student-recommended-briefs",
    ),
    path(
        "verifications/<id:pk>/revoke/",
        schools.VerificationRevokeApi.as_view(),
        name="verification-revoke",
    ),
    path("projects/", views.ProjectListCreateApi.as_view(), name="project-list"),
    path("projects/<id:pk>/", views.ProjectDetailApi.as_view(), name="project-detail"),
    path("projects/<id:pk>/publish/", views.ProjectPublishApi.as_view(), name="project-publish"),
    path("projects/<id:pk>/cancel/", views.ProjectCancelApi.as_view(), name="project-cancel"),
    path("projects/<id:pk>/matches/", matching.ProjectMatchesApi.as_view(), name="project-matches"),
    path("projects/<id:pk>/bids/", views.ProjectBidsApi.as_view(), name="project-bids"),
    path("bids/<id:pk>/withdraw/", views.BidWithdrawApi.as_view(), name="bid-withdraw"),
    path("bids/<id:pk>/shortlist/", views.BidShortlistApi.as_view(), name="bid-shortlist"),
    path("bids/<id:pk>/reject/", views.BidRejectApi.as_view(), name="bid-reject"),
]
