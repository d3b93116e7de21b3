"""How information meetings look to residents: the announcement, its buttons, the reminder,
the change and cancellation notices (outbox messages), the calendar file, and what /meetings
shows of the places a person follows (text from flows/, button data as bot.meetings.subscriptions
parses it).

Resident buttons are `mt:<meeting id>:<action>` with action ics (calendar file), rem (remind me),
go (I'm coming) or stop (stop these messages), signed for their recipient (`sign`, see
bot.meetings.announcements.recipient_sign) so that a borrowed or forged meeting id is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.chat.rendering import Rendered
from bot.config import Config, Municipality, Region
from bot.content import Content
from bot.meetings import buttons as codec
from bot.meetings.buttons import FollowAction as Follow
from bot.meetings.buttons import follow as _follow
from bot.meetings.calendar_file import ics_filename, meeting_ics
from bot.meetings.subscriptions import Place
from bot.meetings.when import format_when
from bot.outbox.message import OutboxButton, OutboxMessage
from bot.storage import Meeting

Sign = Callable[[str], str]  # callback data -> the same, signed for one recipient


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


def _buttons(
    content: Content, lang: str, meeting_id: int, sign: Sign | None = None
) -> list[list[OutboxButton]]:
    def button(action: str) -> OutboxButton:
        label = content.text(lang, f"meetings.button.{action}")
        data = codec.meeting(meeting_id, action)
        return OutboxButton(label, callback_data=sign(data) if sign else data)

    return [[button("ics")], [button("rem"), button("go")], [button("stop")]]


def announcement_message(
    content: Content, config: Config, lang: str, meeting: Meeting, sign: Sign | None = None
) -> OutboxMessage:
    """The announcement as subscribers (and coordinators there) receive it."""
    text = "\n\n".join(
        (
            content.text(lang, "meetings.announcement.heading"),
            meeting_text(content, config, lang, meeting),
            content.text(lang, "meetings.announcement.footer"),
        )
    )
    return OutboxMessage.with_buttons(text, _buttons(content, lang, meeting.id, sign))


def _notice(
    content: Content,
    config: Config,
    lang: str,
    meeting: Meeting,
    heading: str,
    with_ics: bool,
    sign: Sign | None,
) -> OutboxMessage:
    text = "\n\n".join((content.text(lang, heading), meeting_text(content, config, lang, meeting)))
    buttons = _buttons(content, lang, meeting.id, sign)[:1] if with_ics else []
    return OutboxMessage.with_buttons(text, buttons)


def change_message(
    content: Content, config: Config, lang: str, meeting: Meeting, sign: Sign | None = None
) -> OutboxMessage:
    """Told to everyone who pressed "I'm coming" or "Remind me" when the meeting changes."""
    heading = "meetings.changed.heading"
    return _notice(content, config, lang, meeting, heading, with_ics=True, sign=sign)


def cancel_message(
    content: Content, config: Config, lang: str, meeting: Meeting, sign: Sign | None = None
) -> OutboxMessage:
    """Told to the same people when the meeting is cancelled."""
    heading = "meetings.cancelled.heading"
    return _notice(content, config, lang, meeting, heading, with_ics=False, sign=sign)


def reminder_message(
    content: Content, config: Config, lang: str, meeting: Meeting, sign: Sign | None = None
) -> OutboxMessage:
    """Sent the day before to those who pressed "Remind me"."""
    heading = "meetings.reminder.heading"
    return _notice(content, config, lang, meeting, heading, with_ics=True, sign=sign)


def calendar_document(
    content: Content, config: Config, lang: str, meeting: Meeting, now: float
) -> tuple[bytes, str, str]:
    """(file bytes, file name, caption) of the meeting's calendar file."""
    tz = config.timezone
    data = meeting_ics(meeting, content=content, lang=lang, now=now, tz=tz)
    caption = content.text(lang, "subscribe.meeting.ics_caption", title=meeting.title)
    return data, ics_filename(meeting, tz), caption


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def follow_button(content: Content, lang: str, municipality: Municipality) -> InlineKeyboardButton:
    """The "Follow information meetings in Lyngen" button for the end of the interest flow."""
    label = content.text(lang, "subscribe.button.follow", place=municipality.name)
    return _button(label, _follow(Follow.SUBSCRIBE, municipality.code))


def place_label(content: Content, config: Config, lang: str, place: Place) -> str:
    region_id, name = place
    if name:
        return name
    region = config.region(region_id)
    return content.text(
        lang, "subscribe.whole_region", region=region.name if region else region_id
    )


def _place_data(config: Config, place: Place, action: str) -> str | None:
    """`ms:<action>:<code>` for a municipality, `ms:<action>r:<region>` for a region."""
    region_id, name = place
    if not name:
        return codec.follow_place(action, region_id) if config.region(region_id) else None
    m = config.municipality_named(name)
    if m is None or m.region_id != region_id:
        return None
    return codec.follow_place(action, region_id, m.code)


