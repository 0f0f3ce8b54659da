"""The one settings tree: pydantic models (extra="forbid") loaded from a TOML file.

A leaf but for `errors`, `durations` and `ownership`'s tag names. Owns where the config file is found
(`--config`, then `NIKKEI_DEEPAR_CONFIG`, then `./nikkei-deepar.toml`), how environment variables and
command-line options override it, and how validation problems are worded (one `field: message` line
each). No network here: nothing in this module talks to AWS.

Precedence, highest first: command-line options > environment (`AWS_PROFILE`, `AWS_REGION`,
`AWS_DEFAULT_REGION`) > the config file > the defaults below.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nikkei_deepar.durations import DURATION_OFF, check_expiry, parse_duration
from nikkei_deepar.errors import ConfigError
from nikkei_deepar.ownership import ENDPOINT_TAG_KEY, MANAGED_BY_KEY, MANAGED_BY_VALUE
from nikkei_deepar.workspace import Workspace

CONFIG_ENV = "NIKKEI_DEEPAR_CONFIG"
DEFAULT_CONFIG_NAME = "nikkei-deepar.toml"
DEFAULT_TAGS = {"project": "nikkei-deepar", "stage": "dev"}

# Every pattern is matched whole (`fullmatch`: `$` would let a trailing newline through) and spelled
# in ASCII where AWS wants ASCII (`\w` is Unicode in Python, not in IAM).
# S3 bucket naming rules (moto only checks the length; AWS checks all of these).
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_RE = re.compile(r"\d+\.\d+\.\d+\.\d+")
# IAM role names: 1-64 of [A-Za-z0-9_+=,.@-] (the IAM API's pattern [\w+=,.@-]+, ASCII only).
_ROLE_RE = re.compile(r"[A-Za-z0-9_+=,.@-]{1,64}")
# SageMaker resource names: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}.
_SM_NAME_RE = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_REGION_RE = re.compile(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d{1,2}")
_FREQ_RE = re.compile(r"([1-9]\d*)?(M|W|D|H|min)")
_INSTANCE_RE = re.compile(r"ml\.[a-z0-9]+\.[a-z0-9]+")
# Named profiles: the section names botocore reads; no spaces or control characters here.
_PROFILE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+@=,:/-]{0,127}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _no_control(value: Any) -> Any:
    """No setting may hold a control character (a newline, ESC, NUL...): none is meaningful in a
    name, a path or a URL, and each one could forge a line of output or a header."""
    texts = [value] if isinstance(value, str) else []
    if isinstance(value, dict):
        texts = [t for pair in value.items() for t in pair if isinstance(t, str)]
    for text in texts:
        if (bad := _CONTROL_RE.search(text)) is not None:
            raise ValueError(f"holds a control character (U+{ord(bad.group()):04X}) (got {text!r})")
    return value


# What every service the tool tags allows (SageMaker, IAM and S3 share these limits; SageMaker's and
# IAM's models give the pattern [\p{L}\p{Z}\p{N}_.:/=+\-@]). The tool adds two tags of its own
# (managed-by, and nikkei-deepar:endpoint on what deploy creates) to a resource's 50.
MAX_TAGS = 50
TOOL_TAGS = 2
_TAG_PUNCTUATION = frozenset("_.:/=+-@")
# KMS key shapes: a key id, a multi-Region key id, a key or alias ARN, an alias name.
_KEY_ID = r"(?:mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
_ALIAS = r"alias/[a-zA-Z0-9/_-]{1,250}"
_KMS_KEY_RE = re.compile(
    rf"{_KEY_ID}|{_ALIAS}|arn:aws(?:-[a-z]+)*:kms:(?P<region>[a-z0-9-]+):\d{{12}}:(?:key/{_KEY_ID}|{_ALIAS})"
)
# Characters that mean something in an IAM policy's Resource: wildcards and policy variables.
_POLICY_SPECIAL = ("*", "?", "${")

# AWS's recommended ranges for automatic model tuning of DeepAR: advice, not limits (a value outside
# is valid and gets a one-line warning).
TUNING_RANGES: dict[str, tuple[float, float]] = {
    "epochs": (1, 1000),
    "context_length": (1, 200),
    "mini_batch_size": (32, 1028),
    "learning_rate": (1e-5, 1e-1),
    "num_cells": (30, 200),
    "num_layers": (1, 8),
    "dropout_rate": (0.0, 0.2),
}
# Upper bounds that are limits: AWS documents none beyond "a positive integer" (botocore's model only caps
# the string at 2,500 characters), yet 99999999999999999999999 epochs is a typo, never a training plan.
# Ten times the top of AWS's tuning range, or 10,000 where it publishes none: far past any real use.
HYPERPARAMETER_CAPS: dict[str, int] = {
    "epochs": 10_000,
    "context_length": 2_000,
    "prediction_length": 10_000,
    "num_cells": 2_000,
    "num_layers": 80,
    "mini_batch_size": 10_280,
    "num_eval_samples": 10_000,
    "early_stopping_patience": 10_000,
}


class _Section(BaseModel):
    # allow_inf_nan=False: `inf` or `nan` in a price, a rate or a threshold is always a mistake
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _plain_text(cls, v: Any) -> Any:
        return _no_control(v)


class AwsSettings(_Section):
    region: str | None = Field(default=None, description="AWS region; AWS_REGION/--region override it")
    profile: str | None = Field(default=None, description="named profile; AWS_PROFILE/--profile override it")
    bucket: str | None = Field(default=None, description="S3 bucket for data and model artefacts")
    prefix: str = Field(default="nikkei-deepar", description="key prefix inside the bucket")
    role_name: str | None = Field(
        default=None,
        description="SageMaker execution role: your own, used as it is; unset: {project}-{stage}-sagemaker, "
        "created by provision",
    )
    scheduler_role_name: str | None = Field(
        default=None,
        description="role EventBridge Scheduler deletes an expired endpoint as; "
        "unset: {endpoint name}-scheduler",
    )
    kms_key_id: str | None = Field(default=None, description="SSE-KMS key (ARN or id); SSE-S3 when unset")
    retry_mode: Literal["standard", "adaptive"] = "standard"
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    tags: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_TAGS))

    @field_validator("region")
    @classmethod
    def _region(cls, v: str | None) -> str | None:
        if v is not None and not _REGION_RE.fullmatch(v):
            raise ValueError(f"not an AWS region name such as ap-northeast-1 (got {v!r})")
        return v

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not _BUCKET_RE.fullmatch(v) or ".." in v or _IP_RE.fullmatch(v) or v.startswith("xn--"):
            raise ValueError(
                "S3 bucket names are 3-63 characters of a-z, 0-9, '.' and '-', starting and ending "
                f"with a letter or digit (got {v!r})"
            )
        return v

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        v = v.strip("/")
        if any(special in v for special in _POLICY_SPECIAL):
            raise ValueError(
                f"{v!r} contains * , ? or ${{: in the execution role's IAM policy these are wildcards or "
                "variables and would grant access beyond this prefix; use a plain prefix, e.g. nikkei-deepar"
            )
        if not v or any(c in v for c in '\\{}^%`[]"<>~#|') or len(v) > 200 or not v.isascii():
            raise ValueError(f"must be a plain S3 key prefix such as nikkei-deepar (got {v!r})")
        return v

    @field_validator("kms_key_id")
    @classmethod
    def _kms(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if any(special in v for special in _POLICY_SPECIAL):
            raise ValueError(
                "a wildcard would let the execution role use every matching KMS key: name one key by its "
                "key ARN, alias ARN or key id"
            )
        if not _KMS_KEY_RE.fullmatch(v):
            raise ValueError(
                "not a KMS key: give a key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), an alias ARN "
                f"(arn:aws:kms:REGION:ACCOUNT:alias/NAME), a key id or alias/NAME (got {_short(v)})"
            )
        return v

    @field_validator("role_name", "scheduler_role_name")
    @classmethod
    def _role(cls, v: str | None) -> str | None:
        if v is not None and not _ROLE_RE.fullmatch(v):
            raise ValueError(
                f"IAM role names are 1-64 characters of ASCII letters, digits and +=,.@_- (got {v!r})"
            )
        return v

    @field_validator("profile")
    @classmethod
    def _profile(cls, v: str | None) -> str | None:
        if v is not None and not _PROFILE_RE.fullmatch(v):
            raise ValueError(
                f"not a named profile: ASCII letters, digits and _.+@=,:/-, at most 128 (got {v!r})"
            )
        return v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        if len(v) > MAX_TAGS - TOOL_TAGS:
            raise ValueError(
                f"at most {MAX_TAGS - TOOL_TAGS} tags (AWS allows {MAX_TAGS} per resource and the tool adds "
                f"{TOOL_TAGS} of its own; got {len(v)})"
            )
        for key, value in v.items():
            if key in {MANAGED_BY_KEY, ENDPOINT_TAG_KEY}:
                raise ValueError(f"tag {key!r} is set by the tool itself; remove it from [aws.tags]")
            if not 1 <= len(key) <= 128 or not _tag_text_ok(key) or key.lower().startswith("aws:"):
                raise ValueError(
                    f"tag key {_short(key)} is not allowed: 1-128 letters, digits, spaces and "
                    "_ . : / = + - @, not starting with aws:"
                )
            if len(value) > 256 or not _tag_text_ok(value):
                raise ValueError(
                    f"tag {_short(key)}: the value {_short(value)} is not allowed: at most 256 letters, "
                    "digits, spaces and _ . : / = + - @"
                )
        # project and stage name the workspace: a table that leaves one out keeps its default, so a
        # config never falls into a workspace with no stage (and the old shared default names)
        return {**{k: DEFAULT_TAGS[k] for k in ("project", "stage") if k not in v}, **v}

    @model_validator(mode="after")
    def _kms_region(self) -> AwsSettings:
        found = _KMS_KEY_RE.fullmatch(self.kms_key_id or "")
        key_region = found.group("region") if found else None
        if key_region and self.region and key_region != self.region:
            raise ValueError(
                f"kms_key_id is a key in {key_region} but [aws] region is {self.region}: S3 and SageMaker "
                "use keys of their own region only"
            )
        return self


class DataSettings(_Section):
    source: str | None = Field(
        default=None,
        description="price file: a path (relative to the config), an http(s) URL, or fred / stooq",
    )
    close_column: str | None = Field(
        default=None,
        description="the close column: its name, e.g. 'Adj Close', or its number (1 is the first)",
    )
    date_order: Literal["auto", "ymd", "mdy", "dmy"] = "auto"
    calendar: Literal["trading_days", "calendar_days"] = "calendar_days"
    test_windows: Annotated[int, Field(ge=1, le=50)] = 1
    calendar_features: bool = Field(
        default=False,
        description="give DeepAR day of week, days since the last session and a closed flag as dynamic_feat",
    )
    target: Literal["log_return", "price"] = Field(
        default="log_return",
        description="what DeepAR models: 100 * log returns between sessions (prices rebuilt from its "
        "sample paths) or the price level",
    )
    accept_outliers: bool = False
    max_input_bytes: Annotated[int, Field(ge=1024, le=1024**3)] = Field(
        default=64 * 1024 * 1024, description="largest price file prepare reads or downloads (64 MiB)"
    )
    download_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=300.0, description="a download of [data] source, retries included, ends by then"
    )
    allow_private_network: bool = Field(
        default=False, description="let [data] source reach loopback and private addresses"
    )
    max_age_sessions: Annotated[int, Field(ge=0, le=10000)] = Field(
        default=3,
        description="predict and retrain call the data stale when more Tokyo sessions than this have "
        "closed since its last close",
    )
    on_stale: Literal["warn", "fail"] = Field(
        default="warn",
        description='stale data: "warn" (one line, then go on) or "fail" (exit 3, so cron mails)',
    )

    @field_validator("close_column", mode="before")
    @classmethod
    def _column_number(cls, v: Any) -> Any:
        """`close_column = 2` (a TOML integer) is the 2nd column, as `close_column = "2"` is."""
        if isinstance(v, int) and not isinstance(v, bool):
            if not 1 <= v <= 9999:
                raise ValueError(f"a column number counts from 1 (got {v})")
            return str(v)
        return v

    @field_validator("source")
    @classmethod
    def _source(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must name a file, an http(s) URL, fred or stooq (got an empty string)")
        return v


class Hyperparameters(_Section):
    """DeepAR hyperparameters (sent as strings), limited as DeepAR limits them: positive integers and
    floats, known likelihoods. AWS's tuning ranges (TUNING_RANGES) are advice: `tuning_warnings()`."""

    time_freq: str = "D"
    context_length: Annotated[int, Field(gt=0)] = 20
    # None: derived from [forecast] horizon_trading_days and the XTKS calendar (see data.horizon)
    prediction_length: Annotated[int, Field(gt=0)] | None = None
    epochs: Annotated[int, Field(gt=0)] = 2
    num_cells: Annotated[int, Field(gt=0)] = 40
    num_layers: Annotated[int, Field(gt=0)] = 2
    # a probability of dropping a unit: 1 would drop them all
    dropout_rate: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1
    learning_rate: Annotated[float, Field(gt=0.0)] = 1e-3
    mini_batch_size: Annotated[int, Field(gt=0)] = 32
    likelihood: Literal["student-T", "gaussian", "beta", "negative-binomial", "deterministic-L1"] = "gaussian"
    num_eval_samples: Annotated[int, Field(gt=0)] = 400
    early_stopping_patience: Annotated[int, Field(ge=1)] | None = None
    test_quantiles: list[float] = Field(default_factory=lambda: [round(0.1 * i, 1) for i in range(1, 10)])

    def tuning_warnings(self, where: str = "training.hyperparameters") -> list[str]:
        """One line per value outside AWS's recommended tuning range (valid, but worth a second look)."""
        lines = []
        for key, (low, high) in TUNING_RANGES.items():
            value = getattr(self, key)
            if not low <= value <= high:
                lines.append(
                    f"{where}.{key} = {value} is outside AWS's recommended tuning range {low:g}-{high:g} "
                    "(allowed: DeepAR only needs a positive value)"
                )
        return lines

    @field_validator(*HYPERPARAMETER_CAPS)
    @classmethod
    def _capped(cls, v: int | None, info: ValidationInfo) -> int | None:
        cap = HYPERPARAMETER_CAPS[str(info.field_name)]
        if v is not None and v > cap:
            shown = str(v) if v < 10**30 else "a number of more than 30 digits"
            raise ValueError(
                f"must be <= {cap} (got {shown}): DeepAR asks only for a positive integer, but a value "
                f"this large is a typo, not a setting"
            )
        return v

    @field_validator("time_freq")
    @classmethod
    def _freq(cls, v: str) -> str:
        if not _FREQ_RE.fullmatch(v):
            raise ValueError(f"must be an integer multiple of M, W, D, H or min, e.g. D (got {v!r})")
        return v

    @field_validator("test_quantiles")
    @classmethod
    def _quantiles(cls, v: list[float]) -> list[float]:
        return _check_quantiles(v)

    def as_strings(self, *, prediction_length: int | None = None) -> dict[str, str]:
        """The hyperparameters as CreateTrainingJob wants them: every value a string, unset ones left out.

        `prediction_length` fills in the derived value when the config leaves it unset."""
        out: dict[str, str] = {}
        values = self.model_dump()
        if values["prediction_length"] is None:
            values["prediction_length"] = prediction_length
        for key, value in values.items():
            if value is None:
                continue
            if isinstance(value, list):
                out[key] = json.dumps(value)
            else:
                out[key] = str(value)
        return out


