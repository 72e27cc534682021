from __future__ import annotations

import pytest
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import RefreshToken

from marketplace.credentials import user_tokens_revoke
from tests.factories import StudentFactory

pytestmark = pytest.mark.django_db


def test_revoke_blacklists_every_outstanding_token_once():
    user, other = StudentFactory(), StudentFactory()
    mine = [RefreshToken.for_user(user) for _ in range(3)]
    theirs = RefreshToken.for_user(other)
    mine[0].blacklist()

    assert user_tokens_revoke(user=user) == len(mine) - 1
    assert user_tokens_revoke(user=user) == 0
    assert BlacklistedToken.objects.filter(token__user=user).count() == len(mine)
    assert not BlacklistedToken.objects.filter(token__jti=theirs["jti"]).exists()


def test_revoke_of_a_user_without_tokens_is_zero():
    assert user_tokens_revoke(user=StudentFactory()) == 0
