"""The dashboard shows every project, with the numbers on-call looks at first.

One dashboard per environment (``<platform>-<env>``), a section per project of the environment
(also in a delivered platform's serving environments and in its development environment, which
trains but serves nothing), each starting with the state of every alarm the project has there,
then each endpoint deployed there (invocations, latency against its rollback alarm, errors),
then the failures of its pipelines and the events its functions gave up on, then drift and
model quality against their alarms' thresholds, then its functions' errors. Read from the
DashboardBody of the suite's synthesized templates.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions

from mlops_constructs.monitor import DashboardSection, PlatformDashboard
from mlops_constructs.names import component_name
from stacks.stage import PlatformStage
from stacks.topology import STAGES
from tests.conftest import Synthesized
from tests.test_runbooks import FIXTURES, alarms, templates

GRID_WIDTH = 24
# CloudWatch's limits: widgets per dashboard, alarms per alarm status widget; and ours, far
# below CloudWatch's 500 metrics per graph.
MAX_WIDGETS = 500
MAX_STATUS_ALARMS = 100
MAX_GRAPH_METRICS = 100


def _resolve(value: Any) -> str:
    """A DashboardBody value as text, intrinsics replaced by placeholders."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_resolve(p) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return "${" + str(value["Ref"]) + "}"
    return "${?}"


def dashboards(synth: Synthesized) -> dict[str, list[dict[str, Any]]]:
    """Every dashboard of a synthesis: name -> its widgets."""
    found: dict[str, list[dict[str, Any]]] = {}
    for _, template in templates(synth):
        for resource in template.get("Resources", {}).values():
            if resource["Type"] == "AWS::CloudWatch::Dashboard":
                props = resource["Properties"]
                body = json.loads(_resolve(props["DashboardBody"]))
                assert props["DashboardName"] not in found
                found[props["DashboardName"]] = body["widgets"]
    return found


def _title(widget: dict[str, Any]) -> str:
    props = widget["properties"]
    return str(props.get("title") or props.get("markdown", ""))


def _alarm_name(arn: str) -> str:
    return arn.split(":alarm:", 1)[1]


def _widget_alarms(widget: dict[str, Any]) -> list[str]:
    """The alarms an alarm status widget or an alarm graph shows."""
    props = widget["properties"]
    arns = props["alarms"] if widget["type"] == "alarm" else props["annotations"]["alarms"]
    return [_alarm_name(a) for a in arns]


def _is_alarm_graph(widget: dict[str, Any]) -> bool:
    return "alarms" in widget["properties"].get("annotations", {})


