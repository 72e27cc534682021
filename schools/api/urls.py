"""Routes of `/api/v1/` served by this app (included by `marketplace.api.urls`)."""

from django.urls import path

from schools.api import views

urlpatterns = [
    path("schools/", views.SchoolListApi.as_view(), name="school-list"),
    path("schools/<id:pk>/", views.SchoolDetailApi.as_view(), name="school-detail"),
    path("verifications/", views.VerificationListCreateApi.as_view(), name="verification-list"),
    path(
        "verifications/confirm/",
        views.VerificationConfirmApi.as_view(),
        name="verification-confirm",
    ),
    path(
        "verifications/<id:pk>/approve/",
        views.VerificationApproveApi.as_view(),
        name="verification-approve",
    ),
    path(
        "verifications/<id:pk>/reject/",
        views.VerificationRejectApi.as_view(),
        name="verification-reject",
    ),
    path(
        "schools/<id:pk>/audit-trail/",
        views.SchoolAuditTrailApi.as_view(),
        name="school-audit-trail",
    ),
    path(
        "admin/coordinators/",
        views.CoordinatorCreateApi.as_view(),
        name="admin-coordinator-create",
    ),
]
