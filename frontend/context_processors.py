"""Template context every page reads."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from marketplace.two_factor import two_factor_role


def two_factor_demo(request: HttpRequest) -> dict[str, bool]:
    """`two_factor_demo_warning`: staff or a coordinator signed in where two-factor sign-in
    is not required (the demo), so the pages say that production would ask for it."""
    user = getattr(request, "user", None)
    return {
        "two_factor_demo_warning": bool(
            user is not None and not settings.TWO_FACTOR_REQUIRED and two_factor_role(user)
        )
    }
