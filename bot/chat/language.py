"""Which language to answer a free-text message in (pure).

Telegram's language code often says "en" for a Norwegian (many use Telegram in English), and a
short message carries few function words ("i Lyngen?", "angst"), so per-message detection alone
flips a bokmål conversation into English. The rule: a chosen /language, or the language the
conversation has been held in, wins over a short message's weak evidence; a message with clear
evidence (or a long one) is answered in its own language, and that becomes the conversation's.
"""

from __future__ import annotations

SHORT_WORDS = 6  # at most this many words is a short message
CLEAR_MARGIN = 2.0  # this many more function words of one language is clear evidence


def reply_language(
    detected: str, words: int, en_hints: float, nb_hints: float, chat_lang: str, firm: bool
) -> str:
    """The reply language. `firm`: the chat language was chosen or the conversation's."""
    if not firm or words > SHORT_WORDS:
        return detected
    return detected if abs(en_hints - nb_hints) >= CLEAR_MARGIN else chat_lang


def remembered(detected: str, margin: float) -> bool:
    """Whether a message's language becomes the conversation's: only on clear evidence."""
    return bool(detected) and margin >= CLEAR_MARGIN
