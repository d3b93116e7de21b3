"""How an information meeting looks to residents: the announcement, its buttons, the reminder,
and the change and cancellation notices (outbox payloads, text from flows/).

Resident buttons are `mt:<meeting id>:<action>` with action ics (calendar file), rem (remind me),
go (I'm coming) or stop (stop these messages).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.content import Content
from bot.storage import Meeting
from bot.when import format_when

ACTIONS = ("ics", "rem", "go", "stop")


def meeting_time(meeting: Meeting, config: Config) -> datetime:
    return datetime.fromtimestamp(meeting.starts_at, ZoneInfo(config.timezone))


def meeting_text(content: Content, config: Config, lang: str, meeting: Meeting) -> str:
    """The meeting's facts, one per line, as every message about it shows them."""
    lines = [
        content.text(lang, "meetings.card.title", title=meeting.title),
        content.text(
            lang,
            "meetings.card.when",
            when=format_when(meeting_time(meeting, config), lang, content, config.timezone),
        ),
        content.text(lang, "meetings.card.place", place=meeting.place),
    ]
    if meeting.link:
        lines.append(content.text(lang, "meetings.card.link", link=meeting.link))
    if meeting.description:
        lines.append("")
        lines.append(meeting.description)
    return "\n".join(lines)


def _buttons(content: Content, lang: str, meeting_id: int) -> list[list[dict[str, str]]]:
    def button(action: str) -> dict[str, str]:
        label = content.text(lang, f"meetings.button.{action}")
        return {"text": label, "callback_data": f"mt:{meeting_id}:{action}"}

    return [[button("ics")], [button("rem"), button("go")], [button("stop")]]


def announcement_payload(
    content: Content, config: Config, lang: str, meeting: Meeting
) -> dict[str, Any]:
    """The announcement as subscribers (and coordinators there) receive it."""
    text = "\n\n".join(
        (
            content.text(lang, "meetings.announcement.heading"),
            meeting_text(content, config, lang, meeting),
            content.text(lang, "meetings.announcement.footer"),
        )
    )
    return {"text": text, "buttons": _buttons(content, lang, meeting.id)}


def _notice(
    content: Content, config: Config, lang: str, meeting: Meeting, heading: str, with_ics: bool
) -> dict[str, Any]:
    text = "\n\n".join((content.text(lang, heading), meeting_text(content, config, lang, meeting)))
    return {"text": text, "buttons": _buttons(content, lang, meeting.id)[:1] if with_ics else []}


def change_payload(
    content: Content, config: Config, lang: str, meeting: Meeting
) -> dict[str, Any]:
    """Told to everyone who pressed "I'm coming" or "Remind me" when the meeting changes."""
    return _notice(content, config, lang, meeting, "meetings.changed.heading", with_ics=True)


def cancel_payload(
    content: Content, config: Config, lang: str, meeting: Meeting
) -> dict[str, Any]:
    """Told to the same people when the meeting is cancelled."""
    return _notice(content, config, lang, meeting, "meetings.cancelled.heading", with_ics=False)


def reminder_payload(
    content: Content, config: Config, lang: str, meeting: Meeting
) -> dict[str, Any]:
    """Sent the day before to those who pressed "Remind me"."""
    return _notice(content, config, lang, meeting, "meetings.reminder.heading", with_ics=True)