def follow_note(
    content: Content, config: Config, lang: str, note: str, place: Place | None
) -> str:
    """The line above the overview after a change (`note` a content key, '' for none)."""
    if not note:
        return ""
    if place is None:
        return content.text(lang, note)
    return content.text(lang, note, place=place_label(content, config, lang, place))


def _upcoming(
    content: Content, config: Config, lang: str, meetings: list[Meeting], sign: Sign | None
) -> tuple[str, list[list[InlineKeyboardButton]]]:
    """The upcoming meetings of the followed places: a line each, and a button each that
    opens the meeting's card (with calendar file, remind me, I'm coming)."""
    t = content.text
    if not meetings:
        return t(lang, "subscribe.upcoming_none"), []
    lines, rows = [], []
    for m in meetings:
        local = meeting_time(m, config)
        when = format_when(local, lang, content, config.timezone)
        lines.append(t(lang, "subscribe.upcoming_line", when=when, title=m.title, place=m.place))
        label = t(
            lang, "subscribe.button.meeting", day=local.day, month=local.month, title=m.title
        )
        data = codec.meeting(m.id, codec.MeetingAction.SHOW)
        rows.append([_button(label, sign(data) if sign else data)])
    return t(lang, "subscribe.upcoming_heading", meetings="\n".join(lines)), rows


def overview(
    content: Content,
    config: Config,
    lang: str,
    places: list[Place],
    note: str = "",
    *,
    registered: Place | None = None,
    meetings: list[Meeting] | None = None,
    sign: Sign | None = None,
) -> Rendered:
    """What the person follows (`registered`: the place their registration brings), the
    upcoming meetings there (`meetings`, each with a button to its card, signed for the
    viewer), a button per region to follow more, and a stop per place."""
    t = content.text

    def line(p: Place) -> str:
        key = "subscribe.place_line_registered" if p == registered else "subscribe.place_line"
        return t(lang, key, place=place_label(content, config, lang, p))

    if places:
        text = t(lang, "subscribe.some", places="\n".join(line(p) for p in places))
    else:
        text = t(lang, "subscribe.none")
    rows: list[list[InlineKeyboardButton]] = []
    if meetings is not None and places:
        listed, rows = _upcoming(content, config, lang, meetings, sign)
        text = f"{text}\n\n{listed}"
    rows += [
        [_button(t(lang, "subscribe.button.region", region=r.name), _follow(Follow.REGION, r.id))]
        for r in config.regions
    ]
    for p in places:
        data = _place_data(config, p, "un")
        if data is not None:
            label = t(lang, "subscribe.button.stop", place=place_label(content, config, lang, p))
            rows.append([_button(label, data)])
    if places:
        rows.append([_button(t(lang, "subscribe.button.stop_all"), _follow(Follow.ALL))])
    return Rendered(f"{note}\n\n{text}" if note else text, InlineKeyboardMarkup(rows))


def region_view(content: Content, lang: str, region: Region, places: list[Place]) -> Rendered:
    """The whole region first, then each municipality; ✓ on what is already followed."""
    t = content.text

    def label(name: str, followed: bool) -> str:
        return t(lang, "subscribe.followed", name=name) if followed else name

    whole = t(lang, "subscribe.button.whole_region", region=region.name)
    whole_data = _follow(Follow.WHOLE_REGION, region.id)
    rows = [[_button(label(whole, (region.id, "") in places), whole_data)]]
    rows += [
        [
            _button(
                label(m.name, (region.id, m.name) in places), _follow(Follow.MUNICIPALITY, m.code)
            )
        ]
        for m in region.municipalities
    ]
    rows.append([_button(t(lang, "subscribe.button.back"), _follow(Follow.HOME))])
    return Rendered(
        t(lang, "subscribe.region_intro", region=region.name), InlineKeyboardMarkup(rows)
    )


def stopped_view(content: Content, config: Config, lang: str, removed: list[Place]) -> Rendered:
    """After "stop" on an announcement: what stopped, "follow again" per place, the overview."""
    rows = []
    for place in removed:
        data = _place_data(config, place, "sub")
        if data is not None:
            label = place_label(content, config, lang, place)
            text = content.text(lang, "subscribe.button.follow_again", place=label)
            rows.append([_button(text, data)])
    rows.append([_button(content.text(lang, "subscribe.button.overview"), _follow(Follow.HOME))])
    if removed:
        labels = ", ".join(place_label(content, config, lang, p) for p in removed)
        text = content.text(lang, "subscribe.meeting.stopped", places=labels)
    else:
        text = content.text(lang, "subscribe.meeting.stopped_nothing")
    return Rendered(text, InlineKeyboardMarkup(rows))
