"""Hints for the classic YAML traps: tabs, unquoted account ids, misspelled keys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stacks.config_hints import account_problem, nearest_key, yaml_tab_problem

ROOT = Path(__file__).resolve().parents[1]

# --- tabs -----------------------------------------------------------------------------------

INDENT = "uses a tab for indentation. Fix: indent with spaces (YAML does not allow tabs)"
ELSEWHERE = "Fix: use spaces (the YAML reader accepts tabs only inside quoted text and comments)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a:\n\tb: 1\n", f"line 2 {INDENT}"),
        ("a:\n  b: 1\n  \tc: 2\n", f"line 3 {INDENT}"),
        ("a: 1\n\t# comment\n", f"line 2 {INDENT}"),
        ("a:\n\t\n  b: 1\n", f"line 2 {INDENT}"),
        ("a:\n  - x\n  -\ty\n", f"line 3 has a tab at column 4. {ELSEWHERE}"),
        ("a:\tb\n", f"line 1 has a tab at column 3. {ELSEWHERE}"),
        ("a: x\ty\n", f"line 1 has a tab at column 5. {ELSEWHERE}"),
        ("a: 1\t# comment\n", f"line 1 has a tab at column 5. {ELSEWHERE}"),
        ("a: [1,\t2]\n", f"line 1 has a tab at column 7. {ELSEWHERE}"),
        ("a: it's\there\n", f"line 1 has a tab at column 8. {ELSEWHERE}"),  # ' is no quote
        ("a: b # it's\nc:\td\n", f"line 2 has a tab at column 3. {ELSEWHERE}"),
        ("a: |\n  x\nb:\n\t- 1\n", f"line 4 {INDENT}"),  # after the block scalar ended
        ("a: |\n\tx\n", f"line 2 {INDENT}"),  # not indented deeper: not block content
        ('a:\n  - "q\ty"\n  - \tz\n', f"line 3 has a tab at column 5. {ELSEWHERE}"),
        # tabs PyYAML accepts
        ('a: "x\ty"\n', None),
        ("a: 'x\ty'\n", None),
        ('a: "x\\"\ty"\n', None),
        ("a: 'it''s\there'\n", None),
        ('a: "multi\n\tline"\n', None),
        ("a: 1 # x\ty\n", None),
        ("#\tcomment\na: 1\n", None),
        ("a: |\n  x\n  \ty\n", None),
        ("a: >-\n    x\n\n    \ty\nb: 1\n", None),
        ("a:\n- |\n  x\n  \ty\nb: 1\n", None),
        ("a:\n  b: |2\n     \tx\n  c: 1\n", None),
        ("a: 1\nb:\n  - c\n", None),
    ],
)
def test_yaml_tab_problem(text, message):
    assert yaml_tab_problem(text) == message
    if message is None:
        yaml.safe_load(text)  # really valid
    else:
        with pytest.raises(yaml.YAMLError, match="found character '\\\\t'"):
            yaml.safe_load(text)


def test_repository_configs_have_no_tabs():
    for path in sorted(ROOT.glob("config/*.yaml")):
        assert yaml_tab_problem(path.read_text(encoding="utf-8")) is None, path


# --- account ids ----------------------------------------------------------------------------

RAW = """\
environments:
  dev:
    account: 012345670123   # leading zero, digits 0-7: octal
  test: {account: 012345678912, region: us-east-1}
  staging:
    account: 123456789012
  prod:
    account: "098765432109"
