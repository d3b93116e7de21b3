"""Whole conversations through the real Application, asserting on what the person sees."""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path

import pytest

import bot.composition
from bot.composition import create_services, on_ready
from bot.config import Config, CrisisNumber
from bot.content import Content
from bot.offline.fake_bot_api import BOT_USERNAME, FakeTelegram
from bot.services import Services
from tests.support import USER_ID, App, Person, PersonFactory, start_app, stop_app

DASH = "\N{EN DASH}"  # as in flows/*/ui.yaml crisis.number_line


def ui(services: Services, lang: str, key: str, **values: object) -> str:
    return services.content.text(lang, key, **values)


def answer_of(content: Content, lang: str, topic_id: str) -> str:
    return content.topics[topic_id].text[lang].answer


# --- /start and deep links ------------------------------------------------------------------


async def test_start_welcomes_in_bokmal_and_names_the_entry_ticket(
    person: Person, services: Services
) -> None:
    turn = await person.say("/start")
    assert turn.texts == [ui(services, "nb", "start.welcome")]
    welcome = turn.first.text
    assert welcome.startswith("Hei, og velkommen!")
    # The entry ticket: you need a problem of your own that you want to work on.
    assert "problem du selv vil gjøre noe med" in welcome
    assert turn.first.callback_data == ["menu", "help"]


async def test_start_welcomes_in_english_for_an_english_telegram(
    person_factory: PersonFactory, services: Services
) -> None:
    turn = await person_factory(language_code="en").say("/start")
    assert turn.texts == [ui(services, "en", "start.welcome")]
    assert turn.first.text.startswith("Hi, and welcome!")
    assert "a problem of your own that you want to do something about" in turn.first.text
    assert turn.first.button_texts == ["📚 Browse topics", "❓ What can the bot do?"]


async def test_start_without_language_code_uses_the_configured_default(
    person_factory: PersonFactory, services: Services
) -> None:
    turn = await person_factory(language_code=None).say("/start")
    assert turn.texts == [ui(services, "nb", "start.welcome")]


@pytest.mark.parametrize(
    ("language_code", "greeting"),
    [
        ("nn", "Hei, og velkommen!"),
        ("no", "Hei, og velkommen!"),
        ("nb-NO", "Hei, og velkommen!"),
        ("en-GB", "Hi, and welcome!"),
        ("de", "Hi, and welcome!"),
        ("uk", "Hi, and welcome!"),
    ],
)
async def test_telegram_language_decides_the_default(
    person_factory: PersonFactory, language_code: str, greeting: str
) -> None:
    turn = await person_factory(language_code=language_code).say("/start")
    assert turn.first.text.startswith(greeting)


async def test_start_addressed_to_this_bot_by_name(person: Person, services: Services) -> None:
    turn = await person.say(f"/start@{BOT_USERNAME}")
    assert turn.texts == [ui(services, "nb", "start.welcome")]


async def test_deep_link_names_the_municipality(person: Person) -> None:
    turn = await person.say("/start lyngen")
    assert len(turn.sent) == 1
    assert turn.first.text.startswith("Hei, og velkommen!")
    assert "Du kom hit via lenken for Lyngen." in turn.first.text


async def test_deep_link_with_language_answers_in_english(person: Person) -> None:
    turn = await person.say("/start lyngen_en")
    assert turn.first.text.startswith("Hi, and welcome!")
    assert "You came here through the link for Lyngen." in turn.first.text
    assert "📚 Browse topics" in turn.first.button_texts


async def test_tampered_deep_link_gets_the_normal_welcome(
    person: Person, services: Services
) -> None:
    for payload in ("../../etc", "lyngen_xx", "nowhere", "LYNGEN", "lyngen_en_en", "x" * 80):
        turn = await person.say(f"/start {payload}")
        assert turn.texts == [ui(services, "nb", "start.welcome")], payload


async def test_group_link_payload_gets_the_normal_welcome(
    person: Person, services: Services
) -> None:
    # The group redirect button opens ?start=group; that must be an ordinary welcome.
    turn = await person.say("/start group")
    assert turn.texts == [ui(services, "nb", "start.welcome")]


