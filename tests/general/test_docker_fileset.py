"""What the Dockerfile copies and runs is enough to start the bot (issue 13), without a container
engine.

The Dockerfile is read, not trusted: each stage gets its own folder standing for its file system,
its COPY lines copy exactly what they name from the build context (the repository minus
.dockerignore) or from an earlier stage, and its RUN steps are carried out one by one by the
emulations below (a step this test does not know fails it, so a change to the Dockerfile is
checked here, never skipped). Offline stand-ins: the virtual environment sees .venv's packages
through a .pth file instead of downloading requirements.lock (whose exact versions must be the
ones installed in .venv), and the wheel is built with the hatchling in .venv. The bot then starts
in the last stage's folder with its ENV (container paths mapped into the folder), WORKDIR,
ENTRYPOINT and CMD, as an unprivileged user (nobody when the tests run as root, with the image's
chown done for it), with no token for `ask` and `check-config`, and for `run` against the fake
Bot API on 127.0.0.1 until a SIGTERM, which must end it cleanly.

A file the image needs but the COPY lines miss fails the wheel build or the start; the last test
checks that this test notices a missing COPY at all.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

from bot.offline.fake_bot_server import FakeTelegramServer
from bot.offline.fake_updates import message_update_json
from tests.general.test_install import build_wheel, fresh_venv, install_wheel
from tests.support import ROOT

DOCKERFILE = ROOT / "Dockerfile"
TOKEN = "4242:DOCKERFILESET"
USER_ID = 7007
# What the base image (python:3.11-slim) sets before the Dockerfile's own ENV lines.
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}
START_TIMEOUT = 60.0


# --- reading the Dockerfile ----------------------------------------------------------------------


@dataclass
class Instruction:
    name: str
    args: str


def instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    found: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        name, _, args = whole.partition(" ")
        found.append(Instruction(name.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return found


def exec_form(args: str) -> list[str]:
    """ENTRYPOINT/CMD must be the JSON exec form (signals then reach the bot itself)."""
    value = json.loads(args)
    assert isinstance(value, list), f"not the exec form: {args}"
    assert all(isinstance(v, str) for v in value)
    return [str(v) for v in value]


def expand(value: str, env: dict[str, str]) -> str:
    """$NAME and ${NAME} in an ENV value, from the environment so far."""

    def lookup(match: re.Match[str]) -> str:
        return env.get(match.group(1), "")

    return re.sub(r"\$\{?(\w+)\}?", lookup, value)


def dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """(.dockerignore) patterns as regular expressions; True for a `!` exception."""
    patterns = []
    path = ROOT / ".dockerignore"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(line):
            if line.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif line.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif line[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif line[i] == "?":
                regex, i = regex + "[^/]", i + 1
            else:
                regex, i = regex + re.escape(line[i]), i + 1
        patterns.append((negate, re.compile(regex + "$")))
    return patterns


def ignored(relative: str, patterns: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: a path is out when it or a folder above it matches (the last match wins)."""
    parts = relative.split("/")
    out = False
    for negate, pattern in patterns:
        for depth in range(1, len(parts) + 1):
            if pattern.match("/".join(parts[:depth])):
                out = not negate
                break
    return out


# --- the emulated image ------------------------------------------------------------------------


@dataclass
class Stage:
    name: str
    root: Path  # the folder standing for this stage's file system
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=lambda: dict(BASE_ENV))
    user: str | None = None
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)

    def path(self, container_path: str) -> Path:
        """A container path (absolute, or relative to WORKDIR) inside this stage's folder."""
        absolute = os.path.normpath(os.path.join(self.workdir, container_path))
        return self.root / absolute.lstrip("/")


