"""One-command set-up: create .venv, install the locked versions, then run the bot or tests.

    python3 run.py            start the bot (Telegram if TELEGRAM_BOT_TOKEN is set, else a local
                              terminal chat); any further arguments go to `python -m bot`
    python3 run.py test       install the test dependencies too and run the whole test suite
    python3 run.py lock       (maintainers) regenerate requirements.lock and requirements-test.lock
                              after a change to the lists in pyproject.toml; --upgrade upgrades

Installs exactly the hashed versions in requirements.lock (or requirements-test.lock for `test`)
with pip's --require-hashes, then the project itself, editable and without dependencies, so the
tests run the package as it ships (its console command `selvhjelp-bot` included). Only the
standard library is used here, so a machine with nothing but python3 can run it.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "requirements.lock"
TEST_LOCK = ROOT / "requirements-test.lock"
STAMP = VENV / ".installed"
# The uv that `run.py lock` uses (from PyPI, in a throwaway environment, never in .venv).
UV = "uv==0.13.9"
COMPILE = ["pip", "compile", "pyproject.toml", "--generate-hashes", "--universal"]
COMPILE += ["--python-version", "3.11", "--group", "build"]


def venv_python() -> Path:
    """The interpreter inside .venv (POSIX or Windows layout)."""
    posix = VENV / "bin" / "python"
    return posix if posix.exists() else VENV / "Scripts" / "python.exe"


def digest(path: Path) -> str:
    """What the stamp remembers of a file: the hash of its bytes, named by the file."""
    return f"{path.name}:{hashlib.sha256(path.read_bytes()).hexdigest()}"


def pip(*args: str) -> None:
    subprocess.run([str(venv_python()), "-m", "pip", *args], check=True)


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def missing_from_lock(lock: Path, with_tests: bool) -> list[str]:
    """Requirements pyproject.toml names that the lock does not pin (it needs regenerating)."""
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    wanted = [*data["project"]["dependencies"], *data["dependency-groups"]["build"]]
    if with_tests:
        wanted += data["project"]["optional-dependencies"]["test"]
    pinned = {
        normalized(m) for m in re.findall(r"^([A-Za-z0-9][\w.-]*)==", lock.read_text(), re.M)
    }
    names = [re.split(r"[\s<>=!~;\[(]", w, maxsplit=1)[0] for w in wanted]
    return [n for n in names if normalized(n) not in pinned]


def ensure_environment(with_tests: bool) -> Path:
    """Create .venv once; install from the lock only when the lock (or pyproject.toml) changed."""
    if not venv_python().exists():
        print("Creating .venv (first run only)...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    lock = TEST_LOCK if with_tests else LOCK
    missing = missing_from_lock(lock, with_tests)
    if missing:
        sys.exit(
            f"{lock.name} does not pin {', '.join(missing)} from pyproject.toml: "
            "regenerate the lock files with `python3 run.py lock`"
        )
    done = {line for line in STAMP.read_text().split() if ":" in line} if STAMP.exists() else set()
    if digest(lock) not in done:
        print(f"Installing the locked dependencies ({lock.name}) into .venv...", flush=True)
        pip("install", "--quiet", "--require-hashes", "-r", str(lock))
        done.add(digest(lock))
        if with_tests:
            # The test lock holds the runtime lock's exact versions too (it constrains them).
            done.add(digest(LOCK))
    if digest(PYPROJECT) not in done:
        # The project itself, editable: bot/ and flows/ of this checkout are what runs. Built
        # with the locked hatchling already in .venv, so nothing unpinned is downloaded.
        print("Installing selvhjelp-bot itself (editable) into .venv...", flush=True)
        pip("install", "--quiet", "--no-deps", "--no-build-isolation", "--editable", str(ROOT))
        done.add(digest(PYPROJECT))
    STAMP.write_text("\n".join(sorted(done)) + "\n")
    return venv_python()


def regenerate_locks(extra: list[str]) -> int:
    """The ONE command that rewrites both lock files (pyproject.toml names it too)."""
    with tempfile.TemporaryDirectory(prefix="selvhjelp-lock-") as tmp:
        tools = Path(tmp) / "venv"
        venv.EnvBuilder(with_pip=True).create(tools)
        python = tools / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", UV], check=True)
        uv = [str(python), "-m", "uv"]
        test = [*COMPILE, "--extra", "test", "-o", TEST_LOCK.name, *extra]
        # The runtime lock takes the test lock's versions: what ships is what was tested.
        runtime = [*COMPILE, "-c", TEST_LOCK.name, "-o", LOCK.name, *extra]
        for args in (test, runtime):
            subprocess.run([*uv, *args], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    print(f"Wrote {TEST_LOCK.name} and {LOCK.name}.")
    return 0


def main(argv: list[str]) -> int:
    """Dispatch `test` or `lock`, or pass everything else to `python -m bot`."""
    os.chdir(ROOT)
    if argv[:1] == ["lock"]:
        return regenerate_locks(argv[1:])
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
