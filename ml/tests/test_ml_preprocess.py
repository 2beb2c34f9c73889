"""preprocess.py: validation messages, determinism, stratification and the dataset manifest."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import inference
import preprocess
from churn_features import (
    FEATURE_NAMES,
    INPUT_COLUMNS,
    RAW_COLUMNS,
    DataValidationError,
    parse_record,
)
from churn_io import read_split_dir, serving_fields, sha256_file
from ml_support import GOOD_ROWS, PipelineRun, read_rows, run_script, write_raw

SPLIT_FILES = ("train/train.csv", "validation/validation.csv", "test/test.csv")
BASELINE = "baseline/baseline.csv"  # the Model Monitor data-quality baseline
LABELLED = "labelled/labelled.csv"  # the Clarify model baselines' dataset (test split, labelled)
DATA_FILES = (*SPLIT_FILES, BASELINE, LABELLED)


def _outputs(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_same_data_and_seed_give_byte_identical_outputs(
    pipeline: PipelineRun, tmp_path: Path
) -> None:
    preprocess.run(pipeline.raw_dir, tmp_path / "again", seed=42)
    assert _outputs(tmp_path / "again") == _outputs(pipeline.processed_dir)


def test_another_seed_gives_another_split_of_the_same_sizes(
    pipeline: PipelineRun, tmp_path: Path
) -> None:
    manifest = preprocess.run(pipeline.raw_dir, tmp_path / "seed7", seed=7)
    assert manifest["rows"] == pipeline.manifest["rows"]
    assert manifest["input_files"] == pipeline.manifest["input_files"]
    assert (tmp_path / "seed7" / "test/test.csv").read_bytes() != (
        pipeline.processed_dir / "test/test.csv"
    ).read_bytes()


def test_the_split_does_not_depend_on_how_the_data_is_cut_into_files(
    pipeline: PipelineRun, tmp_path: Path
) -> None:
    header, *rows = read_rows(pipeline.raw_csv)
    # Two files, the later rows first by path order, and a non-CSV marker file.
    write_raw(tmp_path / "in" / "a.csv", rows[1000:], header)
    write_raw(tmp_path / "in" / "b" / "c.csv", rows[:1000], header)
    (tmp_path / "in" / "_SUCCESS").write_text("")
    manifest = preprocess.run(tmp_path / "in", tmp_path / "out", seed=42)
    for name in DATA_FILES:
        assert (tmp_path / "out" / name).read_bytes() == (
            pipeline.processed_dir / name
        ).read_bytes()
    assert [f["name"] for f in manifest["input_files"]] == ["a.csv", "b/c.csv"]
    assert manifest["ignored_files"] == ["_SUCCESS"]


def test_splits_are_stratified_by_label(pipeline: PipelineRun) -> None:
    counts = pipeline.manifest["label_counts"]
    overall = sum(c["1"] for c in counts.values()) / pipeline.manifest["rows"]["total"]
    for split, c in counts.items():
        assert c["1"] / (c["0"] + c["1"]) == pytest.approx(overall, abs=0.01), split


def test_dataset_version_ids_are_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_raw(tmp_path / "in" / "customers.csv", GOOD_ROWS)
    versions = {"raw/customers.csv": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"}
    monkeypatch.setenv("DATASET_VERSION_IDS", json.dumps(versions))
    manifest = preprocess.run(tmp_path / "in", tmp_path / "out")
    assert manifest["dataset_version_ids"] == versions
    written = json.loads((tmp_path / "out" / "manifest" / "manifest.json").read_text())
    assert written == manifest


@pytest.mark.parametrize("value", ["not json", '["a list"]', '{"key": 3}'])
def test_malformed_dataset_version_ids_are_refused(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_raw(tmp_path / "in" / "customers.csv", GOOD_ROWS)
    monkeypatch.setenv("DATASET_VERSION_IDS", value)
    with pytest.raises(DataValidationError, match=r"\$DATASET_VERSION_IDS"):
        preprocess.run(tmp_path / "in", tmp_path / "out")


def test_a_repeated_customer_keeps_its_last_row(tmp_path: Path) -> None:
    first = write_raw(tmp_path / "in" / "ingest_date=2025-01-01" / "a.csv", GOOD_ROWS)
    updated = [*GOOD_ROWS[0][:-1], "1" if GOOD_ROWS[0][-1] == "0" else "0"]
    write_raw(tmp_path / "in" / "ingest_date=2025-01-02" / "a.csv", [updated])
    manifest = preprocess.run(tmp_path / "in", tmp_path / "out")
    assert manifest["rows"]["read"] == len(GOOD_ROWS) + 1
    assert manifest["rows"]["total"] == len(GOOD_ROWS)
    assert manifest["rows"]["duplicates_dropped"] == 1
    assert first.exists()
    churned = sum(c["1"] for c in manifest["label_counts"].values())
    assert churned == sum(r[-1] == "1" for r in GOOD_ROWS) + (1 if updated[-1] == "1" else -1)


def test_blank_charges_are_missing_values_not_errors(tmp_path: Path) -> None:
    rows = [list(r) for r in GOOD_ROWS]
    rows[0][2] = ""  # monthly_charges
    rows[1][3] = " "  # total_charges
    write_raw(tmp_path / "in" / "c.csv", rows)
    preprocess.run(tmp_path / "in", tmp_path / "out")
    splits = ("train", "validation", "test")
    matrices = [read_split_dir(tmp_path / "out" / s, len(FEATURE_NAMES))[1] for s in splits]
    missing = sum(int(math.isnan(v)) for m in matrices for row in m for v in row)
    # monthly_charges (row 0 has tenure 0, so its charges per month is missing too) and
    # total_charges (row 1, and its charges per month).
    assert missing == 4


def _with(row: int, column: str, value: str) -> list[list[str]]:
    rows = [list(r) for r in GOOD_ROWS]
    rows[row][RAW_COLUMNS.index(column)] = value
    return rows


BAD_INPUTS = {
    "non-numeric tenure": (
        _with(1, "tenure_months", "abc"),
        "c.csv line 3: column 'tenure_months' must be a number, got 'abc'",
    ),
    "negative tenure": (
        _with(0, "tenure_months", "-3"),
        "c.csv line 2: column 'tenure_months' must be a non-negative integer, got '-3'",
    ),
    "fractional support calls": (
        _with(4, "support_calls", "1.5"),
        "c.csv line 6: column 'support_calls' must be a non-negative integer, got '1.5'",
    ),
    "missing required value": (
        _with(2, "support_calls", ""),
        "c.csv line 4: column 'support_calls' is required but empty",
    ),
    "nan charges": (
        _with(0, "monthly_charges", "nan"),
        "c.csv line 2: column 'monthly_charges' must be finite, got 'nan'",
    ),
    "unknown contract": (
        _with(3, "contract_type", "weekly"),
        "c.csv line 5: column 'contract_type' must be one of month-to-month, one-year, "
        "two-year, got 'weekly'",
    ),
    "bad label": (
        _with(5, "churned", "yes"),
        "c.csv line 7: column 'churned' must be 0 or 1, got 'yes'",
    ),
    "empty customer id": (
        _with(0, "customer_id", ""),
        "c.csv line 2: column 'customer_id' is required but empty",
    ),
    "short row": (
        [*GOOD_ROWS[:3], GOOD_ROWS[3][:5]],
        "c.csv line 5: expected 7 fields like the header, got 5",
    ),
    "too few rows": (
        GOOD_ROWS[:6],
        "split would not hold both labels (6 customers, 3 churned)",
    ),
}


@pytest.mark.parametrize(("rows", "message"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_values_are_refused_with_file_line_column_and_value(
    rows: list[list[str]], message: str, tmp_path: Path
) -> None:
    write_raw(tmp_path / "in" / "c.csv", rows)
    with pytest.raises(DataValidationError) as caught:
        preprocess.run(tmp_path / "in", tmp_path / "out")
    assert message in str(caught.value)
    assert not (tmp_path / "out" / "manifest").exists()


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    header = [c for c in RAW_COLUMNS if c != "support_calls"]
    rows = [
        [v for c, v in zip(RAW_COLUMNS, r, strict=True) if c != "support_calls"] for r in GOOD_ROWS
    ]
    write_raw(tmp_path / "in" / "c.csv", rows, header)
    with pytest.raises(DataValidationError, match=r"c\.csv: missing column\(s\) support_calls;"):
        preprocess.run(tmp_path / "in", tmp_path / "out")


def test_column_order_and_extra_columns_do_not_matter(tmp_path: Path) -> None:
    order = [*reversed(RAW_COLUMNS), "signup_channel"]
    rows = [[*reversed(r), "web"] for r in GOOD_ROWS]
    write_raw(tmp_path / "a" / "c.csv", rows, order)
    write_raw(tmp_path / "b" / "c.csv", GOOD_ROWS)
    preprocess.run(tmp_path / "a", tmp_path / "out-a")
    preprocess.run(tmp_path / "b", tmp_path / "out-b")
    for name in DATA_FILES:
        assert (tmp_path / "out-a" / name).read_bytes() == (tmp_path / "out-b" / name).read_bytes()


def test_no_csv_input_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    with pytest.raises(DataValidationError, match=r"no \.csv files under"):
        preprocess.run(tmp_path / "in", tmp_path / "out")


def test_the_cli_reports_one_line_and_exit_code_2(tmp_path: Path) -> None:
    write_raw(tmp_path / "in" / "c.csv", BAD_INPUTS["non-numeric tenure"][0])
    result = run_script("preprocess.py", "--input-dir", tmp_path / "in", "--output-dir", tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "preprocess: error: c.csv line 3: column 'tenure_months' must be a number, got 'abc'\n"
    )


def test_the_scripts_own_folder_is_not_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A ScriptProcessor mounts the code at /opt/ml/processing/input/code: inside the input dir.
    write_raw(tmp_path / "in" / "customers.csv", GOOD_ROWS)
    code = tmp_path / "in" / "code"
    code.mkdir()
    (code / "preprocess.py").write_text("# the script\n")
    (code / "fixture.csv").write_text("not,data\n")
    (tmp_path / "in" / "_SUCCESS").write_text("")
    monkeypatch.setattr(preprocess, "CODE_DIR", code.resolve())
    manifest = preprocess.run(tmp_path / "in", tmp_path / "out")
    assert [f["name"] for f in manifest["input_files"]] == ["customers.csv"]
    assert manifest["ignored_files"] == ["_SUCCESS"]


def test_the_monitoring_baseline_is_the_train_split_as_the_endpoint_receives_it(
    pipeline: PipelineRun,
) -> None:
    text = (pipeline.processed_dir / BASELINE).read_text(encoding="utf-8")
    header, *rows = read_rows(pipeline.processed_dir / BASELINE)
    assert header == list(INPUT_COLUMNS)  # no customer id, no label
    assert len(rows) == pipeline.manifest["rows"]["train"]
    assert {len(row) for row in rows} == {len(INPUT_COLUMNS)}
    assert any("" in row for row in rows)  # missing charges are empty fields, as clients send
    # Served as one text/csv request, the file engineers into exactly train.csv's features,
    # row for row (NaN where a value is missing).
    served = inference.input_fn(text.encode("utf-8"), "text/csv")
    _, train = read_split_dir(pipeline.processed_dir / "train", len(FEATURE_NAMES))
    np.testing.assert_array_equal(served, train)
    assert np.isnan(train).any()


def test_the_monitoring_baseline_holds_normalised_serving_values(tmp_path: Path) -> None:
    # Spellings the validation forgives become what a client sends: 3 not 3.0, 70.5 not
    # 70.50, 141 not 141.00, the contract type in lower case; a blank charge stays blank.
    rows = [list(r) for r in GOOD_ROWS]
    tenure, contract = RAW_COLUMNS.index("tenure_months"), RAW_COLUMNS.index("contract_type")
    for row in rows:
        row[tenure] += ".0"
        row[contract] = f" {row[contract].upper()}"
    rows[0][RAW_COLUMNS.index("monthly_charges")] = ""
    write_raw(tmp_path / "in" / "c.csv", rows)
    preprocess.run(tmp_path / "in", tmp_path / "out")

    header, *written = read_rows(tmp_path / "out" / BASELINE)
    assert header == list(INPUT_COLUMNS)
    # GOOD_ROWS customer i has tenure i: train.csv's tenure column names the train customers.
    train = read_rows(tmp_path / "out" / "train" / "train.csv")
    customers = [int(row[1 + FEATURE_NAMES.index("tenure_months")]) for row in train]
    expected = [
        [
            str(i),
            "" if i == 0 else "70.5",
            f"{70.5 * i:.2f}".rstrip("0").rstrip("."),
            str(i % 5),
            ("month-to-month", "one-year", "two-year")[i % 3],
        ]
        for i in customers
    ]
    assert written == expected
    assert 0 in customers  # the blank charge is in the train split
    assert {i % 2 for i in customers} == {0, 1}  # whole and fractional totals occur


def test_the_labelled_file_is_the_test_split_as_requests_with_their_label(
    pipeline: PipelineRun,
) -> None:
    rows = read_rows(pipeline.processed_dir / LABELLED)
    assert len(rows) == pipeline.manifest["rows"]["test"]
    assert {len(row) for row in rows} == {len(INPUT_COLUMNS) + 1}  # request fields, label
    assert rows[0][: len(INPUT_COLUMNS)] != list(INPUT_COLUMNS)  # headerless
    assert any("" in row for row in rows)  # missing charges are empty fields, as clients send
    # Without the label, the file is one text/csv request that serving engineers into exactly
    # test.csv's features, row for row (NaN where a value is missing) ...
    request = "".join(",".join(row[:-1]) + "\n" for row in rows)
    served = inference.input_fn(request.encode("utf-8"), "text/csv")
    labels, test = read_split_dir(pipeline.processed_dir / "test", len(FEATURE_NAMES))
    np.testing.assert_array_equal(served, test)
    assert np.isnan(test).any()
    # ... and the last field is test.csv's first (the label), as it is written there.
    test_rows = read_rows(pipeline.processed_dir / "test" / "test.csv")
    assert [row[-1] for row in rows] == [row[0] for row in test_rows]
    assert [int(row[-1]) for row in rows] == labels.tolist()
    assert {row[-1] for row in rows} == {"0", "1"}
    # The request fields are in baseline.csv's canonical serving format: what serving_fields
    # writes for the record they parse into.
    for row in rows:
        record = parse_record(dict(zip(INPUT_COLUMNS, row[:-1], strict=True)), "labelled")
        assert serving_fields(record) == row[:-1]
    text = (pipeline.processed_dir / LABELLED).read_text(encoding="utf-8")
    assert text.endswith("\n") and "\r" not in text and '"' not in text


def test_the_labelled_file_holds_normalised_serving_values(tmp_path: Path) -> None:
    # The same normalisation as baseline.csv: 3 not 3.0, 70.5 not 70.50, canonical contract.
    rows = [list(r) for r in GOOD_ROWS]
    tenure, contract = RAW_COLUMNS.index("tenure_months"), RAW_COLUMNS.index("contract_type")
    for row in rows:
        row[tenure] += ".0"
        row[contract] = f" {row[contract].upper()}"
    write_raw(tmp_path / "in" / "c.csv", rows)
    preprocess.run(tmp_path / "in", tmp_path / "out")

    written = read_rows(tmp_path / "out" / LABELLED)
    # GOOD_ROWS customer i has tenure i and label i % 2: test.csv names the test customers.
    test = read_rows(tmp_path / "out" / "test" / "test.csv")
    customers = [int(row[1 + FEATURE_NAMES.index("tenure_months")]) for row in test]
    expected = [
        [
            str(i),
            "70.5",
            f"{70.5 * i:.2f}".rstrip("0").rstrip("."),
            str(i % 5),
            ("month-to-month", "one-year", "two-year")[i % 3],
            str(i % 2),
        ]
        for i in customers
    ]
    assert written == expected


def test_the_labelled_file_is_in_the_manifest(pipeline: PipelineRun) -> None:
    path = pipeline.processed_dir / LABELLED
    assert pipeline.manifest["outputs"][LABELLED] == {
        "size_bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }
