"""OpenAPI schema generation (drf-spectacular): unique component names and the error contract."""

from __future__ import annotations

from typing import Any

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, AllowAny

NESTED_NAMES = {"InputSerializer", "OutputSerializer", "FilterSerializer"}


class BearerTokenScheme(SimpleJWTScheme):
    """The API's bearer tokens (simplejwt with the second factor) in the schema: `jwtAuth`."""

    target_class = "marketplace.api.authentication.JWTAuthentication"


@extend_schema_serializer(component_name="Error")
class ErrorOutput(serializers.Serializer):
    """Every 4xx and 5xx of the API (marketplace.api.exceptions)."""

    detail = serializers.CharField(help_text="a sentence for a person")
    code = serializers.CharField(help_text="stable, for programs: invalid, not_found, ...")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="400: field → messages (`non_field_errors` for the whole body); else empty",
    )
    decline_code = serializers.CharField(
        required=False, help_text="402 only: Stripe's reason for the decline"
    )


ERROR_DESCRIPTIONS = {
    400: "Invalid input: `errors` names each field at fault.",
    401: "No valid credentials: the bearer token is missing, invalid or expired.",
    402: "The card was declined (`code: payment_failed`, with Stripe's `decline_code`).",
    403: "The caller's role may not do this to something it may see.",
    404: "Not found, or not the caller's to see.",
    409: "Not allowed in the current state; nothing was changed.",
    429: "Too many attempts; try again later.",
    503: "The payment provider cannot answer now or is not configured; try again later.",
}


class AutoSchema(SpectacularAutoSchema):
    """The project's schema class (`DEFAULT_SCHEMA_CLASS`).

    Names a view's nested `InputSerializer` after the view (`RegisterApi` →
    `RegisterInput`): views keep their input and output shapes nested, as in the
    HackSoft style guide; without this every one of them would be called `Input`.

    Declares on every operation the error answers it can give, all with the
    `Error` shape `{detail, code, errors}`: 400 where it takes input, 401 where a
    token is read, 403 where a role is checked, 404 for a path naming an object,
    409 for a change behind a permission, 429 when throttled; a view adds others
    (402, 503) with `error_statuses`.
    """

    def get_serializer_name(self, serializer, direction):  # type: ignore[no-untyped-def]
        cls = type(serializer)
        outer, _, inner = cls.__qualname__.rpartition(".")
        if outer and inner in NESTED_NAMES:
            return outer.rsplit(".", 1)[-1].removesuffix("Api") + inner.removesuffix("Serializer")
        return super().get_serializer_name(serializer, direction)

    def get_operation(self, path, path_regex, path_prefix, method, registry):  # type: ignore[no-untyped-def]
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        error = self.resolve_serializer(ErrorOutput, "response").ref
        responses = operation.setdefault("responses", {})
        for code in sorted(self.get_error_statuses(operation)):
            responses.setdefault(
                str(code),
                {
                    "description": ERROR_DESCRIPTIONS[code],
                    "content": {"application/json": {"schema": error}},
                },
            )
        return operation

    def get_error_statuses(self, operation: dict[str, Any]) -> set[int]:
        view = self.view
        unsafe = self.method not in SAFE_METHODS
        where = {p.get("in") for p in operation.get("parameters", [])}
        authenticators = view.get_authenticators()
        public = all(isinstance(p, AllowAny) for p in view.get_permissions())
        codes = set(getattr(view, "error_statuses", ()))
        if unsafe or "requestBody" in operation or where - {"path"}:
            codes.add(400)
        if authenticators:
            codes.add(401)
        if not public or (
            unsafe and any(isinstance(a, SessionAuthentication) for a in authenticators)
        ):
            codes.add(403)  # a role check, or CSRF for a signed-in browser
        if "path" in where:
            codes.add(404)
        if unsafe and not public:
            codes.add(409)
        if view.get_throttles():
            codes.add(429)
        return codes
