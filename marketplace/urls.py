from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(("marketplace.api.urls", "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("frontend.urls")),
]

handler400 = "marketplace.api.handlers.bad_request"
handler403 = "marketplace.api.handlers.permission_denied"
handler404 = "marketplace.api.handlers.page_not_found"
handler500 = "marketplace.api.handlers.server_error"
