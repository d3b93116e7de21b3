"""Journeys through /interest and /mine as people really use them: typing answers instead of
pressing, asking a question mid-way, coming back later, living outside the configured regions,
being 17 or not able to come sober, and withdrawing. Buttons are pressed by their label, and
every assertion is on what the person sees (and, last, on what is stored)."""

from __future__ import annotations

import pytest

from bot.config import Config
from bot.interest.rules import ELSEWHERE, FLOW, Draft
from bot.interest.typed_answers import typed_option
from bot.interest.views import step_buttons
from bot.offline.fake_bot_api import Sent
from bot.services import Services
from bot.weeks import DAY
from tests.support import Person, PersonFactory, Turn

ADMIN = 100000001
KINDS = ["open", "chronic_illness", "grief", "anxiety", "relatives_addiction", "any"]


def ui(services: Services, lang: str, key: str, **values: object) -> str:
    return services.content.text(lang, key, **values)


async def draft_of(services: Services, person: Person) -> Draft | None:
    state = await services.storage.get_flow(services.user_key(person.user_id))
    if state is None:
        return None
    assert state[0] == FLOW
    return Draft.from_dict(state[1])


async def type_answer(person: Person, text: str) -> Sent:
    """Type `text` and return the one message the bot answers with."""
    turn = await person.say(text)
    assert len(turn.sent) == 1, (text, turn.texts)
    return turn.first


def hint(services: Services, lang: str, step: str) -> str:
    name = ui(services, lang, f"interest.step_name.{step}")
    return ui(services, lang, "interest.typed_hint", step=name)


def assert_step_again(services: Services, shown: Sent, step_message: Sent, step: str) -> None:
    """The step shown again: the hint (mid-way in /interest, /cancel stops), then the step's
    own text and buttons."""
    assert shown.text == f"{hint(services, 'nb', step)}\n\n{step_message.text}"
    assert "/cancel" in shown.text
    assert "/interest" in shown.text
    assert shown.callback_data == step_message.callback_data


# --- typing every answer ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (
            ["ja", "jo", "jepp", "Lyngen", "sorg", "kveld", "ja takk", "ja"],
            ("Lyngen", "grief", "evening", True),
        ),
        (
            [
                "Ja, det har jeg",
                "1",
                "ja",
                "lyngseidet",
                "angst",
                "kvelden passer best",
                "nei",
                "1",
            ],
            ("Lyngen", "anxiety", "evening", False),
        ),
        (
            ["jepp", "ja", "japp", "Nord-Norge", "Alta", "Åpen", "ettermiddag", "jada", "bekreft"],
            ("Alta", "open", "day", True),
        ),
        (
            ["jo", "ja", "ja", "Tromsø", "Sorg", "dagtid", "nei takk", "stemmer"],
            ("Tromsø", "grief", "day", False),
        ),
        (
            ["1", "1", "1", "1", "2", "6", "3", "2", "1"],  # numbers: Nord-Norge, its 2nd place
            (None, "any", "either", False),
        ),
    ],
)
async def test_a_resident_types_every_answer_instead_of_pressing(
    person: Person, services: Services, answers: list[str], expected: tuple[object, ...]
) -> None:
    entry = (await person.say("/interest")).first
    assert entry.text == ui(services, "nb", "interest.entry")
    for typed in answers:
        shown = await type_answer(person, typed)
        assert not shown.text.startswith(hint(services, "nb", "entry")[:12]), (typed, shown.text)
    assert shown.text == ui(services, "nb", "interest.saved", retention_days=180)
    reg = await services.storage.get_registration(services.user_key(person.user_id))
    assert reg is not None
    place, kind, time, contact = expected
    if place is None:  # the second municipality of Nord-Norge in config order
        north = services.config.region("nord-norge")
        assert north is not None
        place = north.municipalities[1].name
    assert (reg.municipality, reg.group_kind, reg.time_pref, reg.contact_ok) == (
        place,
        kind,
        time,
        contact,
    )
    assert await services.storage.get_flow(services.user_key(person.user_id)) is None


