"""Deep-link payloads (`t.me/<bot>?start=<payload>`): short codes from config, never personal data.

Form: `<municipality code>` or `<municipality code>_<lang>`, e.g. `lyngen` or `lyngen_en`.
Anything else (unknown code, bad characters, too long) is ignored and gives the normal welcome.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.config import LANGUAGES, Config, Municipality

_PAYLOAD_RE = re.compile(r"^[a-z0-9-]{1,24}(?:_[a-z]{2})?$")


@dataclass(frozen=True)
class StartPayload:
    municipality: Municipality | None
    lang: str | None


def parse_start_payload(payload: str, config: Config) -> StartPayload | None:
    """The validated meaning of a /start payload, or None when it is empty or not ours."""
    if not payload or len(payload) > 64 or not _PAYLOAD_RE.match(payload):
        return None
    code, _, lang = payload.partition("_")
    municipality = config.municipality_by_code(code)
    if municipality is None or (lang and lang not in LANGUAGES):
        return None
    return StartPayload(municipality, lang or None)


def start_link(bot_username: str, municipality: Municipality, lang: str | None = None) -> str:
    """The t.me link a poster's QR code points to."""
    payload = municipality.code + (f"_{lang}" if lang else "")
    return f"https://t.me/{bot_username}?start={payload}"
