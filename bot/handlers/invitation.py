"""/invitation: a coordinator invites the people waiting in one of their municipalities to a
start meeting. The bot relays it; the coordinator sees counts, never who, unless a resident
chooses to share their contact.

Coordinator buttons are `ci:...` signed for that coordinator (bot.privacy.ButtonSigner), and the
role and area are checked again on every press. Resident buttons are `inv:<id>:<answer>`, accepted
only from people the invitation was actually sent to.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot import render
from bot.config import Municipality
from bot.handlers import misc
from bot.handlers.common import (
    Actor,
    acting,
    events,
    send,
    show,
    signed_button,
    signed_press,
    user_language,
)
from bot.interest import kinds
from bot.interest_views import kind_label
from bot.roles import key_covers
from bot.services import BotContext, Services

FLOW = "invitation"
MAX_CHARS = 1500
ANSWERS = ("yes", "maybe", "no")


async def _caller(update: Update, context: BotContext) -> Actor | None:
    """The coordinator behind this update, with roles read fresh, or None for anyone else."""
    actor = await acting(update, context)
    return actor if actor is not None and actor.roles.is_coordinator else None


def _signed(services: Services, caller: Actor, text: str, data: str) -> InlineKeyboardButton:
    return signed_button(services, caller.user_id, text, data)


async def invitation_command(update: Update, context: BotContext) -> None:
    """Start composing (choose the municipality), or `/invitation status` for the answers."""
    caller = await _caller(update, context)
    if caller is None:
        await misc.unknown_command(update, context)
        return
    services = context.services
    if context.args and context.args[0].lower() == "status":
        await send(update, await _status(services, caller))
        return
    munis = sorted(caller.roles.municipalities)
    if len(munis) == 1:
        await _choose_audience(update, context, caller, munis[0])
        return
    buttons = []
    for name in munis:
        m = services.config.municipality_named(name)
        if m is not None:
            buttons.append([_signed(services, caller, m.name, f"ci:m:{m.code}")])
    await services.storage.set_flow(caller.key, FLOW, {"step": "place"})
    text = services.content.text(caller.lang, "invitation.choose_place")
    await send(update, render.Rendered(text, InlineKeyboardMarkup(buttons)))


async def _choose_audience(
    update: Update, context: BotContext, caller: Actor, municipality: str
) -> None:
    services = context.services
    content, lang = services.content, caller.lang
    m = services.config.municipality_named(municipality)
    if m is None:
        return
    buttons = [
        [_signed(services, caller, content.text(lang, "invitation.audience_all"), "ci:a:all")]
    ]
    # "No preference" people are in every filtered audience, so it is not an audience itself.
    for kind in (k for k in kinds(services.config) if k != "any"):
        label = content.text(
            lang, "invitation.audience_kind", kind=kind_label(content, lang, kind)
        )
        buttons.append([_signed(services, caller, label, f"ci:a:{kind}")])
    await services.storage.set_flow(caller.key, FLOW, {"step": "audience", "municipality": m.name})
    text = content.text(lang, "invitation.choose_audience", municipality=m.name)
    await show(update, render.Rendered(text, InlineKeyboardMarkup(buttons)))


def _audience_size(services: Services, lang: str, kind: str | None, count: int) -> str:
    """How many will get it, for everyone waiting only: with the total known, a per-kind count
    would let subtraction reveal a cell the digest hides (its breakdown rule)."""
    content = services.content
    if kind is not None:
        return content.text(lang, "invitation.recipients_hidden")
    shown = render.small_count(content, services.config, lang, count)
    return content.text(lang, "invitation.recipients", count=shown)


async def _recipients(services: Services, m: Municipality, kind: str | None) -> list[Any]:
    return await services.storage.contactable_in(m.region_id, m.name, kind)


def resident_view(
    services: Services, lang: str, municipality: str, text: str, invitation_id: int
) -> dict[str, Any]:
    """The invitation exactly as residents receive it (an outbox payload)."""
    content = services.content
    body = "\n\n".join(
        (
            content.text(lang, "invitation.header", municipality=municipality),
            text,
            content.text(lang, "invitation.footer"),
        )
    )
    row = [
        {
            "text": content.text(lang, f"invitation.answer_{a}"),
            "callback_data": f"inv:{invitation_id}:{a}",
        }
        for a in ANSWERS
    ]
    share = {
        "text": content.text(lang, "invitation.answer_share"),
        "callback_data": f"inv:{invitation_id}:share",
    }
    return {"text": body, "buttons": [row, [share]]}


def _markup(payload: dict[str, Any]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b["text"], callback_data=b["callback_data"]) for b in row]
            for row in payload["buttons"]
        ]
    )


async def handle_text(update: Update, context: BotContext, text: str) -> bool:
    """The invitation text, when a coordinator is at that step; else False (a normal question)."""
    user = update.effective_user
    if user is None:
        return False
    services = context.services
    key = services.user_key(user.id)
    state = await services.storage.get_flow(key)
    if state is None or state[0] != FLOW or state[1].get("step") != "text":
        return False
    caller = await _caller(update, context)
    data = state[1]
    if caller is None or not caller.roles.covers(data.get("municipality", "")):
        await services.storage.clear_flow(key)
        return False
    content, lang = services.content, caller.lang
    if len(text) > MAX_CHARS:
        msg = content.text(lang, "invitation.too_long", length=len(text), max_chars=MAX_CHARS)
        await send(update, render.Rendered(msg))
        return True
    await services.storage.set_flow(key, FLOW, {**data, "step": "confirm", "text": text})
    preview = resident_view(services, lang, data["municipality"], text, 0)
    await send(update, render.Rendered(content.text(lang, "invitation.preview_intro")))
    await send(update, render.Rendered(preview["text"], _markup(preview)))
    buttons = InlineKeyboardMarkup(
        [
            [_signed(services, caller, content.text(lang, "invitation.send"), "ci:s")],
            [_signed(services, caller, content.text(lang, "invitation.rewrite"), "ci:w")],
            [_signed(services, caller, content.text(lang, "invitation.cancel"), "ci:x")],
        ]
    )
    question = "\n".join(
        (
            _audience_size(services, lang, data.get("kind"), data.get("count", 0)),
            content.text(lang, "invitation.confirm_question"),
        )
    )
    await send(update, render.Rendered(question, buttons))
    return True


async def on_coordinator_button(update: Update, context: BotContext) -> None:
    """A signed `ci:` button: verify signature, role and area, then act."""
    pressed = await signed_press(update, context, lambda roles: roles.is_coordinator)
    if pressed is None:
        return
    caller, data = pressed
    services = context.services
    lang = caller.lang
    state = await services.storage.get_flow(caller.key)
    flow = state[1] if state and state[0] == FLOW else {}
    parts = data.split(":")
    action, value = parts[1], (parts[2] if len(parts) > 2 else "")
    content = services.content
    if action == "m":
        m = services.config.municipality_by_code(value)
        if m is not None and caller.roles.covers(m.name):
            await _choose_audience(update, context, caller, m.name)
        else:  # another area, even with a valid signature: refused on the server
            await show(update, render.Rendered(content.text(lang, "errors.stale_button")))
        return
    municipality = flow.get("municipality", "")
    m = services.config.municipality_named(municipality)
    if m is None or not caller.roles.covers(m.name):  # revoked meanwhile, or forged state
        await services.storage.clear_flow(caller.key)
        await show(update, render.Rendered(content.text(lang, "errors.stale_button")))
        return
    if action == "a" and flow.get("step") == "audience":
        kind = None if value == "all" else value
        if kind is not None and kind not in kinds(services.config):
            await show(update, render.Rendered(content.text(lang, "errors.stale_button")))
            return
        count = len(await _recipients(services, m, kind))
        if count == 0:
            text = content.text(lang, "invitation.nobody", municipality=m.name)
            await show(update, render.Rendered(text))
            await services.storage.clear_flow(caller.key)
            return
        await services.storage.set_flow(
            caller.key, FLOW, {**flow, "step": "text", "kind": kind, "count": count}
        )
        await show(
            update, render.Rendered(content.text(lang, "invitation.write", max_chars=MAX_CHARS))
        )
    elif action == "w" and flow.get("step") == "confirm":
        await services.storage.set_flow(caller.key, FLOW, {**flow, "step": "text"})
        await show(
            update, render.Rendered(content.text(lang, "invitation.write", max_chars=MAX_CHARS))
        )
    elif action == "x":
        await services.storage.clear_flow(caller.key)
        await show(update, render.Rendered(content.text(lang, "invitation.cancelled")))
    elif action == "s" and flow.get("step") == "confirm" and flow.get("text"):
        # Claim the draft first: if anything below fails, a second press finds no draft and
        # cannot create a second invitation (nobody gets it twice).
        await services.storage.clear_flow(caller.key)
        count = await _queue(update, services, caller, m, flow.get("kind"), str(flow["text"]))
        size = _audience_size(services, lang, flow.get("kind"), count)
        await show(update, render.Rendered(f"{content.text(lang, 'invitation.queued')}\n{size}"))
    else:  # a replayed button for a step already done
        await show(update, render.Rendered(content.text(lang, "errors.stale_button")))


async def _queue(
    update: Update,
    services: Services,
    caller: Actor,
    m: Municipality,
    kind: str | None,
    text: str,
) -> int:
    """Store the invitation and put one outbox row per recipient (each in their language)."""
    chat = update.effective_chat
    assert chat is not None
    storage = services.storage
    sender_chat = services.cipher.encrypt(chat.id, caller.key)
    invitation_id = await storage.create_invitation(caller.key, m.name, kind, text, sender_chat)
    rows = []
    for user_key, chat_enc in await _recipients(services, m, kind):
        lang = await storage.get_language(user_key) or services.config.default_language
        rows.append(
            (user_key, chat_enc, resident_view(services, lang, m.name, text, invitation_id))
        )
    added = await storage.enqueue(f"invitation:{invitation_id}", rows)
    services.outbox_changed()
    events.info("invitation_queued recipients=%d", added)
    return added


async def _status(services: Services, caller: Actor) -> render.Rendered:
    content, lang = services.content, caller.lang
    invitations = await services.storage.invitations_by(caller.key)
    if not invitations:
        return render.Rendered(content.text(lang, "invitation.status_none"))
    lines = [content.text(lang, "invitation.status_heading")]
    tz = ZoneInfo(services.config.timezone)
    for inv in invitations:
        if not caller.roles.covers(inv.municipality):
            continue
        counts = await services.storage.invitation_counts(inv.id)
        shown = {
            k: render.small_count(services.content, services.config, lang, v)
            for k, v in counts.items()
        }
        date = datetime.fromtimestamp(inv.created_at, tz).strftime("%d.%m")
        lines.append(
            content.text(
                lang, "invitation.status_line", date=date, municipality=inv.municipality, **shown
            )
        )
    return render.Rendered("\n".join(lines))


async def on_resident_answer(update: Update, context: BotContext) -> None:
    """A resident's answer to an invitation they received (and nobody else's)."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    services = context.services
    content = services.content
    lang = await user_language(update, context)
    found = re.fullmatch(r"inv:([0-9]{1,12}):([a-z]{1,8})", query.data)
    if found is None:
        await query.answer(content.text(lang, "errors.stale_button"), show_alert=True)
        return
    invitation_id, answer = int(found.group(1)), found.group(2)
    key = services.user_key(query.from_user.id)
    invitation = await services.storage.get_invitation(invitation_id)
    if invitation is None or not await services.storage.is_recipient(
        f"invitation:{invitation_id}", key
    ):
        await query.answer(content.text(lang, "invitation.not_for_you"), show_alert=True)
        return
    if answer in ANSWERS:
        await services.storage.answer_invitation(invitation_id, key, answer)
        await query.answer(content.text(lang, f"invitation.thanks_{answer}"), show_alert=True)
    elif answer == "share":
        await query.answer()
        buttons = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        content.text(lang, "invitation.share_yes"),
                        callback_data=f"inv:{invitation_id}:sharey",
                    )
                ],
                [
                    InlineKeyboardButton(
                        content.text(lang, "invitation.share_no"),
                        callback_data=f"inv:{invitation_id}:sharen",
                    )
                ],
            ]
        )
        await send(
            update, render.Rendered(content.text(lang, "invitation.share_confirm"), buttons)
        )
    elif answer == "sharey":
        await query.answer()
        await _share_contact(update, context, invitation_id, key, lang)
    elif answer == "sharen":
        await query.answer()
        await show(update, render.Rendered(content.text(lang, "invitation.share_kept")))
    else:
        await query.answer(content.text(lang, "errors.stale_button"), show_alert=True)


