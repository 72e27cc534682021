"""Path converters of the API routes."""

from __future__ import annotations

# The largest id a BIGINT primary key can hold (PostgreSQL and SQLite alike).
MAX_ID = 2**63 - 1


class IdConverter:
    """`<id:pk>`: a row id, digits up to MAX_ID; a larger number matches no route (404).

    Django's `<int:…>` takes any number of digits, and a filter on a foreign key
    with one too large for the column failed in the database (500) instead of
    finding nothing.
    """

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        number = int(value)  # ValueError past 4300 digits: no match as well
        if number > MAX_ID:
            raise ValueError(f"{value} is larger than any id")
        return number

    def to_url(self, value: int) -> str:
        return str(value)
