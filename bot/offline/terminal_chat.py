"""Run the real application offline: the terminal chat and `ask` (same handlers, fake Bot API).

`LocalSession` pushes real Updates through `Application.process_update` and collects what the
bot sent through the fake API, so both commands exercise exactly the code path of Telegram.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from telegram.ext import Application
from telegram.request import RequestData

from bot.answers.answering import Reply
from bot.config import Config
from bot.content import Content
from bot.lifecycle import BotRuntime
from bot.offline.fake_bot_api import FakeBotRequest, FakeTelegram, Sent
from bot.offline.fake_updates import callback_update, message_update
from bot.scheduler import Scheduler

LOCAL_USER_ID = 4242
# The terminal chat keeps its own database next to the live one (see LocalSession.start).
TERMINAL_DATABASE = "terminal-chat.sqlite3"
# `ask` answers on a database of its own in a temporary folder (see run_ask).
ASK_DATABASE = "ask.sqlite3"
# Where the terminal chat saves the files the bot sends (posters, calendar files), one folder
# per recipient; relative to where the chat was started.
CHAT_FILES = Path("chat-files")
_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


class FileKeepingRequest(FakeBotRequest):
    """The fake Bot API, also saving uploaded files (posters, calendar files) as
    `<folder>/<chat id>/<file name>`, so they can be opened; `saved` maps the message id of
    each document to its file. The fake itself records only JSON parameters."""

    def __init__(self, fake: FakeTelegram, folder: Path | None) -> None:
        super().__init__(fake)
        self.folder = folder
        self.saved: dict[int, Path] = {}
        self._taken: set[Path] = set()

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, *args: Any, **kw: Any
    ) -> tuple[int, bytes]:
        files: list[tuple[str, bytes]] = []
        if self.folder is not None and request_data is not None and request_data.contains_files:
            for name, data, *_ in request_data.multipart_data.values():
                files.append((str(name), data if isinstance(data, bytes) else data.read()))
        before = len(self.fake.sent)
        answer = await super().do_request(url, method, request_data, *args, **kw)
        if files and len(self.fake.sent) > before:
            sent = self.fake.sent[-1]
            for name, data in files:
                self.saved[sent.message_id] = self._save(sent.chat_id, name, data)
        return answer

    def _save(self, chat_id: int, name: str, data: bytes) -> Path:
        """Write one file; a second file of the same name in this session gets -2, -3, ..."""
        assert self.folder is not None
        folder = self.folder / str(chat_id)
        folder.mkdir(parents=True, exist_ok=True)
        clean = _UNSAFE_FILE_CHARS.sub("-", Path(name).name).strip("-.") or "file"
        stem, dot, suffix = clean.rpartition(".")
        if not dot:
            stem, suffix = clean, ""
        path, n = folder / clean, 1
        while path in self._taken:
            n += 1
            path = folder / (f"{stem}-{n}.{suffix}" if suffix else f"{stem}-{n}")
        self._taken.add(path)
        path.write_bytes(data)
        return path


class LocalSession:
    """People talking to the bot in-process: one at a time (`user_id`, changed with
    `switch`), on one fake Telegram, so what the bot sends to anyone is seen."""

    def __init__(
        self,
        app: Application,
        fake: FakeTelegram,
        lang: str | None,
        user_id: int = LOCAL_USER_ID,
        scheduler: Scheduler | None = None,
        request: FileKeepingRequest | None = None,
    ) -> None:
        self.app = app
        self.fake = fake
        self.language_code = lang or "nb"
        self.user_id = user_id
        self.scheduler = scheduler
        self.request = request
        self.relayed = 0  # messages the bot sent to other chats (relays, digests)
        self.buttons: dict[int, Sent] = {}  # per person: the latest message with buttons
        self.turn: list[Sent] = []  # everything the bot sent during the last turn, to anyone
        self.replies: list[Reply] = []
        self.runtime: BotRuntime | None = None  # set by start(), which stops it in close()
        app.bot_data.services.reply_listener = self.replies.append

    @property
    def last_buttons(self) -> Sent | None:
        """The current person's latest message with buttons."""
        return self.buttons.get(self.user_id)

    @last_buttons.setter
    def last_buttons(self, sent: Sent | None) -> None:
        if sent is None:
            self.buttons.pop(self.user_id, None)
        else:
            self.buttons[self.user_id] = sent

    @property
    def files_dir(self) -> Path | None:
        return self.request.folder if self.request is not None else None

    def saved_file(self, sent: Sent) -> Path | None:
        """Where the file of a document message was saved, if it was."""
        return self.request.saved.get(sent.message_id) if self.request is not None else None

    def switch(self, user_id: int) -> None:
        """From now on, type and press as `user_id` (their buttons stay as they were)."""
        self.user_id = user_id

    @classmethod
    async def start(
        cls,
        config: Config,
        lang: str | None = None,
        user_id: int = LOCAL_USER_ID,
        background: bool = False,
        database: str | None = None,
        files_dir: Path | None = None,
        clock: Callable[[], float] | None = None,
        content: Content | None = None,
    ) -> LocalSession:
        """`background`: also run the scheduled jobs and the sending queue after each turn,
        so digests and invitations are delivered as on Telegram. `database`: another file
        than the live one, so a trial never marks a real digest or invitation as sent.
        `files_dir`: save the files the bot sends there (else they are dropped). `clock` and
        `content`: for tests (default: the time now, the shipped flows/)."""
        fake = FakeTelegram()
        request = FileKeepingRequest(fake, files_dir)
        runtime = BotRuntime(
            config,
            mode="offline",
            request=request,
            database=database,
            content=content,
            clock=clock or time.time,
            background="manual" if background else "off",
        )
        await runtime.start()
        assert runtime.app is not None
        session = cls(runtime.app, fake, lang, user_id, runtime.scheduler, request)
        session.runtime = runtime
        return session

    async def close(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop()
            return
        if self.scheduler is not None:
            await self.scheduler.stop()
        await self.app.shutdown()
        await self.app.bot_data.services.storage.close()

    async def say(self, text: str) -> list[Sent]:
        """Send a message as the current person; returns what the bot sent back to them
        (`turn` holds what it sent to anyone)."""
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

    def button_for(self, typed: str) -> str | None:
        """The callback data of the current person's latest button that `typed` presses: its
        number (1, 2, ...) or its label (any case, emoji and punctuation aside)."""
        shown = self.last_buttons
        if shown is None:
            return None
        data = [b.get("callback_data") for row in shown.buttons for b in row]
        text = typed.strip()
        if text.isascii() and text.isdigit():  # "²" is a digit but not a number
            pressable = shown.callback_data
            return pressable[int(text) - 1] if 1 <= int(text) <= len(pressable) else None
        wanted = _label_key(text)
        for label, callback in zip(shown.button_texts, data, strict=True):
            if callback and wanted and _label_key(label) == wanted:
                return str(callback)
        return None

    async def type_or_press(self, typed: str) -> list[Sent]:
        """What the terminal does with a line: press the button it names, else send it."""
        shown, data = self.last_buttons, self.button_for(typed)
        if shown is not None and data is not None:
            return await self.press(shown, data)
        return await self.say(typed.strip())

    def _collect(self, before: int) -> list[Sent]:
        """What the current person sees; messages to others are in `turn` and counted."""
        self.turn = self.fake.sent[before:]
        new = [s for s in self.turn if s.chat_id == self.user_id]
        self.relayed += len(self.turn) - len(new)
        for s in self.turn:
            if s.callback_data:
                self.buttons[s.chat_id] = s
            elif s.method == "editMessageText":  # an edit without buttons takes them away
                shown = self.buttons.get(s.chat_id)
                if shown is not None and shown.message_id == s.message_id:
                    del self.buttons[s.chat_id]
        return new


def _label_key(label: str) -> str:
    """A button label as typed: lower case, letters, digits and single spaces only."""
    return " ".join("".join(c if c.isalnum() else " " for c in label.casefold()).split())


# --- the people of a terminal chat -----------------------------------------------------------

_ROLE_WORDS = {
    "coordinator": "coordinator",
    "koordinator": "coordinator",
    "office": "office",
    "kontor": "office",
    "regionkontor": "office",
    "admin": "admin",
    "administrator": "admin",
    "resident": "resident",
    "innbygger": "resident",
}


@dataclass(frozen=True)
class Person:
    """Someone the terminal chat can be: a role holder from config.yaml, or a resident."""

    user_id: int
    role: str  # resident, coordinator, office or admin
    detail: str = ""  # a coordinator's municipalities, an office's region


def config_people(config: Config) -> list[Person]:
    """The role holders config.yaml names, admins first, then the default resident."""
    people = [Person(uid, "admin") for uid in sorted(config.admins)]
    people += [
        Person(c.user_id, "coordinator", ", ".join(c.municipalities)) for c in config.coordinators
    ]
    people += [Person(o.user_id, "office", o.region) for o in config.offices]
    people.append(Person(LOCAL_USER_ID, "resident"))
    return people


def find_person(people: list[Person], wanted: str) -> int | None:
    """The user id `/as <wanted>` means: a number is anyone's id; a role word picks the first
    holder of that role, or, with a number or a place after it, that one ("coordinator Alta",
    "office 2"). None when nobody fits."""
    words = wanted.split()
    if len(words) == 1 and words[0].isascii() and words[0].isdigit():
        return int(words[0]) if int(words[0]) > 0 else None
    role = _ROLE_WORDS.get(words[0].casefold()) if words else None
    if role is None:
        return None
    holders = [p for p in people if p.role == role]
    rest = " ".join(words[1:]).casefold()
    if not rest:
        return holders[0].user_id if holders else None
    if rest.isascii() and rest.isdigit():
        n = int(rest)
        return holders[n - 1].user_id if 1 <= n <= len(holders) else None
    for p in holders:
        if rest in (d.strip().casefold() for d in p.detail.split(",")):
            return p.user_id
    return None


class Cast:
    """Who is who in a terminal chat, and how each is named on screen."""

    def __init__(self, config: Config, content: Content, lang: str) -> None:
        self.people = config_people(config)
        self.content = content
        self.lang = lang

    def person(self, user_id: int) -> Person:
        known = next((p for p in self.people if p.user_id == user_id), None)
        if known is None:
            known = Person(user_id, "resident")
            self.people.append(known)
        return known

    def name(self, user_id: int) -> str:
        """A resident by id ("5001"), a role holder with the role ("koordinator 100000002")."""
        person = self.person(user_id)
        if person.role == "resident":
            return str(user_id)
        return f"{self.content.text(self.lang, f'chat.role.{person.role}')} {user_id}"

    def listing(self, current: int) -> list[str]:
        lines = [self.content.text(self.lang, "chat.as_list")]
        for p in self.people:
            role = self.content.text(self.lang, f"chat.role.{p.role}")
            detail = f" ({p.detail})" if p.detail else ""
            you = f" {self.content.text(self.lang, 'chat.as_you')}" if p.user_id == current else ""
            lines.append(f"   /as {p.user_id:<12} {role}{detail}{you}")
        return lines


def _print_message(
    sent: Sent, out: TextIO, who: str = "", edited: str = "", saved: str = ""
) -> None:
    head = f"→ {who}" + (f" ({edited})" if edited else "") if who else "🤖"
    out.write(f"\n{head}: {sent.text}\n" if who else f"\n{head} {sent.text}\n")
    for i, label in enumerate(sent.button_texts, start=1):
        out.write(f"   [{i}] {label}\n")
    for url in sent.urls:
        out.write(f"   ({url})\n")
    if saved:
        out.write(f"   📎 {saved}\n")
    out.flush()


async def run_terminal_chat(
    config: Config,
    lang: str | None,
    inp: TextIO,
    out: TextIO,
    user_id: int = LOCAL_USER_ID,
    files_dir: Path = CHAT_FILES,
) -> int:
    """The local terminal chat: type questions or commands; a number or a label presses a
    button; `/as WHO` switches to another person (`/as` alone lists them). Everything the bot
    sends, to anyone, is shown with its recipient; files are saved under `files_dir`.

    `user_id`: the first person (e.g. a coordinator's id from config.yaml)."""
    session = await LocalSession.start(
        config,
        lang,
        user_id,
        background=True,
        database=str(config.data_dir / TERMINAL_DATABASE),
        files_dir=files_dir,
    )
    content = session.app.bot_data.services.content
    ui_lang = "en" if lang == "en" else "nb"
    cast = Cast(config, content, ui_lang)

    def show(messages: list[Sent]) -> None:
        for sent in messages:
            path = session.saved_file(sent)
            saved = content.text(ui_lang, "chat.saved", path=path) if path else ""
            edit = sent.method == "editMessageText"
            edited = content.text(ui_lang, "chat.edited") if edit else ""
            _print_message(sent, out, cast.name(sent.chat_id), edited, saved)

    out.write(content.text(ui_lang, "chat.banner"))
    out.write(content.text(ui_lang, "chat.files", folder=f"{files_dir}{'/'}") + "\n")
    try:
        await session.say("/start")
        show(session.turn)
        while True:
            you = content.text(ui_lang, "chat.you")
            out.write(f"\n{you} ({cast.name(session.user_id)})> ")
            out.flush()
            line = inp.readline()
            if not line or line.strip() in ("/quit", "/exit"):
                break
            text = line.strip()
            if not text:
                continue
            if text == "/as" or text.startswith("/as "):
                wanted = text[3:].strip()
                chosen = find_person(cast.people, wanted) if wanted else None
                if chosen is not None:
                    session.switch(chosen)
                    out.write(content.text(ui_lang, "chat.as_now", who=cast.name(chosen)) + "\n")
                else:
                    if wanted:
                        out.write(content.text(ui_lang, "chat.as_unknown", who=wanted) + "\n")
                    out.write("\n".join(cast.listing(session.user_id)) + "\n")
                continue
            await session.type_or_press(text)
            show(session.turn)
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
    """Answer each question through the application; one JSON object per line, in order.

    On a throwaway database (deleted afterwards), so `ask` never writes to the live one (a
    question starting with / runs a command) and runs beside a running bot without its
    instance lock; the answers are the same (a question only reads the asker's chosen
    language, and the asker is nobody in the live database). The key is the data folder's."""
    with tempfile.TemporaryDirectory(prefix="selvhjelp-ask-") as scratch:
        database = str(Path(scratch) / ASK_DATABASE)
        return await _ask(config, lang, questions, out, database)


async def _ask(
    config: Config, lang: str | None, questions: Iterable[str], out: TextIO, database: str
) -> int:
    session = await LocalSession.start(config, lang, database=database)
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
