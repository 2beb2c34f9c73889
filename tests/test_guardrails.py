"""Every stack passes the rule packs, cfn-lint and checkov; acknowledgements carry reasons."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml

from stacks.guardrails import PACKS
from tests.conftest import Synthesized

ROOT = Path(__file__).resolve().parent.parent
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
SKIPS_FILE = ROOT / "tests" / "checkov_skips.yaml"


@pytest.mark.parametrize("which", ["default_synth", "custom_synth", "vpc_synth", "example_synth"])
def test_no_unacknowledged_rule_pack_findings(which: str, request: pytest.FixtureRequest) -> None:
    synth: Synthesized = request.getfixturevalue(which)
    assert synth.report["title"] == "Validation Report"  # the packs ran and reported
    assert synth.violations() == []


def test_every_pack_reports_on_a_noncompliant_stage(tmp_path: Path) -> None:
    """The canary: the same wiring (packs on the app) flags a bare bucket in a stage in all five
    packs: the four generic ones and the MLOps pack."""
    from aws_cdk import aws_s3 as s3

    from stacks.app_builder import project_context
    from stacks.guardrails import add_rule_packs

    app = cdk.App(
        outdir=str(tmp_path),
        context={**project_context(), "@aws-cdk/core:failSynthOnValidationErrors": False},
    )
    stage = cdk.Stage(app, "canary")
    add_rule_packs(app)
    stack = cdk.Stack(stage, "Bad")
    s3.CfnBucket(stack, "Open")
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    plugins = {p["pluginName"] for p in report["pluginReports"] if p["violations"]}
    assert plugins == {"AwsSolutions", "HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321", "MLOps"}
    assert len(PACKS) == 4


def _acknowledgements(scope: Any) -> list[tuple[str, str, str]]:
    found = []
    for construct in scope.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule, reason in entry.data.items():
                    found.append((construct.node.path, rule, reason))
    return found


def test_acknowledgements_are_specific(default_synth: Synthesized) -> None:
    acks = _acknowledgements(default_synth.app)
    assert acks, "expected the documented acknowledgements"
    for path, rule, reason in acks:
        depth = len(path.split("/"))
        # Never on a stage or a stack: on the resource (or the construct owning it).
        assert depth >= 3, (path, rule)
        assert len(reason) >= 40, (path, rule, reason)


def test_wildcard_acknowledgements_name_the_wildcard(default_synth: Synthesized) -> None:
    for _, rule, _ in _acknowledgements(default_synth.app):
        if "IAM5" in rule:
            assert rule.split("IAM5", 1)[1].startswith("["), rule  # never a blanket IAM5


def test_cfn_lint_clean(
    default_synth: Synthesized,
    custom_synth: Synthesized,
    vpc_synth: Synthesized,
    example_synth: Synthesized,
) -> None:
    synths = (default_synth, custom_synth, vpc_synth, example_synth)
    templates = [str(p) for s in synths for p in s.template_paths]
    # 2 shared stacks per environment and 5 per project: one project in (1 + 3) environments,
    # two in VPC mode's, and the example's three projects in one; and custom_synth's chat
    # stack in each of its 3 environments (its chat channels: tests/test_chat.py).
    assert len(templates) == 4 * (2 + 5) + (2 + 2 * 5) + (2 + 3 * 5) + 3
    # The endpoint templates the deploy pipeline deploys (shipped as an asset) too.
    endpoint_templates = [str(p) for s in synths for p in s.outdir.glob("asset.*/*.template.json")]
    # 2 per project and environment, and VPC mode's batch scoring monitors.
    assert len(endpoint_templates) == 13 + 3 * 2
    templates += endpoint_templates
    # Two cfn-lint processes, one per half of the templates: the machine has two cores.
    processes = [
        subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "cfn-lint"), "--format", "parseable", "--", *half],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for half in (templates[::2], templates[1::2])
    ]
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)
        # Errors, warnings and informational findings alike: the expected output is empty.
        assert stdout == "" and process.returncode == 0, stdout + stderr


def _checkov_failures(*directories: Path) -> list[tuple[str, str, str]]:
    """checkov's failed checks over each of ``directories`` (one process each, run at once):
    (check id, resource, file name)."""
    processes = [
        subprocess.Popen(
            [
                str(CHECKOV),
                "-d",
                str(directory),
                "--framework",
                "cloudformation",
                "--skip-download",
                "--quiet",
                "--compact",
                "-o",
                "json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={"BC_SKIP_MAPPING": "TRUE", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
        )
        for directory in directories
    ]
    failures = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode in (0, 1), stderr[-2000:]
        reports = json.loads(stdout)
        reports = reports if isinstance(reports, list) else [reports]
        failures += [
            (c["check_id"], c["resource"], Path(c["file_path"]).name)
            for r in reports
            for c in r.get("results", {}).get("failed_checks", [])
        ]
    return failures


def test_checkov_clean_but_for_listed_skips(
    default_synth: Synthesized,
    vpc_synth: Synthesized,
    example_synth: Synthesized,
    custom_synth: Synthesized,
    tmp_path: Path,
) -> None:
    skips = [s for s in yaml.safe_load(SKIPS_FILE.read_text())["skips"] if not s.get("delivery")]
    for skip in skips:
        assert len(skip["reason"]) >= 40, skip
    # custom_synth's chat stacks (its other stacks differ from the others' only in settings).
    chat = tmp_path / "chat"
    chat.mkdir()
    for stage in custom_synth.stages.values():
        assert stage.chat is not None
        name = f"{stage.chat.artifact_id}.template.json"
        (chat / name).write_text(json.dumps(custom_synth.template_json(stage.chat)))
    failures = _checkov_failures(default_synth.outdir, vpc_synth.outdir, example_synth.outdir, chat)
    unexplained = [
        f for f in failures
        if not any(f[0] == s["check"] and f[1].endswith(s["resource"]) for s in skips)
    ]  # fmt: skip
    assert unexplained == []
    # A skip that no longer matches anything is stale: remove it.
    for skip in skips:
        assert any(f[0] == skip["check"] and f[1].endswith(skip["resource"]) for f in failures), (
            skip
        )
