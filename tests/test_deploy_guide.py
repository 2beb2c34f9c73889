"""README "Set-up", "Deploy to AWS", "Operate" and "Onboard a team": every command they show exists and takes
the arguments shown.

Only ``make`` and ``mlops`` commands may appear in their shell blocks. A ``make`` line is
dry-run (``make -n``: nothing executes) and what it would run is parsed by the ``mlops``
command's own parser, as is every ``mlops`` line: an unknown subcommand or option fails here
before a reader meets it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from mlops_cli.errors import CliError
from mlops_cli.main import build_parser
from stacks.config import load_config
from tools import delivery as delivery_tool

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("Set-up: two commands", "Deploy to AWS", "Operate", "Onboard a team")


def _commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    commands = []
    for title in SECTIONS:
        assert f"\n## {title}\n" in readme, title
        section = readme.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
        for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
            for line in block.splitlines():
                command = line.split("  #", 1)[0].strip()
                if command and not command.startswith("#"):
                    commands.append(command)
    return commands


COMMANDS = _commands()


def _make_dry_run(args: list[str]) -> list[str]:
    """What ``make`` would run for ``args``, the installs taken as done."""
    result = subprocess.run(
        [
            "make",
            "-n",
            "--no-print-directory",
            *("-o", ".venv/.installed"),
            *("-o", "node_modules/.installed"),
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MAKEFLAGS": ""},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def _parses(words: list[str]) -> None:
    assert words[0] == "mlops", words
    try:
        build_parser().parse_args(words[1:])
    except CliError as error:
        pytest.fail(f"{' '.join(words)}: {error.message}")


def test_the_guide_shows_only_make_and_mlops_commands() -> None:
    assert len(COMMANDS) >= 15
    assert {shlex.split(c)[0] for c in COMMANDS} == {"make", "mlops"}


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_exists_with_its_arguments(command: str) -> None:
    words = shlex.split(command)
    if words[0] == "mlops":
        _parses(words)
        return
    ran = _make_dry_run(words[1:])
    target = words[1]
    if target in {"synth", "test"}:
        assert any(line.startswith(("cdk synth", "pytest")) for line in ran), ran
        return
    [line] = [line for line in ran if line.startswith("mlops ")]
    _parses(shlex.split(line))
    for variable, option in (("CONFIG=", "--config"), ("ENV=", "--environment")):
        if any(w.startswith(variable) for w in words[2:]):
            value = next(w for w in words[2:] if w.startswith(variable)).split("=", 1)[1]
            assert f"{option} {value}" in line, line
    if "DRY_RUN=1" in words:
        assert "--dry-run" in line


def test_the_delivered_guide_bootstraps_every_account_of_the_example() -> None:
    config = load_config(ROOT / "config" / "example.yaml")
    assert config.delivery is not None
    environments = [
        dict(w.split("=", 1) for w in shlex.split(c)[2:] if "=" in w).get("ENV")
        for c in COMMANDS
        if c.startswith("make bootstrap CONFIG=config/example.yaml")
    ]
    assert environments == ["tooling", *(e.name for e in config.environments)]


def test_the_platform_source_goes_where_the_pipeline_reads() -> None:
    assert delivery_tool.main(["source-uri", str(ROOT / "config" / "example.yaml")]) == 0
    uri = delivery_tool.source_uri(load_config(ROOT / "config" / "example.yaml"))
    assert uri == "s3://mlops-delivery-source-444444444444/platform/source.zip"


def test_make_help_lists_every_target_the_guide_uses() -> None:
    help_text = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    for target in {shlex.split(c)[1] for c in COMMANDS if c.startswith("make ")}:
        assert f"make {target}" in help_text, target
