"""SageMaker Runtime gateway: one real-time request to an endpoint.

What goes wrong here is usually the request, not AWS: the model container answers a wrong content type
with 415 and a malformed body with "Unable to evaluate payload provided", both wrapped by SageMaker in a
`ModelError` (HTTP 424, OriginalStatusCode = the container's status). Each becomes one AwsError line that
quotes the container's message and says what to check.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions as bx

from nikkei_deepar.aws.errors import aws_errors, error_code, error_message
from nikkei_deepar.aws.session import AwsClients
from nikkei_deepar.errors import AwsError, NotFoundError, WaitTimeoutError

_QUOTE = 300


class RuntimeGateway:
    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    @property
    def client(self) -> Any:
        return self._clients.client("sagemaker-runtime")

    def invoke_endpoint(self, endpoint: str, body: bytes, *, content_type: str, accept: str) -> bytes:
        with aws_errors(f"invoking endpoint {endpoint}"):
            try:
                response = self.client.invoke_endpoint(
                    **invoke_request(endpoint, body, content_type=content_type, accept=accept)
                )
                answer: bytes = response["Body"].read()
            except bx.ReadTimeoutError:
                # A slow model gets a ModelError from SageMaker itself after 60 s; no answer at all
                # means the service or the network is silent, not that the history is too long: a
                # timeout (exit 8), as when the command's deadline cuts the wait shorter.
                raise WaitTimeoutError(
                    f"endpoint {endpoint}: SageMaker Runtime did not answer within "
                    f"{self._clients.read_timeout:g} s (no answer at all, not a slow model)",
                    hint="check the network, the region and AWS_ENDPOINT_URL, then retry",
                    code="aws-silent",
                ) from None
            except bx.ClientError as exc:
                raise _translate(endpoint, exc) from None
        return answer


def invoke_request(
    endpoint: str, body: bytes, *, content_type: str = "application/json", accept: str = "application/json"
) -> dict[str, Any]:
    """The InvokeEndpoint request (the request plan checks this very shape)."""
    return {"EndpointName": endpoint, "Body": body, "ContentType": content_type, "Accept": accept}


def _translate(endpoint: str, exc: Exception) -> Exception:
    code = error_code(exc)
    message = error_message(exc)
    response: dict[str, Any] = getattr(exc, "response", {})
    if code == "ModelError":
        original = response.get("OriginalStatusCode")
        status = f"HTTP {original}" if original else "an error"
        hint = "check the request matches what DeepAR expects"
        if str(original) == "415" or "415" in message[:60]:
            hint = "the container accepts ContentType application/json (or application/jsonlines) only"
        elif "unable to evaluate payload" in message.lower():
            hint = (
                "the request body is malformed for DeepAR: 'start' as 'YYYY-MM-DD HH:MM:SS', 'target' "
                'numbers or "NaN", cat/dynamic_feat only if the model was trained with them'
            )
        return AwsError(
            f"endpoint {endpoint}: the model answered {status}: {_quote(message)}",
            hint=hint,
            code="model-error",
        )
    if code in {"ValidationError", "ValidationException"} and "not found" in message.lower():
        return NotFoundError(
            f"endpoint {endpoint} does not exist ({message})",
            hint="run `nikkei-deepar deploy` first, or check [endpoint] name and the region",
        )
    if code == "ModelNotReadyException":
        return AwsError(
            f"endpoint {endpoint} is not ready yet ({message})",
            hint="wait until it is InService (`nikkei-deepar deploy` waits for it), then retry",
            code="endpoint-not-ready",
        )
    return exc  # aws_errors words the rest (throttling, access, 5xx, ...)


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= _QUOTE else flat[:_QUOTE] + "…")


Gateway = RuntimeGateway  # the name before gateways were typed; prefer RuntimeGateway
