"""Synth benchmark: the platform's synthesis time against the jsii floor, and template sizes.

    make bench                      # or: python benchmarks/synth_benchmark.py [--runs N]
    python benchmarks/synth_benchmark.py --config config/example.yaml   # four accounts, delivery

Each measurement is a fresh Python process (import aws_cdk, start jsii, build, synthesize), so
the figures are what `cdk synth` pays. The "floor" is an empty App synthesized the same way:
the part of every synth that no change to this project can remove. Rule packs are on, the
CloudFormation validator of aws-cdk-lib is off (cfn-lint checks the templates in the tests).
Per stack it prints resource count and template size against CloudFormation's limits.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_RESOURCES = 500
MAX_TEMPLATE_BYTES = 1_000_000  # limit for a template uploaded to S3
MAX_DEFINITION_BYTES = 1_048_576  # SageMaker CreatePipeline: PipelineDefinition length

DEFINITION_ONLY = """
import time
t0 = time.perf_counter()
from mlops_constructs.build.definition import PipelineSpec, build_definition
t1 = time.perf_counter()
from mlops_constructs.build.definition import resolve_images
spec = PipelineSpec(name="p", region="us-east-1", role_arn="arn:aws:iam::123456789012:role/r",
                    artifacts_bucket="a", input_data_uri="s3://r/incoming/",
                    model_package_group="g", serving_columns=("a", "b"),
                    images=resolve_images(region="us-east-1", framework="xgboost",
                                          version="1.7-1"))
build_definition(spec)
t2 = time.perf_counter()
build_definition(spec)
t3 = time.perf_counter()
print(f"{t1 - t0:.2f} {t2 - t1:.2f} {t3 - t2:.2f}")
"""

EMPTY_APP = """
import aws_cdk as cdk
cdk.App(outdir={outdir!r}).synth()
"""
PLATFORM_APP = """
import json
import aws_cdk as cdk
from stacks.app_builder import build_app, project_context
from stacks.config import load_config, parse_config
app = cdk.App(outdir={outdir!r}, context=project_context())
config = parse_config(json.loads({data!r})) if {data!r} else load_config({config!r})
build_app(config, app)
app.synth()
"""


def projects_config(count: int) -> str:
    """The default platform with ``count`` copies of the churn project (p1, p2, ...)."""
    sys.path.insert(0, str(ROOT))
    from stacks.config import PlatformConfig

    churn = PlatformConfig().projects[0].model_dump(mode="json")
    return json.dumps({"projects": [{**churn, "name": f"p{i + 1}"} for i in range(count)]})


def _env() -> dict[str, str]:
    env = {
        **os.environ,
        "CDK_VALIDATION": "false",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("CDK_CONTEXT_JSON", None)
    return env


def _definition_sizes(template: dict[str, object]) -> list[tuple[str, int]]:
    sizes = []
    for logical_id, resource in template["Resources"].items():  # type: ignore[attr-defined]
        if resource["Type"] == "AWS::SageMaker::Pipeline":
            body = resource["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
            text = body["Fn::Sub"][0] if isinstance(body, dict) else body
            sizes.append((logical_id, len(text.encode())))
    return sizes


def _stack_label(path: Path, outdir: Path) -> str:
    """``<stage>/<stack>`` for a stage's template, ``<stack>`` for a top-level one."""
    stack = path.stem.removesuffix(".template")
    if path.parent == outdir:
        return stack
    return f"{path.parent.name.removeprefix('assembly-')}/{stack}"


