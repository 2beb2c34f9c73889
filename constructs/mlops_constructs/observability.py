"""Small helpers shared by constructs that create log groups."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from constructs import Construct

from mlops_constructs.security.keys import PlatformKey

# jsii exposes RetentionDays by member name, so the day counts are spelled out here.
_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}

RETENTION_CHOICES = tuple(sorted(_RETENTION))


def retention_days(days: int) -> logs.RetentionDays:
    """The RetentionDays member for a number of days CloudWatch Logs accepts."""
    try:
        return _RETENTION[days]
    except KeyError:
        raise ValueError(
            f"{days} is not a CloudWatch Logs retention period; use one of {RETENTION_CHOICES}"
        ) from None


def encrypted_log_group(
    scope: Construct,
    id: str,
    *,
    name: str,
    key: PlatformKey,
    retention: logs.RetentionDays,
) -> logs.LogGroup:
    """A log group encrypted with ``key``, kept ``retention``, retained on delete.

    Also lets CloudWatch Logs use ``key`` (the key policy statement is what CloudWatch checks
    when the group is created), so no caller can forget it.
    """
    key.allow_cloudwatch_logs()
    return logs.LogGroup(
        scope,
        id,
        log_group_name=name,
        encryption_key=key.key,
        retention=retention,
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
