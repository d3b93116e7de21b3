"""/invitation: a coordinator invites the people waiting in one of their municipalities to a
start meeting. The bot relays it; the coordinator sees counts, never who, unless a resident
chooses to share their contact.

Coordinator buttons are `ci:...` signed for that coordinator
(bot.security.pseudonyms.ButtonSigner), and the
role and area are checked again on every press. Resident buttons are `inv:<id>:<answer>`, accepted
only from people the invitation was actually sent to. What each step looks like is in
bot.invitations.views; queueing, answers and sharing a contact are in bot.invitations.sending.
"""

from __future__ import annotations

from dataclasses import replace

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.chat.context import BotContext
from bot.chat.fallback_replies import unknown_command
from bot.chat.handler_tools import (
    Actor,
    acting,
    refuse_press,
    send,
    show,
    signed_button,
    signed_press,
    user_language,
)
from bot.chat.rendering import Rendered
from bot.chat.steps import FlowStore
from bot.chat.text_routes import TextRoute
from bot.invitations import buttons, views
from bot.invitations import sending as invitations
from bot.invitations.sending import FLOW, InvitationDraft


async def _caller(update: Update, context: BotContext) -> Actor | None:
    """The coordinator behind this update, with roles read fresh, or None for anyone else."""
    actor = await acting(update, context)
    return actor if actor is not None and actor.roles.is_coordinator else None


def _drafts(context: BotContext) -> FlowStore[InvitationDraft]:
    return FlowStore(context.services.storage, InvitationDraft)


def _signed(context: BotContext, caller: Actor) -> views.Button:
    """Buttons only this coordinator can send back."""
    services = context.services
    return lambda text, data: signed_button(services, caller.user_id, text, data)


async def invitation_command(update: Update, context: BotContext) -> None:
    """Start composing (choose the municipality), or `/invitation status` for the answers."""
    caller = await _caller(update, context)
    if caller is None:
        await unknown_command(update, context)
        return
    services = context.services
    content, config, lang = services.content, services.config, caller.lang
    if context.args and context.args[0].lower() == "status":
        answers = await invitations.answers_to(services, caller.key, caller.roles)
        await send(update, views.status_view(content, config, lang, answers))
        return
    munis = sorted(caller.roles.municipalities)
    if len(munis) == 1:
        await _choose_audience(update, context, caller, munis[0])
        return
    places = [m for m in map(config.municipality_named, munis) if m is not None]
    view = views.place_choice(content, lang, places, _signed(context, caller))
    await _drafts(context).save(caller.key, InvitationDraft(step="place"))
    await send(update, view)


async def _choose_audience(
    update: Update, context: BotContext, caller: Actor, municipality: str
) -> None:
    services = context.services
    m = services.config.municipality_named(municipality)
    if m is None:
        return
    shown = invitations.kinds_shown(await invitations.figures(services, m))
    view = views.audience_choice(
        services.content, caller.lang, m.name, shown, _signed(context, caller)
    )
    await _drafts(context).save(caller.key, InvitationDraft(step="audience", municipality=m.name))
    await show(update, view)


async def handle_text(update: Update, context: BotContext, text: str) -> bool:
    """The invitation text, when a coordinator is at that step; else False (a normal question)."""
    user = update.effective_user
    if user is None:
        return False
    services = context.services
    key = services.user_key(user.id)
    drafts = _drafts(context)
    draft = await drafts.load(key)
    if draft is None or draft.step != "text":
        return False
    caller = await _caller(update, context)
    if caller is None or not caller.roles.covers(draft.municipality or ""):
        await drafts.clear(key)
        return False
    if len(text) > views.MAX_CHARS:
        await send(update, views.too_long(services.content, caller.lang, len(text)))
        return True
    await drafts.save(key, replace(draft, step="confirm", text=text))
    for message in views.preview(
        services.content,
        services.config,
        caller.lang,
        draft.to_dict(),
        text,
        _signed(context, caller),
    ):
        await send(update, message)
    return True


