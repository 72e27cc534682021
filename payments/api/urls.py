"""Routes of `/api/v1/` served by this app (included by `marketplace.api.urls`)."""

from django.urls import path

from payments.api import webhooks

urlpatterns = [
    path(
        "payments/stripe/webhook/",
        webhooks.StripeWebhookApi.as_view(),
        name="stripe-webhook",
    ),
    path(
        "payments/stripe/connect-webhook/",
        webhooks.StripeConnectWebhookApi.as_view(),
        name="stripe-connect-webhook",
    ),
]
