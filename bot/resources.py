"""Where the bot finds its content (flows/) and its config.yaml, run from a checkout or installed.

From a checkout (`python -m bot`, `python3 run.py`, an editable install) the content is the
checkout's own flows/. An installed wheel carries it inside the package as bot/flows, with the
sample config.yaml as bot/sample_config.yaml (pyproject.toml, [tool.hatch.build]).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

log = logging.getLogger("selvhjelp")

CHECKOUT = Path(__file__).resolve().parent.parent
CONFIG_ENV = "SELVHJELP_CONFIG"
CONFIG_NAME = "config.yaml"
SAMPLE_CONFIG = "sample_config.yaml"


def running_from_checkout() -> bool:
    """True when bot/ sits in the repository beside pyproject.toml and flows/."""
    return (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / "flows").is_dir()


def _packaged(name: str) -> Path:
    """A file or folder shipped inside the installed package (a plain folder on disk)."""
    return Path(str(resources.files("bot") / name))


def flows_dir() -> Path:
    """The content folder: the checkout's flows/, else the one inside the installed package."""
    if running_from_checkout():
        return CHECKOUT / "flows"
    return _packaged("flows")


def sample_config() -> Path:
    """The sample config.yaml: the checkout's own, else the copy inside the installed package."""
    if running_from_checkout():
        return CHECKOUT / CONFIG_NAME
    return _packaged(SAMPLE_CONFIG)


def config_path(cli_value: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """`--config PATH`, else env SELVHJELP_CONFIG, else ./config.yaml, else the sample config."""
    env = os.environ if environ is None else environ
    if cli_value:
        return Path(cli_value)
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    local = Path(CONFIG_NAME)
    if local.is_file():
        return local
    sample = sample_config()
    log.warning(
        "using the sample config %s (no --config, no %s and no ./%s)",
        sample,
        CONFIG_ENV,
        CONFIG_NAME,
    )
    return sample
