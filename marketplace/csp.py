"""The Content-Security-Policy middleware (django-csp), with a nonce in every policy."""

from __future__ import annotations

from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from django.http import HttpRequest


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware, with a fresh nonce in every response's policy.

    django-csp adds the nonce only once a template has read `request.csp_nonce`; made
    up front, a page that gains a nonced inline script or style later (an admin
    extension, the API docs) matches its header whatever the rendering order.
    """

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        str(request.csp_nonce)  # evaluate the lazy nonce now
