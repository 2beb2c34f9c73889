"""docs/architecture.md is generated from the app (tools/diagram.py), and stays so.

The committed diagrams are regenerated from the suite's own synthesis (``default_synth``: the
built-in default; ``multi_account_synth``: config/example.yaml's accounts with project churn;
both are tools/configurations.py's, which ``make diagram`` synthesizes too) and compared with the
file. The tool itself is tested on a small hand-made cloud assembly: no synthesis, no jsii.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Synthesized
from tools import diagram

DOC = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"
MAX_NODES = 80


@pytest.fixture(scope="module")
def outdirs(default_synth: Synthesized, multi_account_synth: Synthesized) -> dict[str, Path]:
    return {"standalone": default_synth.outdir, "delivered": multi_account_synth.outdir}


def test_the_committed_document_matches_the_app(outdirs: dict[str, Path]) -> None:
    generated = diagram.architecture_document(outdirs)
    committed = DOC.read_text() if DOC.exists() else ""
    if committed != generated:
        diff = difflib.unified_diff(
            committed.splitlines(keepends=True),
            generated.splitlines(keepends=True),
            "docs/architecture.md (committed)",
            "docs/architecture.md (generated from the app)",
        )
        pytest.fail(
            "docs/architecture.md no longer matches the app: run `make diagram` and commit "
            "the result.\n" + "".join(list(diff)[:80])
        )


def test_the_readme_shows_the_committed_standalone_diagram() -> None:
    readme = diagram.README.read_text()
    expected = diagram.with_diagram(readme, diagram.first_diagram(DOC.read_text()))
    assert readme == expected, "README.md's diagram is not docs/architecture.md's: make diagram"


@pytest.mark.parametrize("topology", diagram.TOPOLOGIES, ids=lambda t: t.key)
def test_each_diagram_is_valid_mermaid_and_readable(
    outdirs: dict[str, Path], topology: diagram.Topology
) -> None:
    text, graph = diagram.diagram(outdirs[topology.key], topology.title)
    assert diagram.check_mermaid(text) == []
    assert len(graph.nodes) < MAX_NODES
    # Every reference resolved; the only notes are rules fed by resources not drawn (a Glue
    # data-quality ruleset, Model Monitor schedules this configuration does not have).
    assert all("no drawn resource sends" in n for n in graph.notes), graph.notes


def _edges(graph: diagram.Graph) -> dict[tuple[str, str], str]:
    return {(s, t): "/".join(labels) for (s, t, _), labels in graph.edges.items()}


STANDALONE_FLOWS = [
    # data arrival, ETL, training
    (
        "bucket_mlops_dev_churn_raw_123456789012",
        "workflow_mlops_dev_churn_ingest",
        "Object Created",
    ),
    ("gluejob_mlops_dev_churn_raw_to_curated", "fn_mlops_dev_churn_start_training", "SUCCEEDED"),
    ("fn_mlops_dev_churn_start_training", "smpipeline_mlops_dev_churn_training", "starts"),
    # registration, approval, deployment
    ("smpipeline_mlops_dev_churn_training", "registry_mlops_dev_churn_models", "registers"),
    ("registry_mlops_dev_churn_models", "fn_mlops_dev_churn_deploy_router", "Approved"),
    ("fn_mlops_dev_churn_deploy_router", "codepipeline_mlops_dev_churn_deploy", "starts"),
    ("codepipeline_mlops_dev_churn_deploy", "stack_mlops_dev_churn_endpoint_staging", "1. Staging"),
    ("codepipeline_mlops_dev_churn_deploy", "stack_mlops_dev_churn_endpoint_prod", "2. Production"),
    # monitoring, drift -> retraining
    ("schedule_mlops_dev_churn_prod_monitoring", "smpipeline_mlops_dev_churn_monitoring", "prod"),
    ("fn_mlops_dev_churn_monitoring_run", "alarms_mlops_dev_churn_deploy", "MLOps/Monitoring"),
    ("alarms_mlops_dev_churn_deploy", "fn_mlops_dev_churn_start_training", "ALARM"),
]
DELIVERED_FLOWS = [
    # the platform pipeline's waves
    ("codepipeline_mlops_platform", "stack_mlops_churn_release", "1. Tooling"),
    ("codepipeline_mlops_platform", "env_111111111111_eu_west_1", "2. dev"),
    ("codepipeline_mlops_platform", "env_333333333333_eu_west_1", "after approval"),
    # approval in development -> the tooling account's release bus -> release pipeline
    ("registry_mlops_dev_churn_models", "bus_mlops_churn_releases", "Approved"),
    ("bus_mlops_churn_releases", "fn_mlops_churn_release_router", "Approved"),
    ("fn_mlops_churn_release_router", "codepipeline_mlops_churn_release", "starts"),
    # promotion and release into the serving accounts
    ("codepipeline_mlops_churn_release", "fn_mlops_staging_churn_promote", "Staging: Promote"),
    ("bucket_mlops_dev_churn_artifacts_111111111111", "fn_mlops_prod_churn_promote", "sealed"),
    ("codepipeline_mlops_churn_release", "stack_mlops_prod_churn_endpoint_prod", "2. Prod"),
    # production's drift -> development's default bus -> retraining
    ("alarms_mlops_prod_churn_deploy", "bus_default_111111111111_eu_west_1", "ALARM"),
    ("bus_default_111111111111_eu_west_1", "fn_mlops_dev_churn_start_training", "ALARM"),
]


@pytest.mark.parametrize(
    ("topology", "flows"), [("standalone", STANDALONE_FLOWS), ("delivered", DELIVERED_FLOWS)]
)
def test_the_platform_flows_are_drawn(
    outdirs: dict[str, Path], topology: str, flows: list[tuple[str, str, str]]
) -> None:
    _, graph = diagram.diagram(outdirs[topology], topology)
    edges = _edges(graph)
    missing = [f for f in flows if f[:2] not in edges or f[2] not in edges[f[:2]]]
    assert missing == []


def test_serving_accounts_only_serve(outdirs: dict[str, Path]) -> None:
    """Delivered: no training, catalog or deploy pipeline outside development and tooling."""
    _, graph = diagram.diagram(outdirs["delivered"], "delivered")
    serving = {"222222222222", "333333333333"}
    kinds = {n.kind for n in graph.nodes.values() if n.account in serving}
    assert kinds.isdisjoint({"gluejob", "crawler", "workflow", "codepipeline"})
    assert {n.kind for n in graph.nodes.values() if n.account == "111111111111"}.isdisjoint(
        {"smendpoint"}
    )


# --- the tool on a hand-made cloud assembly ---------------------------------------------------

DEV, TOOLS, REGION = "111111111111", "444444444444", "eu-west-1"


def _rule(pattern: dict[str, Any], target: Any, bus: Any = None) -> dict[str, Any]:
    props: dict[str, Any] = {"EventPattern": pattern, "Targets": [{"Id": "t", "Arn": target}]}
    if bus is not None:
        props["EventBusName"] = bus
    return {"Type": "AWS::Events::Rule", "Properties": props}


def _function(name: str, project: str | None = None, **variables: str) -> dict[str, Any]:
    props: dict[str, Any] = {"FunctionName": name, "Environment": {"Variables": variables}}
    if project:
        props["Tags"] = [{"Key": "project", "Value": project}]
    return {"Type": "AWS::Lambda::Function", "Properties": props}


def _app(project: str) -> dict[str, Any]:
    """A project's stack in the development account: raw data arrives, approvals leave."""
    raw = {"Fn::Join": ["", [f"p-dev-{project}-raw-", {"Ref": "AWS::AccountId"}]]}
    arrival = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [f"p-dev-{project}-raw-{DEV}"]},
            "object": {"key": [{"prefix": "incoming/"}]},
        },
    }
    approved = {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {
            "ModelPackageGroupName": [f"p-dev-{project}-models"],
            "ModelApprovalStatus": ["Approved"],
        },
    }
    tags = [{"Key": "project", "Value": project}]
    resources = {
        "Raw1A2B3C4D": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": raw, "Tags": tags}},
        "Group": {
            "Type": "AWS::SageMaker::ModelPackageGroup",
            "Properties": {"ModelPackageGroupName": f"p-dev-{project}-models", "Tags": tags},
        },
        "Ingest": _function(f"p-dev-{project}-ingest", project),
        "Arrival": _rule(arrival, {"Fn::GetAtt": ["Ingest", "Arn"]}),
        "Forward": _rule(approved, f"arn:aws:events:{REGION}:{TOOLS}:event-bus/p-releases"),
    }
    return {"Resources": resources}


