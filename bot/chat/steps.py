"""The one step-machine mechanism every multi-step flow uses (no Telegram, no SQL).

A flow (interest, announce, invitation) keeps where a person is in a typed, frozen state class
with a class-level `FLOW` name and `to_dict` / `from_dict`; `FlowStore` reads and writes it in
storage's `flow_state` row (one row per person, so starting a flow leaves any other). Each state
class writes exactly the JSON its flow stored before this module existed (same keys in the same
order, same flow names; tests/general/test_flow_state.py), so rows in deployed databases keep
loading and an older release can still read what this one writes.

Resume and cancel: `load` gives the state only when the person is in *this* flow, so a button or
text of one flow never acts on another's state (the caller treats None as "stale"); `save`
writes it after every step, so a flow resumes where it was after a restart; `clear` ends the
flow only if it is this one (/cancel ends whichever flow it is, through storage directly).
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar


class FlowState(Protocol):
    """What a flow's state class offers (a frozen dataclass in practice)."""

    FLOW: ClassVar[str]

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self: ...


class FlowRows(Protocol):
    """The three flow_state methods of bot.storage.Storage."""

    async def get_flow(self, user_key: str) -> tuple[str, dict[str, Any]] | None: ...

    async def set_flow(self, user_key: str, flow: str, data: dict[str, Any]) -> None: ...

    async def clear_flow(self, user_key: str) -> bool: ...


S = TypeVar("S", bound=FlowState)


class FlowStore(Generic[S]):
    """One flow's state for each person, typed, under that flow's name only."""

    def __init__(self, rows: FlowRows, state: type[S]) -> None:
        self._rows = rows
        self._state = state

    @property
    def flow(self) -> str:
        return self._state.FLOW

    async def load(self, user_key: str) -> S | None:
        """Where the person is in this flow; None when they are in no flow or another one."""
        stored = await self._rows.get_flow(user_key)
        if stored is None or stored[0] != self.flow:
            return None
        return self._state.from_dict(stored[1])

    async def save(self, user_key: str, state: S) -> None:
        """Keep the state (after every step), replacing any flow the person was in."""
        await self._rows.set_flow(user_key, self.flow, state.to_dict())

    async def clear(self, user_key: str) -> bool:
        """End this flow (finished, cancelled, or no longer allowed); another flow stays."""
        stored = await self._rows.get_flow(user_key)
        if stored is None or stored[0] != self.flow:
            return False
        return await self._rows.clear_flow(user_key)
