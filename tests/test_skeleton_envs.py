"""tools/skeleton_envs.py: the skeletons' own test environments hold exactly what a scaffolded
project's requirement files install, and a missing or outdated one is named with its fix.

tests/test_scaffold.py and tests/test_kit.py run skeletons' tests in them (ADR 0035).
"""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from mlops_cli.scaffold import FRAMEWORKS
from tests.python_code import imported_modules
from tools import skeleton_envs

ROOT = Path(__file__).resolve().parent.parent

# Run inside an environment: every installed distribution's version, and those that neither
# a requirement file pins nor a pinned one requires (its requirements, transitively).
INSTALLED = r"""
import importlib.metadata as md, json, re, sys

def key(name):
    return re.sub(r"[-_.]+", "-", name).lower()

pinned = json.loads(sys.argv[1])
dists = {key(d.metadata["Name"]): d for d in md.distributions()}
needed, todo = set(), list(pinned)
while todo:
    name = todo.pop()
    if name in needed or name not in dists:
        continue
    needed.add(name)
    for requirement in dists[name].requires or []:
        if "extra ==" not in requirement:
            todo.append(key(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0]))
print(json.dumps({
    "versions": {name: dists[name].version for name in pinned if name in dists},
    "unrequired": sorted(set(dists) - needed - {"pip", "setuptools"}),
}))
"""


def _pins(texts: Iterable[str]) -> dict[str, str]:
    """name -> version of every ``name==version`` line of requirement files' ``texts``."""
    pins = {}
    for text in texts:
        for line in text.splitlines():
            found = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.strip())
            if found:
                pins[re.sub(r"[-_.]+", "-", found[1]).lower()] = found[2]
    return pins


@pytest.mark.parametrize("framework", skeleton_envs.frameworks())
def test_each_environment_holds_exactly_what_the_skeletons_requirements_install(
    framework: str,
) -> None:
    pins = _pins(skeleton_envs.requirements(framework).values())
    package, version = FRAMEWORKS[framework].pin_example.split("==")
    assert pins[package] == version and "pytest" in pins
    done = subprocess.run(
        [skeleton_envs.interpreter(framework), "-I", "-c", INSTALLED, json.dumps(pins)],
        capture_output=True,
        text=True,
        check=True,
    )
    installed = json.loads(done.stdout)
    assert installed == {"versions": pins, "unrequired": []}


def test_the_light_frameworks_are_the_ones_that_train_here() -> None:
    assert skeleton_envs.frameworks() == ["sklearn", "xgboost"]


def _built(folder: Path, files: dict[str, str]) -> None:
    """An environment's folder as a finished build leaves it, with ``files`` as its copies."""
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "python").touch()
    (folder / "pyvenv.cfg").write_text(f"home = /x\nversion = {platform.python_version()}\n")
    for name, text in files.items():
        (folder / name).write_text(text)


def test_a_missing_or_outdated_environment_is_stale_and_says_run_make_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(skeleton_envs, "ENVS", tmp_path)
    assert (
        skeleton_envs.stale("xgboost")
        == f"{tmp_path / 'xgboost'} does not exist: run `make install`"
    )
    files = skeleton_envs.requirements("xgboost")
    _built(tmp_path / "xgboost", {**files, "requirements.txt": "numpy==1.0\n"})
    problem = skeleton_envs.stale("xgboost")
    assert problem is not None and "another requirements.txt" in problem
    assert problem.endswith("run `make install`")
    with pytest.raises(skeleton_envs.StaleEnvironment, match="make install"):
        skeleton_envs.interpreter("xgboost")
    (tmp_path / "xgboost" / "requirements.txt").write_text(files["requirements.txt"])
    (tmp_path / "xgboost" / "pyvenv.cfg").write_text("home = /x\nversion = 3.10.4\n")
    assert skeleton_envs.stale("xgboost") == (
        f"{tmp_path / 'xgboost'} runs Python 3.10.4, the platform's venv "
        f"{platform.python_version()}: run `make install`"
    )
    (tmp_path / "xgboost" / "pyvenv.cfg").write_text(f"version = {platform.python_version()}\n")
    assert skeleton_envs.stale("xgboost") is None
    assert skeleton_envs.interpreter("xgboost") == str(tmp_path / "xgboost" / "bin" / "python")


def test_an_interrupted_build_stays_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(skeleton_envs, "ENVS", tmp_path)
    calls: list[list[str]] = []

    def run(command: list[str], check: bool) -> None:
        calls.append(command)
        if command[1:3] == ["-m", "venv"]:
            _built(Path(command[3]), {})
        else:  # uv pip install
            raise subprocess.CalledProcessError(2, command)

    monkeypatch.setattr(subprocess, "run", run)
    with pytest.raises(subprocess.CalledProcessError):
        skeleton_envs.build("sklearn")
    assert [c[1:4] for c in calls] == [
        ["-m", "venv", str(tmp_path / "sklearn")],
        ["pip", "install", "--quiet"],
    ]
    assert skeleton_envs.stale("sklearn") is not None


def test_a_failed_build_is_one_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(skeleton_envs, "ENVS", tmp_path)

    def build(framework: str) -> None:
        raise subprocess.CalledProcessError(2, ["/venv/bin/uv", "pip", "install", "-r", "x"])

    monkeypatch.setattr(skeleton_envs, "build", build)
    assert skeleton_envs.main() == 1
    assert capsys.readouterr().err == (
        f"tools.skeleton_envs: building {tmp_path / 'sklearn'} failed: "
        "/venv/bin/uv pip install ... exited with 2\n"
    )


# The repository's example projects pin what the skeletons of their framework pin (test_scaffold
# checks the pins), so that framework's environment is theirs: what their code imports must be
# there, as their CI installs it. smdebug is the SageMaker XGBoost image's, imported behind an
# ImportError guard (ml/src/train.py: Debugger's hook when the job configures it).
EXAMPLES = {"ml": "xgboost", "projects/demand": "sklearn"}
IMAGE_ONLY = {"ml": {"smdebug"}}
# Run in an environment: which of the module names given it cannot find.
MISSING = """
import importlib.util, json, sys
print(json.dumps([name for name in sys.argv[1:] if importlib.util.find_spec(name) is None]))
"""


@pytest.mark.parametrize(("folder", "framework"), EXAMPLES.items())
def test_each_example_projects_code_imports_only_what_its_requirements_install(
    folder: str, framework: str
) -> None:
    root = ROOT / folder
    files = [(root / name).read_text() for name in skeleton_envs.REQUIREMENTS]
    assert _pins(files) == _pins(skeleton_envs.requirements(framework).values())
    sources = sorted((root / "src").glob("*.py"))
    imported = set().union(*(imported_modules(p.read_text(), when_run=True) for p in sources))
    own = {path.stem for path in sources} | IMAGE_ONLY.get(folder, set())
    third_party = sorted(imported - set(sys.stdlib_module_names) - own)
    assert FRAMEWORKS[framework].module in third_party
    done = subprocess.run(
        [skeleton_envs.interpreter(framework), "-I", "-c", MISSING, *third_party],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout) == [], f"{folder}/src imports what its requirements lack"
