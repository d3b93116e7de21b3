"""/invite and /roles with their revoke buttons (admins only), and opening an invite link.

The role is checked on the server at every command and every press. To anyone who is not an
admin these commands answer exactly like an unknown command, so their existence is not
revealed. Each handler ends with ApplicationHandlerStop: the update is fully handled, and no
later handler group (the unknown-command catch-all, the generic button router) may answer it
again.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, CallbackQueryHandler, CommandHandler, filters

from bot.handlers import misc
from bot.handlers.common import events, send, show, user_language
from bot.invites import (
    GrantedRole,
    InviteProblem,
    accept_invite,
    config_roles,
    create_invite,
    find_grant,
    granted_roles,
    invite_link,
    is_invite_payload,
    local_time,
    parse_invite_args,
    revoke_grant,
    scope_label,
)
from bot.render import Rendered, main_menu_keyboard
from bot.roles import roles_for
from bot.services import BotContext

PREFIX = "adm:"  # every callback this module signs; the pattern below keeps it ours alone
MAX_LISTED = 40  # granted roles shown with a button; keeps the message and keyboard small


async def _is_admin(update: Update, context: BotContext) -> bool:
    """Asked afresh every time: a revoked admin loses access with the next tap."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or chat.type != ChatType.PRIVATE:
        return False
    s = context.services
    return (await roles_for(s.config, s.storage, s.user_key(user.id), user.id)).admin


def _role_text(context: BotContext, lang: str, role: str, scope: str) -> str:
    s = context.services
    label = scope_label(s.config, role, scope)
    return s.content.text(lang, f"admin.role.{role}", scope=label)


def _signed(
    context: BotContext, user_id: int, label: str, data: str
) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(label, callback_data=context.services.signer.sign(user_id, data))]


def _usage(context: BotContext, lang: str, problem: InviteProblem) -> str:
    """How to call /invite, listing the valid names, after what was wrong (if not just usage)."""
    s = context.services
    usage = s.content.text(
        lang,
        "admin.invite.usage",
        municipalities=", ".join(m.name for m in s.config.municipalities),
        regions=", ".join(f"{r.id} ({r.name})" for r in s.config.regions),
    )
    if problem.reason == "usage":
        return usage
    what = s.content.text(lang, f"admin.invite.unknown_{problem.reason}", given=problem.given)
    return f"{what}\n\n{usage}"


async def invite_command(update: Update, context: BotContext) -> None:
    """Create a single-use invite link granting one role, valid config.invite_days days."""
    if not await _is_admin(update, context):
        await misc.unknown_command(update, context)
        raise ApplicationHandlerStop
    s, lang = context.services, await user_language(update, context)
    parsed = parse_invite_args(s.config, list(context.args or []))
    if isinstance(parsed, InviteProblem):
        await send(update, Rendered(_usage(context, lang, parsed)))
        raise ApplicationHandlerStop
    invite = await create_invite(s.storage, s.config, parsed, s.now())
    events.info("invite created role=%s", invite.role)
    text = s.content.text(
        lang,
        "admin.invite.created",
        grants=_role_text(context, lang, invite.role, invite.scope),
        expires=local_time(invite.expires_at, s.config.timezone),
        timezone=s.config.timezone,
        link=invite_link(context.bot.username, invite.token),
    )
    await send(update, Rendered(text))
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
    grant = await accept_invite(s.storage, s.config, payload, user_key, chat_enc, s.now())
    if grant is None:
        events.info("invite refused")
        text = s.content.text(lang, "admin.accepted.invalid")
        await send(update, Rendered(text, main_menu_keyboard(s.content, lang)))
        return True
    events.info("invite accepted role=%s", grant.role)
    grants = _role_text(context, lang, grant.role, grant.scope)
    await send(
        update, Rendered(s.content.text(lang, f"admin.accepted.{grant.role}", grants=grants))
    )
    return True


