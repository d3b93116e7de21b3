"""The sending queue, through the fake Bot API: limits, Telegram's errors, restarts, progress.

Time is a fake clock that the Sender's injected sleep moves forward, so rate limits, retry-after
pauses and back-off are checked to the second without waiting for them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
import warnings
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from telegram.error import RetryAfter
from telegram.ext import ExtBot
from telegram.request import RequestData
from telegram.warnings import PTBDeprecationWarning

from bot.composition import create_services
from bot.config import Config
from bot.content import Content
from bot.offline.fake_bot_api import Call, FakeApiError, FakeBotRequest, FakeTelegram, Sent
from bot.outbox.sender import (
    MAX_ATTEMPTS,
    PACE_HEADROOM,
    Sender,
    SendReport,
    backoff_seconds,
    message_from_payload,
    retry_after_seconds,
)
from bot.services import Services

TOKEN = "1000000000:broadcast-test"
START = 1_750_000_000.0
FIRST_CHAT = 2001

Payload = dict[str, Any]


class FakeTime:
    """A clock that only moves when the Sender sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.t = START

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        # Like a real sleep, let the tasks that are ready run first (at the current time).
        await asyncio.sleep(0)
        self.t += max(seconds, 0.0)
        await asyncio.sleep(0)


@dataclasses.dataclass
class Attempt:
    at: float
    chat: int
    error: str | None


class Telegram:
    """Scripted answers per chat, and a log of every send attempt with its time."""

    def __init__(self, fake: FakeTelegram, clock: Callable[[], float]) -> None:
        self.fake = fake
        self.clock = clock
        self.plan: dict[int, list[FakeApiError]] = {}
        self.always: dict[int, FakeApiError] = {}
        self.attempts: list[Attempt] = []
        fake.send_hook = self.hook

    def hook(self, call: Call) -> None:
        chat = int(call.params["chat_id"])
        error = self.always.get(chat)
        if error is None and self.plan.get(chat):
            error = self.plan[chat].pop(0)
        self.attempts.append(Attempt(self.clock(), chat, error.description if error else None))
        if error is not None:
            raise error

    def tries(self, chat: int) -> list[Attempt]:
        return [a for a in self.attempts if a.chat == chat]

    def texts_to(self, chat: int) -> list[str]:
        return [s.text for s in self.fake.messages_to(chat)]


@pytest.fixture(autouse=True)
def timedelta_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to PTB 23's timedelta periods, as the app does; PTB 22 warns otherwise."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
def svc(services: Services, clock: FakeTime) -> Services:
    """The app's services on the fake clock, at 50 messages/s and 1 s between sends to a chat."""
    services.clock = clock
    services.config = dataclasses.replace(services.config, send_rate=50.0, per_chat_interval=1.0)
    return services


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[ExtBot[None]]:
    ext = ExtBot(TOKEN, request=FakeBotRequest(fake), get_updates_request=FakeBotRequest(fake))
    await ext.initialize()
    try:
        yield ext
    finally:
        await ext.shutdown()


@pytest.fixture
def tg(fake: FakeTelegram, clock: FakeTime) -> Telegram:
    return Telegram(fake, clock)


def outcome(report: SendReport) -> SendReport:
    """The report without `deferred`, which counts every pass that skipped a cooling chat."""
    return dataclasses.replace(report, deferred=0)


def sender(services: Services, clock: FakeTime, **kwargs: Any) -> Sender:
    return Sender(services, sleep=clock.sleep, timer=clock, **kwargs)


async def residents(services: Services, n: int, first: int = FIRST_CHAT) -> list[int]:
    """n residents whose private chats are first, first + 1, ...; returns the chat ids."""
    chats = list(range(first, first + n))
    for chat in chats:
        key = services.user_key(chat)
        await services.storage.ensure_resident(key, services.cipher.encrypt(chat, key))
    return chats


def payload(text: str, *, signed_for: int | None = None) -> Payload:
    buttons: list[list[dict[str, str]]] = [
        [{"text": "Jeg kommer", "callback_data": f"inv:yes:{signed_for or 0}"}],
        [{"text": "Les mer", "url": "https://selvhjelp.no/"}],
    ]
    return {"text": text, "buttons": buttons, "parse_mode": "HTML"}


