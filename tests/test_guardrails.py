"""Every stack passes the rule packs, cfn-lint and checkov; acknowledgements carry reasons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml

from stacks.guardrails import PACKS
from tests.conftest import Synthesized
from tests.templates import balanced_parts, cfn_lint, checkov

ROOT = Path(__file__).resolve().parent.parent
SKIPS_FILE = ROOT / "tests" / "checkov_skips.yaml"


@pytest.mark.parametrize(
    "which",
    ["default_synth", "custom_synth", "vpc_synth", "example_synth", "vpc_cross_region_synth"],
)
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


def test_acknowledgements_are_handed_over_before_synthesis(example_synth: Synthesized) -> None:
    """build_app and the delivery pipeline (which synthesizes each stage it adds) hand the
    recorded acknowledgements over themselves (security/nag.py): made while aws-cdk-lib validates
    the app instead, each one's stack trace in the assembly names jsii's temporary folder."""
    traces = [
        " ".join(entry.get("trace", []))
        for path in example_synth.outdir.rglob("*.metadata.json")
        for entries in json.loads(path.read_text()).values()
        for entry in entries
        if entry["type"] == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    ]
    assert len(traces) > 1000
    assert [t for t in traces if "jsii-kernel-" in t] == []


def _shape(template: Path) -> list[tuple[str, list[str]]]:
    """Each resource's type and property names, sorted: a template's structure, whatever its
    settings and its stage's name (which logical ids of cross-stack permissions carry)."""
    resources = json.loads(template.read_text())["Resources"].values()
    return sorted((r["Type"], sorted(r.get("Properties", {}))) for r in resources)


def _linted(
    custom_synth: Synthesized, vpc_synth: Synthesized, example_synth: Synthesized
) -> list[Path]:
    """The templates cfn-lint and checkov read: each distinct structure once.

    - example_synth and vpc_synth whole (stacks and endpoint templates);
    - custom_synth's first environment, and the chat stack of each (the channels differ per
      environment); its other environments' stacks have the same resources (asserted here)
      with other settings, which the rule packs check in every environment;
    - not default_synth: every resource type and property path it writes, example_synth
      writes too (its default-configured projects), as the next test asserts.
    """
    templates = [*vpc_synth.template_paths, *example_synth.template_paths]
    templates += [
        p for s in (vpc_synth, example_synth) for p in s.outdir.glob("asset.*/*.template.json")
    ]
    first, *others = custom_synth.stages.values()
    assembly = Path(first.outdir)
    templates += sorted(assembly.glob("*.template.json"))
    for stage in others:
        assert stage.chat is not None
        for stack, twin in zip(stage.stacks, first.stacks, strict=True):
            template = Path(stage.outdir) / stack.template_file
            if stack is stage.chat:
                templates.append(template)
            else:
                assert _shape(template) == _shape(assembly / twin.template_file), stack.stack_name
    endpoint_dirs = sorted({p.parent for p in custom_synth.outdir.glob("asset.*/*.template.json")})
    templates += [p for p in endpoint_dirs[0].glob("*.template.json")] if endpoint_dirs else []
    return templates


def _property_paths(synth: Synthesized) -> dict[str, set[str]]:
    """Every property path (``A.B.C``, lists flattened, intrinsics left out) of every resource
    type the synthesis writes, endpoint templates included."""
    found: dict[str, set[str]] = {}

    def walk(value: Any, prefix: str, into: set[str]) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key != "Ref" and not key.startswith("Fn::"):
                    into.add(prefix + key)
                    walk(inner, f"{prefix}{key}.", into)
        elif isinstance(value, list):
            for inner in value:
                walk(inner, prefix, into)

    paths = [*synth.template_paths, *synth.outdir.glob("asset.*/*.template.json")]
    for path in paths:
        for resource in json.loads(path.read_text())["Resources"].values():
            walk(resource.get("Properties", {}), "", found.setdefault(resource["Type"], set()))
    return found


def test_the_default_configuration_writes_nothing_the_example_does_not(
    default_synth: Synthesized, example_synth: Synthesized
) -> None:
    """Why cfn-lint and checkov need not read default_synth (_linted)."""
    default, example = _property_paths(default_synth), _property_paths(example_synth)
    missing = {t: sorted(p - example.get(t, set())) for t, p in default.items()}
    assert {t: p for t, p in missing.items() if p or t not in example} == {}


