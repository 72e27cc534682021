"""Routes of `/api/v1/`: the public contract of DESIGN.md, plus a few more.

The accounts' routes are here; every other app serves its own `api/urls.py`,
included by name so that this lowest layer imports none of them.
"""

from django.urls import include, path, register_converter

from marketplace.api import credentials, passwords, privacy
from marketplace.api import views as accounts
from marketplace.api.auth import TokenObtainApi, TokenRefreshApi
from marketplace.api.converters import IdConverter

# Before the includes below: their routes use `<id:…>`.
register_converter(IdConverter, "id")

urlpatterns = [
    path("auth/register/", accounts.RegisterApi.as_view(), name="register"),
    path("auth/token/", TokenObtainApi.as_view(), name="token"),
    path("auth/token/refresh/", TokenRefreshApi.as_view(), name="token-refresh"),
    path("auth/logout/", credentials.LogoutApi.as_view(), name="logout"),
    path("auth/password/change/", passwords.PasswordChangeApi.as_view(), name="password-change"),
    path("auth/password/reset/", passwords.PasswordResetApi.as_view(), name="password-reset"),
    path(
        "auth/password/reset/confirm/",
        passwords.PasswordResetConfirmApi.as_view(),
        name="password-reset-confirm",
    ),
    path("me/", accounts.MeApi.as_view(), name="me"),
    path("me/export/", privacy.PersonalDataExportApi.as_view(), name="me-export"),
    path("me/erase/", privacy.AccountEraseApi.as_view(), name="me-erase"),
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
    path("students/me/", accounts.StudentMeApi.as_view(), name="student-me"),
    path("", include("schools.api.urls")),
    path("", include("payments.api.urls")),
    path("", include("projects.briefs.api.urls")),
    path("", include("projects.contracts.api.urls")),
    path("", include("projects.reviews.api.urls")),
    path("", include("projects.messaging.api.urls")),
]
