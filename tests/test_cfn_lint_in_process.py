"""tests.templates.cfn_lint lints in the test process: its findings are cfn-lint's command line's.

One command-line run over templates with errors, warnings, a Metadata directive that ignores a
check and none at all, against the in-process linter over the same list and over each template
alone (the rules loaded once serve every call).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.templates import cfn_lint, cfn_lint_command

TOPIC = {"Type": "AWS::SNS::Topic"}
TEMPLATES = {
    "clean": {"Resources": {"Topic": TOPIC}},
    "errors": {
        "Resources": {"Topic": {**TOPIC, "Properties": {"Bogus": 1}, "DependsOn": "Nope"}},
    },
    "warnings": {
        "Parameters": {"Unused": {"Type": "String"}},
        "Resources": {
            "Topic": TOPIC,
            "Mail": {
                "Type": "AWS::SNS::Subscription",
                "DependsOn": "Topic",
                "Properties": {
                    "TopicArn": {"Ref": "Topic"},
                    "Protocol": "email",
                    "Endpoint": "a@example.com",
                },
            },
        },
    },
    "ignored": {
        "Metadata": {"cfn-lint": {"config": {"ignore_checks": ["W2001"]}}},
        "Parameters": {"Unused": {"Type": "String"}},
        "Resources": {"Topic": TOPIC},
    },
}


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("cfn-lint")
    paths = []
    for name, template in TEMPLATES.items():
        path = folder / f"{name}.template.json"
        path.write_text(json.dumps(template, indent=1))
        paths.append(path)
    return paths


def test_the_findings_are_the_command_lines(templates: list[Path]) -> None:
    code, stdout = cfn_lint_command(templates)
    found = cfn_lint(templates)
    assert found == stdout.removesuffix("\n")
    assert code == 2 | 4  # errors and warnings
    rules = [line.split(":")[5] for line in found.splitlines()]
    assert rules == ["E3002", "E3005", "W2001", "W3005"], found
    assert [Path(line.split(":")[0]).stem for line in found.splitlines()] == [
        *("errors.template",) * 2,
        *("warnings.template",) * 2,
    ]
    # One template at a time, with the rules already loaded: the same findings.
    assert "\n".join(filter(None, map(cfn_lint, ([t] for t in sorted(templates))))) == found


def test_no_templates_is_refused_not_read_from_stdin() -> None:
    with pytest.raises(ValueError, match="no templates"):
        cfn_lint([])