def sections(widgets: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The dashboard's project sections, in order: project -> its widgets (title first)."""
    found: dict[str, list[dict[str, Any]]] = {}
    current: list[dict[str, Any]] | None = None
    for widget in widgets:
        title = _title(widget)
        if widget["type"] == "text" and title.startswith("## Project "):
            project = title.removeprefix("## Project ").split("\n", 1)[0]
            current = found[project] = []
        if current is not None:
            current.append(widget)
    return found


def _served(synth: Synthesized, prefix: str) -> dict[str, bool]:
    """The endpoints the pipelines deploy for project ``prefix`` (its run-time templates): stage
    -> real-time."""
    served: dict[str, bool] = {}
    for path, template in templates(synth):
        name = path.name.removesuffix(".template.json")
        if not name.startswith(f"{prefix}-endpoint-"):
            continue
        configs = [
            r["Properties"]
            for r in template["Resources"].values()
            if r["Type"] == "AWS::SageMaker::EndpointConfig"
        ]
        [config] = configs
        served[name.removeprefix(f"{prefix}-endpoint-")] = not any(
            "ServerlessConfig" in v for v in config["ProductionVariants"]
        )
    # In the order the deployment goes.
    return {stage: served[stage] for stage in STAGES if stage in served}


def _components(synth: Synthesized, prefix: str) -> set[str]:
    """The stages of project ``prefix`` whose endpoint serves an inference component
    (scale_to_zero, ADR 0014)."""
    return {
        path.name.removesuffix(".template.json").removeprefix(f"{prefix}-endpoint-")
        for path, template in templates(synth)
        if path.name.startswith(f"{prefix}-endpoint-")
        and any(
            r["Type"] == "AWS::SageMaker::InferenceComponent"
            for r in template["Resources"].values()
        )
    }


def _functions(synth: Synthesized, prefix: str) -> set[str]:
    return {
        r["Properties"]["FunctionName"]
        for _, template in templates(synth)
        for r in template.get("Resources", {}).values()
        if r["Type"] == "AWS::Lambda::Function"
        and str(r["Properties"].get("FunctionName", "")).startswith(f"{prefix}-")
    }


def _stages(synth: Synthesized) -> list[PlatformStage]:
    return list(synth.stages.values())


@pytest.mark.parametrize("fixture", FIXTURES)
def test_one_dashboard_per_environment(fixture: str, request: pytest.FixtureRequest) -> None:
    synth: Synthesized = request.getfixturevalue(fixture)
    found = dashboards(synth)
    assert sorted(found) == sorted(s.config.prefix(s.environment.name) for s in _stages(synth)), (
        "one dashboard per environment, none in the tooling account"
    )
    for stage in _stages(synth):
        monitor = synth.template_json(stage.monitor)
        assert [
            r["Properties"]["DashboardName"]
            for r in monitor["Resources"].values()
            if r["Type"] == "AWS::CloudWatch::Dashboard"
        ] == [stage.config.prefix(stage.environment.name)]


@pytest.mark.parametrize("fixture", FIXTURES)
def test_every_project_has_a_section_led_by_what_on_call_reads_first(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    synth: Synthesized = request.getfixturevalue(fixture)
    every_alarm = alarms(synth)
    found = dashboards(synth)
    for stage in _stages(synth):
        config, environment = stage.config, stage.environment.name
        by_project = sections(found[config.prefix(environment)])
        assert list(by_project) == [p.name for p in config.projects], environment
        for project in config.projects:
            prefix = config.prefix(environment, project.name)
            widgets = by_project[project.name]
            where = f"{environment}/{project.name}"
            # What the environment does for the project, in words.
            assert widgets[0]["type"] == "text" and "\n" in _title(widgets[0]), where

            # 1. The state of every alarm the project has in the environment, ALARM first.
            own = {n: p for n, p in every_alarm.items() if n.startswith(f"{prefix}-")}
            assert own, where
            status = widgets[1]
            assert status["type"] == "alarm", where
            shown = _widget_alarms(status)
            assert len(shown) == len(set(shown)) and set(shown) == set(own), where
            assert status["properties"]["sortBy"] == "stateUpdatedTimestamp"

            # 2. Each endpoint deployed here: invocations, latency (with its rollback
            # threshold), errors (5xx first), and the instances when real-time.
            position = 2
            components = _components(synth, prefix)
            for endpoint_stage, realtime in _served(synth, prefix).items():
                endpoint = f"{prefix}-{endpoint_stage}"
                row = widgets[position : position + (4 if realtime else 3)]
                # An endpoint's instances; an inference component's copies and cold starts.
                use = (
                    "copies (%) and cold starts"
                    if endpoint_stage in components
                    else "instances (%)"
                )
                assert [_title(w) for w in row] == [
                    f"{endpoint}: invocations",
                    f"{endpoint}: model latency (µs)",
                    f"{endpoint}: errors",
                    *([f"{endpoint}: {use}"] if realtime else []),
                ], where
                errors = row[2]["properties"]["metrics"]
                assert errors[0][1] == "Invocation5XXErrors" and endpoint in errors[0], where
                latency = row[1]["properties"]
                if realtime:
                    [line] = latency["annotations"]["horizontal"]
                    assert line["value"] == own[f"{endpoint}-latency-p99"]["Threshold"], where
                else:
                    assert "annotations" not in latency, where
                position += len(row)

            # 3. When its pipelines last failed and what its functions gave up on.
            failures = [n for n in own if n.endswith(("-failed", "-not-empty"))]
            graphs = widgets[position : position + len(failures)]
            assert all(_is_alarm_graph(w) for w in graphs), where
            assert sorted(n for w in graphs for n in _widget_alarms(w)) == sorted(failures)
            position += len(graphs)

            # 4. Drift and model quality, against the alarms' thresholds.
            drift = {n: p for n, p in own.items() if "-drift-" in n}
            figures = [
                w
                for w in widgets[position:]
                if any(k in _title(w) for k in ("drift", "PSI", "labelled traffic", "NDCG"))
            ]
            assert bool(figures) == bool(drift), where
            assert figures == widgets[position : position + len(figures)], where
            for widget in figures:
                [line] = widget["properties"]["annotations"]["horizontal"]
                kind = "data"
                if "labelled traffic" in _title(widget):
                    kind = "model-quality"
                elif "NDCG" in _title(widget):
                    kind = "attribution"
                thresholds = {p["Threshold"] for n, p in drift.items() if n.endswith(kind)}
                assert thresholds == {line["value"]}, (where, _title(widget))
            position += len(figures)

            # 5. Its functions' errors: every function of the project in the environment.
            [functions] = widgets[position:]
            assert _title(functions) == f"{project.name}: platform functions' errors"
            named = {m[3] for m in functions["properties"]["metrics"]}
            assert named == _functions(synth, prefix), where


def test_the_development_environment_of_a_delivered_platform_shows_training(
    multi_account_synth: Synthesized,
) -> None:
    """Development trains but serves nothing: its section is the alarms and the failures of
    the project's ETL, training and CI, and the functions; no endpoint, no drift."""
    widgets = sections(dashboards(multi_account_synth)["mlops-dev"])["churn"]
    assert "No endpoint here" in _title(widgets[0])
    graphs = [n for w in widgets if _is_alarm_graph(w) for n in _widget_alarms(w)]
    assert graphs == [
        "mlops-dev-churn-etl-failed",
        "mlops-dev-churn-training-failed",
        "mlops-dev-churn-cicd-failed",
        "mlops-dev-churn-start-training-dlq-not-empty",
    ]
    assert not any("drift" in _title(w) or "invocations" in _title(w) for w in widgets)
    production = sections(dashboards(multi_account_synth)["mlops-prod"])["churn"]
    assert "`mlops-churn-release`" in _title(production[0])


@pytest.mark.parametrize("fixture", FIXTURES)
def test_widgets_stay_within_cloudwatchs_limits(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    synth: Synthesized = request.getfixturevalue(fixture)
    for name, widgets in dashboards(synth).items():
        assert len(widgets) <= MAX_WIDGETS, name
        taken: set[tuple[int, int]] = set()
        for widget in widgets:
            x, y, width, height = (widget[k] for k in ("x", "y", "width", "height"))
            assert width >= 1 and x >= 0 and x + width <= GRID_WIDTH, (name, _title(widget))
            assert 1 <= height <= 1000, (name, _title(widget))
            cells = {(i, j) for i in range(x, x + width) for j in range(y, y + height)}
            assert not cells & taken, f"{name}: {_title(widget)} overlaps another widget"
            taken |= cells
            props = widget["properties"]
            if widget["type"] == "alarm":
                assert 1 <= len(props["alarms"]) <= MAX_STATUS_ALARMS, name
            elif _is_alarm_graph(widget):
                assert len(props["annotations"]["alarms"]) == 1, name
            elif widget["type"] == "metric":
                assert 1 <= len(props["metrics"]) <= MAX_GRAPH_METRICS, name


def test_more_widgets_than_a_dashboard_holds_is_refused() -> None:
    """Each project adds its widgets to the environment's one dashboard: past CloudWatch's 500
    the synthesis stops with the fix, rather than the deployment failing."""

    def section(i: int) -> DashboardSection:
        prefix = f"mlops-dev-p{i}"
        return DashboardSection(
            title=f"p{i}",
            prefix=prefix,
            summary="Trains here.",
            endpoints={"staging": False, "prod": True},
            alarm_names=[f"{prefix}-etl-failed", f"{prefix}-training-failed"],
            failure_alarms={f"{prefix}-etl-failed": "ETL", f"{prefix}-training-failed": "runs"},
            functions=[f"{prefix}-start-training"],
        )

    # Per project: title, alarm status, 3 + 4 endpoint graphs, 2 failure graphs, functions.
    per_project = 12
    fits = (MAX_WIDGETS - 1) // per_project
    stack = cdk.Stack(cdk.App(), "Fits")
    dashboard = PlatformDashboard(
        stack, "Dashboard", prefix="mlops-dev", sections=[section(i) for i in range(fits)]
    )
    assert dashboard.widget_count == 1 + fits * per_project <= MAX_WIDGETS
    with pytest.raises(ValueError, match="CloudWatch allows 500 per dashboard"):
        PlatformDashboard(
            cdk.Stack(cdk.App(), "TooMany"),
            "Dashboard",
            prefix="mlops-dev",
            sections=[section(i) for i in range(fits + 1)],
        )


def test_a_scale_to_zero_stage_shows_its_inference_components_metrics() -> None:
    """hosting: scale_to_zero serves through an inference component, whose invocation metrics
    carry its name (not the endpoint's and variant's): its row graphs those, the copies' use of
    their instances, and the requests that found no copy running."""
    prefix = "mlops-dev-p"
    stack = cdk.Stack(cdk.App(), "Components")
    PlatformDashboard(
        stack,
        "Dashboard",
        prefix="mlops-dev",
        sections=[
            DashboardSection(
                title="p",
                prefix=prefix,
                endpoints={"staging": True, "prod": True},
                components=["prod"],
            )
        ],
    )
    (dashboard,) = (
        assertions.Template.from_stack(stack).find_resources("AWS::CloudWatch::Dashboard").values()
    )
    body = json.loads(
        "".join(
            p if isinstance(p, str) else ""
            for p in dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
        )
    )
    metrics = {
        (w["properties"]["title"].split(":")[0], tuple(m[:4]))
        for w in body["widgets"]
        if w["type"] == "metric"
        for m in w["properties"]["metrics"]
    }
    component = component_name(f"{prefix}-prod")
    assert (
        f"{prefix}-prod",
        ("AWS/SageMaker", "Invocations", "InferenceComponentName", component),
    ) in metrics
    assert (
        f"{prefix}-prod",
        ("AWS/SageMaker", "NoCapacityInvocationFailures", "InferenceComponentName", component),
    ) in metrics
    assert (
        f"{prefix}-prod",
        (
            "/aws/sagemaker/InferenceComponents",
            "CPUUtilizationNormalized",
            "InferenceComponentName",
            component,
        ),
    ) in metrics
    assert (
        f"{prefix}-staging",
        ("AWS/SageMaker", "Invocations", "EndpointName", f"{prefix}-staging"),
    ) in metrics
    assert not any(t == f"{prefix}-prod" and m[2] == "EndpointName" for t, m in metrics)
