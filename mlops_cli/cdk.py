"""Running the pinned CDK CLI (``node_modules/.bin/cdk``) for the platform's app.

The CLI runs ``python app.py`` (cdk.json): the interpreter running this tool is put first on
PATH, so the app gets the project's virtual environment even when it is not activated (the
README's ``npx cdk synth`` failed with ``python: not found`` outside ``make``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from mlops_cli.errors import CliError

ROOT = Path(__file__).resolve().parent.parent


def cdk_executable() -> str:
    """The project's pinned CDK CLI, else one on PATH."""
    pinned = ROOT / "node_modules" / ".bin" / "cdk"
    if pinned.is_file():
        return str(pinned)
    found = shutil.which("cdk")
    if found is None:
        raise CliError("the CDK CLI is not installed. Fix: run `make synth` once (it runs npm ci)")
    return found


def cdk_command(args: Sequence[str], *, config: str | None, profile: str | None) -> list[str]:
    """The full command line for ``cdk <args>`` with the configuration and the profile."""
    command = [cdk_executable(), *args]
    if config is not None and args and args[0] in {"synth", "deploy", "diff", "destroy"}:
        command += ["-c", f"config={config}"]
    if profile is not None:
        command += ["--profile", profile]
    return command


def run_cdk(args: Sequence[str], *, config: str | None, profile: str | None) -> None:
    """Runs ``cdk <args>`` in the project folder, its output going straight to the terminal
    (the CLI prints its own progress); a failure ends the command with the CLI's exit code."""
    environment = {**os.environ}
    environment["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environment["PATH"]])
    environment.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    command = cdk_command(args, config=config, profile=profile)
    result = subprocess.run(command, cwd=ROOT, env=environment, check=False)
    if result.returncode != 0:
        raise CliError(f"`cdk {' '.join(args)}` failed (exit {result.returncode}): see above")