async def test_an_english_resident_types_every_answer(
    person_factory: PersonFactory, services: Services
) -> None:
    person = person_factory(language_code="en")
    await person.say("/interest")
    for typed in ("yes", "yes", "yeah", "Tromso", "anxiety", "evening", "yes please"):
        await type_answer(person, typed)
    saved = await type_answer(person, "yes")
    assert saved.text == ui(services, "en", "interest.saved", retention_days=180)
    reg = await services.storage.get_registration(services.user_key(person.user_id))
    assert reg is not None
    assert (reg.municipality, reg.group_kind, reg.time_pref, reg.contact_ok) == (
        "Tromsø",
        "anxiety",
        "evening",
        True,
    )


@pytest.mark.parametrize(
    ("step_answers", "typed", "step"),
    [
        (["ja"], "kanskje i morgen", "age"),
        (["ja", "ja", "ja", "Lyngen"], "blå", "kind"),
        (["ja", "ja", "ja", "Lyngen", "sorg"], "hmm", "time"),
        (["ja", "ja", "ja", "Lyngen", "sorg", "kveld"], "tja", "contact"),
        (["ja", "ja", "ja", "Lyngen", "sorg", "kveld"], "9", "contact"),
    ],
)
async def test_anything_else_shows_the_step_again_with_a_hint(
    person: Person, services: Services, step_answers: list[str], typed: str, step: str
) -> None:
    await person.say("/interest")
    for answer in step_answers:
        current = await type_answer(person, answer)
    before = await draft_of(services, person)
    assert before is not None
    assert before.step == step
    shown = await type_answer(person, typed)
    assert_step_again(services, shown, current, step)
    assert await draft_of(services, person) == before
    # and the buttons on that new message work
    moved = await person.press_label(shown, shown.button_texts[0])
    assert moved.sent
    after = await draft_of(services, person)
    assert after is None or after.step != step


async def test_a_question_mid_way_is_answered_then_the_step_is_shown_again(
    person: Person, services: Services
) -> None:
    await person.say("/interest")
    for answer in ("ja", "ja", "ja", "Lyngen"):
        kind = await type_answer(person, answer)
    turn = await person.say("Hva koster det å være med i en gruppe?")
    assert len(turn.sent) >= 2
    assert turn.first.text != kind.text  # the answer comes first
    assert ui(services, "nb", "interest.kind") not in turn.first.text
    assert_step_again(services, turn.last, kind, "kind")
    draft = await draft_of(services, person)
    assert draft is not None
    assert (draft.step, draft.municipality) == ("kind", "Lyngen")


@pytest.mark.parametrize("step", ["kind", "time", "contact"])
async def test_crisis_language_mid_way_gets_the_numbers_first_then_the_step(
    person: Person, services: Services, config: Config, step: str
) -> None:
    await person.say("/interest")
    answers = {"kind": 4, "time": 5, "contact": 6}[step]
    for answer in ["ja", "ja", "ja", "Lyngen", "sorg", "kveld"][:answers]:
        current = await type_answer(person, answer)
    before = await draft_of(services, person)
    turn = await person.say("jeg vil ikke leve lenger")
    assert turn.first.text.startswith(ui(services, "nb", "crisis.intro.suicide"))
    for number in config.crisis_numbers_for("suicide"):
        assert number.number in turn.first.text
    assert_step_again(services, turn.last, current, step)
    assert await draft_of(services, person) == before


async def test_interest_again_mid_way_resumes_visibly(person: Person, services: Services) -> None:
    await person.say("/interest")
    for answer in ("ja", "ja", "ja", "Lyngen"):
        kind = await type_answer(person, answer)
    await person.say("/faq")
    again = (await person.say("/interest")).first
    name = ui(services, "nb", "interest.step_name.kind")
    assert again.text == f"{ui(services, 'nb', 'interest.resume', step=name)}\n\n{kind.text}"
    assert "hva slags gruppe" in again.text
    assert again.callback_data == kind.callback_data
    time_step = (await person.press_label(again, "Sorg")).first
    assert time_step.text == ui(services, "nb", "interest.time")


