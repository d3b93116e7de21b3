"""/invite, /invite list and /roles with their revoke buttons (admins only), and opening an
invite link (its maker is then told, through the outbox).

The role is checked on the server at every command and every press. To anyone who is not an
admin these commands answer exactly like an unknown command, so their existence is not
revealed. Each handler ends with ApplicationHandlerStop: the update is fully handled, and no
later handler group (the unknown-command catch-all, the generic button router) may answer it
again. Invites, grants and revoking are in bot.roles.role_links, what each step looks like (and the
`adm:` button data) in bot.roles.admin_views.
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, CallbackQueryHandler, CommandHandler, filters

from bot.chat import command_menus
from bot.chat.context import BotContext
from bot.chat.fallback_replies import unknown_command
from bot.chat.handler_tools import events, refuse_press, send, show, signed_button, user_language
from bot.outbox import message as outbox
from bot.roles import admin_views as views
from bot.roles import buttons
from bot.roles.lookup import roles_for
from bot.roles.role_links import (
    InviteProblem,
    accept_invite,
    create_invite,
    granted_roles,
    invite_link,
    invite_press,
    is_invite_payload,
    is_list_request,
    parse_invite_args,
    pending_invites,
    revoke_press,
)

PREFIX = views.PREFIX  # every callback this module signs; the pattern below keeps it ours alone


async def _is_admin(update: Update, context: BotContext) -> bool:
    """Asked afresh every time: a revoked admin loses access with the next tap."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or chat.type != ChatType.PRIVATE:
        return False
    s = context.services
    return (await roles_for(s.config, s.storage, s.user_key(user.id), user.id)).admin


def _signed(context: BotContext, user_id: int) -> views.Button:
    """Buttons only this admin can send back."""
    services = context.services
    return lambda text, data: signed_button(services, user_id, text, data)


async def invite_command(update: Update, context: BotContext) -> None:
    """Create a single-use invite link granting one role, valid config.invite_days days."""
    if not await _is_admin(update, context):
        await unknown_command(update, context)
        raise ApplicationHandlerStop
    s, lang = context.services, await user_language(update, context)
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:  # _is_admin checked both; for the type checker
        raise ApplicationHandlerStop
    if is_list_request(list(context.args or [])):
        pending = await pending_invites(s.storage, s.now())
        button = _signed(context, user.id)
        view = views.invites_view(
            s.content, s.config, lang, pending, button, note_of=s.cipher.decrypt_note
        )
        await send(update, view)
        raise ApplicationHandlerStop
    parsed = parse_invite_args(s.config, list(context.args or []))
    if isinstance(parsed, InviteProblem):
        await send(update, views.usage_view(s.content, s.config, lang, parsed))
        raise ApplicationHandlerStop
    key = s.user_key(user.id)
    creator = (key, s.cipher.encrypt(chat.id, key))  # to tell this admin when it is used
    # The admin's label for the link ("Kari på biblioteket") is stored only encrypted.
    note_enc = s.cipher.encrypt_note(parsed.note) if parsed.note else None
    invite = await create_invite(s.storage, s.config, parsed, s.now(), creator, note_enc)
    events.info("invite created role=%s", invite.role)
    link = invite_link(context.bot.username, invite.token)
    await send(update, views.created_view(s.content, s.config, lang, invite, link))
    raise ApplicationHandlerStop