def _release() -> dict[str, Any]:
    """The tooling account: the release bus, its router, the release pipeline."""
    approved = {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
    }
    deploy = {
        "Name": "Deploy",
        "ActionTypeId": {"Category": "Deploy", "Provider": "CloudFormation"},
        "Configuration": {"StackName": "p-dev-alpha-endpoint"},
    }
    pipeline = {"Name": "p-release", "Stages": [{"Name": "Dev", "Actions": [deploy]}]}
    return {
        "Resources": {
            "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "p-releases"}},
            "Router": _function("p-router", DEPLOY_PIPELINE="p-release"),
            "Approved": _rule(approved, {"Fn::GetAtt": ["Router", "Arn"]}, bus={"Ref": "Bus"}),
            "Pipeline": {"Type": "AWS::CodePipeline::Pipeline", "Properties": pipeline},
        }
    }


def _endpoint() -> dict[str, Any]:
    return {
        "Metadata": {"DeploysTo": {"Account": DEV, "Region": REGION}},
        "Resources": {
            "Endpoint": {
                "Type": "AWS::SageMaker::Endpoint",
                "Properties": {"EndpointName": "p-dev-alpha-live"},
            }
        },
    }


def _stack(name: str, account: str) -> dict[str, Any]:
    return {
        "type": "aws:cloudformation:stack",
        "environment": f"aws://{account}/{REGION}",
        "properties": {"templateFile": f"{name}.template.json", "stackName": name},
    }


