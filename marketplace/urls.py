from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    # The admin's "Forgotten your password?" link leads to the site's own reset page.
    path(
        "admin/password_reset/",
        RedirectView.as_view(pattern_name="frontend:password-reset"),
        name="admin_password_reset",
    ),
    # Staff sign in on the site's page, which asks for the second factor; `next` is kept.
    path(
        "admin/login/",
        RedirectView.as_view(pattern_name="frontend:signin", query_string=True),
        name="admin_login_redirect",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include(("marketplace.api.urls", "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", template_name="marketplace/swagger_ui.html"
        ),
        name="api-docs",
    ),
    path("", include("frontend.urls")),
]

handler400 = "marketplace.api.handlers.bad_request"
handler403 = "marketplace.api.handlers.permission_denied"
handler404 = "marketplace.api.handlers.page_not_found"
handler500 = "marketplace.api.handlers.server_error"
