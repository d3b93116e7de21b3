"""One-command set-up: create .venv, install what pyproject.toml lists, then run the bot or tests.

    python3 run.py            start the bot (Telegram if TELEGRAM_BOT_TOKEN is set, else a local
                              terminal chat); any further arguments go to `python -m bot`
    python3 run.py test       install the test dependencies too and run the whole test suite

Only the standard library is used here, so a machine with nothing but python3 can run it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYPROJECT = ROOT / "pyproject.toml"


def venv_python() -> Path:
    """The interpreter inside .venv (POSIX or Windows layout)."""
    posix = VENV / "bin" / "python"
    return posix if posix.exists() else VENV / "Scripts" / "python.exe"


def requirements(with_tests: bool) -> list[str]:
    """The dependency list from pyproject.toml, plus the test extras when asked."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    reqs = list(project["dependencies"])
    if with_tests:
        reqs += project["optional-dependencies"]["test"]
    return reqs


def ensure_environment(with_tests: bool) -> Path:
    """Create .venv once and (re)install only when the requirement list changed."""
    if not venv_python().exists():
        print("Creating .venv (first run only)...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    reqs = requirements(with_tests)
    stamp = VENV / ".installed"
    digest = hashlib.sha256("\n".join(reqs).encode()).hexdigest()
    if not stamp.exists() or digest not in stamp.read_text().split():
        print("Installing dependencies into .venv...", flush=True)
        subprocess.run(
            [str(venv_python()), "-m", "pip", "install", "--quiet", *reqs],
            check=True,
        )
        # A test install includes the runtime set, so it satisfies both stamps.
        digests = {digest}
        if with_tests:
            digests.add(hashlib.sha256("\n".join(requirements(False)).encode()).hexdigest())
        stamp.write_text("\n".join(sorted(digests)))
    return venv_python()


def main(argv: list[str]) -> int:
    """Dispatch `test` or pass everything else to `python -m bot`."""
    os.chdir(ROOT)
    if argv[:1] == ["test"]:
        python = ensure_environment(with_tests=True)
        return subprocess.run([str(python), "-m", "pytest", *argv[1:]], check=False).returncode
    python = ensure_environment(with_tests=False)
    return subprocess.run([str(python), "-m", "bot", *argv], check=False).returncode


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
