"""The one redaction layer: nothing secret and no terminal control in anything the tool prints.

A leaf (imports nothing from the package). `output.py` applies `clean` to every line it writes (progress,
warnings, errors, hints, results, the `--json` document, `--debug` tracebacks), so no path to the user's
terminal or a cron log can carry:

- an AWS access key id (`AKIA...`, `ASIA...`, the other documented prefixes),
- a secret access key or session token named as such (`aws_secret_access_key=...`, `SecretAccessKey: ...`,
  `X-Amz-Security-Token: ...`), or the value of any environment variable holding one, as it is now,
- a SigV4 `Authorization` header or its parts (`Credential=`, `SignedHeaders=`, `Signature=`),
- a URL credential: `user:password@` and query values named like secrets (`X-Amz-Signature`,
  `X-Amz-Credential`, `X-Amz-Security-Token`, `token`, `access_token`, `key`, `apikey`, `password`,
  `secret`, `sig`, `signature`, `auth`).

Each is replaced by `***` (an access key id keeps its four-letter prefix, which says what kind of key it
was without identifying it). `escape_controls` writes control characters (newlines, ESC, NUL, DEL, C1)
as `\\n`, `\\x1b`, ... so a hostile file name yields one line and cannot move the cursor or recolour
the terminal. The redaction is a pattern match, not a proof: it errs on the side of hiding too much.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

MASK = "***"

# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids
_KEY_ID = re.compile(r"\b(AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|APKA|ABIA|ACCA|AIPA)[A-Z0-9]{12,}\b")
_SIGV4 = re.compile(r"(AWS4-HMAC-SHA256|AWS4-ECDSA-P256-SHA256)\s+[^'\"\r\n]*", re.IGNORECASE)
_SIGV4_PART = re.compile(r"\b(Credential|SignedHeaders|Signature)=[^\s,;&'\"]+", re.IGNORECASE)
_AUTH_HEADER = re.compile(
    r"\b(Authorization|X-Amz-Security-Token|X-Amz-Signature|X-Amz-Credential|Proxy-Authorization)"
    r"(['\"]?\s*[:=]\s*['\"]?)(?:Basic\s+|Bearer\s+)?[^\s'\",;&]+",
    re.IGNORECASE,
)
_NAMED_SECRET = re.compile(
    r"\b(aws_secret_access_key|aws_session_token|aws_security_token|secret_?access_?key|session_?token"
    r"|secret_?key|password|passwd)(['\"]?\s*[:=]\s*['\"]?)[^\s'\",;&}]+",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"]*@")
_QUERY_SECRET = re.compile(
    r"(?i)([?&;](?:x-amz-signature|x-amz-credential|x-amz-security-token|token|access_token|id_token"
    r"|refresh_token|api_?key|key|password|passwd|pwd|secret|client_secret|sig|signature|auth)=)[^&#\s'\"]+"
)
# Environment variables whose values are secrets wherever they appear.
SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ACCESS_KEY_ID")
_MIN_ENV_SECRET = 8  # shorter values ("testing") are too common to hunt for

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\x1b": "\\x1b"}


def redact(text: str, *, env: Mapping[str, str] | None = None) -> str:
    """`text` with every credential-looking part replaced by `***` (see the module docstring)."""
    if not text:
        return text
    environ = os.environ if env is None else env
    for name in SECRET_ENV:
        value = environ.get(name, "")
        if len(value) >= _MIN_ENV_SECRET and value in text:
            text = text.replace(value, MASK)
    text = _SIGV4.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _SIGV4_PART.sub(lambda m: f"{m.group(1)}={MASK}", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _NAMED_SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _URL_USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return _KEY_ID.sub(lambda m: f"{m.group(1)}{MASK}", text)


def escape_controls(text: str) -> str:
    """Control characters written visibly (`\\n`, `\\x1b`, `\\x00`, ...); tabs are kept."""
    return _CONTROL.sub(lambda m: _NAMED_ESCAPES.get(m.group(), f"\\x{ord(m.group()):02x}"), text)


def clean(text: str) -> str:
    """One line fit for a terminal or a log: redacted, control characters escaped."""
    return escape_controls(redact(text))


def redact_tree(value: Any) -> Any:
    """`redact` applied to every string (keys included) of a JSON-like document; other values unchanged.

    Control characters are left alone here: JSON escapes them itself.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_tree(k) if isinstance(k, str) else k: redact_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_tree(v) for v in value]
    return value
