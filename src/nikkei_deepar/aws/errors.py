"""Where botocore exceptions become the tool's own errors: at the gateway boundary and nowhere else.

`with aws_errors("creating bucket x"):` turns credentials problems, access denial, throttling or 5xx
that outlasted the retries, and connection failures into one-line `AwsError`s that say what was being
done and what to do. Gateways catch the specific `ClientError` codes they expect (NoSuchBucket,
ValidationException "Could not find ...") themselves, *inside* this wrapper, and map them to
`NotFoundError` or to a "not there" return value.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import botocore.exceptions as bx

from nikkei_deepar.errors import AccessDeniedError, AwsError, NikkeiError

THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "SlowDown",
    "RequestThrottled",
    "LimitExceededException",
}
AUTH = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AuthFailure",
    "InvalidToken",
}
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AllAccessDisabled"}


def error_code(exc: Any) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def error_message(exc: Any) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Message", "")) or str(exc)


def http_status(exc: Any) -> int:
    return int(getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


@contextlib.contextmanager
def aws_errors(action: str) -> Iterator[None]:
    # botocore.parsers costs ~30 ms to import and is only needed when something went wrong
    from botocore.parsers import ResponseParserError

    try:
        yield
    except NikkeiError:
        raise
    except (bx.NoCredentialsError, bx.PartialCredentialsError):
        raise AwsError(
            f"{action}: no AWS credentials found",
            hint="configure credentials (aws configure, AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY)",
            code="aws-credentials",
        ) from None
    except bx.TokenRetrievalError as exc:
        raise AwsError(
            f"{action}: could not refresh AWS credentials ({exc})",
            hint="log in again (aws sso login) and retry",
            code="aws-credentials",
        ) from None
    except (
        bx.EndpointConnectionError,
        bx.ConnectTimeoutError,
        bx.ReadTimeoutError,
        bx.ConnectionClosedError,
    ) as exc:
        raise AwsError(
            f"{action}: cannot reach AWS ({exc})",
            hint="check the network, the region and AWS_ENDPOINT_URL, then retry",
            code="aws-connection",
        ) from None
    except bx.ClientError as exc:
        code = error_code(exc)
        message = error_message(exc)
        status = http_status(exc)
        if code in THROTTLING:
            raise AwsError(
                f"{action}: AWS kept throttling the request ({code}) after the retries",
                hint='retry later, or raise [aws] max_attempts / use retry_mode = "adaptive"',
                code="aws-throttled",
            ) from None
        if code in AUTH:
            raise AwsError(
                f"{action}: AWS rejected the credentials ({code}: {message})",
                hint="refresh or fix the credentials for this profile",
                code="aws-credentials",
            ) from None
        if code in DENIED or status == 403:
            raise AccessDeniedError(
                f"{action}: access denied ({message})",
                hint="the caller's IAM policy must allow this action; `nikkei-deepar doctor` checks "
                "the basics",
            ) from None
        if status >= 500:
            raise AwsError(
                f"{action}: AWS returned HTTP {status} ({code or 'server error'}) after the retries",
                hint="a service-side problem: retry later",
                code="aws-unavailable",
            ) from None
        raise AwsError(f"{action}: {code}: {message}", code="aws-error") from None
    except ResponseParserError as exc:
        raise AwsError(
            f"{action}: AWS sent an answer that could not be read ({str(exc).splitlines()[0][:200]})",
            hint="usually a proxy or an endpoint override (AWS_ENDPOINT_URL) answering instead of AWS",
            code="aws-unreadable",
        ) from None
    except bx.ParamValidationError as exc:
        raise AwsError(f"{action}: invalid request parameters ({exc})", code="aws-params") from None
    except bx.BotoCoreError as exc:
        raise AwsError(f"{action}: {exc}", code="aws-error") from None