# --- /help, /faq and topic answers -------------------------------------------------------------


async def test_help_lists_commands_and_the_emergency_number(person: Person) -> None:
    turn = await person.say("/help")
    assert len(turn.sent) == 1
    text = turn.first.text
    for command in ("/faq", "/language", "/privacy", "/forget", "/cancel"):
        assert command in text
    assert "ring 113" in text
    assert "ikke krisehjelp" in text


async def test_help_button_shows_help(person: Person) -> None:
    start = (await person.say("/start")).first
    turn = await person.press_label(start, "Hva kan boten")
    assert len(turn.callback_answers) == 1
    assert turn.alerts == []
    assert "/faq" in turn.text
    assert "ring 113" in turn.text


async def test_faq_browse_categories_then_topic_then_related(
    person: Person, services: Services
) -> None:
    content = services.content
    menu = (await person.say("/faq")).first
    assert menu.text == "Hva vil du vite mer om?"
    assert menu.callback_data == [f"c:{c}" for c in content.categories]
    assert "Om selvhjelpsgrupper" in menu.button_texts

    category = await person.press_label(menu, "Om selvhjelpsgrupper")
    # The menu message is edited in place into the category's topic list.
    assert category.methods() == ["answerCallbackQuery", "editMessageText"]
    listing = category.first
    assert listing.message_id == menu.message_id
    assert listing.text == "Om selvhjelpsgrupper: velg et spørsmål."
    assert "Hva koster det?" in listing.button_texts
    assert listing.callback_data[-1] == "menu"  # the back button
    assert listing.button_texts[-1] == "⬅️ Tilbake"

    topic = await person.press_label(listing, "Hva koster det?")
    assert topic.methods() == ["answerCallbackQuery", "sendMessage"]
    answer = topic.first
    assert answer.text == answer_of(content, "nb", "cost")
    assert answer.text.startswith("Det er gratis.")
    related = [f"t:{r}" for r in content.topics["cost"].related]
    assert answer.callback_data == [*related, "menu"]
    assert "Er det frivillig?" in answer.button_texts

    follow = await person.press_label(answer, "Er det frivillig?")
    assert follow.first.text == answer_of(content, "nb", "voluntary")

    back = await person.press_label(listing, "Tilbake")
    assert back.first.text == "Hva vil du vite mer om?"


async def test_asking_what_it_costs_gives_the_cost_answer(
    person: Person, services: Services
) -> None:
    turn = await person.say("hva koster det")
    assert turn.texts == [answer_of(services.content, "nb", "cost")]
    assert "t:voluntary" in turn.first.callback_data


async def test_english_question_in_a_norwegian_chat_is_answered_in_english(
    person: Person, services: Services
) -> None:
    turn = await person.say("what does it cost?")
    assert turn.texts == [answer_of(services.content, "en", "cost")]
    assert turn.first.text.startswith("It's free.")
    assert "📚 More topics" in turn.first.button_texts


async def test_nonsense_gets_a_kind_not_understood_with_a_way_forward(
    person: Person, services: Services
) -> None:
    turn = await person.say("qwzx plork")
    assert turn.texts == [ui(services, "nb", "answer.unknown")]
    assert turn.first.callback_data == ["menu", "help"]


async def test_regional_offices_are_filled_in_from_config(person: Person, config: Config) -> None:
    menu = (await person.say("/faq")).first
    listing = (await person.press_label(menu, "Organisasjoner")).first
    turn = await person.press_label(listing, "Distriktskontorene")
    assert "{regional_offices}" not in turn.text
    for region in config.regions:
        assert region.office in turn.text


# --- /language ----------------------------------------------------------------------------------


