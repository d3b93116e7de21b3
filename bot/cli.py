"""Command line: python -m bot [run|chat|ask|check-config] ...

python -m bot                 run on Telegram if TELEGRAM_BOT_TOKEN is set, else the terminal chat
python -m bot run             run on Telegram (polling or webhook, from config.yaml)
python -m bot chat            local terminal chat: the same bot, no token, nothing sent anywhere
python -m bot ask [--lang nb|en] [QUESTION ...]
                              answer questions (or one per stdin line) as JSON lines
python -m bot check-config [PATH]
                              validate config.yaml; one line per problem, exit 1 if broken;
                              risky values are WARNING lines (exit 0)
python -m bot poster --municipality NAME [--lang nb|en] [--out poster.pdf] [--bot-username U]
                              write a printable A4 poster (PDF, and a PNG beside it) whose QR
                              code opens the bot for that municipality
python -m bot backup [--out FILE]
                              copy the database now, also while the bot runs (default
                              <data>/backups/selvhjelp-YYYYMMDD-HHMMSS.sqlite3); not the key
python -m bot restore FILE    replace the database with a backup (the bot must be stopped);
                              the old one is kept as selvhjelp.sqlite3.before-restore-<stamp>
--config PATH (before or after the command) picks the config file; without it: env
SELVHJELP_CONFIG, else ./config.yaml, else the sample config shipped with the bot.
The installed console command `selvhjelp-bot` is the same as `python -m bot`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from bot.config import LANGUAGES, Config, ConfigError, config_warnings, load_config
from bot.content import Content, ContentError, load_content
from bot.instance_lock import InstanceLockError
from bot.resources import config_path
from bot.security import log_scrub as logsafe
from bot.security.secret_key import SecretKeyError, check_configured_key

log = logging.getLogger("selvhjelp")


# Our own times to the minute: with resident times stored as their day (bot/storage/__init__.py,
# `day_floor`), a line cannot be tied to a database row by its time. journald or docker add
# their own, exact, time to each line: see docs on the threat model (logs).
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_DATE_FORMAT = "%Y-%m-%d %H:%M"


def setup_logging(level: int = logging.INFO) -> None:
    """Log to stderr through the privacy filter (bot/security/log_scrub.py): no library DEBUG, no
    library
    arguments, no exception text, whatever the level."""
    logging.basicConfig(level=level, format=LOG_FORMAT, datefmt=LOG_DATE_FORMAT)
    logsafe.install(logging.getLogger().handlers)


def run_telegram(config: Config) -> int:
    """Connect to Telegram with long polling or a webhook until SIGTERM/SIGINT, through the one
    start-up lifecycle (bot/lifecycle.py) that the chat, the tests and the benchmarks use too."""
    from bot.lifecycle import BotRuntime, Mode

    # Webhook mode: our own hardened listener (bot/botapi/webhook.py), not the library's.
    mode: Mode = "webhook" if config.mode == "webhook" else "polling"
    runtime = BotRuntime(config, mode=mode)  # logs "starting in <mode> mode" once it may
    # Hooks for what runs beside the bot go here: runtime.on_started / runtime.on_stopping.
    from bot.ops import health

    health.attach(runtime)  # /healthz, /readyz, /metrics on config health (port 0: off)
    asyncio.run(runtime.run_until_stopped())
    return 0


def check_config_against_content(config: Config, content: Content, source: str) -> None:
    """Keys in config.yaml that need text in flows/: each must exist in every language."""
    problems = []
    for i, number in enumerate(config.crisis_numbers):
        for lang in LANGUAGES:
            if not content.has(lang, f"crisis.number.{number.key}"):
                problems.append(
                    f"crisis.numbers[{i}].key: expected a key with a label in "
                    f"flows/{lang}/ui*.yaml (crisis.number.<key>), got {number.key!r}"
                )
    for i, theme in enumerate(config.themes):
        for lang in LANGUAGES:
            if not content.has(lang, f"interest.theme.{theme}"):
                problems.append(
                    f"interest.themes[{i}]: expected a theme with a label in "
                    f"flows/{lang}/ui*.yaml (interest.theme.<id>), got {theme!r}"
                )
    if problems:
        raise ConfigError(source, problems)


def main(argv: list[str] | None = None) -> int:
    """The command line; an unusable secret key is one clear line and exit 1, no traceback."""
    try:
        return _main(argv)
    except SecretKeyError as exc:
        print(f"secret key: {exc}", file=sys.stderr)
        return 1
    except InstanceLockError as exc:  # another bot runs on this data folder
        print(str(exc), file=sys.stderr)
        return 1


def _main(argv: list[str] | None = None) -> int:
    # python-telegram-bot 22: retry_after as a timedelta, the behaviour of its next major version.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--config",
        default=None,
        help="the config file (default: env SELVHJELP_CONFIG, else ./config.yaml, else the "
        "sample config shipped with the bot); before or after the command",
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run on Telegram")
    chat = sub.add_parser("chat", help="local terminal chat, no token needed")
    chat.add_argument("--lang", choices=("nb", "en"))
    chat.add_argument(
        "--user-id",
        type=int,
        default=None,
        help="chat as this Telegram user id, e.g. a coordinator's from config.yaml "
        "(in the chat, /as switches person)",
    )
    chat.add_argument(
        "--files",
        default=None,
        help="folder for the files the bot sends (posters, calendar files); default chat-files",
    )
    ask = sub.add_parser("ask", help="answer questions as JSON lines")
    ask.add_argument("--lang", choices=("nb", "en"))
    ask.add_argument("question", nargs="*")
    check = sub.add_parser("check-config", help="validate a config file")
    check.add_argument("path", nargs="?")
    poster = sub.add_parser("poster", help="write a poster (PDF and PNG) with a QR code")
    poster.add_argument("--municipality", required=True, help="name or code from config.yaml")
    poster.add_argument("--lang", choices=LANGUAGES, help="default: config default_language")
    poster.add_argument("--out", help="the PDF to write (the PNG goes beside it)")
    poster.add_argument(
        "--bot-username",
        help="the bot's username (default: env TELEGRAM_BOT_USERNAME, else getMe with "
        "TELEGRAM_BOT_TOKEN, else selvhjelp_bot)",
    )
    backup = sub.add_parser("backup", help="copy the database now (also while the bot runs)")
    backup.add_argument("--out", help="the file to write (default: in the backup folder)")
    restore = sub.add_parser("restore", help="replace the database with a backup")
    restore.add_argument("file", help="a backup made by the backup command")
    parser.set_defaults(lang=None, question=[], path=None, user_id=None)
    for command_parser in sub.choices.values():  # --config after the command works too
        command_parser.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    path = args.path if args.command == "check-config" and args.path else None
    path = path or str(config_path(args.config))
    try:
        config = load_config(path)
        content = load_content()
        check_config_against_content(config, content, path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{exc.source}: {problem}", file=sys.stderr)
        return 1
    except ContentError as exc:
        for problem in exc.problems:
            print(f"flows: {problem}", file=sys.stderr)
        return 1
    if args.command == "check-config":
        if config.secret_key:
            check_configured_key(config.secret_key)  # a weak one: SecretKeyError, exit 1
        warnings = config_warnings(config)
        for warning in warnings:
            print(f"{path}: WARNING: {warning}", file=sys.stderr)
        counts = f"{len(config.municipalities)} municipalities, {len(config.regions)} regions"
        plural = "warning" if len(warnings) == 1 else "warnings"
        noted = f" with {len(warnings)} {plural}, see above" if warnings else ""
        print(f"{path}: OK{noted} ({counts})")
        return 0

    if args.command == "poster":
        from bot.poster.pdf import run_cli

        return run_cli(config, content, args)

    if args.command in ("backup", "restore"):
        from bot.storage import backup as backups

        return backups.run_cli(config, args.command, args)

    command = args.command or ("run" if config.token else "chat")
    if command == "run":
        if not config.token:
            print(
                "TELEGRAM_BOT_TOKEN is not set. Try the bot locally: python -m bot chat",
                file=sys.stderr,
            )
            return 2
        setup_logging()
        for warning in config_warnings(config):  # config text only: no person, id or key
            log.warning("config: %s (python -m bot check-config)", warning)
        return run_telegram(config)

    from bot.offline import terminal_chat as local

    setup_logging(logging.WARNING)
    if command == "chat":
        user_id = args.user_id or local.LOCAL_USER_ID
        files = Path(args.files) if getattr(args, "files", None) else local.CHAT_FILES
        return asyncio.run(
            local.run_terminal_chat(config, args.lang, sys.stdin, sys.stdout, user_id, files)
        )
    # Each argument is its own question, as each stdin line is (quote a question of many words).
    questions = list(args.question) if args.question else local.stdin_lines()
    return asyncio.run(local.run_ask(config, args.lang, questions, sys.stdout))


if __name__ == "__main__":
    sys.exit(main())
