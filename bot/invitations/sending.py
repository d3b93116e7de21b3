"""Relayed invitations (domain, no Telegram): who gets one, queueing it into the outbox, the
answers, and sharing a resident's contact with the coordinator when they ask for it.

The coordinator only ever learns counts. An identity crosses over in one place only,
`share_contact`, and only because the resident pressed "Yes, share" themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from bot.config import Municipality
from bot.digest import snapshots
from bot.digest.figures import OTHER, PlaceCounts, PlaceFigures, place_figures
from bot.invitations.views import ANSWERS, resident_view, share_notice
from bot.outbox import message as outbox
from bot.roles.lookup import Roles, key_covers
from bot.services import Services
from bot.storage import Invitation

events = logging.getLogger("selvhjelp.events")

FLOW = "invitation"


@dataclass(frozen=True)
class InvitationDraft:
    """Where a coordinator is in composing an invitation (bot.chat.steps); stored as the JSON
    the flow has always stored: step (place, audience, text, confirm), then the municipality,
    the audience once chosen (kind null = everyone waiting, and its count) and the text."""

    FLOW: ClassVar[str] = FLOW

    step: str
    municipality: str | None = None
    kind: str | None = None  # None: everyone waiting, whatever kind of group
    # How many the chosen audience is, as the day's snapshot shows it: a number, or a word for
    # a count too small to show (bot.digest.figures: "few", "hidden").
    count: int | str | None = None
    text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"step": self.step}
        if self.municipality is not None:
            data["municipality"] = self.municipality
        if self.count is not None:  # the audience is chosen: kind is stored even when null
            data.update(kind=self.kind, count=self.count)
        if self.text is not None:
            data["text"] = self.text
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InvitationDraft:
        kind, count, text = data.get("kind"), data.get("count"), data.get("text")
        municipality = data.get("municipality")
        return cls(
            step=str(data.get("step", "")),
            municipality=None if municipality is None else str(municipality),
            kind=None if kind is None else str(kind),
            count=count if count is None or isinstance(count, int) else str(count),
            text=None if text is None else str(text),
        )


def campaign(invitation_id: int) -> str:
    """The outbox campaign an invitation is relayed under."""
    return f"invitation:{invitation_id}"


async def recipients(
    services: Services, m: Municipality, kind: str | None
) -> list[tuple[str, bytes]]:
    """(user key, encrypted chat) of everyone waiting in `m` who accepts messages, for one kind
    of group (people with no preference included) or, with None, for all."""
    return await services.storage.contactable_in(m.region_id, m.name, kind)


async def figures(services: Services, m: Municipality) -> PlaceFigures:
    """The day's figures for the place, exactly as the coordinator's digest shows them."""
    snap = await snapshots.today(services)
    place = (m.region_id, m.name)
    return place_figures(place, snap.counts.get(place, PlaceCounts()), services.config, snap.week)


def kinds_shown(figs: PlaceFigures) -> list[str]:
    """The kinds of group an invitation may be narrowed to: those the digest shows a count
    for (people with no preference get every narrowed invitation, so they are no audience)."""
    return [kind for kind, _ in figs.by_kind or () if kind not in ("any", OTHER)]


async def send_draft(
    services: Services,
    sender_key: str,
    sender_chat_id: int,
    m: Municipality,
    kind: str | None,
    text: str,
) -> int:
    """Store the invitation and put one outbox row per recipient (each in their language);
    returns how many were queued. The draft is claimed first: if anything below fails, a second
    press finds no draft and cannot create a second invitation (nobody gets it twice)."""
    storage = services.storage
    await storage.clear_flow(sender_key)
    sender_chat = services.cipher.encrypt(sender_chat_id, sender_key)
    invitation_id = await storage.create_invitation(sender_key, m.name, kind, text, sender_chat)
    rows: list[outbox.OutboxRowDraft] = []
    for user_key, chat_enc in await recipients(services, m, kind):
        lang = await storage.get_language(user_key) or services.config.default_language
        message = resident_view(services.content, lang, m.name, text, invitation_id)
        rows.append((user_key, chat_enc, message))
    added = await outbox.enqueue(storage, campaign(invitation_id), rows)
    services.outbox_changed()
    events.info("invitation_queued recipients=%d", added)
    return added


async def answers_to(
    services: Services, sender_key: str, roles: Roles
) -> list[tuple[Invitation, dict[str, int]]] | None:
    """The answer counts of a coordinator's recent invitations in the areas they still cover;
    None when they never sent one."""
    invitations = await services.storage.invitations_by(sender_key)
    if not invitations:
        return None
    return [
        (inv, await services.storage.invitation_counts(inv.id))
        for inv in invitations
        if roles.covers(inv.municipality)
    ]


async def was_sent_to(services: Services, invitation_id: int, user_key: str) -> bool:
    """Whether this invitation exists and was relayed to this person (answers from anyone
    else are refused)."""
    if await services.storage.get_invitation(invitation_id) is None:
        return False
    return await services.storage.is_recipient(campaign(invitation_id), user_key)


async def record_answer(
    services: Services, invitation_id: int, user_key: str, answer: str
) -> None:
    """Record or change a resident's answer (one of ANSWERS)."""
    if answer not in ANSWERS:
        raise ValueError(f"not an invitation answer: {answer!r}")
    await services.storage.answer_invitation(invitation_id, user_key, answer)


async def share_contact(
    services: Services,
    invitation_id: int,
    user_key: str,
    user_id: int,
    full_name: str,
    notify: Callable[[int, str], Awaitable[object]],
) -> str | None:
    """Tell the coordinator who sent the invitation how to reach this resident, through
    `notify(chat id, HTML text)`, once. Returns the text key to show the resident (None when
    the invitation is gone). Nothing is shared when the sender no longer holds the role."""
    storage = services.storage
    invitation = await storage.get_invitation(invitation_id)
    if invitation is None:
        return None
    chat_id = services.cipher.decrypt(invitation.sender_chat, invitation.sender_key)
    still_there = await key_covers(
        services.config,
        storage,
        services.user_key,
        invitation.sender_key,
        invitation.municipality,
    )
    if chat_id is None or not still_there:  # nobody holds that role any more: share nothing
        return "invitation.share_gone"
    sender_lang = (
        await storage.get_language(invitation.sender_key) or services.config.default_language
    )
    notice = share_notice(
        services.content, sender_lang, invitation.municipality, user_id, full_name
    )
    if not await storage.mark_shared(invitation_id, user_key):  # a double tap: told once
        return "invitation.shared"
    try:
        await notify(chat_id, notice)
    except Exception:  # the coordinator was not told: a later press may try again
        await storage.unmark_shared(invitation_id, user_key)
        raise
    events.info("invitation_contact_shared")
    return "invitation.shared"