def _tag_text_ok(text: str) -> bool:
    """Letters, numbers and separators (Unicode categories L, N, Z) and _ . : / = + - @, as AWS allows."""
    return all(
        c.isalnum() or c in _TAG_PUNCTUATION or unicodedata.category(c) in {"Zs", "Zl", "Zp"} for c in text
    )


def _short(value: str, limit: int = 40) -> str:
    """A value for a one-line message: quoted, and cut (with its length) when long."""
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}... ({len(value)} characters)"


def _check_quantiles(v: list[float]) -> list[float]:
    if not v:
        raise ValueError("must list at least one quantile")
    for q in v:
        if not 0.0 < q < 1.0:
            raise ValueError(f"quantiles must be strictly between 0 and 1 (got {q})")
    if sorted(set(v)) != list(v):
        raise ValueError(f"quantiles must be ascending and distinct (got {v})")
    return v


class TrainingSettings(_Section):
    instance_type: str = "ml.m5.large"
    instance_count: Annotated[int, Field(ge=1, le=20)] = 1
    volume_size_gb: Annotated[int, Field(ge=1, le=16384)] = 10
    max_runtime_seconds: Annotated[int, Field(ge=60, le=28 * 24 * 3600)] = 3600
    spot: bool = False
    # DeepAR has no checkpointing, so AWS caps the spot wait at one hour; max_wait >= max_runtime.
    max_wait_seconds: Annotated[int, Field(ge=60, le=3600)] = 3600
    seed: Annotated[int, Field(ge=0)] = 42
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)

    @field_validator("instance_type")
    @classmethod
    def _instance(cls, v: str) -> str:
        if not _INSTANCE_RE.fullmatch(v):
            raise ValueError(f"must be a SageMaker instance type such as ml.m5.large (got {v!r})")
        return v

    @model_validator(mode="after")
    def _spot(self) -> TrainingSettings:
        # AWS: MaxWaitTimeInSeconds "equal to or greater than" MaxRuntimeInSeconds; DeepAR: at most 3600.
        if self.spot and self.max_wait_seconds < self.max_runtime_seconds:
            raise ValueError(
                "with spot = true, max_wait_seconds must be at least max_runtime_seconds "
                f"(got {self.max_wait_seconds} < {self.max_runtime_seconds}); DeepAR caps the wait at 3600, "
                "so spot training runs at most 3600 seconds"
            )
        return self


