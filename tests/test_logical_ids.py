"""Stateful resources keep their logical ids: a refactor must never replace a key or bucket.

If this test fails, a construct id or the construct tree above a stateful resource changed.
CloudFormation would delete (here: orphan, thanks to Retain) the old resource and create a new
empty one. Change the ids back; update this list only for a deliberate, documented migration.
"""

from __future__ import annotations

from tests.conftest import Synthesized

PINNED = {
    "DataKey2A0DE9E6": "AWS::KMS::Key",
    "OpsKey79124BB7": "AWS::KMS::Key",
    "LakeAccessLogs4431AB8D": "AWS::S3::Bucket",
    "LakeRaw8A880B75": "AWS::S3::Bucket",
    "LakeCurated8ED8635F": "AWS::S3::Bucket",
    "LakeArtifacts2DD6A05E": "AWS::S3::Bucket",
    "AuditLogsA35F3E1F": "AWS::Logs::LogGroup",
}
PINNED_CATALOG = {
    "CatalogDatabaseE63956BB": "AWS::Glue::Database",
    "CatalogCuratedTable4FCF5611": "AWS::Glue::Table",
}
PINNED_REGISTRY = {"RegistryGroupF9A457C4": "AWS::SageMaker::ModelPackageGroup"}
STATEFUL_TYPES = {"AWS::KMS::Key", "AWS::S3::Bucket", "AWS::Logs::LogGroup"}


def test_stateful_logical_ids_are_pinned(default_synth: Synthesized) -> None:
    stage = default_synth.stages["dev"]
    data = default_synth.template_json(stage.data)["Resources"]
    actual = {k: v["Type"] for k, v in data.items() if v["Type"] in STATEFUL_TYPES}
    assert actual == PINNED
    registry = {k: v["Type"] for k, v in data.items() if v["Type"] in PINNED_REGISTRY.values()}
    assert registry == PINNED_REGISTRY
    catalog = default_synth.template_json(stage.catalog)["Resources"]
    assert {k: catalog[k]["Type"] for k in PINNED_CATALOG} == PINNED_CATALOG


def test_only_the_data_stack_holds_keys_and_buckets(default_synth: Synthesized) -> None:
    catalog = default_synth.template_json(default_synth.stages["dev"].catalog)["Resources"]
    assert not {v["Type"] for v in catalog.values()} & STATEFUL_TYPES


def test_ids_do_not_depend_on_the_environment(custom_synth: Synthesized) -> None:
    for stage in custom_synth.stages.values():
        data = custom_synth.template_json(stage.data)["Resources"]
        ids = {k for k, v in data.items() if v["Type"] in {"AWS::KMS::Key", "AWS::S3::Bucket"}}
        assert ids == {k for k, t in PINNED.items() if t != "AWS::Logs::LogGroup"}
