"""The interest flow's step machine (domain, no Telegram): which button each step accepts, how a
press changes the draft, and the storage writes that go with it.

A press is decided first (`decide`: reads only), so a forged or stale button changes nothing;
the handler acknowledges the press and only then are the writes made (`carry_out`, `register`,
`keep`). The draft is saved after every step, so the flow resumes after a restart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Literal

from bot.chat.steps import FlowStore
from bot.config import Config
from bot.interest.rules import (
    ELSEWHERE,
    FIELDS,
    TIMES,
    Draft,
    choose_place,
    choose_unlisted,
    from_registration,
    kinds,
    to_registration,
)
from bot.services import Services
from bot.storage import Registration, Storage
from bot.weeks import DAY, week_index

events = logging.getLogger("selvhjelp.events")

MoveKind = Literal[
    "start",  # "register interest" on a poster link's welcome; `value` is the municipality code
    "withdraw_ask",  # "withdraw" in /mine: ask first
    "withdraw",
    "mine",  # "no, keep it" on that question: show the registration again
    "keep",
    "delete",
    "step",  # the draft moved on (or back): save it and show its step
    "stale",  # a button of another step: show the step they are at
    "on_behalf",
    "unsure",
    "age_refused",
    "sober_refused",
    "change_menu",
    "cancelled",
    "save",  # the draft is complete and confirmed (or an edit is done): register it
]

# Which button actions each step accepts.
ALLOWED = {
    "entry": {"e"},
    # "l" at the age step: the button of the one combined age-and-sober question that came
    # before them ("Yes, that's right" to both), still on messages sent before the split.
    "age": {"a", "l"},
    "sober": {"l"},
    "place": {"r", "t", "u", "m", "o"},
    "typing": {"r", "t", "u", "m", "o"},
    "region": {"m", "ur", "r", "t", "u", "o"},
    "unlisted": {"ur", "o"},
    "kind": {"k"},
    "time": {"h"},
    "contact": {"c"},
    "summary": {"s", "x"},
}
ALLOWED_ANYWHERE = {a for actions in ALLOWED.values() for a in actions}
ENTRY_VALUES = ("yes", "other", "unsure")
AGE_VALUES = ("yes", "no")
LIMIT_VALUES = ("ok", "no")
SUMMARY_VALUES = ("ok", "edit", "cancel")
TYPED_PLACE_STEPS = ("place", "typing", "region")
# Presses on the registration itself (withdraw, or answer the retention reminder).
ON_REGISTRATION: dict[str, MoveKind] = {
    "w": "withdraw_ask",
    "wy": "withdraw",
    "wn": "mine",
    "keep": "keep",
    "del": "delete",
}
# Moves that end the flow without saving anything.
ENDS_FLOW = ("on_behalf", "unsure", "age_refused", "sober_refused", "cancelled")


@dataclass(frozen=True)
class Move:
    """What a valid press does; `draft` is the flow afterwards (unused by moves that end it)."""

    kind: MoveKind
    draft: Draft = field(default_factory=Draft)
    value: str = ""


async def load_draft(storage: Storage, key: str) -> Draft | None:
    return await FlowStore(storage, Draft).load(key)


async def save_draft(storage: Storage, key: str, draft: Draft) -> None:
    await FlowStore(storage, Draft).save(key, draft)


async def open_flow(storage: Storage, key: str, suggested: str | None) -> Registration | Draft:
    """What is registered; else the flow where they left it, or anew (always anew when they
    came through a poster link suggesting a place)."""
    reg = await storage.get_registration(key)
    if reg is not None:
        return reg
    draft = await load_draft(storage, key)
    if draft is None or draft.step == "entry" or suggested is not None:
        draft = Draft(suggested=suggested)
        await save_draft(storage, key, draft)
    return draft


async def start_typing(storage: Storage, key: str, draft: Draft) -> Draft:
    """After a typed place the flow waits for a pick among the matches (or another try)."""
    typing = replace(draft, step="typing")
    await save_draft(storage, key, typing)
    return typing


def reopen(draft: Draft, question: str) -> Draft:
    """Go back to one question (one of FIELDS); the others keep their answers."""
    if question == "place":
        return replace(draft, step="place")
    cleared = {"kind": {"kind": None}, "time": {"time": None}, "contact": {"contact": None}}
    return replace(draft, step=question, **cleared[question])  # type: ignore[arg-type]


def apply_press(config: Config, draft: Draft, action: str, value: str) -> Draft | None:
    """The draft after a valid answer, or None if the value is not a real choice."""
    if action == "r" and config.region(value):
        return replace(draft, step="region", region_id=value)
    if action == "t":
        return replace(draft, step="typing")
    if action == "u":
        return replace(draft, step="unlisted")
    if action == "m":
        municipality = config.municipality_by_code(value)
        if municipality is None:
            return None
        chosen = choose_place(draft, municipality)
        return replace(chosen, step=chosen.next_step())
    if action == "ur" and config.region(value):
        chosen = choose_unlisted(draft, value)
        return replace(chosen, step=chosen.next_step())
    if action == "o" and not value:  # somewhere in Norway outside the configured regions
        chosen = choose_unlisted(draft, ELSEWHERE)
        return replace(chosen, step=chosen.next_step())
    if action == "k" and value in kinds(config):
        chosen = replace(draft, kind=value)
        return replace(chosen, step=chosen.next_step())
    if action == "h" and value in TIMES:
        chosen = replace(draft, time=value)
        return replace(chosen, step=chosen.next_step())
    if action == "c" and value in ("yes", "no"):
        chosen = replace(draft, contact=value == "yes")
        return replace(chosen, step=chosen.next_step())
    if action == "x" and value in FIELDS:
        return reopen(draft, value)
    return None


async def decide(
    storage: Storage, config: Config, key: str, action: str, value: str
) -> Move | None:
    """What an `i:<action>[:<value>]` press does, checked against the saved step; None when it
    is forged or about something that no longer exists. Writes nothing."""
    if action == "start":
        return Move("start", value=value) if config.municipality_by_code(value) else None
    if action in ON_REGISTRATION:
        if await storage.get_registration(key) is None or value:
            return None
        return Move(ON_REGISTRATION[action])
    draft = await load_draft(storage, key)
    if action == "x" and (draft is None or draft.edit):
        # "Change" on /mine: always from what is registered, wherever an earlier change was
        # left (an old change is never a reason to refuse the button just shown).
        reg = await storage.get_registration(key)
        if reg is not None and value in FIELDS:
            return Move("step", reopen(from_registration(reg, value), value))
    if draft is None or action not in ALLOWED_ANYWHERE:
        return None
    if action not in ALLOWED.get(draft.step, set()):
        return Move("stale", draft)
    if action == "e" and value in ENTRY_VALUES:
        if value == "yes":
            return Move("step", replace(draft, step="age"))
        return Move("on_behalf" if value == "other" else "unsure")
    valid = {"a": AGE_VALUES, "l": LIMIT_VALUES, "s": SUMMARY_VALUES}
    if action in valid and value not in valid[action]:
        return None
    if action == "a":
        if value == "yes":
            return Move("step", replace(draft, step="sober"))
        return Move("age_refused")
    if action == "l" and draft.step == "age":  # the combined question's button
        if value == "ok":
            return Move("step", replace(draft, step="place"))
        return Move("stale", draft)  # "no" to both: ask the two questions one at a time
    if action == "l":
        return (
            Move("step", replace(draft, step="place")) if value == "ok" else Move("sober_refused")
        )
    if action == "s":
        if value == "ok" and draft.complete:
            return Move("save", draft)
        return Move("change_menu", draft) if value == "edit" else Move("cancelled")
    applied = apply_press(config, draft, action, value)
    if applied is None:
        return None
    return Move("save" if applied.edit and applied.step == "summary" else "step", applied)


async def carry_out(services: Services, key: str, move: Move) -> None:
    """The writes of a move that steps, ends the flow or removes the registration (saving and
    keeping a registration have their own functions)."""
    storage = services.storage
    if move.kind == "step":
        await save_draft(storage, key, move.draft)
    elif move.kind in ENDS_FLOW:
        await storage.clear_flow(key)
    elif move.kind in ("withdraw", "delete"):
        week = week_index(services.now(), services.config.timezone)
        await storage.remove_registration(key, week, "withdrawn")
        if move.kind == "withdraw":
            await storage.clear_flow(key)
            events.info("interest_withdrawn")


async def register(
    services: Services, key: str, chat_id: int, draft: Draft, lang: str
) -> Registration:
    """Save a complete draft as their registration (new or changed) and end the flow."""
    storage = services.storage
    previous = await storage.get_registration(key)
    reg = to_registration(draft, key, services.now(), services.config, previous)
    await storage.ensure_resident(key, services.cipher.encrypt(chat_id, key))
    if await storage.get_language(key) is None:
        # Reminders and invitations must reach them in the language they registered in.
        await storage.set_language(key, lang, chosen=False)
    week = week_index(services.now(), services.config.timezone)
    await storage.save_registration(reg, week)
    await storage.clear_flow(key)
    events.info("interest_saved edit=%s", draft.edit)
    return reg


async def keep(services: Services, key: str) -> int | None:
    """ "Keep" on the retention reminder: a new retention period from now; the new expiry, or
    None when there is no registration any more."""
    expires = int(services.now()) + services.config.retention_days * DAY
    return await services.storage.extend_registration(key, expires)
