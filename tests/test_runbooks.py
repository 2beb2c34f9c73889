"""Every alarm the platform creates says what it means and points to its runbook, a section of
docs/runbooks.md; every section there has its four parts and is some alarm's.

On the suite's synthesized templates: every stack's, and the run-time templates the deploy and
release pipelines deploy (endpoints, Model Monitor), which ship as file assets.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_constructs.names import (
    START_TRAINING,
    AlarmKind,
    alarm_name,
    dead_letter_queue_name,
    deploy_dead_letter_queue_name,
    release_dead_letter_queue_name,
    release_pipeline_name,
)
from mlops_constructs.runbooks import (
    DESCRIPTION_LIMIT,
    RUNBOOKS,
    Runbook,
    alarm_description,
    drift_consequence,
    retrains_on_drift,
)
from tests.conftest import Synthesized
from tests.templates import ROOT

# The session fixtures whose templates are checked: together they create every kind of alarm
# (Model Monitor and batch scoring in vpc_synth, the tooling account's in multi_account_synth).
FIXTURES = ("default_synth", "example_synth", "multi_account_synth", "vpc_synth")
ALARM_TYPES = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
LINK = re.compile(r" Runbook: " + re.escape(RUNBOOKS) + r"#([a-z0-9_-]+)$")
# The four parts of every runbook section, in this order.
PARTS = (
    "**What it means.**",
    "**What happens automatically.**",
    "**First steps.**",
    "**When to escalate.**",
)
# The runbook of each kind of alarm (a dead-letter queue's alarm has its queue's, below).
BY_KIND = {
    AlarmKind.ERRORS_5XX: Runbook.ENDPOINT_5XX,
    AlarmKind.LATENCY_P99: Runbook.ENDPOINT_LATENCY,
    AlarmKind.NO_CAPACITY: Runbook.ENDPOINT_NO_CAPACITY,
    AlarmKind.ERRORS_4XX: Runbook.ENDPOINT_4XX,
    AlarmKind.CPU: Runbook.ENDPOINT_CPU,
    AlarmKind.MEMORY: Runbook.ENDPOINT_MEMORY,
    AlarmKind.DISK: Runbook.ENDPOINT_DISK,
    AlarmKind.DATA_DRIFT: Runbook.DATA_DRIFT,
    AlarmKind.MODEL_QUALITY_DRIFT: Runbook.MODEL_QUALITY_DRIFT,
    AlarmKind.ATTRIBUTION_DRIFT: Runbook.ATTRIBUTION_DRIFT,
    AlarmKind.ETL_FAILED: Runbook.ETL_FAILED,
    AlarmKind.TRAINING_FAILED: Runbook.TRAINING_FAILED,
    AlarmKind.CICD_FAILED: Runbook.CICD_FAILED,
    AlarmKind.DEPLOY_FAILED: Runbook.DEPLOY_FAILED,
}
# The release pipeline's name after its (empty) platform and project name: "-release".
RELEASE = release_pipeline_name("", "").removeprefix("-")
# The runbook of each kind of alarm by the end of its name (the longest match wins): "-<kind>",
# and the alarms of the dead-letter queues of an empty prefix.
KINDS = {alarm_name("", kind): runbook for kind, runbook in BY_KIND.items()} | {
    alarm_name(queue, AlarmKind.NOT_EMPTY): runbook
    for queue, runbook in (
        (dead_letter_queue_name("", START_TRAINING), Runbook.TRAINING_DEAD_LETTERS),
        (deploy_dead_letter_queue_name(""), Runbook.DEPLOY_DEAD_LETTERS),
        (release_dead_letter_queue_name(RELEASE), Runbook.RELEASE_DEAD_LETTERS),
    )
}
RETRAINS = drift_consequence("x-prod")
NOTIFIES = drift_consequence("x-staging")


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def runbook_sections(text: str) -> dict[str, str]:
    """The ``##`` sections of the runbooks (outside code blocks): anchor -> body."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            anchor = github_anchor(line[3:])
            assert anchor not in sections, f"two sections are #{anchor}"
            current = sections[anchor] = []
        elif current is not None:
            current.append(line)
    return {anchor: "\n".join(body) for anchor, body in sections.items()}