async def accept_invite_payload(update: Update, context: BotContext, payload: str) -> bool:
    """Handle `/start inv-<token>`: grant the invite's role once. False: not an invite."""
    s = context.services
    user, chat = update.effective_user, update.effective_chat
    if not is_invite_payload(payload) or s.config.municipality_by_code(payload) is not None:
        return False
    if user is None or chat is None or chat.type != ChatType.PRIVATE:
        return False
    lang = await user_language(update, context)
    user_key = s.user_key(user.id)
    chat_enc = s.cipher.encrypt(chat.id, user_key)  # so digests can reach a granted role
    accepted = await accept_invite(s.storage, s.config, payload, user_key, chat_enc, s.now())
    grant = accepted.grant
    if grant is None:
        events.info("invite refused")
    else:
        events.info("invite accepted role=%s", grant.role)
    await send(update, views.accepted_view(s.content, s.config, lang, grant))
    if grant is not None:  # their own command menu, with the role's commands (best effort)
        await command_menus.publish(context.bot, s, chat.id, user_key)
    if grant is not None and accepted.creator is not None:
        # The admin who made the link hears that it was used: role and scope, never who.
        admin_key, admin_chat = accepted.creator
        admin_lang = await s.storage.get_language(admin_key) or s.config.default_language
        notice = views.used_notice(s.content, s.config, admin_lang, grant, accepted.ref)
        await outbox.enqueue(
            s.storage, f"invite-used:{accepted.ref}", [(admin_key, admin_chat, notice)]
        )
        s.outbox_changed()
    return True


async def roles_command(update: Update, context: BotContext) -> None:
    """List every role; granted ones can be revoked with a button."""
    user = update.effective_user
    if user is None or not await _is_admin(update, context):
        await unknown_command(update, context)
        raise ApplicationHandlerStop
    s, lang = context.services, await user_language(update, context)
    granted = await granted_roles(s.storage)
    button = _signed(context, user.id)
    view = views.roles_view(
        s.content, s.config, lang, granted, button, note_of=s.cipher.decrypt_note
    )
    await send(update, view)
    raise ApplicationHandlerStop


async def on_admin_button(update: Update, context: BotContext) -> None:
    """A press on an `adm:` button: signed for this very user, and the user still an admin."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None:
        raise ApplicationHandlerStop
    s, lang = context.services, await user_language(update, context)
    pressed = views.parse_press(s.signer.verify(user.id, query.data or ""))
    if pressed is None or not await _is_admin(update, context):
        events.info("admin button refused")
        await refuse_press(query, s.content, lang)
        raise ApplicationHandlerStop
    await query.answer()
    action, arg = pressed
    button = _signed(context, user.id)
    if action in ("il", "iv", "ik"):  # unused invite links
        done = await invite_press(s.storage, s.now(), action, arg)
        if done.kind == "revoked" and done.invite is not None:
            events.info("invite revoked role=%s", done.invite.role)
        pending = [] if done.kind == "confirm" else await pending_invites(s.storage, s.now())
        view = views.invite_press_view(
            s.content, s.config, lang, done, pending, button, s.cipher.decrypt_note
        )
        await show(update, view)
        raise ApplicationHandlerStop
    outcome = await revoke_press(s.storage, s.user_key(user.id), action, arg)
    if outcome.kind == "revoked" and outcome.grant is not None:
        events.info("role revoked role=%s", outcome.grant.role)
    granted = [] if outcome.kind == "confirm" else await granted_roles(s.storage)
    view = views.press_view(
        s.content, s.config, lang, outcome, granted, button, s.cipher.decrypt_note
    )
    await show(update, view)
    if outcome.kind == "revoked" and outcome.grant is not None:
        # Their menu loses the role's commands (the grant kept their encrypted chat).
        revoked = outcome.grant
        chat_id = s.cipher.decrypt(revoked.chat_enc, revoked.user_key)
        if chat_id is not None:
            await command_menus.publish(context.bot, s, chat_id, revoked.user_key)
    raise ApplicationHandlerStop


HANDLERS = [
    CommandHandler("invite", invite_command, filters.ChatType.PRIVATE),
    CommandHandler("roles", roles_command, filters.ChatType.PRIVATE),
    # Before the generic button router: it would call these buttons stale.
    CallbackQueryHandler(on_admin_button, pattern=buttons.SHAPE.pattern),
]
# `/start inv-<token>` (bot.chat.text_routes): tried before the welcome.
START_PAYLOADS = (accept_invite_payload,)
