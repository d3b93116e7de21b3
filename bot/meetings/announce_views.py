"""What /announce shows an office: questions, the target toggles, the preview (with the
announcement exactly as residents will see it), the list of upcoming meetings and the cancel
confirmation. Text from flows/; office buttons carry `an:...` data (bot.meetings.buttons)
signed for that office.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.answers import buttons as faq_buttons
from bot.chat.rendering import Rendered, small_count
from bot.config import Config, Region
from bot.content import Content
from bot.meetings import views as meeting_views
from bot.meetings.announcements import EDITABLE, SKIPPABLE
from bot.meetings.buttons import AnnounceAction as Do
from bot.meetings.buttons import announce
from bot.meetings.when import format_when
from bot.storage import Meeting


@dataclass(frozen=True)
class Screen:
    """Who the views are for: the office's language, and how to sign its buttons."""

    content: Content
    config: Config
    lang: str
    # (label, data) -> a button whose data only this office can send back.
    button: Callable[[str, str], InlineKeyboardButton]

    def text(self, key: str, **values: Any) -> str:
        return self.content.text(self.lang, key, **values)

    def count(self, n: int) -> str:
        """A count of people as offices may see it (small counts suppressed)."""
        return small_count(self.content, self.config, self.lang, n)

    def row(self, key: str, data: str, **values: Any) -> list[InlineKeyboardButton]:
        return [self.button(self.text(key, **values), data)]


def notice(screen: Screen, key: str, **values: Any) -> Rendered:
    """A plain message: one text from flows/, no buttons."""
    return Rendered(screen.text(key, **values))


def progress_start(screen: Screen) -> str:
    """The message bot.outbox.progress turns into the final report when the announcement is out."""
    return screen.text("announce.progress")


def region_choice(screen: Screen, region_ids: list[str]) -> Rendered:
    """Which of its regions an office with several announces in."""
    rows = []
    for region_id in region_ids:
        region = screen.config.region(region_id)
        if region is not None:
            rows.append([screen.button(region.name, announce(Do.REGION, region.id))])
    return Rendered(screen.text("announce.choose_region"), InlineKeyboardMarkup(rows))


def question(screen: Screen, step: str) -> Rendered:
    """The prompt for a text step; the optional ones have a skip button."""
    if step in SKIPPABLE:
        keyboard = InlineKeyboardMarkup([screen.row("announce.skip", announce(Do.SKIP, step))])
        return Rendered(screen.text(f"announce.ask_{step}"), keyboard)
    return notice(screen, f"announce.ask_{step}")


def targets_view(screen: Screen, region: Region, chosen: set[str]) -> Rendered:
    """The region's municipalities to toggle (ticked when chosen), all, and done."""
    rows = [
        [
            screen.button(
                ("✅ " if m.name in chosen else "▫️ ") + m.name, announce(Do.TARGET, m.code)
            )
        ]
        for m in region.municipalities
    ]
    rows.append(screen.row("announce.all", announce(Do.TARGET_ALL)))
    rows.append(screen.row("announce.done", announce(Do.TARGETS_DONE)))
    text = screen.text("announce.ask_targets", region=region.name)
    return Rendered(text, InlineKeyboardMarkup(rows))


def preview(screen: Screen, meeting: Meeting) -> tuple[Rendered, ...]:
    """Three messages: who will receive it (never how many), the announcement as residents
    will see it
    (its buttons only lead to the menu here), and send / edit a field / cancel."""
    shown = meeting_views.announcement_message(screen.content, screen.config, screen.lang, meeting)
    inert = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.text, callback_data=faq_buttons.MENU) for b in row]
            for row in shown.buttons
        ]
    )
    rows = [screen.row("announce.send", announce(Do.SEND))]
    rows += [screen.row(f"announce.edit_{f}", announce(Do.EDIT, f)) for f in EDITABLE]
    rows.append(screen.row("announce.cancel", announce(Do.CANCEL)))
    return (
        notice(screen, "announce.preview_intro"),
        Rendered(shown.text, inert),
        Rendered(screen.text("announce.confirm"), InlineKeyboardMarkup(rows)),
    )


PLACE_CHARS = 24  # of a meeting's place in its list buttons: enough to tell meetings apart


def short_place(place: str) -> str:
    """ "Lyngseidet samfunnshus, Storgata 1" -> "Lyngseidet samfunnshus": up to the first comma,
    cut with an ellipsis beyond PLACE_CHARS."""
    head = place.split(",")[0].strip() or place.strip()
    return head if len(head) <= PLACE_CHARS else head[: PLACE_CHARS - 1].rstrip() + "…"


def button_label(screen: Screen, starts: datetime, place: str, with_time: bool) -> str:
    """What a list button names a meeting by: "12.03 Lyngseidet" / "12 Mar Lyngseidet", with
    the time too ("12.03 kl. 18.00 Lyngseidet") when two meetings share a day and place."""
    key = "announce.button_meeting_time" if with_time else "announce.button_meeting"
    month = screen.text(f"announce.month_short.{starts.month}")
    return screen.text(
        key,
        day=starts.day,
        month=starts.month,
        month_short=month,
        hour=starts.hour,
        minute=starts.minute,
        place=short_place(place),
    )


def list_view(screen: Screen, listed: list[tuple[Meeting, dict[str, int] | None]]) -> Rendered:
    """Upcoming meetings with anonymous counts, and change / cancel buttons for active ones
    named by date and place (a title alone, cut off, could not tell them apart)."""
    tz = ZoneInfo(screen.config.timezone)
    lines, rows = [screen.text("announce.list_heading")], []
    labels = [
        button_label(screen, datetime.fromtimestamp(m.starts_at, tz), m.place, False)
        for m, counts in listed
        if counts is not None
    ]
    for m, counts in listed:
        starts = datetime.fromtimestamp(m.starts_at, tz)
        when = format_when(starts, screen.lang, screen.content, screen.config.timezone)
        if counts is None:  # cancelled
            lines.append(screen.text("announce.list_cancelled", when=when, title=m.title))
            continue
        lines.append(
            screen.text(
                "announce.list_line",
                when=when,
                title=m.title,
                place=m.place,
                coming=screen.count(counts["coming"]),
                remind=screen.count(counts["remind"]),
            )
        )
        label = button_label(screen, starts, m.place, False)
        if labels.count(label) > 1:
            label = button_label(screen, starts, m.place, True)
        rows.append(screen.row("announce.change", announce(Do.CHANGE, m.id), meeting=label))
        cancel = announce(Do.CANCEL_MEETING, m.id)
        rows.append(screen.row("announce.cancel_meeting", cancel, meeting=label))
    if len(lines) == 1:
        return notice(screen, "announce.list_none")
    return Rendered("\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)


def cancel_confirm(screen: Screen, meeting: Meeting) -> Rendered:
    """Asks before cancelling: those who signed up will be told."""
    rows = [
        screen.row("announce.cancel_yes", announce(Do.CANCEL_YES, meeting.id)),
        screen.row("announce.cancel_no", announce(Do.CANCEL_NO)),
    ]
    text = screen.text("announce.cancel_confirm", title=meeting.title)
    return Rendered(text, InlineKeyboardMarkup(rows))
