"""README "Multi-account delivery": every command it names exists and says what it should.

Each `make` line is dry-run (`make -n`, nothing executes); every CDK CLI option in what it would
run is one the pinned CDK CLI offers (`cdk <command> --help`, offline); the accounts are those
of config/example.yaml, whose topology the guide sets up.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from functools import cache
from pathlib import Path

import pytest

from stacks.config import load_config
from tools import delivery as delivery_tool

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "example.yaml"


def _guide_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Multi-account delivery", 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


COMMANDS = _guide_commands()


def _dry_run(command: str) -> list[str]:
    """What ``make`` would run for ``command`` (a README line), without running it."""
    args = shlex.split(command)
    assert args[0] == "make", command
    result = subprocess.run(
        [
            "make",
            "-n",
            "--no-print-directory",
            "-o",
            ".venv/.installed",
            "-o",
            "node_modules/.installed",
            *args[1:],
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MAKEFLAGS": ""},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@cache
def _cdk_options(command: str) -> frozenset[str]:
    result = subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "cdk"), command, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return frozenset(re.findall(r"^\s+(--[a-z-]+)", result.stdout, flags=re.M))


def test_the_guide_covers_the_set_up_in_order() -> None:
    targets = [shlex.split(c)[1] for c in COMMANDS]
    assert targets == ["bootstrap"] * 4 + ["deploy-delivery", "publish-source"]


def test_the_guide_bootstraps_the_example_topology() -> None:
    """The tooling account without trust, every environment account trusting it."""
    config = load_config(EXAMPLE)
    assert config.delivery is not None
    tooling = config.delivery.tooling
    bootstraps = [dict(a.split("=", 1) for a in shlex.split(c)[2:]) for c in COMMANDS[:4]]
    assert bootstraps[0] == {"ACCOUNT": tooling.account, "REGION": tooling.region}
    assert bootstraps[1:] == [
        {"ACCOUNT": e.account, "REGION": e.region, "TRUST": tooling.account}
        for e in config.environments
    ]
    assert all(f"CONFIG={EXAMPLE.relative_to(ROOT)}" in c for c in COMMANDS[4:])


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_runs_what_the_guide_says(command: str) -> None:
    ran = [line for line in _dry_run(command) if re.match(r"(cdk|aws|git) ", line)]
    assert ran, command
    for line in ran:
        words = shlex.split(line)
        if words[0] == "cdk":
            assert {w.split("=")[0] for w in words if w.startswith("--")} <= _cdk_options(
                words[1]
            ), line
    if "TRUST=" in command:
        trust = command.split("TRUST=")[1].split()[0]
        assert f"--trust {trust} --cloudformation-execution-policies" in ran[0]
    elif "bootstrap" in command:
        assert "--trust" not in ran[0]  # the tooling account trusts nobody


def test_publish_source_uploads_where_the_pipeline_reads() -> None:
    [upload] = [line for line in _dry_run(COMMANDS[-1]) if line.startswith("aws s3 cp")]
    assert "python -m tools.delivery source-uri config/example.yaml" in upload
    assert delivery_tool.main(["source-uri", str(EXAMPLE)]) == 0
    uri = delivery_tool.source_uri(load_config(EXAMPLE))
    assert uri == "s3://mlops-delivery-source-444444444444/platform/source.zip"


def test_a_target_without_its_variables_says_what_to_set() -> None:
    for target, variable in (
        ("bootstrap", "ACCOUNT="),
        ("deploy-delivery", "CONFIG="),
        ("publish-source", "CONFIG="),
    ):
        result = subprocess.run(
            # -o: the installs are taken as done, whatever their stamps' times.
            [
                "make",
                "--no-print-directory",
                "-o",
                ".venv/.installed",
                "-o",
                "node_modules/.installed",
                target,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2 and variable in result.stderr, (target, result.stderr)


def test_source_uri_refuses_a_platform_without_an_s3_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("platform_name: mlops\n")
    assert delivery_tool.main(["source-uri", str(plain)]) == 2
    assert "delivery: not configured" in capsys.readouterr().err
