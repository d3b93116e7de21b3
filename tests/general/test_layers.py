"""Layer rules (issue 12): the import-linter contracts in pyproject.toml hold.

Pure modules import neither Telegram nor storage nor the database driver; the listed domain
modules import no Telegram; only bot.storage imports the driver; no feature's handlers import
another feature's handlers; the fake Telegram (bot.offline) is used only by the terminal chat
and the command line; features do not import the composition root. A broken contract fails
with import-linter's own report, which names the contract and the chain of imports that
breaks it.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from tests.support import ROOT

PYPROJECT = ROOT / "pyproject.toml"
FEATURES = ("answers", "interest", "meetings", "invitations", "digest", "roles", "poster")
# In bot/general every module is a handler module except these (pure: no Telegram).
GENERAL_NOT_HANDLERS = {"__init__", "buttons", "help"}
HANDLER_FILES = ("handlers.py", "announce_handlers.py", "faq_menu.py")


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _handler_modules() -> set[str]:
    """Every feature's handler modules, found on disk (so a new one cannot slip past)."""
    bot = ROOT / "bot"
    found = {
        f"bot.{feature}.{path.stem}"
        for feature in FEATURES
        for path in (bot / feature).glob("*.py")
        if path.name in HANDLER_FILES
    }
    found |= {
        f"bot.general.{path.stem}"
        for path in (bot / "general").glob("*.py")
        if path.stem not in GENERAL_NOT_HANDLERS
    }
    return found


def test_import_contracts_hold() -> None:
    """`lint-imports` over pyproject.toml's contracts (in a fresh process, no cache files):
    every one kept."""
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports;"
            " sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True))",
            str(PYPROJECT),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, "layer rules broken (pyproject.toml [tool.importlinter]):\n" + (
        report[report.find("Broken contracts") :] if "Broken contracts" in report else report
    )
    assert "0 broken" in report


def test_every_handler_module_is_in_a_handler_contract() -> None:
    """Each handler module on disk is a source of its feature's contract and forbidden to all
    the others, so a new handlers file is checked without anyone remembering to add it."""
    handler_contracts = [c for c in _contracts() if str(c["id"]).startswith("handlers-")]
    assert {str(c["id"]) for c in handler_contracts} == {
        f"handlers-{f}" for f in (*FEATURES, "general")
    }
    modules = _handler_modules()
    assert len(modules) >= 12
    for module in modules:
        feature = module.split(".")[1]
        (own,) = (c for c in handler_contracts if c["id"] == f"handlers-{feature}")
        assert module in own["source_modules"], f"{module} missing from {own['id']}"
        for other in handler_contracts:
            if other is not own:
                assert module in other["forbidden_modules"], f"{module} not in {other['id']}"


def test_pure_modules_stay_listed() -> None:
    """The modules the design calls pure are in the pure contract (a narrowed list would let
    Telegram or SQL creep back in unnoticed)."""
    (pure,) = (c for c in _contracts() if c["id"] == "pure")
    required = {
        "bot.weeks",
        "bot.textnorm",
        "bot.config",
        "bot.content",
        "bot.records",
        "bot.answers.crisis",
        "bot.answers.faq_index",
        "bot.answers.answering",
        "bot.interest.rules",
        "bot.interest.typed_answers",
        "bot.chat.steps",
        "bot.meetings.when",
        "bot.digest.figures",
        "bot.poster.deep_links",
        "bot.security",
    }
    assert required <= set(pure["source_modules"])
    assert {"telegram", "bot.storage", "aiosqlite", "sqlite3"} <= set(pure["forbidden_modules"])
    for module in pure["source_modules"]:
        path = ROOT / Path(*module.split("."))
        assert path.with_suffix(".py").exists() or (path / "__init__.py").exists(), module
