"""An HTTPS front door to the production endpoint for applications that should not call
SageMaker directly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.compute import platform_function
from mlops_constructs.data.lake import LakeAccess
from mlops_constructs.deploy.endpoint import VARIANT
from mlops_constructs.functions import function_code
from mlops_constructs.names import (
    CAPTURES_NOT_WRITTEN,
    FRONT_DOOR,
    FRONT_DOOR_NAMESPACE,
    PREDICTIONS_RETURNED,
    function_name,
)
from mlops_constructs.network.placement import Placement
from mlops_constructs.observability import encrypted_log_group
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import acknowledge, acknowledge_wildcard_resource


@dataclass(frozen=True, kw_only=True)
class TrafficCapture:
    """The traffic the front door captures itself, for an endpoint whose config captures
    nothing (one of inference components, ADR 0033): ``percent`` of its answered requests, in
    SageMaker's data-capture format and layout (``<prefix><endpoint>/<variant>/yyyy/mm/dd/hh/``
    in the lake's artifacts bucket), where the monitoring reads an endpoint's capture."""

    lake: LakeAccess
    prefix: str  # e.g. data-capture/prod/ (ends with /)
    percent: int
    variant: str = VARIANT

    def __post_init__(self) -> None:
        if not self.prefix.endswith("/") or not 1 <= self.percent <= 100:
            raise ValueError(
                f"capture prefix {self.prefix!r} must end with / and percent {self.percent} "
                "be 1 to 100"
            )


class FrontDoor(Construct):
    """REST API ``<prefix>-front-door``: ``POST /predictions`` -> Lambda -> the endpoint.

    Defaults: IAM authorization (callers need ``execute-api:Invoke``, see
    :meth:`grant_invoke`), a request validator, stage throttling (``rate_limit`` requests per
    second, ``burst_limit`` burst), JSON access logs in a KMS-encrypted log group, X-Ray
    tracing, a regional endpoint. The Lambda reserves ``max_concurrency`` executions from the
    account's pool: requests in flight at once (the rate times the model's latency: 50 a second
    at 200 ms is 10), not the rate. The Lambda (``lambda/front_door``) accepts CSV or JSON of at
    most 1 MiB, maps endpoint errors to 4xx/5xx and never logs payloads; it is the library's
    own function unless ``code`` names another folder. With ``capture`` it also writes the
    traffic it answers where the endpoint's own capture would (see :class:`TrafficCapture`).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        endpoint_name: str,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
        rate_limit: int = 50,
        burst_limit: int = 100,
        max_concurrency: int = 10,
        placement: Placement | None = None,
        inference_component: str | None = None,
        capture: TrafficCapture | None = None,
        code: Path | None = None,
    ) -> None:
        super().__init__(scope, id)
        name = function_name(prefix, FRONT_DOOR)
        self.function = self._function(
            name,
            endpoint_name,
            code or function_code("front_door"),
            ops_key,
            log_retention,
            max_concurrency,
            placement,
            inference_component,
        )
        if capture is not None:
            self._capture(capture, endpoint_name)
        self.api = self._api(
            prefix, name, endpoint_name, ops_key, log_retention, rate_limit, burst_limit
        )
        self._predictions()
        self._acknowledge()

    def _function(
        self,
        name: str,
        endpoint_name: str,
        code: Path,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
        max_concurrency: int,
        placement: Placement | None,
        inference_component: str | None,
    ) -> lambda_.Function:
        """``<prefix>-front-door``: validates a request and invokes the endpoint (only it)."""
        here = arns(self)
        function = platform_function(
            self,
            "Function",
            name=name,
            code=code,
            description=f"HTTPS front door to the endpoint {endpoint_name}",
            ops_key=ops_key,
            log_retention=log_retention,
            environment={
                "ENDPOINT_NAME": endpoint_name,
                # scale_to_zero: InvokeEndpoint names the endpoint's inference component.
                **(
                    {"INFERENCE_COMPONENT_NAME": inference_component} if inference_component else {}
                ),
            },
            # Under API Gateway's 29-second integration limit.
            timeout=cdk.Duration.seconds(25),
            reserved_concurrency=max_concurrency,
            no_dead_letter_reason="Invoked synchronously by API Gateway, which returns the error "
            "to the caller; there is no asynchronous event to dead-letter.",
            placement=placement,
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="InvokeEndpoint",
                actions=["sagemaker:InvokeEndpoint"],
                resources=[f"{here.prefix('sagemaker')}:endpoint/{endpoint_name}"],
            )
        )
        return function

    def _capture(self, capture: TrafficCapture, endpoint_name: str) -> None:
        """The function's capture settings, PutObject under its endpoint's own capture prefix
        only (with the lake key's data keys), and the counts of captures not written and of
        predictions returned (``MLOps/FrontDoor`` ``CapturesNotWritten`` and
        ``PredictionsReturned``, by ``EndpointName``)."""
        where = f"{capture.prefix}{endpoint_name}/{capture.variant}/"
        self.function.add_environment(
            "CAPTURE_URI", capture.lake.artifacts.s3_url_for_object(capture.prefix)
        )
        self.function.add_environment("CAPTURE_PERCENT", str(capture.percent))
        self.function.add_environment("CAPTURE_VARIANT", capture.variant)
        capture.lake.grant_capture(self.function, where)
        # Each capture the function could not write (its WARNING line), and each prediction it
        # returned (the endpoint's invocations beyond these did not come through it, and are
        # not captured), counted by endpoint.
        for metric_name, message in (
            (CAPTURES_NOT_WRITTEN, "capture not written"),
            (PREDICTIONS_RETURNED, "prediction returned"),
        ):
            logs.MetricFilter(
                self,
                metric_name,
                log_group=self.function.log_group,
                metric_namespace=FRONT_DOOR_NAMESPACE,
                metric_name=metric_name,
                filter_pattern=logs.FilterPattern.string_value("$.message", "=", message),
                metric_value="1",
                dimensions={"EndpointName": "$.endpoint"},
            )
        role = self.function.role
        assert role is not None, "a platform function always has its own role"
        acknowledge_wildcard_resource(
            role,
            capture.lake.artifacts.arn_for_objects(f"{where}*"),
            "Captured requests are written one object per request, named by hour and request "
            "id; writes are limited to this endpoint's capture prefix.",
        )

    def _api(
        self,
        prefix: str,
        name: str,
        endpoint_name: str,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
        rate_limit: int,
        burst_limit: int,
    ) -> apigateway.RestApi:
        """The REST API's stage ``v1``: throttled, traced, JSON access logs (encrypted)."""
        self.access_logs = encrypted_log_group(
            self,
            "AccessLogs",
            name=f"/{prefix}/api/front-door",
            key=ops_key,
            retention=log_retention,
        )
        return apigateway.RestApi(
            self,
            "Api",
            rest_api_name=name,
            description=f"Predictions from {endpoint_name} (IAM-authorized)",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=False,
            deploy_options=apigateway.StageOptions(
                stage_name="v1",
                throttling_rate_limit=rate_limit,
                throttling_burst_limit=burst_limit,
                tracing_enabled=True,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
            ),
        )

    def _predictions(self) -> None:
        """``POST /predictions``, IAM-authorized, proxied to the function."""
        # Bodies are CSV or JSON rows the Lambda validates itself (no request model).
        validator = self.api.add_request_validator(
            "Validator", validate_request_parameters=True, validate_request_body=True
        )
        predictions = self.api.root.add_resource("predictions")
        self.method = predictions.add_method(
            "POST",
            apigateway.LambdaIntegration(self.function, proxy=True),
            authorization_type=apigateway.AuthorizationType.IAM,
            request_validator=validator,
        )
        acknowledge(
            self.method,
            "AwsSolutions-COG4",
            "The API authorizes with IAM (SigV4) so that only named principals of this account "
            "can score; a Cognito user pool would add end-user identities it does not have.",
        )

    def _acknowledge(self) -> None:
        stage = self.api.deployment_stage
        reasons = {
            "AwsSolutions-APIG3": "Callers are IAM principals of this account (IAM auth); a "
            "WAF web ACL adds about $5/month idle and is an opt-in for public callers.",
            "AwsSolutions-APIG6": "Execution logging needs an account-wide API Gateway role that "
            "this construct must not change; JSON access logs of every request are on.",
            "HIPAA.Security-APIGWCacheEnabledAndEncrypted": "Predictions must never be served "
            "from a cache: each request is scored by the current model.",
            "NIST.800.53.R5-APIGWCacheEnabledAndEncrypted": "Predictions must never be served "
            "from a cache: each request is scored by the current model.",
            "PCI.DSS.321-APIGWCacheEnabledAndEncrypted": "Predictions must never be served from "
            "a cache: each request is scored by the current model.",
            "HIPAA.Security-APIGWSSLEnabled": "The integration is a Lambda function, not an "
            "HTTP backend: there is no backend TLS connection to authenticate with a client cert.",
            "NIST.800.53.R5-APIGWSSLEnabled": "The integration is a Lambda function, not an "
            "HTTP backend: there is no backend TLS connection to authenticate with a client cert.",
            "PCI.DSS.321-APIGWSSLEnabled": "The integration is a Lambda function, not an HTTP "
            "backend: there is no backend TLS connection to authenticate with a client cert.",
            "NIST.800.53.R5-APIGWAssociatedWithWAF": "Callers are IAM principals of this account "
            "(IAM auth); a WAF web ACL is an opt-in for public callers.",
            "PCI.DSS.321-APIGWAssociatedWithWAF": "Callers are IAM principals of this account "
            "(IAM auth); a WAF web ACL is an opt-in for public callers.",
            "HIPAA.Security-APIGWExecutionLoggingEnabled": "Execution logging needs an "
            "account-wide API Gateway role; JSON access logs of every request are on.",
            "NIST.800.53.R5-APIGWExecutionLoggingEnabled": "Execution logging needs an "
            "account-wide API Gateway role; JSON access logs of every request are on.",
            "PCI.DSS.321-APIGWExecutionLoggingEnabled": "Execution logging needs an "
            "account-wide API Gateway role; JSON access logs of every request are on.",
        }
        for rule, reason in reasons.items():
            acknowledge(stage, rule, reason)

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let a principal call ``POST /predictions``."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["execute-api:Invoke"],
            resource_arns=[self.api.arn_for_execute_api("POST", "/predictions", "v1")],
        )