async def on_coordinator_button(update: Update, context: BotContext) -> None:
    """A signed `ci:` button: verify signature, role and area, then act."""
    pressed = await signed_press(update, context, lambda roles: roles.is_coordinator)
    if pressed is None:
        return
    caller, data = pressed
    services = context.services
    content, config, lang = services.content, services.config, caller.lang
    stale = Rendered(content.text(lang, "errors.stale_button"))
    drafts = _drafts(context)
    flow = await drafts.load(caller.key) or InvitationDraft(step="")
    press = buttons.decode_coordinator(data)
    if press is None:  # signed for this coordinator, so ours: never; refused all the same
        await show(update, stale)
        return
    action, value = press.action, press.value
    if action == "m":
        m = config.municipality_by_code(value)
        if m is not None and caller.roles.covers(m.name):
            await _choose_audience(update, context, caller, m.name)
        else:  # another area, even with a valid signature: refused on the server
            await show(update, stale)
        return
    m = config.municipality_named(flow.municipality or "")
    if m is None or not caller.roles.covers(m.name):  # revoked meanwhile, or forged state
        await services.storage.clear_flow(caller.key)  # whatever flow it is, as it always was
        await show(update, stale)
        return
    if action == "a" and flow.step == "audience":
        # Everything here comes from the day's snapshot, the same figures as the digest: a
        # live count, or "nobody" for a kind the digest hides, would reveal one person.
        figs = await invitations.figures(services, m)
        kind = None if value == buttons.ALL else value
        if kind is not None and kind not in invitations.kinds_shown(figs):
            await show(update, stale)
            return
        if figs.waiting == 0:
            nobody = content.text(lang, "invitation.nobody", municipality=m.name)
            await show(update, Rendered(nobody))
            await drafts.clear(caller.key)
            return
        count = figs.waiting if kind is None else dict(figs.by_kind or ()).get(kind, 0)
        await drafts.save(caller.key, replace(flow, step="text", kind=kind, count=count))
        await show(update, views.write_prompt(content, lang))
    elif action == "w" and flow.step == "confirm":
        await drafts.save(caller.key, replace(flow, step="text"))
        await show(update, views.write_prompt(content, lang))
    elif action == "x":
        await drafts.clear(caller.key)
        await show(update, Rendered(content.text(lang, "invitation.cancelled")))
    elif action == "s" and flow.step == "confirm" and flow.text:
        chat = update.effective_chat
        assert chat is not None
        await invitations.send_draft(services, caller.key, chat.id, m, flow.kind, flow.text)
        await show(update, views.queued(content, lang))
    else:  # a replayed button for a step already done
        await show(update, stale)


async def on_resident_answer(update: Update, context: BotContext) -> None:
    """A resident's answer to an invitation they received (and nobody else's)."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    services = context.services
    content = services.content
    lang = await user_language(update, context)
    parsed = views.parse_answer(query.data)
    if parsed is None:
        await refuse_press(query, content, lang)
        return
    invitation_id, answer = parsed
    key = services.user_key(query.from_user.id)
    if not await invitations.was_sent_to(services, invitation_id, key):
        await query.answer(content.text(lang, "invitation.not_for_you"), show_alert=True)
        return
    if answer in views.ANSWERS:
        await invitations.record_answer(services, invitation_id, key, answer)
        await query.answer(content.text(lang, f"invitation.thanks_{answer}"), show_alert=True)
    elif answer == "share":
        await query.answer()
        await send(update, views.share_confirm(content, lang, invitation_id))
    elif answer == "sharey":
        await query.answer()
        await _share_contact(update, context, invitation_id, key, lang)
    elif answer == "sharen":
        await query.answer()
        await show(update, Rendered(content.text(lang, "invitation.share_kept")))
    else:
        await refuse_press(query, content, lang)


async def _share_contact(
    update: Update, context: BotContext, invitation_id: int, key: str, lang: str
) -> None:
    """The one moment an identity crosses over: only because the resident asked for it."""
    user = update.effective_user
    if user is None:
        return

    async def notify(chat_id: int, notice: str) -> None:
        await context.bot.send_message(chat_id, notice, parse_mode=ParseMode.HTML)

    services = context.services
    told = await invitations.share_contact(
        services, invitation_id, key, user.id, user.full_name, notify
    )
    if told is not None:
        await show(update, Rendered(services.content.text(lang, told)))


HANDLERS = [
    CommandHandler("invitation", invitation_command, filters.ChatType.PRIVATE),
    CallbackQueryHandler(on_coordinator_button, pattern=buttons.COORDINATOR.pattern),
    CallbackQueryHandler(on_resident_answer, pattern=buttons.ANSWER.pattern),
]
# The invitation text (bot.chat.text_routes), kept even after crisis numbers were shown.
TEXT_ROUTES = (TextRoute(FLOW, compose=handle_text),)