@dataclass
class Image:
    stages: list[Stage]
    users: dict[str, tuple[int, int]]  # useradd'ed name -> (uid, gid) the bot runs as here
    homes: dict[str, str]
    python: str  # the base image's python: one of this version the unprivileged user can run

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def run_env(self) -> dict[str, str]:
        """The final stage's environment, container paths that exist in it mapped to its folder."""
        stage = self.final
        env = {}
        for key, value in stage.env.items():
            parts = []
            for part in value.split(":"):
                inside = stage.path(part) if part.startswith("/") else None
                parts.append(str(inside) if inside is not None and inside.exists() else part)
            env[key] = ":".join(parts)
        if stage.user in self.homes:
            env["HOME"] = str(stage.path(self.homes[stage.user]))
        return env

    def command(self, cmd: list[str] | None = None) -> list[str]:
        """ENTRYPOINT + CMD (or the arguments given, as `docker run IMAGE ARGS` does)."""
        argv = [*self.final.entrypoint, *(self.final.cmd if cmd is None else cmd)]
        assert argv, "the image has neither ENTRYPOINT nor CMD"
        found = shutil.which(argv[0], path=self.run_env()["PATH"])
        assert found, f"{argv[0]} is not on the image's PATH"
        return [found, *argv[1:]]

    def run_as(self) -> dict[str, object]:
        """subprocess arguments for the image's USER (required: the image must not run as root)."""
        user = self.final.user
        assert user, "the image has no USER: it would run as root"
        assert user not in ("root", "0"), "the image runs as root"
        if os.geteuid() != 0:
            return {}
        uid, gid = self.users[user]
        return {"user": uid, "group": gid, "extra_groups": []}


def reachable(path: Path) -> bool:
    """Whether any user may run this file (every folder above it open to all)."""
    resolved = path.resolve()
    folders_open = all(p.stat().st_mode & 0o001 for p in resolved.parents)
    return resolved.is_file() and folders_open and bool(resolved.stat().st_mode & 0o001)


def base_python() -> str:
    """The stand-in for the base image's python: this one when an unprivileged user can run
    it, else the system's python of the same version (this one may live in root's home)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    own = getattr(sys, "_base_executable", sys.executable)
    candidates = [own, shutil.which(version, path="/usr/local/bin:/usr/bin:/bin")]
    for candidate in candidates:
        if candidate and (os.geteuid() != 0 or reachable(Path(candidate))):
            return candidate
    pytest.skip(f"no {version} here that an unprivileged user may run")


def unprivileged_ids() -> tuple[int, int]:
    """Who stands in for the image's own user: nobody when we are root, else ourselves."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_uid, nobody.pw_gid


def copy_into(
    source: Path, target: Path, relative: str, patterns: list[tuple[bool, re.Pattern[str]]] | None
) -> None:
    """Docker COPY of one source: a folder's contents into the target folder, a file as itself."""
    if source.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        for item in sorted(source.iterdir()):
            rel = f"{relative}/{item.name}" if relative else item.name
            if patterns is not None and ignored(rel, patterns):
                continue
            if item.is_symlink() and patterns is None:
                target.joinpath(item.name).symlink_to(os.readlink(item))
            elif item.is_dir():
                copy_into(item, target / item.name, rel, patterns)
            else:
                shutil.copy2(item, target / item.name)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def do_copy(image: Image, stage: Stage, args: str) -> None:
    words = shlex.split(args)
    options = [w for w in words if w.startswith("--")]
    paths = [w for w in words if not w.startswith("--")]
    assert len(paths) >= 2, f"COPY needs a source and a destination: {args}"
    *sources, dest = paths
    origin: Stage | None = None
    for option in options:
        name, _, value = option[2:].partition("=")
        if name == "from":
            matches = [s for s in image.stages if s.name == value]
            assert matches, f"COPY --from={value}: no such stage"
            origin = matches[0]
        elif name != "chown":
            raise AssertionError(f"COPY option {option} is not emulated here")
    patterns = None if origin is not None else dockerignore_patterns()
    into_folder = dest.endswith("/") or len(sources) > 1
    for source in sources:
        if origin is not None:
            matched = [origin.path(source)]
            relative = ""
        else:
            matched = sorted(ROOT.glob(source.lstrip("/")))
            assert matched, f"COPY {source}: not in the build context"
            relative = source.strip("/")
        for item in matched:
            if patterns is not None:
                rel = str(item.relative_to(ROOT))
                assert not ignored(rel, patterns), f"COPY {rel}: excluded by .dockerignore"
                relative = rel
            assert item.exists(), f"COPY {source}: does not exist in the source"
            target = stage.path(dest)
            if into_folder or (item.is_file() and target.is_dir()):
                target = target / item.name if item.is_file() else target
            copy_into(item, target, relative, patterns)
    if origin is not None:
        relocate_scripts(origin, stage, dest)


