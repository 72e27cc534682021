"""Stripe's webhook endpoints: verify, store, answer 2xx at once; a task does the work.

https://docs.stripe.com/webhooks: the signature is computed over the raw body,
so `request.body` is read before anything parses it (DRF's `request.data` is
never touched), and Stripe is answered quickly; processing runs in
`process_stripe_event_task` after commit. Stripe authenticates with the
signature, not a user: no authentication class, no CSRF, AllowAny.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.services.webhooks import stripe_webhook_accept


class StripeWebhookApi(APIView):
    """Stripe's platform endpoint (payments, refunds, disputes, transfers); signature checked.

    Answers 200 `{event_id, status}` once the event is stored (a repeated
    delivery answers the stored event), 400 for a bad signature, a signature
    older than 300 s or a body that is no event (nothing stored), 503 when the
    endpoint's secret is not configured.
    """

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    error_statuses = (503,)
    connect = False

    class OutputSerializer(serializers.Serializer):
        event_id = serializers.CharField()
        status = serializers.CharField()

    @extend_schema(
        request={"application/json": dict},
        responses=OutputSerializer,
        parameters=[
            OpenApiParameter(
                "Stripe-Signature",
                location=OpenApiParameter.HEADER,
                required=True,
                description="`t=<unix time>,v1=<HMAC-SHA256>` (https://docs.stripe.com/webhooks)",
            )
        ],
    )
    def post(self, request: Request) -> Response:
        payload = request.body  # the raw bytes the signature covers, before any parsing
        event = stripe_webhook_accept(
            payload=payload,
            signature=request.headers.get("Stripe-Signature", ""),
            connect=self.connect,
        )
        return Response({"event_id": event.event_id, "status": event.status})


class StripeConnectWebhookApi(StripeWebhookApi):
    """Stripe's Connect endpoint (events of the students' connected accounts:
    `account.updated`, `payout.failed`), verified with STRIPE_CONNECT_WEBHOOK_SECRET."""

    connect = True
