"""/digest: a coordinator's, office's or admin's digest right now, in a private chat.

The role is checked on every call. Anyone without one gets exactly the unknown-command reply,
so the command's existence reveals nothing. The digest is sent at once, not through the outbox.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler, filters

from bot.chat.context import BotContext
from bot.chat.fallback_replies import unknown_command
from bot.chat.handler_tools import events, send, user_language
from bot.chat.rendering import Rendered
from bot.digest.weekly import digest_messages
from bot.roles.lookup import roles_for


async def digest_command(update: Update, context: BotContext) -> None:
    """Send the person's digest, covering only the places their roles cover."""
    services = context.services
    user = update.effective_user
    if user is None:
        return
    roles = await roles_for(services.config, services.storage, services.user_key(user.id), user.id)
    if not roles.privileged:
        await unknown_command(update, context)
        return
    lang = await user_language(update, context)
    messages = await digest_messages(services, roles, lang)
    events.info("digest shown messages=%d", len(messages))
    for text in messages:
        await send(update, Rendered(text))


HANDLERS = [CommandHandler("digest", digest_command, filters.ChatType.PRIVATE)]
