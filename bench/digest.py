"""Speed of building every weekly digest from a large database.

    python -m bench.digest [--registrations N] [--runs R]   prints one final line:
    digest registrations=N coordinators=C build_ms=X

A temporary database gets N registrations (default 100,000) spread over the configured
municipalities plus synthetic ones, so that 100 coordinators each cover one; a few places stay
uncovered so the office's and admin's "interest without a coordinator" sections have work too.
build_ms is the median over R runs of `build_weekly_digests`: finding every recipient, reading
the aggregates, applying suppression and writing every digest in its recipient's language
(enqueueing is not timed). Target: under 1000 ms.

Seeding writes rows with plain sqlite3 into the schema Storage created: going through
`save_registration` one resident at a time would take minutes and measure something else.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bot.composition import create_services
from bot.config import Config, parse_config
from bot.digest.weekly import build_weekly_digests
from bot.storage import Storage
from bot.weeks import DAY, digest_moment, week_index

ROOT = Path(__file__).resolve().parent.parent
COORDINATORS = 100
UNCOVERED = 10  # synthetic municipalities nobody covers
RUNS = 5
NOW = 1_795_000_000.0


def synthetic_config(data_dir: Path) -> Config:
    """config.yaml plus synthetic municipalities, with one coordinator for each of 100."""
    raw: dict[str, Any] = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    configured = sum(len(r["municipalities"]) for r in raw["regions"])
    extra = COORDINATORS + UNCOVERED - configured
    raw["regions"].append(
        {
            "id": "syntetisk",
            "name": "Syntetisk",
            "office": "Syntetisk kontor",
            "municipalities": [
                {"name": f"Syntetisk {i:03d}", "code": f"syn-{i:03d}"} for i in range(extra)
            ],
        }
    )
    names = [m["name"] for r in raw["regions"] for m in r["municipalities"]]
    raw["roles"]["coordinators"] = [
        {"user_id": 200_000_000 + i, "municipalities": [name]}
        for i, name in enumerate(names[:COORDINATORS])
    ]
    # The key inside the temporary folder, so it goes with it (not beside it, the default).
    key_file = data_dir / "key" / "secret.key"
    env = {"SELVHJELP_DATA_DIR": str(data_dir), "SELVHJELP_KEY_FILE": str(key_file)}
    return parse_config(raw, env, "bench config")


def seed(path: Path, config: Config, registrations: int) -> None:
    """Registrations spread over every place (and 'not listed'), plus 8 weeks of tallies."""
    rng = random.Random(7)
    places = [(m.region_id, m.name) for m in config.municipalities]
    places += [(r.id, "") for r in config.regions]
    kinds = ("open", *config.themes, "any")
    times = ("day", "evening", "either")
    now = int(NOW)
    rows = []
    for i in range(registrations):
        region_id, name = rng.choice(places)
        created = now - rng.randrange(180 * DAY)
        rows.append(
            (f"bench-{i:06d}", name, region_id, rng.choice(kinds), rng.choice(times),
             int(rng.random() < 0.7), created, created, created + 180 * DAY, None)
        )  # fmt: skip
    week = week_index(NOW, config.timezone)
    tallies = [
        (name, region_id, w, kind, rng.randrange(0, 40))
        for region_id, name in places
        for w in range(week - 8, week + 1)
        for kind in ("new", "withdrawn", "expired")
    ]
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO registrations (user_key, municipality, region_id, group_kind,"
            " time_pref, contact_ok, created_at, updated_at, expires_at, reminded_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.executemany(
            "INSERT INTO registration_events (municipality, region_id, week, kind, n)"
            " VALUES (?, ?, ?, ?, ?)",
            tallies,
        )


async def run(registrations: int, runs: int) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        config = synthetic_config(Path(tmp))
        database = Path(tmp) / "bench.sqlite3"
        storage = await Storage.open(database, lambda: NOW)  # creates the schema
        await storage.close()
        seed(database, config, registrations)
        now = digest_moment(week_index(NOW, config.timezone), config) + 60
        services = await create_services(config, clock=lambda: now, database=str(database))
        try:
            timings = []
            count = 0
            for _ in range(runs + 1):  # the first run warms caches and is not counted
                start = time.perf_counter()
                digests = await build_weekly_digests(services)
                timings.append((time.perf_counter() - start) * 1000)
                count = len(digests)
            print(f"built {count} digests; runs_ms={[round(t, 1) for t in timings[1:]]}")
            return len(config.coordinators), statistics.median(timings[1:])
        finally:
            await services.storage.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.digest")
    parser.add_argument("--registrations", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    coordinators, build_ms = asyncio.run(run(args.registrations, args.runs))
    print(
        f"digest registrations={args.registrations} coordinators={coordinators}"
        f" build_ms={build_ms:.0f}"
    )


if __name__ == "__main__":
    main()