def relocate_scripts(origin: Stage, stage: Stage, dest: str) -> None:
    """A venv copied between stages keeps its path in the image; here the folders differ, so
    the scripts' `#!` lines are pointed at the copy (the end state is the image's)."""
    old, new = str(origin.path(dest)), str(stage.path(dest))
    bin_dir = stage.path(dest) / "bin"
    if not bin_dir.is_dir():
        return
    for script in bin_dir.iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        data = script.read_bytes()
        if data.startswith(b"#!" + old.encode()):
            script.write_bytes(b"#!" + new.encode() + data[2 + len(old) :])


def check_lock_matches_dev_environment(lock: Path) -> None:
    """The stand-in for `pip install --require-hashes -r <lock>`: every pinned version that
    applies here is the one installed in .venv, and every pin carries a hash."""
    text = lock.read_text(encoding="utf-8").replace("\\\n", " ")
    pins = 0
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        spec, _, hashes = line.partition(" --hash=")
        assert hashes, f"{lock.name}: {spec} has no hash"
        requirement = Requirement(spec.strip())
        if requirement.marker is not None and not Marker(str(requirement.marker)).evaluate():
            continue
        (pinned,) = [s.version for s in requirement.specifier if s.operator == "=="]
        installed = metadata.version(requirement.name)
        assert installed == pinned, (
            f"{lock.name} pins {requirement.name}=={pinned}, .venv has {installed}"
        )
        pins += 1
    assert pins > 5, f"{lock.name}: hardly anything pinned"


def do_run(image: Image, stage: Stage, args: str) -> None:
    for step in (s.strip() for s in args.split("&&")):
        words = shlex.split(step)
        program = os.path.basename(words[0])
        if program in ("python", "python3") and words[1:3] == ["-m", "venv"]:
            fresh_venv(stage.path(words[3]), image.python)
        elif program == "pip" and words[1] == "install" and "-r" in words:
            assert "--require-hashes" in words, f"RUN {step}: install from the lock with hashes"
            lock = stage.path(words[words.index("-r") + 1])
            assert lock.is_file(), f"RUN {step}: {lock.name} was not copied"
            check_lock_matches_dev_environment(lock)
            assert stage.path(os.path.dirname(os.path.dirname(words[0]))).is_dir()
        elif program == "pip" and words[1] == "wheel":
            assert "--no-deps" in words, (
                f"RUN {step}: the wheel alone, dependencies come from the lock"
            )
            out = stage.path(words[words.index("--wheel-dir") + 1])
            build_wheel(stage.path(words[-1]), out)
        elif program == "pip" and words[1] == "install":
            assert "--no-deps" in words, f"RUN {step}: the bot alone, without dependencies"
            env_dir = stage.path(os.path.dirname(os.path.dirname(words[0])))
            wheels = [w for w in words[2:] if not w.startswith("-")]
            for pattern in wheels:
                (wheel,) = sorted(stage.root.glob(pattern.lstrip("/")))
                install_wheel(env_dir, wheel)
        elif program == "useradd":
            name = words[-1]
            image.users[name] = unprivileged_ids()
            if "--home-dir" in words:
                image.homes[name] = words[words.index("--home-dir") + 1]
        elif program == "mkdir":
            for folder in words[1:]:
                if not folder.startswith("-"):
                    stage.path(folder).mkdir(parents=True, exist_ok=True)
        elif program == "chown":
            uid, gid = image.users[words[1].split(":")[0]]
            for target in words[2:]:
                if os.geteuid() == 0:
                    os.chown(stage.path(target), uid, gid)
        elif program == "chmod":
            for target in words[2:]:
                stage.path(target).chmod(int(words[1], 8))
        else:
            raise AssertionError(f"RUN step not emulated by this test (teach it): {step}")


def assemble(dockerfile: str, where: Path) -> Image:
    image = Image(stages=[], users={}, homes={}, python=base_python())
    for instruction in instructions(dockerfile):
        stage = image.stages[-1] if image.stages else None
        if instruction.name == "FROM":
            words = instruction.args.split()
            name = (
                words[2]
                if len(words) >= 3 and words[1].upper() == "AS"
                else str(len(image.stages))
            )
            root = where / f"stage-{len(image.stages)}"
            root.mkdir()
            image.stages.append(Stage(name=name, root=root))
            continue
        assert stage is not None, f"{instruction.name} before FROM"
        if instruction.name == "WORKDIR":
            stage.workdir = os.path.join(stage.workdir, instruction.args)
            stage.path(".").mkdir(parents=True, exist_ok=True)
        elif instruction.name == "COPY":
            do_copy(image, stage, instruction.args)
        elif instruction.name == "RUN":
            do_run(image, stage, instruction.args)
        elif instruction.name == "ENV":
            for item in shlex.split(instruction.args):
                key, _, value = item.partition("=")
                stage.env[key] = expand(value, stage.env)
        elif instruction.name == "USER":
            stage.user = instruction.args
        elif instruction.name == "ENTRYPOINT":
            stage.entrypoint = exec_form(instruction.args)
        elif instruction.name == "CMD":
            stage.cmd = exec_form(instruction.args)
        elif instruction.name in ("VOLUME", "EXPOSE", "LABEL", "ARG", "STOPSIGNAL"):
            pass
        else:
            raise AssertionError(f"Dockerfile instruction {instruction.name} not emulated here")
    assert image.stages, "no FROM in the Dockerfile"
    return image


