"""tools/pick_python.py: the venvs are made with python3, or a faster build of its version.

The choice is tested with interpreters that answer as described (no process); one real run of
the tool, as the Makefile runs it, checks that it names an interpreter of python3's version.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from tools import pick_python
from tools.pick_python import DESCRIBE, WORKLOAD, Interpreter

ROOT = Path(__file__).resolve().parent.parent
PYENV = "/home/u/.pyenv/versions/3.11.7/bin/python3.11"


def _interpreter(executable: str, version: tuple[int, int] = (3, 11)) -> Interpreter:
    return Interpreter(executable, version, True)


class Machine:
    """Interpreters by command: what each describes itself as and its workload's seconds, in
    turn per run. Records the workload runs, in order."""

    def __init__(self, described: dict[str, str], seconds: dict[str, list[float]]) -> None:
        self.described, self.seconds = described, seconds
        self.runs: list[str] = []

    def __call__(self, command: Sequence[str]) -> str:
        program, _, code = command
        if code == DESCRIBE:
            if program not in self.described:
                raise FileNotFoundError(program)
            return self.described[program]
        assert code == WORKLOAD
        self.runs.append(program)
        return str(self.seconds[program].pop(0))


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A system folder with a python3.11, alone on PATH."""
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    path = tmp_path / "python3.11"
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return tmp_path


def test_a_build_at_least_ten_percent_faster_replaces_python3() -> None:
    default, debian = _interpreter(PYENV), _interpreter("/usr/bin/python3.11")
    assert pick_python.choose(default, [debian], {PYENV: 1.0, debian.executable: 0.9}) is debian
    assert pick_python.choose(default, [debian], {PYENV: 1.0, debian.executable: 0.91}) is default


def test_the_fastest_of_several_is_chosen_and_a_failed_one_never() -> None:
    default = _interpreter(PYENV)
    others = [_interpreter(f"/opt/{n}/python3.11") for n in ("a", "b", "c")]
    timings = {PYENV: 1.0, "/opt/a/python3.11": 0.8, "/opt/b/python3.11": 0.6}
    timings["/opt/c/python3.11"] = float("inf")
    assert pick_python.choose(default, others, timings) is others[1]
    assert pick_python.choose(default, others[2:], timings) is default


def test_the_faster_build_is_printed_with_what_was_measured(folder: Path) -> None:
    system = str(folder / "python3.11")
    machine = Machine(
        {"python3": f"3 11 1 {PYENV}\n", system: "3 11 1 /usr/bin/python3.11\n"},
        {PYENV: [0.30, 0.20, 0.25], "/usr/bin/python3.11": [0.12, 0.15, 0.16]},
    )
    said: list[str] = []
    assert pick_python.pick(folders=[str(folder)], run=machine, say=said.append) == (
        "/usr/bin/python3.11"
    )
    # Alternated rounds, the fastest run of each compared.
    assert machine.runs == [PYENV, "/usr/bin/python3.11"] * pick_python.ROUNDS
    assert said == [
        f"  {PYENV}: 0.200 s",
        "* /usr/bin/python3.11: 0.120 s",
        "venvs: /usr/bin/python3.11, the fastest build of Python 3.11 here "
        "(make PYTHON=python3 to use python3)",
    ]


@pytest.mark.parametrize(
    "described",
    [
        "3 12 1 /usr/bin/python3.12",  # another version: its pins may not install
        "3 11 0 /usr/bin/python3.11",  # no ensurepip (Debian without python3.11-venv)
        f"3 11 1 {PYENV}",  # python3 itself, reached by another name (a shim, a link)
        "not an interpreter",
    ],
)
def test_builds_that_are_not_candidates_are_never_measured(folder: Path, described: str) -> None:
    machine = Machine({"python3": f"3 11 1 {PYENV}\n", str(folder / "python3.11"): described}, {})
    assert pick_python.pick(folders=[str(folder)], run=machine, say=print) == "python3"
    assert machine.runs == []


def test_python3_stays_when_nothing_is_ten_percent_faster(folder: Path) -> None:
    machine = Machine(
        {"python3": f"3 11 1 {PYENV}\n", str(folder / "python3.11"): "3 11 1 /usr/bin/p\n"},
        {PYENV: [0.20] * 3, "/usr/bin/p": [0.19] * 3},
    )
    said: list[str] = []
    assert pick_python.pick(folders=[str(folder)], run=machine, say=said.append) == "python3"
    assert said[-1] == "venvs: python3 (no other Python 3.11 build is 10 % faster)"


def test_without_a_python3_that_runs_the_name_is_returned_unmeasured() -> None:
    machine = Machine({}, {})
    assert pick_python.pick(folders=[], run=machine, say=print) == "python3"


def test_a_real_interpreter_describes_itself() -> None:
    found = pick_python.describe(sys.executable)
    assert found is not None
    assert found.version == sys.version_info[:2] and found.makes_venvs
    assert found.executable == os.path.realpath(sys.executable)
    assert pick_python.seconds(found) < 10
    assert pick_python.describe("/nonexistent/python3") is None


def _version(python: str) -> str:
    code = "import sys; print(sys.version_info[:2])"
    run = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return run.stdout


def test_the_makefiles_command_names_a_build_of_python3s_version() -> None:
    """As the Makefile runs it (python3 from PATH): stdout is one interpreter only."""
    done = subprocess.run(
        ["python3", "tools/pick_python.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    [chosen] = done.stdout.splitlines()
    assert _version(chosen) == _version("python3")
