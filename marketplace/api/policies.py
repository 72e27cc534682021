"""The `actions` field of an object: what the requesting user may do with it now, and why not.

Read from the object's policy (`marketplace.policies`); the user is the
serializer context's `request.user` (nobody signed in without a request: every
action refused).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class ActionOutput(serializers.Serializer):
    name = serializers.CharField()
    allowed = serializers.BooleanField()
    reason = serializers.CharField(
        help_text="why it is refused, in the user's language; empty when allowed"
    )


def actions_field(names: tuple[str, ...]) -> serializers.SerializerMethodField:
    """A read-only `actions` field listing `names`, in that order.

    Its method `get_actions` is decorated with `actions_schema`, which documents it.
    """
    return serializers.SerializerMethodField(
        help_text=(
            "what the requesting user may do now: "
            + ", ".join(names)
            + "; each refused one says why"
        )
    )


# The schema of a `get_actions` method: a list of ActionOutput.
actions_schema = extend_schema_field(ActionOutput(many=True))


def context_user(context: Mapping[str, Any]) -> Any:
    """The requesting user of a serializer context (anonymous without a request)."""
    request = context.get("request")
    return getattr(request, "user", None) or AnonymousUser()
