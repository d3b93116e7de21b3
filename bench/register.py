"""Many residents registering interest at once, through the real Application.

    python -m bench.register [--residents N]   prints one final line:
    register residents=N concurrent=N errors=E p95_ms=X

N residents (default 500, distinct Telegram ids, every fifth with an English client) each run the
whole /interest flow as a scripted session: /interest, the entry ticket, the limits, the place
(region and municipality buttons; every third types the municipality's name or an alias, which
is taken at once; every tenth says it is not listed), the kind of group, the time, messages yes
or no, the summary, confirm. All N sessions run at once (`asyncio.gather`), each step an
`await app.process_update(...)` on the Application started by bot/lifecycle.py in offline mode
(the start-up of production, settings as in production) with the in-process fake Bot API and a
file database in a temporary folder.
Calling process_update from many tasks is concurrent whatever `concurrent_updates` says, so
every step of every session interleaves with all the others on the one database connection.

errors counts: any exception, anything the bot's error handler saw, any log record mentioning
"database is locked" or at ERROR level, any step whose reply is not the expected next step
(checked on the buttons the resident is shown), and any registration lost or wrong (at the end
storage must hold exactly N registrations, each with the values that resident chose).
p95_ms is the 95th percentile (nearest rank) of each resident's total flow time, from their
/interest to the confirmation. Target: errors=0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from telegram import Update
from telegram.ext import Application

from bot.chat.context import BotContext
from bot.config import Config, Municipality, parse_config
from bot.content import load_content
from bot.interest.rules import TIMES, kinds
from bot.lifecycle import BotRuntime
from bot.offline.fake_bot_api import FakeBotRequest, FakeTelegram, Sent
from bot.offline.fake_updates import callback_update, message_update
from bot.services import Services

ROOT = Path(__file__).resolve().parent.parent
RESIDENTS = 500
FIRST_USER_ID = 600_000_001
ENGLISH_SHARE = 5  # every 5th resident has an English Telegram client
TYPED_SHARE = 3  # every 3rd types the municipality
UNLISTED_SHARE = 10  # every 10th says the municipality is not listed


@dataclass(frozen=True)
class Choice:
    """What one resident answers, and so what storage must hold afterwards."""

    user_id: int
    lang: str
    region_id: str
    municipality: Municipality | None  # None: not listed
    typed: str | None  # the text typed instead of pressing the municipality button
    kind: str
    time: str
    contact: bool


@dataclass(frozen=True)
class Step:
    """One update, and a button the reply must offer (None: the final confirmation)."""

    kind: str  # "say" or "press"
    data: str
    expect: str | None


def load_config(data_dir: str) -> Config:
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    # The key inside the temporary folder, so it goes with it (not beside it, the default).
    env = {"SELVHJELP_DATA_DIR": data_dir, "SELVHJELP_KEY_FILE": f"{data_dir}/key/secret.key"}
    return parse_config(raw, env, "config.yaml")


def choices(config: Config, residents: int) -> list[Choice]:
    """Deterministic, varied answers spread over every municipality, kind and time."""
    places = config.municipalities
    group_kinds = kinds(config)
    out: list[Choice] = []
    for i in range(residents):
        place = places[i % len(places)]
        unlisted = i % UNLISTED_SHARE == UNLISTED_SHARE - 1
        typed = None
        if not unlisted and i % TYPED_SHARE == 0:
            labels = (place.name, *place.aliases)
            typed = labels[(i // TYPED_SHARE) % len(labels)]
        out.append(
            Choice(
                user_id=FIRST_USER_ID + i,
                lang="en" if i % ENGLISH_SHARE == 0 else "nb",
                region_id=place.region_id,
                municipality=None if unlisted else place,
                typed=typed,
                kind=group_kinds[i % len(group_kinds)],
                time=TIMES[i % len(TIMES)],
                contact=i % 4 != 3,
            )
        )
    return out


def script(choice: Choice) -> list[Step]:
    """The updates of one resident's whole flow, each with what the reply must offer."""
    steps = [
        Step("say", "/interest", "i:e:yes"),
        Step("press", "i:e:yes", "i:a:yes"),
        Step("press", "i:a:yes", "i:l:ok"),
        Step("press", "i:l:ok", "i:u"),
    ]
    first_kind = f"i:k:{choice.kind}"
    if choice.municipality is None:
        steps += [Step("press", "i:u", f"i:ur:{choice.region_id}")]
        steps += [Step("press", f"i:ur:{choice.region_id}", first_kind)]
    elif choice.typed is not None:
        # An exact name or alias is taken at once (issue 11): the next step is the kind.
        steps += [Step("say", choice.typed, first_kind)]
    else:
        code = choice.municipality.code
        steps += [Step("press", f"i:r:{choice.region_id}", f"i:m:{code}")]
        steps += [Step("press", f"i:m:{code}", first_kind)]
    contact = "yes" if choice.contact else "no"
    steps += [
        Step("press", first_kind, f"i:h:{choice.time}"),
        Step("press", f"i:h:{choice.time}", f"i:c:{contact}"),
        Step("press", f"i:c:{contact}", "i:s:ok"),
        Step("press", "i:s:ok", None),
    ]
    return steps


