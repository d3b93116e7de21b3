"""The one start-up and shut-down of the bot, whatever drives it.

`python -m bot run` (polling and webhook), the terminal chat and `ask`, the tests and the
benchmarks all start the bot through `BotRuntime`, so what is tested and measured is what runs.
Start-up, in order:

1. the instance lock on the data folder (bot/instance_lock.py), when this runtime opens the
   data folder's own database;
2. the services (bot.composition.create_services: content, indexes, key, database);
3. the application (bot.composition.build_application: every handler, in order);
4. `app.initialize()`, then the application's post-init (bot.composition.on_ready: the command
   menus, then gc.freeze so the long-lived heap leaves the collector's generations);
5. the scheduler and the outbox sender (background="run"), or a scheduler ticked by hand
   ("manual", the terminal chat), or none ("off", tests and `ask`);
6. the updater's long polling ("polling"), the webhook listener ("webhook",
   bot/botapi/webhook.py), or nothing ("offline": the caller pushes updates through
   `app.process_update`); then `app.start()` (not offline);
7. the `on_started` hooks, in the order they were added.

`stop()` undoes what was done, in reverse: the `on_stopping` hooks (last added first), the
listener or the updater, `app.stop()`, the scheduler (the sender stops taking rows; requests
under way finish and are recorded), `app.shutdown()`, gc.unfreeze, the storage (last), the lock.

Hooks are `async def hook(runtime: BotRuntime) -> None`. An `on_started` hook that raises fails
the start (what was started is stopped again); an `on_stopping` hook runs at every stop that
follows a start which reached the hooks (also when a later `on_started` hook failed), so it must
cope with its own start not having happened; its errors are logged and the stop goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import gc
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application
from telegram.request import BaseRequest

from bot.botapi.webhook import Limits, WebhookServer, open_webhook
from bot.composition import build_application, create_services
from bot.config import Config, Webhook
from bot.content import Content
from bot.instance_lock import InstanceLock
from bot.scheduler import Scheduler
from bot.services import Services

log = logging.getLogger("selvhjelp.lifecycle")

Mode = Literal["polling", "webhook", "offline"]
Background = Literal["run", "manual", "off"]
MODES: tuple[Mode, ...] = ("polling", "webhook", "offline")
Hook = Callable[["BotRuntime"], Awaitable[None]]

# What Application.run_polling uses (python-telegram-bot 22): no pause between polls, a long
# poll of 10 s, no bootstrap retries.
POLL_INTERVAL = 0.0
POLL_TIMEOUT = dt.timedelta(seconds=10)
# The signals that stop a running bot cleanly (run_polling's own set).
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGABRT", None)) if s is not None
)

_RUNTIMES: dict[int, BotRuntime] = {}  # id(app) -> its runtime, while it is started


def runtime_of(app: Application) -> BotRuntime | None:
    """The runtime that started `app` (None if it was not started by one, or is stopped)."""
    runtime = _RUNTIMES.get(id(app))
    return runtime if runtime is not None and runtime.app is app else None


class BotRuntime:
    """One bot, started and stopped the same way in every mode (see the module docstring).

    `request` / `get_updates_request`: the Bot API transport (offline: required, the fake
    Telegram). `services`: already created ones (tests); else they are created from `config`
    with `content`, `clock` and `database` (another file than `<data>/selvhjelp.sqlite3`).
    `lock`: take the instance lock (default: when the data folder's own database is opened,
    i.e. neither `services` nor `database` is given). `webhook` / `webhook_limits`: instead of
    config.telegram.webhook and the listener's default limits (tests: port 0, small limits).
    """

    def __init__(
        self,
        config: Config,
        *,
        mode: Mode = "offline",
        request: BaseRequest | None = None,
        get_updates_request: BaseRequest | None = None,
        services: Services | None = None,
        content: Content | None = None,
        clock: Callable[[], float] | None = None,
        database: str | None = None,
        background: Background | None = None,
        lock: bool | None = None,
        webhook: Webhook | None = None,
        webhook_limits: Limits | None = None,
        poll_interval: float = POLL_INTERVAL,
        poll_timeout: dt.timedelta | int = POLL_TIMEOUT,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if mode == "offline" and request is None:
            raise ValueError("offline mode needs a request (the fake Bot API)")
        self.config = services.config if services is not None else config
        self.mode: Mode = mode
        self.background: Background = background or ("off" if mode == "offline" else "run")
        self.webhook_settings = webhook or self.config.webhook
        if mode == "webhook" and not self.webhook_settings.secret_token:
            raise ValueError("webhook mode needs TELEGRAM_WEBHOOK_SECRET")
        self.on_started: list[Hook] = []
        self.on_stopping: list[Hook] = []
        self.services: Services | None = services
        self.app: Application | None = None
        self.scheduler: Scheduler | None = None
        self.webhook_server: WebhookServer | None = None
        self.webhook_port: int | None = None
        take_lock = lock if lock is not None else (services is None and database is None)
        self.lock: InstanceLock | None = InstanceLock(self.config.data_dir) if take_lock else None
        self._request = request
        self._get_updates_request = get_updates_request
        self._content = content
        self._clock = clock
        self._database = database
        self._webhook_limits = webhook_limits
        self._poll_interval = poll_interval
        self._poll_timeout = poll_timeout
        self._state: Literal["new", "starting", "running", "stopping", "stopped"] = "new"
        self._froze = False
        self._hooks_reached = False

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir

    @property
    def running(self) -> bool:
        return self._state == "running"

    # --- start ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start everything (see the module docstring); on failure, stop what was started."""
        if self._state != "new":
            raise RuntimeError(f"a BotRuntime starts once (it is {self._state})")
        self._state = "starting"
        try:
            await self._start()
        except BaseException:
            await self._teardown(quiet=True)
            raise
        self._state = "running"

    async def _start(self) -> None:
        if self.lock is not None:
            self.lock.acquire()  # InstanceLockError: another bot runs on this data folder
        if self.services is None:
            self.services = await create_services(
                self.config,
                content=self._content,
                database=self._database,
                **({"clock": self._clock} if self._clock is not None else {}),
            )
        services = self.services
        if self.mode != "offline":  # the lock is ours and the key was accepted
            log.info("starting in %s mode", self.mode)
        app = build_application(
            services,
            request=self._request,
            get_updates_request=self._get_updates_request,
            with_updater=self.mode == "polling",
        )
        self.app = app
        _RUNTIMES[id(app)] = self
        await app.initialize()
        if app.post_init is not None:  # bot.composition.on_ready: menus, then gc.freeze
            frozen_before = gc.get_freeze_count()
            await app.post_init(app)
            self._froze = gc.get_freeze_count() > frozen_before
        if self.background != "off":
            self.scheduler = Scheduler(services, app.bot)
        if self.background == "run" and self.scheduler is not None:
            services.outbox_listener = self.scheduler.sender.wake
            self.scheduler.start()
        if self.mode == "polling":
            await self._start_polling(app)
        elif self.mode == "webhook":
            await self._start_webhook(app)
        if self.mode != "offline":
            await app.start()
        self._hooks_reached = True
        for hook in list(self.on_started):
            await hook(self)

    async def _start_polling(self, app: Application) -> None:
        updater = app.updater
        if updater is None:
            raise RuntimeError("polling needs an application built with an updater")

        def error_callback(exc: TelegramError) -> None:
            """As run_polling: an error fetching updates goes to the error handler."""
            app.create_task(app.process_error(error=exc, update=None))

        await updater.start_polling(
            poll_interval=self._poll_interval,
            timeout=self._poll_timeout,
            bootstrap_retries=0,
            allowed_updates=Update.ALL_TYPES,
            error_callback=error_callback,
        )

    async def _start_webhook(self, app: Application) -> None:
        settings = self.webhook_settings
        assert settings.secret_token is not None  # checked in __init__
        self.webhook_server = WebhookServer(
            app.bot, app.update_queue, settings.secret_token, limits=self._webhook_limits
        )
        self.webhook_port = await open_webhook(app, settings, self.webhook_server)

    # --- stop -----------------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop everything that was started, in reverse order (idempotent)."""
        if self._state in ("new", "stopping", "stopped"):
            self._state = "stopped" if self._state == "new" else self._state
            return
        await self._teardown(quiet=False)

    async def _teardown(self, *, quiet: bool) -> None:
        """Each step runs even if an earlier one failed; the first error is raised at the end
        (or only logged with `quiet`, when a failed start is being undone)."""
        self._state = "stopping"
        errors: list[BaseException] = []

        async def step(name: str, action: Callable[[], Awaitable[None]]) -> None:
            try:
                await action()
            except Exception as exc:
                log.warning("stopping: %s failed: %s", name, type(exc).__name__)
                errors.append(exc)

        app = self.app
        if self._hooks_reached:
            for hook in reversed(list(self.on_stopping)):
                await step("an on_stopping hook", functools.partial(hook, self))
        if self.webhook_server is not None:
            await step("the webhook listener", self.webhook_server.stop)
        if app is not None and app.updater is not None and app.updater.running:
            await step("the updater", app.updater.stop)
        if app is not None and app.running:
            await step("the application", app.stop)
        if self.scheduler is not None:
            await step("the scheduler", self.scheduler.stop)
        if app is not None:
            await step("the application's shutdown", app.shutdown)
            _RUNTIMES.pop(id(app), None)
        if self._froze:
            gc.unfreeze()  # the process goes on (tests, benchmarks): let it all be collected
            self._froze = False
        if self.services is not None:
            await step("the storage", self.services.storage.close)
        if self.lock is not None:
            self.lock.release()
        self._state = "stopped"
        if errors and not quiet:
            raise errors[0]

    # --- as a context manager, and until a signal -----------------------------------------

    async def __aenter__(self) -> BotRuntime:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def run_until_stopped(
        self,
        stop: asyncio.Event | None = None,
        signals: Sequence[signal.Signals] = STOP_SIGNALS,
    ) -> None:
        """Start, run until `stop` is set or one of `signals` arrives, then stop cleanly.

        The signal handlers stay in place until the stop is complete, so a second SIGTERM
        during shut-down cannot cut the outbox's requests under way short. A signal during
        start-up is honoured as soon as the start is complete."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        for signum in signals:
            try:
                loop.add_signal_handler(signum, stop.set)
            except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not main
                continue
            installed.append(signum)
        try:
            await self.start()
            try:
                await stop.wait()
                log.info("stop requested; shutting down")
            finally:
                await self.stop()
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)


@contextlib.asynccontextmanager
async def running_bot(config: Config, **options: object) -> AsyncIterator[BotRuntime]:
    """`async with running_bot(config, mode=..., request=...) as runtime:` (BotRuntime's
    keyword options); the bot is stopped on leaving the block, however it is left."""
    runtime = BotRuntime(config, **options)  # type: ignore[arg-type]
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()
