"""What a user may do next with an object, and why not: the shape every policy answers in.

Each app declares one policy per object beside its services
(`projects.briefs.policies.brief_actions`, `…bid_actions`,
`projects.contracts.policies.contract_actions`, `…milestone_actions`). A policy
combines who the user is (the app's `permissions`), the object's state machine
(`StateMachine.can`) and the other preconditions the services check, and
answers `Actions`: one `Action` per name, allowed or refused with a short
translatable reason. The API serialises them (`actions` on each object), the
templates show a button when an action is allowed and, when it is refused for a
reason worth telling (`offered`), a disabled button with the reason; the
services still check everything again under their locks.

A policy reads only what the object holds (prefetched relations, annotations)
and what the caller passes in, so a list computes it for every row without a
query per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise


@dataclass(frozen=True)
class Action:
    """One thing a user may or may not do now.

    `reason` (a lazily translated sentence) says why it is refused; it is empty
    when allowed. `offered` tells the pages whether to show the control: an
    allowed action always is; a refused one is when the refusal is worth
    telling (the object's state allows the move but something else blocks it,
    e.g. a milestone awaiting funding on a cancelled contract). An action
    that is not the user's to take, or that the object's state has left
    behind, is refused and not offered.
    """

    name: str
    allowed: bool
    reason: str | Promise = ""
    offered: bool = False

    def as_dict(self) -> dict[str, Any]:
        """`{name, allowed, reason}` as the API writes it, the reason in the active language."""
        return {"name": self.name, "allowed": self.allowed, "reason": str(self.reason)}


def allow(name: str) -> Action:
    return Action(name, True, "", True)


def refuse(name: str, reason: str | Promise) -> Action:
    """Refused, and not worth a control: not the user's action, or past in the lifecycle."""
    return Action(name, False, reason, False)


def block(name: str, reason: str | Promise) -> Action:
    """Refused for now for a reason the user should read (shown beside a disabled control)."""
    return Action(name, False, reason, True)


class Actions(Mapping[str, Action]):
    """The actions of one object for one user, by name, in the policy's order.

    Templates read `actions.fund.allowed` and `actions.fund.reason`.
    """

    def __init__(self, actions: Iterable[Action]) -> None:
        self._by_name = {action.name: action for action in actions}

    def __getitem__(self, name: str) -> Action:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def __repr__(self) -> str:
        return f"Actions({list(self._by_name.values())!r})"

    def allowed(self, name: str) -> bool:
        return self._by_name[name].allowed

    def as_list(self) -> list[dict[str, Any]]:
        """The API's `actions` field: `[{name, allowed, reason}, …]`."""
        return [action.as_dict() for action in self._by_name.values()]
