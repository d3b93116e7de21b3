"""What python-telegram-bot hands each handler: application.bot_data holds the Services, and
BotContext reaches them as `context.services`. Only Telegram-facing code imports this module."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from telegram.ext import CallbackContext, ExtBot

from bot.services import Services


@dataclass
class BotData:
    """application.bot_data: holds the services (set by build_application)."""

    services: Services | None = field(default=None)


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """The context every handler receives."""

    @property
    def services(self) -> Services:
        services = self.bot_data.services
        if services is None:
            raise RuntimeError("build_application did not attach services")
        return services
