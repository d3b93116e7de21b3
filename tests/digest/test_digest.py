"""Coordinator digests: the figures and their small-count suppression on crafted data, /digest
through the application, and weekly digests enqueued exactly once across a restart."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import pytest

import bot.composition
from bot.answers.faq_index import FaqIndex
from bot.composition import create_services
from bot.config import Config
from bot.content import Content
from bot.digest import handlers as digest_handlers
from bot.digest.figures import (
    FEW,
    HIDDEN,
    DigestData,
    PlaceFigures,
    count_places,
    digest_sections,
    pack,
    place_figures,
    primary,
    sparkline,
    trend_points,
)
from bot.digest.weekly import campaign_name, enqueue_weekly_digests, recipients
from bot.roles.lookup import Roles
from bot.services import Services
from bot.storage import (
    EventTally,
    OutboxRow,
    Registration,
    RegistrationCell,
    RoleGrant,
    Storage,
)
from bot.weeks import DAY, digest_moment, week_index
from tests.support import App, Person, PersonFactory

LYNGEN_COORDINATOR = 100000002
ALTA_COORDINATOR = 100000003
NORD_NORGE_OFFICE = 100000004
ADMIN = 100000001
NOW = 1_795_000_000.0  # a Thursday in November 2026
WEEK = week_index(NOW, "Europe/Oslo")
NB = "nb"


def cell(
    muni: str,
    n: int,
    kind: str = "open",
    time: str = "day",
    region: str = "nord-norge",
    long: int = 0,
) -> RegistrationCell:
    return RegistrationCell(region, muni, kind, time, n, long)


def tally(muni: str, week: int, kind: str, n: int, region: str = "nord-norge") -> EventTally:
    return EventTally(muni, region, week, kind, n)


def figures_of(
    config: Config, cells: list[RegistrationCell], tallies: list[EventTally], muni: str = "Lyngen"
) -> PlaceFigures:
    counts = count_places(cells, tallies)[("nord-norge", muni)]
    return place_figures(("nord-norge", muni), counts, config, WEEK)


def text_for(
    content: Content,
    config: Config,
    roles: Roles,
    cells: list[RegistrationCell],
    tallies: Sequence[EventTally] = (),
    lang: str = NB,
) -> str:
    data = DigestData(count_places(cells, tallies), frozenset({"Lyngen", "Alta"}), WEEK)
    return "\n\n".join(digest_sections(content, config, lang, data, roles))


LYNGEN = Roles(municipalities=frozenset({"Lyngen"}))


# --- pure: figures and suppression -----------------------------------------------------------


def test_primary_suppression_keeps_zero_and_counts_from_the_threshold() -> None:
    assert [primary(n, 3) for n in range(5)] == [0, FEW, FEW, 3, 4]
    assert primary(4, 5) == FEW


def test_trend_is_derived_backwards_from_todays_count() -> None:
    new = {WEEK: 2, WEEK - 1: 3, WEEK - 5: 4}
    gone = {WEEK - 1: 1, WEEK - 3: 2}
    points = trend_points(10, new, gone, WEEK)
    # ends of weeks W-7..W-1, then now: going back, undo each later week's net change
    assert points == [4, 4, 8, 8, 6, 6, 8, 10]
    assert len(points) == 8


def test_exact_figures_when_every_count_is_large_enough(config: Config) -> None:
    cells = [
        cell("Lyngen", 4, "open", "day", long=3),
        cell("Lyngen", 3, "grief", "evening"),
    ]
    tallies = [tally("Lyngen", WEEK - 1, "new", 4), tally("Lyngen", WEEK - 1, "withdrawn", 3)]
    f = figures_of(config, cells, tallies)
    assert f.waiting == 7
    assert f.by_kind == (("open", 4), ("grief", 3))
    assert f.by_time == (("day", 4), ("evening", 3))
    assert f.by_wait == (("long", 3), ("recent", 4))
    assert f.trend[-3:] == (6, 7, 7)
    assert f.ready is True  # 7 wait; how many accept messages is never a condition


def test_a_breakdown_with_a_small_cell_is_dropped_so_subtraction_reveals_nothing(
    config: Config, content: Content
) -> None:
    """7 wait: 5 want an open group, 2 grief. Showing "open 5" beside the total 7 would give
    the hidden 2 away, so the whole kind-of-group breakdown goes; time of day stays."""
    cells = [
        cell("Lyngen", 3, "open", "day"),
        cell("Lyngen", 2, "open", "evening"),
        cell("Lyngen", 1, "grief", "day"),
        cell("Lyngen", 1, "grief", "evening"),
    ]
    f = figures_of(config, cells, [])
    assert f.waiting == 7
    assert f.by_kind is None
    assert f.by_time == (("day", 4), ("evening", 3))
    text = text_for(content, config, LYNGEN, cells)
    assert "Venter nå: 7" in text
    assert "Type gruppe: skjult av personvernhensyn" in text
    assert "blandet gruppe 5" not in text
    assert "Sorg" not in text
    assert "Tidspunkt: dagtid 4 · kveld 3" in text


def test_a_breakdown_where_everyone_shares_one_cell_is_hidden(
    config: Config, content: Content
) -> None:
    """All 3 waiting want a grief group in the evening: showing it would tell the coordinator
    something about each one of them (and a shared contact would reveal that person's theme)."""
    cells = [cell("Lyngen", 3, "grief", "evening")]
    f = figures_of(config, cells, [])
    assert f.waiting == 3
    assert (f.by_kind, f.by_time, f.by_wait) == (None, None, None)
    text = text_for(content, config, LYNGEN, cells)
    assert "Sorg" not in text
    assert "kveld" not in text


def test_no_weekly_new_or_withdrawn_figures_are_shown(config: Config, content: Content) -> None:
    """New and withdrawn are not shown at all (rule 3): the trend carries the net change."""
    cells = [cell("Lyngen", 9)]
    tallies = [tally("Lyngen", WEEK - 1, "new", 4), tally("Lyngen", WEEK - 1, "withdrawn", 1)]
    text = text_for(content, config, LYNGEN, cells, tallies)
    assert "nye" not in text
    assert "trukket tilbake" not in text
    assert figures_of(config, cells, tallies).trend[-3:] == (6, 9, 9)


def test_small_waiting_count_shows_no_details(config: Config, content: Content) -> None:
    cells = [cell("Lyngen", 2, long=2)]
    f = figures_of(config, cells, [])
    assert f.waiting == FEW
    assert f.ready is False
    assert (f.by_kind, f.by_time, f.by_wait) == ((), (), ())
    text = text_for(content, config, LYNGEN, cells)
    assert "Venter nå: færre enn 3" in text
    assert "Ventetid" not in text
    assert "40" not in text


def test_ready_signal_depends_on_the_waiting_count_only(config: Config) -> None:
    """Whether a newcomer accepts messages must not flip the signal (it would reveal them):
    contact choices are not even part of the counts."""
    ready = [cell("Lyngen", 1), cell("Lyngen", 4, "grief")]
    assert figures_of(config, ready, []).ready is True
    short = [cell("Lyngen", 4)]
    assert figures_of(config, short, []).ready is False
    # never speaks of a count below the threshold: with min_count 6, 5 waiting is not enough
    strict = dataclasses.replace(config, min_count=6)
    assert figures_of(strict, ready, []).ready is False


def test_sparkline_marks_small_and_hidden_points() -> None:
    assert sparkline([0, 4, 8, FEW, HIDDEN, 8]) == "▁▅█░·█"
    assert sparkline([FEW, FEW]) == "░░"


def test_unknown_kinds_are_counted_as_other(config: Config) -> None:
    cells = [cell("Lyngen", 3, "open"), cell("Lyngen", 4, "retired_theme")]
    f = figures_of(config, cells, [])
    assert f.by_kind == (("open", 3), ("other", 4))


def test_interest_without_a_coordinator_goes_to_the_office_and_admins(
    config: Config, content: Content
) -> None:
    cells = [
        cell("Lyngen", 6),
        cell("Vadsø", 4),
        cell("", 2),  # "my municipality is not listed" in Nord-Norge
        cell("Oslo", 3, region="oslo"),
    ]
    office = text_for(content, config, Roles(regions=frozenset({"nord-norge"})), cells)
    assert "Interesse i Nord-Norge" in office
    assert "• Lyngen: 6 venter" in office
    assert "Interesse uten koordinator" in office
    assert "• Vadsø: 4 venter" in office
    assert "• kommune som ikke er på listen (Nord-Norge): færre enn 3 venter" in office
    assert "Oslo" not in office
    admin = text_for(content, config, Roles(admin=True), cells, lang="en")
    assert "Interest without a coordinator" in admin
    assert "• Oslo: 3 waiting" in admin
    assert "• Vadsø: 4 waiting" in admin
    assert "Lyngen" not in admin  # covered: the admin digest lists where to recruit
    coordinator = text_for(content, config, LYNGEN, cells)
    assert "Vadsø" not in coordinator
    assert "Oslo" not in coordinator
    assert "uten koordinator" not in coordinator


def test_long_digests_are_split_into_messages() -> None:
    parts = pack(["a" * 3000, "b" * 900, "c" * 200])
    assert [len(p) for p in parts] == [3902, 200]


# --- /digest through the application -----------------------------------------------------------


@pytest.fixture
def digest_app(app: App) -> App:
    """The app with /digest registered (first among private commands, as bot.composition
    should)."""
    group = app.handlers.setdefault(0, [])
    if not any(h in group for h in digest_handlers.HANDLERS):
        group[0:0] = digest_handlers.HANDLERS
    return app


async def register(storage: Storage, n: int, muni: str, week: int = WEEK, **kw: object) -> None:
    region = "oslo" if muni == "Oslo" else "nord-norge"
    for i in range(n):
        reg = Registration(
            user_key=f"{muni}-{i}-{week}",
            municipality=muni,
            region_id=region,
            group_kind=str(kw.get("kind", "open")),
            time_pref="evening",
            contact_ok=bool(kw.get("contact", True)),
            created_at=int(NOW) - 2 * 7 * DAY,
            updated_at=int(NOW),
            expires_at=int(NOW) + 180 * DAY,
            reminded_at=None,
        )
        await storage.save_registration(reg, week)


@pytest.mark.usefixtures("digest_app")
async def test_lyngen_coordinator_never_sees_alta(
    services: Services, person_factory: PersonFactory
) -> None:
    await register(services.storage, 6, "Lyngen")
    await register(services.storage, 7, "Alta")
    await register(services.storage, 4, "Vadsø")
    lyngen = person_factory(user_id=LYNGEN_COORDINATOR)
    turn = await lyngen.say("/digest")
    assert "📍 Lyngen" in turn.text
    assert "Venter nå: 6" in turn.text
    assert "Alta" not in turn.text
    assert "Vadsø" not in turn.text
    assert "/invitation" in turn.text  # 6 who accept messages wait: a group could start
    alta = person_factory(user_id=ALTA_COORDINATOR, language_code="en")
    turn = await alta.say("/digest")
    assert "📍 Alta" in turn.text
    assert "Waiting now: 7" in turn.text
    assert "Lyngen" not in turn.text


@pytest.mark.usefixtures("digest_app")
async def test_digest_is_for_role_holders_only_and_checked_every_time(
    services: Services, person: Person, person_factory: PersonFactory
) -> None:
    await register(services.storage, 6, "Alta")
    unknown = await person.say("/nosuchcommand")
    refused = await person.say("/digest")
    assert refused.texts == unknown.texts
    assert refused.first.buttons == unknown.first.buttons
    # a coordinator made through an invite link: allowed while the grant exists
    granted = person_factory(user_id=5555)
    key = services.user_key(5555)
    chat = services.cipher.encrypt(5555, key)
    await services.storage.grant_role(RoleGrant(key, "coordinator", "Alta", chat, int(NOW)))
    assert "📍 Alta" in (await granted.say("/digest")).text
    await services.storage.revoke_role(key, "coordinator", "Alta")
    assert (await granted.say("/digest")).texts == unknown.texts


@pytest.mark.usefixtures("digest_app")
async def test_digest_in_a_group_chat_reveals_nothing(
    services: Services, person_factory: PersonFactory
) -> None:
    await register(services.storage, 6, "Lyngen")
    in_group = person_factory(user_id=LYNGEN_COORDINATOR, chat_id=-100, chat_type="group")
    turn = await in_group.say("/digest")
    assert "Lyngen" not in turn.text
    assert "6" not in turn.text


# --- weekly digests: exactly once ----------------------------------------------------------


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


OpenServices = Callable[[Clock], Awaitable[Services]]


@pytest.fixture
def open_services(
    config: Config,
    database: Path,
    content: Content,
    faq_index: FaqIndex,
    monkeypatch: pytest.MonkeyPatch,
) -> OpenServices:
    """Services on one database file with an injected clock; call again to "restart"."""
    monkeypatch.setattr(bot.composition, "FaqIndex", lambda _content: faq_index)

    async def make(clock: Clock) -> Services:
        return await create_services(config, content=content, clock=clock, database=str(database))

    return make


@pytest.fixture
async def clock_services(
    config: Config, open_services: OpenServices
) -> AsyncIterator[tuple[Clock, Services]]:
    clock = Clock(digest_moment(WEEK, config) - 60)
    services = await open_services(clock)
    try:
        yield clock, services
    finally:
        await services.storage.close()


async def outbox(services: Services, campaign: str) -> dict[str, OutboxRow]:
    rows = await services.storage.due_outbox(float("inf"), 1000)
    return {r.recipient: r for r in rows if r.campaign == campaign}


async def test_weekly_digest_is_enqueued_once_after_the_moment_even_across_a_restart(
    clock_services: tuple[Clock, Services], open_services: OpenServices
) -> None:
    clock, services = clock_services
    await register(services.storage, 6, "Lyngen", WEEK - 1)
    await services.storage.set_language(services.user_key(ALTA_COORDINATOR), "en")
    assert await enqueue_weekly_digests(services) == 0  # a minute too early
    clock.now += 120
    people = await recipients(services)
    assert len(people) == 4  # admin, two coordinators, the office
    assert await enqueue_weekly_digests(services) == 4
    assert await enqueue_weekly_digests(services) == 0  # the next tick
    rows = await outbox(services, campaign_name(WEEK))
    lyngen_key = services.user_key(LYNGEN_COORDINATOR)
    lyngen = rows[lyngen_key]
    assert services.cipher.decrypt(lyngen.chat_enc, lyngen_key) == LYNGEN_COORDINATOR
    text = lyngen.payload["text"]
    assert "📍 Lyngen" in text
    assert "Venter nå: 6" in text
    assert "Alta" not in text
    assert "Waiting now: 0" in rows[services.user_key(ALTA_COORDINATOR)].payload["text"]
    await services.storage.close()

    # Restart: new services on the same database file, later the same week.
    clock.now += 2 * DAY
    restarted = await open_services(clock)
    try:
        assert await enqueue_weekly_digests(restarted) == 0
        assert len(await outbox(restarted, campaign_name(WEEK))) == 4
        # next week: a new campaign, once
        clock.now = digest_moment(WEEK + 1, restarted.config) + 1
        assert await enqueue_weekly_digests(restarted) == 4
        assert await enqueue_weekly_digests(restarted) == 0
    finally:
        await restarted.storage.close()


async def test_a_digest_missed_while_down_goes_out_when_the_bot_returns(
    clock_services: tuple[Clock, Services],
) -> None:
    clock, services = clock_services
    clock.now += 3 * DAY  # the bot was down over the moment; back on Thursday
    assert await enqueue_weekly_digests(services) == 4
    granted_key = services.user_key(7777)
    chat = services.cipher.encrypt(7777, granted_key)
    await services.storage.grant_role(RoleGrant(granted_key, "coordinator", "Oslo", chat, 1))
    assert await enqueue_weekly_digests(services) == 0  # the week's digests are done
    clock.now = digest_moment(WEEK + 1, services.config)
    assert await enqueue_weekly_digests(services) == 5  # now with the granted coordinator
    rows = await outbox(services, campaign_name(WEEK + 1))
    assert rows[granted_key].chat_enc == chat
    assert "📍 Oslo" in rows[granted_key].payload["text"]
