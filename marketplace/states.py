"""The one state-machine implementation: a transition table, a guarded move, an event row.

Every lifecycle of the product (brief, bid, contract, milestone, escrow,
dispute, enrolment verification) declares one `StateMachine` beside its model
and moves only through `StateMachine.transition`, which

1. locks the row (`SELECT … FOR UPDATE`; a no-op on SQLite, which serialises
   writers) and re-reads its status, so a caller holding a stale copy gets a
   StateConflict instead of overwriting a concurrent move;
2. refuses a move the table does not allow (StateConflict → 409);
3. saves the new status with any other fields the caller changed;
4. writes one event row (who, from, to, when, a note).

`StateMachine.transition_many` does the same for a batch (a nightly job) with one
query per step instead of one per row.

Reading the table (`allowed`, `can`) is how policies tell a user what they may
do next without repeating the rules. Rows must be moved inside
`transaction.atomic()`: the lock, the save and the event row commit together.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import models, transaction

from marketplace.errors import StateConflict

M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class StateMachine(Generic[M]):
    """One lifecycle: `transitions[state]` is the set of states reachable from `state`.

    `event_model` gets one row per move with `<event_fk>=obj`, `from_status`,
    `to_status`, `actor` and `<note_field>`. `what` names the object in errors
    ("brief", "bid"…).
    """

    model: type[M]
    transitions: Mapping[str, frozenset[str]]
    event_model: type[models.Model]
    event_fk: str
    what: str
    status_field: str = "status"
    note_field: str = "note"
    states: frozenset[str] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        choices = {
            value for value, _ in self.model._meta.get_field(self.status_field).choices or ()
        }
        reachable = set().union(*self.transitions.values()) if self.transitions else set()
        known = set(self.transitions)
        unknown = (known | reachable) - choices if choices else set()
        if unknown:
            raise ValueError(f"{self.what}: states not among the field's choices: {unknown}")
        if reachable - known:
            raise ValueError(f"{self.what}: states without a row in the table: {reachable - known}")
        object.__setattr__(self, "states", frozenset(known))

    def allowed(self, state: str) -> frozenset[str]:
        """The states reachable in one move from `state` (empty for a final state)."""
        return self.transitions.get(state, frozenset())

    def sources(self, to: str) -> frozenset[str]:
        """The states from which one move reaches `to` (for filtering the rows a batch moves)."""
        return frozenset(state for state, targets in self.transitions.items() if to in targets)

    def can(self, obj: M, to: str) -> bool:
        """Whether `obj`, as the caller holds it, may move to `to`."""
        return to in self.allowed(getattr(obj, self.status_field))

    def check(self, obj: M, to: str) -> None:
        """Raise StateConflict when `obj` may not move to `to`."""
        current = getattr(obj, self.status_field)
        if to not in self.allowed(current):
            raise StateConflict(f"This {self.what} is {current} and cannot become {to}.")

    def transition(
        self,
        obj: M,
        to: str,
        *,
        actor: models.Model | None = None,
        note: str = "",
        update_fields: Iterable[str] = (),
    ) -> models.Model:
        """Move `obj` to `to`: lock its row, check, save, record. Returns the event row.

        `update_fields` are the other fields the caller changed on `obj` and
        wants saved with the status. Raises StateConflict (409) when the row's
        status in the database is not the one `obj` holds (moved meanwhile) or
        the table refuses the move. Must run inside `transaction.atomic()`.
        """
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError(f"A {self.what} moves inside transaction.atomic().")
        current = getattr(obj, self.status_field)
        stored = (
            type(obj)
            ._default_manager.select_for_update()
            .filter(pk=obj.pk)
            .values_list(self.status_field, flat=True)
            .first()
        )
        if stored != current:
            raise StateConflict(f"This {self.what} is now {stored}; reload it and try again.")
        self.check(obj, to)
        setattr(obj, self.status_field, to)
        obj.save(update_fields=[self.status_field, *update_fields])
        event_fields: dict[str, Any] = {
            self.event_fk: obj,
            "from_status": current,
            "to_status": to,
            "actor": actor,
            self.note_field: note,
        }
        return self.event_model._default_manager.create(**event_fields)

    def transition_many(
        self,
        objs: Sequence[M],
        to: str,
        *,
        actor: models.Model | None = None,
        note: str = "",
        update_fields: Iterable[str] = (),
    ) -> list[models.Model]:
        """Move many rows to `to` in a bounded number of queries; returns the event rows.

        For batch jobs: the rows are locked and re-read in one query, each is
        checked against the table (StateConflict, before anything is written,
        if one was moved meanwhile or may not move), then one bulk UPDATE saves
        the statuses (and `update_fields`, as `transition`) and one bulk INSERT
        writes an event row per object. Must run inside `transaction.atomic()`.
        """
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError(f"A {self.what} moves inside transaction.atomic().")
        if not objs:
            return []
        stored = dict(
            self.model._default_manager.select_for_update()
            .filter(pk__in=[obj.pk for obj in objs])
            .values_list("pk", self.status_field)
        )
        current = [getattr(obj, self.status_field) for obj in objs]
        for obj, held in zip(objs, current, strict=True):
            if stored.get(obj.pk) != held:
                raise StateConflict(
                    f"This {self.what} is now {stored.get(obj.pk)}; reload it and try again."
                )
            self.check(obj, to)
        for obj in objs:
            setattr(obj, self.status_field, to)
        self.model._default_manager.bulk_update(objs, [self.status_field, *update_fields])
        events = [
            self.event_model(
                **{
                    self.event_fk: obj,
                    "from_status": held,
                    "to_status": to,
                    "actor": actor,
                    self.note_field: note,
                }
            )
            for obj, held in zip(objs, current, strict=True)
        ]
        return self.event_model._default_manager.bulk_create(events)


def table(rows: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    """A transition table from plain sets: `table({"draft": {"open"}, "open": set()})`."""
    return {state: frozenset(targets) for state, targets in rows.items()}
