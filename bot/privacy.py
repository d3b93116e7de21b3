"""Pseudonymous ids: the database knows a resident only by a keyed hash of their Telegram id."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_FILE_NAME = "secret.key"


def load_or_create_key(data_dir: Path, configured: str | None) -> bytes:
    """The configured secret, or one generated once into data_dir with owner-only permissions."""
    if configured:
        return configured.encode()
    path = data_dir / KEY_FILE_NAME
    if path.exists():
        return path.read_bytes().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    # O_EXCL: if two processes start at once, only one writes; the other reads its key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


class Pseudonymizer:
    """Turns a Telegram user id into a stable, non-reversible key for storage."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def user_key(self, telegram_user_id: int) -> str:
        digest = hmac.new(self._key, f"user:{telegram_user_id}".encode(), hashlib.sha256)
        return digest.hexdigest()
