"""Synth benchmark: the platform's synthesis time against the jsii floor, and template sizes.

    make bench                      # or: python benchmarks/synth_benchmark.py [--runs N]
    python benchmarks/synth_benchmark.py --config config/example.yaml   # four accounts, delivery

Each measurement is a fresh process of what `cdk synth` runs: `python app.py`, with the context
the CLI passes (cdk.json's, and the configuration's path) in CDK_CONTEXT_JSON and the output
folder in CDK_OUTDIR: rule packs on and aws-cdk-lib's built-in CloudFormation validation as
configured (on, unless CDK_VALIDATION=false is set in your environment). The "floor" is an
empty App synthesized the same way, alternated with the platform's runs.

- cold: no bytecode (a fresh PYTHONPYCACHEPREFIX: every module compiles, as where the
  dependencies were installed without it and bytecode is not written) and an empty synth memo
  (the sagemaker SDK builds the definitions);
- first: the first synth after `make install` (or `make synth`'s own install): the bytecode the
  install compiled, and an empty synth memo. The empty app has no memo, so its time is the
  warm one;
- warm: the bytecode the install compiled and the synth memo filled (what a repeated synth of
  an unchanged project pays).

Then the cost of one more environment and of one more project (warm), each as seconds and as a
fraction of the empty app. The ratios are printed from the median and from the fastest of the
runs, then taken within each round of adjacent runs (median and range): this machine's speed
drifts between rounds more than within one. Per stack it prints resource count and template
size against CloudFormation's limits.
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
# Each kind of synth and the empty app it is compared with (a first synth's floor is the warm
# empty app: the empty app has no memo to fill).
KINDS = (("cold", "cold"), ("first", "warm"), ("warm", "warm"))
MAX_RESOURCES = 500
MAX_TEMPLATE_BYTES = 1_000_000  # limit for a template uploaded to S3
MAX_DEFINITION_BYTES = 1_048_576  # SageMaker CreatePipeline: PipelineDefinition length

DEFINITION_ONLY = """
import time
t0 = time.perf_counter()
from mlops_constructs.training.definition import PipelineSpec, build_definition
t1 = time.perf_counter()
from mlops_constructs.training.definition import resolve_images
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


def empty_app(outdir: str) -> list[str]:
    """The command of an empty app's synthesis into ``outdir``."""
    return [sys.executable, "-c", EMPTY_APP.format(outdir=outdir)]


def platform_app(outdir: str, config: str, data: str = "") -> tuple[list[str], dict[str, str]]:
    """The command and environment with which `cdk synth` runs app.py: the configuration
    ``config`` (a path, "" for the built-in default), or ``data`` (its JSON) written beside
    ``outdir``."""
    if data:
        config = f"{outdir}.config.json"
        Path(config).write_text(data)
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    if config:
        context["config"] = str(Path(config).resolve())
    env = {"CDK_OUTDIR": outdir, "CDK_CONTEXT_JSON": json.dumps(context)}
    return [sys.executable, str(ROOT / "app.py")], env


def projects_config(count: int) -> str:
    """The default platform with ``count`` copies of the churn project (p1, p2, ...)."""
    sys.path.insert(0, str(ROOT))
    from stacks.config import PlatformConfig

    churn = PlatformConfig().projects[0].model_dump(mode="json")
    return json.dumps({"projects": [{**churn, "name": f"p{i + 1}"} for i in range(count)]})


def _env(**extra: str) -> dict[str, str]:
    """The environment of a measured process: the caller's, without a CLI's context or output
    folder (each run passes its own), with ``extra``."""
    inherited = {k: v for k, v in os.environ.items() if k not in ("CDK_CONTEXT_JSON", "CDK_OUTDIR")}
    return {
        **inherited,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "PYTHONPATH": str(ROOT),
        **extra,
    }


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


def _timed(command: list[str], **extra: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=_env(**extra), check=True)
    return time.perf_counter() - start


def _timed_platform(outdir: str, config: str, data: str = "", **extra: str) -> float:
    command, env = platform_app(outdir, config, data)
    return _timed(command, **env, **extra)


def _cold(tmp: str, run: int) -> dict[str, str]:
    """No bytecode and an empty synth memo: a fresh folder for each."""
    return {
        "PYTHONPYCACHEPREFIX": f"{tmp}/pycache-{run}",
        "MLOPS_SYNTH_CACHE": f"{tmp}/memo-cold-{run}",
    }


def _variant(config: str, environments: int, projects: int) -> str:
    """The configuration (JSON) with ``environments`` environments and ``projects`` projects
    (copies of the first of each), or "" for ``config`` itself."""
    if environments == projects == 1 and not config:
        return ""
    sys.path.insert(0, str(ROOT))
    from stacks.config import load_config

    data = load_config(config or None).model_dump(mode="json")
    if data.get("delivery"):
        raise SystemExit("--config with delivery: measure it without the per-env variants")
    first_env, first_project = data["environments"][0], data["projects"][0]
    data["environments"] = [{**first_env, "name": f"e{i + 1}"} for i in range(environments)]
    data["projects"] = [{**first_project, "name": f"p{i + 1}"} for i in range(projects)]
    return json.dumps(data)


