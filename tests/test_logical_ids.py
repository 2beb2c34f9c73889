"""Stateful resources keep their logical ids: a refactor must never replace a key or bucket.

If this test fails, a construct id or the construct tree above a stateful resource changed.
CloudFormation would delete (here: orphan, thanks to Retain) the old resource and create a new
empty one. Change the ids back; update these lists only for a deliberate, documented migration.

One such migration: the model project became the unit (docs/decisions/0007), which moved the
lake's buckets and the registry from the environment's data stack into each project's own
``<platform>-<env>-<project>-data`` stack (the environment keeps keys, log bucket and trail).
"""

from __future__ import annotations

from tests.conftest import Synthesized

PINNED = {
    "DataKey2A0DE9E6": "AWS::KMS::Key",
    "OpsKey79124BB7": "AWS::KMS::Key",
    "AccessLogs8B620ECA": "AWS::S3::Bucket",
    "AuditLogsA35F3E1F": "AWS::Logs::LogGroup",
}
PINNED_PROJECT = {
    "LakeRaw8A880B75": "AWS::S3::Bucket",
    "LakeCurated8ED8635F": "AWS::S3::Bucket",
    "LakeArtifacts2DD6A05E": "AWS::S3::Bucket",
    "LakeReleases9CD3FA57": "AWS::S3::Bucket",
    "RegistryGroupF9A457C4": "AWS::SageMaker::ModelPackageGroup",
}
PINNED_CATALOG = {
    "CatalogDatabaseE63956BB": "AWS::Glue::Database",
    "CatalogCuratedTable4FCF5611": "AWS::Glue::Table",
}
STATEFUL_TYPES = {
    "AWS::KMS::Key",
    "AWS::S3::Bucket",
    "AWS::Logs::LogGroup",
    "AWS::SageMaker::ModelPackageGroup",
}


LOGS = {"AWS::Logs::LogGroup"}


def _stateful(resources: dict[str, dict[str, str]]) -> dict[str, str]:
    return {k: v["Type"] for k, v in resources.items() if v["Type"] in STATEFUL_TYPES}


def test_stateful_logical_ids_are_pinned(default_synth: Synthesized) -> None:
    stage = default_synth.stages["dev"]
    assert _stateful(default_synth.template_json(stage.data)["Resources"]) == PINNED
    project = stage.projects["churn"]
    assert _stateful(default_synth.template_json(project.data)["Resources"]) == PINNED_PROJECT
    catalog = default_synth.template_json(project.catalog_stack)["Resources"]
    assert {k: catalog[k]["Type"] for k in PINNED_CATALOG} == PINNED_CATALOG


def test_only_the_data_stacks_hold_keys_and_buckets(default_synth: Synthesized) -> None:
    project = default_synth.stages["dev"].projects["churn"]
    for stack in (project.catalog, project.build, project.deploy):
        assert stack is not None
        resources = default_synth.template_json(stack)["Resources"]
        # Functions' and jobs' log groups live with them; data and keys never do.
        assert not {v["Type"] for v in resources.values()} & (STATEFUL_TYPES - LOGS)


def test_ids_do_not_depend_on_the_environment_or_project(custom_synth: Synthesized) -> None:
    for stage in custom_synth.stages.values():
        data = custom_synth.template_json(stage.data)["Resources"]
        ids = {k for k, v in data.items() if v["Type"] in {"AWS::KMS::Key", "AWS::S3::Bucket"}}
        assert ids == {k for k, t in PINNED.items() if t != "AWS::Logs::LogGroup"}
        for project in stage.projects.values():
            resources = custom_synth.template_json(project.data)["Resources"]
            assert set(_stateful(resources)) == set(PINNED_PROJECT)
