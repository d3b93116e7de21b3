"""The package as it ships: build the wheel, install it into a fresh virtual environment, and run
the console command `selvhjelp-bot` from a folder that is not the checkout.

No network: the wheel is built with the hatchling already in .venv (it is in the lock), installed
with --no-deps --no-index, and the fresh environment sees .venv's dependencies through a .pth
file (a plain path line, so .venv's own .pth files, the editable checkout among them, are not
read). The installed `bot` then comes first on sys.path, so what runs is the wheel's code and
the wheel's bot/flows, never the checkout's.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from bot.cli import main
from bot.resources import CONFIG_ENV, config_path
from tests.support import CONFIG_PATH, ROOT

PYTHON_DIR = f"python{sys.version_info.major}.{sys.version_info.minor}"


def site_packages(env_dir: Path) -> Path:
    return env_dir / "lib" / PYTHON_DIR / "site-packages"


def build_wheel(source: Path, out_dir: Path) -> Path:
    """`pip wheel` of a source tree, offline, with the build backend from .venv."""
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"),
            *("--no-build-isolation", "--no-index", "--wheel-dir", str(out_dir), str(source)),
        ],
        check=True,
        capture_output=True,
        timeout=120,
        env={**os.environ, "PIP_NO_INDEX": "1"},
    )
    wheels = sorted(out_dir.glob("selvhjelp_bot-*.whl"))
    assert len(wheels) == 1, wheels
    with zipfile.ZipFile(wheels[0]) as archive:
        names = archive.namelist()
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")], "compiled files"
    return wheels[0]


def fresh_venv(env_dir: Path, base_python: str | None = None) -> Path:
    """A new virtual environment (no pip of its own) that also sees .venv's packages; made
    from `base_python` (of this Python's version) when given, else from this Python's own."""
    if base_python is None:
        venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    else:
        command = [base_python, "-m", "venv", "--without-pip", str(env_dir)]
        subprocess.run(command, check=True, capture_output=True, timeout=60)
    dev = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site_packages(env_dir) / "_dev_dependencies.pth").write_text(
        "".join(f"{path}\n" for path in sorted(dev)), encoding="utf-8"
    )
    return env_dir


def install_wheel(env_dir: Path, wheel: Path) -> None:
    """.venv's pip installs the wheel into env_dir: no dependencies, no index, and no attempt to
    uninstall the editable copy it can see in .venv."""
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python")),
            *("install", "--quiet", "--no-deps", "--no-index", "--ignore-installed", str(wheel)),
        ],
        check=True,
        capture_output=True,
        timeout=120,
        env={**os.environ, "PIP_NO_INDEX": "1"},
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment with the wheel of this checkout installed in it."""
    work = tmp_path_factory.mktemp("install")
    wheel = build_wheel(ROOT, work / "wheels")
    env_dir = fresh_venv(work / "venv")
    install_wheel(env_dir, wheel)
    return env_dir


def run_installed(
    env_dir: Path, args: list[str], cwd: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{env_dir / 'bin'}:/usr/bin:/bin",
        "HOME": str(cwd),
        "SELVHJELP_DATA_DIR": str(cwd / "data"),
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        **extra,
    }  # deliberately no TELEGRAM_BOT_TOKEN and no SELVHJELP_CONFIG
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working folder with no config.yaml and no flows/ in it."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def test_the_wheel_carries_the_content_and_the_sample_config(installed: Path) -> None:
    package = site_packages(installed) / "bot"
    assert (package / "__init__.py").is_file()
    assert (package / "sample_config.yaml").read_bytes() == CONFIG_PATH.read_bytes()
    shipped = sorted(p.relative_to(package / "flows") for p in (package / "flows").rglob("*.yaml"))
    in_checkout = sorted(p.relative_to(ROOT / "flows") for p in (ROOT / "flows").rglob("*.yaml"))
    assert shipped == in_checkout
    assert (installed / "bin" / "selvhjelp-bot").is_file()


def test_installed_code_reads_the_installed_flows(installed: Path, elsewhere: Path) -> None:
    probe = (
        "import bot, bot.content, bot.resources;"
        "print(bot.__file__); print(bot.content.FLOWS_DIR);"
        "print(bot.resources.running_from_checkout())"
    )
    result = run_installed(installed, [str(installed / "bin" / "python"), "-c", probe], elsewhere)
    assert result.returncode == 0, result.stderr
    module, flows, from_checkout = result.stdout.splitlines()
    package = site_packages(installed) / "bot"
    assert Path(module) == package / "__init__.py"
    assert Path(flows) == package / "flows"
    assert from_checkout == "False"
    assert str(ROOT) not in result.stdout


def test_check_config_with_a_config_file(installed: Path, elsewhere: Path) -> None:
    result = run_installed(
        installed, ["selvhjelp-bot", "check-config", "--config", str(CONFIG_PATH)], elsewhere
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{CONFIG_PATH}: OK")
    assert "sample config" not in result.stderr


def test_check_config_with_no_config_uses_the_shipped_sample(
    installed: Path, elsewhere: Path
) -> None:
    result = run_installed(installed, ["selvhjelp-bot", "check-config"], elsewhere)
    assert result.returncode == 0, result.stderr
    sample = site_packages(installed) / "bot" / "sample_config.yaml"
    assert result.stdout.startswith(f"{sample}: OK")
    assert "using the sample config" in result.stderr


def test_config_lookup_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # --config, else SELVHJELP_CONFIG, else ./config.yaml, else the sample (from a checkout:
    # the checkout's own config.yaml), which is logged.
    monkeypatch.chdir(tmp_path)
    named = tmp_path / "named.yaml"
    assert config_path("given.yaml", {CONFIG_ENV: str(named)}) == Path("given.yaml")
    assert config_path(None, {CONFIG_ENV: str(named)}) == named
    with caplog.at_level(logging.WARNING, logger="selvhjelp"):
        assert config_path(None, {}) == CONFIG_PATH
    assert "using the sample config" in caplog.text
    (tmp_path / "config.yaml").write_text("{}", encoding="utf-8")
    assert config_path(None, {}) == Path("config.yaml")


def test_config_option_before_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    # (After the command: test_check_config_with_a_config_file, through the console command.)
    assert main(["--config", str(CONFIG_PATH), "check-config"]) == 0
    assert capsys.readouterr().out.startswith(f"{CONFIG_PATH}: OK")


def test_ask_answers_from_the_installed_package(installed: Path, elsewhere: Path) -> None:
    result = run_installed(
        installed, ["selvhjelp-bot", "ask", "--lang", "en", "what does it cost"], elsewhere
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1
    answer = lines[0]
    assert answer["question"] == "what does it cost"
    assert answer["kind"] == "answer"
    assert answer["topic"] == "cost"
    assert answer["lang"] == "en"
    assert answer["crisis"] is False
    assert not (elsewhere / "flows").exists()
