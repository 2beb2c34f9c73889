"""The project's model meets the platform's feature-attribution check (monitor.attributions).

The platform's monitoring script loads the trained archive through the project's serving
functions (code/inference.py: model_fn, input_fn, predict_fn, output_fn), as its baseline step
and its monitoring runs do in the training image, and explains the forecast by Shapley
sampling. Run here on the chain's real model and baseline, in a fresh interpreter.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from demand_support import PROJECT_DIR, DemandRun

MONITORING = (
    PROJECT_DIR.parents[1] / "constructs" / "mlops_constructs" / "assets" / "monitoring"
) / "monitoring.py"
COLUMNS = "day_of_week,temperature_c,price,promotion,holiday"
SMALL = ["--attribution-rows", "30", "--permutations", "3"]
# The project's CI builds the project folder alone: the platform's script is not there.
pytestmark = pytest.mark.skipif(
    not MONITORING.is_file(), reason="the platform's monitoring script is not in this checkout"
)


def _monitoring(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(MONITORING), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _capture(rows: list[list[str]]) -> str:
    """SageMaker data capture of single-row CSV requests (the responses are not read for
    attributions: the model is asked again)."""
    lines = []
    for i, row in enumerate(rows):
        record = {
            "captureData": {
                "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                  "data": ",".join(row), "encoding": "CSV"},
                "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                                   "data": json.dumps({"predictions": [{"units_sold": 1.0}]}),
                                   "encoding": "JSON"},
            },
            "eventMetadata": {"eventId": f"e{i}", "inferenceId": f"i{i}"},
            "eventVersion": "0",
        }  # fmt: skip
        lines.append(json.dumps(record))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def baseline(demand_run: DemandRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("attribution-baseline")
    result = _monitoring(
        "baseline",
        "--input", str(demand_run.processed_dir / "baseline"),
        "--columns", COLUMNS,
        "--output", str(out),
        "--model", str(demand_run.model_archive.parent),
        "--entry", "inference.py",
        "--prediction-field", "units_sold",
        "--background-rows", "10",
        *SMALL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out / "statistics.json"


def test_the_baseline_explains_the_forecast(baseline: Path) -> None:
    attributions: dict[str, Any] = json.loads(baseline.read_text())["attributions"]
    assert attributions["score"] == "units_sold" and attributions["rows"] == 30
    shares = attributions["shares"]
    assert set(shares) == set(COLUMNS.split(","))
    assert abs(sum(shares.values()) - 1.0) < 1e-3
    # Demand follows price and promotion (the generator's shape, test_demand_pipeline).
    top_two = sorted(shares, key=shares.__getitem__, reverse=True)[:2]
    assert set(top_two) & {"price", "promotion"}, shares


def test_traffic_like_the_baseline_keeps_the_ranking(
    demand_run: DemandRun, baseline: Path, tmp_path: Path
) -> None:
    with (demand_run.processed_dir / "baseline" / "baseline.csv").open() as f:
        rows = [[r[c] for c in COLUMNS.split(",")] for r in csv.DictReader(f)][:200]
    capture = tmp_path / "capture"
    capture.mkdir()
    (capture / "capture.jsonl").write_text(_capture(rows))
    report = tmp_path / "report"
    result = _monitoring(
        "monitor",
        "--capture", str(capture),
        "--baseline", str(baseline),
        "--columns", COLUMNS,
        "--problem-type", "regression",
        "--prediction-field", "units_sold",
        "--min-rows", "30",
        "--output", str(report),
        "--model", str(demand_run.model_archive.parent),
        "--entry", "inference.py",
        *SMALL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    metrics = {
        (m["name"], tuple(sorted(m.get("dimensions", {}).items()))): m["value"]
        for m in json.loads((report / "metrics.json").read_text())
    }
    assert metrics[("InsufficientData", (("Check", "attribution"),))] == 0
    assert metrics[("AttributionNDCG", ())] >= 0.9
    shares = [v for (name, _), v in metrics.items() if name == "FeatureAttribution"]
    assert len(shares) == 5