async def test_language_choice_changes_replies_and_is_stored(
    person: Person, services: Services
) -> None:
    choose = (await person.say("/language")).first
    assert choose.text == "Hvilket språk vil du bruke?"
    assert choose.callback_data == ["lang:nb", "lang:en"]
    assert choose.button_texts == ["🇳🇴 Norsk (bokmål)", "🇬🇧 English"]

    turn = await person.press_label(choose, "English")
    assert turn.alerts == []
    assert turn.first.method == "editMessageText"
    assert turn.first.text == "All right, I'll speak English with you from now on."

    # The Telegram app still says "nb", but the choice wins.
    assert (await person.say("/help")).first.text.startswith("Here is what I can help with")
    assert (await person.say("/start")).first.text.startswith("Hi, and welcome!")
    key = services.pseudonymizer.user_key(USER_ID)
    assert await services.storage.get_language(key) == "en"

    turn = await person.press_label(choose, "Norsk")  # the same message's other button
    assert turn.first.text == "Greit, jeg snakker norsk (bokmål) med deg fra nå av."
    assert await services.storage.get_language(key) == "nb"


async def test_language_choice_survives_a_restart(
    config: Config, database: Path, person: Person
) -> None:
    await person.press_label((await person.say("/language")).first, "English")

    services = await create_services(config, database=str(database))
    fake = FakeTelegram()
    app = await start_app(services, fake)
    try:
        again = Person(app, fake, language_code="nb")
        turn = await again.say("/start")
        assert turn.first.text.startswith("Hi, and welcome!")
        assert await services.storage.has_resident(services.pseudonymizer.user_key(USER_ID))
    finally:
        await stop_app(app)


# --- /privacy, /forget, /cancel, unknown commands ------------------------------------------------


async def test_privacy_explains_what_is_stored(person: Person, config: Config) -> None:
    turn = await person.say("/privacy")
    assert len(turn.sent) == 1
    text = turn.first.text
    assert text.startswith("Personvern i denne boten:")
    assert "blir ikke lagret eller logget" in text
    assert f"etter {config.retention_days} dager" in text
    assert "/forget" in text


async def test_forget_yes_erases_everything(person: Person, services: Services) -> None:
    key = services.pseudonymizer.user_key(USER_ID)
    await person.press_label((await person.say("/language")).first, "Norsk")
    assert await services.storage.has_resident(key)

    confirm = (await person.say("/forget")).first
    assert "Det kan ikke angres" in confirm.text
    assert confirm.callback_data == ["forget:yes", "forget:no"]
    assert confirm.button_texts == ["Ja, slett alt", "Nei, behold"]

    turn = await person.press_label(confirm, "Ja, slett alt")
    assert turn.first.method == "editMessageText"
    assert turn.first.text.startswith("Ferdig: alt om deg er slettet.")
    assert not await services.storage.has_resident(key)
    assert await services.storage.get_language(key) is None


async def test_forget_no_keeps_everything(person: Person, services: Services) -> None:
    key = services.pseudonymizer.user_key(USER_ID)
    await person.press_label((await person.say("/language")).first, "English")

    confirm = (await person.say("/forget")).first
    assert confirm.text.startswith("Do you want me to erase everything")
    turn = await person.press_label(confirm, "No, keep it")
    assert turn.first.text == "All right, nothing was erased."
    assert await services.storage.has_resident(key)
    assert await services.storage.get_language(key) == "en"


async def test_forget_with_nothing_stored_still_confirms(
    person: Person, services: Services
) -> None:
    confirm = (await person.say("/forget")).first
    turn = await person.press_label(confirm, "Ja, slett alt")
    assert turn.first.text.startswith("Ferdig: alt om deg er slettet.")
    assert not await services.storage.has_resident(services.pseudonymizer.user_key(USER_ID))


async def test_cancel_says_what_to_do_next(person: Person) -> None:
    turn = await person.say("/cancel")
    assert turn.texts == ["Greit, avbrutt. Hva vil du gjøre nå?"]
    assert turn.first.callback_data == ["menu", "help"]


async def test_unknown_command_offers_the_menu(person: Person) -> None:
    for command in ("/foo", "/admin", "/start@someotherbot"):
        turn = await person.say(command)
        assert turn.texts == ["Den kommandoen kjenner jeg ikke. Her er det jeg kan:"], command
        assert turn.first.callback_data == ["menu", "help"]


async def test_sticker_gets_a_text_only_note(person: Person) -> None:
    turn = await person.say(None, sticker=True)
    assert turn.texts == [
        "Jeg kan bare lese tekst. Skriv spørsmålet ditt med ord, eller bla i temaene."
    ]


