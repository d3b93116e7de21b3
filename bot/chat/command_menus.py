"""Telegram's command menu per role: each role holder's private chat gets a menu with their
role's commands (bot/general/help.py), set at start-up and whenever a role is granted by link or
revoked. Everyone else sees the global menu (bot.composition.register_commands).

Best effort: a menu is a convenience, never a permission (every command checks the role on the
server). A failed call is logged by its kind only, never with a chat id, and never stops what
called it. The chat ids used here are held in memory only for the call.
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeChat

from bot.config import LANGUAGES
from bot.general import help as role_help
from bot.roles.lookup import Roles, config_role_ids, roles_for
from bot.services import Services

log = logging.getLogger(__name__)
OTHER_LANGUAGE = "en"  # Telegram users with this language code get it unless they chose one


def _menu(services: Services, roles: Roles, lang: str) -> list[BotCommand]:
    content = services.content
    return [
        BotCommand(c, content.text(lang, f"commands.{c}")) for c in role_help.menu_commands(roles)
    ]


async def publish(bot: Bot, services: Services, chat_id: int, user_key: str) -> bool:
    """Set (or, without a role, remove) one person's own menu; False if Telegram refused.
    In a private chat the chat id is the person's Telegram id, which config.yaml roles use."""
    try:
        roles = await roles_for(services.config, services.storage, user_key, chat_id)
        scope = BotCommandScopeChat(chat_id)
        if not roles.privileged:  # back to the global menu
            await bot.delete_my_commands(scope=scope)
            await bot.delete_my_commands(scope=scope, language_code=OTHER_LANGUAGE)
            return True
        chosen = await services.storage.get_language(user_key)
        chosen = chosen if chosen in LANGUAGES else None
        default = chosen or services.config.default_language
        await bot.set_my_commands(_menu(services, roles, default), scope=scope)
        other = chosen or OTHER_LANGUAGE
        await bot.set_my_commands(
            _menu(services, roles, other), scope=scope, language_code=OTHER_LANGUAGE
        )
    except Exception as exc:  # a menu must never break a grant or start-up
        log.warning("command menu not updated: %s", type(exc).__name__)
        return False
    return True


async def role_holders(services: Services) -> list[tuple[int, str]]:
    """(chat id, user key) of everyone holding a role: config.yaml's by Telegram id, granted
    ones by their encrypted chat (a grant that no longer decrypts is skipped)."""
    config = services.config
    found = {uid: services.user_key(uid) for uid in config_role_ids(config)}
    for grant in await services.storage.all_roles():
        chat = services.cipher.decrypt(grant.chat_enc, grant.user_key)
        if chat is not None:
            found.setdefault(chat, grant.user_key)
    return sorted(found.items())


async def publish_all(bot: Bot, services: Services) -> None:
    """Every role holder's menu, at start-up."""
    holders = await role_holders(services)
    failed = 0
    for chat_id, key in holders:
        if not await publish(bot, services, chat_id, key):
            failed += 1
    log.info("role menus published=%d failed=%d", len(holders) - failed, failed)
