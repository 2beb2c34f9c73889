"""AWS access with the caller's credentials: one boto3 session per account and region, and one
clear sentence when there are no credentials."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from mlops_cli.errors import CliError

NO_CREDENTIALS = (
    "no AWS credentials found. Fix: run `aws configure` or `aws sso login`, or set AWS_PROFILE "
    "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), then run the command again"
)


def aws_error(error: Exception, doing: str) -> CliError:
    """A botocore error as one sentence: what was being done and what AWS said."""
    if isinstance(error, NoCredentialsError):
        return CliError(NO_CREDENTIALS)
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        code = info.get("Code", "Error")
        if code in {"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId"}:
            return CliError(
                f"{doing}: the AWS credentials are expired or invalid ({code}). "
                "Fix: refresh them (`aws sso login`) and run the command again"
            )
        return CliError(f"{doing}: {code}: {info.get('Message', error)}")
    if isinstance(error, NoRegionError):
        return CliError(f"{doing}: no AWS region. Fix: set AWS_REGION or pass a configuration")
    return CliError(f"{doing}: {error}")


@dataclass
class Aws:
    """boto3 clients with the caller's credentials, per region; ``caller()`` checks them once."""

    profile: str | None = None
    _session: Any = field(default=None, init=False, repr=False)
    _identity: dict[str, str] | None = field(default=None, init=False, repr=False)

    @property
    def session(self) -> Any:
        if self._session is None:
            try:
                self._session = boto3.Session(profile_name=self.profile)
            except BotoCoreError as error:  # an unknown profile
                raise aws_error(error, "reading the AWS profile") from None
        return self._session

    def client(self, service: str, region: str) -> Any:
        return self.session.client(service, region_name=region)

    def default_region(self) -> str:
        """The region of the caller's profile or AWS_REGION; us-east-1 without one (as the app)."""
        return str(self.session.region_name or "us-east-1")

    def caller(self, region: str = "us-east-1") -> dict[str, str]:
        """``sts get-caller-identity``: fails fast, in one sentence, without credentials."""
        if self._identity is None:
            try:
                if self.session.get_credentials() is None:
                    raise CliError(NO_CREDENTIALS)
                found = self.client("sts", region).get_caller_identity()
            except (BotoCoreError, ClientError) as error:
                raise aws_error(error, "checking the AWS credentials") from None
            self._identity = {"account": found["Account"], "arn": found["Arn"]}
        return self._identity