async def enqueue(
    services: Services, campaign: str, chats: list[int], make: Callable[[int], Payload]
) -> int:
    rows = []
    for chat in chats:
        key = services.user_key(chat)
        rows.append((key, services.cipher.encrypt(chat, key), make(chat)))
    return await services.storage.enqueue(campaign, rows)


def hello(chat: int) -> Payload:
    return payload(f"<b>Hei</b> nummer {chat}", signed_for=chat)


# --- delivery ---------------------------------------------------------------------------------


async def test_every_recipient_gets_exactly_one_message_with_text_and_buttons(
    svc: Services, clock: FakeTime, bot: ExtBot[None], tg: Telegram, fake: FakeTelegram
) -> None:
    chats = await residents(svc, 30)
    assert await enqueue(svc, "invitation:1", chats, hello) == 30

    report = await sender(svc, clock).run_until_idle(bot, timeout=60)

    assert outcome(report) == SendReport(sent=30)
    for chat in chats:
        [sent] = fake.messages_to(chat)
        assert sent.text == f"<b>Hei</b> nummer {chat}"
        assert sent.buttons == [
            [{"text": "Jeg kommer", "callback_data": f"inv:yes:{chat}"}],
            [{"text": "Les mer", "url": "https://selvhjelp.no/"}],
        ]
    assert {c.params.get("parse_mode") for c in fake.calls if c.method == "sendMessage"} == {
        "HTML"
    }
    assert await svc.storage.campaign_progress("invitation:1") == {
        "pending": 0, "sent": 30, "blocked": 0, "failed": 0,
    }  # fmt: skip
    # Nothing is pending any more, so another pass sends nothing.
    assert await sender(svc, clock).run_until_idle(bot, timeout=60) == SendReport()
    assert len(tg.attempts) == 30


async def test_plain_text_without_buttons_or_parse_mode(
    svc: Services, clock: FakeTime, bot: ExtBot[None], fake: FakeTelegram
) -> None:
    [chat] = await residents(svc, 1)
    await enqueue(svc, "digest:1", [chat], lambda _c: {"text": "a < b", "parse_mode": None})

    assert (await sender(svc, clock).send_due(bot)).sent == 1

    [call] = [c for c in fake.calls if c.method == "sendMessage"]
    assert call.params["text"] == "a < b"
    assert "parse_mode" not in call.params
    assert "reply_markup" not in call.params


async def test_global_rate_spaces_the_sends(
    svc: Services, clock: FakeTime, bot: ExtBot[None], tg: Telegram
) -> None:
    svc.config = dataclasses.replace(svc.config, send_rate=20.0)
    await enqueue(svc, "announce:1", await residents(svc, 12), hello)

    await sender(svc, clock).run_until_idle(bot, timeout=60)

    times = [a.at for a in tg.attempts]  # (float steps at 1.75e9 s are ~2e-7 s, hence 1e-6)
    assert len(times) == 12
    assert all(b - a >= 0.05 - 1e-6 for a, b in itertools.pairwise(times))
    # ... and the pace aims a little under the limit, evenly.
    assert times[-1] - times[0] == pytest.approx(11 / (20 * PACE_HEADROOM))


async def test_per_chat_spacing_holds_without_holding_up_others(
    svc: Services, clock: FakeTime, bot: ExtBot[None], tg: Telegram
) -> None:
    busy, *others = await residents(svc, 5)
    await enqueue(svc, "announce:1", [busy, *others], hello)
    await enqueue(svc, "announce:2", [busy], hello)
    await enqueue(svc, "announce:3", [busy], hello)

    report = await sender(svc, clock).run_until_idle(bot, timeout=60)

    assert report.sent == 7
    busy_times = [a.at for a in tg.tries(busy)]
    assert len(busy_times) == 3
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(busy_times))
    # The others went out in the first fifth of a second, not after the busy chat's queue.
    assert all(tg.tries(chat)[0].at - START < 0.2 for chat in others)


# --- Telegram's errors ------------------------------------------------------------------------


