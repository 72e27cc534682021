from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation
from rest_framework.test import APIClient

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Each test starts in the default language: a French page or e-mail rendered by an
    earlier test in the same thread must not leak its language into the next one."""
    with translation.override(settings.LANGUAGE_CODE):
        yield


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def as_user():
    """`as_user(user)` → an APIClient authenticated as that user (force_authenticate)."""

    def make(user) -> APIClient:  # type: ignore[no-untyped-def]
        client = APIClient()
        client.force_authenticate(user=user)
        return client

    return make


@pytest.fixture
def shared_data() -> Path:
    """The real public data in ../shared/data; skips the test with the reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"real data not found at {SHARED_DATA} (it ships beside the repository, not in it)"
        )
    return SHARED_DATA
