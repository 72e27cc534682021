from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace.models import Notification
from tests.factories import CompanyMemberFactory, StudentFactory

pytestmark = pytest.mark.django_db


def _notes(user, n: int, start: int = 0) -> list[Notification]:  # type: ignore[no-untyped-def]
    return [
        Notification.objects.create(
            user=user, key=f"k:{user.pk}:{i}", kind="bid_submitted", title=f"t{i}"
        )
        for i in range(start, start + n)
    ]


def test_lists_only_my_own_newest_first_with_the_unread_count(as_user):
    me, other = StudentFactory(), CompanyMemberFactory()
    mine = _notes(me, 3)
    _notes(other, 2)
    res = as_user(me).get("/api/v1/notifications/")
    assert res.status_code == 200
    body = res.json()
    assert [n["id"] for n in body["results"]] == [n.pk for n in reversed(mine)]
    assert (body["count"], body["unread_count"]) == (3, 3)


def test_mark_one_read_then_all(as_user):
    me = StudentFactory()
    first, second, third = _notes(me, 3)
    client = as_user(me)
    res = client.post(f"/api/v1/notifications/{first.pk}/read/")
    assert res.status_code == 200 and res.json()["read_at"] is not None
    assert (
        client.post(f"/api/v1/notifications/{first.pk}/read/").json()["read_at"]
        == res.json()["read_at"]
    )
    assert client.get("/api/v1/notifications/").json()["unread_count"] == 2
    assert [
        n["id"] for n in client.get("/api/v1/notifications/?unread=true").json()["results"]
    ] == [
        third.pk,
        second.pk,
    ]
    assert client.post("/api/v1/notifications/read-all/").json() == {"marked": 2}
    assert client.get("/api/v1/notifications/").json()["unread_count"] == 0
    assert client.post("/api/v1/notifications/read-all/").json() == {"marked": 0}


def test_someone_elses_notification_is_not_found(as_user):
    theirs = _notes(CompanyMemberFactory(), 1)[0]
    res = as_user(StudentFactory()).post(f"/api/v1/notifications/{theirs.pk}/read/")
    assert res.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_anonymous_gets_401(api):
    assert api.get("/api/v1/notifications/").status_code == 401


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_bad_unread_filter_is_a_400(as_user, value):
    res = as_user(StudentFactory()).get(f"/api/v1/notifications/?unread={value}")
    assert res.status_code == 400
    assert "unread" in res.json()["errors"]


def test_query_count_does_not_grow_with_the_page(as_user):
    me = StudentFactory()
    client = as_user(me)
    _notes(me, 2)
    with CaptureQueriesContext(connection) as small:
        assert len(client.get("/api/v1/notifications/").json()["results"]) == 2
    _notes(me, 15, start=2)
    with CaptureQueriesContext(connection) as large:
        assert len(client.get("/api/v1/notifications/").json()["results"]) == 17
    assert len(small) == len(large) == 3
