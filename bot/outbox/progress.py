"""Live progress of a fan-out for the person who started it ("sent 1,200 of 5,000").

A handler that enqueues a campaign registers the message to keep up to date; the Sender calls
`report_progress` as rows go out and once more when nothing is pending, which turns the message
into the final report (sent, blocked, failed). Watchers live in memory: after a restart the
sending resumes but the old progress message is not updated any more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Bot
from telegram.error import TelegramError

from bot.services import Services

log = logging.getLogger("selvhjelp.progress")


@dataclass(frozen=True)
class Watcher:
    chat_id: int
    message_id: int
    lang: str


def watch(services: Services, campaign: str, watcher: Watcher) -> None:
    services.campaign_watchers[campaign] = watcher


async def report_progress(
    bot: Bot, services: Services, campaign: str, counts: dict[str, int]
) -> None:
    """Edit the watcher's message with the campaign's counts; the final report ends watching."""
    watcher = services.campaign_watchers.get(campaign)
    if watcher is None:
        return
    content = services.content

    # No counts: how many were sent, blocked or failed would tell an office how many follow
    # meetings in the chosen places (docs/THREAT_MODEL.md). Only "sending" and "done".
    if counts.get("pending", 0):
        return
    text = content.text(watcher.lang, "announce.report")
    services.campaign_watchers.pop(campaign, None)
    try:
        await bot.edit_message_text(text, chat_id=watcher.chat_id, message_id=watcher.message_id)
    except TelegramError as exc:  # e.g. "message is not modified": progress is best effort
        log.debug("progress message not updated: %s", type(exc).__name__)