"""


def _accounts(raw: str) -> dict[str, object]:
    return {k: v["account"] for k, v in yaml.safe_load(raw)["environments"].items()}


def test_yaml_reads_accounts_as_numbers():
    """What the loader gets: the facts account_problem is built on (PyYAML, YAML 1.1)."""
    assert _accounts(RAW) == {
        "dev": 0o12345670123,  # 1402433619: not the id written
        "test": "012345678912",  # an 8 or 9 makes it no int: PyYAML keeps the string
        "staging": 123456789012,
        "prod": "098765432109",
    }


def test_octal_account():
    assert account_problem(RAW, _accounts(RAW)["dev"]) == (
        "account id 012345670123 is not quoted, and its leading zero made YAML read it as the "
        "octal number 1402433619, an account id you never typed. Fix: quote it: "
        "account: '012345670123'"
    )


def test_decimal_account():
    assert account_problem(RAW, 123456789012) == (
        "account id 123456789012 is not quoted, so YAML read it as a number. Fix: quote it: "
        "account: '123456789012'"
    )


def test_strings_are_fine():
    accounts = _accounts(RAW)
    assert account_problem(RAW, accounts["test"]) is None
    assert account_problem(RAW, accounts["prod"]) is None
    assert account_problem(RAW, None) is None
    assert account_problem(RAW, True) is None  # bool is an int to Python: left to validation


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("- account: 0_1234_5670\n", "octal number 2739128, an account id you never typed"),
        ("{account: 0777}\n", "octal number 511,"),
        ("acct_id: 012345670123\n", "acct_id: '012345670123'"),
    ],
)
def test_other_spellings(raw, expected):
    data = yaml.safe_load(raw)
    entry = data[0] if isinstance(data, list) else data
    key = next(iter(entry))
    msg = account_problem(raw, entry[key], key=key)
    assert msg is not None
    assert expected in msg


def test_number_not_found_in_text():
    assert account_problem("accounts: [1]\n", 1) == (
        "the account id was read as the number 1. Fix: quote it, e.g. account: '012345678901', "
        "so YAML keeps it as written"
    )


def test_float_account():
    raw = "account: 1.23456789012e+11\n"
    assert account_problem(raw, yaml.safe_load(raw)["account"]) == (
        "the account id was read as the number 123456789012.0. Fix: write the 12 digits in "
        "quotes, e.g. account: '012345678901'"
    )


# --- misspelled keys ------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Deploy(_Strict):
    staging: bool = True
    production: bool = False


class Stage(_Strict):
    name: str = "train"
    approval: bool = False


class Cat(_Strict):
    meow: int = 1


class Dog(_Strict):
    bark: int = 1


class Project(_Strict):
    name: str = "p"
    deploy: Deploy | None = None
    stages: list[Stage] = []
    pets: list[Cat | Dog] = []
    variants: Annotated[dict[str, Stage], Field(default_factory=dict)]
    pair: tuple[Stage, Deploy] | None = None
    instance: str = Field(default="ml.m5.large", alias="instanceType")


class Root(_Strict):
    projects: tuple[Project, ...] = ()
    default: Project | None = None


def _unknown_keys(data: object) -> list[tuple[str | int, ...]]:
    with pytest.raises(ValidationError) as info:
        Root.model_validate(data)
    return [tuple(e["loc"]) for e in info.value.errors() if e["type"] == "extra_forbidden"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"projets": []}, ["projects"]),
        ({"projects": [{"deploy": {"stagin": True}}]}, ["staging"]),  # tuple + optional model
        ({"projects": [{}, {"stages": [{"aproval": True}]}]}, ["approval"]),  # list index
        ({"default": {"variants": {"a": {"nmae": "x"}}}}, ["name"]),  # dict value
        ({"projects": [{"pair": [{"nam": "x"}, {"productoin": True}]}]}, ["name", "production"]),
        ({"projects": [{"pets": [{"bakr": 1}]}]}, [None, "bark"]),  # once per union member
        ({"projects": [{"instancetype": "x"}]}, ["instanceType"]),  # alias, case ignored
        ({"projects": [{"zzz": 1}]}, [None]),
    ],
)
def test_nearest_key_from_validation_errors(data, expected):
    assert [nearest_key(Root, loc) for loc in _unknown_keys(data)] == expected


def test_nearest_key_with_separate_key():
    assert nearest_key(Root, ("projects", 0, "deploy", "stagin"), "stagin") == "staging"
    assert nearest_key(Root, ("projects", 0, "deploy"), "stagin") == "staging"
    assert nearest_key(Root, (), "defualt") == "default"


def test_nearest_key_nothing_to_suggest():
    assert nearest_key(Root, ("projects", 0, "deploy"), "staging") is None  # known already
    assert nearest_key(Root, ("projects", 0, "name"), "x") is None  # not a model
    assert nearest_key(Root, ("nowhere", 3), "name") is None
    assert nearest_key(Root, ("projects", "x", "deploy"), "stagin") is None  # str into a tuple
    assert nearest_key(Root, ()) is None
    assert nearest_key(Root, ("projects", 0)) is None  # last element is no key


def test_no_heavy_imports():
    """The loader calls this module before jsii starts: no CDK, sagemaker or pydantic import."""
    code = (
        "import sys\n"
        "from stacks import config_hints as h\n"
        "h.yaml_tab_problem('a: 1')\n"
        "h.account_problem('account: 0123', 83)\n"
        "print(sorted(m for m in ('aws_cdk', 'jsii', 'sagemaker', 'pydantic') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"
