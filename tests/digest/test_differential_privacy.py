"""Differential privacy test: two worlds that differ only in one hidden person must look the
same to a coordinator, an office and an admin, whatever they type or press.

Each world is built through the real Application on the fake Bot API: residents register with
the real /interest flow (every button pressed by its label), a day passes, and then a scripted
insider session runs: the coordinator's /digest, every /invitation audience button (writing a
draft where a prompt comes, then cancelling), /invitation status; the office's /digest and
/announce previews for several sets of places (then cancelled); the admin's /digest. Everything
those three see (texts and button labels) must be identical between the two worlds of a pair.

The pairs are what docs/THREAT_MODEL.md promises: a resident's kind of group, time of day and
contact choice where the figures are small; whether someone registered today; whether someone
accepts messages anywhere; and a coordinator's own registration (padding).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

import bot.composition
from bot.answers.faq_index import FaqIndex
from bot.composition import create_services
from bot.content import Content
from bot.offline.fake_bot_api import FakeTelegram, Sent
from bot.weeks import DAY
from tests.support import Person, load_repo_config, start_app, stop_app

COORDINATOR = 100000002  # Lyngen (config.yaml)
OFFICE = 100000004  # Nord-Norge
ADMIN = 100000001
KARI = 5551234567
START = 1_795_000_000.0  # a Thursday in November 2026, mid-afternoon in Oslo


@dataclass(frozen=True)
class Reg:
    user_id: int
    place: str  # municipality code
    kind: str
    time: str  # day | evening | either
    contact: str  # yes | no
    today: bool = False  # registered on the day the insiders look (else the day before)


BASE = (
    Reg(3001, "lyngen", "open", "evening", "yes"),
    Reg(3002, "lyngen", "grief", "day", "no"),
    *(Reg(3100 + i, "tromso", "open", "day", "yes") for i in range(3)),
    *(Reg(3200 + i, "tromso", "anxiety", "evening", "yes") for i in range(3)),
)


async def press_label(person: Person, sent: Sent, label: str) -> Sent:
    turn = await person.press_label(sent, label)
    assert turn.sent, (label, sent.text)
    return turn.last


async def register(person: Person, reg: Reg, content: Content) -> None:
    """The real /interest flow, pressing the buttons by their (bokmål) labels."""

    def t(key: str) -> str:
        return content.text("nb", key)

    message = (await person.say("/interest")).first
    steps = [
        lambda m: _data_button(m, "i:e:yes"),
        lambda m: _data_button(m, "i:a:yes"),
        lambda m: _data_button(m, "i:l:ok"),
        lambda m: _data_button(m, "i:r:nord-norge"),
        lambda m: _data_button(m, f"i:m:{reg.place}"),
        lambda m: _data_button(m, f"i:k:{reg.kind}"),
        lambda _m: t(f"interest.time_{reg.time}"),
        lambda _m: t(f"interest.contact_{reg.contact}"),
        lambda m: _data_button(m, "i:s:ok"),
    ]
    for step in steps:
        message = await press_label(person, message, step(message))


def _data_button(message: Sent, data: str) -> str:
    """The label of the button whose data is `data` (labels of places and kinds vary)."""
    for row in message.buttons:
        for button in row:
            if button.get("callback_data") == data:
                return str(button["text"])
    raise AssertionError(f"no {data!r} on {message.text!r}: {message.callback_data}")


def seen(messages: Sequence[Sent]) -> list[tuple[str, tuple[str, ...]]]:
    return [(m.text, tuple(m.button_texts)) for m in messages]


async def insider_session(
    people: dict[int, Person], content: Content
) -> list[tuple[str, tuple[str, ...]]]:
    """Everything a curious coordinator, office and admin can script, as they see it."""
    out: list[tuple[str, tuple[str, ...]]] = []
    coordinator, office, admin = people[COORDINATOR], people[OFFICE], people[ADMIN]

    def t(key: str) -> str:
        return content.text("nb", key)

    out += seen((await coordinator.say("/digest")).sent)
    choose = (await coordinator.say("/invitation")).first
    out += seen([choose])
    for label in choose.button_texts:
        choose = (await coordinator.say("/invitation")).first
        turn = await coordinator.press_label(choose, label)
        out += seen(turn.sent)
        if turn.sent and turn.last.text.startswith(t("invitation.write").split("(")[0][:30]):
            draft = await coordinator.say("Møte på biblioteket torsdag kl 18.")
            out += seen(draft.sent)
            out += seen((await coordinator.press_label(draft.last, t("invitation.cancel"))).sent)
    out += seen((await coordinator.say("/invitation status")).sent)

    out += seen((await office.say("/digest")).sent)
    for targets in (("lyngen",), ("tromso",), ("lyngen", "tromso")):
        turn = await office.say("/announce")
        for answer in ("Informasjonsmøte", "12.03 kl 18", "Biblioteket"):
            turn = await office.say(answer)
        turn = await office.press_label(turn.last, t("announce.skip"))
        turn = await office.press_label(turn.last, t("announce.skip"))
        for code in targets:
            name = {"lyngen": "Lyngen", "tromso": "Tromsø"}[code]
            turn = await office.press_label(turn.last, name)
        turn = await office.press_label(turn.last, t("announce.done"))
        out += seen(turn.sent)
        out += seen((await office.press_label(turn.last, t("announce.cancel"))).sent)

    out += seen((await admin.say("/digest")).sent)
    return out


async def world(
    tmp_path: Path, content: Content, regs: Sequence[Reg], name: str
) -> list[tuple[str, tuple[str, ...]]]:
    """Build one world and return what the insiders see in it."""
    folder = tmp_path / name
    config = load_repo_config(folder)
    now = [START]
    services = await create_services(
        config, content=content, clock=lambda: now[0], database=str(folder / "db.sqlite3")
    )
    fake = FakeTelegram()
    app = await start_app(services, fake)
    try:
        people: dict[int, Person] = {}

        def person(user_id: int) -> Person:
            if user_id not in people:
                people[user_id] = Person(app, fake, user_id=user_id, language_code="nb")
            return people[user_id]

        for reg in (r for r in regs if not r.today):
            await register(person(reg.user_id), reg, content)
        now[0] += DAY
        for reg in (r for r in regs if r.today):
            await register(person(reg.user_id), reg, content)
        for user_id in (COORDINATOR, OFFICE, ADMIN):
            person(user_id)
        return await insider_session(people, content)
    finally:
        await stop_app(app)


@pytest.fixture
def shared_faq(faq_index: FaqIndex, monkeypatch: pytest.MonkeyPatch) -> FaqIndex:
    """Every world shares one FAQ index (pure, and slow to build)."""
    monkeypatch.setattr(bot.composition, "FaqIndex", lambda _for_content: faq_index)
    return faq_index


PAIRS = {
    "kind of group in a small place": (
        (Reg(KARI, "lyngen", "grief", "evening", "yes"),),
        (Reg(KARI, "lyngen", "anxiety", "evening", "yes"),),
    ),
    "kind of group that would make the place homogeneous": (
        (Reg(KARI, "lyngen", "open", "evening", "yes"),),
        (Reg(KARI, "lyngen", "relatives_addiction", "evening", "yes"),),
    ),
    "time of day in a small place": (
        (Reg(KARI, "lyngen", "open", "day", "yes"),),
        (Reg(KARI, "lyngen", "open", "evening", "yes"),),
    ),
    "contact choice in a small place": (
        (Reg(KARI, "lyngen", "open", "day", "yes"),),
        (Reg(KARI, "lyngen", "open", "day", "no"),),
    ),
    "contact choice where many wait": (
        (Reg(KARI, "tromso", "open", "day", "yes"),),
        (Reg(KARI, "tromso", "open", "day", "no"),),
    ),
    "registered today or not at all (small place)": (
        (Reg(KARI, "lyngen", "grief", "day", "yes", today=True),),
        (),
    ),
    "registered today or not at all (where many wait)": (
        (Reg(KARI, "tromso", "anxiety", "evening", "yes", today=True),),
        (),
    ),
    "the coordinator pads Lyngen with their own registration": (
        (Reg(COORDINATOR, "lyngen", "grief", "day", "yes"),),
        (),
    ),
}


@pytest.mark.usefixtures("shared_faq")
@pytest.mark.parametrize("pair", list(PAIRS), ids=list(PAIRS))
async def test_two_worlds_differing_in_one_hidden_person_look_the_same(
    pair: str, tmp_path: Path, content: Content
) -> None:
    extra_a, extra_b = PAIRS[pair]
    a = await world(tmp_path, content, (*BASE, *extra_a), "a")
    b = await world(tmp_path, content, (*BASE, *extra_b), "b")
    assert len(a) > 20  # the session really ran: digests, audiences, previews
    for i, (seen_a, seen_b) in enumerate(zip(a, b, strict=True)):
        assert seen_a == seen_b, (i, seen_a, seen_b)


@pytest.mark.usefixtures("shared_faq")
async def test_a_visible_difference_is_seen_so_the_test_can_fail(
    tmp_path: Path, content: Content
) -> None:
    """Control: one more person in Tromsø yesterday (7 -> 8 waiting) must show."""
    a = await world(tmp_path, content, BASE, "a")
    b = await world(tmp_path, content, (*BASE, Reg(KARI, "tromso", "open", "day", "yes")), "b")
    assert a != b