class EndpointSettings(_Section):
    name: str = "nikkei-deepar-dev"  # in Settings: `{project}-{stage}` of [aws.tags] (default_endpoint_name)
    instance_type: str = "ml.m5.large"
    instance_count: Annotated[int, Field(ge=1, le=10)] = 1
    serverless: bool = False
    memory_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144] = 2048
    max_concurrency: Annotated[int, Field(ge=1, le=200)] = 5
    keep_models: Annotated[int, Field(ge=1, le=20)] = 2
    wait_timeout_seconds: Annotated[int, Field(ge=60)] = 3600
    expires_after: str = Field(
        default="24h",
        description="delete the endpoint this long after deploy (an EventBridge Scheduler schedule); "
        '"off" = never; serverless endpoints: off unless set',
    )

    @model_validator(mode="before")
    @classmethod
    def _idle(cls, data: Any) -> Any:
        if isinstance(data, dict) and "delete_when_idle_for" in data:
            raise ValueError(
                "delete_when_idle_for is not supported: no CloudWatch alarm action can delete a SageMaker "
                "endpoint without a Lambda function or another service to run the call (docs/guide.md#"
                "endpoint-expiry-prices-and-the-cost-guard); remove the key and use expires_after, e.g. "
                'expires_after = "24h"'
            )
        return data

    @field_validator("expires_after")
    @classmethod
    def _expiry(cls, v: str) -> str:
        return check_expiry(v)

    def expiry(self, override: str | None = None) -> dt.timedelta | None:
        """How long after deploy the endpoint is deleted, or None for never: `override` (deploy
        --expires-in) first, else `expires_after`; serverless endpoints (billed only while serving) have
        no expiry unless expires_after is set explicitly."""
        if override is not None:
            value = check_expiry(override)
        elif self.serverless and "expires_after" not in self.model_fields_set:
            return None
        else:
            value = self.expires_after
        return None if value == DURATION_OFF else parse_duration(value)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _SM_NAME_RE.fullmatch(v) or len(v) > 50:
            raise ValueError(
                "endpoint names are letters, digits and '-', starting with a letter or digit, at most 50 "
                f"characters here (the tool appends suffixes) (got {v!r})"
            )
        return v

    @field_validator("instance_type")
    @classmethod
    def _cpu(cls, v: str) -> str:
        if not _INSTANCE_RE.fullmatch(v):
            raise ValueError(f"must be a SageMaker instance type such as ml.m5.large (got {v!r})")
        family = v.split(".")[1]
        if family.startswith(("p", "g", "inf", "trn")):
            raise ValueError(f"DeepAR inference runs on CPU instances only (got {v!r})")
        return v


