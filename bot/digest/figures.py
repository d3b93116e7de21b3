"""Coordinator digests (pure): a day's snapshot in, figures and text out.

What a digest shows per municipality: people waiting; the breakdown by kind of group, by time
of day and by how long people have waited (more or less than 8 weeks); the waiting count at the
end of each of the last seven weeks plus now; and whether enough people wait to start a group.
Offices see their region, admins every place, with the places no coordinator covers ("interest
without a coordinator") singled out. The counts come from the day's snapshot
(bot.digest.snapshots):
fixed for the whole day, without today's registrations and without role holders' own, so no
two looks on one day differ and no registration can be timed closer than its day.

Small counts (N = config.min_count). These rules are the privacy promise (docs/THREAT_MODEL.md);
tests pin each one, and tests/digest/test_differential_privacy.py checks that worlds differing in
one
hidden person look the same:
1. Primary suppression: a count from 1 to N-1 is shown as "fewer than N". 0 and counts of N or
   more are exact.
2. Breakdowns (kind of group, time of day, length of wait) add up to the waiting count above
   them. A breakdown is shown only under an exact waiting count, when every non-empty cell has
   at least N people AND at least two cells are non-empty: a suppressed cell would follow from
   the total minus the others, and a breakdown with one cell says something about every single
   person waiting (that they all want the same). Otherwise the whole breakdown is hidden.
3. No weekly "new" or "withdrawn" figures: next to the trend they could only ever be shown in
   weeks where they reveal nothing, and hiding them was undone by padding and by later weeks.
4. Trend: every point follows rule 1. Two neighbouring exact points show the week's net change
   in a place where at least N wait; that much is accepted (never who, never which answers).
5. "A group could start": said only under an exact waiting count of at least
   max(ready_at, N). It depends on the waiting count alone (not on how many accept messages,
   which would reveal one newcomer's contact choice when it flips).
6. No total is ever shown across places, so no place's figure follows from a sum.
7. Poster links: how many people started the bot with a place's poster link in the reported
   week, each person once a week and role holders never (bot.poster.link_stats: repeats are told
   apart only by a keyed hash under a random weekly key kept in memory, deleted with the
   week; several accounts of one person still count several times). Rule 1 applies.
   No other figure adds up with it (a start is not a registration), so nothing beside it needs
   hiding. Coordinators see it for their places; offices and admins a list of the places in
   their regions (all, for admins) where the link was used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from bot.config import Config
from bot.content import Content
from bot.records import EventTally, RegistrationCell
from bot.roles.lookup import Roles
from bot.weeks import DAY, week_monday

FEW: Final = "few"  # a count from 1 to N-1 (rule 1)
HIDDEN: Final = "hidden"  # withheld so that subtraction reveals nothing (rules 2-4)
Figure = int | Literal["few", "hidden"]
Place = tuple[str, str]  # (region id, municipality name); '' = "my municipality is not listed"

TREND_WEEKS = 8  # points in the trend: the end of the last seven weeks, and now
WEEK_SECONDS = 7 * DAY
TIMES = ("day", "evening", "either")
WAITS = ("long", "recent")  # waited longer than 8 weeks, or not
OTHER = "other"  # a kind or time no longer in config.yaml: counted, so breakdowns still add up
BARS = "▁▂▃▄▅▆▇█"
FEW_MARK = "░"
HIDDEN_MARK = "·"
MESSAGE_LIMIT = 4000  # Telegram allows 4096 characters per message


@dataclass
class PlaceCounts:
    """Exact counts for one place (never shown as they are: see `place_figures`)."""

    waiting: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_time: dict[str, int] = field(default_factory=dict)
    long: int = 0  # of them, waiting longer than bot.digest.snapshots.LONG_WAIT_WEEKS
    new: dict[int, int] = field(default_factory=dict)  # week -> registrations added
    gone: dict[int, int] = field(default_factory=dict)  # week -> withdrawn or expired


@dataclass(frozen=True)
class PlaceFigures:
    """What may be shown about one place, after every suppression rule."""

    place: Place
    waiting: Figure
    by_kind: tuple[tuple[str, Figure], ...] | None  # None: hidden (rule 2); () nothing to show
    by_time: tuple[tuple[str, Figure], ...] | None
    by_wait: tuple[tuple[str, Figure], ...] | None
    trend: tuple[Figure, ...]  # oldest first; the last point is now
    ready: bool


@dataclass(frozen=True)
class DigestData:
    """Everything all digests of one moment are built from."""

    counts: Mapping[Place, PlaceCounts]
    covered: frozenset[str]  # municipalities some coordinator covers
    week: int  # the snapshot's week; the poster-link figure reports on week - 1
    link_starts: Mapping[Place, int] = field(default_factory=dict)  # in week - 1 (rule 7)


def count_places(
    cells: Iterable[RegistrationCell], tallies: Iterable[EventTally]
) -> dict[Place, PlaceCounts]:
    """Sum the storage rows per place."""
    places: dict[Place, PlaceCounts] = {}
    for c in cells:
        p = places.setdefault((c.region_id, c.municipality), PlaceCounts())
        p.waiting += c.n
        p.by_kind[c.group_kind] = p.by_kind.get(c.group_kind, 0) + c.n
        p.by_time[c.time_pref] = p.by_time.get(c.time_pref, 0) + c.n
        p.long += c.n_long
    for t in tallies:
        p = places.setdefault((t.region_id, t.municipality), PlaceCounts())
        into = p.new if t.kind == "new" else p.gone
        into[t.week] = into.get(t.week, 0) + t.n
    return places


def primary(n: int, min_count: int) -> Figure:
    """Rule 1: exact if 0 or at least `min_count`, else FEW."""
    return n if n == 0 or n >= min_count else FEW


def trend_points(
    waiting: int, new: Mapping[int, int], gone: Mapping[int, int], week: int
) -> list[int]:
    """Waiting at the end of weeks week-7 .. week-1, then now: each week's end is the next
    point minus that next week's new plus its withdrawn and expired."""
    points = [waiting]
    level = waiting
    for w in range(week, week - TREND_WEEKS + 1, -1):
        level -= new.get(w, 0) - gone.get(w, 0)
        points.append(max(level, 0))
    return points[::-1]


