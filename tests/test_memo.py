"""The synth memo (mlops_constructs/memo.py): a hit is byte-identical to a fresh build, any input
change misses, a corrupt or foreign entry is ignored and rebuilt, and an unchanged project's
definitions and images come back without importing the sagemaker SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_constructs import memo, sdk_process
from mlops_constructs.deploy import ServerlessSettings, templates
from mlops_constructs.monitor.open_definition import (
    OpenMonitoringSpec,
    _build_monitoring_definition,
    build_monitoring_definition,
)
from mlops_constructs.names import template_file
from mlops_constructs.security.ml_pack import MLOpsChecks
from mlops_constructs.training.definition import (
    PipelineImages,
    PipelineSpec,
    _build_definition,
    _replace_marker,
    _retrieve_image,
    build_definition,
    image_uri,
    resolve_images,
)
from stacks.context import project_context
from stacks.guardrails import PACKS, add_rule_packs, rule_packs_id

SPEC = PipelineSpec(
    name="p",
    region="eu-west-1",
    role_arn="arn:aws:iam::111111111111:role/r",
    artifacts_bucket="a",
    input_data_uri="s3://r/incoming/",
    model_package_group="g",
    images=PipelineImages(training="t", serving="s", processing="p", platform="k"),
    serving_columns=("a", "b"),
)
MONITORING = OpenMonitoringSpec(
    name="m",
    region="eu-west-1",
    role_arn="arn:aws:iam::111111111111:role/r",
    artifacts_bucket="a",
    image="i",
    columns=("a", "b"),
    problem_type="regression",
    prediction_field="y",
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "memo"
    monkeypatch.setenv("MLOPS_SYNTH_CACHE", str(folder))
    return folder


def _counting() -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def compute() -> str:
        calls.append(1)
        return f"value-{len(calls)}"

    return calls, compute


def test_a_hit_is_byte_identical_to_a_fresh_build(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = build_definition(SPEC), build_monitoring_definition(MONITORING)
    assert len(list(cache.glob("*-definition-*.json"))) == 2
    again = build_definition(SPEC), build_monitoring_definition(MONITORING)
    monkeypatch.setenv("MLOPS_SYNTH_CACHE", "off")
    fresh = build_definition(SPEC), build_monitoring_definition(MONITORING)
    assert first == again == fresh


def test_any_input_change_misses(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = memo.memo_key("training-definition", SPEC)
    changed = PipelineSpec(**{**SPEC.__dict__, "serving_columns": ("a", "c")})
    assert memo.memo_key("training-definition", changed) != key
    assert memo.memo_key("monitoring-definition", SPEC) != key  # another kind
    monkeypatch.setattr(memo, "_sdk_version", lambda: "2.999.0")
    assert memo.memo_key("training-definition", SPEC) != key  # another SDK
    monkeypatch.undo()
    monkeypatch.setattr(memo, "code_digest", lambda: "0" * 64)
    assert memo.memo_key("training-definition", SPEC) != key  # other code


def test_the_code_digest_covers_the_definition_builders() -> None:
    files = {p.name for p in memo.PACKAGE.rglob("*.py")}
    assert {"definition.py", "steps.py", "open_definition.py", "open_steps.py"} <= files
    assert len(memo.code_digest()) == 64


def test_corrupt_and_foreign_entries_are_ignored_and_rebuilt(cache: Path) -> None:
    calls, compute = _counting()
    assert memo.memoized("thing", {"x": 1}, compute) == "value-1"
    [entry] = cache.glob("thing-*.json")
    assert memo.memoized("thing", {"x": 1}, compute) == "value-1"
    assert len(calls) == 1
    good = json.loads(entry.read_text())
    damaged: list[str] = [
        entry.read_text()[:20],  # truncated
        json.dumps({**good, "value": "tampered"}),  # wrong digest
        json.dumps({**good, "key": "0" * 64}),  # another key's entry
        json.dumps({**good, "format": 0}),  # an older format
        "[]",
    ]
    for damage in damaged:
        entry.write_text(damage)
        value = memo.memoized("thing", {"x": 1}, compute)
        assert value == f"value-{len(calls)}"  # rebuilt...
        assert json.loads(entry.read_text())["value"] == value  # ...and written back
    assert len(calls) == 6


def test_off_or_unwritable_computes_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls, compute = _counting()
    monkeypatch.setenv("MLOPS_SYNTH_CACHE", "off")
    memo.memoized("thing", 1, compute)
    memo.memoized("thing", 1, compute)
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("MLOPS_SYNTH_CACHE", str(blocker / "below-a-file"))
    assert memo.memoized("thing", 1, compute) == "value-3"
    assert len(calls) == 3


def test_a_miss_asked_for_now_is_written_when_first_read(cache: Path) -> None:
    """memoized_later: a hit is known at once; a miss is asked for at once, and its value is
    read (and written to the memo) only when first needed, once."""
    calls, compute = _counting()
    asked: list[int] = []

    def ask() -> memo.Later:
        asked.append(1)
        return memo.Later(compute)

    later = memo.memoized_later("thing", {"x": 1}, ask)
    assert asked == [1] and calls == [] and not later.ready
    assert not list(cache.glob("thing-*.json"))  # nothing written before it is read
    assert later.get() == later.get() == "value-1" and later.ready and calls == [1]
    hit = memo.memoized_later("thing", {"x": 1}, ask)
    assert hit.ready and hit.get() == "value-1" and asked == [1] and calls == [1]
    known = memo.memoized_later("thing", {"x": 2}, lambda: memo.Later.now("now"))
    assert known.ready and known.get() == "now"  # computed at once: known at once
    assert memo.memoized("thing", {"x": 2}, compute) == "now"


PROBE = """
import sys
from mlops_constructs.training.definition import image_uri, resolve_images, build_definition
from mlops_constructs.monitor.open_definition import build_monitoring_definition
from tests.test_memo import SPEC, MONITORING
images = resolve_images(region="eu-west-1", framework="xgboost", version="1.7-1")
image_uri(framework="model-monitor", region="eu-west-1")
print(build_definition(SPEC) + build_monitoring_definition(MONITORING) + images.training)
print("sagemaker" in sys.modules)
"""


def test_an_unchanged_project_never_imports_the_sdk(cache: Path) -> None:
    """A second process finds everything in the memo this one filled: same values, no SDK."""
    images = resolve_images(region="eu-west-1", framework="xgboost", version="1.7-1")
    image_uri(framework="model-monitor", region="eu-west-1")
    built = build_definition(SPEC) + build_monitoring_definition(MONITORING) + images.training
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "MLOPS_SYNTH_CACHE": str(cache), "PYTHONPATH": str(root)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == [built, "False"]


# --------------------------------------------------------------------------------------------
# A first synth: the SDK in a process of its own (mlops_constructs/sdk_process.py)


def test_the_memo_is_empty_until_an_entry_is_written(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert memo.empty()  # no folder yet
    cache.mkdir()
    (cache / "notes.txt").write_text("not an entry")
    assert memo.empty()
    memo.memoized("image", {"a": 1}, lambda: "x")
    assert not memo.empty()
    monkeypatch.setenv("MLOPS_SYNTH_CACHE", "off")
    assert memo.empty()  # every value is computed


@pytest.fixture
def sdk_child() -> Iterator[None]:
    yield
    sdk_process.stop()


@pytest.mark.usefixtures("sdk_child")
def test_a_first_synth_computes_in_the_sdk_process_what_it_computes_here(cache: Path) -> None:
    """Started only on an empty memo; its answers are this process's, byte for byte; a value it
    fails to compute is computed here, raising here what it raises; it ends with the synth."""
    assert sdk_process.start_if_the_memo_is_empty()
    child = sdk_process._child
    assert child is not None
    _asked_now_read_later(_build_definition(SPEC))
    retrieve = {"framework": "model-monitor", "region": "eu-west-1"}
    remote = [
        sdk_process.compute(_retrieve_image, retrieve),
        sdk_process.compute(_build_definition, SPEC),
        sdk_process.compute(_build_monitoring_definition, MONITORING),
    ]
    assert sdk_process.running()
    assert remote == [
        _retrieve_image(retrieve),
        _build_definition(SPEC),
        _build_monitoring_definition(MONITORING),
    ]
    with pytest.raises(FileNotFoundError, match="no-such-framework"):
        sdk_process.compute(_retrieve_image, {"framework": "no-such-framework", "region": "x"})
    assert sdk_process.running()  # a failed value does not end it
    assert sdk_process.compute(lambda: "a closure") == "a closure"  # not the child's: here
    assert not sdk_process._runs_in_child(lambda: "") and not sdk_process._runs_in_child(len)
    assert sdk_process._runs_in_child(_build_definition)
    sdk_process.stop()
    assert child.poll() is not None and not sdk_process.running()


def _asked_now_read_later(definition: str) -> None:
    """sdk_process.ask: the child computes while this process goes on; answers are matched to
    questions in the order asked, whatever order they are read in; answers larger than a pipe
    holds do not stall either process (a thread reads them as they come); a value the child
    fails to compute raises here when read; one whose arguments pickle cannot carry is computed
    here at once and takes no answer of another."""
    failing = sdk_process.ask(_retrieve_image, {"framework": "no-such-framework", "region": "x"})
    here = sdk_process.ask(_replace_marker, "here", {"a lock": threading.Lock()})
    assert here.ready and here.get() == "here"  # pickle cannot carry it: computed here, now
    pending = sdk_process.ask(_build_definition, SPEC)
    assert not pending.ready  # asked, not read
    done = threading.Event()
    values: list[str] = []

    def ask_then_read() -> None:  # in a thread: a stall fails the test instead of hanging it
        big = [sdk_process.ask(_replace_marker, f"{n}" * 300_000, {}) for n in range(10)]
        values.extend(later.get() for later in reversed(big))
        done.set()

    threading.Thread(target=ask_then_read, daemon=True).start()
    if not done.wait(timeout=30):
        assert sdk_process._child is not None
        sdk_process._child.kill()  # frees the stalled thread's pipe, so that stop() returns
        pytest.fail("asking for 3 MB of answers stalled")
    assert values == [f"{n}" * 300_000 for n in reversed(range(10))]
    assert pending.get() == definition
    with pytest.raises(FileNotFoundError, match="no-such-framework"):
        failing.get()


@pytest.mark.usefixtures("sdk_child")
def test_no_sdk_process_while_the_memo_has_entries_and_an_unasked_one_is_ended(
    cache: Path,
) -> None:
    memo.memoized("image", {"a": 1}, lambda: "x")
    assert not sdk_process.start_if_the_memo_is_empty()
    assert sdk_process.compute(lambda: "here") == "here"  # no child: computed in this process
    sdk_process.start()  # still importing the SDK when the synth ends: ended, not waited for
    child = sdk_process._child
    assert child is not None
    sdk_process.stop()
    assert child.returncode is not None


# --------------------------------------------------------------------------------------------
# Endpoint templates: memoized after their template app passed its rule packs


def _endpoint_folder(**changes: Any) -> dict[str, str]:
    """The endpoint templates of one serverless stage (the cheapest template app), by name."""
    arguments: dict[str, Any] = {
        "prefix": "mlops-dev-memo",
        "stages": {"staging": ServerlessSettings()},
        "context": project_context(),
        "rule_packs": add_rule_packs,
        "rule_packs_id": rule_packs_id(),
        "deploys_to": ("111111111111", "eu-west-1"),
        **changes,
    }
    folder = templates.synthesize_endpoint_templates(**arguments)
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


def test_endpoint_templates_hit_without_a_template_app_byte_identical_to_a_fresh_build(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _endpoint_folder()
    [entry] = cache.glob("endpoint-templates-*.json")
    assert list(first) == [template_file("mlops-dev-memo", "staging")]
    with monkeypatch.context() as patched:
        patched.setattr(templates, "_template_files", _no_template_app)
        assert _endpoint_folder() == first
    monkeypatch.setenv("MLOPS_SYNTH_CACHE", "off")
    assert _endpoint_folder() == first
    assert entry.exists()


def _no_template_app(*args: Any, **kwargs: Any) -> dict[str, str]:
    raise AssertionError("a memo hit builds no template app")


def test_endpoint_templates_miss_on_any_input_and_run_unnamed_packs_every_time(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every argument, the rule packs' name and the CDK libraries are in the key (a fake
    template app here: what it returns is what is memoized)."""
    built: list[dict[str, Any]] = []

    def fake(targets: Any, **kwargs: Any) -> dict[str, str]:
        built.append(kwargs)
        return {"t.template.json": str(len(built))}

    monkeypatch.setattr(templates, "_template_files", fake)
    assert _endpoint_folder() == _endpoint_folder() == {"t.template.json": "1"}
    changes: list[dict[str, Any]] = [
        {"stages": {"staging": ServerlessSettings(memory_mb=3072)}},
        {"stages": {"prod": ServerlessSettings()}},
        {"context": {**project_context(), "@aws-cdk/core:newStyleStackSynthesis": False}},
        {"deploys_to": ("222222222222", "eu-west-1")},
        {"defaults": {"staging": {"AlarmTopicArn": "arn:aws:sns:eu-west-1:1:t"}}},
        {"vpc_az_count": 2},
        {"rule_packs_id": rule_packs_id(vpc_mode=True)},
    ]
    for number, change in enumerate(changes, start=2):
        assert _endpoint_folder(**change) == {"t.template.json": str(number)}, change
    monkeypatch.setattr(memo, "library_versions", lambda: {"aws-cdk-lib": "2.999.0"})
    assert _endpoint_folder() == {"t.template.json": str(len(changes) + 2)}
    # Rule packs with no name: they run on every call and nothing is memoized.
    entries = len(list(cache.glob("endpoint-templates-*.json")))
    _endpoint_folder(rule_packs_id=None)
    _endpoint_folder(rule_packs_id=None)
    assert len(built) == len(changes) + 4
    assert len(list(cache.glob("endpoint-templates-*.json"))) == entries


def test_the_rule_packs_id_names_every_pack() -> None:
    named = rule_packs_id(vpc_mode=True)
    assert all(pack.__qualname__ in named for pack in (*PACKS, MLOpsChecks))
    assert named.endswith("vpc_mode=True") and rule_packs_id() != named