async def test_retry_after_pauses_everyone_then_delivers(
    svc: Services, clock: FakeTime, bot: ExtBot[None], tg: Telegram
) -> None:
    chats = await residents(svc, 8)
    flooded = chats[2]
    tg.plan[flooded] = [FakeApiError(429, "Too Many Requests: retry after 1", retry_after=1)]
    await enqueue(svc, "announce:1", chats, hello)

    flood_aware = sender(svc, clock)
    report = await flood_aware.run_until_idle(bot, timeout=60)

    assert outcome(report) == SendReport(sent=8, retried=1)
    assert flood_aware.pace_factor < 1.0  # and it goes on a little slower than before
    assert all(len(tg.texts_to(chat)) == 1 for chat in chats)
    [refused] = [a for a in tg.attempts if a.error]
    later = tg.attempts[tg.attempts.index(refused) + 1 :]
    assert later
    assert all(a.at >= refused.at + 1.0 for a in later)
    assert tg.tries(flooded)[-1].at >= refused.at + 1.0


async def test_blocked_users_are_marked_inactive_and_never_retried(
    svc: Services, clock: FakeTime, bot: ExtBot[None], tg: Telegram
) -> None:
    blocker, vanished, fine = await residents(svc, 3)
    tg.always[blocker] = FakeApiError(403, "Forbidden: bot was blocked by the user")
    tg.always[vanished] = FakeApiError(400, "Bad Request: chat not found")
    for campaign in ("announce:1", "announce:2"):
        await enqueue(svc, campaign, [blocker, vanished, fine], hello)

    report = await sender(svc, clock).run_until_idle(bot, timeout=60)

    assert outcome(report) == SendReport(sent=2, blocked=4)
    assert len(tg.tries(blocker)) == 1
    assert len(tg.tries(vanished)) == 1
    assert len(tg.texts_to(fine)) == 2
    for chat in (blocker, vanished):
        assert await svc.storage.resident_chat(svc.user_key(chat)) is None
    assert await svc.storage.resident_chat(svc.user_key(fine)) is not None
    for campaign in ("announce:1", "announce:2"):
        progress = await svc.storage.campaign_progress(campaign)
        assert progress == {"pending": 0, "sent": 1, "blocked": 2, "failed": 0}

    # A new sender (after a restart, say) does not try them again either.
    clock.t += 3600
    await sender(svc, clock).run_until_idle(bot, timeout=60)
    assert len(tg.tries(blocker)) == 1
    assert len(tg.tries(vanished)) == 1


async def test_a_resident_who_unblocks_and_comes_back_gets_new_messages(
    svc: Services, clock: FakeTime, bot: ExtBot[None], tg: Telegram
) -> None:
    [chat] = await residents(svc, 1)
    key = svc.user_key(chat)
    tg.plan[chat] = [FakeApiError(403, "Forbidden: bot was blocked by the user")]
    same_sender = sender(svc, clock)
    await enqueue(svc, "announce:1", [chat], hello)
    assert outcome(await same_sender.run_until_idle(bot, timeout=60)) == SendReport(blocked=1)

    await svc.storage.ensure_resident(key, svc.cipher.encrypt(chat, key))  # /start again
    await enqueue(svc, "announce:2", [chat], hello)
    clock.t += 10
    assert outcome(await same_sender.run_until_idle(bot, timeout=60)) == SendReport(sent=1)
    assert len(tg.texts_to(chat)) == 1


async def test_other_bad_requests_fail_the_row_but_keep_the_resident(
    svc: Services, clock: FakeTime, bot: ExtBot[None], tg: Telegram
) -> None:
    [chat] = await residents(svc, 1)
    tg.always[chat] = FakeApiError(400, "Bad Request: message is too long")
    await enqueue(svc, "announce:1", [chat], hello)

    report = await sender(svc, clock).run_until_idle(bot, timeout=60)

    assert outcome(report) == SendReport(failed=1)
    assert len(tg.tries(chat)) == 1
    assert await svc.storage.resident_chat(svc.user_key(chat)) is not None


async def test_transient_failures_are_retried_with_backoff_and_succeed(
    svc: Services, clock: FakeTime, bot: ExtBot[None], tg: Telegram
) -> None:
    flaky, steady = await residents(svc, 2)
    tg.plan[flaky] = [
        FakeApiError(500, "Internal Server Error"),
        FakeApiError(502, "Bad Gateway"),
    ]
    await enqueue(svc, "announce:1", [flaky, steady], hello)

    report = await sender(svc, clock).run_until_idle(bot, timeout=60)

    assert outcome(report) == SendReport(sent=2, retried=2)
    assert len(tg.texts_to(flaky)) == 1
    assert len(tg.texts_to(steady)) == 1
    first, second, third = (a.at for a in tg.tries(flaky))
    assert second - first >= backoff_seconds(0) == 1.0
    assert third - second >= backoff_seconds(1) == 2.0


