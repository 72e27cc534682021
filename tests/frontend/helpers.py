"""Helpers the test-client tests of every role share."""

from __future__ import annotations

from django.http import HttpResponse


def messages_of(res: HttpResponse) -> list[str]:
    """The texts of the Django messages shown on the rendered page `res`."""
    return [str(m) for m in res.context["messages"]]  # type: ignore[attr-defined]
