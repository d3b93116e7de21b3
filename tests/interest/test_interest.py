"""Registering interest (/interest, /mine) through the real Application, as the person sees it.

Every step is a real Update through `process_update` on the fake Bot API; the assertions are on
the messages the person gets and on what storage holds afterwards. Time is injected (`now`), so
creation and expiry dates are exact.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.composition import create_services
from bot.config import Config
from bot.content import Content
from bot.interest.rules import FLOW, Draft
from bot.interest.views import UNSURE_TOPICS
from bot.offline.fake_bot_api import FakeTelegram, Sent
from bot.services import Services
from bot.storage import EventTally, Registration, day_floor
from bot.weeks import DAY, week_index
from tests.support import USER_ID, Person, PersonFactory, Turn, start_app, stop_app

T0 = 1_700_000_000.0  # Tuesday 14.11.2023 23:13 in Oslo
CREATED = "14.11.2023"
EXPIRES = "13.05.2024"  # T0 + 180 days, in Oslo (summer time)
WEEK = week_index(T0, "Europe/Oslo")
OSLO = ZoneInfo("Europe/Oslo")
REGIONS = ["i:r:nord-norge", "i:r:innlandet", "i:r:oslo"]
PLACE_BUTTONS = [*REGIONS, "i:t", "i:u"]
KIND_BUTTONS = [
    "i:k:open",
    "i:k:chronic_illness",
    "i:k:grief",
    "i:k:anxiety",
    "i:k:relatives_addiction",
    "i:k:any",
]


# The buttons pressed, in order, to reach each step (Lyngen, grief, evening, messages yes): each
# button's label, as a text key of flows/<lang>/ui_interest.yaml or as a place name.
PATH = [
    ("entry", ""),
    ("age", "interest.entry_yes"),
    ("sober", "interest.age_yes"),
    ("place", "interest.sober_ok"),
    ("region", "Nord-Norge"),
    ("kind", "Lyngen"),
    ("time", "interest.theme.grief"),
    ("contact", "interest.time_evening"),
    ("summary", "interest.contact_yes"),
]
BUTTONS_TO = {step: [label for _, label in PATH[1 : i + 1]] for i, (step, _) in enumerate(PATH)}


@pytest.fixture
def now() -> list[float]:
    """The injected clock: tests move it by changing now[0]."""
    return [T0]


def ui(services: Services, lang: str, key: str, **values: object) -> str:
    return services.content.text(lang, key, **values)


def key_of(services: Services, user_id: int = USER_ID) -> str:
    return services.user_key(user_id)


async def draft_of(services: Services, user_id: int = USER_ID) -> Draft | None:
    state = await services.storage.get_flow(key_of(services, user_id))
    if state is None:
        return None
    assert state[0] == FLOW
    return Draft.from_dict(state[1])


async def to_step(person: Person, step: str) -> Sent:
    """Walk the flow with buttons up to `step` (Lyngen, grief, evening, yes); its message."""
    services: Services = person.app.bot_data.services
    lang = "en" if person.language_code == "en" else "nb"
    message = (await person.say("/interest")).first
    for label in BUTTONS_TO[step]:
        if label.startswith("interest."):
            label = ui(services, lang, label, min_age=services.config.min_age)
        message = (await person.press_label(message, label)).first
    return message


async def register(person: Person) -> Registration:
    """Complete the flow (Lyngen, grief, evening, messages yes) and return what was stored."""
    summary = await to_step(person, "summary")
    services: Services = person.app.bot_data.services
    lang = "en" if person.language_code == "en" else "nb"
    await person.press_label(summary, ui(services, lang, "interest.confirm"))
    reg = await services.storage.get_registration(key_of(services, person.user_id))
    assert reg is not None
    return reg


def seen(turn: Turn) -> list[str]:
    """Everything the person saw: messages and button-press pop-ups."""
    return [*turn.texts, *turn.alerts]


def stale_button(services: Services) -> str:
    return ui(services, "nb", "errors.stale_button")


def assert_refused(services: Services, turn: Turn, current: Sent) -> None:
    """A refused press: a "no longer works" pop-up, or the current step shown again (after a
    note that the button belongs to another step) with its own buttons."""
    if not turn.sent:
        assert turn.alerts == [stale_button(services)]
        return
    assert len(turn.sent) == 1
    shown = turn.first
    stale_note = f"{ui(services, 'nb', 'interest.stale')}\n\n"
    assert shown.text in (current.text, stale_note + current.text)
    assert shown.callback_data == current.callback_data


def lyngen_values(services: Services, lang: str, time: str = "evening") -> dict[str, str]:
    return {
        "place": "Lyngen",
        "kind": ui(services, lang, "interest.theme.grief"),
        "time": ui(services, lang, f"interest.time_{time}"),
        "contact": ui(services, lang, "interest.answer_yes"),
    }


# Literal words each language must show: the texts come from the right locale, not just any.
PHRASES = {
    "nb": {
        "entry": "har du selv noe i ditt eget liv",
        "entry_yes": "Ja, det har jeg",
        "age": "Er du 18 år eller eldre?",
        "region": "Velg kommunen din i Nord-Norge:",
        "summary": "• Kommune: Lyngen\n• Gruppe: Sorg\n• Tid: På kvelden\n• Beskjed fra boten: ja",
        "saved": "Interessen din er registrert anonymt",
        "mine": f"Registrert {CREATED}, utløper {EXPIRES}.",
        "updated": "Endringen er lagret.",
        "day": "• Tid: På dagtid",
        "withdrawn": "Interessen din er trukket tilbake og slettet.",
        "forgotten": "Ferdig: alt om deg er slettet.",
    },
    "en": {
        "entry": "is there something in your own life that you want to work on?",
        "entry_yes": "Yes, there is",
        "age": "Are you 18 or older?",
        "region": "Choose your municipality in Nord-Norge:",
        "summary": "• Municipality: Lyngen\n• Group: Grief\n• Time: Evening\n"
        "• Messages from the bot: yes",
        "saved": "Your interest is registered anonymously.",
        "mine": f"Registered {CREATED}, expires {EXPIRES}.",
        "updated": "Your change is saved.",
        "day": "• Time: Daytime",
        "withdrawn": "Your interest has been withdrawn and erased.",
        "forgotten": "Done: everything about you has been erased.",
    },
}


# --- the whole flow --------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["nb", "en"])
async def test_whole_flow_register_see_change_withdraw_and_forget(
    person_factory: PersonFactory, services: Services, config: Config, now: list[float], lang: str
) -> None:
    person = person_factory(language_code=lang)
    storage = services.storage
    key = key_of(services)
    words = PHRASES[lang]

    entry = (await person.say("/interest")).first
    assert entry.text == ui(services, lang, "interest.entry")
    assert words["entry"] in entry.text
    assert entry.callback_data == ["i:e:yes", "i:e:other", "i:e:unsure"]
    assert entry.button_texts[0] == words["entry_yes"]

    age = (await person.press_label(entry, words["entry_yes"])).first
    assert age.method == "editMessageText"
    assert age.message_id == entry.message_id  # the same message moves on, no clutter
    assert age.text == ui(services, lang, "interest.age", min_age=config.min_age)
    assert words["age"] in age.text
    assert age.callback_data == ["i:a:yes", "i:a:no"]
    age_yes = ui(services, lang, "interest.age_yes", min_age=config.min_age)
    sober = (await person.press_label(age, age_yes)).first
    assert sober.text == ui(services, lang, "interest.sober")
    assert sober.callback_data == ["i:l:ok", "i:l:no"]

    place = (await person.press_label(sober, ui(services, lang, "interest.sober_ok"))).first
    assert place.text == ui(services, lang, "interest.place")
    assert place.callback_data == PLACE_BUTTONS
    assert place.button_texts[:3] == ["Nord-Norge", "Innlandet", "Oslo"]

    region = (await person.press_label(place, "Nord-Norge")).first
    assert region.text == words["region"]
    north = config.region("nord-norge")
    assert north is not None
    assert region.callback_data == [
        *(f"i:m:{m.code}" for m in north.municipalities),
        "i:ur:nord-norge",
    ]

    kind = (await person.press_label(region, "Lyngen")).first
    assert kind.text == ui(services, lang, "interest.kind")
    assert kind.callback_data == KIND_BUTTONS

    time_step = (await person.press_label(kind, ui(services, lang, "interest.theme.grief"))).first
    assert time_step.text == ui(services, lang, "interest.time")
    assert time_step.callback_data == ["i:h:day", "i:h:evening", "i:h:either"]

    evening = ui(services, lang, "interest.time_evening")
    contact = (await person.press_label(time_step, evening)).first
    assert contact.text == ui(services, lang, "interest.contact")
    assert contact.callback_data == ["i:c:yes", "i:c:no"]

    summary = (await person.press_label(contact, ui(services, lang, "interest.contact_yes"))).first
    assert summary.text == ui(services, lang, "interest.summary", **lyngen_values(services, lang))
    assert words["summary"] in summary.text
    assert summary.callback_data == ["i:s:ok", "i:s:edit", "i:s:cancel"]
    assert await storage.get_registration(key) is None  # nothing is kept before confirming

    saved = await person.press_label(summary, ui(services, lang, "interest.confirm"))
    assert saved.texts == [ui(services, lang, "interest.saved", retention_days=180)]
    assert words["saved"] in saved.first.text
    # The one button offers to follow information meetings in the same municipality.
    assert saved.first.callback_data == ["ms:sub:lyngen"]
    assert await storage.get_registration(key) == Registration(
        user_key=key,
        municipality="Lyngen",
        region_id="nord-norge",
        group_kind="grief",
        time_pref="evening",
        contact_ok=True,
        created_at=day_floor(T0, OSLO),  # stored as its day (issue 10)
        updated_at=day_floor(T0, OSLO),
        expires_at=day_floor(T0 + 180 * DAY, OSLO),
        reminded_at=None,
    )
    assert await storage.get_flow(key) is None
    assert await storage.tallies_since(0) == [EventTally("Lyngen", "nord-norge", WEEK, "new", 1)]
    chat = await storage.resident_chat(key)
    assert chat is not None
    assert services.cipher.decrypt(chat, key) == USER_ID

    # /mine shows it, with buttons to change each answer or withdraw.
    mine = (await person.say("/mine")).first
    assert mine.text == ui(
        services,
        lang,
        "mine.shown",
        created=CREATED,
        expires=EXPIRES,
        **lyngen_values(services, lang),
    )
    assert words["mine"] in mine.text
    assert mine.callback_data == ["i:x:place", "i:x:kind", "i:x:time", "i:x:contact", "i:w"]
    # /interest with a registration shows the same, rather than starting over.
    assert (await person.say("/interest")).first.text == mine.text

    # Change the time from /mine: only that question is asked, then it is saved at once.
    now[0] += 3600
    asked = (await person.press_label(mine, ui(services, lang, "mine.change_time"))).first
    assert asked.text == ui(services, lang, "interest.time")
    assert asked.callback_data == ["i:h:day", "i:h:evening", "i:h:either"]
    updated = (await person.press_label(asked, ui(services, lang, "interest.time_day"))).first
    assert updated.text.startswith(words["updated"] + "\n\n")
    assert words["day"] in updated.text
    assert updated.callback_data == mine.callback_data
    changed = await storage.get_registration(key)
    assert changed is not None
    assert (changed.municipality, changed.group_kind, changed.time_pref) == (
        "Lyngen",
        "grief",
        "day",
    )
    # Stored as their day only (issue 10: resident times cannot be joined with log lines).
    assert changed.created_at == day_floor(T0, OSLO)
    assert changed.updated_at == day_floor(T0 + 3600, OSLO)
    assert await storage.get_flow(key) is None
    # Same place: a change is not a new registration in the tallies.
    assert await storage.tallies_since(0) == [EventTally("Lyngen", "nord-norge", WEEK, "new", 1)]

    # Withdraw from /mine: asked first.
    ask = (await person.press_label(updated, ui(services, lang, "mine.withdraw"))).first
    assert ask.text == ui(services, lang, "mine.withdraw_ask")
    assert ask.callback_data == ["i:wy", "i:wn"]
    assert await storage.get_registration(key) is not None
    withdrawn = await person.press_label(ask, ui(services, lang, "mine.withdraw_yes"))
    assert withdrawn.texts == [ui(services, lang, "mine.withdrawn")]
    assert words["withdrawn"] in withdrawn.first.text
    assert await storage.get_registration(key) is None
    assert sorted(t.kind for t in await storage.tallies_since(0)) == ["new", "withdrawn"]
    assert (await person.say("/mine")).texts == [ui(services, lang, "mine.none")]

    # Register again, then /forget erases it all.
    await register(person)
    confirm = (await person.say("/forget")).first
    done = await person.press_label(confirm, ui(services, lang, "forget.yes"))
    assert words["forgotten"] in done.first.text
    assert await storage.get_registration(key) is None
    assert not await storage.has_resident(key)
    assert await storage.get_flow(key) is None
    assert (await person.say("/mine")).texts == [ui(services, lang, "mine.none")]
    tallies = {(t.kind, t.n) for t in await storage.tallies_since(0)}
    assert tallies == {("new", 2), ("withdrawn", 2)}  # erasing counts as withdrawing


async def test_change_place_from_mine_moves_the_registration(
    person: Person, services: Services
) -> None:
    await register(person)
    mine = (await person.say("/mine")).first
    place = (await person.press_label(mine, "Endre kommune")).first
    assert place.callback_data == PLACE_BUTTONS
    region = (await person.press_label(place, "Nord-Norge")).first
    updated = (await person.press_label(region, "Alta")).first
    assert updated.text.startswith(ui(services, "nb", "mine.updated"))
    assert "• Kommune: Alta" in updated.text
    reg = await services.storage.get_registration(key_of(services))
    assert reg is not None
    assert (reg.municipality, reg.group_kind, reg.time_pref, reg.contact_ok) == (
        "Alta",
        "grief",
        "evening",
        True,
    )
    tallies = {(t.municipality, t.kind, t.n) for t in await services.storage.tallies_since(0)}
    assert tallies == {("Lyngen", "new", 1), ("Lyngen", "withdrawn", 1), ("Alta", "new", 1)}


async def test_change_place_from_mine_by_typing(person: Person, services: Services) -> None:
    await register(person)
    mine = (await person.say("/mine")).first
    await person.press_label(mine, "Endre kommune")
    updated = (await person.say("Fagernes")).first  # an alias: saved at once
    assert updated.text.startswith(ui(services, "nb", "mine.updated"))
    assert "• Kommune: Nord-Aurdal" in updated.text
    reg = await services.storage.get_registration(key_of(services))
    assert reg is not None
    assert (reg.municipality, reg.region_id) == ("Nord-Aurdal", "innlandet")


async def test_change_contact_from_mine(person: Person, services: Services) -> None:
    await register(person)
    mine = (await person.say("/mine")).first
    asked = (await person.press_label(mine, "Endre beskjed fra boten")).first
    assert asked.callback_data == ["i:c:yes", "i:c:no"]
    updated = (await person.press_label(asked, "Nei takk")).first
    assert "• Beskjed fra boten: nei" in updated.text
    reg = await services.storage.get_registration(key_of(services))
    assert reg is not None
    assert reg.contact_ok is False


async def test_summary_edit_changes_one_answer_before_saving(
    person: Person, services: Services
) -> None:
    summary = await to_step(person, "summary")
    menu = (await person.press_label(summary, "Endre")).first
    assert menu.text == summary.text
    assert menu.callback_data == ["i:x:place", "i:x:kind", "i:x:time", "i:x:contact"]
    kind = (await person.press_label(menu, "Endre type gruppe")).first
    assert kind.callback_data == KIND_BUTTONS
    again = (await person.press_label(kind, "Blandet gruppe")).first
    assert "• Gruppe: Blandet gruppe: ulike problemer" in again.text
    assert again.callback_data == ["i:s:ok", "i:s:edit", "i:s:cancel"]
    assert await services.storage.get_registration(key_of(services)) is None
    await person.press_label(again, "Bekreft")
    reg = await services.storage.get_registration(key_of(services))
    assert reg is not None
    assert (reg.group_kind, reg.time_pref) == ("open", "evening")


async def test_cancel_at_the_summary_stores_nothing(person: Person, services: Services) -> None:
    summary = await to_step(person, "summary")
    turn = await person.press_label(summary, "Avbryt")
    assert turn.texts == [ui(services, "nb", "interest.cancelled")]
    assert await services.storage.get_registration(key_of(services)) is None
    assert await services.storage.get_flow(key_of(services)) is None
    assert await services.storage.tallies_since(0) == []


async def test_confirming_twice_saves_once(person: Person, services: Services) -> None:
    summary = await to_step(person, "summary")
    await person.press_label(summary, "Bekreft")
    again = await person.press_label(summary, "Bekreft")  # the same button, pressed twice
    assert seen(again) == [stale_button(services)]
    assert await services.storage.tallies_since(0) == [
        EventTally("Lyngen", "nord-norge", WEEK, "new", 1)
    ]


async def test_interest_in_a_group_chat_points_to_a_private_chat(
    person_factory: PersonFactory, services: Services
) -> None:
    person = person_factory(chat_id=-100123, chat_type="supergroup")
    turn = await person.say("/interest")
    assert turn.texts == [ui(services, "nb", "group.redirect")]
    assert turn.first.urls[0].endswith("?start=group")
    assert await services.storage.get_flow(key_of(services)) is None


# --- the entry ticket and the limits -------------------------------------------------------------


@pytest.mark.parametrize("lang", ["nb", "en"])
async def test_asking_for_someone_else_gets_the_on_behalf_answer_and_a_forwardable_text(
    person_factory: PersonFactory, services: Services, lang: str
) -> None:
    person = person_factory(language_code=lang)
    entry = (await person.say("/interest")).first
    turn = await person.press_label(entry, ui(services, lang, "interest.entry_other"))
    assert turn.texts == [
        services.content.topics["on_behalf"].text[lang].answer,
        ui(services, lang, "on_behalf.forward_intro"),
        ui(services, lang, "on_behalf.forward_text"),
    ]
    assert turn.sent[-1].buttons == []  # the text to forward stands alone
    assert await services.storage.get_flow(key_of(services)) is None
    assert await services.storage.get_registration(key_of(services)) is None


@pytest.mark.parametrize("lang", ["nb", "en"])
async def test_not_sure_gets_the_topics_that_help_decide(
    person_factory: PersonFactory, services: Services, lang: str
) -> None:
    person = person_factory(language_code=lang)
    entry = (await person.say("/interest")).first
    turn = await person.press_label(entry, ui(services, lang, "interest.entry_unsure"))
    assert turn.texts == [ui(services, lang, "interest.unsure")]
    assert turn.first.callback_data == [f"t:{topic}" for topic in UNSURE_TOPICS]
    topics = services.content.topics
    assert turn.first.button_texts == [topics[t].text[lang].title for t in UNSURE_TOPICS]
    assert await services.storage.get_flow(key_of(services)) is None
    # The topic buttons work.
    answer = await person.press_label(turn.first, topics["who_for"].text[lang].title)
    assert answer.first.text == topics["who_for"].text[lang].answer


@pytest.mark.parametrize(
    ("step", "no", "yes"),
    [
        ("age", "Nei, jeg er under 18", "Ja, jeg er 18"),
        ("sober", "Nei, ikke nå", "Ja, det kan jeg"),
    ],
    ids=["age", "sober"],
)
async def test_limits_no_stops_without_storing_anything(
    person: Person, services: Services, step: str, no: str, yes: str
) -> None:
    limits = await to_step(person, step)
    turn = await person.press_label(limits, no)
    assert len(turn.texts) == 1
    assert "/help" not in turn.first.text
    if step == "age":
        assert "Gruppene er for voksne fra 18 år" in turn.first.text
        assert "116 111" in turn.first.text
    else:
        assert "velkommen når du kan komme uten" in turn.first.text
    key = key_of(services)
    assert await services.storage.get_flow(key) is None
    assert await services.storage.get_registration(key) is None
    assert not await services.storage.has_resident(key)
    assert await services.storage.registrations_in() == []
    assert await services.storage.tallies_since(0) == []
    # The old "yes" button cannot sneak past the refusal.
    again = await person.press_label(limits, yes)
    assert seen(again) == [stale_button(services)]
    assert await services.storage.get_flow(key) is None


# --- the municipality, typed -------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["lyngen", "Lyngseidet", "LYNGEN ", "nord-lenangen"])
async def test_exact_municipality_name_or_alias_is_taken_without_asking(
    person: Person, services: Services, typed: str
) -> None:
    await to_step(person, "place")
    kind = (await person.say(typed)).first
    assert kind.text == ui(services, "nb", "interest.kind")
    assert kind.callback_data == KIND_BUTTONS
    draft = await draft_of(services)
    assert draft is not None
    assert (draft.step, draft.region_id, draft.municipality) == ("kind", "nord-norge", "Lyngen")


@pytest.mark.parametrize("typed", ["lyngn", "Lynge", "lyngseid"])
async def test_typed_municipality_offers_lyngen_and_chooses_nothing_silently(
    person: Person, services: Services, typed: str
) -> None:
    await to_step(person, "place")
    turn = await person.say(typed)
    assert turn.texts == [ui(services, "nb", "interest.place_matches")]
    offer = turn.first
    assert offer.callback_data[0] == "i:m:lyngen"
    assert offer.button_texts[0] == "Lyngen"
    assert offer.callback_data[-1] == "i:t"  # "none of these"
    assert len(offer.callback_data) <= 4
    draft = await draft_of(services)
    assert draft is not None
    assert (draft.step, draft.region_id, draft.municipality) == ("typing", None, None)

    kind = (await person.press_label(offer, "Lyngen")).first
    assert kind.callback_data == KIND_BUTTONS
    draft = await draft_of(services)
    assert draft is not None
    assert (draft.step, draft.region_id, draft.municipality) == ("kind", "nord-norge", "Lyngen")


async def test_type_button_asks_for_the_name_then_matches(
    person: Person, services: Services
) -> None:
    place = await to_step(person, "place")
    prompt = (await person.press_label(place, "Jeg skriver kommunen")).first
    assert prompt.text == ui(services, "nb", "interest.place_type_prompt")
    assert prompt.callback_data == PLACE_BUTTONS
    turn = await person.say("Lakselv")  # an alias: taken at once
    assert turn.first.text == ui(services, "nb", "interest.kind")
    draft = await draft_of(services)
    assert draft is not None
    assert draft.municipality == "Porsanger"


async def test_garbage_offers_no_match_and_lets_them_retry(
    person: Person, services: Services
) -> None:
    await to_step(person, "place")
    turn = await person.say("qwerty")
    assert turn.first.text.startswith(ui(services, "nb", "interest.place_no_match"))
    # choose from the list, type again, or say it is elsewhere in Norway
    assert turn.first.callback_data == [*PLACE_BUTTONS, "i:o"]
    draft = await draft_of(services)
    assert draft is not None
    assert (draft.step, draft.municipality) == ("typing", None)

    retry = await person.say("Lyngsei")
    assert retry.first.callback_data[0] == "i:m:lyngen"
    # "None of these" goes back to typing.
    none = (await person.press_label(retry.first, "Ingen av disse")).first
    assert none.text == ui(services, "nb", "interest.place_type_prompt")


async def test_typed_text_after_the_place_step_is_a_question_not_a_municipality(
    person: Person, services: Services
) -> None:
    await to_step(person, "kind")
    turn = await person.say("Alta")
    assert ui(services, "nb", "interest.place_matches") not in turn.texts
    draft = await draft_of(services)
    assert draft is not None
    assert (draft.step, draft.municipality) == ("kind", "Lyngen")


@pytest.mark.parametrize("lang", ["nb", "en"])
async def test_municipality_not_listed_is_stored_under_the_chosen_region(
    person_factory: PersonFactory, services: Services, lang: str
) -> None:
    person = person_factory(language_code=lang)
    place = await to_step(person, "place")
    pick = (await person.press_label(place, ui(services, lang, "interest.place_not_listed"))).first
    assert pick.text == ui(services, lang, "interest.place_pick_region_for_unlisted")
    assert pick.callback_data == ["i:ur:nord-norge", "i:ur:innlandet", "i:ur:oslo", "i:o"]
    kind = (await person.press_label(pick, "Innlandet")).first
    time_step = (await person.press_label(kind, ui(services, lang, "interest.kind_any"))).first
    either = ui(services, lang, "interest.time_either")
    contact = (await person.press_label(time_step, either)).first
    summary = (await person.press_label(contact, ui(services, lang, "interest.contact_no"))).first
    unlisted = ui(services, lang, "interest.not_listed", region="Innlandet")
    assert unlisted in summary.text
    await person.press_label(summary, ui(services, lang, "interest.confirm"))
    reg = await services.storage.get_registration(key_of(services))
    assert reg is not None
    assert (reg.municipality, reg.region_id, reg.group_kind, reg.time_pref, reg.contact_ok) == (
        "",
        "innlandet",
        "any",
        "either",
        False,
    )
    assert await services.storage.tallies_since(0) == [EventTally("", "innlandet", WEEK, "new", 1)]
    assert unlisted in (await person.say("/mine")).first.text


async def test_not_listed_from_inside_a_region(person: Person, services: Services) -> None:
    region = await to_step(person, "region")
    kind = (await person.press_label(region, "Min kommune i Nord-Norge er ikke med")).first
    assert kind.callback_data == KIND_BUTTONS
    draft = await draft_of(services)
    assert draft is not None
    assert (draft.region_id, draft.municipality) == ("nord-norge", "")


@pytest.mark.parametrize("step", ["place", "region"])
@pytest.mark.parametrize("text", ["jeg orker ikke mer", "Lyngen, jeg vil ikke leve lenger"])
async def test_crisis_message_at_the_municipality_step_gets_the_numbers_first(
    person: Person, services: Services, config: Config, step: str, text: str
) -> None:
    await to_step(person, step)
    before = await services.storage.get_flow(key_of(services))
    turn = await person.say(text)
    assert turn.first.text.startswith(ui(services, "nb", "crisis.intro.suicide"))
    for number in config.crisis_numbers_for("suicide"):
        assert number.number in turn.first.text
    assert ui(services, "nb", "interest.place_matches") not in turn.texts
    assert await services.storage.get_flow(key_of(services)) == before


# --- restart in the middle -----------------------------------------------------------------------


async def test_flow_continues_after_a_restart(
    config: Config, content: Content, database: Path, now: list[float]
) -> None:
    first = await create_services(
        config, content=content, clock=lambda: now[0], database=str(database)
    )
    fake = FakeTelegram()
    app = await start_app(first, fake)
    try:
        kind = await to_step(Person(app, fake), "kind")
        assert kind.callback_data == KIND_BUTTONS
    finally:
        await stop_app(app)

    # A new process: new services and app on the same database file and data folder.
    now[0] += 600
    second = await create_services(
        config, content=content, clock=lambda: now[0], database=str(database)
    )
    assert second.user_key(USER_ID) == first.user_key(USER_ID)
    fake = FakeTelegram()
    app = await start_app(second, fake)
    try:
        person = Person(app, fake)
        time_step = (await person.press_label(kind, "Blandet gruppe")).first  # the old message
        assert time_step.text == ui(second, "nb", "interest.time")
        contact = (await person.press_label(time_step, "På dagtid")).first
        summary = (await person.press_label(contact, "Ja, send meg beskjed")).first
        assert "• Kommune: Lyngen" in summary.text
        await person.press_label(summary, "Bekreft")
        reg = await second.storage.get_registration(second.user_key(USER_ID))
        assert reg is not None
        assert (reg.municipality, reg.group_kind, reg.time_pref) == ("Lyngen", "open", "day")
        assert reg.created_at == day_floor(now[0], ZoneInfo("Europe/Oslo"))
    finally:
        await stop_app(app)


async def test_typed_step_survives_a_restart(
    config: Config, content: Content, database: Path, now: list[float]
) -> None:
    first = await create_services(
        config, content=content, clock=lambda: now[0], database=str(database)
    )
    fake = FakeTelegram()
    app = await start_app(first, fake)
    try:
        person = Person(app, fake)
        await to_step(person, "place")
        offer = (await person.say("lyngn")).first
    finally:
        await stop_app(app)

    second = await create_services(
        config, content=content, clock=lambda: now[0], database=str(database)
    )
    fake = FakeTelegram()
    app = await start_app(second, fake)
    try:
        kind = (await Person(app, fake).press_label(offer, "Lyngen")).first
        assert kind.callback_data == KIND_BUTTONS
    finally:
        await stop_app(app)


# --- forged and stale buttons ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "data"),
    [
        ("age", "i:k:open"),  # a later step's button
        ("age", "i:s:ok"),  # skip to saving
        ("sober", "i:m:lyngen"),
        ("age", "i:a:ok"),
        ("sober", "i:l:yes"),
        ("place", "i:r:../x"),  # an unknown region
        ("place", "i:m:nonexistent"),
        ("region", "i:m:nonexistent"),  # an unknown municipality
        ("region", "i:m:lyngen:extra"),
        ("region", "i:ur:../x"),
        ("kind", "i:k:everything"),
        ("kind", "i:x:place"),
        ("time", "i:h:night"),
        ("contact", "i:c:maybe"),
        ("summary", "i:x:name"),
        ("summary", "i:e:yes"),
    ],
)
async def test_forged_or_stale_button_is_refused_and_changes_nothing(
    person: Person, services: Services, step: str, data: str
) -> None:
    current = await to_step(person, step)
    key = key_of(services)
    before = await services.storage.get_flow(key)
    turn = await person.press(data, on=current, forged=True)
    assert "answerCallbackQuery" in turn.methods()
    assert_refused(services, turn, current)
    assert await services.storage.get_flow(key) == before
    assert await services.storage.get_registration(key) is None
    assert await services.storage.tallies_since(0) == []


@pytest.mark.parametrize(
    "data", ["i:k:open", "i:x:time", "i:zzz", "i:", "i:s:ok", "i:w", "i:keep", "i:del"]
)
async def test_interest_button_without_a_flow_is_stale(
    person: Person, services: Services, data: str
) -> None:
    turn = await person.press(data)
    assert seen(turn) == [stale_button(services)]
    assert await services.storage.get_flow(key_of(services)) is None
    assert await services.storage.get_registration(key_of(services)) is None


async def test_someone_elses_buttons_only_touch_their_own_flow(
    person_factory: PersonFactory, services: Services
) -> None:
    alice = person_factory(user_id=2001)
    bob = person_factory(user_id=2002)
    summary = await to_step(alice, "summary")
    # Bob presses Alice's confirm button (e.g. from a forwarded message): nothing of hers moves.
    turn = await bob.press("i:s:ok", on=summary)
    assert seen(turn) == [stale_button(services)]
    assert await services.storage.get_registration(key_of(services, 2001)) is None
    assert await services.storage.get_registration(key_of(services, 2002)) is None
    assert (await draft_of(services, 2001)) is not None