async def test_a_row_that_keeps_failing_gives_up_after_max_attempts(
    svc: Services, clock: FakeTime, bot: ExtBot[None], tg: Telegram
) -> None:
    [chat] = await residents(svc, 1)
    tg.always[chat] = FakeApiError(500, "Internal Server Error")
    await enqueue(svc, "announce:1", [chat], hello)

    report = await sender(svc, clock).run_until_idle(bot, timeout=3600)

    assert outcome(report) == SendReport(failed=1, retried=MAX_ATTEMPTS - 1)
    assert len(tg.tries(chat)) == MAX_ATTEMPTS
    assert (await svc.storage.campaign_progress("announce:1"))["failed"] == 1


async def test_undecryptable_chat_or_broken_payload_fails_without_a_send(
    svc: Services, clock: FakeTime, bot: ExtBot[None], tg: Telegram
) -> None:
    a, b = await residents(svc, 2)
    key_a, key_b = svc.user_key(a), svc.user_key(b)
    await svc.storage.enqueue(
        "announce:1",
        [
            (key_a, svc.cipher.encrypt(a, key_b), hello(a)),  # someone else's ciphertext
            (key_b, svc.cipher.encrypt(b, key_b), {"buttons": []}),  # no text
        ],
    )

    report = await sender(svc, clock).run_until_idle(bot, timeout=60)

    assert outcome(report) == SendReport(failed=2)
    assert tg.attempts == []


# --- restarts, idempotency --------------------------------------------------------------------


async def reopen(services: Services, config: Config, content: Content, db: Path) -> Services:
    """What a restarted process gets: the same database and key, a new connection."""
    await services.storage.close()
    fresh = await create_services(config, content=content, clock=services.clock, database=str(db))
    fresh.config = services.config
    return fresh


async def test_a_row_marked_sent_is_never_sent_again_after_a_restart(
    svc: Services,
    clock: FakeTime,
    bot: ExtBot[None],
    tg: Telegram,
    config: Config,
    content: Content,
    database: Path,
) -> None:
    chats = await residents(svc, 10)
    await enqueue(svc, "invitation:7", chats, hello)
    assert (await sender(svc, clock).send_due(bot, max_rows=4)).sent == 4

    restarted = await reopen(svc, config, content, database)
    try:
        # The feature re-enqueues on start-up (idempotent), then a new Sender takes over.
        assert await enqueue(restarted, "invitation:7", chats, hello) == 0
        report = await sender(restarted, clock).run_until_idle(bot, timeout=60)
    finally:
        await restarted.storage.close()

    assert report.sent == 6
    assert all(len(tg.texts_to(chat)) == 1 for chat in chats)


async def test_a_crash_mid_send_resends_at_most_the_rows_in_flight(
    svc: Services,
    clock: FakeTime,
    bot: ExtBot[None],
    tg: Telegram,
    fake: FakeTelegram,
    config: Config,
    content: Content,
    database: Path,
) -> None:
    chats = await residents(svc, 40)
    await enqueue(svc, "announce:9", chats, hello)
    first = sender(svc, clock, max_in_flight=4)
    runner = asyncio.create_task(first.run_until_idle(bot, timeout=60))

    def crash(_sent: Sent) -> None:
        if len(fake.sent) == 15:
            runner.cancel()

    fake.on_message = crash
    with pytest.raises(asyncio.CancelledError):
        await runner
    fake.on_message = None
    before = len(fake.sent)
    assert 15 <= before < 40

    restarted = await reopen(svc, config, content, database)
    try:
        pending = (await restarted.storage.campaign_progress("announce:9"))["pending"]
        await sender(restarted, clock).run_until_idle(bot, timeout=60)
    finally:
        await restarted.storage.close()

    assert len(fake.sent) - before == pending  # only rows still pending went out again
    counts = [len(tg.texts_to(chat)) for chat in chats]
    assert min(counts) == 1
    assert sum(counts) - len(chats) <= 4  # duplicates: no more than were in flight


