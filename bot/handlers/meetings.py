"""/meetings and the resident's buttons on a meeting announcement.

Following is private: a subscription is (user key, region, municipality or '' for the whole
region), stored next to the registration and erased by /forget.

`ms:` buttons (following), all checked against config.yaml; anything else is the stale alert:
- `ms:home` the overview; `ms:r:<region>` a region's municipalities;
- `ms:m:<code>` / `ms:w:<region>` follow a municipality / a whole region (edits the view);
- `ms:sub:<code>` / `ms:subr:<region>` the same from another message (the "registration
  saved" message, "follow again"), answered with a new message so that one stays as it was;
- `ms:un:<code>` / `ms:unr:<region>` stop one; `ms:all` stop all.

`mt:<meeting id>:ics|rem|go|stop` (bot.meeting_views) act on one meeting for the presser only;
"coming" and "remind me" are anonymous marks the office sees as counts.
"""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.calendar_file import ics_filename, meeting_ics
from bot.config import Config, Municipality, Region
from bot.content import Content
from bot.handlers.common import events, send, show, user_language
from bot.meeting_views import ACTIONS
from bot.render import Rendered
from bot.services import BotContext, Services
from bot.storage import Meeting

DAY = 24 * 3600
_MEETING_DATA = re.compile(r"^mt:([0-9]{1,12}):([a-z]{1,8})$")
Place = tuple[str, str]  # (region id, municipality name or '' for the whole region)


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def follow_button(content: Content, lang: str, municipality: Municipality) -> InlineKeyboardButton:
    """The "Follow information meetings in Lyngen" button for the end of the interest flow."""
    label = content.text(lang, "subscribe.button.follow", place=municipality.name)
    return _button(label, f"ms:sub:{municipality.code}")


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
        return f"ms:{action}r:{region_id}" if config.region(region_id) else None
    m = config.municipality_named(name)
    return f"ms:{action}:{m.code}" if m is not None and m.region_id == region_id else None


def overview(
    content: Content, config: Config, lang: str, places: list[Place], note: str = ""
) -> Rendered:
    """What the person follows, a button per region to follow more, and a stop per place."""
    t = content.text
    if places:
        lines = "\n".join(
            t(lang, "subscribe.place_line", place=place_label(content, config, lang, p))
            for p in places
        )
        text = t(lang, "subscribe.some", places=lines)
    else:
        text = t(lang, "subscribe.none")
    rows = [
        [_button(t(lang, "subscribe.button.region", region=r.name), f"ms:r:{r.id}")]
        for r in config.regions
    ]
    for p in places:
        data = _place_data(config, p, "un")
        if data is not None:
            label = t(lang, "subscribe.button.stop", place=place_label(content, config, lang, p))
            rows.append([_button(label, data)])
    if places:
        rows.append([_button(t(lang, "subscribe.button.stop_all"), "ms:all")])
    return Rendered(f"{note}\n\n{text}" if note else text, InlineKeyboardMarkup(rows))


def region_view(content: Content, lang: str, region: Region, places: list[Place]) -> Rendered:
    """The whole region first, then each municipality; ✓ on what is already followed."""
    t = content.text

    def label(name: str, followed: bool) -> str:
        return t(lang, "subscribe.followed", name=name) if followed else name

    whole = t(lang, "subscribe.button.whole_region", region=region.name)
    rows = [[_button(label(whole, (region.id, "") in places), f"ms:w:{region.id}")]]
    rows += [
        [_button(label(m.name, (region.id, m.name) in places), f"ms:m:{m.code}")]
        for m in region.municipalities
    ]
    rows.append([_button(t(lang, "subscribe.button.back"), "ms:home")])
    return Rendered(
        t(lang, "subscribe.region_intro", region=region.name), InlineKeyboardMarkup(rows)
    )