# --- asking for someone else ---------------------------------------------------------------------


async def test_asking_for_a_mother_gives_on_behalf_answer_and_a_forwardable_text(
    person: Person, services: Services
) -> None:
    turn = await person.say("min mor sliter, kan hun bli med?")
    assert turn.texts[0].startswith(answer_of(services.content, "nb", "on_behalf"))
    assert turn.texts[1:] == [
        ui(services, "nb", "on_behalf.forward_intro"),
        ui(services, "nb", "on_behalf.forward_text"),
    ]
    # The forwardable text stands alone: no buttons, nothing personal, says nobody can sign up.
    forward = turn.sent[-1]
    assert forward.buttons == []
    assert "Ingen kan melde deg på." in forward.text


async def test_on_behalf_topic_button_also_offers_the_forwardable_text(
    person: Person, services: Services
) -> None:
    topic = services.content.topics["on_behalf"]
    menu = (await person.say("/faq")).first
    category = ui(services, "nb", f"faq.category.{topic.category}")
    listing = (await person.press_label(menu, category)).first
    turn = await person.press_label(listing, topic.text["nb"].title)
    assert turn.texts == [
        answer_of(services.content, "nb", "on_behalf"),
        ui(services, "nb", "on_behalf.forward_intro"),
        ui(services, "nb", "on_behalf.forward_text"),
    ]


async def test_english_on_behalf_question_gets_the_english_forwardable_text(
    person_factory: PersonFactory, services: Services
) -> None:
    turn = await person_factory(language_code="en").say("I'm asking on behalf of my mother")
    assert turn.texts == [
        answer_of(services.content, "en", "on_behalf"),
        ui(services, "en", "on_behalf.forward_intro"),
        ui(services, "en", "on_behalf.forward_text"),
    ]


# --- crisis --------------------------------------------------------------------------------------


def assert_crisis_reply(text: str, config: Config, kind: str = "suicide") -> None:
    for number in config.crisis_numbers_for(kind):
        assert number.number in text, number
    assert "113" in text  # the medical emergency number is in every crisis reply


async def test_norwegian_crisis_message_gets_the_numbers_first_and_only(
    person: Person, config: Config, services: Services
) -> None:
    turn = await person.say("jeg orker ikke mer")
    assert len(turn.sent) == 1
    first = turn.first.text
    assert first.startswith(ui(services, "nb", "crisis.intro.suicide"))
    assert_crisis_reply(first, config)
    assert f"📞 116 123 {DASH} Mental Helses hjelpetelefon (døgnåpen)" in first
    assert "En selvhjelpsgruppe er ikke krisehjelp" in first
    assert turn.first.buttons == []


async def test_english_crisis_message_gets_the_numbers_in_english(
    person: Person, config: Config, services: Services
) -> None:
    turn = await person.say("i want to kill myself")
    assert len(turn.sent) == 1
    assert turn.first.text.startswith(ui(services, "en", "crisis.intro.suicide"))
    assert_crisis_reply(turn.first.text, config)
    assert f"📞 113 {DASH} medical emergency (danger to life)" in turn.first.text


async def test_violence_gets_the_police_and_the_violence_line_first(
    person: Person, config: Config, services: Services
) -> None:
    turn = await person.say("mannen min slår meg når han drikker")
    assert len(turn.sent) == 1
    text = turn.first.text
    assert text.startswith(ui(services, "nb", "crisis.intro.violence"))
    assert_crisis_reply(text, config, "violence")
    assert text.index("112") < text.index("116 006")


async def test_a_medical_emergency_gets_113_and_poison_information(
    person: Person, config: Config, services: Services
) -> None:
    turn = await person.say("my son swallowed a dishwasher tablet")
    text = turn.first.text
    assert text.startswith(ui(services, "en", "crisis.intro.medical"))
    assert_crisis_reply(text, config, "medical")


async def test_someone_else_in_danger_gets_advice_and_numbers(
    person: Person, config: Config, services: Services
) -> None:
    turn = await person.say("venninna mi sier hun skal ta livet sitt i kveld")
    assert turn.first.text.startswith(ui(services, "nb", "crisis.intro.other_in_danger"))
    assert_crisis_reply(turn.first.text, config, "other_in_danger")


