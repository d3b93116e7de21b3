"""Button data is a protocol with buttons already sitting in people's chats: the codecs must keep
its bytes, route each press to its own feature, fit Telegram's 64 bytes and refuse forgeries.

The literal strings below are the data the views wrote with f-strings before the codecs
(`git show fa816c5:bot/interest/views.py` and the other views and handlers), so a codec that
changed a byte fails here. The `_old_*` functions are the parsers the handlers had then,
copied as they were, to compare answers.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from telegram import CallbackQuery, Update
from telegram.ext import CallbackQueryHandler

from bot.answers import buttons as answers
from bot.chat import button_codecs
from bot.chat.button_codecs import CODECS, Codec, codec_for, heads
from bot.chat.button_data import (
    CODE,
    HEX,
    LANGUAGE,
    MAX_BYTES,
    NAME,
    NUMBER,
    REGION,
    SIGNATURE_MARK,
    IdShape,
    Press,
    Shape,
    fits,
)
from bot.chat.rendering import parse_callback
from bot.config import LANGUAGES, Config
from bot.content import Content
from bot.general import buttons as general
from bot.interest import buttons as interest
from bot.invitations import buttons as invitations
from bot.invitations.views import parse_answer
from bot.meetings import buttons as meetings
from bot.meetings.subscriptions import parse_follow, parse_meeting_button
from bot.offline.fake_updates import callback_update_json
from bot.poster import buttons as poster
from bot.roles import buttons as roles
from bot.roles.admin_views import parse_press
from bot.roles.role_links import GRANT_ID_CHARS, INVITE_ID_CHARS
from bot.security.pseudonyms import ButtonSigner
from tests.support import App

SIGNER = ButtonSigner(b"k" * 32)
BIGGEST_USER_ID = 2**52  # Telegram's user ids fit in 52 bits

# --- today's bytes ------------------------------------------------------------------------------

# (data as the views have always written it, feature, action, values)
TODAY: list[tuple[str, str, str, tuple[str, ...]]] = [
    # FAQ and general (bot/chat/rendering.py)
    ("t:who_for", "answers", "t", ("who_for",)),
    ("t:confidentiality", "answers", "t", ("confidentiality",)),
    ("c:about", "answers", "c", ("about",)),
    ("c:safety_privacy", "answers", "c", ("safety_privacy",)),
    ("menu", "answers", "menu", ()),
    ("help", "general", "help", ()),
    ("lang:en", "general", "lang", ("en",)),
    ("lang:nb", "general", "lang", ("nb",)),
    ("forget:yes", "general", "forget", ("yes",)),
    ("forget:no", "general", "forget", ("no",)),
    # interest (bot/interest/views.py, retention.py, bot/general/start.py)
    ("i:start:lyngen", "interest", "start", ("lyngen",)),
    ("i:e:yes", "interest", "e", ("yes",)),
    ("i:e:other", "interest", "e", ("other",)),
    ("i:e:unsure", "interest", "e", ("unsure",)),
    ("i:a:yes", "interest", "a", ("yes",)),
    ("i:a:no", "interest", "a", ("no",)),
    ("i:l:ok", "interest", "l", ("ok",)),
    ("i:l:no", "interest", "l", ("no",)),
    ("i:r:nord-norge", "interest", "r", ("nord-norge",)),
    ("i:t", "interest", "t", ()),
    ("i:u", "interest", "u", ()),
    ("i:m:lyngen", "interest", "m", ("lyngen",)),
    ("i:m:nord-aurdal", "interest", "m", ("nord-aurdal",)),
    ("i:ur:innlandet", "interest", "ur", ("innlandet",)),
    ("i:o", "interest", "o", ()),
    ("i:k:open", "interest", "k", ("open",)),
    ("i:k:chronic_illness", "interest", "k", ("chronic_illness",)),
    ("i:k:any", "interest", "k", ("any",)),
    ("i:h:day", "interest", "h", ("day",)),
    ("i:h:evening", "interest", "h", ("evening",)),
    ("i:h:either", "interest", "h", ("either",)),
    ("i:c:yes", "interest", "c", ("yes",)),
    ("i:c:no", "interest", "c", ("no",)),
    ("i:s:ok", "interest", "s", ("ok",)),
    ("i:s:edit", "interest", "s", ("edit",)),
    ("i:s:cancel", "interest", "s", ("cancel",)),
    ("i:x:place", "interest", "x", ("place",)),
    ("i:x:contact", "interest", "x", ("contact",)),
    ("i:w", "interest", "w", ()),
    ("i:wy", "interest", "wy", ()),
    ("i:wn", "interest", "wn", ()),
    ("i:keep", "interest", "keep", ()),
    ("i:del", "interest", "del", ()),
    # following meetings (bot/meetings/views.py, the FAQ's TOPIC_ACTIONS)
    ("ms:home", "meetings.follow", "home", ()),
    ("ms:open", "meetings.follow", "open", ()),
    ("ms:all", "meetings.follow", "all", ()),
    ("ms:r:nord-norge", "meetings.follow", "r", ("nord-norge",)),
    ("ms:m:lyngen", "meetings.follow", "m", ("lyngen",)),
    ("ms:w:innlandet", "meetings.follow", "w", ("innlandet",)),
    ("ms:sub:lyngen", "meetings.follow", "sub", ("lyngen",)),
    ("ms:subr:oslo", "meetings.follow", "subr", ("oslo",)),
    ("ms:un:tromso", "meetings.follow", "un", ("tromso",)),
    ("ms:unr:nord-norge", "meetings.follow", "unr", ("nord-norge",)),
    # one meeting (IdShape: decoded to (id, action))
    ("mt:1:ics", "meetings.meeting", "1", ("ics",)),
    ("mt:12:rem", "meetings.meeting", "12", ("rem",)),
    ("mt:7:go", "meetings.meeting", "7", ("go",)),
    ("mt:7:stop", "meetings.meeting", "7", ("stop",)),
    ("mt:999999999999:show", "meetings.meeting", "999999999999", ("show",)),
    # /announce (bot/meetings/announce_views.py)
    ("an:r:nord-norge", "meetings.announce", "r", ("nord-norge",)),
    ("an:skip:link", "meetings.announce", "skip", ("link",)),
    ("an:skip:description", "meetings.announce", "skip", ("description",)),
    ("an:t:lyngen", "meetings.announce", "t", ("lyngen",)),
    ("an:tall", "meetings.announce", "tall", ()),
    ("an:tdone", "meetings.announce", "tdone", ()),
    ("an:send", "meetings.announce", "send", ()),
    ("an:e:when", "meetings.announce", "e", ("when",)),
    ("an:x", "meetings.announce", "x", ()),
    ("an:ch:3", "meetings.announce", "ch", ("3",)),
    ("an:cx:3", "meetings.announce", "cx", ("3",)),
    ("an:cy:3", "meetings.announce", "cy", ("3",)),
    ("an:cn", "meetings.announce", "cn", ()),
    # /invitation (bot/invitations/views.py)
    ("ci:m:lyngen", "invitations.coordinator", "m", ("lyngen",)),
    ("ci:a:all", "invitations.coordinator", "a", ("all",)),
    ("ci:a:grief", "invitations.coordinator", "a", ("grief",)),
    ("ci:s", "invitations.coordinator", "s", ()),
    ("ci:w", "invitations.coordinator", "w", ()),
    ("ci:x", "invitations.coordinator", "x", ()),
    ("inv:5:yes", "invitations.answer", "5", ("yes",)),
    ("inv:5:maybe", "invitations.answer", "5", ("maybe",)),
    ("inv:5:no", "invitations.answer", "5", ("no",)),
    ("inv:5:share", "invitations.answer", "5", ("share",)),
    ("inv:5:sharey", "invitations.answer", "5", ("sharey",)),
    ("inv:5:sharen", "invitations.answer", "5", ("sharen",)),
    # roles (bot/roles/admin_views.py)
    ("adm:rv:0123456789ab", "roles", "rv", ("0123456789ab",)),
    ("adm:rk:0123456789ab", "roles", "rk", ("0123456789ab",)),
    ("adm:ls", "roles", "ls", ()),
    ("adm:iv:ba9876543210", "roles", "iv", ("ba9876543210",)),
    ("adm:ik:ba9876543210", "roles", "ik", ("ba9876543210",)),
    ("adm:il", "roles", "il", ()),
    # poster (bot/poster/handlers.py)
    ("po:m:lyngen", "poster", "m", ("lyngen",)),
    ("po:l:lyngen:nb", "poster", "l", ("lyngen", "nb")),
    ("po:l:alta:en", "poster", "l", ("alta", "en")),
]

ROUTED = [(data, feature) for data, feature, *_ in TODAY]

# Forged, malformed or out-of-shape data: every codec refuses it.
FORGED = [
    "",
    ":",
    "t:",
    "t:cost:extra",
    "c:",
    "menu:x",
    "help:me",
    "lang:",
    "lang:english",
    "forget:maybe",
    "i:",
    "i:zz",
    "i:e:perhaps",
    "i:m:",
    "i:m:Lyngen",
    "i:m:lyngen:alta",
    "i:t:x",
    "i:w:1",
    "i:k:",
    "i:start:",
    "ms:",
    "ms:home:x",
    "ms:m:",
    "ms:zz:lyngen",
    "ms:m:lyngen:x",
    "mt:1",
    "mt:x:ics",
    "mt:²:ics",
    "mt:1:ics:2",
    "mt:1:dance",
    "mt:1234567890123:ics",
    "an:ch:abc",
    "an:ch:²",
    "an:send:now",
    "an:zz",
    "ci:a:",
    "ci:m:LYNGEN",
    "inv:5",
    "inv:x:yes",
    "inv:5:yes:no",
    "inv:5:sure",
    "adm:rv:",
    "adm:rv:XYZ",
    "adm:ls:1",
    "po:l:lyngen",
    "po:l:lyngen:english",
    "po:m:lyngen:nb",
    "i:m:" + "a" * 61,
    "t:" + "æ" * 31,
]


def decoded(codec: Codec, data: str) -> Press | None:
    if isinstance(codec.shape, IdShape):
        found = codec.shape.decode(data)
        return None if found is None else Press(str(found[0]), (found[1],))
    return codec.shape.decode(data)


def by_feature(feature: str) -> Codec:
    return next(c for c in CODECS if c.feature == feature)


@pytest.mark.parametrize(("data", "feature", "action", "values"), TODAY)
def test_todays_data_decodes_to_the_same_action(
    data: str, feature: str, action: str, values: tuple[str, ...]
) -> None:
    codec = codec_for(data)
    assert codec is not None
    assert codec.feature == feature
    assert decoded(codec, data) == Press(action, values)
    # and the codec writes exactly these bytes again
    shape = codec.shape
    if isinstance(shape, IdShape):
        assert shape.encode(int(action), values[0]) == data
    else:
        assert shape.encode(action, *values) == data


@pytest.mark.parametrize("data", FORGED)
def test_forged_and_malformed_data_decodes_to_nothing(data: str) -> None:
    assert all(decoded(codec, data) is None for codec in CODECS), data


def test_named_encoders_write_todays_bytes() -> None:
    assert answers.topic("who_for") == "t:who_for"
    assert answers.category("about") == "c:about"
    assert answers.MENU == "menu"
    assert general.HELP == "help"
    assert general.language("en") == "lang:en"
    assert general.forget(True) == "forget:yes"
    assert general.forget(False) == "forget:no"
    assert interest.data(interest.Action.TYPE) == "i:t"
    assert interest.data(interest.Action.TIME, "evening") == "i:h:evening"
    assert interest.municipality("lyngen") == "i:m:lyngen"
    assert interest.data(interest.Action.START, "alta") == "i:start:alta"
    assert meetings.follow(meetings.FollowAction.OPEN) == "ms:open"
    assert meetings.follow_place("sub", "nord-norge", "lyngen") == "ms:sub:lyngen"
    assert meetings.follow_place("sub", "nord-norge") == "ms:subr:nord-norge"
    assert meetings.follow_place("un", "oslo") == "ms:unr:oslo"
    assert meetings.meeting(42, meetings.MeetingAction.CALENDAR) == "mt:42:ics"
    assert meetings.announce(meetings.AnnounceAction.CANCEL_YES, 42) == "an:cy:42"
    assert meetings.announce(meetings.AnnounceAction.SKIP, "link") == "an:skip:link"
    assert invitations.coordinator(invitations.CoordinatorAction.AUDIENCE, "all") == "ci:a:all"
    assert invitations.answer(9, invitations.Answer.SHARE_YES) == "inv:9:sharey"
    assert roles.data(roles.Action.LIST_INVITES) == "adm:il"
    assert roles.data(roles.Action.ASK_REVOKE, "abc123") == "adm:rv:abc123"
    assert poster.language("lyngen", "en") == "po:l:lyngen:en"


def test_encoding_what_would_not_decode_is_refused() -> None:
    with pytest.raises(ValueError, match="not a valid"):
        interest.data(interest.Action.ENTRY, "perhaps")
    with pytest.raises(ValueError, match="not a valid"):
        meetings.meeting(1, "dance")
    with pytest.raises(ValueError, match="not a valid"):
        poster.language("Lyngen", "nb")


# --- routing ------------------------------------------------------------------------------------


def test_heads_are_unique_and_none_routes_another_features_data() -> None:
    found = heads()
    texts = [h.text for h in found]
    assert len(texts) == len(set(texts)), texts
    for head in found:
        assert head.exact or head.text.endswith(":"), head.text
        for other in found:
            if other is head:
                continue
            # a prefix that starts another head would take that feature's presses
            assert not other.text.startswith(head.text) or head.exact, (head.text, other.text)
            if head.exact:
                assert not (not other.exact and head.text.startswith(other.text))
    # the signature mark never appears in a head, and nobody's data starts with it
    assert all("~" not in h.text for h in found)


@pytest.mark.parametrize(("data", "feature"), ROUTED)
def test_exactly_one_codec_routes_each_press(data: str, feature: str) -> None:
    assert [h.codec.feature for h in heads() if h.routes(data)] == [feature]
    if by_feature(feature).signed:  # as sent: with the tag, which only the handler strips
        signed = SIGNER.sign(1, data)
        assert [h.codec.feature for h in heads() if h.routes(signed)] == [feature]


def _pattern_text(handler: CallbackQueryHandler[Any, Any]) -> str | None:
    pattern = handler.pattern
    return pattern.pattern if isinstance(pattern, re.Pattern) else None


def _callback_handlers(app: App) -> list[CallbackQueryHandler[Any, Any]]:
    return [
        h
        for group in sorted(app.handlers)
        for h in app.handlers[group]
        if isinstance(h, CallbackQueryHandler)
    ]


def test_every_callback_pattern_is_a_codecs_prefix(app: App) -> None:
    prefixed = {c.shape.pattern for c in CODECS if c.shape.prefix}
    patterns = [_pattern_text(h) for h in _callback_handlers(app)]
    assert sorted(p for p in patterns if p is not None) == sorted(prefixed)
    assert patterns.count(None) == 1  # the generic router: the FAQ's and general buttons


# The handler module each feature's presses must reach.
HANDLER_MODULES = {
    "answers": "bot.chat.button_router",
    "general": "bot.chat.button_router",
    "interest": "bot.interest.handlers",
    "meetings.follow": "bot.meetings.handlers",
    "meetings.meeting": "bot.meetings.handlers",
    "meetings.announce": "bot.meetings.announce_handlers",
    "invitations.coordinator": "bot.invitations.handlers",
    "invitations.answer": "bot.invitations.handlers",
    "roles": "bot.roles.handlers",
    "poster": "bot.poster.handlers",
}


def test_the_application_routes_each_press_to_its_feature(app: App) -> None:
    handlers = _callback_handlers(app)
    for data, feature in ROUTED:
        signed = SIGNER.sign(1, data) if by_feature(feature).signed else data
        update = Update.de_json(callback_update_json(signed), app.bot)
        assert isinstance(update.callback_query, CallbackQuery)
        first = next(h for h in handlers if h.check_update(update))
        assert first.callback.__module__ == HANDLER_MODULES[feature], data


# --- 64 bytes -----------------------------------------------------------------------------------


def _longest(pattern: re.Pattern[str], config: Config, content: Content) -> list[str]:
    """The longest values a pattern lets through, and the longest real ones."""
    codes = [m.code for m in config.municipalities]
    names = [*content.topics, *content.categories, *config.themes, "open", "any", "description"]
    real = {
        CODE.pattern: codes,
        REGION.pattern: [r.id for r in config.regions],
        NAME.pattern: names,
        NUMBER.pattern: ["9" * 12],
        HEX.pattern: ["f" * max(GRANT_ID_CHARS, INVITE_ID_CHARS)],
        LANGUAGE.pattern: list(LANGUAGES),
    }
    allowed = {
        CODE.pattern: "a" * 24,  # config's longest code
        REGION.pattern: "r" * 40,
        NAME.pattern: "n" * 40,
        NUMBER.pattern: "9" * 12,
        HEX.pattern: "f" * 16,
        LANGUAGE.pattern: "en",
    }
    if pattern.pattern in real:
        values = [
            allowed[pattern.pattern],
            max(real[pattern.pattern], key=lambda v: len(v.encode())),
        ]
    else:  # one_of(...)
        values = [max(pattern.pattern.split("|"), key=len)]
    assert all(pattern.fullmatch(v) for v in values), (pattern.pattern, values)
    return values


def _maximal(codec: Codec, config: Config, content: Content) -> list[str]:
    shape = codec.shape
    if isinstance(shape, IdShape):
        return [shape.encode(10**12 - 1, answer) for answer in shape.answers]
    found = []
    for action, patterns in shape.actions.items():
        columns = [_longest(p, config, content) for p in patterns]
        for i in range(2):
            values = [col[min(i, len(col) - 1)] for col in columns]
            found.append(shape.encode(action, *values))
    return found


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.feature)
def test_every_button_fits_in_64_bytes_signed(
    codec: Codec, config: Config, content: Content
) -> None:
    for data in _maximal(codec, config, content):
        assert fits(data, signed=True), data
        sent = SIGNER.sign(BIGGEST_USER_ID, data)  # every button could be signed
        assert sent.startswith(data + SIGNATURE_MARK)
        assert len(sent.encode()) <= MAX_BYTES, sent
        assert SIGNER.verify(BIGGEST_USER_ID, sent) == data


def test_real_config_values_match_their_patterns(config: Config, content: Content) -> None:
    assert all(CODE.fullmatch(m.code) for m in config.municipalities)
    assert all(REGION.fullmatch(r.id) for r in config.regions)
    assert all(NAME.fullmatch(t) for t in (*content.topics, *content.categories, *config.themes))
    assert GRANT_ID_CHARS <= 16
    assert INVITE_ID_CHARS <= 16


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.feature)
def test_every_action_round_trips(codec: Codec, config: Config, content: Content) -> None:
    shape = codec.shape
    if isinstance(shape, IdShape):
        for answer in shape.answers:
            for thing_id in (0, 1, 10**12 - 1):
                assert shape.decode(shape.encode(thing_id, answer)) == (thing_id, answer)
        return
    assert isinstance(shape, Shape)
    for action, patterns in shape.actions.items():
        columns = [_longest(p, config, content) for p in patterns]
        values = tuple(col[-1] for col in columns)
        assert shape.decode(shape.encode(action, *values)) == Press(action, values)


# --- the old parsers, compared ------------------------------------------------------------------


def _old_parse_callback(data: str | None, content: Content) -> tuple[str, str] | None:
    if not data or len(data) > 64:
        return None
    head, _, arg = data.partition(":")
    if head == "t" and arg in content.topics:
        return ("topic", arg)
    if head == "c" and arg in content.categories:
        return ("category", arg)
    if head == "lang" and arg in LANGUAGES:
        return ("lang", arg)
    if head == "forget" and arg in ("yes", "no"):
        return ("forget", arg)
    if data in ("menu", "help"):
        return (data, "")
    return None


def _old_parse_follow(data: str, config: Config) -> tuple[str, Any] | None:
    parts = data.split(":")
    if parts[0] != "ms" or len(parts) > 3:
        return None
    if len(parts) == 2:
        return (parts[1], None) if parts[1] in ("home", "all", "open") else None
    action, value = parts[1], parts[2]
    if action in ("r", "w", "subr", "unr"):
        region = config.region(value)
        return (action, (region.id, "")) if region is not None else None
    if action in ("m", "sub", "un"):
        m = config.municipality_by_code(value)
        return (action, (m.region_id, m.name)) if m is not None else None
    return None


def _old_meeting(data: str) -> tuple[int, str] | None:
    match = re.match(r"^mt:([0-9]{1,12}):([a-z]{1,8})$", data)
    if match is None or match.group(2) not in ("ics", "rem", "go", "stop", "show"):
        return None
    return int(match.group(1)), match.group(2)


def _old_split(data: str) -> tuple[str, str]:  # an:, ci: (after the signature)
    parts = data.split(":")
    return parts[1], (parts[2] if len(parts) > 2 else "")


def _corpus(config: Config, content: Content) -> list[str]:
    found = [data for data, *_ in TODAY] + FORGED
    found += [f"t:{t}" for t in content.topics] + [f"c:{c}" for c in content.categories]
    for m in config.municipalities:
        found += [f"ms:{a}:{m.code}" for a in ("m", "sub", "un")]
        found += [f"i:m:{m.code}", f"an:t:{m.code}", f"ci:m:{m.code}", f"po:m:{m.code}"]
    for r in config.regions:
        found += [f"ms:{a}:{r.id}" for a in ("r", "w", "subr", "unr")] + [f"i:r:{r.id}"]
    return found


def test_the_new_parsers_answer_as_the_old_ones(config: Config, content: Content) -> None:
    valid = {data for data, *_ in TODAY}
    for data in _corpus(config, content):
        new = parse_callback(data, content)
        old = _old_parse_callback(data, content)
        assert (None if new is None else (new.action, new.arg)) == old, data
        assert parse_follow(data, config) == _old_parse_follow(data, config), data
        assert parse_meeting_button(data) == _old_meeting(data), data
        if data.startswith("inv:") and data in valid:
            found = re.fullmatch(r"inv:([0-9]{1,12}):([a-z]{1,8})", data)
            assert found is not None
            assert parse_answer(data) == (int(found.group(1)), found.group(2))
        if data in valid and data.startswith(("an:", "ci:")):
            press = (
                meetings.decode_announce if data[0] == "a" else invitations.decode_coordinator
            )(data)
            assert press is not None
            assert (press.action, press.value) == _old_split(data)
        if data in valid and data.startswith("adm:"):
            action, _, arg = data.removeprefix("adm:").partition(":")
            assert parse_press(data) == (action, arg)
        if data in valid and data.startswith("i:"):
            action, _, value = data.removeprefix("i:").partition(":")
            press = interest.decode(data)
            assert press is not None
            assert (press.action, press.value) == (action, value)


def test_the_registry_lists_every_codec_module() -> None:
    modules = [c.shape for c in CODECS]
    for module in (answers, general, interest, roles, poster):
        assert module.SHAPE in modules
    for shape in (meetings.FOLLOW, meetings.MEETING, meetings.ANNOUNCE):
        assert shape in modules
    for shape in (invitations.COORDINATOR, invitations.ANSWER):
        assert shape in modules
    assert button_codecs.codec_for("nobody:x") is None


# --- the views build only what the handlers read ------------------------------------------------


def _data_of(markup: Any) -> list[str]:
    """Every callback data of an InlineKeyboardMarkup, an outbox message or a payload."""
    if markup is None:
        return []
    if isinstance(markup, dict):  # a payload as stored
        return [b["callback_data"] for row in markup.get("buttons", ()) for b in row]
    rows = getattr(markup, "inline_keyboard", None)  # else an OutboxMessage
    rows = rows if rows is not None else markup.buttons
    return [b.callback_data for row in rows for b in row if b.callback_data]


def _rendered_data(config: Config, content: Content) -> list[str]:
    from telegram import InlineKeyboardButton

    from bot.chat import rendering
    from bot.interest import views as interest_views
    from bot.interest.rules import Draft
    from bot.invitations import views as invitation_views
    from bot.meetings import announce_views, announcements
    from bot.meetings import views as meeting_views
    from bot.records import Meeting, Registration

    def button(text: str, data: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(text, callback_data=SIGNER.sign(1, data))

    found: list[str] = []
    region, lang = config.regions[0], "nb"
    m = region.municipalities[0]
    found += _data_of(rendering.faq_menu(content, lang).keyboard)
    found += _data_of(rendering.language_choice(content, lang).keyboard)
    found += _data_of(rendering.forget_confirm(content, lang).keyboard)
    found += _data_of(rendering.main_menu_keyboard(content, lang))
    for category in content.categories:
        found += _data_of(rendering.faq_category(content, lang, category).keyboard)
    for topic in content.topics:
        found += _data_of(rendering.topic_answer(content, config, lang, topic).keyboard)
    steps = ("entry", "age", "sober", "place", "typing", "unlisted", "kind", "time", "contact")
    for step in (*steps, "summary"):
        draft = Draft(step=step, suggested=m.code)
        found += _data_of(interest_views.step_view(content, config, lang, draft).keyboard)
    draft = Draft(step="region", region_id=region.id)
    found += _data_of(interest_views.step_view(content, config, lang, draft).keyboard)
    found += _data_of(interest_views.matches_view(content, lang, [m]).keyboard)
    found += _data_of(interest_views.withdraw_ask_view(content, lang).keyboard)
    reg = Registration("k", m.name, region.id, "any", "evening", True, 0, 0, 86400, None)
    found += _data_of(interest_views.mine_view(content, config, lang, reg).keyboard)
    meeting = Meeting(
        10**12 - 1, "u", "k", b"", region.id, "Møte", 0, "Huset", None, None, (m.name,)
    )
    places = [(region.id, ""), (region.id, m.name)]
    found += _data_of(
        meeting_views.overview(
            content, config, lang, places, meetings=[meeting], sign=None
        ).keyboard
    )
    found += _data_of(meeting_views.region_view(content, lang, region, places).keyboard)
    found += _data_of(meeting_views.stopped_view(content, config, lang, places).keyboard)
    found += _data_of(meeting_views.announcement_message(content, config, lang, meeting))
    found.append(str(meeting_views.follow_button(content, lang, m).callback_data))
    screen = announce_views.Screen(content, config, lang, button)
    found += _data_of(
        announce_views.region_choice(screen, [r.id for r in config.regions]).keyboard
    )
    for step in announcements.SKIPPABLE:
        found += _data_of(announce_views.question(screen, step).keyboard)
    found += _data_of(announce_views.targets_view(screen, region, {m.name}).keyboard)
    for message in announce_views.preview(screen, meeting):
        found += [d for d in _data_of(message.keyboard) if d != "menu"]  # inert copy
    counts = {"coming": 1, "remind": 1}
    found += _data_of(announce_views.list_view(screen, [(meeting, counts)]).keyboard)
    found += _data_of(announce_views.cancel_confirm(screen, meeting).keyboard)
    found += _data_of(invitation_views.place_choice(content, lang, [m], button).keyboard)
    kinds = config.themes
    view = invitation_views.audience_choice(content, lang, m.name, kinds, button)
    found += _data_of(view.keyboard)
    found += _data_of(invitation_views.resident_view(content, lang, m.name, "Hei", 10**12 - 1))
    found += _data_of(invitation_views.share_confirm(content, lang, 7).keyboard)
    draft_inv = {"municipality": m.name, "count": 5}
    for message in invitation_views.preview(content, config, lang, draft_inv, "Hei", button):
        found += [d for d in _data_of(message.keyboard) if "~" in d]  # the resident copy: id 0
    return found


def test_every_button_the_views_make_decodes_with_its_codec(
    config: Config, content: Content
) -> None:
    found = _rendered_data(config, content)
    assert len(found) > 100
    for data in found:
        assert len(data.encode()) <= MAX_BYTES, data
        codec = codec_for(data)
        assert codec is not None, data
        plain = SIGNER.verify(1, data) if codec.signed and "~" in data else data
        assert plain is not None, data
        assert decoded(codec, plain) is not None, data
