"""Turn decisions and content keys into what the user sees: text and inline keyboards.

Callback data is short and structured: `t:<topic>`, `c:<category>`, `menu` (bot.answers.buttons),
`lang:<code>`, `forget:yes|no`, `help` (bot.general.buttons). `parse_callback` refuses anything
else, so forged data is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram._utils.types import JSONDict

from bot.answers import buttons as faq_buttons
from bot.answers.answering import Reply
from bot.config import LANGUAGES, Config
from bot.content import Content
from bot.general import buttons as general_buttons
from bot.meetings import buttons as meeting_buttons


@dataclass(frozen=True)
class Rendered:
    text: str
    keyboard: InlineKeyboardMarkup | None = None


@dataclass(frozen=True)
class Callback:
    action: str  # "topic", "category", "menu", "lang", "forget", "help"
    arg: str = ""


def parse_callback(data: str | None, content: Content) -> Callback | None:
    """A validated callback, or None for anything forged, stale or malformed."""
    faq = faq_buttons.decode(data)
    if faq is not None:
        if faq.action == faq_buttons.Action.TOPIC and faq.value in content.topics:
            return Callback("topic", faq.value)
        if faq.action == faq_buttons.Action.CATEGORY and faq.value in content.categories:
            return Callback("category", faq.value)
        return Callback("menu") if faq.action == faq_buttons.Action.MENU else None
    general = general_buttons.decode(data)
    if general is None:
        return None
    if general.action == general_buttons.Action.LANGUAGE:
        return Callback("lang", general.value) if general.value in LANGUAGES else None
    if general.action == general_buttons.Action.FORGET:
        return Callback("forget", general.value)
    return Callback("help")


class PreparedKeyboard(InlineKeyboardMarkup):
    """An inline keyboard that serialises itself once. Answers reuse the same few keyboards
    thousands of times; python-telegram-bot would otherwise rebuild the same dict every send."""

    __slots__ = ("_prepared",)

    def to_dict(self, recursive: bool = True) -> JSONDict:
        prepared: JSONDict | None = getattr(self, "_prepared", None)
        if prepared is None:
            prepared = super().to_dict(recursive=recursive)
            with self._unfrozen():
                self._prepared = prepared
        return dict(prepared)


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def _rows(buttons: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return PreparedKeyboard([[b] for b in buttons])


def topic_button(content: Content, lang: str, topic_id: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        content.topics[topic_id].text[lang].title, callback_data=faq_buttons.topic(topic_id)
    )


def menu_button(content: Content, lang: str) -> InlineKeyboardButton:
    return _button(content.text(lang, "buttons.more_topics"), faq_buttons.MENU)


def small_count(content: Content, config: Config, lang: str, n: int) -> str:
    """A count as coordinators and offices may see it: non-zero counts below the privacy
    threshold only as "fewer than N" (the digest applies the same rule, and more)."""
    if 0 < n < config.min_count:
        return content.text(lang, "counts.fewer_than", n=config.min_count)
    return str(n)


def crisis_block(content: Content, config: Config, lang: str, kind: str | None = None) -> str:
    """The emergency numbers from config.yaml for this kind of crisis (every number when no
    kind is given), one per line."""
    lines = []
    for n in config.crisis_numbers_for(kind) if kind else config.crisis_numbers:
        key = f"crisis.number.{n.key}"
        if content.has(lang, key):
            label = content.text(lang, key)
            lines.append(content.text(lang, "crisis.number_line", number=n.number, label=label))
        else:  # check-config reports this; a person in crisis still gets the number
            lines.append(f"📞 {n.number}")
    return "\n".join(lines)


@lru_cache(maxsize=64)
def crisis_reply(
    content: Content, config: Config, lang: str, kind: str = "suicide", tier: str = "crisis"
) -> Rendered:
    """The crisis reply: what fits the kind of crisis, then its numbers. The `check` tier asks
    gently whether the person is safe, shows the numbers and says the answer follows."""
    if tier == "check":
        parts = (
            content.text(lang, "crisis.check"),
            crisis_block(content, config, lang, "check"),
            content.text(lang, "crisis.check_outro"),
        )
    else:
        intro = f"crisis.intro.{kind}"
        parts = (
            content.text(lang, intro if content.has(lang, intro) else "crisis.intro.suicide"),
            crisis_block(content, config, lang, kind),
            content.text(lang, "crisis.outro"),
        )
    return Rendered("\n\n".join(parts))


# Topics whose answer opens a command's view with a button (label: `faq.action.<topic>`):
# "when is the next information meeting?" is answered by the upcoming meetings in /meetings.
TOPIC_ACTIONS = {"info_meetings": meeting_buttons.follow(meeting_buttons.FollowAction.OPEN)}


@lru_cache(maxsize=1024)  # content and config never change while the bot runs
def topic_answer(content: Content, config: Config, lang: str, topic_id: str) -> Rendered:
    """A topic's answer with its related topics as buttons."""
    topic = content.topics[topic_id]
    answer = topic.text[lang].answer
    if "{regional_offices}" in answer:
        offices = ", ".join(r.office for r in config.regions)
        answer = answer.replace("{regional_offices}", offices)
    if topic.show_crisis_numbers:
        answer = f"{answer}\n\n{crisis_block(content, config, lang)}"
    buttons = [topic_button(content, lang, rid) for rid in topic.related]
    if topic_id in TOPIC_ACTIONS:  # an answer that a command answers better, one press away
        label = content.text(lang, f"faq.action.{topic_id}")
        buttons.insert(0, InlineKeyboardButton(label, callback_data=TOPIC_ACTIONS[topic_id]))
    buttons.append(menu_button(content, lang))
    return Rendered(answer, _rows(buttons))


