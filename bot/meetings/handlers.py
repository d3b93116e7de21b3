"""/meetings and the resident's buttons on a meeting announcement.

`ms:` buttons change what the person follows, `mt:<meeting id>:<action>` act on one meeting
(calendar file, remind me, I'm coming, stop), for the presser only; the data formats and the
rules are in bot.meetings.subscriptions, the views in bot.meetings.views.
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.chat.button_data import SIGNATURE_MARK
from bot.chat.context import BotContext
from bot.chat.handler_tools import events, refuse_press, send, show, user_language
from bot.chat.rendering import Rendered
from bot.meetings import buttons
from bot.meetings.announcements import listing_for, recipient_sign
from bot.meetings.reminders import REMIND_AHEAD
from bot.meetings.subscriptions import (
    FROM_ELSEWHERE,
    Presser,
    change_following,
    followed_places,
    meeting_is_listed,
    parse_follow,
    parse_meeting_button,
    refusal,
    stop_meeting,
    toggle_mark,
)
from bot.meetings.views import (
    announcement_message,
    calendar_document,
    follow_note,
    overview,
    region_view,
    stopped_view,
)
from bot.meetings.when import format_when, from_timestamp
from bot.outbox.sender import reply_markup
from bot.roles.lookup import roles_for
from bot.services import Services
from bot.storage import Meeting


def _presser(update: Update, services: Services, lang: str) -> Presser | None:
    """The presser, if they pressed in their own chat with the bot: pressed on a message shown
    elsewhere (a group, inline mode), buttons would store or send to the wrong chat."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None or chat.type != ChatType.PRIVATE:
        return None
    return Presser(services.user_key(user.id), chat.id, lang)


async def _may_press(
    services: Services, user_id: int, meeting: Meeting, action: str, signed: bool
) -> bool:
    """Checked at every press: a button signed for this person was sent to them; an unsigned
    one (from before buttons were signed, or typed by hand) only works on a meeting for their
    places (bot.meetings.subscriptions.meeting_is_listed): no calendar file, no mark otherwise.
    "Stop" only ever removes the presser's own subscriptions, so it is never refused."""
    if signed or action == "stop":
        return True
    key = services.user_key(user_id)
    roles = await roles_for(services.config, services.storage, key, user_id)
    return await meeting_is_listed(services.storage, roles, key, meeting)


async def _overview(services: Services, user_id: int, lang: str, note: str = "") -> Rendered:
    """The person's places and their upcoming meetings (buttons signed for this person)."""
    places, registered, meetings = await listing_for(services, services.user_key(user_id))

    def sign(data: str) -> str:
        return services.signer.sign(user_id, data)  # their private chat's id is their user id

    return overview(
        services.content,
        services.config,
        lang,
        places,
        note,
        registered=registered,
        meetings=meetings,
        sign=sign,
    )


async def meetings_command(update: Update, context: BotContext) -> None:
    """Show what the person follows and the upcoming meetings there, with buttons to open a
    meeting, follow more or stop."""
    services = context.services
    user = update.effective_user
    if user is None:
        return
    lang = await user_language(update, context)
    await send(update, await _overview(services, user.id, lang))


async def on_follow_button(update: Update, context: BotContext) -> None:
    """Every `ms:` button: validate, change the person's own subscriptions, show the result."""
    query = update.callback_query
    if query is None or update.effective_user is None or query.data is None:
        return
    services = context.services
    content, config, storage = services.content, services.config, services.storage
    lang = await user_language(update, context)
    parsed = parse_follow(query.data, config)
    presser = _presser(update, services, lang)
    if parsed is None or presser is None:
        await refuse_press(query, content, lang)
        return
    await query.answer()
    action, place = parsed
    if action == "r" and place is not None:
        region = config.region(place[0])
        assert region is not None  # parse_follow checked it
        places, _ = await followed_places(storage, presser.key)
        await show(update, region_view(content, lang, region, places))
        return
    note = await change_following(storage, services.cipher, presser, action, place)
    # Following a place shows its upcoming meetings at once.
    user_id = update.effective_user.id
    view = await _overview(
        services, user_id, lang, follow_note(content, config, lang, note, place)
    )
    await (send if action in FROM_ELSEWHERE else show)(update, view)


async def on_meeting_button(update: Update, context: BotContext) -> None:
    """`mt:<id>:<action>` on an announcement: calendar file, remind me, I'm coming, stop."""
    query = update.callback_query
    if query is None or update.effective_user is None or query.data is None:
        return
    services = context.services
    content, config, storage = services.content, services.config, services.storage
    lang = await user_language(update, context)
    user_id = update.effective_user.id
    # Signed for its recipient (a borrowed or forged tag verifies to None); unsigned: a button
    # from before buttons were signed.
    signed = SIGNATURE_MARK in query.data
    plain = services.signer.verify(user_id, query.data) if signed else query.data
    parsed = parse_meeting_button(plain) if plain is not None else None
    presser = _presser(update, services, lang)
    if presser is None or (parsed is None and not signed):  # malformed, or not in a private chat
        await refuse_press(query, content, lang)
        return
    meeting = await storage.get_meeting(parsed[0]) if parsed is not None else None
    if parsed is None or (
        meeting is not None and not await _may_press(services, user_id, meeting, parsed[1], signed)
    ):
        events.info("meeting_button_refused")
        await query.answer(content.text(lang, "subscribe.meeting.not_yours"), show_alert=True)
        return
    action = parsed[1]
    now = int(services.now())
    refused = refusal(meeting, action, now)
    if refused is not None:
        await query.answer(content.text(lang, refused), show_alert=True)
        return
    assert meeting is not None  # refusal() refuses a missing meeting
    if action == "stop":
        await query.answer()
        removed = await stop_meeting(storage, presser.key, meeting)
        await send(update, stopped_view(content, config, lang, removed))
        return
    if action == "show":  # from the /meetings list: the card as an announcement shows it
        await query.answer()
        chat_enc = services.cipher.encrypt(presser.chat_id, presser.key)
        card = announcement_message(
            content, config, lang, meeting, recipient_sign(services, presser.key, chat_enc)
        )
        await send(update, Rendered(card.text, reply_markup(card)))
        return
    if action == "ics":
        await query.answer()
        data, filename, caption = calendar_document(content, config, lang, meeting, services.now())
        await context.bot.send_document(
            presser.chat_id, document=data, filename=filename, caption=caption
        )
        events.info("meeting_ics_sent")
        return
    alert = await toggle_mark(storage, services.cipher, presser, meeting, action, now)
    # "Remind me" says when the reminder comes: when the reminder job will queue it.
    remind_at = from_timestamp(meeting.starts_at - REMIND_AHEAD, config.timezone)
    when = format_when(remind_at, lang, content, config.timezone)
    await query.answer(content.text(lang, alert, remind_at=when), show_alert=True)


HANDLERS = [
    CommandHandler("meetings", meetings_command, filters.ChatType.PRIVATE),
    CallbackQueryHandler(on_follow_button, pattern=buttons.FOLLOW.pattern),
    CallbackQueryHandler(on_meeting_button, pattern=buttons.MEETING.pattern),
]