def parse_follow(data: str, config: Config) -> tuple[str, Place | None] | None:
    """(action, place) of a valid `ms:` button, or None for anything forged or out of date."""
    parts = data.split(":")
    if parts[0] != "ms" or len(parts) > 3:
        return None
    if len(parts) == 2:
        return (parts[1], None) if parts[1] in ("home", "all") else None
    action, value = parts[1], parts[2]
    if action in ("r", "w", "subr", "unr"):
        region = config.region(value)
        return (action, (region.id, "")) if region is not None else None
    if action in ("m", "sub", "un"):
        m = config.municipality_by_code(value)
        return (action, (m.region_id, m.name)) if m is not None else None
    return None


def _private(update: Update) -> bool:
    """Buttons act for the presser in their own chat with the bot; pressed on a message shown
    elsewhere (a group, inline mode), they would store or send to the wrong chat."""
    chat = update.effective_chat
    return chat is not None and chat.type == ChatType.PRIVATE


async def _remember(update: Update, services: Services, key: str, lang: str) -> bytes | None:
    """Keep the encrypted chat (announcements must reach them) and, unless they chose one,
    the language they use now. Returns the encrypted chat."""
    chat = update.effective_chat
    if chat is None:
        return None
    chat_enc = services.cipher.encrypt(chat.id, key)
    await services.storage.ensure_resident(key, chat_enc)
    if await services.storage.get_language(key) is None:
        await services.storage.set_language(key, lang)
    return chat_enc


async def meetings_command(update: Update, context: BotContext) -> None:
    """Show what the person follows, with buttons to follow more or stop."""
    services = context.services
    user = update.effective_user
    if user is None:
        return
    lang = await user_language(update, context)
    places = await services.storage.subscriptions_of(services.user_key(user.id))
    await send(update, overview(services.content, services.config, lang, places))


async def on_follow_button(update: Update, context: BotContext) -> None:
    """Every `ms:` button: validate, change the person's own subscriptions, show the result."""
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None or query.data is None:
        return
    services = context.services
    content, config, storage = services.content, services.config, services.storage
    lang = await user_language(update, context)
    parsed = parse_follow(query.data, config)
    if parsed is None or not _private(update):
        await query.answer(content.text(lang, "errors.stale_button"), show_alert=True)
        return
    await query.answer()
    action, place = parsed
    key = services.user_key(user.id)
    note = ""
    if action == "r" and place is not None:
        region = config.region(place[0])
        assert region is not None  # parse_follow checked it
        places = await storage.subscriptions_of(key)
        await show(update, region_view(content, lang, region, places))
        return
    if action in ("m", "w", "sub", "subr") and place is not None:
        await _remember(update, services, key, lang)
        added = await storage.subscribe(key, *place)
        label = place_label(content, config, lang, place)
        note = content.text(
            lang, "subscribe.subscribed" if added else "subscribe.already", place=label
        )
        events.info("meetings_subscribed added=%s", added)
    elif action in ("un", "unr") and place is not None:
        await storage.unsubscribe(key, *place)
        note = content.text(
            lang, "subscribe.unsubscribed", place=place_label(content, config, lang, place)
        )
        events.info("meetings_unsubscribed")
    elif action == "all":
        await storage.unsubscribe(key)
        note = content.text(lang, "subscribe.stopped_all")
        events.info("meetings_unsubscribed_all")
    view = overview(content, config, lang, await storage.subscriptions_of(key), note)
    if action in ("sub", "subr"):
        await send(update, view)
    else:
        await show(update, view)