def _timed(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(), check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--config", default="", help="YAML configuration (default: built-in)")
    parser.add_argument(
        "--projects",
        default="",
        help="comma-separated project counts (e.g. 1,3,10): the default platform with that many "
        "copies of the churn project in one environment, instead of --config",
    )
    args = parser.parse_args()
    if args.projects:
        _scaling([int(n) for n in args.projects.split(",")], args.runs)
        return

    with tempfile.TemporaryDirectory() as tmp:
        floor, full = [], []
        for i in range(args.runs):
            floor.append(_timed(EMPTY_APP.format(outdir=f"{tmp}/empty{i}")))
            full.append(
                _timed(PLATFORM_APP.format(outdir=f"{tmp}/app{i}", config=args.config, data=""))
            )
        f, p = statistics.median(floor), statistics.median(full)
        print(f"synth wall time, median of {args.runs} fresh processes")
        print(f"  empty CDK app (jsii floor) {f:6.2f} s")
        print(f"  platform app               {p:6.2f} s")
        print(f"  ratio                      {p / f:6.2f} x   (above floor: {p - f:.2f} s)")
        print()
        print(f"{'stack':40} {'resources':>9} {'of 500':>7} {'bytes':>9} {'of 1 MB':>8}")
        total_res = total_bytes = 0
        # Top-level stacks (the delivery pipeline's), then each stage's.
        app0 = Path(tmp, "app0")
        paths = sorted(app0.glob("*.template.json")) + sorted(
            app0.glob("assembly-*/*.template.json")
        )
        for path in paths:
            size = path.stat().st_size
            resources = len(json.loads(path.read_text())["Resources"])
            total_res, total_bytes = total_res + resources, total_bytes + size
            print(
                f"{_stack_label(path, app0):40}"
                f" {resources:9d} {resources / MAX_RESOURCES:7.1%}"
                f" {size:9d} {size / MAX_TEMPLATE_BYTES:8.1%}"
            )
        print(f"{'total':40} {total_res:9d} {'':7} {total_bytes:9d}")
        print()
        for path in sorted(Path(tmp, "app0").glob("assembly-*/*.template.json")):
            for logical_id, size in _definition_sizes(json.loads(path.read_text())):
                print(
                    f"pipeline definition {logical_id}: {size} bytes"
                    f" ({size / MAX_DEFINITION_BYTES:.1%} of SageMaker's 1 MiB limit)"
                )
        out = subprocess.run(
            [sys.executable, "-c", DEFINITION_ONLY],
            cwd=ROOT, env=_env(), check=True, capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        print(
            f"definition build alone: import sagemaker SDK {out[0]} s, first build {out[1]} s,"
            f" second build {out[2]} s"
        )


def _scaling(counts: list[int], runs: int) -> None:
    """Synth time and the largest stack for N projects in one environment."""
    with tempfile.TemporaryDirectory() as tmp:
        floor = statistics.median(
            _timed(EMPTY_APP.format(outdir=f"{tmp}/empty{i}")) for i in range(runs)
        )
        print(f"empty CDK app (jsii floor), median of {runs}: {floor:.2f} s")
        print(
            f"{'projects':>8} {'synth s':>8} {'x floor':>8} {'s/added':>9} {'stacks':>6} "
            f"{'resources':>9} {'largest stack':>28} {'res %':>6} {'size %':>6}"
        )
        first: tuple[int, float] | None = None
        for count in counts:
            data = projects_config(count)
            times = [
                _timed(PLATFORM_APP.format(outdir=f"{tmp}/n{count}-{i}", config="", data=data))
                for i in range(runs)
            ]
            t = statistics.median(times)
            first = first or (count, t)
            # Seconds each project beyond the first count adds (the fixed part excluded).
            added = (t - first[1]) / (count - first[0]) if count > first[0] else float("nan")
            paths = sorted(Path(tmp, f"n{count}-0").glob("assembly-*/*.template.json"))
            paths += sorted(Path(tmp, f"n{count}-0").glob("asset.*/*.template.json"))
            sizes = []
            for path in paths:
                resources = len(json.loads(path.read_text())["Resources"])
                sizes.append((resources / MAX_RESOURCES, path.stat().st_size, resources, path))
            worst = max(sizes, key=lambda x: max(x[0], x[1] / MAX_TEMPLATE_BYTES))
            print(
                f"{count:8d} {t:8.2f} {t / floor:8.2f} {added:9.2f} "
                f"{len(paths):6d} {sum(s[2] for s in sizes):9d} "
                f"{worst[3].stem.removesuffix('.template')[-28:]:>28} {worst[0]:6.1%} "
                f"{worst[1] / MAX_TEMPLATE_BYTES:6.1%}"
            )


if __name__ == "__main__":
    main()
