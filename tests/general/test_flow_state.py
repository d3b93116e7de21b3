"""One step-machine mechanism (bot.chat.steps) for every flow, and rows stored before it existed.

Each flow's state class reads the flow_state JSON the flows have always written, and writes the
very same JSON (same keys, same order, same bytes), so rows in deployed databases keep loading
and an older release could still read what this one writes.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.chat.steps import FlowStore
from bot.interest.rules import Draft
from bot.invitations.sending import InvitationDraft
from bot.meetings.announcements import AnnounceDraft, change_flow, next_step
from bot.records import Meeting
from bot.storage import Storage
from tests.support import ROOT

OLD_DATABASE = ROOT / "tests" / "data" / "db_2026-12-02.sqlite3"

# The announce flow's JSON as the code before bot.chat.steps wrote it, step by step.
ANNOUNCE_ROWS: list[dict[str, Any]] = [
    {"step": "title", "region": "nord-norge"},
    {"step": "when", "region": "nord-norge", "title": "Folkemøte"},
    {
        "step": "targets",
        "region": "nord-norge",
        "title": "Folkemøte",
        "starts_at": 1773334800,
        "place": "Lyngen bibliotek",
        "link": None,  # skipped
        "description": "Kom!",
    },
    {
        "step": "targets",
        "region": "nord-norge",
        "title": "Folkemøte",
        "starts_at": 1773334800,
        "place": "Lyngen bibliotek",
        "link": "https://example.org/m",
        "description": None,
        "targets": ["Lyngen"],  # a toggle pressed, not yet done
    },
    {
        "step": "place",
        "region": "nord-norge",
        "title": "Folkemøte",
        "starts_at": 1773334800,
        "place": "Lyngen bibliotek",
        "link": None,
        "description": None,
        "targets": ["Lyngen", "Tromsø"],
        "back": True,  # "change the place" from the preview
    },
    {  # a change to an announced meeting (change_flow)
        "step": "preview",
        "region": "nord-norge",
        "meeting_id": 7,
        "uid": "0b5c",
        "title": "Folkemøte",
        "starts_at": 1773334800,
        "place": "Lyngen bibliotek",
        "link": None,
        "description": None,
        "targets": ["Lyngen"],
        "back": True,
    },
]

INVITATION_ROWS: list[dict[str, Any]] = [
    {"step": "place"},
    {"step": "audience", "municipality": "Lyngen"},
    {"step": "text", "municipality": "Lyngen", "kind": None, "count": 12},
    {"step": "confirm", "municipality": "Lyngen", "kind": "angst", "count": "few", "text": "Hei"},
    {"step": "text", "municipality": "Lyngen", "kind": None, "count": 4, "text": "Hei"},  # rewrite
]

INTEREST_ROWS: list[dict[str, Any]] = [
    {"step": "entry", "edit": False},
    {
        "step": "contact",
        "region_id": "nord-norge",
        "municipality": "Lyngen",
        "kind": "angst",
        "time": "evening",
        "edit": False,
    },
]


def _bytes(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False)  # as bot.storage stores it


@pytest.mark.parametrize("row", ANNOUNCE_ROWS)
def test_announce_rows_of_today_load_and_are_written_back_byte_for_byte(
    row: dict[str, Any],
) -> None:
    draft = AnnounceDraft.from_dict(dict(row))
    assert _bytes(draft.to_dict()) == _bytes(row)


@pytest.mark.parametrize("row", INVITATION_ROWS)
def test_invitation_rows_of_today_load_and_are_written_back_byte_for_byte(
    row: dict[str, Any],
) -> None:
    draft = InvitationDraft.from_dict(dict(row))
    assert _bytes(draft.to_dict()) == _bytes(row)


@pytest.mark.parametrize("row", INTEREST_ROWS)
def test_interest_rows_of_today_load_and_are_written_back(row: dict[str, Any]) -> None:
    assert _bytes(Draft.from_dict(dict(row)).to_dict()) == _bytes(row)


def test_announce_steps_keep_the_shape_they_had() -> None:
    """Answering, skipping and changing produce the dicts the flow always stored."""
    draft = AnnounceDraft(step="title", region="nord-norge")
    assert draft.to_dict() == ANNOUNCE_ROWS[0]
    # The title typed: the flow moves on and stores the title.
    draft = replace(draft, title="Folkemøte")
    draft = replace(draft, step=next_step(draft))
    assert _bytes(draft.to_dict()) == _bytes(ANNOUNCE_ROWS[1])
    meeting = Meeting(
        id=7,
        uid="0b5c",
        office_key="k",
        office_chat=b"x",
        region_id="nord-norge",
        title="Folkemøte",
        starts_at=1773334800,
        place="Lyngen bibliotek",
        link=None,
        description=None,
        municipalities=("Lyngen",),
    )
    assert _bytes(change_flow(meeting).to_dict()) == _bytes(ANNOUNCE_ROWS[-1])


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    opened = await Storage.open(tmp_path / "flows.sqlite3", lambda: 1_770_000_000.0)
    yield opened
    await opened.close()


async def test_flow_store_reads_only_its_own_flow(storage: Storage) -> None:
    """A row written the old way loads; another flow's row is neither read nor ended."""
    await storage.set_flow("office", "announce", ANNOUNCE_ROWS[2])
    await storage.set_flow("coordinator", "invitation", INVITATION_ROWS[3])
    await storage.set_flow("resident", "interest", INTEREST_ROWS[1])
    announce = FlowStore(storage, AnnounceDraft)
    invitation = FlowStore(storage, InvitationDraft)
    interest = FlowStore(storage, Draft)

    loaded = await announce.load("office")
    assert loaded is not None
    assert (loaded.step, loaded.link, loaded.description) == ("targets", None, "Kom!")
    assert (await invitation.load("coordinator")) == InvitationDraft(
        "confirm", "Lyngen", "angst", "few", "Hei"
    )
    assert await announce.load("resident") is None  # someone else's flow is not this one's
    assert await announce.load("nobody") is None

    assert await announce.clear("resident") is False  # a stale press ends no other flow
    assert await storage.get_flow("resident") == ("interest", INTEREST_ROWS[1])
    assert await interest.clear("resident") is True
    assert await storage.get_flow("resident") is None

    # Saved back, a loaded state is the row it was.
    await announce.save("office", loaded)
    assert await storage.get_flow("office") == ("announce", ANNOUNCE_ROWS[2])
    assert announce.flow == "announce"
    assert invitation.flow == "invitation"


async def test_the_interest_row_of_the_old_database_resumes(tmp_path: Path) -> None:
    """tests/data/db_2026-12-02.sqlite3 (made by the code of that day) holds an interest flow."""
    copy = tmp_path / "old.sqlite3"
    shutil.copyfile(OLD_DATABASE, copy)
    copy.chmod(0o600)
    old = await Storage.open(copy, lambda: 1_770_000_000.0)
    try:
        keys = [k for k in old._flows if old.flow_name(k) == "interest"]
        assert keys
        draft = await FlowStore(old, Draft).load(keys[0])
        assert draft is not None
        assert draft.step == "entry"
    finally:
        await old.close()
