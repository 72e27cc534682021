"""Routes of `/api/v1/` served by this app (included by `marketplace.api.urls`)."""

from django.urls import path

from projects.reviews.api import schools, views

urlpatterns = [
    path(
        "schools/<id:pk>/students/",
        schools.SchoolStudentsApi.as_view(),
        name="school-students",
    ),
    path(
        "schools/<id:pk>/students/export/",
        schools.SchoolStudentsExportApi.as_view(),
        name="school-students-export",
    ),
    path(
        "contracts/<id:pk>/reviews/",
        views.ContractReviewsApi.as_view(),
        name="contract-reviews",
    ),
    path("reviews/<id:pk>/", views.ReviewDetailApi.as_view(), name="review-detail"),
    path("reviews/<id:pk>/reply/", views.ReviewReplyApi.as_view(), name="review-reply"),
    path("admin/reviews/", views.AdminReviewListApi.as_view(), name="admin-review-list"),
    path(
        "students/<id:pk>/",
        views.StudentPublicProfileApi.as_view(),
        name="student-detail",
    ),
    path(
        "students/<id:pk>/reviews/",
        views.StudentReviewsApi.as_view(),
        name="student-reviews",
    ),
    path("companies/<id:pk>/", views.CompanyPageApi.as_view(), name="company-detail"),
    path(
        "companies/<id:pk>/reviews/",
        views.CompanyReviewsApi.as_view(),
        name="company-reviews",
    ),
]
