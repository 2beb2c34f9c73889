"""The Glue ETL script's pure helpers (the Spark part runs on Glue only)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import py_compile
from types import ModuleType

import pytest

from mlops_constructs.data.catalog import ETL_SCRIPT, dqdl


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("raw_to_curated", ETL_SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_compiles_and_imports_without_glue() -> None:
    py_compile.compile(str(ETL_SCRIPT), doraise=True)
    assert "target_path" in _load().REQUIRED_ARGS


def test_columns_are_parsed_in_order_and_cast_from_strings() -> None:
    etl = _load()
    cols = etl.parse_columns("id:string, age:int,score:double")
    assert cols == [("id", "string"), ("age", "int"), ("score", "double")]
    assert etl.apply_mapping_spec(cols)[1] == ("age", "string", "age", "int")


@pytest.mark.parametrize("spec", ["id", "id:", ":int", "a:int,,b:int"])
def test_malformed_column_specs_are_rejected(spec: str) -> None:
    with pytest.raises(ValueError, match="malformed column spec"):
        _load().parse_columns(spec)


def test_partition_value_is_iso_date() -> None:
    assert _load().partition_value(dt.date(2026, 11, 22)) == "2026-11-22"


def test_dqdl_document() -> None:
    assert dqdl(("RowCount > 0", 'IsComplete "id"')) == (
        'Rules = [\n    RowCount > 0,\n    IsComplete "id"\n]'
    )