async def test_a_delivered_row_whose_sent_mark_fails_is_not_sent_again(
    svc: Services,
    clock: FakeTime,
    bot: ExtBot[None],
    tg: Telegram,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    [chat] = await residents(svc, 1)
    await enqueue(svc, "announce:1", [chat], hello)
    storage = svc.storage
    real_done = storage.outbox_done
    failures = [RuntimeError("disk I/O error")]

    async def flaky_done(row_id: int, status: str) -> None:
        if failures:
            raise failures.pop()
        await real_done(row_id, status)

    monkeypatch.setattr(storage, "outbox_done", flaky_done)
    same_sender = sender(svc, clock)
    assert (await same_sender.send_due(bot)).sent == 0  # delivered, but not recorded
    assert (await storage.campaign_progress("announce:1"))["pending"] == 1

    await same_sender.run_until_idle(bot, timeout=60)

    assert len(tg.texts_to(chat)) == 1
    assert (await storage.campaign_progress("announce:1"))["sent"] == 1


async def test_enqueue_is_idempotent_per_campaign_and_recipient(
    svc: Services, clock: FakeTime, bot: ExtBot[None], tg: Telegram
) -> None:
    chats = await residents(svc, 3)
    assert await enqueue(svc, "invitation:1", chats, hello) == 3
    assert await enqueue(svc, "invitation:1", chats, hello) == 0
    assert await enqueue(svc, "invitation:1", [*chats, FIRST_CHAT + 50], hello) == 1
    assert await enqueue(svc, "invitation:2", chats[:1], hello) == 1

    report = await sender(svc, clock).run_until_idle(bot, timeout=60)

    assert report.sent == 5
    assert [len(tg.texts_to(c)) for c in chats] == [2, 1, 1]


# --- progress ---------------------------------------------------------------------------------


async def test_progress_is_throttled_and_the_final_counts_are_right(
    svc: Services, clock: FakeTime, bot: ExtBot[None], tg: Telegram
) -> None:
    svc.config = dataclasses.replace(svc.config, send_rate=10.0)
    chats = await residents(svc, 25)
    tg.always[chats[3]] = FakeApiError(403, "Forbidden: user is deactivated")
    tg.always[chats[4]] = FakeApiError(400, "Bad Request: can't parse entities")
    await enqueue(svc, "announce:5", chats, hello)
    await enqueue(svc, "digest:1", chats[-1:], hello)
    seen: list[tuple[float, str, dict[str, int]]] = []

    async def on_progress(campaign: str, counts: dict[str, int]) -> None:
        seen.append((clock(), campaign, counts))

    await sender(svc, clock, on_progress=on_progress, progress_every=1.0).run_until_idle(
        bot, timeout=60
    )

    announce = [(at, counts) for at, campaign, counts in seen if campaign == "announce:5"]
    assert len(announce) >= 3  # ~2.5 s of sending at 10/s: live updates, then the end
    interim = [at for at, counts in announce if counts["pending"]]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(interim))
    sent_so_far = [counts["sent"] for _, counts in announce]
    assert sent_so_far == sorted(sent_so_far)
    finals = [counts for _, counts in announce if not counts["pending"]]
    assert finals == [{"pending": 0, "sent": 23, "blocked": 1, "failed": 1}]
    assert seen[-1][1:] == ("digest:1", {"pending": 0, "sent": 1, "blocked": 0, "failed": 0})


async def test_the_final_progress_arrives_even_when_sends_land_during_a_read(
    svc: Services, clock: FakeTime, bot: ExtBot[None], monkeypatch: pytest.MonkeyPatch
) -> None:
    chats = await residents(svc, 4)
    await enqueue(svc, "announce:1", chats, hello)
    seen: list[dict[str, int]] = []

    async def on_progress(_campaign: str, counts: dict[str, int]) -> None:
        seen.append(counts)

    watched = sender(svc, clock, on_progress=on_progress, progress_every=0)
    read = svc.storage.campaign_progress

    async def slow_read(campaign: str) -> dict[str, int]:
        """A busy database: the counts are read, then every send under way lands."""
        counts = await read(campaign)
        for _ in range(500):
            if not watched.in_flight:
                break
            await asyncio.sleep(0.001)
        return counts

    monkeypatch.setattr(svc.storage, "campaign_progress", slow_read)

    await watched.run_until_idle(bot, timeout=60)

    assert seen[-1] == {"pending": 0, "sent": 4, "blocked": 0, "failed": 0}
    assert len(seen) == len({tuple(c.values()) for c in seen})  # never the same news twice


