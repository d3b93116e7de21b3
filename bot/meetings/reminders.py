"""Reminders the day before an information meeting, for everyone who pressed "Remind me".

Called from the scheduler's tick. Safe across restarts and repeated ticks: a reminder goes into
the outbox under `meeting-reminder:<id>:<starts_at>` (UNIQUE per recipient) before its mark
is flagged as reminded, so a crash between the two only repeats an enqueue the outbox ignores.
A cancelled meeting is never reminded of: this job skips it, cancelling drops reminders already
queued (`Storage.drop_meeting_queue`), and the sender re-checks right before each request
(`Storage.begin_send`), which also drops a reminder of a start time the meeting no longer has.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from bot.meetings.announcements import recipient_sign
from bot.meetings.views import reminder_message
from bot.outbox import message as outbox
from bot.services import Services

log = logging.getLogger("selvhjelp.events")

REMIND_AHEAD = 24 * 3600  # seconds before the start


async def enqueue_meeting_reminders(services: Services) -> int:
    """Queue the reminders that are due now; returns how many rows were added."""
    storage, config, content = services.storage, services.config, services.content
    due = await storage.due_meeting_reminders(int(services.now()), ahead=REMIND_AHEAD)
    by_meeting: dict[int, list[tuple[str, bytes]]] = defaultdict(list)
    for meeting_id, user_key, chat_enc in due:
        by_meeting[meeting_id].append((user_key, chat_enc))
    added = 0
    for meeting_id, people in by_meeting.items():
        meeting = await storage.get_meeting(meeting_id)
        if meeting is None or meeting.status != "active":  # cancelled meanwhile: never remind
            continue
        rows: list[outbox.OutboxRowDraft] = []
        for user_key, chat_enc in people:
            lang = await storage.get_language(user_key) or config.default_language
            sign = recipient_sign(services, user_key, chat_enc)  # buttons only they can press
            message = reminder_message(content, config, lang, meeting, sign)
            rows.append((user_key, chat_enc, message))
        # The start time is part of the campaign: a moved meeting is reminded of again.
        campaign = f"meeting-reminder:{meeting_id}:{meeting.starts_at}"
        added += await outbox.enqueue(storage, campaign, rows)
        for user_key, _ in people:
            await storage.mark_reminder_sent(meeting_id, user_key)
    if added:
        log.info("meeting_reminders queued=%d", added)
        services.outbox_changed()
    return added