class ErrorLog(logging.Handler):
    """Counts log records that mean something went wrong (any logger, any module)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            message += f" ({record.exc_info[1]})"
        if record.levelno >= logging.ERROR or "database is locked" in message:
            self.errors.append(f"{record.name}: {message[:200]}")


@dataclass
class Run:
    app: Application[Any, Any, Any, Any, Any, Any]
    services: Services
    replies: dict[int, list[Sent]]
    errors: list[str]


async def session(run: Run, choice: Choice) -> float:
    """One resident's whole flow; returns its duration in seconds (errors go to run.errors)."""
    bot = run.app.bot
    mine = run.replies[choice.user_id]
    last: Sent | None = None
    start = time.perf_counter()
    for step in script(choice):
        before = len(mine)
        try:
            if step.kind == "say":
                update: Update = message_update(
                    step.data, bot, choice.user_id, language_code=choice.lang
                )
            else:
                update = callback_update(
                    step.data,
                    bot,
                    choice.user_id,
                    language_code=choice.lang,
                    message_id=last.message_id if last else 1,
                    message_text=last.text if last else "...",
                )
            await run.app.process_update(update)
        except Exception as exc:  # every failure is counted, none may pass
            run.errors.append(f"{choice.user_id} {step.data}: {type(exc).__name__}: {exc}")
            break
        if len(mine) == before:
            run.errors.append(f"{choice.user_id} {step.data}: no reply")
            break
        last = mine[-1]
        if step.expect is not None and step.expect not in last.callback_data:
            run.errors.append(
                f"{choice.user_id} {step.data}: expected {step.expect}, got {last.callback_data}"
            )
            break
    return time.perf_counter() - start


async def check_storage(services: Services, people: list[Choice], errors: list[str]) -> None:
    """Exactly one registration per resident, with the values that resident chose."""
    stored = {r.user_key: r for r in await services.storage.registrations_in()}
    if len(stored) != len(people):
        errors.append(f"storage holds {len(stored)} registrations, expected {len(people)}")
    for choice in people:
        reg = stored.get(services.user_key(choice.user_id))
        want = (
            choice.municipality.name if choice.municipality else "",
            choice.region_id,
            choice.kind,
            choice.time,
            choice.contact,
        )
        got = (
            (reg.municipality, reg.region_id, reg.group_kind, reg.time_pref, reg.contact_ok)
            if reg
            else None
        )
        if got != want:
            errors.append(f"{choice.user_id}: stored {got}, expected {want}")
    for choice in people:
        if await services.storage.get_flow(services.user_key(choice.user_id)) is not None:
            errors.append(f"{choice.user_id}: flow state left behind")


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of already-sorted values."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(share * len(sorted_values)) - 1))
    return sorted_values[rank]


@dataclass(frozen=True)
class Result:
    errors: list[str]
    p95: float  # seconds
    wall: float  # seconds
    updates: int


async def bench(residents: int) -> Result:
    """Run every session at once and check what storage holds afterwards."""
    content = load_content()
    log_errors = ErrorLog()
    root = logging.getLogger()
    root.addHandler(log_errors)
    with tempfile.TemporaryDirectory(prefix="selvhjelp-bench-register-") as data_dir:
        config = load_config(data_dir)
        fake = FakeTelegram()
        replies: dict[int, list[Sent]] = defaultdict(list)
        fake.on_message = lambda sent: replies[sent.chat_id].append(sent)
        # Started as every mode starts the bot (bot/lifecycle.py), offline: the data folder's
        # own database, command menus, gc.freeze; no background tasks, no updater.
        runtime = BotRuntime(config, mode="offline", request=FakeBotRequest(fake), content=content)
        await runtime.start()
        app, services = runtime.app, runtime.services
        assert app is not None
        assert services is not None
        errors: list[str] = []

        async def count_handler_errors(_update: object, context: BotContext) -> None:
            """A second error handler, after the bot's own: every handler failure counts."""
            errors.append(f"handler: {type(context.error).__name__}: {context.error}")

        app.add_error_handler(count_handler_errors)
        people = choices(config, residents)
        updates = sum(len(script(choice)) for choice in people)
        run = Run(app, services, replies, errors)
        try:
            start = time.perf_counter()
            outcomes = await asyncio.gather(
                *(session(run, choice) for choice in people), return_exceptions=True
            )
            wall = time.perf_counter() - start
            durations: list[float] = []
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    errors.append(f"session: {type(outcome).__name__}: {outcome}")
                else:
                    durations.append(outcome)
            await check_storage(services, people, errors)
        finally:
            await runtime.stop()
            root.removeHandler(log_errors)
    errors.extend(log_errors.errors)
    return Result(errors, percentile(sorted(durations), 0.95), wall, updates)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.register")
    parser.add_argument("--residents", type=int, default=RESIDENTS)
    args = parser.parse_args()
    result = asyncio.run(bench(args.residents))
    for line in result.errors[:10]:
        print(f"error: {line}")
    print(
        f"{result.updates} updates in {result.wall:.2f} s"
        f" ({result.updates / result.wall:.0f} updates/s)"
    )
    print(
        f"register residents={args.residents} concurrent={args.residents}"
        f" errors={len(result.errors)} p95_ms={result.p95 * 1000:.0f}"
    )


if __name__ == "__main__":
    main()