async def test_cancel_mid_way_stops_and_a_new_interest_starts_afresh(
    person: Person, services: Services
) -> None:
    await person.say("/interest")
    await type_answer(person, "ja")
    await person.say("/cancel")
    assert await draft_of(services, person) is None
    entry = (await person.say("/interest")).first
    assert entry.text == ui(services, "nb", "interest.entry")


# --- the /mine change-municipality bug ----------------------------------------------------------


async def register_by_labels(person: Person, place_label: str = "Lyngen") -> Turn:
    message = (await person.say("/interest")).first
    for label in ("Ja, det har jeg", "Ja, jeg er 18", "Ja, det kan jeg", "Nord-Norge"):
        message = (await person.press_label(message, label)).first
    message = (await person.press_label(message, place_label)).first
    for label in ("Sorg", "På kvelden", "Ja, send meg beskjed"):
        message = (await person.press_label(message, label)).first
    return await person.press_label(message, "Bekreft")


async def test_mine_change_municipality_after_a_detour_is_never_refused(
    person: Person, services: Services
) -> None:
    await register_by_labels(person)
    mine = (await person.say("/mine")).first
    place = (await person.press_label(mine, "Endre kommune")).first
    unlisted = (await person.press_label(place, "Kommunen min er ikke med")).first
    assert unlisted.text == ui(services, "nb", "interest.place_pick_region_for_unlisted")
    await person.say("Hvor mange er det i en gruppe?")
    mine = (await person.say("/mine")).first
    turn = await person.press_label(mine, "Endre kommune")
    stale = ui(services, "nb", "interest.stale")
    assert not any(stale in text for text in turn.texts)
    assert ui(services, "nb", "errors.stale_button") not in turn.alerts
    place = turn.first
    assert place.text == ui(services, "nb", "interest.place")
    region = (await person.press_label(place, "Nord-Norge")).first
    updated = (await person.press_label(region, "Alta")).first
    assert updated.text.startswith(ui(services, "nb", "mine.updated"))
    assert "• Kommune: Alta" in updated.text


@pytest.mark.parametrize("label", ["Endre type gruppe", "Endre tidspunkt", "Trekk tilbake"])
async def test_every_button_on_the_latest_mine_works_whatever_was_left_half_done(
    person: Person, services: Services, label: str
) -> None:
    await register_by_labels(person)
    mine = (await person.say("/mine")).first
    await person.press_label(mine, "Endre kommune")
    await person.say("qwerty")  # a half-done change, left behind
    latest = (await person.say("/mine")).first
    turn = await person.press_label(latest, label)
    assert turn.sent
    assert ui(services, "nb", "errors.stale_button") not in turn.alerts
    assert not any(ui(services, "nb", "interest.stale") in t for t in turn.texts)


# --- somewhere else in Norway, exact names ------------------------------------------------------


async def test_exact_name_is_taken_without_did_you_mean(
    person: Person, services: Services
) -> None:
    await person.say("/interest")
    for answer in ("ja", "ja", "ja"):
        await type_answer(person, answer)
    kind = await type_answer(person, "Lyngen")
    assert ui(services, "nb", "interest.place_matches") not in kind.text
    assert kind.text == ui(services, "nb", "interest.kind")


async def register_in_bergen(person: Person) -> Sent:
    await person.say("/interest")
    for answer in ("ja", "ja", "ja"):
        await type_answer(person, answer)
    nothing = await type_answer(person, "Bergen")
    assert nothing.text.startswith(ui(services_of(person), "nb", "interest.place_no_match"))
    kind = (await person.press_label(nothing, "Et annet sted i Norge")).first
    assert kind.text == ui(services_of(person), "nb", "interest.kind")
    for answer in ("åpen", "kveld", "ja"):
        summary = await type_answer(person, answer)
    assert "• Kommune: et annet sted i Norge" in summary.text
    return (await person.press_label(summary, "Bekreft")).first


def services_of(person: Person) -> Services:
    services: Services = person.app.bot_data.services
    return services


