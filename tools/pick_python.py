"""The interpreter the venvs are made with: of this machine's builds of ``python3``'s version,
the fastest (ADR 0037).

    python3 tools/pick_python.py      # prints its path; what it measured goes to stderr

The Makefile asks this only when a venv is made and ``PYTHON`` is not set (``make test
PYTHON=python3`` takes that one, unmeasured). Builds of one CPython version differ in speed by
how they were compiled: on the machines this project is tested on, Debian's
``/usr/bin/python3.11`` runs the functions' tests in about 17 % less time than pyenv's 3.11 (a
shared libpython, no profile-guided optimization), the ``python3`` on PATH there. So the candidates are ``python3``
itself and the other builds of its major.minor version found on ``PATH`` or in the usual system
folders; one that cannot make a venv with pip (``ensurepip`` missing, as on Debian without
``python3.X-venv``) is left out. Each runs the same short pure-Python workload in alternated
rounds; the fastest run of each is compared, and another build replaces ``python3`` only when
it is at least ``MARGIN`` faster, so that noise never changes the choice for nothing.

Standard library only: it runs before any venv exists, under whatever ``python3`` is.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

DEFAULT = "python3"
# Where builds other than the one on PATH usually live (distribution, /usr/local, Homebrew).
SYSTEM_FOLDERS = ("/usr/bin", "/usr/local/bin", "/opt/homebrew/bin")
# Another build must take at most this fraction of python3's time to replace it.
MARGIN = 0.9
ROUNDS = 3
TIMEOUT = 30

# What a candidate reports: its version, its real executable (a pyenv shim or a symlink is
# not the build) and whether it can make a venv with pip.
DESCRIBE = """
import os, sys
try:
    import ensurepip, venv
    ensurepip.version()
    ok = 1
except Exception:
    ok = 0
print(sys.version_info[0], sys.version_info[1], ok, os.path.realpath(sys.executable))
"""

# About 0.1-0.2 s of what the suite's Python does most: calls, attribute and dict access,
# strings, JSON, regular expressions. Prints its own seconds (start-up excluded).
WORKLOAD = """
import json, re, time
start = time.perf_counter()
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
fib(22)
data = {"rows": [{"id": i, "name": str(i) * 5, "tags": ["a", "b"]} for i in range(1000)]}
for _ in range(15):
    json.loads(json.dumps(data))
pattern = re.compile(r"(\\w+)=(\\d+)")
text = " ".join(f"key{i}={i}" for i in range(1000))
for _ in range(30):
    pattern.findall(text)
class Box:
    def __init__(self, value):
        self.value = value
    def next(self):
        return Box(self.value + 1)
box = Box(0)
for _ in range(100000):
    box = box.next()
print(time.perf_counter() - start)
"""


@dataclass(frozen=True)
class Interpreter:
    executable: str  # the real file it runs
    version: tuple[int, int]
    makes_venvs: bool


Run = Callable[[Sequence[str]], str]


def _run(command: Sequence[str]) -> str:
    done = subprocess.run(
        list(command), capture_output=True, text=True, timeout=TIMEOUT, check=True
    )
    return done.stdout


def describe(command: str, run: Run = _run) -> Interpreter | None:
    """What ``command`` is, or None if it does not run."""
    try:
        major, minor, ok, executable = run([command, "-c", DESCRIBE]).split(maxsplit=3)
        return Interpreter(executable.strip(), (int(major), int(minor)), ok == "1")
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def candidates(version: tuple[int, int], folders: Sequence[str] = SYSTEM_FOLDERS) -> list[str]:
    """The commands that may be other builds of ``version``: its versioned name on PATH and in
    the system folders (each described before it is used)."""
    name = f"python{version[0]}.{version[1]}"
    found = [shutil.which(name)] + [os.path.join(folder, name) for folder in folders]
    return [path for path in found if path and os.access(path, os.X_OK)]


def seconds(interpreter: Interpreter, run: Run = _run) -> float:
    """One run of the workload by ``interpreter``, in seconds (inf if it fails)."""
    try:
        return float(run([interpreter.executable, "-c", WORKLOAD]))
    except (OSError, ValueError, subprocess.SubprocessError):
        return float("inf")


def fastest_runs(
    interpreters: Sequence[Interpreter], rounds: int = ROUNDS, run: Run = _run
) -> dict[str, float]:
    """Each interpreter's fastest of ``rounds`` runs, the interpreters alternated within each
    round (so a slower spell of the machine weighs on all of them alike)."""
    best = {i.executable: float("inf") for i in interpreters}
    for _ in range(rounds):
        for interpreter in interpreters:
            best[interpreter.executable] = min(
                best[interpreter.executable], seconds(interpreter, run)
            )
    return best


def choose(
    default: Interpreter, others: Sequence[Interpreter], timings: dict[str, float]
) -> Interpreter:
    """``default`` unless another build takes at most MARGIN of its time: then the fastest."""
    faster = [o for o in others if timings[o.executable] <= MARGIN * timings[default.executable]]
    return min(faster, key=lambda o: timings[o.executable]) if faster else default


def pick(
    default_command: str = DEFAULT,
    folders: Sequence[str] = SYSTEM_FOLDERS,
    run: Run = _run,
    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> str:
    """The command to make the venvs with (``default_command`` if it cannot be described)."""
    default = describe(default_command, run)
    if default is None:
        return default_command
    others: dict[str, Interpreter] = {}
    for command in candidates(default.version, folders):
        found = describe(command, run)
        if (
            found is not None
            and found.version == default.version
            and found.makes_venvs
            and found.executable != default.executable
        ):
            others.setdefault(found.executable, found)
    if not others:
        return default_command
    timings = fastest_runs([default, *others.values()], run=run)
    chosen = choose(default, list(others.values()), timings)
    for interpreter in [default, *others.values()]:
        mark = "*" if interpreter is chosen else " "
        say(f"{mark} {interpreter.executable}: {timings[interpreter.executable]:.3f} s")
    version = ".".join(map(str, default.version))
    if chosen is default:
        margin = round((1 - MARGIN) * 100)
        say(f"venvs: {default_command} (no other Python {version} build is {margin} % faster)")
    else:
        say(
            f"venvs: {chosen.executable}, the fastest build of Python {version} here "
            f"(make PYTHON={default_command} to use {default_command})"
        )
    return default_command if chosen is default else chosen.executable


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    print(pick())
    return 0


if __name__ == "__main__":
    sys.exit(main())
