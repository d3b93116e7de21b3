"""End-to-end throughput: the real bot's polling loop against the fake Bot API over HTTP,
compared with a bare python-telegram-bot echo bot on the same kind of server.

    python -m bench.e2e [--messages N] [--residents R] [--profile bot|echo] [--breakdown]

prints one final line:

    e2e messages=N bot_per_s=A echo_per_s=B ratio=A/B rss_mb=M

Both bots run in this process, one after the other, each with its own FakeTelegramServer on
127.0.0.1, python-telegram-bot's real HTTPXRequest and `app.updater.start_polling()`, and the
SAME Application settings: the library defaults, i.e. updates processed one at a time
(`concurrent_updates` off), which is also how `bot.composition.build_application` runs in
production.

The workload: R residents (distinct user ids, a fifth of them with English Telegram clients)
each send questions from tests/data/questions.yaml in their language (crisis and off-topic
ones included); with --mix session also /start, /faq and button presses. The residents'
messages are interleaved. All N updates are queued at once; the clock runs from the queueing
until the fake has recorded every reply expected (sendMessage + editMessageText). The expected
replies are counted beforehand by a dry run of the same updates through the in-process fake
(`FakeBotRequest`, no HTTP), whose rate is printed as well; the HTTP run must send the same
messages. The echo bot gets the same N updates as text messages (a button press becomes a
message carrying its callback data) and must echo each one.

bot_per_s and echo_per_s are updates handled per second; ratio = bot / echo (target >= 0.8);
rss_mb is the peak resident memory of the whole process (target < 150).

The bot sends its calls as JSON bodies (bot/botapi/transport.py) and does not parse Telegram's
answer
to a reply back into objects (bot/botapi/reply_bot.py); the bare echo does both the library's way.
So
that the bot's own logic is not hidden by that, a third run, printed before the final line,
echoes on the bot's transport: "bot / this echo" is what the bot's logic costs on top.
The bot is started and stopped by bot/lifecycle.py, as `python -m bot run` does: instance lock,
services, command menus, gc.freeze of the long-lived heap, the scheduler and the outbox sender,
long polling; the dry run goes through the same lifecycle offline. Its stop unfreezes the heap,
so the echo runs freeze theirs once started, as the bot does, and compete on equal terms.
--breakdown times the matcher, the language lookup and the Bot API calls inside the timed runs
(cheap wrappers, unlike --profile's cProfile, which slows everything several times).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import pstats
import resource
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from telegram import Bot, Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

import bot.answers.handlers
from bench.quality import load_questions
from bot.botapi.reply_bot import ReplyBot
from bot.composition import create_bot
from bot.config import Config, parse_config
from bot.content import Content, load_content
from bot.lifecycle import POLL_INTERVAL, POLL_TIMEOUT, BotRuntime
from bot.offline.fake_bot_api import FakeBotRequest, FakeTelegram, Sent
from bot.offline.fake_bot_server import FakeTelegramServer
from bot.offline.fake_updates import callback_update_json, message_update_json
from bot.storage import Storage

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = 2400
RESIDENTS = 200
FIRST_USER_ID = 500_000_001
ENGLISH_SHARE = 5  # every 5th resident has an English Telegram client
REPLY_METHODS = frozenset({"sendMessage", "editMessageText"})
TOKEN = "123:BENCH"
DEADLINE = 45.0  # seconds a run may take before the benchmark gives up


@dataclass
class RunResult:
    updates: int
    replies: int
    seconds: float
    http_requests: int
    sent: list[Sent]

    @property
    def per_s(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0


# --- workload -------------------------------------------------------------------------------


def build_workload(
    content: Content, messages: int, residents: int, mix: str = "questions"
) -> list[dict[str, Any]]:
    """N updates (wire JSON) from `residents` people, interleaved the way a busy hour is.

    mix="questions" (the issue's measurement): every update is a free-text question.
    mix="session": /start, questions, /faq and button presses, as a browsing resident sends.
    """
    items = load_questions()
    pools = {
        lang: [q["q"] for q in items if q["lang"] == lang] or [q["q"] for q in items]
        for lang in ("nb", "en")
    }
    topics = list(content.topics)
    categories = list(content.categories)
    per_person = -(-messages // residents)  # ceiling
    counters = Counter[str]()

    def next_of(kind: str, choices: list[str]) -> str:
        counters[kind] += 1
        return choices[(counters[kind] - 1) % len(choices)]

    def script(lang: str) -> list[tuple[str, str]]:
        """One resident's session as (kind, text): greet, ask, browse, press buttons, ask."""
        steps: list[tuple[str, str]] = []
        for i in range(per_person):
            if mix == "questions":
                steps.append(("message", next_of(lang, pools[lang])))
            elif i == 0:
                steps.append(("message", "/start"))
            elif i % 12 == 5:
                steps.append(("message", "/faq"))
            elif i % 12 == 6:
                steps.append(("button", f"c:{next_of('category', categories)}"))
            elif i % 12 == 7:
                steps.append(("button", f"t:{next_of('topic', topics)}"))
            elif i % 12 == 10:
                steps.append(("button", "menu"))
            else:
                steps.append(("message", next_of(lang, pools[lang])))
        return steps

    people = [
        (FIRST_USER_ID + r, "en" if r % ENGLISH_SHARE == ENGLISH_SHARE - 1 else "nb")
        for r in range(residents)
    ]
    scripts = [script(lang) for _user, lang in people]
    updates: list[dict[str, Any]] = []
    for step in range(per_person):  # built in this order, so update ids only grow
        for (user_id, lang), steps in zip(people, scripts, strict=True):
            if len(updates) >= messages:
                break
            kind, text = steps[step]
            if kind == "button":
                updates.append(callback_update_json(text, user_id, language_code=lang))
            else:
                updates.append(message_update_json(text, user_id, language_code=lang))
    return updates


def echo_workload(updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same updates as plain text messages from the same people."""
    out: list[dict[str, Any]] = []
    for update in updates:
        if "callback_query" in update:
            query = update["callback_query"]
            user = query["from"]
            text = str(query["data"])
        else:
            user = update["message"]["from"]
            text = str(update["message"]["text"])
        out.append(message_update_json(text, user["id"], language_code=user.get("language_code")))
    return out


def bot_config(base_url: str, data_dir: str) -> Config:
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    environ = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": base_url,
        "SELVHJELP_DATA_DIR": data_dir,
        # The key inside the temporary folder, so it goes with it (not beside it, the default).
        "SELVHJELP_KEY_FILE": f"{data_dir}/key/secret.key",
    }
    return parse_config(raw, environ, "config.yaml")


# --- runs -----------------------------------------------------------------------------------


async def dry_run(
    content: Content, updates: list[dict[str, Any]], data_dir: str
) -> tuple[int, float, list[Sent]]:
    """The real bot in-process (no HTTP): expected replies, seconds taken, what it sent."""
    fake = FakeTelegram()
    config = bot_config("", data_dir)
    runtime = BotRuntime(
        config,
        mode="offline",
        request=FakeBotRequest(fake),
        content=content,
        database=f"{data_dir}/dry.sqlite3",
    )
    await runtime.start()
    app = runtime.app
    assert app is not None
    try:
        start = time.perf_counter()
        for data in updates:
            update = Update.de_json(data, app.bot)
            await app.process_update(update)
        seconds = time.perf_counter() - start
    finally:
        await runtime.stop()
    sent = [s for s in fake.sent if s.method in REPLY_METHODS]
    return len(sent), seconds, sent


async def timed_polling_run(
    server: FakeTelegramServer,
    updates: list[dict[str, Any]],
    expected: int,
    profiler: cProfile.Profile | None,
    start_bot: Callable[[], Awaitable[None]],
    stop_bot: Callable[[], Awaitable[None]],
    chats: frozenset[int] | None = None,
) -> RunResult:
    """Start polling, queue every update, wait for `expected` replies, stop polling. `chats`:
    count only replies to these (the bot's scheduler may send a role holder the week's digest)."""
    replies = 0
    done = asyncio.Event()

    def on_message(sent: Sent) -> None:
        nonlocal replies
        if sent.method in REPLY_METHODS and (chats is None or sent.chat_id in chats):
            replies += 1
            if replies >= expected:
                done.set()

    server.fake.on_message = on_message
    await start_bot()
    try:
        await asyncio.sleep(0.2)  # the first long poll is parked at the server
        requests_before = server.requests
        if profiler is not None:
            profiler.enable()
        start = time.perf_counter()
        server.push_updates(updates)
        try:
            await asyncio.wait_for(done.wait(), DEADLINE)
        except TimeoutError:
            print(f"  gave up after {DEADLINE:.0f}s: {replies}/{expected} replies", flush=True)
        seconds = time.perf_counter() - start
        if profiler is not None:
            profiler.disable()
        requests = server.requests - requests_before
    finally:
        await stop_bot()
    sent = [
        s
        for s in server.fake.sent
        if s.method in REPLY_METHODS and (chats is None or s.chat_id in chats)
    ]
    return RunResult(len(updates), replies, seconds, requests, sent)


def resident_chats(updates: list[dict[str, Any]]) -> frozenset[int]:
    """The chats of the workload's residents."""
    chats = set()
    for update in updates:
        sender = (update.get("message") or update.get("callback_query") or {}).get("from", {})
        chats.add(int(sender["id"]))
    return frozenset(chats)


async def run_bot(
    content: Content,
    updates: list[dict[str, Any]],
    expected: int,
    data_dir: str,
    profiler: cProfile.Profile | None,
) -> RunResult:
    """The real selvhjelp bot, started as `python -m bot run` starts it (bot/lifecycle.py:
    instance lock, services, command menus, gc.freeze, scheduler and sender, long polling)."""
    server = FakeTelegramServer(token=TOKEN)
    base_url = await server.start()
    runtime = BotRuntime(bot_config(base_url, data_dir), mode="polling", content=content)
    try:
        return await timed_polling_run(
            server,
            updates,
            expected,
            profiler,
            runtime.start,
            runtime.stop,
            chats=resident_chats(updates),
        )
    finally:
        await runtime.stop()  # idempotent: also after a start that failed half-way
        await server.stop()


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:  # noqa: ARG001
    """Say it back."""
    if update.message is None or update.message.text is None:
        return
    await update.message.reply_text(update.message.text)


async def lean_echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Say it back through the bot's own lean send path."""
    if update.message is None or update.message.text is None:
        return
    if not isinstance(context.bot, ReplyBot):
        raise TypeError("the lean echo needs a ReplyBot")
    await context.bot.send_text(update.message.chat_id, update.message.text)


async def run_echo(
    updates: list[dict[str, Any]], profiler: cProfile.Profile | None, lean: bool = False
) -> RunResult:
    """A bare python-telegram-bot echo bot with the library's default settings; with `lean`,
    the same echo on the bot's own transport (JSON bodies, replies not parsed back)."""
    server = FakeTelegramServer(token=TOKEN)
    base_url = await server.start()
    try:
        app: Application[Any, Any, Any, Any, Any, Any]
        if lean:
            app = ApplicationBuilder().bot(create_bot(TOKEN, base_url=base_url)).build()
            app.add_handler(MessageHandler(filters.TEXT, lean_echo))
        else:
            app = ApplicationBuilder().token(TOKEN).base_url(base_url).build()
            app.add_handler(MessageHandler(filters.TEXT, echo))
        updater = app.updater
        if updater is None:
            raise RuntimeError("the echo application was built without an updater")

        async def start() -> None:
            """As BotRuntime starts the bot, without the bot's own work."""
            await app.initialize()
            await updater.start_polling(poll_interval=POLL_INTERVAL, timeout=POLL_TIMEOUT)
            await app.start()
            # The long-lived heap out of the collector's way, as for the bot; the bot's heap,
            # unfrozen when it stopped, is collected first rather than frozen along.
            gc.collect()
            gc.freeze()

        async def stop() -> None:
            gc.unfreeze()
            await updater.stop()
            await app.stop()
            await app.shutdown()

        return await timed_polling_run(server, updates, len(updates), profiler, start, stop)
    finally:
        await server.stop()


def compare(expected: list[Sent], got: list[Sent]) -> int:
    """How many replies differ between the dry run and the HTTP run (as multisets)."""
    want = Counter((s.chat_id, s.method, s.text) for s in expected)
    have = Counter((s.chat_id, s.method, s.text) for s in got)
    return sum(((want - have) + (have - want)).values())


class Breakdown:
    """Wall time spent in the parts of handling an update that matter, while installed."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self._undo: list[tuple[object, str, Any]] = []

    def _wrap_sync(self, owner: object, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start
                self.calls[label] += 1

        self._undo.append((owner, name, original))
        setattr(owner, name, timed)

    def _wrap_async(
        self,
        owner: object,
        name: str,
        label: str,
        skip: Callable[[tuple[Any, ...], dict[str, Any]], bool] | None = None,
    ) -> None:
        original = getattr(owner, name)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            if skip is not None and skip(args, kwargs):
                return await original(*args, **kwargs)
            start = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start
                self.calls[label] += 1

        self._undo.append((owner, name, original))
        setattr(owner, name, timed)

    def install(self) -> None:
        def long_poll(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
            return (args[1] if len(args) > 1 else kwargs.get("endpoint")) == "getUpdates"

        self._wrap_sync(bot.answers.handlers, "crisis_reply", "crisis_reply (crisis check)")
        self._wrap_sync(bot.answers.handlers, "faq_reply", "faq_reply (FAQ match)")
        self._wrap_async(Storage, "get_language", "storage.get_language (from memory)")
        self._wrap_async(Bot, "_post", "Bot API calls but getUpdates", long_poll)

    def uninstall(self) -> None:
        while self._undo:
            owner, name, original = self._undo.pop()
            setattr(owner, name, original)

    def report(self, label: str, run: RunResult) -> str:
        lines = [f"  {label}: {run.seconds / run.updates * 1e6:.0f} us per update, of which"]
        for part, seconds in sorted(self.seconds.items(), key=lambda kv: -kv[1]):
            lines.append(
                f"    {part:36} {seconds / run.updates * 1e6:6.0f} us/update"
                f" ({self.calls[part]} calls, {seconds / self.calls[part] * 1e6:.0f} us each)"
            )
        self.seconds.clear()
        self.calls.clear()
        return "\n".join(lines)


def print_profile(profiler: cProfile.Profile, label: str) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)
    print(f"--- profile of the {label} run ---\n{out.getvalue()}", flush=True)


async def main_async(args: argparse.Namespace) -> None:
    wall = time.perf_counter()
    content = load_content()
    updates = build_workload(content, args.messages, args.residents, args.mix)
    kinds = Counter(
        "button"
        if "callback_query" in u
        else ("command" if u["message"]["text"].startswith("/") else "question")
        for u in updates
    )
    print(
        f"workload: {len(updates)} updates from {args.residents} residents"
        f" ({', '.join(f'{n} {k}s' for k, n in sorted(kinds.items()))})",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="selvhjelp-bench-") as data_dir:
        expected, dry_seconds, dry_sent = await dry_run(content, updates, data_dir)
        print(
            f"in-process (no HTTP): {len(updates) / dry_seconds:.0f} updates/s,"
            f" {expected} replies expected",
            flush=True,
        )

        breakdown = Breakdown() if args.breakdown else None
        if breakdown is not None:
            breakdown.install()
        bot_profiler = cProfile.Profile() if args.profile == "bot" else None
        bot = await run_bot(content, updates, expected, data_dir, bot_profiler)
        bot_parts = breakdown.report("bot", bot) if breakdown is not None else ""
        mismatched = compare(dry_sent, bot.sent)
        print(
            f"bot : {bot.updates} updates, {bot.replies}/{expected} replies,"
            f" {bot.http_requests} HTTP requests ({bot.http_requests / bot.updates:.2f}/update)"
            f" in {bot.seconds:.2f}s"
            f" = {bot.per_s:.0f} updates/s; replies differing from the dry run: {mismatched}",
            flush=True,
        )

        echo_profiler = cProfile.Profile() if args.profile == "echo" else None
        echo_updates = echo_workload(updates)
        echoed = await run_echo(echo_updates, echo_profiler)
        echo_parts = breakdown.report("echo", echoed) if breakdown is not None else ""
        if breakdown is not None:
            breakdown.uninstall()
        print(
            f"echo: {echoed.updates} updates, {echoed.replies}/{echoed.updates} replies,"
            f" {echoed.http_requests} HTTP requests"
            f" ({echoed.http_requests / echoed.updates:.2f}/update) in {echoed.seconds:.2f}s"
            f" = {echoed.per_s:.0f} updates/s",
            flush=True,
        )
        # For the record: the same echo on the bot's own transport, so what the bot's logic
        # costs can be told apart from what its leaner transport saves.
        lean = await run_echo(echo_updates, None, lean=True)
        print(
            f"echo on the bot's transport (JSON bodies, replies not parsed back):"
            f" {lean.per_s:.0f} updates/s; bot / this echo = {bot.per_s / lean.per_s:.2f}",
            flush=True,
        )
    if breakdown is not None:
        print(f"where the time goes (wall time inside the timed runs):\n{bot_parts}\n{echo_parts}")
    for profiler, label in ((bot_profiler, "bot"), (echo_profiler, "echo")):
        if profiler is not None:
            print_profile(profiler, label)

    failed = (
        bot.replies < expected
        or echoed.replies < echoed.updates
        or lean.replies < lean.updates
        or mismatched
    )
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ratio = bot.per_s / echoed.per_s if echoed.per_s else 0.0
    print(f"(whole benchmark took {time.perf_counter() - wall:.1f}s)", flush=True)
    print(
        f"e2e messages={len(updates)} bot_per_s={bot.per_s:.0f} echo_per_s={echoed.per_s:.0f}"
        f" ratio={ratio:.2f} rss_mb={rss_mb:.0f}" + (" INCOMPLETE" if failed else ""),
        flush=True,
    )
    if failed:
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e")
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--residents", type=int, default=RESIDENTS)
    parser.add_argument("--profile", choices=("bot", "echo"), help="cProfile one timed run")
    parser.add_argument("--breakdown", action="store_true", help="time the parts of an update")
    parser.add_argument(
        "--mix",
        choices=("questions", "session"),
        default="questions",
        help="questions only (default, as the issue measures) or a browsing session",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
