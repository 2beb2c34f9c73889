"""The skeletons' own test environments: one venv per framework that trains here
(``Framework.trains_here``), holding exactly what a project scaffolded with it installs, as its
CI does (``pip install -r requirements.txt -r requirements-dev.txt``).

    python -m tools.skeleton_envs      # make install runs it

tests/test_scaffold.py and tests/test_kit.py run a skeleton's own tests (which train, evaluate
and serve in subprocesses) with the python of its framework's environment (ADR 0035): in the
platform's venv, which holds every framework and the SDK, a requirement missing from a
skeleton's files went unnoticed, and ``import xgboost`` also imported scikit-learn and pandas
(about 1.8 s of its 2.2 s) in each of the three processes that import it.

An environment is built again when the files it was built from are no longer what
``mlops new-project`` writes (their copies in its folder) or its Python is not the one this
runs on; a current one is left as it is.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from pathlib import Path

from mlops_cli.scaffold import FRAMEWORKS, skeleton_files

ENVS = Path(__file__).resolve().parent.parent / ".venv-skeletons"
REQUIREMENTS = ("requirements.txt", "requirements-dev.txt")
# A skeleton's requirements depend on its framework only (and on --pipeline custom, whose
# requirements-dev.txt adds the SDK: its pipeline tests run in the platform's venv, which has it).
_PROBLEM = "regression"


def frameworks() -> list[str]:
    """The frameworks whose skeletons the platform's tests train."""
    return [name for name, framework in FRAMEWORKS.items() if framework.trains_here]


def requirements(framework: str) -> dict[str, str]:
    """The requirement files ``mlops new-project`` writes for ``framework`` (name -> text)."""
    files = skeleton_files("demo", framework, _PROBLEM, ".")
    return {name: files[name] for name in REQUIREMENTS}


def python(framework: str) -> Path:
    """The interpreter of ``framework``'s environment."""
    return ENVS / framework / "bin" / "python"


def stale(framework: str) -> str | None:
    """Why ``framework``'s environment cannot run a skeleton's tests now, or None."""
    folder = ENVS / framework
    if not python(framework).exists():
        return f"{folder} does not exist: run `make install`"
    built_with = _venv_version(folder)
    if built_with != platform.python_version():
        return (
            f"{folder} runs Python {built_with}, the platform's venv {platform.python_version()}: "
            "run `make install`"
        )
    for name, text in requirements(framework).items():
        copy = folder / name
        if not copy.exists() or copy.read_text() != text:
            return (
                f"{folder} was built from another {name} than `mlops new-project` writes now: "
                "run `make install`"
            )
    return None


class StaleEnvironment(RuntimeError):
    """A framework's environment is missing, or was built from other requirements or with
    another Python."""


def interpreter(framework: str) -> str:
    """The python of ``framework``'s environment, which must be current (else
    :class:`StaleEnvironment`, whose message says what to run)."""
    problem = stale(framework)
    if problem is not None:
        raise StaleEnvironment(problem)
    return str(python(framework))


def _venv_version(folder: Path) -> str | None:
    """The Python version a venv was made with (its pyvenv.cfg's ``version``)."""
    config = folder / "pyvenv.cfg"
    if not config.exists():
        return None
    for line in config.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "version":
            return value.strip()
    return None


def build(framework: str) -> None:
    """A new environment for ``framework``: a venv of this interpreter, the requirements
    installed with the platform's uv (compiled, as make install compiles the platform's), and
    their copies written last, so that an interrupted build stays stale."""
    folder = ENVS / framework
    shutil.rmtree(folder, ignore_errors=True)
    # No pip: uv installs (ensurepip's pip and setuptools took 3 s a venv).
    subprocess.run([sys.executable, "-m", "venv", str(folder), "--without-pip"], check=True)
    files = requirements(framework)
    pending = {name: folder / f"{name}.pending" for name in files}
    for name, path in pending.items():
        path.write_text(files[name])
    uv = Path(sys.executable).parent / "uv"
    install = [str(uv), "pip", "install", "--quiet", "--compile-bytecode"]
    install += ["--python", str(python(framework))]
    for path in pending.values():
        install += ["-r", str(path)]
    subprocess.run(install, check=True)
    for name, path in pending.items():
        path.rename(folder / name)


def main() -> int:
    for framework in frameworks():
        if stale(framework) is None:
            continue
        try:
            build(framework)
        except subprocess.CalledProcessError as error:
            print(
                f"tools.skeleton_envs: building {ENVS / framework} failed: "
                f"{' '.join(map(str, error.cmd[:3]))} ... exited with {error.returncode}",
                file=sys.stderr,
            )
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
