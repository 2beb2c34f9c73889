"""The champion gate of a project's training pipeline: the LambdaStep ``Champion``.

It runs after ``Evaluate`` and before the ``QualityGate`` condition step. The new model version
(the challenger) may register only if its gate metric is not worse than the one of the group's
currently approved version (the champion) by more than a configured margin:

1. ``ListModelPackages(MODEL_PACKAGE_GROUP, Approved, CreationTime descending)``, page by page
   until a page holds a version: the newest approved version is the champion. None: verdict
   ``first``, passes (the group's first version).
2. ``DescribeModelPackage(champion)``: its customer metadata ``GateMetricValue`` (the pipeline
   records each version's gate metric there at registration). Absent or not a finite number:
   verdict ``no_champion_metric``, passes (the champion predates the champion gate).
3. The comparison, in GATE_DIRECTION (``maximize``: higher is better; ``minimize`` mirrored):
   ``better``, ``equal``, ``within_margin`` (worse by at most CHAMPION_MARGIN, in the metric's
   own units) or ``worse`` (by more than the margin: the only verdict that fails).

The two numbers and the margin are compared exactly as the decimals the answer shows (the
``repr`` of each float), so ``0.85`` against ``0.86`` with a margin of ``0.01`` is within the
margin although ``0.86 - 0.85`` is ``0.010000000000000009`` in binary floating point.

The answer is flat (LambdaStep outputs): every key is present in every answer and every value is
a string (it goes into model package metadata and a ``ConditionEquals``). A bad event or a bad
configuration is answered with ``status`` ``error`` and ``passes`` ``false`` (never raised),
which the pipeline turns into a FailStep naming it. An AWS error (throttling beyond the client's
retries, permissions) is logged and re-raised: the LambdaStep then fails with it. Read-only, so
a replayed event gives the same answer while the registry does not change.
Standard library and boto3 only: packaged with a plain ``Code.from_asset``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any, Final

from platform_events import DECIMAL, METRIC_NAME, BadInput, get_execution_id
from platform_events import json_type as _json_type
from platform_logging import InvocationLog, structured_logger
from platform_release import approved_versions
from platform_runtime import (
    Clients,
    ConfigError,
    group_setting,
    matching_setting,
    report_bad_config_at_cold_start,
)
from platform_runtime import required_setting as _required

MAXIMIZE: Final = "maximize"
MINIMIZE: Final = "minimize"
DIRECTIONS: Final = (MAXIMIZE, MINIMIZE)

OK: Final = "ok"
ERROR: Final = "error"
TRUE: Final = "true"
FALSE: Final = "false"

FIRST: Final = "first"
BETTER: Final = "better"
EQUAL: Final = "equal"
WITHIN_MARGIN: Final = "within_margin"
WORSE: Final = "worse"
NO_CHAMPION_METRIC: Final = "no_champion_metric"
VERDICTS: Final = (FIRST, BETTER, EQUAL, WITHIN_MARGIN, WORSE, NO_CHAMPION_METRIC)

GATE_METRIC_KEY: Final = "GateMetricValue"  # the version's customer metadata property
# champion_value / champion_arn of an ok answer without a (comparable) champion: the pipeline
# records them as customer metadata, whose values may not be empty.
NONE: Final = "none"
PAGE_SIZE: Final = 10
EVENT_KEYS: Final = frozenset({"challenger", "execution_id"})
NUMBER_MAX: Final = 64  # characters of a number given as a string
SHOWN_MAX: Final = 64  # characters of a malformed GateMetricValue quoted in ``reason``
# Enough digits to add and subtract any two doubles' exact decimal values without rounding.
EXACT_DIGITS: Final = 1200

# Every key of the answer (LambdaStep outputs are declared once, so they are always there).
ANSWER_KEYS: Final = (
    "status",
    "passes",
    "verdict",
    "challenger_value",
    "champion_value",
    "champion_arn",
    "margin",
    "reason",
    "error",
)

# --------------------------------------------------------------------------------------------
# Structured logging: one JSON object per line on stdout (CloudWatch Logs keeps it as is).


LOGGER = structured_logger("champion")


class _Log(InvocationLog):
    """The invocation's logger: every line carries the bound fields (execution_id, ...)."""

    logger = LOGGER


# --------------------------------------------------------------------------------------------
# Numbers