async def on_meeting_button(update: Update, context: BotContext) -> None:
    """`mt:<id>:<action>` on an announcement: calendar file, remind me, I'm coming, stop."""
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None or query.data is None:
        return
    services = context.services
    content = services.content
    lang = await user_language(update, context)
    match = _MEETING_DATA.match(query.data)
    if match is None or match.group(2) not in ACTIONS or not _private(update):
        await query.answer(content.text(lang, "errors.stale_button"), show_alert=True)
        return
    action = match.group(2)
    meeting = await services.storage.get_meeting(int(match.group(1)))
    key = services.user_key(user.id)
    if meeting is None:
        await query.answer(content.text(lang, "subscribe.meeting.not_on"), show_alert=True)
        return
    if action == "stop":  # works on any announcement, even of a meeting long gone
        await query.answer()
        await _stop(update, services, key, lang, meeting)
        return
    if meeting.status != "active":
        await query.answer(content.text(lang, "subscribe.meeting.not_on"), show_alert=True)
        return
    now = int(services.now())
    if meeting.starts_at <= now:
        await query.answer(content.text(lang, "subscribe.meeting.past"), show_alert=True)
        return
    if action == "ics":
        await query.answer()
        await _send_calendar_file(update, context, lang, meeting)
        return
    chat_enc = await _remember(update, services, key, lang)
    if chat_enc is None:
        return
    alert = await _toggle_mark(
        services, key, meeting, "remind" if action == "rem" else "coming", chat_enc, now
    )
    await query.answer(content.text(lang, alert), show_alert=True)


async def _toggle_mark(
    services: Services, key: str, meeting: Meeting, mark: str, chat_enc: bytes, now: int
) -> str:
    """Set the mark, or take it away when it was set; returns the content key to answer with."""
    storage = services.storage
    if not await storage.set_mark(meeting.id, key, mark, chat_enc):
        await storage.clear_mark(meeting.id, key, mark)
        events.info("meeting_mark_cleared mark=%s", mark)
        return (
            "subscribe.meeting.remind_off" if mark == "remind" else "subscribe.meeting.coming_off"
        )
    events.info("meeting_mark_set mark=%s", mark)
    if mark == "coming":
        return "subscribe.meeting.coming_on"
    if meeting.starts_at - now <= DAY:
        # "The meeting is tomorrow" would be wrong now; the mark still counts and brings changes.
        await storage.mark_reminder_sent(meeting.id, key)
        return "subscribe.meeting.remind_soon"
    return "subscribe.meeting.remind_on"


async def _send_calendar_file(
    update: Update, context: BotContext, lang: str, meeting: Meeting
) -> None:
    services = context.services
    chat = update.effective_chat
    if chat is None:
        return
    content = services.content
    tz = services.config.timezone
    data = meeting_ics(meeting, content=content, lang=lang, now=services.now(), tz=tz)
    caption = content.text(lang, "subscribe.meeting.ics_caption", title=meeting.title)
    await context.bot.send_document(
        chat.id, document=data, filename=ics_filename(meeting, tz), caption=caption
    )
    events.info("meeting_ics_sent")


async def _stop(update: Update, services: Services, key: str, lang: str, meeting: Meeting) -> None:
    """Stop the subscriptions this meeting reached the person through (its region and its
    municipalities), and offer to follow them again."""
    content, config, storage = services.content, services.config, services.storage
    places = [(meeting.region_id, ""), *((meeting.region_id, m) for m in meeting.municipalities)]
    followed = set(await storage.subscriptions_of(key))
    removed = [p for p in places if p in followed]
    for place in removed:
        await storage.unsubscribe(key, *place)
    events.info("meeting_stop removed=%d", len(removed))
    rows = []
    for place in removed:
        data = _place_data(config, place, "sub")
        if data is not None:
            label = place_label(content, config, lang, place)
            text = content.text(lang, "subscribe.button.follow_again", place=label)
            rows.append([_button(text, data)])
    rows.append([_button(content.text(lang, "subscribe.button.overview"), "ms:home")])
    if removed:
        labels = ", ".join(place_label(content, config, lang, p) for p in removed)
        text = content.text(lang, "subscribe.meeting.stopped", places=labels)
    else:
        text = content.text(lang, "subscribe.meeting.stopped_nothing")
    await send(update, Rendered(text, InlineKeyboardMarkup(rows)))


HANDLERS = [
    CommandHandler("meetings", meetings_command, filters.ChatType.PRIVATE),
    CallbackQueryHandler(on_follow_button, pattern=r"^ms:"),
    CallbackQueryHandler(on_meeting_button, pattern=r"^mt:"),
]
