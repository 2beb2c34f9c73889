"""preprocess.py: validation messages, determinism, the split, the baselines and the manifest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from demand_features import FEATURE_NAMES, INPUT_COLUMNS, RAW_COLUMNS, DataValidationError
from demand_io import read_split_dir, sha256_file
from demand_support import (
    GOOD_ROWS,
    ROWS,
    SRC_DIR,
    DemandRun,
    load_script,
    read_rows,
    run_script,
    write_raw,
)

if TYPE_CHECKING:  # mypy reads the real modules; at run time they get names of their own
    import inference as demand_inference
    import preprocess as demand_preprocess
else:
    demand_inference = load_script("inference")
    demand_preprocess = load_script("preprocess")

SPLIT_FILES = ("train/train.csv", "validation/validation.csv", "test/test.csv")
BASELINE = "baseline/baseline.csv"  # the Model Monitor data-quality baseline
LABELLED = "labelled/labelled.csv"  # the test split as labelled requests
DATA_FILES = (*SPLIT_FILES, BASELINE, LABELLED)


def _outputs(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_same_data_and_seed_give_byte_identical_outputs(
    demand_run: DemandRun, tmp_path: Path
) -> None:
    demand_preprocess.run(demand_run.raw_dir, tmp_path / "again", seed=42)
    outputs = _outputs(tmp_path / "again")
    assert sorted(outputs) == sorted([*DATA_FILES, "manifest/manifest.json"])
    assert outputs == _outputs(demand_run.processed_dir)


def test_another_seed_gives_another_split_of_the_same_sizes(
    demand_run: DemandRun, tmp_path: Path
) -> None:
    manifest = demand_preprocess.run(demand_run.raw_dir, tmp_path / "seed7", seed=7)
    assert manifest["rows"] == demand_run.manifest["rows"]
    assert manifest["input_files"] == demand_run.manifest["input_files"]
    test_csv = "test/test.csv"
    assert (tmp_path / "seed7" / test_csv).read_bytes() != (
        demand_run.processed_dir / test_csv
    ).read_bytes()


def test_the_split_does_not_depend_on_how_the_data_is_cut_into_files(
    demand_run: DemandRun, tmp_path: Path
) -> None:
    header, *rows = read_rows(demand_run.raw_csv)
    # Two files, the later rows first by path order, and a non-CSV marker file.
    write_raw(tmp_path / "in" / "a.csv", rows[1000:], header)
    write_raw(tmp_path / "in" / "b" / "c.csv", rows[:1000], header)
    (tmp_path / "in" / "_SUCCESS").write_text("")
    manifest = demand_preprocess.run(tmp_path / "in", tmp_path / "out", seed=42)
    for name in DATA_FILES:
        assert (tmp_path / "out" / name).read_bytes() == (
            demand_run.processed_dir / name
        ).read_bytes()
    assert [(f["name"], f["rows"]) for f in manifest["input_files"]] == [
        ("a.csv", 1000),
        ("b/c.csv", 1000),
    ]
    assert manifest["ignored_files"] == ["_SUCCESS"]


def test_manifest_hashes_and_counts_match_the_files(demand_run: DemandRun) -> None:
    manifest = demand_run.manifest
    (entry,) = manifest["input_files"]
    assert entry == {
        "name": "ingest_date=2025-01-01/sales.csv",
        "rows": ROWS,
        "sha256": sha256_file(demand_run.raw_csv),
        "size_bytes": demand_run.raw_csv.stat().st_size,
    }
    assert manifest["rows"] == {"total": ROWS, "train": 1400, "validation": 300, "test": 300}
    assert sorted(manifest["outputs"]) == sorted(DATA_FILES)
    for name in DATA_FILES:
        path = demand_run.processed_dir / name
        assert manifest["outputs"][name] == {
            "size_bytes": path.stat().st_size,
            "sha256": sha256_file(path),
        }
    for split in ("train", "validation", "test"):
        labels, features = read_split_dir(demand_run.processed_dir / split)
        assert len(labels) == manifest["rows"][split]
        assert features.shape == (len(labels), len(FEATURE_NAMES))
        assert manifest["label_summary"][split] == {
            "mean": round(float(labels.mean()), 6),
            "min": float(labels.min()),
            "max": float(labels.max()),
        }
    assert manifest["feature_names"] == list(FEATURE_NAMES)
    assert manifest["input_columns"] == list(INPUT_COLUMNS)
    assert manifest["label_column"] == "units_sold"
    assert manifest["seed"] == 42 and manifest["dataset_version_ids"] is None
    text = (demand_run.processed_dir / "manifest" / "manifest.json").read_text()
    assert json.loads(text) == manifest
    assert "time" not in text and 'date"' not in text  # nothing that changes between runs


def test_the_split_files_are_label_first_and_headerless(demand_run: DemandRun) -> None:
    raw_header, *raw = read_rows(demand_run.raw_csv)
    label_column = raw_header.index("units_sold")
    raw_labels = sorted(float(row[label_column]) for row in raw)
    split_labels = []
    for name in SPLIT_FILES:
        rows = read_rows(demand_run.processed_dir / name)
        assert {len(row) for row in rows} == {1 + len(FEATURE_NAMES)}
        split_labels += [float(row[0]) for row in rows]
    assert sorted(split_labels) == raw_labels  # every row once, none lost, none twice


def test_dataset_version_ids_are_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_raw(tmp_path / "in" / "sales.csv", GOOD_ROWS)
    versions = {"raw/sales.csv": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"}
    monkeypatch.setenv("DATASET_VERSION_IDS", json.dumps(versions))
    manifest = demand_preprocess.run(tmp_path / "in", tmp_path / "out")
    assert manifest["dataset_version_ids"] == versions


@pytest.mark.parametrize("value", ["not json", '["a list"]', '{"key": 3}'])
def test_malformed_dataset_version_ids_are_refused(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_raw(tmp_path / "in" / "sales.csv", GOOD_ROWS)
    monkeypatch.setenv("DATASET_VERSION_IDS", value)
    with pytest.raises(DataValidationError, match=r"\$DATASET_VERSION_IDS"):
        demand_preprocess.run(tmp_path / "in", tmp_path / "out")


def _with(row: int, column: str, value: str) -> list[list[str]]:
    rows = [list(r) for r in GOOD_ROWS]
    rows[row][RAW_COLUMNS.index(column)] = value
    return rows


# The file's line n is GOOD_ROWS[n - 2] (line 1 is the header).
BAD_INPUTS = {
    "non-numeric day": (
        _with(1, "day_of_week", "Tue"),
        "s.csv line 3: column 'day_of_week' must be a number, got 'Tue'",
    ),
    "day out of range": (
        _with(0, "day_of_week", "7"),
        "s.csv line 2: column 'day_of_week' must be an integer from 0 (Monday) to 6 (Sunday), "
        "got '7'",
    ),
    "fractional day": (
        _with(4, "day_of_week", "2.5"),
        "s.csv line 6: column 'day_of_week' must be an integer from 0 (Monday) to 6 (Sunday), "
        "got '2.5'",
    ),
    "temperature in fahrenheit": (
        _with(2, "temperature_c", "98.6"),
        "s.csv line 4: column 'temperature_c' must be between -50 and 60 (degrees Celsius), "
        "got '98.6'",
    ),
    "nan temperature": (
        _with(0, "temperature_c", "nan"),
        "s.csv line 2: column 'temperature_c' must be finite, got 'nan'",
    ),
    "zero price": (
        _with(5, "price", "0"),
        "s.csv line 7: column 'price' must be positive, got '0'",
    ),
    "missing price": (
        _with(3, "price", " "),
        "s.csv line 5: column 'price' is required but empty",
    ),
    "promotion not a flag": (
        _with(6, "promotion", "yes"),
        "s.csv line 8: column 'promotion' must be a number, got 'yes'",
    ),
    "holiday out of range": (
        _with(7, "holiday", "2"),
        "s.csv line 9: column 'holiday' must be 0 or 1, got '2'",
    ),
    "negative units": (
        _with(8, "units_sold", "-1"),
        "s.csv line 10: column 'units_sold' must not be negative, got '-1'",
    ),
    "missing units": (
        _with(9, "units_sold", ""),
        "s.csv line 11: column 'units_sold' is required but empty",
    ),
    "empty store id": (
        _with(0, "store_id", ""),
        "s.csv line 2: column 'store_id' is required but empty",
    ),
    "short row": (
        [*GOOD_ROWS[:3], GOOD_ROWS[3][:5]],
        "s.csv line 5: expected 7 fields like the header, got 5",
    ),
    "too few rows": (GOOD_ROWS[:2], "the test split would be empty (2 rows); more data is needed"),
}


@pytest.mark.parametrize(("rows", "message"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_values_are_refused_with_file_line_column_and_value(
    rows: list[list[str]], message: str, tmp_path: Path
) -> None:
    write_raw(tmp_path / "in" / "s.csv", rows)
    with pytest.raises(DataValidationError) as caught:
        demand_preprocess.run(tmp_path / "in", tmp_path / "out")
    assert str(caught.value).startswith(message)
    assert not (tmp_path / "out").exists()  # nothing is written on bad input


@pytest.mark.parametrize("case", ["temperature in fahrenheit", "zero price", "negative units"])
def test_the_cli_reports_one_line_and_exit_code_2(case: str, tmp_path: Path) -> None:
    rows, message = BAD_INPUTS[case]
    write_raw(tmp_path / "in" / "s.csv", rows)
    result = run_script(
        "preprocess.py", "--input-dir", tmp_path / "in", "--output-dir", tmp_path / "out"
    )
    assert result.returncode == 2
    assert result.stderr == f"preprocess.py: error: {message}\n"
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "s.csv: the file is empty (expected a header line)"),
        (b"store_id,day_of_week,price\nS01,1,2.5\n", "s.csv: missing column(s) temperature_c,"),
        (b"store_id,store_id\n", "s.csv: duplicate column(s) store_id"),
        ("store_id\nS\u00f61\n".encode("latin-1"), "s.csv: the file is not UTF-8 text"),
    ],
)
def test_unreadable_files_are_refused(content: bytes, message: str, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "s.csv").write_bytes(content)
    with pytest.raises(DataValidationError) as caught:
        demand_preprocess.run(tmp_path / "in", tmp_path / "out")
    assert str(caught.value).startswith(message)


def test_no_csv_input_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    with pytest.raises(DataValidationError, match=r"no \.csv files under"):
        demand_preprocess.run(tmp_path / "in", tmp_path / "out")


@pytest.mark.parametrize(("train", "validation"), [(0.9, 0.1), (0.0, 0.5), (0.7, 1.2)])
def test_fractions_must_leave_three_splits(train: float, validation: float, tmp_path: Path) -> None:
    write_raw(tmp_path / "in" / "s.csv", GOOD_ROWS)
    with pytest.raises(DataValidationError, match="fraction"):
        demand_preprocess.run(tmp_path / "in", tmp_path / "out", 42, train, validation)


def test_column_order_and_extra_columns_do_not_matter(tmp_path: Path) -> None:
    order = [*reversed(RAW_COLUMNS), "region"]
    write_raw(tmp_path / "a" / "s.csv", [[*reversed(r), "north"] for r in GOOD_ROWS], order)
    write_raw(tmp_path / "b" / "s.csv", GOOD_ROWS)
    demand_preprocess.run(tmp_path / "a", tmp_path / "out-a")
    demand_preprocess.run(tmp_path / "b", tmp_path / "out-b")
    for name in DATA_FILES:
        assert (tmp_path / "out-a" / name).read_bytes() == (tmp_path / "out-b" / name).read_bytes()


def test_the_scripts_own_folder_is_not_input(tmp_path: Path) -> None:
    """As a ScriptProcessor runs it: the script in /opt/ml/processing/input/code (inside the
    input folder), src/ on PYTHONPATH."""
    write_raw(tmp_path / "input" / "sales.csv", GOOD_ROWS)
    code = tmp_path / "input" / "code"
    code.mkdir()
    shutil.copyfile(SRC_DIR / "preprocess.py", code / "preprocess.py")
    (code / "fixture.csv").write_text("not,data\n")
    (tmp_path / "input" / "_SUCCESS").write_text("")
    result = subprocess_preprocess(code / "preprocess.py", tmp_path)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "output" / "manifest" / "manifest.json").read_text())
    assert [f["name"] for f in manifest["input_files"]] == ["sales.csv"]
    assert manifest["ignored_files"] == ["_SUCCESS"]


def subprocess_preprocess(script: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-B",
            str(script),
            "--input-dir",
            str(root / "input"),
            "--output-dir",
            str(root / "output"),
        ],
        env={**os.environ, "PYTHONPATH": str(SRC_DIR)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_monitoring_baseline_is_the_train_split_as_the_endpoint_receives_it(
    demand_run: DemandRun,
) -> None:
    header, *rows = read_rows(demand_run.processed_dir / BASELINE)
    assert header == list(INPUT_COLUMNS)  # no store id, no label
    assert len(rows) == demand_run.manifest["rows"]["train"]
    assert {len(row) for row in rows} == {len(INPUT_COLUMNS)}
    assert any(row[1] == "" for row in rows)  # a missing temperature is an empty field
    # Served as one text/csv request (header included), the file engineers into exactly
    # train.csv's features, row for row (NaN where the temperature is missing).
    text = (demand_run.processed_dir / BASELINE).read_text(encoding="utf-8")
    served = demand_inference.input_fn(text.encode("utf-8"), "text/csv")
    _, train = read_split_dir(demand_run.processed_dir / "train")
    assert np.isnan(train).any()
    np.testing.assert_array_equal(served, train)


def test_the_labelled_file_is_the_test_split_as_requests_with_their_label(
    demand_run: DemandRun,
) -> None:
    rows = read_rows(demand_run.processed_dir / LABELLED)
    assert len(rows) == demand_run.manifest["rows"]["test"]
    assert {len(row) for row in rows} == {len(INPUT_COLUMNS) + 1}  # request fields, label
    assert rows[0][: len(INPUT_COLUMNS)] != list(INPUT_COLUMNS)  # headerless
    request = "".join(",".join(row[:-1]) + "\n" for row in rows)
    served = demand_inference.input_fn(request, "text/csv")
    labels, test = read_split_dir(demand_run.processed_dir / "test")
    np.testing.assert_array_equal(served, test)
    test_rows = read_rows(demand_run.processed_dir / "test" / "test.csv")
    assert [row[-1] for row in rows] == [row[0] for row in test_rows]
    assert [float(row[-1]) for row in rows] == labels.tolist()
    text = (demand_run.processed_dir / LABELLED).read_text(encoding="utf-8")
    assert text.endswith("\n") and "\r" not in text and '"' not in text


def test_the_serving_files_hold_normalised_values(tmp_path: Path) -> None:
    # Spellings the validation forgives become what a client sends: 3 not 3.0, 2.5 not 2.50,
    # 1 not 1.0; a blank temperature stays blank.
    rows = [list(r) for r in GOOD_ROWS]
    day, promotion = RAW_COLUMNS.index("day_of_week"), RAW_COLUMNS.index("promotion")
    for row in rows:
        row[day] += ".0"
        row[promotion] = f" {row[promotion]}.0 "
    rows[0][RAW_COLUMNS.index("temperature_c")] = ""
    write_raw(tmp_path / "in" / "s.csv", rows)
    demand_preprocess.run(tmp_path / "in", tmp_path / "out")

    # GOOD_ROWS row i has label 40 + 3 i: the labelled file names its rows.
    labelled = read_rows(tmp_path / "out" / LABELLED)
    _, *baseline = read_rows(tmp_path / "out" / BASELINE)
    served = [row[:-1] for row in labelled] + baseline
    indices = [(int(row[-1]) - 40) // 3 for row in labelled]
    for i, fields in zip(indices, labelled):
        expected_price = f"{2.5 + (i % 8) / 4:.2f}".rstrip("0").rstrip(".")
        temperature = "" if i == 0 else f"{(i - 5) / 2:.1f}".replace(".0", "")
        assert fields[:-1] == [
            str(i % 7),
            temperature,
            expected_price,
            str(int(i % 4 == 0)),
            str(int(i % 10 == 0)),
        ]
    assert all("." not in row[0] and "." not in row[3] for row in served)
