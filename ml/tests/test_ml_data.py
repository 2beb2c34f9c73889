"""The synthetic data: deterministic, within the platform's schema and data-quality rules."""

from __future__ import annotations

from pathlib import Path

import pytest

import generate_data
from churn_features import RAW_COLUMNS
from ml_support import ML_DIR, PipelineRun, read_rows, run_script

REPO = ML_DIR.parent
SAMPLE = ML_DIR / "data" / "churn_sample.csv"
# Glue/Hive type of each raw column, as the curated table declares it.
COLUMN_TYPES = {
    "customer_id": "string",
    "tenure_months": "int",
    "monthly_charges": "double",
    "total_charges": "double",
    "support_calls": "int",
    "contract_type": "string",
    "churned": "int",
}


def test_the_schema_is_the_curated_tables_schema() -> None:
    # The platform's configuration lives outside ml/: CI, which tests ml/ on its own with only
    # ml/'s requirements, skips this; the repository's test run checks it.
    example = REPO / "config" / "example.yaml"
    if not example.is_file():
        pytest.skip(f"{example} is not here (ml/ checked out on its own)")
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load(example.read_text())
    [churn] = [p for p in config["projects"] if p["name"] == "churn"]
    columns = [(c["name"], c["type"]) for c in churn["dataset"]["columns"]]
    assert columns == [(name, COLUMN_TYPES[name]) for name in RAW_COLUMNS]


def test_same_seed_same_bytes_other_seed_other_data(pipeline: PipelineRun, tmp_path: Path) -> None:
    generate_data.write_csv(tmp_path / "same.csv", generate_data.generate(2000, 7))
    assert (tmp_path / "same.csv").read_bytes() == pipeline.raw_csv.read_bytes()
    assert generate_data.generate(50, 8) != generate_data.generate(50, 7)


def test_the_committed_sample_is_reproducible(tmp_path: Path) -> None:
    # Regenerate with: python ml/src/generate_data.py --rows 1000 --seed 7 --out <this file>
    result = run_script(
        "generate_data.py", "--rows", "1000", "--seed", "7", "--out", tmp_path / "s"
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "s").read_bytes() == SAMPLE.read_bytes()


def test_the_data_passes_the_example_data_quality_rules(pipeline: PipelineRun) -> None:
    header, *rows = read_rows(pipeline.raw_csv)
    assert tuple(header) == RAW_COLUMNS
    column = {name: [r[i] for r in rows] for i, name in enumerate(header)}
    assert len(rows) > 0  # RowCount > 0
    assert all(column["customer_id"])  # IsComplete "customer_id"
    assert len(set(column["customer_id"])) == len(rows)  # IsUnique "customer_id"
    assert set(column["churned"]) == {"0", "1"}  # ColumnValues "churned" in [0, 1]
    assert min(int(v) for v in column["tenure_months"]) >= 0  # ColumnValues ... >= 0
    complete = sum(bool(v) for v in column["monthly_charges"]) / len(rows)
    assert complete > 0.95  # Completeness "monthly_charges" > 0.95
    assert 0.15 < column["churned"].count("1") / len(rows) < 0.5  # a realistic class balance


@pytest.mark.parametrize(("rows", "missing_rate"), [(0, 0.01), (10, 0.05)])
def test_generator_arguments_are_checked(rows: int, missing_rate: float) -> None:
    with pytest.raises(ValueError):
        generate_data.generate(rows, 1, missing_rate)