async def _share_contact(
    update: Update, context: BotContext, invitation_id: int, key: str, lang: str
) -> None:
    """The one moment an identity crosses over: only because the resident asked for it."""
    services = context.services
    user = update.effective_user
    invitation = await services.storage.get_invitation(invitation_id)
    if user is None or invitation is None:
        return
    chat_id = services.cipher.decrypt(invitation.sender_chat, invitation.sender_key)
    still_there = await key_covers(
        services.config,
        services.storage,
        services.user_key,
        invitation.sender_key,
        invitation.municipality,
    )
    if chat_id is None or not still_there:  # nobody holds that role any more: share nothing
        await show(update, render.Rendered(services.content.text(lang, "invitation.share_gone")))
        return
    sender_lang = (
        await services.storage.get_language(invitation.sender_key)
        or services.config.default_language
    )
    person = f'<a href="tg://user?id={user.id}">{html.escape(user.full_name)}</a>'
    notice = services.content.text(
        sender_lang,
        "invitation.share_notice",
        municipality=html.escape(invitation.municipality),
        person=person,
    )
    if not await services.storage.mark_shared(invitation_id, key):  # a double tap: told once
        await show(update, render.Rendered(services.content.text(lang, "invitation.shared")))
        return
    try:
        await context.bot.send_message(chat_id, notice, parse_mode=ParseMode.HTML)
    except TelegramError:
        await services.storage.unmark_shared(invitation_id, key)
        raise
    events.info("invitation_contact_shared")
    await show(update, render.Rendered(services.content.text(lang, "invitation.shared")))


HANDLERS = [
    CommandHandler("invitation", invitation_command, filters.ChatType.PRIVATE),
    CallbackQueryHandler(on_coordinator_button, pattern=r"^ci:"),
    CallbackQueryHandler(on_resident_answer, pattern=r"^inv:"),
]