def breakdown(
    counts: Mapping[str, int], order: Sequence[str], min_count: int
) -> tuple[tuple[str, Figure], ...] | None:
    """Non-empty cells in `order` (unknown keys summed as OTHER), or None when rule 2 hides
    the breakdown: a cell below `min_count`, or fewer than two non-empty cells."""
    cells = {key: counts.get(key, 0) for key in order}
    other = sum(n for key, n in counts.items() if key not in cells)
    if other:
        cells[OTHER] = other
    shown = [(key, n) for key, n in cells.items() if n]
    if len(shown) < 2 or any(n < min_count for _, n in shown):
        return None
    return tuple(shown)


def place_figures(place: Place, counts: PlaceCounts, config: Config, week: int) -> PlaceFigures:
    """Apply rules 1, 2, 4 and 5 to one place's counts from the day's snapshot."""
    n = config.min_count
    waiting = primary(counts.waiting, n)
    exact_waiting = isinstance(waiting, int)
    trend = tuple(
        primary(p, n) for p in trend_points(counts.waiting, counts.new, counts.gone, week)
    )
    kinds: tuple[tuple[str, Figure], ...] | None = ()
    times: tuple[tuple[str, Figure], ...] | None = ()
    waits: tuple[tuple[str, Figure], ...] | None = ()
    if exact_waiting and counts.waiting:
        kinds = breakdown(counts.by_kind, ("open", *config.themes, "any"), n)
        times = breakdown(counts.by_time, TIMES, n)
        waits = breakdown({"long": counts.long, "recent": counts.waiting - counts.long}, WAITS, n)
    ready = exact_waiting and counts.waiting >= max(config.ready_at, n)
    return PlaceFigures(place, waiting, kinds, times, waits, trend, ready)


