"""Fixtures for the start_training handler: moto DynamoDB table + moto SageMaker pipeline.

The handler is loaded from its file under the unique module name ``start_training_handler``
rather than as ``handler`` from sys.path: every function folder has a ``handler.py``, and in one
pytest process the first ``import handler`` would shadow the others.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lambda_testing import load_handler
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends

handler_module = load_handler(
    "start_training_handler", Path(__file__).resolve().parents[1] / "handler.py"
)

REGION = "us-east-1"
PIPELINE = "mlops-dev-training"
TABLE = "mlops-dev-training-guard"
ETL_JOB = "mlops-dev-churn-raw-to-curated"  # the Glue ETL job whose successful runs train
CURATED = "s3://mlops-dev-churn-curated-123456789012/churn/"  # the curated table's location
ROLE_ARN = "arn:aws:iam::123456789012:role/mlops-dev-sagemaker-pipeline"
T0 = 1_741_593_600.0  # 2025-03-10T08:00:00Z: far from midnight, so the "day" is stable
PIPELINE_DEFINITION = {
    "Version": "2020-12-01",
    "Parameters": [
        {"Name": "InputDataUrl", "Type": "String", "DefaultValue": "s3://placeholder/"},
        {"Name": "TriggerReason", "Type": "String", "DefaultValue": "manual"},
        {"Name": "CodeVersion", "Type": "String", "DefaultValue": "initial"},
    ],
    "Steps": [{"Name": "Wait", "Type": "Fail", "Arguments": {"ErrorMessage": "placeholder"}}],
}


@dataclass
class Aws:
    ddb: Any
    sagemaker: Any
    pipeline: str = PIPELINE
    table: str = TABLE

    def create_pipeline(self) -> None:
        self.sagemaker.create_pipeline(
            PipelineName=PIPELINE,
            PipelineDefinition=json.dumps(PIPELINE_DEFINITION),
            RoleArn=ROLE_ARN,
        )

    def executions(self) -> list[dict[str, Any]]:
        response = self.sagemaker.list_pipeline_executions(PipelineName=PIPELINE)
        summaries: list[dict[str, Any]] = response["PipelineExecutionSummaries"]
        return summaries

    def parameters(self, execution_arn: str) -> dict[str, str]:
        """The parameters an execution was started with."""
        response = self.sagemaker.list_pipeline_parameters_for_execution(
            PipelineExecutionArn=execution_arn
        )
        return {p["Name"]: p["Value"] for p in response["PipelineParameters"]}

    def set_execution_status(self, execution_arn: str, status: str) -> None:
        """moto starts executions as Succeeded and cannot stop them: set it in moto's backend."""
        name = execution_arn.split(":pipeline/", 1)[1].split("/", 1)[0]
        backend = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION]
        execution = backend.pipelines[name].pipeline_executions[execution_arn]
        execution.pipeline_execution_status = status

    def item(self, pk: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.ddb.get_item(
            TableName=TABLE, Key={"pk": {"S": pk}}, ConsistentRead=True
        ).get("Item")
        return item

    def item_count(self) -> int:
        count: int = self.ddb.scan(TableName=TABLE, Select="COUNT")["Count"]
        return count


@pytest.fixture(autouse=True)
def environment(fake_aws: Callable[..., None]) -> None:
    """Fake credentials, one region, the function's settings; nothing from the developer's env."""
    fake_aws(
        {
            "PIPELINE_NAME": PIPELINE,
            "LOCK_TABLE": TABLE,
            "ETL_JOB_NAME": ETL_JOB,
            "INPUT_DATA_URI": CURATED,
        },
        unset=(
            "DEBOUNCE_SECONDS",
            "MAX_EXECUTIONS_PER_DAY",
            "INPUT_DATA_URI",
            "ETL_JOB_NAME",
            "CODE_VERSION_PARAMETER",
        ),
    )


@pytest.fixture
def aws(aws_client: Callable[[str], Any]) -> Iterator[Aws]:
    """moto: the guard table (pk string key, TTL on expires_at) and the training pipeline."""
    with mock_aws():
        ddb = aws_client("dynamodb")
        ddb.create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.update_time_to_live(
            TableName=TABLE,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
        )
        env = Aws(ddb=ddb, sagemaker=aws_client("sagemaker"))
        env.create_pipeline()
        yield env


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The handler's notion of now, moved by hand (debounce expiry, next day)."""
    fake = Clock()
    monkeypatch.setattr(handler_module, "_now", lambda: fake.now)
    return fake
