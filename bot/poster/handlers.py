"""/poster: a coordinator, regional office or admin gets a printable poster (A4 PDF and PNG)
whose QR code opens the bot with one of their municipalities chosen.

Buttons (bot.poster.buttons) are `po:m:<code>` (choose the municipality) and
`po:l:<code>:<lang>` (make it), signed for the person who asked
(bot.security.pseudonyms.ButtonSigner). They carry everything needed, so no flow state is
kept; the role and the area are checked again on every press.
"""

from __future__ import annotations

import asyncio

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ChatAction
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.chat.context import BotContext
from bot.chat.fallback_replies import unknown_command
from bot.chat.handler_tools import events, refuse_press, send, show, signed_button, user_language
from bot.chat.rendering import Rendered
from bot.config import LANGUAGES, Municipality
from bot.poster import buttons as codec
from bot.poster.pdf import make_poster, poster_places
from bot.roles.lookup import roles_for
from bot.services import Services

PLACES_PER_ROW = 2


async def _places(update: Update, context: BotContext) -> tuple[Municipality, ...]:
    """The municipalities this person may make posters for right now (none: no role)."""
    user = update.effective_user
    if user is None:
        return ()
    services = context.services
    key = services.user_key(user.id)
    roles = await roles_for(services.config, services.storage, key, user.id)
    return poster_places(services.config, roles)


def _language_choice(services: Services, user_id: int, lang: str, m: Municipality) -> Rendered:
    content = services.content
    row = [
        signed_button(
            services,
            user_id,
            content.text(lang, f"poster.language.{code}"),
            codec.language(m.code, code),
        )
        for code in LANGUAGES
    ]
    text = content.text(lang, "poster.choose_language", municipality=m.name)
    return Rendered(text, InlineKeyboardMarkup([row]))


async def poster_command(update: Update, context: BotContext) -> None:
    """Choose the municipality (skipped when there is only one), then the language."""
    user = update.effective_user
    places = await _places(update, context)
    if user is None or not places:
        await unknown_command(update, context)
        return
    services = context.services
    lang = await user_language(update, context)
    if len(places) == 1:
        await send(update, _language_choice(services, user.id, lang, places[0]))
        return
    buttons = [
        signed_button(services, user.id, m.name, codec.municipality(m.code)) for m in places
    ]
    rows = [buttons[i : i + PLACES_PER_ROW] for i in range(0, len(buttons), PLACES_PER_ROW)]
    text = services.content.text(lang, "poster.choose_place")
    await send(update, Rendered(text, InlineKeyboardMarkup(rows)))


async def on_poster_button(update: Update, context: BotContext) -> None:
    """A signed `po:` button: verify the signature, the role and the area, then act."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    services = context.services
    content = services.content
    lang = await user_language(update, context)
    press = codec.decode(services.signer.verify(query.from_user.id, query.data))
    places = {m.code: m for m in await _places(update, context)}
    m = places.get(press.value) if press is not None else None
    if press is None or m is None:  # forged, someone else's, or the role or area is gone
        await refuse_press(query, content, lang)
        return
    if press.action == codec.Action.MUNICIPALITY:
        await query.answer()
        await show(update, _language_choice(services, query.from_user.id, lang, m))
        return
    poster_lang = press.values[1]  # the only other action: po:l:<code>:<lang>
    if poster_lang not in LANGUAGES:
        await refuse_press(query, content, lang)
        return
    await query.answer()
    await _send_poster(update, context, lang, m, poster_lang)


async def _send_poster(
    update: Update, context: BotContext, lang: str, m: Municipality, poster_lang: str
) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    content = context.services.content
    await show(update, Rendered(content.text(lang, "poster.making", municipality=m.name)))
    await context.bot.send_chat_action(chat.id, ChatAction.UPLOAD_DOCUMENT)
    # Building the PDF and PNG takes ~0.1 s of CPU: keep the event loop free meanwhile.
    poster = await asyncio.to_thread(make_poster, content, poster_lang, m, context.bot.username)
    caption = content.text(lang, "poster.caption_pdf", municipality=m.name, link=poster.link)
    await context.bot.send_document(
        chat.id, poster.pdf, filename=f"{poster.stem}.pdf", caption=caption
    )
    await context.bot.send_document(
        chat.id,
        poster.png,
        filename=f"{poster.stem}.png",
        caption=content.text(lang, "poster.caption_png"),
    )
    language = content.text(lang, f"poster.language.{poster_lang}")
    done = content.text(lang, "poster.done", municipality=m.name, language=language)
    await show(update, Rendered(done))
    events.info("poster sent municipality=%s lang=%s", m.code, poster_lang)


HANDLERS = [
    CommandHandler("poster", poster_command, filters.ChatType.PRIVATE),
    CallbackQueryHandler(on_poster_button, pattern=codec.SHAPE.pattern),
]