@lru_cache(maxsize=1024)
def answer_and_also(
    content: Content, config: Config, lang: str, topic_id: str, also: str, intro: str
) -> Rendered:
    """The answer to the first of two questions, with the second offered first as a button."""
    first = topic_answer(content, config, lang, topic_id)
    text = f"{first.text}\n\n👉 {content.text(lang, intro)}"
    buttons = [topic_button(content, lang, also)]
    buttons += [
        topic_button(content, lang, r) for r in content.topics[topic_id].related if r != also
    ]
    buttons.append(menu_button(content, lang))
    return Rendered(text, _rows(buttons))


@lru_cache(maxsize=1024)  # a few hundred distinct sets of two or three topics, at most
def suggestions(
    content: Content, lang: str, topic_ids: tuple[str, ...], long: bool = False
) -> Rendered:
    buttons = [topic_button(content, lang, tid) for tid in topic_ids]
    buttons.append(menu_button(content, lang))
    return Rendered(content.text(lang, "answer.long" if long else "answer.unsure"), _rows(buttons))


def declined(content: Content, lang: str) -> Rendered:
    return Rendered(content.text(lang, "answer.decline"), main_menu_keyboard(content, lang))


def not_understood(content: Content, lang: str) -> Rendered:
    return Rendered(content.text(lang, "answer.unknown"), main_menu_keyboard(content, lang))


@lru_cache(maxsize=16)
def main_menu_keyboard(content: Content, lang: str) -> InlineKeyboardMarkup:
    return _rows(
        [
            _button(content.text(lang, "buttons.browse"), faq_buttons.MENU),
            _button(content.text(lang, "buttons.help"), general_buttons.HELP),
        ]
    )


def render_reply(reply: Reply, content: Content, config: Config) -> Rendered:
    if reply.kind == "crisis":
        return crisis_reply(
            content, config, reply.lang, reply.crisis_kind or "suicide", reply.crisis_tier
        )
    if reply.kind == "smalltalk" and reply.smalltalk:
        text = content.text(reply.lang, f"smalltalk.{reply.smalltalk}")
        return Rendered(text, main_menu_keyboard(content, reply.lang))
    if reply.kind == "answer" and reply.topic_id and reply.also:
        return answer_and_also(
            content, config, reply.lang, reply.topic_id, reply.also, reply.also_text
        )
    if reply.kind == "answer" and reply.topic_id:
        return topic_answer(content, config, reply.lang, reply.topic_id)
    if reply.kind == "suggest":
        return suggestions(content, reply.lang, reply.suggestions, reply.long)
    if reply.kind == "decline":
        return declined(content, reply.lang)
    return not_understood(content, reply.lang)


def faq_menu(content: Content, lang: str) -> Rendered:
    buttons = [
        _button(content.text(lang, f"faq.category.{cat}"), faq_buttons.category(cat))
        for cat in content.categories
    ]
    return Rendered(content.text(lang, "faq.menu"), _rows(buttons))


def faq_category(content: Content, lang: str, category: str) -> Rendered:
    buttons = [topic_button(content, lang, t.id) for t in content.topics_in(category)]
    buttons.append(_button(content.text(lang, "buttons.back"), faq_buttons.MENU))
    title = content.text(lang, f"faq.category.{category}")
    return Rendered(content.text(lang, "faq.category_intro", category=title), _rows(buttons))


def language_choice(content: Content, lang: str) -> Rendered:
    buttons = [
        _button(content.text(code, "language.name"), general_buttons.language(code))
        for code in LANGUAGES
    ]
    return Rendered(content.text(lang, "language.choose"), _rows(buttons))


def forget_confirm(content: Content, lang: str) -> Rendered:
    return Rendered(
        content.text(lang, "forget.confirm"),
        _rows(
            [
                _button(content.text(lang, "forget.yes"), general_buttons.forget(True)),
                _button(content.text(lang, "forget.no"), general_buttons.forget(False)),
            ]
        ),
    )