class PredictSettings(_Section):
    quantiles: list[float] = Field(default_factory=lambda: [0.1, 0.5, 0.9])
    num_samples: Annotated[int, Field(ge=1, le=1000)] = 400
    batch_instance_type: str | None = Field(
        default=None,
        description="predict --batch's instance type (a batch transform type); unset: the endpoint's",
    )

    @field_validator("batch_instance_type")
    @classmethod
    def _batch_instance(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^ml\.[a-z0-9]+\.[a-z0-9]+$", v):
            raise ValueError(f"must be a SageMaker instance type such as ml.m5.large (got {v!r})")
        return v

    @field_validator("quantiles")
    @classmethod
    def _quantiles(cls, v: list[float]) -> list[float]:
        return _check_quantiles(v)


class CostSettings(_Section):
    """Overrides for the built-in price table (costs.py), e.g. your negotiated or current prices."""

    hourly_usd: dict[str, float] = Field(
        default_factory=dict, description="instance type -> USD per instance-hour in the configured region"
    )
    serverless_gb_second_usd: Annotated[float, Field(ge=0.0)] | None = None
    price_date: str | None = Field(default=None, description="when the prices above were taken")
    live_prices: bool = Field(
        default=True,
        description="ask the AWS Price List API for the region's price (cached for a day) before the "
        "built-in table",
    )
    max_usd_per_day: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = Field(
        default=None,
        description="deploy refuses (exit 2) an endpoint whose projected daily cost is above this",
    )

    @field_validator("hourly_usd")
    @classmethod
    def _prices(cls, v: dict[str, float]) -> dict[str, float]:
        for instance, price in v.items():
            if not _INSTANCE_RE.fullmatch(instance):
                raise ValueError(f"keys are SageMaker instance types such as ml.m5.large (got {instance!r})")
            if price < 0:
                raise ValueError(f"{instance}: a price cannot be negative (got {price})")
        return v


class ForecastSettings(_Section):
    """What a forecast is: how many trading days, and how it is combined with the random walk."""

    horizon_trading_days: Annotated[int, Field(ge=1, le=250)] = Field(
        default=5, description="Tokyo Stock Exchange sessions per forecast (DeepAR's length is derived)"
    )
    random_walk_weight: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        default=0.8,
        description="the random walk's share in the forecast (0 = DeepAR alone, 1 = the random walk)",
    )


