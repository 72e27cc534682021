"""Domain errors. Services raise these; one DRF handler maps them to HTTP.

Each class carries the HTTP status it maps to, so the handler stays generic:
`ValidationFailed` → 400 (with the field named), `PermissionDenied` → 403,
`NotFound` → 404, `StateConflict` → 409, `PaymentFailed` → 402.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(
        self, message: str, *, field: str | None = None, extra: dict[str, Any] | None = None
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}


class ValidationFailed(DomainError):
    status_code = 400
    code = "invalid"


class CurrencyMismatch(ValidationFailed):
    code = "currency_mismatch"


class PermissionDenied(DomainError):
    status_code = 403
    code = "permission_denied"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class StateConflict(DomainError):
    """An illegal state transition, e.g. approving a milestone that is not submitted."""

    status_code = 409
    code = "state_conflict"


class PaymentFailed(DomainError):
    """The payment provider refused the charge (declined card and the like)."""

    status_code = 402
    code = "payment_failed"


class TransientError(DomainError):
    """A failure worth retrying later: a provider timed out or answered 5xx.

    Background tasks retry it with backoff; an API request answers 503.
    """

    status_code = 503
    code = "temporarily_unavailable"
