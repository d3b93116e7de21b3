"""Run the real application offline: the terminal chat and `ask` (same handlers, fake Bot API).

`LocalSession` pushes real Updates through `Application.process_update` and collects what the
bot sent through the fake API, so both commands exercise exactly the code path of Telegram.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from telegram.ext import Application

from bot.answering import Reply
from bot.app import build_application, create_services
from bot.config import Config
from bot.fakeapi import FakeBotRequest, FakeTelegram, Sent
from bot.fakeupdates import callback_update, message_update
from bot.scheduler import Scheduler

LOCAL_USER_ID = 4242
# The terminal chat keeps its own database next to the live one (see LocalSession.start).
TERMINAL_DATABASE = "terminal-chat.sqlite3"


class LocalSession:
    """One person talking to the bot in-process."""

    def __init__(
        self,
        app: Application,
        fake: FakeTelegram,
        lang: str | None,
        user_id: int = LOCAL_USER_ID,
        scheduler: Scheduler | None = None,
    ) -> None:
        self.app = app
        self.fake = fake
        self.language_code = lang or "nb"
        self.user_id = user_id
        self.scheduler = scheduler
        self.relayed = 0  # messages the bot sent to other chats (relays, digests)
        self.last_buttons: Sent | None = None
        self.replies: list[Reply] = []
        app.bot_data.services.reply_listener = self.replies.append

    @classmethod
    async def start(
        cls,
        config: Config,
        lang: str | None = None,
        user_id: int = LOCAL_USER_ID,
        background: bool = False,
        database: str | None = None,
    ) -> LocalSession:
        """`background`: also run the scheduled jobs and the sending queue after each turn,
        so digests and invitations are delivered as on Telegram. `database`: another file
        than the live one, so a trial never marks a real digest or invitation as sent."""
        fake = FakeTelegram()
        services = await create_services(config, database=database)
        app = build_application(services, request=FakeBotRequest(fake), with_updater=False)
        await app.initialize()
        scheduler = Scheduler(services, app.bot) if background else None
        return cls(app, fake, lang, user_id, scheduler)

    async def close(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        await self.app.shutdown()
        await self.app.bot_data.services.storage.close()

    async def say(self, text: str) -> list[Sent]:
        """Send a message as the local user; returns what the bot sent back."""
        before = len(self.fake.sent)
        update = message_update(text, self.app.bot, self.user_id, language_code=self.language_code)
        await self.app.process_update(update)
        await self._background()
        return self._collect(before)

    async def _background(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.tick()
            await self.scheduler.sender.send_due(self.app.bot)

    async def press(self, sent: Sent, data: str) -> list[Sent]:
        """Press a button on a message the bot sent."""
        before = len(self.fake.sent)
        update = callback_update(
            data,
            self.app.bot,
            self.user_id,
            message_id=sent.message_id,
            language_code=self.language_code,
            message_text=sent.text,
        )
        await self.app.process_update(update)
        await self._background()
        return self._collect(before)

    def _collect(self, before: int) -> list[Sent]:
        """What the local user sees (messages to other chats are only counted)."""
        new = [s for s in self.fake.sent[before:] if s.chat_id == self.user_id]
        self.relayed += len(self.fake.sent) - before - len(new)
        for s in new:
            if s.callback_data:
                self.last_buttons = s
        return new


def _print_message(sent: Sent, out: TextIO) -> None:
    out.write(f"\n🤖 {sent.text}\n")
    for i, label in enumerate(sent.button_texts, start=1):
        out.write(f"   [{i}] {label}\n")
    for url in sent.urls:
        out.write(f"   ({url})\n")
    out.flush()


async def run_terminal_chat(
    config: Config,
    lang: str | None,
    inp: TextIO,
    out: TextIO,
    user_id: int = LOCAL_USER_ID,
) -> int:
    """The local terminal chat: type questions or commands; a number presses a button.

    `user_id` lets a deployer try a role from config.yaml (e.g. a coordinator's id)."""
    session = await LocalSession.start(
        config,
        lang,
        user_id,
        background=True,
        database=str(config.data_dir / TERMINAL_DATABASE),
    )
    content = session.app.bot_data.services.content
    ui_lang = "en" if lang == "en" else "nb"
    out.write(content.text(ui_lang, "chat.banner") + "\n")
    try:
        for sent in await session.say("/start"):
            _print_message(sent, out)
        while True:
            out.write(f"\n{content.text(ui_lang, 'chat.you')}> ")
            out.flush()
            line = inp.readline()
            if not line or line.strip() in ("/quit", "/exit"):
                break
            text = line.strip()
            if not text:
                continue
            shown = session.last_buttons
            pressed = text.isascii() and text.isdigit()  # "²" is a digit but not a number
            if pressed and shown and 1 <= int(text) <= len(shown.callback_data):
                replies = await session.press(shown, shown.callback_data[int(text) - 1])
            else:
                replies = await session.say(text)
            for sent in replies:
                _print_message(sent, out)
            if session.relayed and user_id != LOCAL_USER_ID:  # only news to someone with a role
                out.write(content.text(ui_lang, "chat.relayed", count=session.relayed) + "\n")
                session.relayed = 0
        out.write("\n" + content.text(ui_lang, "chat.bye") + "\n")
    finally:
        await session.close()
    return 0


def _reply_json(question: str, decisions: list[Reply], sent: list[Sent]) -> dict[str, Any]:
    reply = decisions[-1] if decisions else None
    crisis = next((r for r in decisions if r.kind == "crisis"), None)
    return {
        "question": question,
        "answer": "\n\n".join(s.text for s in sent),
        "kind": reply.kind if reply else None,
        "topic": reply.topic_id if reply else None,
        "suggestions": list(reply.suggestions) if reply else [],
        "lang": reply.lang if reply else None,
        "confidence": round(reply.confidence, 4) if reply else 0.0,
        "crisis": crisis is not None,
        "crisis_kind": crisis.crisis_kind if crisis else None,
        "crisis_tier": crisis.crisis_tier if crisis else None,
        "buttons": [label for s in sent for label in s.button_texts],
    }


async def run_ask(config: Config, lang: str | None, questions: Iterable[str], out: TextIO) -> int:
    """Answer each question through the application; one JSON object per line, in order."""
    session = await LocalSession.start(config, lang)
    try:
        for question in questions:
            question = question.rstrip("\n")
            if not question.strip():
                continue
            session.replies.clear()
            sent = await session.say(question)
            decisions = list(session.replies)
            out.write(
                json.dumps(_reply_json(question, decisions, sent), ensure_ascii=False) + "\n"
            )
            out.flush()
    finally:
        await session.close()
    return 0


def stdin_lines() -> Iterable[str]:
    return iter(sys.stdin.readline, "")
