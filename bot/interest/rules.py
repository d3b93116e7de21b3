"""Registering interest in a group (domain, no Telegram): the flow's steps and their rules.

The flow is data: a dict stored in `flow_state` after every step, so a person can leave and come
back, and a restart of the bot loses nothing. Only button values are kept (region id,
municipality name, kind, time, contact), never free text, names, phone numbers or ages.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

from bot.config import Config, Municipality
from bot.records import Registration
from bot.weeks import DAY

FLOW = "interest"
# The region id of a place outside every configured region ("somewhere else in Norway"); stored
# like a municipality that is not listed (municipality ''), so admins see it as such.
ELSEWHERE = "elsewhere"
TIMES = ("day", "evening", "either")
FIELDS = ("place", "kind", "time", "contact")


@dataclass(frozen=True)
class Draft:
    """The answers so far, and where the person is (the flow's state, bot.chat.steps)."""

    FLOW: ClassVar[str] = FLOW

    step: str = "entry"  # entry, age, sober, place, region, typing, unlisted, kind, time,
    #                      contact, summary; `edit` marks a change to a saved registration
    #                      from /mine
    region_id: str | None = None
    municipality: str | None = None  # config name; '' = not listed in the region
    kind: str | None = None
    time: str | None = None
    contact: bool | None = None
    edit: bool = False
    suggested: str | None = None  # municipality code from the poster link they came through

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Draft:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if known.get("step") == "limits":  # saved before age and sobriety became two questions
            known["step"] = "age"
        return cls(**known)

    @property
    def complete(self) -> bool:
        return None not in (self.region_id, self.municipality, self.kind, self.time, self.contact)

    def next_step(self) -> str:
        """The first unanswered step after the place, or the summary."""
        for step, value in (("kind", self.kind), ("time", self.time), ("contact", self.contact)):
            if value is None:
                return step
        return "summary"


def kinds(config: Config) -> tuple[str, ...]:
    """Group kinds a resident may choose: open, each configured theme, no preference."""
    return ("open", *config.themes, "any")


def choose_place(draft: Draft, municipality: Municipality) -> Draft:
    return replace(draft, region_id=municipality.region_id, municipality=municipality.name)


def choose_unlisted(draft: Draft, region_id: str) -> Draft:
    return replace(draft, region_id=region_id, municipality="")


# Typed municipality names are looked up by bot.places (config.places.typed / near).


def to_registration(
    draft: Draft, user_key: str, now: float, config: Config, previous: Registration | None
) -> Registration:
    """A complete draft as a registration that expires after the retention period."""
    if not draft.complete:
        raise ValueError("draft is not complete")
    created = previous.created_at if previous else int(now)
    return Registration(
        user_key=user_key,
        municipality=str(draft.municipality),
        region_id=str(draft.region_id),
        group_kind=str(draft.kind),
        time_pref=str(draft.time),
        contact_ok=bool(draft.contact),
        created_at=created,
        updated_at=int(now),
        expires_at=int(now + config.retention_days * DAY),
        reminded_at=None,
    )


def from_registration(reg: Registration, step: str) -> Draft:
    """A draft to change one answer of a saved registration (from /mine)."""
    return Draft(
        step=step,
        region_id=reg.region_id,
        municipality=reg.municipality,
        kind=reg.group_kind,
        time=reg.time_pref,
        contact=reg.contact_ok,
        edit=True,
    )