def parse_number(value: object) -> float | None:
    """A finite float from a JSON number or a decimal string, else None (booleans, NaN,
    infinities, numbers beyond a double's range, anything else)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if len(text) > NUMBER_MAX or not DECIMAL.fullmatch(text):
            return None
        value = text
    elif not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError):  # an int beyond a double's range
        return None
    if not math.isfinite(number):
        return None
    return number + 0.0  # -0.0 -> 0.0


def show(number: float) -> str:
    """How the answer writes a number: ``repr`` of the float (``0.81``, ``1.0``, ``1e-05``),
    the shortest decimal that reads back as the same float; deterministic."""
    return repr(number)


def exact(number: float) -> Decimal:
    """The decimal the answer shows, as an exact Decimal (``0.86`` is 0.86, not the binary
    float's 0.85999999999999998667732370449812151491641998291015625)."""
    return Decimal(show(number))


def compare(challenger: float, champion: float, margin: float, direction: str) -> str:
    """The verdict of the challenger against the champion: better, equal, within_margin or
    worse, the numbers compared exactly as shown."""
    with localcontext() as context:
        context.prec = EXACT_DIGITS
        gain = exact(challenger) - exact(champion)
        if direction == MINIMIZE:
            gain = -gain
        if gain > 0:
            return BETTER
        if gain == 0:
            return EQUAL
        if -gain <= exact(margin):
            return WITHIN_MARGIN
        return WORSE


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class Config:
    model_package_group: str
    gate_metric: str
    direction: str  # MAXIMIZE or MINIMIZE
    margin: float  # finite, >= 0, in the metric's own units


def load_config(env: Mapping[str, str]) -> Config:
    """Reads and checks the environment; raises ConfigError naming every problem at once."""
    problems: list[str] = []
    group = group_setting(env, "MODEL_PACKAGE_GROUP", "the project's model package group", problems)
    metric = matching_setting(
        env,
        "GATE_METRIC",
        "the gate metric's name, e.g. auc",
        METRIC_NAME,
        "a metric name (letters, digits and _ . : -, at most 64 characters)",
        problems,
    )
    direction = _required(env, "GATE_DIRECTION", "maximize or minimize", problems)
    if direction and direction not in DIRECTIONS:
        problems.append(f"GATE_DIRECTION={direction!r} must be {MAXIMIZE} or {MINIMIZE}")
    margin_raw = _required(
        env, "CHAMPION_MARGIN", "how much worse than the champion passes, >= 0", problems
    )
    margin = parse_number(margin_raw) if margin_raw else None
    if margin_raw and (margin is None or margin < 0):
        problems.append(
            f"CHAMPION_MARGIN={margin_raw!r} is not a finite number >= 0 (in the metric's own "
            "units)"
        )
    if problems or margin is None:
        raise ConfigError("; ".join(problems))
    return Config(group, metric, direction, margin)


# --------------------------------------------------------------------------------------------
# Events


@dataclass(frozen=True)
class Request:
    challenger: float
    execution_id: str


def parse_event(event: object) -> Request:
    """Validates the LambdaStep's event strictly; raises BadInput naming the first problem."""
    if not isinstance(event, dict):
        raise BadInput(f"the event must be a JSON object, got {_json_type(event)}")
    unknown = sorted(set(event) - EVENT_KEYS)
    if unknown:
        raise BadInput(f"unknown fields {unknown!r} (accepted: {sorted(EVENT_KEYS)!r})")
    if "challenger" not in event:
        raise BadInput("challenger is missing")
    raw = event["challenger"]
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise BadInput(f"challenger must be a number, got {_json_type(raw)}")
    challenger = parse_number(raw)
    if challenger is None:
        shown = raw if not isinstance(raw, str) or len(raw) <= NUMBER_MAX else raw[:NUMBER_MAX]
        raise BadInput(f"challenger {shown!r} is not a finite number")
    execution_id = get_execution_id(event)
    return Request(challenger, execution_id)


# --------------------------------------------------------------------------------------------
# AWS clients, made at first use (tests start moto and set the environment first)

_client: Final = Clients()


def newest_approved(group: str) -> str | None:
    """The group's most recently created Approved version (the champion), or None.

    Pages through ListModelPackages until a page holds a version: a filtered listing may answer
    an empty page with a NextToken."""
    return next(approved_versions(_client("sagemaker"), group, PAGE_SIZE), None)


def gate_metric_value(arn: str) -> object:
    """The version's ``GateMetricValue`` customer metadata as stored (None when absent)."""
    described = _client("sagemaker").describe_model_package(ModelPackageName=arn)
    metadata = described.get("CustomerMetadataProperties") or {}
    return metadata.get(GATE_METRIC_KEY) if isinstance(metadata, dict) else None


# --------------------------------------------------------------------------------------------
# The gate


def _answer(**values: str) -> dict[str, str]:
    """An answer with every key: empty strings for what is not known."""
    answer = dict.fromkeys(ANSWER_KEYS, "")
    answer.update(values)
    return answer


def _error(message: str, margin: str = "") -> dict[str, str]:
    return _answer(status=ERROR, passes=FALSE, margin=margin, error=message)


def _reason(config: Config, verdict: str, challenger: str, champion: str) -> str:
    metric, margin = config.gate_metric, show(config.margin)
    side = "higher" if config.direction == MAXIMIZE else "lower"
    if verdict == BETTER:
        return f"{metric} {challenger} is better ({side}) than the approved version's {champion}"
    if verdict == EQUAL:
        return f"{metric} {challenger} equals the approved version's {champion}"
    if verdict == WITHIN_MARGIN:
        return (
            f"{metric} {challenger} is worse than the approved version's {champion} but within "
            f"the margin {margin}"
        )
    return (
        f"{metric} {challenger} is worse than the approved version's {champion} by more than "
        f"the margin {margin}"
    )


def judge(config: Config, request: Request) -> dict[str, str]:
    """The gate's answer for a valid request (raises only on an AWS error)."""
    group, metric = config.model_package_group, config.gate_metric
    challenger = show(request.challenger)
    answer = _answer(status=OK, challenger_value=challenger, margin=show(config.margin))
    arn = newest_approved(group)
    if arn is None:
        answer.update(
            passes=TRUE,
            verdict=FIRST,
            champion_value=NONE,
            champion_arn=NONE,
            reason=(
                f"{group} has no approved version yet: {metric} {challenger} passes as the "
                "first version"
            ),
        )
        return answer
    answer["champion_arn"] = arn
    stored = gate_metric_value(arn)
    champion = parse_number(stored) if isinstance(stored, str | int | float) else None
    if champion is None:
        if stored is None:
            why = f"has no {GATE_METRIC_KEY} (it predates the champion gate)"
        else:
            text = str(stored)
            shown = text if len(text) <= SHOWN_MAX else text[:SHOWN_MAX] + "..."
            why = f"has the {GATE_METRIC_KEY} {shown!r}, not a finite number"
        answer.update(
            passes=TRUE,
            verdict=NO_CHAMPION_METRIC,
            champion_value=NONE,
            reason=f"the approved version {arn} {why}: {metric} {challenger} passes uncompared",
        )
        return answer
    shown_champion = show(champion)
    verdict = compare(request.challenger, champion, config.margin, config.direction)
    answer.update(
        passes=FALSE if verdict == WORSE else TRUE,
        verdict=verdict,
        champion_value=shown_champion,
        reason=_reason(config, verdict, challenger, shown_champion),
    )
    return answer


# --------------------------------------------------------------------------------------------
# Entry point


def handler(event: object, context: object = None) -> dict[str, str]:
    """Lambda entry point. Raises only on an AWS error."""
    log = _Log(request_id=getattr(context, "aws_request_id", None))
    if isinstance(event, dict):
        value = event.get("execution_id")
        log.bind(execution_id=value if isinstance(value, str) and len(value) <= 256 else None)
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        log.log(logging.ERROR, "configuration error", status=ERROR, passes=FALSE, error=str(exc))
        return _error(f"configuration error: {exc}")
    log.bind(
        model_package_group=config.model_package_group,
        gate_metric=config.gate_metric,
        direction=config.direction,
        margin=show(config.margin),
    )
    try:
        request = parse_event(event)
    except BadInput as exc:
        log.log(logging.ERROR, "event rejected", status=ERROR, passes=FALSE, error=str(exc))
        return _error(f"bad event: {exc}", margin=show(config.margin))
    try:
        answer = judge(config, request)
    except Exception as exc:
        log.aws_failure(exc, "the step fails with it", status="aws-error")
        raise
    fields: dict[str, Any] = {k: answer[k] for k in ANSWER_KEYS if k not in ("error", "margin")}
    log.log(logging.INFO, "champion gate", **fields)
    return answer


# In Lambda: report a bad deployment once, at init.
report_bad_config_at_cold_start(load_config, _Log())