@pytest.fixture(scope="module")
def sections() -> dict[str, str]:
    return runbook_sections((ROOT / RUNBOOKS).read_text())


def templates(synth: Synthesized) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every template of a synthesis: the app's and its stages' stacks, and the run-time
    templates the pipelines deploy (``asset.*/``)."""
    yield from _load(synth.outdir)


@functools.cache
def _load(outdir: Path) -> tuple[tuple[Path, dict[str, Any]], ...]:
    paths = sorted(outdir.glob("**/*.template.json"))
    assert any(p.parent.name.startswith("asset.") for p in paths)
    assert any(p.parent.name.startswith("assembly-") for p in paths)
    return tuple((path, json.loads(path.read_text())) for path in paths)


def alarms(synth: Synthesized) -> dict[str, dict[str, Any]]:
    """Every alarm of a synthesis, by name (the same template may ship in several assets)."""
    found: dict[str, dict[str, Any]] = {}
    for path, template in templates(synth):
        for resource in template.get("Resources", {}).values():
            if resource["Type"] in ALARM_TYPES:
                props = resource["Properties"]
                name = props["AlarmName"]
                assert isinstance(name, str), (path, name)
                assert found.setdefault(name, props) == props, f"{name} differs between templates"
    assert found
    return found


def kind(alarm_name: str) -> Runbook:
    suffixes = [s for s in KINDS if alarm_name.endswith(s)]
    assert suffixes, f"{alarm_name}: a kind of alarm the runbooks do not know"
    return KINDS[max(suffixes, key=len)]


@pytest.mark.parametrize("fixture", FIXTURES)
def test_every_alarm_says_what_it_means_and_links_its_runbook(
    fixture: str, request: pytest.FixtureRequest, sections: dict[str, str]
) -> None:
    synth: Synthesized = request.getfixturevalue(fixture)
    for name, props in alarms(synth).items():
        description = props.get("AlarmDescription")
        assert isinstance(description, str), f"{name}: no plain-text description"
        assert len(description) <= DESCRIPTION_LIMIT, name
        link = LINK.search(description)
        assert link, f"{name}: the description does not end with its runbook: {description!r}"
        anchor = link.group(1)
        assert anchor in sections, f"{name}: #{anchor} is no section of {RUNBOOKS}"
        assert anchor == kind(name).value, f"{name} points to #{anchor}, not #{kind(name)}"
        meaning = description[: link.start()]
        # It names what it is about: the project, the endpoint or the queue.
        subject = meaning.split(":", 1)[0]
        assert name.startswith(f"{subject}-"), (name, meaning)
        sentences = re.findall(r"[.!?](?:\s|$)", meaning)
        assert 1 <= len(sentences) <= 2, f"{name}: say it in one or two sentences: {meaning!r}"
        assert props.get("AlarmActions"), f"{name} notifies nobody"


def test_every_kind_of_alarm_name_has_its_runbook() -> None:
    assert set(BY_KIND) == set(AlarmKind) - {AlarmKind.NOT_EMPTY}


def test_every_runbook_section_is_an_alarms_and_every_alarm_kind_has_one(
    default_synth: Synthesized,
    example_synth: Synthesized,
    multi_account_synth: Synthesized,
    vpc_synth: Synthesized,
    sections: dict[str, str],
) -> None:
    linked = {
        LINK.search(props["AlarmDescription"]).group(1)  # type: ignore[union-attr]
        for synth in (default_synth, example_synth, multi_account_synth, vpc_synth)
        for props in alarms(synth).values()
    }
    # No session synthesis serves a stage scaled to zero: tests/test_scale_to_zero.py checks
    # that its no-capacity alarm links this section.
    linked.add(Runbook.ENDPOINT_NO_CAPACITY.value)
    assert set(sections) == linked, (
        f"unused sections: {sorted(set(sections) - linked)}; "
        f"missing sections: {sorted(linked - set(sections))}"
    )
    assert {r.value for r in Runbook} == set(sections) == {k.value for k in KINDS.values()}


def test_every_section_has_its_four_parts_in_order(sections: dict[str, str]) -> None:
    assert sections
    for anchor, body in sections.items():
        positions = [body.find(part) for part in PARTS]
        for part, position in zip(PARTS, positions, strict=True):
            assert position >= 0, f"#{anchor} lacks {part}"
            assert body.count(part) == 1, f"#{anchor} has {part} twice"
            # Each part says something.
            rest = body[position + len(part) :].lstrip()
            assert rest and not rest.startswith("**"), f"#{anchor}: {part} is empty"
        assert positions == sorted(positions), f"#{anchor}: parts out of order"
        # The first steps are steps.
        steps = body[positions[2] : positions[3]]
        assert re.search(r"^1\. ", steps, re.MULTILINE), f"#{anchor}: first steps not numbered"


def test_the_runbooks_links_lead_to_its_sections(sections: dict[str, str]) -> None:
    text = (ROOT / RUNBOOKS).read_text()
    for anchor in re.findall(r"\]\(#([^)]+)\)", text):
        assert anchor in sections, f"link to #{anchor}, which is no section"
    # The index lists every section.
    index = text.split("\n## ", 1)[0]
    for anchor in sections:
        assert f"(#{anchor})" in index, f"#{anchor} is missing from the index"


@pytest.mark.parametrize("fixture", FIXTURES)
def test_drift_alarms_say_truly_whether_they_retrain(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    """A drift alarm that says it starts retraining is one the training trigger listens to
    (its rules' alarm-name prefixes, in whichever environment the project trains), and one that
    says it only notifies is not."""
    synth: Synthesized = request.getfixturevalue(fixture)
    prefixes: set[str] = set()
    for _, template in templates(synth):
        resources = template.get("Resources", {})
        triggers = {
            key
            for key, r in resources.items()
            if r["Type"] == "AWS::Lambda::Function"
            and str(r["Properties"].get("FunctionName", "")).endswith("-start-training")
        }
        for r in resources.values():
            if r["Type"] != "AWS::Events::Rule":
                continue
            targets = json.dumps(r["Properties"].get("Targets", []))
            if not any(f'"{key}"' in targets for key in triggers):
                continue
            pattern = r["Properties"].get("EventPattern", {})
            for match in pattern.get("detail", {}).get("alarmName", []):
                prefixes.add(match["prefix"])
    drift = {n: p for n, p in alarms(synth).items() if "-drift-" in n}
    assert drift
    for name, props in drift.items():
        retrained = any(name.startswith(p) for p in prefixes)
        description = props["AlarmDescription"]
        assert (RETRAINS in description) == retrained, (name, description)
        assert (NOTIFIES in description) == (not retrained), (name, description)


def test_descriptions_are_built_in_one_place() -> None:
    assert alarm_description("a: it broke", Runbook.ETL_FAILED) == (
        "a: it broke. Runbook: docs/runbooks.md#etl-failed"
    )
    assert alarm_description("a: it broke. ", Runbook.CICD_FAILED).endswith(
        "broke. Runbook: docs/runbooks.md#cicd-failed"
    )
    with pytest.raises(ValueError, match="1024"):
        alarm_description("x" * DESCRIPTION_LIMIT, Runbook.ETL_FAILED)
    assert retrains_on_drift("mlops-prod-churn-prod")
    assert retrains_on_drift("mlops-dev-churn-batch")
    assert not retrains_on_drift("mlops-dev-churn-staging")


def test_github_anchors() -> None:
    assert github_anchor("CI/CD failed") == "cicd-failed"
    assert github_anchor("Endpoint 5xx errors") == "endpoint-5xx-errors"
    assert github_anchor("Start-training DLQ not empty") == "start-training-dlq-not-empty"