@pytest.fixture(scope="module")
def linted(
    custom_synth: Synthesized, vpc_synth: Synthesized, example_synth: Synthesized
) -> list[Path]:
    """_linted's templates, found once for the linters' tests."""
    return _linted(custom_synth, vpc_synth, example_synth)


def test_the_linters_read_each_stack_and_endpoint_template_shape(linted: list[Path]) -> None:
    # Per project 5 stacks and 2 endpoint templates, per environment 2 shared stacks: VPC mode's
    # two projects (and its batch monitors), the example's three, custom's first environment
    # (one project) and its 3 chat stacks.
    assert len(linted) == (2 + 2 * 5 + 2 * 2 + 1) + (2 + 3 * 5 + 3 * 2) + (2 + 5 + 3 + 2)
    assert len(set(linted)) == len(linted)


# cfn-lint reads the templates in parts of about the same size, one test each, so that no test
# takes 10 s: it runs in this process (tests.templates.cfn_lint), so a part costs no start-up.
CFN_LINT_PARTS = 5


@pytest.mark.parametrize("part", range(CFN_LINT_PARTS))
def test_cfn_lint_clean(linted: list[Path], part: int) -> None:
    assert cfn_lint(balanced_parts(linted, CFN_LINT_PARTS)[part]) == ""


def _checkov_failures(templates: list[Path] | Path) -> list[tuple[str, str, str]]:
    """checkov's failed checks over ``templates`` (or every template in a folder): (check id,
    resource, file name), from one run of this process's checkov (tests.templates.checkov)."""
    if isinstance(templates, Path):
        templates = sorted(templates.rglob("*.template.json"))
    arguments = [arg for t in templates for arg in ("-f", str(t))]
    arguments += ["--framework", "cloudformation", "--skip-download", "--quiet", "--compact"]
    _, printed = checkov([*arguments, "-o", "json"])
    reports = json.loads(printed)
    reports = reports if isinstance(reports, list) else [reports]
    failures = [
        (c["check_id"], c["resource"], Path(c["file_path"]).name)
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    return failures


# checkov reads the templates in parts of about the same size, one test each, so that no test
# takes 10 s: one checkov process serves the session (tests.templates.checkov), so a part costs
# no start-up.
CHECKOV_PARTS = 3


class CheckovParts:
    """checkov's failures over each part of the linted templates, each part run once, when a
    test first asks for it."""

    def __init__(self, templates: list[Path]) -> None:
        self.parts = balanced_parts(templates, CHECKOV_PARTS)
        self._failures: dict[int, list[tuple[str, str, str]]] = {}

    def failures(self, part: int) -> list[tuple[str, str, str]]:
        if part not in self._failures:
            self._failures[part] = _checkov_failures(self.parts[part])
        return self._failures[part]


@pytest.fixture(scope="module")
def checkov_parts(linted: list[Path]) -> CheckovParts:
    return CheckovParts(linted)


def _platform_skips() -> list[dict[str, Any]]:
    return [s for s in yaml.safe_load(SKIPS_FILE.read_text())["skips"] if not s.get("delivery")]


@pytest.mark.parametrize("part", range(CHECKOV_PARTS))
def test_checkov_clean_but_for_listed_skips(checkov_parts: CheckovParts, part: int) -> None:
    skips = _platform_skips()
    unexplained = [
        f for f in checkov_parts.failures(part)
        if not any(f[0] == s["check"] and f[1].endswith(s["resource"]) for s in skips)
    ]  # fmt: skip
    assert unexplained == [], "\n".join(map(str, unexplained))


def test_every_checkov_skip_is_explained_and_still_needed(checkov_parts: CheckovParts) -> None:
    """A skip says why in a sentence or more, and one that no template fails any more is stale:
    remove it (all parts' findings; those the part tests ran already are not run again)."""
    failures = [f for part in range(CHECKOV_PARTS) for f in checkov_parts.failures(part)]
    for skip in _platform_skips():
        assert len(skip["reason"]) >= 40, skip
        assert any(f[0] == skip["check"] and f[1].endswith(skip["resource"]) for f in failures), (
            skip
        )