async def test_bergen_registers_as_somewhere_else_in_norway_and_admins_see_it(
    person_factory: PersonFactory, services: Services, now: list[float]
) -> None:
    for user_id in (5101, 5102, 5103):
        saved = await register_in_bergen(person_factory(user_id=user_id))
        assert saved.text == ui(services, "nb", "interest.saved", retention_days=180)
    reg = await services.storage.get_registration(services.user_key(5101))
    assert reg is not None
    assert (reg.region_id, reg.municipality) == (ELSEWHERE, "")
    mine = (await person_factory(user_id=5101).say("/mine")).first
    assert "• Kommune: et annet sted i Norge" in mine.text

    now[0] += DAY  # the snapshot counts registrations made before today
    digest = await person_factory(user_id=ADMIN).say("/digest")
    text = "\n".join(digest.texts)
    assert "kommune som ikke er på listen (et annet sted i Norge): 3 venter" in text


async def test_elsewhere_is_offered_among_the_regions_for_an_unlisted_municipality(
    person: Person, services: Services
) -> None:
    message = (await person.say("/interest")).first
    for label in ("Ja, det har jeg", "Ja, jeg er 18", "Ja, det kan jeg", "Kommunen min er ikke"):
        message = (await person.press_label(message, label)).first
    kind = (await person.press_label(message, "Et annet sted i Norge")).first
    assert kind.text == ui(services, "nb", "interest.kind")
    draft = await draft_of(services, person)
    assert draft is not None
    assert (draft.region_id, draft.municipality) == (ELSEWHERE, "")


# --- age and sobriety ------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["nb", "en"])
async def test_a_17_year_old_is_told_who_can_help_instead(
    person_factory: PersonFactory, services: Services, lang: str
) -> None:
    person = person_factory(language_code=lang)
    entry = (await person.say("/interest")).first
    age = (await person.press_label(entry, ui(services, lang, "interest.entry_yes"))).first
    assert age.text == ui(services, lang, "interest.age", min_age=18)
    under_18 = ui(services, lang, "interest.age_no", min_age=18)
    refused = (await person.press_label(age, under_18)).first
    text = refused.text
    assert "116 111" in text  # Alarmtelefonen for barn og unge, from config.yaml
    assert "Ung.no" in text
    assert "helsesykepleier" in text
    assert "/help" not in text
    key = services.user_key(person.user_id)
    assert await services.storage.get_flow(key) is None
    assert await services.storage.get_registration(key) is None
    assert not await services.storage.has_resident(key)


async def test_a_17_year_old_typing_gets_the_same(person: Person, services: Services) -> None:
    await person.say("/interest")
    await type_answer(person, "ja")
    refused = await type_answer(person, "nei, jeg er 17")
    assert refused.text == ui(
        services,
        "nb",
        "interest.age_refused",
        min_age=18,
        children_line="116 111",
        emergency="113",
    )
    assert "116 111" in refused.text


@pytest.mark.parametrize("lang", ["nb", "en"])
async def test_an_adult_who_drinks_is_welcome_when_they_can_come_sober(
    person_factory: PersonFactory, services: Services, lang: str
) -> None:
    person = person_factory(language_code=lang)
    entry = (await person.say("/interest")).first
    age = (await person.press_label(entry, ui(services, lang, "interest.entry_yes"))).first
    adult = ui(services, lang, "interest.age_yes", min_age=18)
    sober = (await person.press_label(age, adult)).first
    assert sober.text == ui(services, lang, "interest.sober")
    refused = (await person.press_label(sober, ui(services, lang, "interest.sober_no"))).first
    assert refused.text == ui(services, lang, "interest.sober_refused", mental_helse="116 123")
    assert ("velkommen" if lang == "nb" else "welcome") in refused.text
    assert "/help" not in refused.text
    assert "18" not in refused.text  # the age is not their problem
    assert await services.storage.get_flow(services.user_key(person.user_id)) is None


# --- withdrawing asks first ---------------------------------------------------------------------


