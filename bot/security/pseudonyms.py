"""Pseudonymous ids and encryption at rest: a stolen database file alone identifies nobody.

One secret (env SELVHJELP_SECRET_KEY, else generated once into a key file outside the data
folder, mode 0600; rules in bot/security/secret_key.py) yields separate subkeys for the keyed hash
of Telegram
ids, the AES-GCM encryption of chat ids and the signatures on privileged buttons.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# The key itself (where it lives, how strong it must be, how it is made) is
# bot/security/secret_key.py's.
from bot.security.secret_key import KEY_FILE_NAME as KEY_FILE_NAME
from bot.security.secret_key import SecretKeyError as SecretKeyError
from bot.security.secret_key import load_or_create_key as load_or_create_key


def subkey(master: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose, so no two uses ever share a key."""
    return hmac.new(master, f"selvhjelp-bot/{purpose}".encode(), hashlib.sha256).digest()


class Pseudonymizer:
    """Turns a Telegram user id into a stable, non-reversible key for storage."""

    CACHE_LIMIT = 100_000

    def __init__(self, key: bytes) -> None:
        self._key = subkey(key, "user-key")
        # Every update needs the key several times (language, flows, roles): compute it once.
        self._cache: dict[int, str] = {}

    def user_key(self, telegram_user_id: int) -> str:
        cached = self._cache.get(telegram_user_id)
        if cached is None:
            digest = hmac.new(self._key, f"user:{telegram_user_id}".encode(), hashlib.sha256)
            cached = digest.hexdigest()
            if len(self._cache) >= self.CACHE_LIMIT:
                self._cache.clear()
            self._cache[telegram_user_id] = cached
        return cached


class ChatCipher:
    """Authenticated encryption (AES-256-GCM) of the chat ids the bot needs to relay messages.

    The user key is bound in as associated data, so a ciphertext copied onto another
    resident's row does not decrypt.
    """

    NONCE_BYTES = 12

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(subkey(key, "chat-id"))

    def encrypt(self, chat_id: int, user_key: str) -> bytes:
        nonce = os.urandom(self.NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, str(chat_id).encode(), user_key.encode())

    def decrypt(self, blob: bytes, user_key: str) -> int | None:
        """The chat id, or None if the blob was tampered with or belongs to someone else."""
        try:
            plain = self._aead.decrypt(
                blob[: self.NONCE_BYTES], blob[self.NONCE_BYTES :], user_key.encode()
            )
        except (InvalidTag, ValueError):
            return None
        return int(plain.decode())

    NOTE_CONTEXT = b"role-note"  # associated data: a note never decrypts as a chat id

    def encrypt_note(self, note: str) -> bytes:
        """An admin's label for a role link ("Kari på biblioteket"): stored only encrypted, so a
        stolen database alone never ties a pseudonymous key to a name."""
        nonce = os.urandom(self.NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, note.encode(), self.NOTE_CONTEXT)

    def decrypt_note(self, blob: bytes | None) -> str:
        """The label, or "" when there is none (or it does not decrypt)."""
        if not blob:
            return ""
        try:
            plain = self._aead.decrypt(
                blob[: self.NONCE_BYTES], blob[self.NONCE_BYTES :], self.NOTE_CONTEXT
            )
        except (InvalidTag, ValueError):
            return ""
        return plain.decode()


class WeeklyTagger:
    """Keyed hashes that tell one person's repeats apart within one week and nothing more.

    The key is random, made for each week and held only in this process's memory: it is never
    derived from the secret key nor written anywhere, so a stored tag cannot be tied to anyone,
    not even with the secret key and a list of Telegram ids. A restart starts a new key (a
    person may then count once more that week).
    """

    TAG_CHARS = 32

    def __init__(self) -> None:
        self._week: int | None = None
        self._key = b""

    def tag(self, week: int, *parts: str) -> str:
        if week != self._week:
            self._week, self._key = week, secrets.token_bytes(32)
        message = "|".join((str(week), *parts)).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[: self.TAG_CHARS]


class ButtonSigner:
    """Signs privileged callback data for one user, so forged or borrowed buttons fail."""

    TAG_CHARS = 10

    def __init__(self, key: bytes) -> None:
        self._key = subkey(key, "buttons")

    def tag(self, user_id: int, data: str) -> str:
        mac = hmac.new(self._key, f"{user_id}|{data}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode()[: self.TAG_CHARS]

    def sign(self, user_id: int, data: str) -> str:
        """`data` plus a tag; keep `data` under 50 characters (Telegram allows 64 in all)."""
        return f"{data}~{self.tag(user_id, data)}"

    def verify(self, user_id: int, signed: str) -> str | None:
        """The original data if the tag is right for this user, else None."""
        data, sep, tag = signed.rpartition("~")
        if not sep or not tag.isascii():  # compare_digest refuses non-ASCII text (TypeError)
            return None
        if not hmac.compare_digest(tag, self.tag(user_id, data)):
            return None
        return data