async def _roles_view(context: BotContext, lang: str, user_id: int, note: str = "") -> Rendered:
    """Config roles (read-only) and granted roles, each granted one with a revoke button."""
    s = context.services

    def t(key: str, **values: object) -> str:
        return s.content.text(lang, f"admin.roles.{key}", **values)

    def role(role: str, scope: str) -> str:
        return _role_text(context, lang, role, scope)

    def day(ts: int) -> str:
        return local_time(ts, s.config.timezone, "%Y-%m-%d")

    lines = [note, ""] if note else []
    lines += [t("title"), "", t("config_heading")]
    lines += [
        t("config_line", role=role(r.role, r.scope), user_id=r.user_id)
        for r in config_roles(s.config)
    ] or [t("none")]
    granted = await granted_roles(s.storage)
    shown = granted[:MAX_LISTED]
    lines += ["", t("granted_heading")]
    lines += [
        t("granted_line", role=role(g.role, g.scope), ref=g.ref, date=day(g.granted_at))
        for g in shown
    ] or [t("none")]
    if len(granted) > len(shown):
        lines.append(t("more", count=len(granted) - len(shown)))
    if shown:
        lines += ["", t("revoke_hint")]
    rows = [
        _signed(
            context,
            user_id,
            t("revoke_button", ref=g.ref, role=role(g.role, g.scope)),
            f"{PREFIX}rv:{g.grant_id}",
        )
        for g in shown
    ]
    return Rendered("\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)


async def roles_command(update: Update, context: BotContext) -> None:
    """List every role; granted ones can be revoked with a button."""
    user = update.effective_user
    if user is None or not await _is_admin(update, context):
        await misc.unknown_command(update, context)
        raise ApplicationHandlerStop
    lang = await user_language(update, context)
    await send(update, await _roles_view(context, lang, user.id))
    raise ApplicationHandlerStop


def _own_admin(context: BotContext, user_id: int, grant: GrantedRole) -> bool:
    """Removing your own admin grant could leave nobody able to manage roles: refuse it."""
    return grant.role == "admin" and grant.user_key == context.services.user_key(user_id)


async def _press(context: BotContext, lang: str, user_id: int, action: str, arg: str) -> Rendered:
    """What a verified admin's press leads to: a confirmation, a revocation or the list."""
    s = context.services
    grant = await find_grant(s.storage, arg) if action in ("rv", "rk") else None
    if action in ("rv", "rk") and grant is None:
        return await _roles_view(context, lang, user_id, s.content.text(lang, "admin.roles.gone"))
    if grant is None:
        return await _roles_view(context, lang, user_id)
    if _own_admin(context, user_id, grant):
        note = s.content.text(lang, "admin.roles.not_self")
        return await _roles_view(context, lang, user_id, note)
    role = _role_text(context, lang, grant.role, grant.scope)
    if action == "rv":
        text = s.content.text(lang, "admin.roles.confirm", role=role, ref=grant.ref)
        yes = s.content.text(lang, "admin.roles.confirm_yes")
        no = s.content.text(lang, "admin.roles.confirm_no")
        rows = [
            _signed(context, user_id, yes, f"{PREFIX}rk:{grant.grant_id}"),
            _signed(context, user_id, no, f"{PREFIX}ls"),
        ]
        return Rendered(text, InlineKeyboardMarkup(rows))
    await revoke_grant(s.storage, grant)
    events.info("role revoked role=%s", grant.role)
    note = s.content.text(lang, "admin.roles.revoked", role=role, ref=grant.ref)
    return await _roles_view(context, lang, user_id, note)


async def on_admin_button(update: Update, context: BotContext) -> None:
    """A press on an `adm:` button: signed for this very user, and the user still an admin."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None:
        raise ApplicationHandlerStop
    s, lang = context.services, await user_language(update, context)
    data = s.signer.verify(user.id, query.data or "")
    if data is None or not data.startswith(PREFIX) or not await _is_admin(update, context):
        events.info("admin button refused")
        await query.answer(s.content.text(lang, "errors.stale_button"), show_alert=True)
        raise ApplicationHandlerStop
    await query.answer()
    action, _, arg = data.removeprefix(PREFIX).partition(":")
    await show(update, await _press(context, lang, user.id, action, arg))
    raise ApplicationHandlerStop


HANDLERS = [
    CommandHandler("invite", invite_command, filters.ChatType.PRIVATE),
    CommandHandler("roles", roles_command, filters.ChatType.PRIVATE),
    # Before the generic button router: it would call these buttons stale.
    CallbackQueryHandler(on_admin_button, pattern=rf"^{PREFIX}"),
]