async def test_withdraw_in_mine_asks_for_confirmation_first(
    person: Person, services: Services
) -> None:
    await register_by_labels(person)
    key = services.user_key(person.user_id)
    mine = (await person.say("/mine")).first
    ask = (await person.press_label(mine, "Trekk tilbake")).first
    assert ask.text == ui(services, "nb", "mine.withdraw_ask")
    assert await services.storage.get_registration(key) is not None
    kept = (await person.press_label(ask, "Nei, behold den")).first
    assert kept.text == mine.text
    assert await services.storage.get_registration(key) is not None

    ask = (await person.press_label(kept, "Trekk tilbake")).first
    done = (await person.press_label(ask, "Ja, trekk den tilbake")).first
    assert done.text == ui(services, "nb", "mine.withdrawn")
    assert await services.storage.get_registration(key) is None
    # The confirmation cannot be replayed to withdraw a new registration later by accident...
    again = await person.press("i:wy", on=ask)
    assert ui(services, "nb", "errors.stale_button") in again.alerts


# --- the matching rules themselves ------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "typed", "data"),
    [
        ("time", "kveld", "i:h:evening"),
        ("time", "Kvelden", "i:h:evening"),
        ("time", "kveldane", "i:h:evening"),
        ("time", "ettermiddag", "i:h:day"),
        ("time", "dagtid", "i:h:day"),
        ("time", "begge deler", "i:h:either"),
        ("time", "2", "i:h:evening"),
        ("time", "ikke kveld", None),
        ("time", "kveld eller dag", None),
        ("time", "4", None),
        ("contact", "ja", "i:c:yes"),
        ("contact", "jo", "i:c:yes"),
        ("contact", "jepp", "i:c:yes"),
        ("contact", "nei", "i:c:no"),
        ("contact", "Nei takk", "i:c:no"),
        ("contact", "ja nei", None),
        ("kind", "angst", "i:k:anxiety"),
        ("kind", "sorg", "i:k:grief"),
        ("kind", "Grief", "i:k:grief"),
        ("kind", "Angst og uro", "i:k:anxiety"),
        ("kind", "kronisk sykdom", "i:k:chronic_illness"),
        ("kind", "ingen preferanse", "i:k:any"),
        ("kind", "kveld", None),
        ("entry", "ja", "i:e:yes"),
        ("entry", "jeg spør for en annen", "i:e:other"),
        ("entry", "vet ikke", "i:e:unsure"),
        ("age", "nei", "i:a:no"),
        ("sober", "ja", "i:l:ok"),
    ],
)
def test_typed_option(
    services: Services, config: Config, step: str, typed: str, data: str | None
) -> None:
    draft = Draft(step=step, region_id="nord-norge", municipality="Lyngen")
    assert typed_option(step_buttons(services.content, config, draft), "nb", typed) == data


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_label_typed_in_either_language_is_that_kind(
    services: Services, config: Config, kind: str
) -> None:
    draft = Draft(step="kind")
    for lang in ("nb", "en"):
        key = f"interest.kind_{kind}" if kind in ("open", "any") else f"interest.theme.{kind}"
        label = ui(services, lang, key)
        buttons = step_buttons(services.content, config, draft)
        assert typed_option(buttons, "nb", label) == f"i:k:{kind}"


async def test_the_old_combined_age_and_sober_button_still_works_on_old_messages(
    person: Person, services: Services
) -> None:
    """ "Ja, det stemmer" (i:l:ok) of the one question that came before the split answered
    both; pressed at the age step it moves on to the place. Its "no" asks the two apart."""
    entry = (await person.say("/interest")).first
    age = (await person.press_label(entry, "Ja, det har jeg")).first
    again = (await person.press("i:l:no", on=age, forged=True)).first
    assert again.callback_data == ["i:a:yes", "i:a:no"]
    place = (await person.press("i:l:ok", on=age, forged=True)).first
    assert place.text == ui(services, "nb", "interest.place")
    draft = await draft_of(services, person)
    assert draft is not None
    assert draft.step == "place"
