"""Glue ETL job: raw CSV -> data quality -> typed, partitioned CSV in the curated bucket.

Runs on AWS Glue 5.0 (Spark). Arguments (set by the DataCatalog construct):
  --source_path      s3://<raw bucket>/<raw prefix>
  --target_path      s3://<curated bucket>/<table>/ (the curated table's location)
  --database         Glue database of the curated table
  --table            curated table name
  --columns          name:type,... in schema order (Glue/Hive types)
  --partition_key    partition column the job fills with the ingestion date (YYYY-MM-DD)
  --dq_ruleset       Glue Data Quality ruleset evaluated on each batch before it is written

Job bookmarks are on, so each run processes only objects that arrived since the last one. A
batch that fails its data-quality ruleset is not written and the run fails (so nothing trains
on it, and the failure is notified); the evaluation result is published (EventBridge "Data
Quality Evaluation Results Available") either way. Curated files are CSV with a header
(``<table>/<partition_key>=<date>/part-*.csv``): what every framework's processing image reads
without a Parquet library; the table projects its partitions, so no catalog update is needed.

The parsing helpers below import nothing from Glue so that they can be tested off-cluster.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

REQUIRED_ARGS = ["JOB_NAME", "source_path", "target_path", "database", "table", "columns",
                 "partition_key", "dq_ruleset"]  # fmt: skip


def parse_columns(spec: str) -> list[tuple[str, str]]:
    """``"a:int,b:string"`` -> ``[("a", "int"), ("b", "string")]``; rejects malformed specs."""
    columns = []
    for item in spec.split(","):
        name, sep, kind = item.strip().partition(":")
        if not sep or not name or not kind:
            raise ValueError(f"malformed column spec {item!r}; expected name:type")
        columns.append((name, kind))
    if not columns:
        raise ValueError("no columns given")
    return columns


def apply_mapping_spec(columns: list[tuple[str, str]]) -> list[tuple[str, str, str, str]]:
    """ApplyMapping tuples that cast every CSV string column to its catalog type."""
    return [(name, "string", name, kind) for name, kind in columns]


def partition_value(today: dt.date | None = None) -> str:
    return (today or dt.date.today()).isoformat()


def main() -> None:  # pragma: no cover - runs on the Glue cluster only
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.transforms import ApplyMapping
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    args = getResolvedOptions(sys.argv, REQUIRED_ARGS)
    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)

    raw = glue_context.create_dynamic_frame.from_options(
        connection_type="s3",
        format="csv",
        format_options={"withHeader": True},
        connection_options={"paths": [args["source_path"]], "recurse": True},
        transformation_ctx="raw",
    )
    if raw.count() == 0:
        job.commit()
        return
    typed = ApplyMapping.apply(
        frame=raw,
        mappings=apply_mapping_spec(parse_columns(args["columns"])),
        transformation_ctx="typed",
    )
    _check_quality(typed, args)
    _write_curated(typed, args)
    job.commit()


def _check_quality(typed: Any, args: dict[str, str]) -> None:  # pragma: no cover - Glue only
    """Evaluates the batch against the ruleset (publishing the result and its metrics) and
    fails the run if any rule failed."""
    import boto3
    from awsgluedq.transforms import EvaluateDataQuality
    from pyspark.sql import functions as F

    ruleset = boto3.client("glue").get_data_quality_ruleset(Name=args["dq_ruleset"])["Ruleset"]
    outcome = EvaluateDataQuality.apply(
        frame=typed,
        ruleset=ruleset,
        publishing_options={
            "dataQualityEvaluationContext": args["dq_ruleset"],
            "enableDataQualityCloudWatchMetrics": True,
            "enableDataQualityResultsPublishing": True,
        },
    )
    failed = outcome.toDF().filter(F.col("Outcome") == "Failed").count()
    if failed:
        raise RuntimeError(f"{failed} data-quality rule(s) failed; batch not written")


def _write_curated(typed: Any, args: dict[str, str]) -> None:  # pragma: no cover - Glue only
    """Appends the batch's columns, in schema order, under today's partition as CSV with a
    header."""
    from pyspark.sql import functions as F

    names = [name for name, _ in parse_columns(args["columns"])]
    df = typed.toDF().select(*names).withColumn(args["partition_key"], F.lit(partition_value()))
    (
        df.write.mode("append")
        .partitionBy(args["partition_key"])
        .option("header", "true")
        .option("nullValue", "")
        .csv(args["target_path"])
    )


if __name__ == "__main__":  # pragma: no cover
    main()
