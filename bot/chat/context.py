"""What python-telegram-bot hands each handler: application.bot_data holds the Services, and
BotContext reaches them as `context.services`. Only Telegram-facing code imports this module."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram.ext import CallbackContext, ExtBot

from bot.services import Services

if TYPE_CHECKING:
    from bot.chat.text_routes import TakePayload, TextRoute


@dataclass
class BotData:
    """application.bot_data: the services and the typed-input routes (set by
    build_application)."""

    services: Services | None = field(default=None)
    # Flow name -> what that flow does with typed text (bot.chat.text_routes).
    text_routes: dict[str, TextRoute] = field(default_factory=dict)
    # `/start <payload>` takers, tried in order before the welcome.
    start_payloads: tuple[TakePayload, ...] = ()


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """The context every handler receives."""

    @property
    def services(self) -> Services:
        services = self.bot_data.services
        if services is None:
            raise RuntimeError("build_application did not attach services")
        return services