async def test_an_uncertain_signal_gets_the_gentle_check_and_then_the_answer(
    person: Person, config: Config, services: Services
) -> None:
    turn = await person.say("kan jeg bli med i en gruppe hvis jeg har selvmordstanker")
    assert len(turn.sent) >= 2
    assert turn.first.text.startswith(ui(services, "nb", "crisis.check").strip()[:40])
    assert_crisis_reply(turn.first.text, config, "check")
    assert "116 123" in turn.first.text
    assert not turn.sent[1].text.startswith(ui(services, "nb", "crisis.check").strip()[:40])


async def test_crisis_wins_over_a_matching_faq_question(person: Person, config: Config) -> None:
    # A question the FAQ could answer, with crisis language in it: crisis comes first.
    turn = await person.say("hva koster det? jeg orker ikke mer")
    assert len(turn.sent) >= 1
    assert_crisis_reply(turn.first.text, config)
    assert "Det er gratis" not in turn.first.text


async def test_edited_message_with_crisis_language_gets_the_numbers(
    person: Person, config: Config
) -> None:
    turn = await person.say("jeg vil ikke leve lenger", edited=True)
    assert_crisis_reply(turn.first.text, config)


async def test_crisis_numbers_come_from_config(config: Config, tmp_path: Path) -> None:
    changed = dataclasses.replace(
        config,
        crisis_numbers=(
            CrisisNumber("emergency", "999 11 999"),
            CrisisNumber("kirkens_sos", "888 22 888"),
        ),
    )
    services = await create_services(changed, database=str(tmp_path / "other.sqlite3"))
    fake = FakeTelegram()
    app = await start_app(services, fake)
    try:
        turn = await Person(app, fake).say("jeg orker ikke mer")
        text = turn.first.text
        assert f"📞 999 11 999 {DASH} medisinsk nødhjelp" in text
        assert f"📞 888 22 888 {DASH} Kirkens SOS" in text
        assert "116 123" not in text
        help_text = (await Person(app, fake).say("/help")).first.text
        assert "ring 999 11 999" in help_text
    finally:
        await stop_app(app)


async def test_crisis_reply_survives_a_number_without_a_label(
    person: Person, services: Services
) -> None:
    """A deployer added a number whose label is missing from flows: the numbers still go out."""
    services.config = dataclasses.replace(
        services.config,
        crisis_numbers=(CrisisNumber("alarm", "777 77 777"), *services.config.crisis_numbers),
    )
    turn = await person.say("jeg orker ikke mer")
    assert turn.texts != [ui(services, "nb", "errors.internal")]
    assert "777 77 777" in turn.first.text
    assert "116 123" in turn.first.text


# --- group chats ---------------------------------------------------------------------------------


async def test_group_command_gets_a_link_to_a_private_chat(
    person_factory: PersonFactory,
) -> None:
    member = person_factory(chat_id=-100200300, chat_type="group")
    turn = await member.say("/faq")
    assert len(turn.sent) == 1
    redirect = turn.first
    assert redirect.chat_id == -100200300
    assert redirect.text.startswith("Personlige spørsmål hører hjemme i en privat samtale.")
    assert redirect.urls == [f"https://t.me/{BOT_USERNAME}?start=group"]
    assert redirect.button_texts == ["💬 Åpne privat samtale"]


async def test_group_never_discusses_personal_things(person_factory: PersonFactory) -> None:
    member = person_factory(chat_id=-100200300, chat_type="supergroup", language_code="en")
    for text in ("/start", "/forget", "/language", f"@{BOT_USERNAME} what does it cost?"):
        turn = await member.say(text)
        assert len(turn.sent) == 1, text
        assert turn.first.text.startswith("Personal questions belong in a private chat."), text
        assert turn.first.urls == [f"https://t.me/{BOT_USERNAME}?start=group"]


