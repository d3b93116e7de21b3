"""Sending one FAQ topic's answer: shared by the FAQ menu, free-text answers and the interest
flow ("asking for someone else" opens the on_behalf topic), so no feature's handlers need
another's."""

from __future__ import annotations

from telegram import Update

from bot.chat import rendering as render
from bot.chat.context import BotContext
from bot.chat.handler_tools import events, send


async def show_topic(update: Update, context: BotContext, lang: str, topic_id: str) -> None:
    """Send a topic's answer as a new message, so earlier answers stay readable above it."""
    services = context.services
    events.info("topic_opened topic=%s lang=%s", topic_id, lang)
    await send(update, render.topic_answer(services.content, services.config, lang, topic_id))
    await send_forwardable(update, context, lang, topic_id)


async def send_forwardable(update: Update, context: BotContext, lang: str, topic_id: str) -> None:
    """After an answer about asking for someone else: a short text they can forward, alone in
    its own message so it forwards cleanly."""
    content = context.services.content
    if content.topics[topic_id].forwardable:
        await send(update, render.Rendered(content.text(lang, "on_behalf.forward_intro")))
        await send(update, render.Rendered(content.text(lang, "on_behalf.forward_text")))