def sparkline(points: Sequence[Figure]) -> str:
    """A one-line chart: bar height relative to the largest exact point; ░ fewer than N,
    · hidden."""
    top = max((p for p in points if isinstance(p, int)), default=0)
    marks = []
    for p in points:
        if p == FEW:
            marks.append(FEW_MARK)
        elif not isinstance(p, int):
            marks.append(HIDDEN_MARK)
        elif p == 0 or top == 0:
            marks.append(BARS[0])
        else:
            marks.append(BARS[max(1, round(p / top * (len(BARS) - 1)))])
    return "".join(marks)


def iso_week_number(week: int) -> int:
    return week_monday(week).isocalendar()[1]


def place_order(config: Config, places: Iterable[Place]) -> list[Place]:
    """Config order: regions, their municipalities, then 'not listed'; unknown names last."""
    rank: dict[Place, tuple[int, int, str]] = {}
    for ri, region in enumerate(config.regions):
        for mi, m in enumerate(region.municipalities):
            rank[(region.id, m.name)] = (ri, mi, "")
        rank[(region.id, "")] = (ri, len(region.municipalities), "")
    region_rank = {r.id: i for i, r in enumerate(config.regions)}
    return sorted(
        places, key=lambda p: rank.get(p, (region_rank.get(p[0], len(region_rank)), 10**6, p[1]))
    )


def is_uncovered(place: Place, covered: frozenset[str]) -> bool:
    return place[1] == "" or place[1] not in covered


