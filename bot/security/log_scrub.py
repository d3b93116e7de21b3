"""Logs that cannot carry who people are or what they wrote (issue 10, finding F10).

The bot's own loggers (`selvhjelp.*`, `bot.*`) log decisions as kinds and counts, never ids,
keys or text (tests/security/test_privacy_logging.py, tests/security/test_logging_privacy.py).
Libraries are not
that careful: aiosqlite logs every SQL statement with its parameters at DEBUG, python-telegram-
bot logs API parameters and whole updates at DEBUG and an update it cannot parse whole at
CRITICAL, httpx logs URLs (with the bot token) at INFO, asyncio logs the repr of a failed task
(with its exception's text). So, whatever level the root logger or a deployer chooses:

1. `cap_library_levels`: the chatty library loggers never go below their cap (DEBUG never
   reaches any handler from them);
2. `PrivacyFilter`, on those library loggers themselves (`install`) and on the handlers the bot
   sets up (`install(handlers)`, from `python -m bot`):
   - drops library records below INFO;
   - keeps of a library record only the first line of its format string, every argument
     withheld ("Error while parsing updates! Received data was <withheld>");
   - replaces every exception, of any logger, by its type and where it was raised (file, line,
     function, for each exception in the chain), never its text, which can quote an update;
   - scrubs what is left of anything shaped like a Telegram id, bot token, user key or
     ciphertext (a last line of defence: our own messages never hold any).

DEBUG of our own loggers stays available and holds the same kinds of things as INFO (kinds,
counts, exception types); nothing of a library below INFO is ever written.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable

WITHHELD = "<withheld>"
OWN_LOGGERS = ("selvhjelp", "bot", "__main__")

# The lowest level each library logger may log at. Children inherit: a cap on "telegram" holds
# for "telegram.ext.Updater" unless that child has a level of its own (then it is capped too).
LIBRARY_LEVELS: dict[str, int] = {
    "aiosqlite": logging.WARNING,  # DEBUG: every statement and its parameters
    "httpx": logging.WARNING,  # INFO: every request URL, which holds the bot token
    "httpcore": logging.WARNING,
    "hpack": logging.WARNING,
    "h2": logging.WARNING,
    "telegram": logging.INFO,  # DEBUG: API parameters, updates, chat ids
    "telegram.ext": logging.INFO,
    "asyncio": logging.WARNING,
    "tornado": logging.WARNING,
    "tornado.access": logging.WARNING,  # INFO: one line per request, i.e. per update, timed
    "tornado.application": logging.WARNING,
    "tornado.general": logging.WARNING,
    "urllib3": logging.WARNING,
    "PIL": logging.WARNING,
    "fontTools": logging.WARNING,
}

# %-style placeholders of a format string ("%s", "%(name)r", "%.1f", ...), not "%%".
_PLACEHOLDER = re.compile(
    r"%(?:\([^)]*\))?[#0 +\-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa]"
)
_SCRUB = (
    # a bot token: digits, a colon, 30+ URL-safe characters
    (re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}"), "<token>"),
    # user keys (64 hex), ciphertext and other long base64/hex runs
    (re.compile(r"[A-Za-z0-9+/_=-]{32,}"), "<redacted>"),
    # bytes reprs (b'...') longer than a few characters: encrypted chat ids
    (re.compile(r"""b(['"])(?:\\.|(?!\1).){8,}?\1"""), "<bytes>"),
    # six or more digits: a Telegram id (counts and row numbers are never that long)
    (re.compile(r"(?<![\w.])-?\d{6,}(?![\w.])"), "<number>"),
)


def is_own(name: str) -> bool:
    return any(name == own or name.startswith(own + ".") for own in OWN_LOGGERS)


def scrub(text: str) -> str:
    """`text` with anything shaped like an id, token, key or ciphertext replaced."""
    for pattern, replacement in _SCRUB:
        text = pattern.sub(replacement, text)
    return text


def withhold_arguments(template: object) -> str:
    """The first line of a format string, each of its placeholders replaced by <withheld>."""
    first = str(template).strip().splitlines()[0] if str(template).strip() else ""
    return _PLACEHOLDER.sub(WITHHELD, first)


def describe_exception(error: BaseException) -> str:
    """Type and place of an exception and of those it was raised from, never their text:
    what someone fixing the bot needs, and nothing an update could have put there."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = traceback.extract_tb(current.__traceback__)
        where = "".join(f'\n  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames)
        kind = type(current)
        name = (
            kind.__qualname__
            if kind.__module__ == "builtins"
            else (f"{kind.__module__}.{kind.__qualname__}")
        )
        parts.append(f"{name} (text withheld){where}")
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return "\nraised while handling: ".join(parts)


class PrivacyFilter(logging.Filter):
    """Drops or redacts what could carry an id, a key or someone's words (see the module)."""

    def filter(self, record: logging.LogRecord) -> bool:
        own = is_own(record.name)
        if not own and record.levelno < logging.INFO:
            return False
        if getattr(record, "_privacy_checked", False):
            return True
        if own:
            try:
                message = record.getMessage()
            except Exception:  # a broken format string: keep the template only
                message = withhold_arguments(record.msg)
        else:
            message = withhold_arguments(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = describe_exception(record.exc_info[1])
        elif record.exc_text:
            record.exc_text = "(exception text withheld)"
        record.exc_info = None
        record.msg, record.args = scrub(message), None
        record.__dict__["_privacy_checked"] = True
        return True


def cap_library_levels() -> None:
    for name, cap in LIBRARY_LEVELS.items():
        logger = logging.getLogger(name)
        if logger.level < cap:  # NOTSET (0) included: a stricter choice of the deployer stays
            logger.setLevel(cap)


def _library_loggers() -> Iterable[logging.Logger]:
    prefixes = tuple(LIBRARY_LEVELS)
    for name in list(logging.Logger.manager.loggerDict):
        if name in LIBRARY_LEVELS or name.startswith(tuple(p + "." for p in prefixes)):
            logger = logging.getLogger(name)
            if isinstance(logger, logging.Logger):
                yield logger


def _add_once(target: logging.Filterer) -> None:
    if not any(isinstance(f, PrivacyFilter) for f in target.filters):
        target.addFilter(PrivacyFilter())


def install(handlers: Iterable[logging.Handler] = ()) -> None:
    """Cap the libraries, filter every library logger that exists now (so whatever handler
    anyone adds later gets their records redacted) and the given handlers (so records of
    loggers made later, and exceptions logged by our own code, are redacted too). Idempotent."""
    cap_library_levels()
    for logger in _library_loggers():
        _add_once(logger)
    for handler in handlers:
        _add_once(handler)
