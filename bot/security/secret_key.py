"""The bot's one secret key: where it lives, how strong it must be, how it is made.

Every pseudonym (the HMAC of a Telegram id), every encrypted chat id and every signed button
derives from this key (bot/security/pseudonyms.py). Whoever has it and a copy of the database can
search
the Telegram ids and decrypt chat ids; whoever loses it orphans every registration. Hence:

- it comes from env SELVHJELP_SECRET_KEY, or from a key file generated once;
- the key file lives outside the data folder by default (`<data folder>-key/secret.key`, e.g.
  `data-key/secret.key` beside `data/`; config `key_file` or env SELVHJELP_KEY_FILE elsewhere),
  so a copy of the data folder holds no key; a key file left in the data folder by an older
  version is still used, with a warning;
- a key must be at least 32 characters with an estimated strength of at least 128 bits (see
  `estimated_bits`); anything else refuses to start, as does an empty or damaged key file, which
  is never silently replaced (a new key would orphan every registration);
- a generated key is written to a temporary file (0600), fsynced, then hard-linked to its name:
  the name appears complete or not at all, and when two processes start at once the loser
  reads the winner's key.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import secrets
import tempfile
import time
from pathlib import Path

from bot.security.file_modes import fsync_folder, make_private_file, make_private_folder

log = logging.getLogger("selvhjelp.keys")

KEY_FILE_NAME = "secret.key"
ENV_NAME = "SELVHJELP_SECRET_KEY"
MIN_CHARS = 32
MIN_BITS = 128
GENERATE_HINT = 'python3 -c "import secrets;print(secrets.token_hex(32))"'

# Words an operator reaches for; each counts as one guess out of a small dictionary.
COMMON_WORDS = (
    "selvhjelp", "selvhjelpsgruppe", "telegram", "password", "passord", "secret", "hemmelig",
    "changeme", "default", "example", "admin", "qwerty", "asdf", "letmein", "welcome",
    "velkommen", "test", "key", "nokkel", "token", "bot", "norge", "norway", "lyngen",
    "tromso", "pass", "login", "master", "dragon", "monkey", "sommer", "vinter",
)  # fmt: skip
WORD_BITS = 10.0
# A whole run of 4 or more letters shaped like a word ("Correct", "horse", "FJORD", with vowels
# about as often as in words) carries about WORD_LETTER_BITS per letter in natural language.
# In random keys such runs are rare: their letter runs mix upper and lower case.
LETTER_RUN = re.compile(r"[^\W\d_]{4,}")
VOWELS = frozenset("aeiouyæøå")
WORD_VOWEL_SHARE = 0.25
SEPARATOR_BITS = 2.0  # a space or punctuation right after a word: one of a few usual choices
WORD_LETTER_BITS = 2.5
# A key file this young may still be being written by another process (no hard links).
YOUNG_SECONDS = 2.0

_warned: set[Path] = set()


class SecretKeyError(Exception):
    """The key is unusable; the message names the problem and how to fix it (never the key)."""


def default_key_file(data_dir: Path) -> Path:
    """`<data folder>-key/secret.key`, beside the data folder: `data/` -> `data-key/`."""
    folder = Path(os.path.abspath(data_dir))
    return folder.parent / f"{folder.name or 'data'}-key" / KEY_FILE_NAME


def estimated_bits(text: str) -> float:
    """A conservative estimate of how many bits of guessing `text` takes.

    Each character is worth log2 of the pool of its character classes (lower case, upper
    case, digits, other ASCII, anything else), except that: a listed common word counts as
    WORD_BITS in all; a repeated character, a step of a sequence ("abc", "2468") or a
    character that completes a 4-character chunk seen before counts 1 bit; a letter in a
    word-shaped run counts at most WORD_LETTER_BITS and a separator right after a word at most
    SEPARATOR_BITS. 32 random bytes as hex (64 characters)
    or base64 (43 characters) come out well above 200 bits.
    """
    pool = 0
    if any(c.islower() and c.isascii() for c in text):
        pool += 26
    if any(c.isupper() and c.isascii() for c in text):
        pool += 26
    if any(c.isdigit() and c.isascii() for c in text):
        pool += 10
    if any(c.isascii() and not c.isalnum() for c in text):
        pool += 33
    if any(not c.isascii() for c in text):
        pool += 128
    per_char = math.log2(pool) if pool > 1 else 0.0
    word_like = [False] * len(text)
    after_word: set[int] = set()
    for match in LETTER_RUN.finditer(text):
        run = match.group()
        shaped = run.islower() or run.isupper() or (run[0].isupper() and run[1:].islower())
        vowels = sum(c in VOWELS for c in run.lower())
        if not shaped or vowels < WORD_VOWEL_SHARE * len(run):
            continue
        for i in range(match.start(), match.end()):
            word_like[i] = True
        after_word.add(match.end())
    lowered = text.lower()
    seen: set[str] = set()
    bits = 0.0
    i = 0
    while i < len(text):
        word = max((w for w in COMMON_WORDS if lowered.startswith(w, i)), key=len, default="")
        if word:
            bits += WORD_BITS
            after_word.add(i + len(word))
            for j in range(max(i, 3), i + len(word)):
                seen.add(text[j - 3 : j + 1])
            i += len(word)
            continue
        step = ord(text[i]) - ord(text[i - 1]) if i >= 1 else None
        chunk = text[i - 3 : i + 1] if i >= 3 else None
        repeated = step == 0 or (chunk is not None and chunk in seen)
        in_sequence = (
            i >= 2
            and step is not None
            and abs(step) <= 2
            and step == ord(text[i - 1]) - ord(text[i - 2])
        )
        if repeated or in_sequence:
            bits += 1
        elif word_like[i]:
            bits += min(per_char, WORD_LETTER_BITS)
        elif i in after_word and not text[i].isalnum():
            bits += min(per_char, SEPARATOR_BITS)
        else:
            bits += per_char
        if chunk is not None:
            seen.add(chunk)
        i += 1
    return bits


def key_problem(text: str) -> str | None:
    """Why `text` is not a usable key (without quoting it), or None if it is strong enough."""
    if not text:
        return "is empty"
    if len(text) < MIN_CHARS:
        return f"is too short ({len(text)} characters; at least {MIN_CHARS} are needed)"
    bits = estimated_bits(text)
    if bits < MIN_BITS:
        return (
            f"is too weak (estimated {bits:.0f} bits, at least {MIN_BITS} are needed; repeated "
            "characters, sequences, repeated chunks, words and common passwords count for little)"
        )
    return None


def check_configured_key(configured: str) -> None:
    """Refuse a weak SELVHJELP_SECRET_KEY."""
    problem = key_problem(configured)
    if problem:
        raise SecretKeyError(
            f"{ENV_NAME} {problem}. Use at least 32 random bytes, e.g. the output of "
            f"{GENERATE_HINT}. Changing the key of a bot that already has registrations "
            "orphans them."
        )


def load_or_create_key(
    data_dir: Path, configured: str | None, key_file: Path | None = None
) -> bytes:
    """The configured secret, else the key file's, else a key generated once into the key file.

    Raises SecretKeyError for a weak configured key or an empty, short or weak key file.
    """
    if configured:
        check_configured_key(configured)
        return configured.encode()
    path = key_file or default_key_file(data_dir)
    legacy = data_dir / KEY_FILE_NAME
    if not path.exists() and legacy.exists() and legacy.resolve() != path.resolve():
        if legacy not in _warned:
            _warned.add(legacy)
            log.warning(
                "the secret key is inside the data folder (%s), so a copy of that folder holds "
                "the key too; stop the bot and move it to %s (README: Secret key)",
                legacy,
                path,
            )
        path = legacy
    if path.exists():
        return read_key_file(path)
    return create_key_file(path)


def read_key_file(path: Path) -> bytes:
    """The key in `path`, refusing an empty, short or weak one; tightens its mode to 0600."""
    deadline = time.monotonic() + YOUNG_SECONDS
    while True:
        try:
            key = path.read_bytes().strip()
            young = time.time() - path.stat().st_mtime < YOUNG_SECONDS
        except OSError as exc:
            raise SecretKeyError(f"cannot read the key file {path} ({exc.strerror})") from exc
        problem = key_problem(_as_text(key))
        if problem is None:
            make_private_file(path)
            return key
        if not (young and len(key) < MIN_CHARS and time.monotonic() < deadline):
            break
        time.sleep(0.05)  # another process may still be writing it (file systems without links)
    raise SecretKeyError(
        f"the key file {path} {problem}. The bot will not make a new key over it: that would "
        "orphan every registration. Restore the key from your backup; only if the bot never "
        "had any registrations, delete the file to have a new key generated (or set "
        f"{ENV_NAME}, e.g. to the output of {GENERATE_HINT})."
    )


def _as_text(key: bytes) -> str:
    """The key file's content as text; raw random bytes count one character per byte."""
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        return key.decode("latin-1")


def create_key_file(path: Path) -> bytes:
    """Generate a key into `path` atomically and durably; if another process won, its key."""
    folder = path.parent
    new_folder = not folder.exists()
    make_private_folder(folder)
    if new_folder:
        fsync_folder(folder.parent)
    key = secrets.token_hex(32).encode()
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")  # 0600
    except OSError as exc:
        raise SecretKeyError(f"cannot create the key file in {folder} ({exc.strerror})") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # fails if the name exists: then the other process's key wins
        except FileExistsError:
            pass
        except OSError:
            _create_without_link(path, key)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    fsync_folder(folder)
    return read_key_file(path)


def _create_without_link(path: Path, key: bytes) -> None:
    """Where hard links are unsupported: exclusive create, write, fsync (readers wait for it)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise SecretKeyError(f"cannot create the key file {path} ({exc.strerror})") from exc
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
        fh.flush()
        os.fsync(fh.fileno())