class DigestWriter:
    """Turns figures into text in one language (content keys under `digest.`)."""

    def __init__(self, content: Content, config: Config, lang: str, data: DigestData) -> None:
        self.content = content
        self.config = config
        self.lang = lang
        self.data = data

    def t(self, key: str, **values: object) -> str:
        return self.content.text(self.lang, f"digest.{key}", **values)

    def figure(self, fig: Figure) -> str:
        if fig == FEW:
            return self.content.text(self.lang, "counts.fewer_than", n=self.config.min_count)
        if fig == HIDDEN:
            return self.t("hidden")
        return str(fig)

    def place_name(self, place: Place) -> str:
        region_id, name = place
        if name:
            return name
        region = self.config.region(region_id)
        if region is None:  # a place outside the configured regions ("elsewhere in Norway")
            elsewhere = self.content.text(self.lang, "interest.elsewhere")
            return self.t("not_listed", region=elsewhere)
        return self.t("not_listed", region=region.name)

    def label(self, axis: str, key: str) -> str:
        if axis == "kind" and key not in ("open", "any", OTHER):
            theme_key = f"interest.theme.{key}"
            return (
                self.content.text(self.lang, theme_key)
                if self.content.has(self.lang, theme_key)
                else key
            )
        return self.t(f"{axis}.{key}")

    def cells(self, axis: str, cells: tuple[tuple[str, Figure], ...]) -> str:
        return " · ".join(
            self.t("cell", label=self.label(axis, key), count=self.figure(fig))
            for key, fig in cells
        )

    def figures(self, place: Place) -> PlaceFigures:
        counts = self.data.counts.get(place, PlaceCounts())
        return place_figures(place, counts, self.config, self.data.week)

    def place_block(self, place: Place) -> str:
        """The full section for one municipality a coordinator covers."""
        f = self.figures(place)
        week = iso_week_number(self.data.week - 1)
        lines = [self.t("place", place=self.place_name(place))]
        lines.append(self.t("waiting", count=self.figure(f.waiting)))
        lines.append(self.t("link_starts", week=week, count=self.figure(self.link_figure(place))))
        for axis, cells in (("kind", f.by_kind), ("time", f.by_time), ("wait", f.by_wait)):
            if cells is None:
                lines.append(self.t(f"{axis}s_hidden"))
            elif cells:
                lines.append(self.t(f"{axis}s", cells=self.cells(axis, cells)))
        lines.append(
            self.t(
                "trend",
                chart=sparkline(f.trend),
                first=self.figure(f.trend[0]),
                last=self.figure(f.trend[-1]),
            )
        )
        if f.ready:
            lines.append(
                self.t("ready", ready_at=max(self.config.ready_at, self.config.min_count))
            )
        return "\n".join(lines)

    def link_figure(self, place: Place) -> Figure:
        """Rule 7: the reported week's poster-link starts, rule 1 applied."""
        return primary(self.data.link_starts.get(place, 0), self.config.min_count)

    def links_block(self, region_ids: frozenset[str] | None) -> str:
        """Places (in the regions, or all) whose poster link was used in the reported week."""
        week = iso_week_number(self.data.week - 1)
        places = place_order(
            self.config,
            (
                p
                for p, n in self.data.link_starts.items()
                if n and (region_ids is None or p[0] in region_ids)
            ),
        )
        lines = [
            self.t("link_line", place=self.place_name(p), count=self.figure(self.link_figure(p)))
            for p in places
        ] or [self.t("links_none")]
        return "\n".join((self.t("links_title", week=week), *lines, self.t("links_note")))

    def place_line(self, place: Place) -> str:
        """One line for a place in an office's or admin's overview."""
        f = self.figures(place)
        key = "line_ready" if f.ready else "line"
        return self.t(key, place=self.place_name(place), count=self.figure(f.waiting))

    def waiting_places(self, region_ids: frozenset[str] | None) -> list[Place]:
        return place_order(
            self.config,
            (
                p
                for p, c in self.data.counts.items()
                if c.waiting and (region_ids is None or p[0] in region_ids)
            ),
        )

    def uncovered_block(self, region_ids: frozenset[str] | None) -> str:
        places = [p for p in self.waiting_places(region_ids) if is_uncovered(p, self.data.covered)]
        if not places:
            return "\n".join((self.t("uncovered_title"), self.t("uncovered_none")))
        return "\n".join(
            (
                self.t("uncovered_title"),
                *(self.place_line(p) for p in places),
                self.t("uncovered_hint"),
            )
        )

    def region_block(self, region_id: str) -> str:
        region = self.config.region(region_id)
        title = self.t("region_title", region=region.name if region else region_id)
        places = [
            p
            for p in self.waiting_places(frozenset({region_id}))
            if not is_uncovered(p, self.data.covered)
        ]
        lines = [self.place_line(p) for p in places] or [self.t("region_none")]
        return "\n".join((title, *lines))

    def sections(self, roles: Roles) -> list[str]:
        """The digest as sections (each at most one message long)."""
        out = [self.t("title"), self.t("intro", week=iso_week_number(self.data.week - 1))]
        munis = [(m.region_id, m.name) for m in self.config.municipalities if roles.covers(m.name)]
        out.extend(self.place_block(p) for p in munis)
        regions = [r.id for r in self.config.regions if r.id in roles.regions]
        out.extend(self.region_block(r) for r in regions)
        if roles.admin:
            out.append(self.uncovered_block(None))
            out.append(self.links_block(None))
        elif regions:
            out.append(self.uncovered_block(frozenset(regions)))
            out.append(self.links_block(frozenset(regions)))
        elif munis:  # what the coordinator's poster-link line counts
            out.append(self.t("links_note"))
        out.append(self.t("footnote", n=self.config.min_count))
        return out


def digest_sections(
    content: Content, config: Config, lang: str, data: DigestData, roles: Roles
) -> list[str]:
    """One person's digest, as sections; it shows only places their roles cover."""
    return DigestWriter(content, config, lang, data).sections(roles)


def pack(sections: Sequence[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join sections into as few messages as fit Telegram's length limit."""
    messages: list[str] = []
    for section in sections:
        part = section[:limit]
        if messages and len(messages[-1]) + 2 + len(part) <= limit:
            messages[-1] += "\n\n" + part
        else:
            messages.append(part)
    return messages