class OutputSettings(_Section):
    """How results are shown to people (--json is always the same: UTC, ISO 8601)."""

    timezone: str | None = Field(
        default=None,
        description="IANA time zone for times people read, e.g. Asia/Tokyo; unset: $TZ, else this "
        "machine's zone",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"not an IANA time zone such as Asia/Tokyo or UTC (got {v!r})") from None
        return v


class RetrainSettings(_Section):
    # Deploy only if new test:mean_wQuantileLoss <= deployed * (1 + max_wql_regression); 0 = no worse.
    max_wql_regression: Annotated[float, Field(ge=0.0, le=10.0)] = 0.0


class StateSettings(_Section):
    url: str | None = Field(
        default=None,
        description='where every host keeps this workspace\'s state: "s3://BUCKET/PREFIX" (a versioned '
        "bucket you name); unset: a file on this machine",
    )
    lease_seconds: Annotated[int, Field(ge=5, le=3600)] = Field(
        default=300,
        description="how long a command's lease on the remote state lasts without renewal (it renews "
        "itself while the command runs): how soon another host takes over from a host that died",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not v.startswith("s3://"):
            raise ValueError(f'must be an S3 URL such as "s3://my-bucket/nikkei-deepar-state" (got {v!r})')
        bucket, _, prefix = v[5:].partition("/")
        if not _BUCKET_RE.fullmatch(bucket) or ".." in bucket or _IP_RE.fullmatch(bucket):
            raise ValueError(f"the bucket {bucket!r} is not an S3 bucket name (3-63 of a-z, 0-9, '.', '-')")
        if any(special in prefix for special in _POLICY_SPECIAL):
            raise ValueError(f"the prefix may not hold wildcards or policy variables (got {prefix!r})")
        return v.rstrip("/")

    @property
    def bucket(self) -> str | None:
        return None if self.url is None else self.url[5:].partition("/")[0]

    @property
    def prefix(self) -> str:
        return "" if self.url is None else self.url[5:].partition("/")[2].strip("/")


def default_endpoint_name(tags: Mapping[str, Any]) -> str:
    """`{project}-{stage}` from the tags (letters, digits and '-' only; at most 50 characters), so that two
    configs that differ in their stage tag never share an endpoint by default (nikkei-deepar-dev)."""

    def plain(value: Any) -> str:
        return re.sub(r"[^a-zA-Z0-9]+", "-", str(value or "")).strip("-")

    project = plain(tags.get("project")) or "nikkei-deepar"
    stage = plain(tags.get("stage"))
    return (f"{project}-{stage}" if stage else project)[:50].rstrip("-")


class Settings(_Section):
    backend: Literal["sagemaker", "local"] = "sagemaker"
    aws: AwsSettings = Field(default_factory=AwsSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    endpoint: EndpointSettings = Field(default_factory=EndpointSettings)
    predict: PredictSettings = Field(default_factory=PredictSettings)
    forecast: ForecastSettings = Field(default_factory=ForecastSettings)
    costs: CostSettings = Field(default_factory=CostSettings)
    retrain: RetrainSettings = Field(default_factory=RetrainSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    output: OutputSettings = Field(default_factory=OutputSettings)

    @model_validator(mode="after")
    def _state_apart_from_the_workspace(self) -> Settings:
        """A remote state in the project's own bucket must not sit under the workspace's keys: teardown
        --all empties those, and the state would go with them."""
        state = self.state
        if state.url is None or state.bucket != self.aws.bucket:
            return self
        root = self.key_root + "/"
        where = self.workspace.key_root(state.prefix) + "/"  # the state's own objects
        if root.startswith(where) or where.startswith(root):
            raise ValueError(
                f"state.url: {state.url} keeps the state in s3://{state.bucket}/{where}, among the "
                f"workspace's objects (s3://{state.bucket}/{root}) that teardown --all empties: in the "
                f"project's bucket, give the state a prefix of its own (e.g. s3://{state.bucket}/nikkei-deepar-state)"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _endpoint_name(cls, data: Any) -> Any:
        """[endpoint] name defaults to `{project}-{stage}` of [aws.tags] (see default_endpoint_name)."""
        if not isinstance(data, dict):
            return data
        endpoint = data.get("endpoint")
        if endpoint is not None and not isinstance(endpoint, dict | EndpointSettings):
            return data
        if isinstance(endpoint, EndpointSettings) or (endpoint or {}).get("name") is not None:
            return data
        aws = data.get("aws")
        tags = aws.get("tags") if isinstance(aws, dict) else getattr(aws, "tags", None)
        name = default_endpoint_name(tags if isinstance(tags, dict) else DEFAULT_TAGS)
        return {**data, "endpoint": {**(endpoint or {}), "name": name}}

    def warnings(self) -> list[str]:
        """Valid settings worth a second look, one line each (config validate and train print them)."""
        return self.training.hyperparameters.tuning_warnings()

    @property
    def workspace(self) -> Workspace:
        """The project and stage this config works in (`[aws.tags]`): its state and resources."""
        return Workspace.of(self.aws.tags)

    def execution_role_name(self) -> str:
        """The SageMaker execution role: `[aws] role_name` as given, else this workspace's own,
        `{project}-{stage}-sagemaker`, so two stages never share (and rewrite) one role."""
        return self.aws.role_name or self.workspace.role_name("sagemaker")

    @property
    def key_root(self) -> str:
        """Where this workspace's objects live in the bucket: `{prefix}/{project}/{stage}`."""
        return self.workspace.key_root(self.aws.prefix)

    def scheduler_role_name(self) -> str:
        """The role an endpoint's expiry schedule runs as: `[aws] scheduler_role_name`, else
        `{endpoint name}-scheduler`, so each endpoint (each stage) has its own, allowed to delete it alone."""
        return self.aws.scheduler_role_name or f"{self.endpoint.name}-scheduler"

    def resource_tags(self) -> dict[str, str]:
        """Tags on everything the tool creates: ownership first, then the project/stage tags."""
        return {**self.aws.tags, MANAGED_BY_KEY: MANAGED_BY_VALUE}

    def fingerprint(self) -> str:
        """A stable hash of everything that shapes a trained model (data settings + training). How stale
        data may be is no part of a model: those keys are left out, so adding them changed no hash."""
        data = self.data.model_dump(exclude={"max_age_sessions", "on_stale"})
        payload = {"data": data, "training": self.training.model_dump()}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class LoadedConfig:
    settings: Settings
    path: Path | None  # None: no file found, defaults in use
    origin: str  # "--config", "NIKKEI_DEEPAR_CONFIG", "./nikkei-deepar.toml" or "defaults"


def find_config(cli_path: Path | None, *, env: Mapping[str, str], cwd: Path) -> tuple[Path | None, str]:
    """Where the config comes from; a path the user named explicitly must exist."""
    if cli_path is not None:
        if not cli_path.is_file():
            raise ConfigError(
                f"{cli_path}: config file not found (given with --config)",
                hint="check the path, or run without --config to use ./nikkei-deepar.toml",
            )
        return cli_path, "--config"
    env_path = env.get(CONFIG_ENV)
    if env_path:
        path = Path(env_path)
        if not path.is_file():
            raise ConfigError(
                f"{path}: config file not found (named by {CONFIG_ENV})",
                hint=f"fix or unset {CONFIG_ENV}",
            )
        return path, CONFIG_ENV
    local = cwd / DEFAULT_CONFIG_NAME
    if local.is_file():
        return local, f"./{DEFAULT_CONFIG_NAME}"
    return None, "defaults"


def load_config(
    cli_path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> LoadedConfig:
    """Find, parse, merge overrides and validate. `overrides` are dotted keys (`aws.region`) from the CLI."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    path, origin = find_config(cli_path, env=env, cwd=cwd)
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"{path}: not valid TOML: {exc}", hint="fix the syntax at the line and column given"
            ) from None
        except ValueError:  # Python refuses to read an integer of more than 4,300 digits
            raise ConfigError(
                f"{path}: a number in the file is too long to read (more than 4300 digits)",
                hint="fix the number: no setting needs more than a few digits",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the config file: {exc}") from None
    merged = _apply_env(raw, env)
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(merged, dotted, value)
    where = str(path) if path is not None else "configuration"
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        problems = format_validation_error(exc)
        raise ConfigError(
            f"{where}: {len(problems)} problem{'s' if len(problems) != 1 else ''} in the configuration",
            problems=problems,
            hint="fix the keys listed above; config.example.toml documents every key",
        ) from None
    return LoadedConfig(settings=settings, path=path, origin=origin)


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    merged: dict[str, Any] = json.loads(json.dumps(raw))  # a deep copy of plain TOML data
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        _set_dotted(merged, "aws.region", region)
    if env.get("AWS_PROFILE"):
        _set_dotted(merged, "aws.profile", env["AWS_PROFILE"])
    return merged


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    node = tree
    *parents, leaf = dotted.split(".")
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[leaf] = value


_MESSAGES: dict[str, str] = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "extra_forbidden": "unknown key (check the spelling; config.example.toml lists every key)",
    "missing": "required",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number (not inf or nan)",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "dict_type": "must be a table",
    "model_type": "must be a table",
}


def format_validation_error(exc: ValidationError) -> list[str]:
    """One `dotted.field: message (got value)` line per problem."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        kind = err["type"]
        ctx = err.get("ctx") or {}
        if kind in _MESSAGES:
            message = _MESSAGES[kind].format(**ctx)
        elif kind == "literal_error":
            message = f"must be one of {ctx.get('expected', '')}"
        elif kind == "value_error":
            message = str(ctx.get("error", err["msg"]))
        else:
            message = err["msg"]
        shown = err.get("input")
        if kind not in {"missing", "extra_forbidden", "value_error"} and not isinstance(shown, dict):
            message += f" (got {shown!r})"
        lines.append(f"{loc}: {message}")
    return lines


def redacted(settings: Settings) -> dict[str, Any]:
    """The resolved config for display. Nothing secret lives in it by design (credentials come from the
    AWS chain, never from this file); the KMS key id is shown shortened."""
    data = settings.model_dump(mode="json")
    key = data["aws"].get("kms_key_id")
    if key:
        data["aws"]["kms_key_id"] = key[:12] + "…" if len(key) > 12 else key
    return data