@pytest.fixture(scope="module")
def build_root() -> Iterator[Path]:
    """A folder every user may enter (pytest's own tmp folders are private to us)."""
    folder = Path(tempfile.mkdtemp(prefix="selvhjelp-dockerfile-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def image(build_root: Path) -> Image:
    where = build_root / "image"
    where.mkdir()
    return assemble(DOCKERFILE.read_text(encoding="utf-8"), where)


def start(
    image: Image, cmd: list[str] | None, extra: dict[str, str] | None = None, **kwargs: object
) -> subprocess.Popen[str]:
    env = {**image.run_env(), **(extra or {})}
    return subprocess.Popen(  # type: ignore[call-overload]
        image.command(cmd),
        cwd=image.final.path("."),
        env=env,
        text=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **image.run_as(),
        **kwargs,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


# --- the tests ---------------------------------------------------------------------------------


def test_the_image_copies_only_what_it_needs(image: Image) -> None:
    final = image.final.root
    shipped = {p.relative_to(final).parts[0] for p in final.iterdir()}
    assert "src" not in shipped, "build files in the run stage"
    assert "wheels" not in shipped, "build files in the run stage"
    assert not (image.final.path(".") / "tests").exists()
    assert image.final.env.get("SELVHJELP_DATA_DIR")
    assert image.final.user not in (None, "root", "0")


def test_check_config_starts_from_the_image(image: Image) -> None:
    code, out, err = finish(start(image, ["check-config"]))
    assert code == 0, err
    assert ": OK" in out
    assert "using the sample config" in err  # no config mounted: the one inside the package


def test_ask_answers_from_the_image(image: Image) -> None:
    code, out, err = finish(start(image, ["ask", "--lang", "en", "what does it cost"]))
    assert code == 0, err
    (answer,) = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert answer["kind"] == "answer"
    assert answer["topic"] == "cost"


async def test_run_polls_answers_and_stops_cleanly_on_sigterm(image: Image) -> None:
    async with FakeTelegramServer(token=TOKEN) as server:
        extra = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": server.base_url,
            "SELVHJELP_HEALTH_PORT": "0",
        }
        process = start(image, None, extra)  # the image's own CMD: run
        try:
            server.push_update(
                message_update_json("what does it cost", USER_ID, language_code="en")
            )
            started = time.monotonic()
            while not server.fake.messages_to(USER_ID):
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() - started < START_TIMEOUT, "no answer from the image"
                await asyncio.sleep(0.1)
            assert server.fake.messages_to(USER_ID)[0].text
            process.send_signal(signal.SIGTERM)
            while process.poll() is None:
                assert time.monotonic() - started < 2 * START_TIMEOUT, "no exit after SIGTERM"
                await asyncio.sleep(0.1)
        finally:
            if process.poll() is None:
                process.kill()
        code, _out, err = finish(process)
    assert code == 0, err
    assert "Traceback" not in err
    data = Path(image.run_env()["SELVHJELP_DATA_DIR"])
    assert any(await asyncio.to_thread(lambda: list(data.iterdir()))), "nothing in the data volume"


def test_a_missing_copy_line_is_noticed(build_root: Path) -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    without = re.sub(r"^COPY flows .*$", "", text, flags=re.MULTILINE)
    assert without != text, "the Dockerfile has no `COPY flows` line any more: update this test"
    where = build_root / "without-flows"
    where.mkdir()
    try:
        broken = assemble(without, where)
    except (AssertionError, subprocess.CalledProcessError):
        return  # the build itself failed: noticed
    code, _out, err = finish(start(broken, ["check-config"]))
    assert code != 0
    assert "flows" in err