def _measure(tmp: str, runs: int, config: str) -> None:
    """Empty app and platform, cold and warm, alternated; then one more env and project."""
    memo = f"{tmp}/memo-warm"
    times: dict[str, list[float]] = {}

    def record(label: str, seconds: float) -> None:
        times.setdefault(label, []).append(seconds)

    # Fills the warm memo (and writes app0 for the sizes below), the variants' entries too:
    # their projects and environments have other names, so other pipeline definitions.
    _timed_platform(f"{tmp}/app0", config, MLOPS_SYNTH_CACHE=memo)
    variants = {"+1 environment": _variant(config, 2, 1), "+1 project": _variant(config, 1, 2)}
    for label, data in variants.items():
        _timed_platform(f"{tmp}/fill-{label[3]}", config, data, MLOPS_SYNTH_CACHE=memo)
    for run in range(runs):
        out = f"{tmp}/r{run}"
        record("empty cold", _timed(empty_app(f"{out}-ec"), **_cold(tmp, run)))
        record("platform cold", _timed_platform(f"{out}-pc", config, **_cold(tmp, run + 100)))
        record("empty warm", _timed(empty_app(f"{out}-ew")))
        record("platform warm", _timed_platform(f"{out}-pw", config, MLOPS_SYNTH_CACHE=memo))
        first = f"{tmp}/memo-first-{run}"
        record("platform first", _timed_platform(f"{out}-pf", config, MLOPS_SYNTH_CACHE=first))
        for label, data in variants.items():
            seconds = _timed_platform(f"{out}-{label[3]}", config, data, MLOPS_SYNTH_CACHE=memo)
            record(label, seconds)
    for name, statistic in (("median", statistics.median), ("fastest", min)):
        summary = {label: statistic(values) for label, values in times.items()}
        _report(name, summary, runs, tuple(variants))
    _report_rounds(times, tuple(variants))


def _report(name: str, seconds: dict[str, float], runs: int, variants: tuple[str, ...]) -> None:
    """The ratios to the empty app of one statistic of the runs: the median, and the fastest
    run of each (on a shared machine other work only adds time, so the fastest of alternated
    runs is the least disturbed estimate of both the app's and the floor's own time)."""
    print(f"synth wall time, {name} of {runs} fresh processes, alternated")
    for kind, empty in KINDS:
        f, p = seconds[f"empty {empty}"], seconds[f"platform {kind}"]
        print(
            f"  {kind:5}: empty app {f:6.2f} s, platform {p:6.2f} s: {p / f:5.2f} x"
            f"   (above the empty app: {p - f:.2f} s)"
        )
    reference, floor = seconds["platform warm"], seconds["empty warm"]
    for label in variants:
        added = seconds[label] - reference
        print(f"  {label:15} {added:+6.2f} s: {added / floor:5.2f} x the empty app (warm)")


def _report_rounds(times: dict[str, list[float]], variants: tuple[str, ...]) -> None:
    """The same ratios taken within each round of adjacent runs, then their median and range:
    the machine's speed drifts between rounds more than within one, so a ratio of two runs a
    minute apart moves less than a ratio of two medians (each added environment or project
    is compared with the warm run of its own round)."""
    print("synth ratios within each round of adjacent runs: median [lowest, highest]")

    def line(label: str, ratios: list[float]) -> None:
        print(
            f"  {label:15} {statistics.median(ratios):5.2f} x"
            f"   [{min(ratios):.2f}, {max(ratios):.2f}]"
        )

    for kind, empty in KINDS:
        pairs = zip(times[f"platform {kind}"], times[f"empty {empty}"], strict=True)
        line(kind, [p / f for p, f in pairs])
    for label in variants:
        rounds = zip(times[label], times["platform warm"], times["empty warm"], strict=True)
        line(label, [(v - w) / f for v, w, f in rounds])


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
        _measure(tmp, args.runs, args.config)
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
            cwd=ROOT, env=_env(MLOPS_SYNTH_CACHE="off"), check=True, capture_output=True,
            text=True,
        ).stdout.split()  # fmt: skip
        print(
            f"definition build alone, synth memo off: the first {out[1]} s (it imports the "
            f"sagemaker SDK), the second {out[2]} s; a memo hit imports nothing"
        )


def _scaling(counts: list[int], runs: int) -> None:
    """Synth time and the largest stack for N projects in one environment."""
    with tempfile.TemporaryDirectory() as tmp:
        floor = statistics.median(_timed(empty_app(f"{tmp}/empty{i}")) for i in range(runs))
        print(f"empty CDK app (jsii floor), median of {runs}: {floor:.2f} s")
        print(
            f"{'projects':>8} {'synth s':>8} {'x floor':>8} {'s/added':>9} {'stacks':>6} "
            f"{'resources':>9} {'largest stack':>28} {'res %':>6} {'size %':>6}"
        )
        first: tuple[int, float] | None = None
        for count in counts:
            data = projects_config(count)
            times = [_timed_platform(f"{tmp}/n{count}-{i}", "", data) for i in range(runs)]
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
