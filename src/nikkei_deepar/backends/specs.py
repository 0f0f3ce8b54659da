"""What the settings ask a backend for: the names the tool gives things, and the specs of a training job,
an endpoint config and a batch transform.

One place for the settings -> spec mapping, shared by the steps that send the specs (train, deploy,
predict --batch) and by the request plan that checks them before anything is created
(`backends/sagemaker/requests.py`), so what is checked is what is sent. Pure: no network, no I/O.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Mapping

from nikkei_deepar.backends.base import EndpointConfigSpec, ServerlessSpec, TrainingSpec, TransformSpec
from nikkei_deepar.config import Settings
from nikkei_deepar.data.horizon import hyperparameter_strings
from nikkei_deepar.data.inference import Target, inference_config, output_types_for
from nikkei_deepar.errors import UsageError
from nikkei_deepar.ownership import ENDPOINT_TAG_KEY

NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
NAME_MAX = 63
DEEPAR_MAX_SPOT_WAIT = 3600  # DeepAR has no checkpointing: AWS caps the spot wait at one hour


def resource_name(base: str, kind: str | None = None, *, now: dt.datetime | None = None) -> str:
    """A unique SageMaker name: `{base}[-{kind}]-{yyyymmdd-HHMMSS}-{4 hex}`, at most 63 characters.

    The base is shortened (never the timestamp or the random part) when the whole would not fit.
    """
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d-%H%M%S")
    suffix = (f"-{kind}" if kind else "") + f"-{stamp}-{secrets.token_hex(2)}"
    trimmed = base[: NAME_MAX - len(suffix)].rstrip("-")
    name = f"{trimmed}{suffix}"
    if not trimmed or not NAME_RE.fullmatch(name):
        raise UsageError(
            f"cannot make a SageMaker name from {base!r}: got {name!r}",
            hint="use letters, digits and '-' in [endpoint] name",
        )
    return name


def training_spec(
    settings: Settings, *, name: str, channels: Mapping[str, str], output_uri: str
) -> TrainingSpec:
    training = settings.training
    return TrainingSpec(
        name=name,
        hyperparameters=hyperparameter_strings(settings),  # prediction_length derived (data.horizon)
        channels=dict(channels),
        output_uri=output_uri,
        instance_type=training.instance_type,
        instance_count=training.instance_count,
        volume_size_gb=training.volume_size_gb,
        max_runtime_seconds=training.max_runtime_seconds,
        spot=training.spot,
        max_wait_seconds=min(training.max_wait_seconds, DEEPAR_MAX_SPOT_WAIT) if training.spot else None,
        tags=settings.resource_tags(),
        seed=training.seed,
    )


def endpoint_tags(settings: Settings, endpoint: str) -> dict[str, str]:
    """The tags on what deploy creates: the tool's own (managed-by, [aws.tags]) and the endpoint's name."""
    return {**settings.resource_tags(), ENDPOINT_TAG_KEY: endpoint}


def endpoint_config_spec(
    settings: Settings, *, name: str, model_name: str, endpoint: str
) -> EndpointConfigSpec:
    ep = settings.endpoint
    return EndpointConfigSpec(
        name=name,
        model_name=model_name,
        tags=endpoint_tags(settings, endpoint),
        instance_type=ep.instance_type,
        instance_count=ep.instance_count,
        serverless=ServerlessSpec(ep.memory_mb, ep.max_concurrency) if ep.serverless else None,
    )


def batch_instance_type(settings: Settings) -> str:
    """predict --batch's instance type: [predict] batch_instance_type, else the endpoint's."""
    return settings.predict.batch_instance_type or settings.endpoint.instance_type


def transform_spec(
    settings: Settings,
    *,
    name: str,
    model_name: str,
    input_uri: str,
    output_uri: str,
    target: Target = "price",
) -> TransformSpec:
    """The batch transform of one input file; a log-return model (`target`, what the served job was
    trained on) must answer "samples" too: prices are rebuilt from them."""
    return TransformSpec(
        name=name,
        model_name=model_name,
        input_uri=input_uri,
        output_uri=output_uri,
        inference_config=inference_config(
            quantiles=list(settings.predict.quantiles),
            num_samples=settings.predict.num_samples,
            output_types=output_types_for(target),
        ),
        instance_type=batch_instance_type(settings),
        instance_count=1,
        tags=settings.resource_tags(),
    )