async def test_a_failing_progress_callback_does_not_stop_sending(
    svc: Services, clock: FakeTime, bot: ExtBot[None], caplog: pytest.LogCaptureFixture
) -> None:
    await enqueue(svc, "announce:1", await residents(svc, 3), hello)

    async def broken(_campaign: str, _counts: dict[str, int]) -> None:
        raise RuntimeError("office chat gone")

    report = await sender(svc, clock, on_progress=broken).run_until_idle(bot, timeout=60)

    assert report.sent == 3
    assert "progress callback failed" in caplog.text


# --- concurrency and the background loop (real time, kept tiny) --------------------------------


class SlowRequest(FakeBotRequest):
    """The fake API with 20 ms of network latency, counting requests under way at once."""

    def __init__(self, fake: FakeTelegram) -> None:
        super().__init__(fake)
        self.now_in_flight = 0
        self.peak = 0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        self.now_in_flight += 1
        self.peak = max(self.peak, self.now_in_flight)
        try:
            if url.endswith("/sendMessage"):
                await asyncio.sleep(0.02)
            return await super().do_request(
                url, method, request_data, read_timeout, write_timeout, connect_timeout,
                pool_timeout,
            )  # fmt: skip
        finally:
            self.now_in_flight -= 1


async def test_several_messages_are_in_flight_at_once(
    services: Services, fake: FakeTelegram
) -> None:
    services.config = dataclasses.replace(services.config, send_rate=1000.0, per_chat_interval=0)
    chats = await residents(services, 100)
    await enqueue(services, "announce:1", chats, hello)
    request = SlowRequest(fake)
    ext = ExtBot(TOKEN, request=request, get_updates_request=FakeBotRequest(fake))
    await ext.initialize()
    try:
        # Small fetches, so new rows are fetched while earlier ones are still landing.
        report = await Sender(services, max_in_flight=6).run_until_idle(
            ext, timeout=10, max_rows=7
        )
    finally:
        await ext.shutdown()

    assert report.sent == 100
    assert sorted(s.chat_id for s in fake.sent) == chats  # each exactly once
    assert 1 < request.peak <= 6  # concurrent, and never more than allowed


async def test_run_forever_sends_what_is_enqueued_until_stopped(
    services: Services, bot: ExtBot[None], fake: FakeTelegram
) -> None:
    services.config = dataclasses.replace(services.config, send_rate=500.0)
    loop_sender = Sender(services)
    runner = asyncio.create_task(loop_sender.run_forever(bot, idle_poll=5.0))
    chats = await residents(services, 3)
    await enqueue(services, "announce:1", chats, hello)
    loop_sender.wake()
    for _ in range(200):
        if len(fake.sent) == 3:
            break
        await asyncio.sleep(0.01)
    assert len(fake.sent) == 3
    # While the loop is idle, a direct pass (the terminal chat does this) is not locked out.
    [late] = await residents(services, 1, first=FIRST_CHAT + 10)
    await enqueue(services, "announce:2", [late], hello)
    assert (await asyncio.wait_for(loop_sender.send_due(bot), timeout=2)).sent == 1
    loop_sender.stop()
    await asyncio.wait_for(runner, timeout=2)

    assert sorted(s.chat_id for s in fake.sent) == [*chats, late]


# --- small pieces -----------------------------------------------------------------------------


def test_retry_after_is_read_in_seconds_with_or_without_ptb_timedelta(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert retry_after_seconds(RetryAfter(dt.timedelta(seconds=1.5))) == 1.5
    monkeypatch.delenv("PTB_TIMEDELTA")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)  # PTB warns as it builds it
        flood = RetryAfter(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert retry_after_seconds(flood) == 3.0


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_seconds(n) for n in range(5)] == [1, 2, 4, 8, 16]
    assert backoff_seconds(40) == 300


def test_payload_convention() -> None:
    message = message_from_payload(payload("Hei", signed_for=5))
    assert message.parse_mode == "HTML"
    assert message.markup is not None
    assert [[b.text for b in row] for row in message.markup.inline_keyboard] == [
        ["Jeg kommer"],
        ["Les mer"],
    ]
    for bad in ({}, {"text": ""}, {"text": "x", "buttons": [[{"text": "no action"}]]}):
        with pytest.raises(ValueError, match=r"payload|button"):
            message_from_payload(bad)