def _write(path: Path, data: Any, *, reverse: bool) -> None:
    """Writes JSON, each object's keys in reverse order when ``reverse``."""

    def order(value: Any) -> Any:
        if isinstance(value, dict):
            items = [(k, order(v)) for k, v in value.items()]
            return dict(reversed(items) if reverse else items)
        return [order(v) for v in value] if isinstance(value, list) else value

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(order(data)))


def _assembly(root: Path, *, reverse: bool = False) -> Path:
    """Two accounts: development (two projects) and tooling, which ships an endpoint template."""
    dev = {f"p-dev-{p}-app": (_stack(f"p-dev-{p}-app", DEV), _app(p)) for p in ("beta", "alpha")}
    assets = {"files": {"h1": {"source": {"path": "../asset.h1", "packaging": "zip"}}}}
    tools = {"p-release": (_stack("p-release", TOOLS), _release())}
    for stage, stacks in (("dev", dev), ("tools", tools)):
        artifacts: dict[str, Any] = {name: artifact for name, (artifact, _) in stacks.items()}
        for name, (_, template) in stacks.items():
            _write(root / f"assembly-{stage}" / f"{name}.template.json", template, reverse=reverse)
        if stage == "tools":
            artifacts["p-release.assets"] = {
                "type": "cdk:asset-manifest",
                "properties": {"file": "assets.json"},
            }
            _write(root / "assembly-tools" / "assets.json", assets, reverse=reverse)
        _write(
            root / f"assembly-{stage}" / "manifest.json", {"artifacts": artifacts}, reverse=reverse
        )
    nested = {
        f"assembly-{s}": {
            "type": "cdk:cloud-assembly",
            "properties": {"directoryName": f"assembly-{s}", "displayName": s},
        }
        for s in ("dev", "tools")
    }
    _write(root / "manifest.json", {"version": "55.0.0", "artifacts": nested}, reverse=reverse)
    _write(root / "asset.h1" / "p-dev-alpha-endpoint.template.json", _endpoint(), reverse=reverse)
    return root


@pytest.fixture
def small(tmp_path: Path) -> str:
    text, _ = diagram.diagram(_assembly(tmp_path / "cdk.out"), "small")
    return text


def test_rule_edges_from_what_the_pattern_names_to_the_target(small: str) -> None:
    assert (
        'bucket_p_dev_alpha_raw_111111111111 -->|"Object Created: incoming/*"| fn_p_dev_alpha_ingest'
        in small
    )


def test_a_cross_account_bus_target_and_the_rule_on_that_bus(small: str) -> None:
    label = '"SageMaker Model Package State Change: Approved"'
    assert f"registry_p_dev_alpha_models -->|{label}| bus_p_releases" in small
    assert 'bus_p_releases -->|"SageMaker Model Package State Change"| fn_p_router' in small
    assert 'fn_p_router -->|"starts"| codepipeline_p_release' in small


def test_a_template_shipped_as_an_asset_is_a_stack_where_it_deploys(small: str) -> None:
    assert 'codepipeline_p_release ==>|"1. Dev: deploy"| stack_p_dev_alpha_endpoint' in small
    dev = small[small.index("subgraph env_111111111111") : small.index("subgraph env_444444444444")]
    assert "subgraph stack_p_dev_alpha_endpoint" in dev
    assert 'smendpoint_p_dev_alpha_live(["SageMaker endpoint<br/>p-dev-alpha-live"])' in dev


def test_projects_are_drawn_once(small: str) -> None:
    assert '["per project: alpha, beta"]' in small
    assert "p_dev_beta" not in small


def test_the_output_is_deterministic(tmp_path: Path, small: str) -> None:
    """The same assembly, every JSON object's keys in reverse order: the same diagram."""
    again, _ = diagram.diagram(_assembly(tmp_path / "reversed", reverse=True), "small")
    assert again == small
    assert diagram.check_mermaid(small) == []
    assert not any(ch in small for ch in ("1A2B3C4D", "Raw1A2B"))


def test_the_command_line(tmp_path: Path, small: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "small.mmd"
    cdk_out = str(tmp_path / "cdk.out")
    assert diagram.main(["--cdk-out", cdk_out, "--title", "small", "--output", str(out)]) == 0
    assert out.read_text() == small
    assert diagram.main(["--cdk-out", str(tmp_path / "nothing"), "--title", "x"]) == 2
    assert "no cloud assembly" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('flowchart TB\n  subgraph g ["G"]\n    a["A"]\n', "not closed"),
        ('flowchart TB\n  a["A"]\n  a --> b\n', "undefined b"),
        ('flowchart TB\n  a["A#1"]\n', "characters #"),
        ('flowchart TB\n  a-b["A"]\n', "not understood"),
        ('flowchart TB\n  subgraph g ["G"]\n    a["A"]\n  end\n  a --> g\n', "its content"),
        ('flowchart TB\n  end["A"]\n', "keyword"),
        ('flowchart TB\n  a["A"]\n  a -->|"x"y"| a\n', "not understood"),
        ('graph TB\n  a["A"]\n', "no flowchart header"),
    ],
)
def test_the_syntax_check_finds_mistakes(text: str, error: str) -> None:
    errors = diagram.check_mermaid(text)
    assert any(error in e for e in errors), errors
