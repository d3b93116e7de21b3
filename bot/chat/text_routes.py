"""Typed input routed to the feature whose multi-step flow a person is in.

Free text arrives at one handler (bot.answers.handlers); a feature that waits for typed input
(an invitation's text, an announcement's fields, a typed answer in /interest) exposes
`TEXT_ROUTES` in its handler module, and the composition root (bot.composition) collects them, in
its one defined order, into application.bot_data. So no feature's handlers import another's.
The same goes for `/start <payload>`: a feature that owns a kind of payload (an admin's invite
link) exposes `START_PAYLOADS`, tried in order before the welcome.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

from telegram import Update

from bot.answers.answering import Reply
from bot.chat.context import BotContext

# Replies to a question asked mid-way (the free-text handler's own reply: logged, then sent).
Answer: TypeAlias = Callable[[Reply], Awaitable[None]]
# True when the flow took the text; False leaves it to the next stage (in the end: a question).
TakeText: TypeAlias = Callable[[Update, BotContext, str], Awaitable[bool]]
TakeAnswer: TypeAlias = Callable[[Update, BotContext, str, Answer], Awaitable[bool]]
ShowStep: TypeAlias = Callable[[Update, BotContext], Awaitable[None]]
# True when the payload was the feature's (handled, even if refused); False: not its kind.
TakePayload: TypeAlias = Callable[[Update, BotContext, str], Awaitable[bool]]


@dataclass(frozen=True)
class TextRoute:
    """What one flow (by its stored flow name) does with text typed while a person is in it."""

    flow: str
    # Text the flow keeps even after crisis numbers were shown (a coordinator's invitation or an
    # office's announcement may well speak of suicide); looked at first.
    compose: TakeText | None = None
    # Typed answers, looked at only when no crisis reply stopped the text.
    answer: TakeAnswer | None = None
    # After a crisis reply to someone in the flow: the step they are at, so they know where.
    after_crisis: ShowStep | None = None


def collect_text_routes(*groups: Iterable[TextRoute]) -> dict[str, TextRoute]:
    """Flow name -> its route, from each handler module's TEXT_ROUTES; one route per flow."""
    routes: dict[str, TextRoute] = {}
    for group in groups:
        for route in group:
            if route.flow in routes:
                raise ValueError(f"two text routes for flow {route.flow!r}")
            routes[route.flow] = route
    return routes


def route_for(routes: Mapping[str, TextRoute], flow: str | None) -> TextRoute | None:
    return routes.get(flow) if flow else None
