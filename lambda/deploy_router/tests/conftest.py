"""Fixtures for the deploy_router handler: moto SageMaker model registry, CodePipeline, SSM.

The handler is loaded from its file under the unique module name ``deploy_router_handler``
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

handler_module = load_handler(
    "deploy_router_handler", Path(__file__).resolve().parents[1] / "handler.py"
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
GROUP = "mlops-dev-models"
PIPELINE = "mlops-dev-deploy"
PARAMETER = "/mlops-dev/deploy/model-package-arn"
ARTIFACTS = f"mlops-dev-artifacts-{ACCOUNT}"
# Optional settings beyond DEPLOYED_PARAMETER, unset unless a test sets them (release mode).
OPTIONAL_SETTINGS = ("SOURCE_ACCOUNT", "PIPELINE_BASELINES")
# The deploy pipeline's variables besides ModelPackageArn (the CDK declares the same names).
BASELINE_VARIABLES = (
    "DataQualityStatistics",
    "DataQualityConstraints",
    "ModelQualityConstraints",
    "BiasConfig",
    "BiasConstraints",
    "ExplainabilityConfig",
    "ExplainabilityConstraints",
)
CODEPIPELINE_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "codepipeline.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
INFERENCE_SPECIFICATION = {
    "Containers": [
        {
            "Image": f"683313688378.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:1.7-1",
            "ModelDataUrl": f"s3://{ARTIFACTS}/models/model.tar.gz",
        }
    ],
    "SupportedContentTypes": ["text/csv", "application/json"],
    "SupportedResponseMIMETypes": ["application/json"],
}


def deploy_pipeline(role_arn: str) -> dict[str, Any]:
    """A minimal V2 pipeline shaped like the deploy flow: Source -> Staging (CloudFormation)."""
    return {
        "name": PIPELINE,
        "roleArn": role_arn,
        "pipelineType": "V2",
        "artifactStore": {"type": "S3", "location": ARTIFACTS},
        "variables": [
            {"name": name, "defaultValue": "none"}
            for name in ("ModelPackageArn", *BASELINE_VARIABLES)
        ],
        "stages": [
            {
                "name": "Source",
                "actions": [
                    {
                        "name": "Templates",
                        "actionTypeId": {
                            "category": "Source",
                            "owner": "AWS",
                            "provider": "S3",
                            "version": "1",
                        },
                        "configuration": {
                            "S3Bucket": ARTIFACTS,
                            "S3ObjectKey": "deploy/templates.zip",
                            "PollForSourceChanges": "false",
                        },
                        "outputArtifacts": [{"name": "Templates"}],
                    }
                ],
            },
            {
                "name": "Staging",
                "actions": [
                    {
                        "name": "DeployStaging",
                        "actionTypeId": {
                            "category": "Deploy",
                            "owner": "AWS",
                            "provider": "CloudFormation",
                            "version": "1",
                        },
                        "configuration": {
                            "ActionMode": "CREATE_UPDATE",
                            "StackName": "mlops-dev-staging-endpoint",
                            "TemplatePath": "Templates::endpoint.json",
                            "ParameterOverrides": json.dumps(
                                {"ModelPackageArn": "#{variables.ModelPackageArn}"}
                            ),
                        },
                        "inputArtifacts": [{"name": "Templates"}],
                    }
                ],
            },
        ],
    }


@dataclass
class Aws:
    sagemaker: Any
    codepipeline: Any
    ssm: Any
    group: str = GROUP
    pipeline: str = PIPELINE
    parameter: str = PARAMETER

    def register(
        self,
        status: str = "PendingManualApproval",
        group: str = GROUP,
        baselines: dict[str, Any] | None = None,
    ) -> str:
        """Registers a new version in the group, as the training pipeline's Register step.

        ``baselines`` is the version's DriftCheckBaselines (moto stores and describes them).
        """
        request: dict[str, Any] = {
            "ModelPackageGroupName": group,
            "ModelPackageDescription": "churn model",
            "InferenceSpecification": INFERENCE_SPECIFICATION,
            "ModelApprovalStatus": status,
        }
        if baselines is not None:
            request["DriftCheckBaselines"] = baselines
        arn: str = self.sagemaker.create_model_package(**request)["ModelPackageArn"]
        return arn

    def set_status(self, arn: str, status: str) -> None:
        self.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)

    def executions(self) -> list[dict[str, Any]]:
        response = self.codepipeline.list_pipeline_executions(pipelineName=PIPELINE)
        summaries: list[dict[str, Any]] = response["pipelineExecutionSummaries"]
        return summaries

    def variables(self, execution_id: str) -> dict[str, str]:
        execution = self.codepipeline.get_pipeline_execution(
            pipelineName=PIPELINE, pipelineExecutionId=execution_id
        )["pipelineExecution"]
        return {v["name"]: v["resolvedValue"] for v in execution["variables"]}

    def deployed(self) -> str:
        value: str = self.ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"]
        return value


@pytest.fixture(autouse=True)
def environment(fake_aws: Callable[..., None]) -> None:
    """Fake credentials, one region, the function's settings; nothing from the developer's env."""
    fake_aws(
        {
            "MODEL_PACKAGE_GROUP": GROUP,
            "DEPLOY_PIPELINE": PIPELINE,
            "DEPLOYED_PARAMETER": PARAMETER,
        },
        unset=OPTIONAL_SETTINGS,
    )


@pytest.fixture
def aws(aws_client: Callable[[str], Any]) -> Iterator[Aws]:
    """moto: the model package group (and another one), the deploy pipeline, the parameter."""
    with mock_aws():
        sagemaker = aws_client("sagemaker")
        for group in (GROUP, "other-team-models"):
            sagemaker.create_model_package_group(
                ModelPackageGroupName=group, ModelPackageGroupDescription="churn models"
            )
        iam = aws_client("iam")
        role_arn = iam.create_role(
            RoleName="mlops-dev-deploy-pipeline",
            AssumeRolePolicyDocument=json.dumps(CODEPIPELINE_TRUST),
        )["Role"]["Arn"]
        codepipeline = aws_client("codepipeline")
        codepipeline.create_pipeline(pipeline=deploy_pipeline(role_arn))
        ssm = aws_client("ssm")
        # as the CDK stack creates it: SSM values cannot be empty
        ssm.put_parameter(Name=PARAMETER, Value="none", Type="String")
        yield Aws(sagemaker=sagemaker, codepipeline=codepipeline, ssm=ssm)