async def test_group_crisis_mention_gets_the_numbers_before_the_redirect(
    person_factory: PersonFactory, config: Config
) -> None:
    member = person_factory(chat_id=-100200300, chat_type="group")
    turn = await member.say(f"@{BOT_USERNAME} jeg orker ikke mer")
    assert len(turn.sent) == 2
    assert_crisis_reply(turn.first.text, config)
    assert turn.sent[1].urls == [f"https://t.me/{BOT_USERNAME}?start=group"]


# --- command menu --------------------------------------------------------------------------------


async def test_command_menu_is_published_in_bokmal_and_english(
    app: App, fake: FakeTelegram
) -> None:
    # ApplicationBuilder.post_init runs inside run_polling/run_webhook, right after initialize().
    assert app.post_init is on_ready
    try:
        await app.post_init(app)
        assert gc.get_freeze_count() > 0  # the long-lived heap is out of the collector's way
    finally:
        gc.unfreeze()

    menus = {
        c.params.get("language_code"): c.params["commands"]
        for c in fake.calls
        if c.method == "setMyCommands" and not c.params.get("scope")  # role holders: own menus
    }
    assert {None, "en", "nb"} <= set(menus)

    def names(commands: object) -> list[str]:
        assert isinstance(commands, list)
        return [c["command"] if isinstance(c, dict) else c.command for c in commands]

    def descriptions(commands: object) -> list[str]:
        assert isinstance(commands, list)
        return [c["description"] if isinstance(c, dict) else c.description for c in commands]

    expected = list(bot.composition.MENU_COMMANDS)
    assert {"start", "faq", "interest", "mine", "help", "privacy", "forget"} <= set(expected)
    for code in (None, "en", "nb"):
        assert names(menus[code]) == expected
    assert descriptions(menus[None])[1] == "Bla i spørsmål og svar"
    assert descriptions(menus["nb"]) == descriptions(menus[None])
    assert descriptions(menus["en"])[0] != descriptions(menus["nb"])[0]


# --- what people actually write: off-topic, two questions, long messages, someone else -----------


async def test_an_unrelated_price_is_declined_politely_not_answered_free(
    person: Person, services: Services
) -> None:
    turn = await person.say("hva koster strøm i morgen?")
    assert turn.texts == [ui(services, "nb", "answer.decline")]
    assert "gratis" not in turn.first.text.split(".")[0]
    assert turn.first.button_texts  # the menu: a way forward


async def test_two_questions_get_one_answer_and_the_other_as_the_first_button(
    person: Person, services: Services
) -> None:
    turn = await person.say("Hva koster det, og trenger jeg henvisning fra fastlegen?")
    first = turn.first
    assert ui(services, "nb", "answer.also") in first.text
    titles = {services.content.topics[t].text["nb"].title for t in ("cost", "referral")}
    shown = services.content.topics
    answered = next(t for t in ("cost", "referral") if shown[t].text["nb"].answer in first.text)
    other = ({"cost", "referral"} - {answered}).pop()
    assert first.button_texts[0] == shown[other].text["nb"].title
    assert first.button_texts[0] in titles
    # Pressing it by its label answers the second question.
    follow = await person.press_label(first, shown[other].text["nb"].title)
    assert shown[other].text["nb"].answer in follow.first.text


async def test_a_long_personal_message_gets_a_kind_word_and_the_closest_help(
    person: Person, services: Services
) -> None:
    story = (
        "Hei. Jeg vet ikke helt hvordan jeg skal begynne. Det har vært et tungt år, jeg har "
        "flyttet til en ny plass for jobben og kjenner nesten ingen her, og kveldene blir lange. "
        "Jeg er ikke syk, tror jeg, men jeg savner noen å snakke med om ting som betyr noe, og "
        "jeg vet ikke om sånt som dette er for folk som meg"
    )
    turn = await person.say(story)
    assert turn.first.text in (
        ui(services, "nb", "answer.long"),
        *(t.text["nb"].answer for t in services.content.topics.values()),
    )
    assert turn.first.button_texts


async def test_asking_for_someone_else_answers_how_to_help(
    person: Person, services: Services
) -> None:
    turn = await person.say("Mora mi er så ensom etter at pappa døde. Kan jeg melde henne på?")
    on_behalf = services.content.topics["on_behalf"].text["nb"]
    assert on_behalf.answer in turn.first.text
