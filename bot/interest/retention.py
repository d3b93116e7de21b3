"""Registrations expire after the retention period; the resident is asked first (domain job).

`config.reminder_days` before expiry a reminder goes out through the outbox with "keep" and
"delete" buttons; a registration nobody kept is deleted at expiry and tallied as expired,
with everything that only served it (`Storage.remove_registration`). Each run also erases what
no longer serves anyone (`Storage.sweep_leftovers`) and checkpoints the WAL after erasing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.interest import buttons
from bot.interest.buttons import Action
from bot.interest.views import place_label
from bot.outbox import message as outbox
from bot.outbox.message import OutboxButton, OutboxMessage
from bot.services import Services
from bot.weeks import DAY, week_index

log = logging.getLogger("selvhjelp.events")
OUTBOX_KEEP_DAYS = 60  # invitations and announcements can be answered this long
MARKS_KEEP_DAYS = 1  # "coming" and "remind me" marks go this long after the meeting started


@dataclass(frozen=True)
class RetentionReport:
    reminded: int
    expired: int


async def run_retention(services: Services) -> RetentionReport:
    """Send due reminders and delete what has expired. Safe to call as often as you like."""
    storage, config, content = services.storage, services.config, services.content
    now = services.now()
    reminded = 0
    due = await storage.registrations_due_reminder(int(now + config.reminder_days * DAY))
    for reg in due:
        chat = await storage.resident_chat(reg.user_key)
        if chat is not None:
            lang = await storage.get_language(reg.user_key) or config.default_language
            days = max(1, round((reg.expires_at - now) / DAY))
            place = place_label(content, config, lang, reg.region_id, reg.municipality)
            keep = content.text(lang, "retention.keep", retention_days=config.retention_days)
            message = OutboxMessage.with_buttons(
                content.text(lang, "retention.reminder", place=place, days=days),
                [
                    [OutboxButton(keep, callback_data=buttons.data(Action.KEEP))],
                    [
                        OutboxButton(
                            content.text(lang, "retention.delete"),
                            callback_data=buttons.data(Action.DELETE),
                        )
                    ],
                ],
            )
            # One campaign per expiry date: a kept-and-later-due registration is asked again.
            await outbox.enqueue(
                storage, f"reminder:{reg.expires_at}", [(reg.user_key, chat, message)]
            )
            reminded += 1
        await storage.mark_reminded(reg.user_key)
    # Delivered messages are kept only as long as answers to them make sense.
    await storage.purge_outbox(int(now - OUTBOX_KEEP_DAYS * DAY))
    await storage.drop_expired_invite_notes(int(now))  # an admin's label for a dead link
    week = week_index(now, config.timezone)
    expired = 0
    for user_key in await storage.registrations_expired(int(now)):
        expired += await storage.remove_registration(user_key, week, "expired", checkpoint=False)
    # Marks of a meeting serve until it is over; a form left unfinished, one retention period.
    swept = await storage.sweep_leftovers(
        int(now - MARKS_KEEP_DAYS * DAY), int(now - config.retention_days * DAY)
    )
    if expired or swept:
        await storage.checkpoint()  # erased rows leave no copy in the WAL
    if reminded or expired:
        log.info("retention reminded=%d expired=%d", reminded, expired)
    return RetentionReport(reminded, expired)
