"""Fetch a remote `[data] source` (an http(s) URL or a named public source) into a dated local copy.

Owns the network side of `prepare` and nothing else: it downloads bytes, hands them to the `validate`
callable it is given (in the CLI, the price reader's `parse_prices`), and keeps what passed as
``<cache_dir>/<name>-YYYY-MM-DD.csv`` (the date of the download, not of the last price), the newest
`keep` copies per source. It imports nothing from the reader, prints nothing and never touches AWS.

Decisions:
- A copy reaches `cache_dir` only after the whole body arrived and `validate` accepted it, and then
  through a temporary file in the same folder and `os.replace`: a dropped connection, a crash or a
  full disk never leaves a half-written or unvalidated ``.csv``, and every copy in the cache is one
  that passed validation when it was written. A second fetch on the same day replaces that day's copy.
- Retries (`attempts` in all, waits of `backoff`, 2x`backoff`, ... or the server's Retry-After) on
  connection errors, timeouts, truncated bodies and HTTP 429/5xx; never on other 4xx, an oversized body
  or a body that fails validation (the same bytes would come back).
- On failure the previous copy is never touched and `fetch_source` raises `DataError` (exit 3) naming
  what failed and which previous copy was kept: a retrain on yesterday's file is no retrain, so by
  default the run stops rather than silently reusing old data. `allow_stale=True` returns the previous
  copy instead (`FetchResult.fresh` False, `error` says why); with no previous copy it raises anyway.
- `timeout` bounds the connection and each read, not the whole transfer.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from nikkei_deepar import __version__
from nikkei_deepar.errors import DataError
from nikkei_deepar.files import write_atomic

__all__ = [
    "DEFAULT_KEEP",
    "MAX_BYTES",
    "NAMED_SOURCES",
    "USER_AGENT",
    "FetchResult",
    "cache_name",
    "fetch_source",
    "is_remote",
    "resolve_url",
]

NAMED_SOURCES: Mapping[str, str] = {
    "fred": "https://fred.stlouisfed.org/graph/fredgraph.csv?id=NIKKEI225",
    "stooq": "https://stooq.com/q/d/l/?s=^nkx&i=d",
}
USER_AGENT = f"nikkei-deepar/{__version__} (Python urllib; a daily Nikkei 225 price download)"
MAX_BYTES = 50 * 1024 * 1024
DEFAULT_KEEP = 10
MAX_RETRY_AFTER = 60.0  # seconds; a longer Retry-After is capped rather than obeyed
_CHUNK = 64 * 1024
_STALE_TMP_SECONDS = 24 * 3600

Validate = Callable[[bytes, str], object]
Sleep = Callable[[float], None]
Notify = Callable[[str], None]


@dataclass(frozen=True)
class FetchResult:
    path: Path  # the file prepare should read: the new dated copy, or the previous one (allow_stale)
    fresh: bool  # True if downloaded and validated now
    source: str  # what the user configured
    url: str | None
    kept_previous: Path | None  # the newest earlier copy left beside `path` (on success or failure)
    error: str | None  # why the previous copy is used instead of a fresh one (one line)
    attempts: int = 0  # requests made
    size: int = 0  # bytes downloaded (0 when not fresh)


def is_remote(source: str) -> bool:
    """True for an http(s) URL or a named source ("fred", "stooq", any case); False for a local path.

    A named source wins over a local file of the same name: write ``./fred`` to mean the file.
    """
    text = source.strip()
    if text.casefold() in NAMED_SOURCES:
        return True
    parts = urllib.parse.urlsplit(text)
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def resolve_url(source: str, *, named: Mapping[str, str] | None = None) -> str:
    """The URL to download for `source`: a named source's URL, or the http(s) URL itself."""
    table = NAMED_SOURCES if named is None else named
    text = source.strip()
    if text.casefold() in table:
        return table[text.casefold()]
    parts = urllib.parse.urlsplit(text)
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return text
    raise ValueError(f"not a URL or a named source ({', '.join(sorted(table))}): {source!r}")


def cache_name(source: str, *, named: Mapping[str, str] | None = None) -> str:
    """File name stem of a source's copies: ``fred``, ``stooq``, or ``<host>-<path>-<hash>`` for a URL.

    The hash of the whole URL keeps two URLs on one host (different query strings) apart.
    """
    table = NAMED_SOURCES if named is None else named
    text = source.strip()
    if text.casefold() in table:
        return text.casefold()
    parts = urllib.parse.urlsplit(text)
    stem = Path(parts.path).stem
    readable = "-".join(p for p in (parts.hostname or "url", stem) if p)
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", readable).strip("._")[:60] or "url"
    return f"{readable}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def fetch_source(
    source: str,
    *,
    cache_dir: Path,
    validate: Validate,
    timeout: float = 30.0,
    attempts: int = 3,
    backoff: float = 1.0,
    sleep: Sleep = time.sleep,
    today: date | None = None,
    opener: urllib.request.OpenerDirector | None = None,
    named: Mapping[str, str] | None = None,
    max_bytes: int = MAX_BYTES,
    keep: int = DEFAULT_KEEP,
    allow_stale: bool = False,
    notify: Notify | None = None,
) -> FetchResult:
    """Download `source`, validate it, keep it as today's copy in `cache_dir`; see the module docstring.

    `validate(raw, url)` must raise `DataError` for bytes that are not a usable price file (any other
    exception is a bug and propagates). `notify` receives one line per retry and per pruned copy.
    Raises `DataError` (code ``download-failed`` or ``download-invalid``) unless `allow_stale` and a
    previous copy exists.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    if keep < 1:
        raise ValueError("keep must be at least 1")
    url = resolve_url(source, named=named)
    name = cache_name(source, named=named)
    day = today or date.today()
    target = cache_dir / f"{name}-{day.isoformat()}.csv"
    say: Notify = notify or (lambda _line: None)
    where = _Where(source=source, url=url, cache_dir=cache_dir, name=name, allow_stale=allow_stale)

    try:
        raw, made = _download(
            url,
            timeout=timeout,
            attempts=attempts,
            backoff=backoff,
            sleep=sleep,
            opener=opener or urllib.request.build_opener(),
            max_bytes=max_bytes,
            say=say,
        )
    except _Failed as exc:
        reason = f"{url}: {exc.reason}"
        return _fall_back(where, reason, code="download-failed", made=exc.made)
    try:
        validate(raw, url)
    except DataError as exc:
        detail = exc.message if exc.message.startswith(url) else f"{url}: {exc.message}"
        reason = f"not a usable price file: {detail}"
        return _fall_back(where, reason, code="download-invalid", made=made, hint=exc.hint)

    before = [p for d, p in _copies(cache_dir, name) if d < day]
    try:
        write_atomic(target, raw)
    except OSError as exc:
        reason = f"{url}: cannot save the download as {target}: {exc.strerror or exc}"
        return _fall_back(where, reason, code="download-failed", made=made)
    _prune(cache_dir, name, keep=keep, current=target, say=say)
    previous = before[-1] if before and before[-1].exists() else None
    return FetchResult(
        path=target,
        fresh=True,
        source=source,
        url=url,
        kept_previous=previous,
        error=None,
        attempts=made,
        size=len(raw),
    )


class _Failed(Exception):
    def __init__(self, reason: str, made: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.made = made


class _Attempt(Exception):
    """One failed request; `retry` says whether another attempt may succeed."""

    def __init__(self, reason: str, *, retry: bool, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry
        self.wait = wait


def _download(
    url: str,
    *,
    timeout: float,
    attempts: int,
    backoff: float,
    sleep: Sleep,
    opener: urllib.request.OpenerDirector,
    max_bytes: int,
    say: Notify,
) -> tuple[bytes, int]:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "text/csv, */*"})
    for attempt in range(1, attempts + 1):
        try:
            return _get(opener, request, timeout=timeout, max_bytes=max_bytes), attempt
        except _Attempt as exc:
            if not exc.retry:
                raise _Failed(exc.reason, attempt) from None
            if attempt == attempts:
                tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
                raise _Failed(f"{exc.reason} (after {tries})", attempt) from None
            wait = exc.wait if exc.wait is not None else backoff * 2 ** (attempt - 1)
            say(f"download attempt {attempt}/{attempts} of {url} failed: {exc.reason}; retrying in {wait:g}s")
            sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _get(
    opener: urllib.request.OpenerDirector,
    request: urllib.request.Request,
    *,
    timeout: float,
    max_bytes: int,
) -> bytes:
    try:
        with opener.open(request, timeout=timeout) as response:
            declared = _content_length(response.headers.get("Content-Length"))
            if declared is not None and declared > max_bytes:
                raise _Attempt(f"response too large: {declared} bytes (limit {max_bytes})", retry=False)
            body = bytearray()
            while chunk := response.read(_CHUNK):
                body += chunk
                if len(body) > max_bytes:
                    raise _Attempt(f"response too large: over {max_bytes} bytes", retry=False)
    except urllib.error.HTTPError as exc:
        status = f"HTTP {exc.code} {exc.reason}".rstrip()
        exc.close()
        if exc.code == 429 or exc.code >= 500:
            raise _Attempt(status, retry=True, wait=_retry_after(exc.headers.get("Retry-After"))) from None
        raise _Attempt(status, retry=False) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise _Attempt(f"timed out after {timeout:g}s", retry=True) from None
        raise _Attempt(f"cannot connect: {_os_reason(reason)}", retry=True) from None
    except TimeoutError:
        raise _Attempt(f"timed out after {timeout:g}s", retry=True) from None
    except (http.client.HTTPException, ConnectionError) as exc:
        raise _Attempt(f"connection dropped: {type(exc).__name__} {exc}".rstrip(), retry=True) from None
    except OSError as exc:
        raise _Attempt(f"network error: {_os_reason(exc)}", retry=True) from None
    if declared is not None and len(body) < declared:
        raise _Attempt(f"connection dropped: got {len(body)} of {declared} bytes", retry=True)
    return bytes(body)


def _content_length(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (the HTTP-date form is ignored), capped at MAX_RETRY_AFTER."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    if seconds is None or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER)


def _os_reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason)


def _copies(cache_dir: Path, name: str) -> list[tuple[date, Path]]:
    """This source's dated copies, oldest first."""
    pattern = re.compile(re.escape(name) + r"-(\d{4}-\d{2}-\d{2})\.csv")
    found: list[tuple[date, Path]] = []
    try:
        entries = list(cache_dir.iterdir())
    except OSError:
        return found
    for path in entries:
        match = pattern.fullmatch(path.name)
        if match is None or not path.is_file():
            continue
        try:
            found.append((date.fromisoformat(match.group(1)), path))
        except ValueError:
            continue
    return sorted(found)


@dataclass(frozen=True)
class _Where:
    source: str
    url: str
    cache_dir: Path
    name: str
    allow_stale: bool


def _fall_back(where: _Where, reason: str, *, code: str, made: int, hint: str | None = None) -> FetchResult:
    """Raise DataError naming `reason` and the previous copy, or return that copy if allow_stale."""
    cache_dir = where.cache_dir
    copies = _copies(cache_dir, where.name)
    what = f"download of {where.source} failed: {reason}"
    first = f"{hint} " if hint else ""
    if not copies:
        raise DataError(
            f"{what}; no previous copy in {cache_dir}",
            hint=first + "Check the URL and the network, or pass --input with a local price file.",
            code=code,
        )
    day, previous = copies[-1]
    message = f"{what}; kept the previous copy {previous} from {day.isoformat()}"
    if not where.allow_stale:
        raise DataError(
            message,
            hint=first + f"Try again later, or run with --input {previous} to go on with the previous copy.",
            code=code,
        )
    return FetchResult(
        path=previous,
        fresh=False,
        source=where.source,
        url=where.url,
        kept_previous=previous,
        error=message,
        attempts=made,
    )


def _prune(cache_dir: Path, name: str, *, keep: int, current: Path, say: Notify) -> None:
    """Delete this source's copies beyond the newest `keep` (never `current`), and old temp files.

    Temp files are only left by a killed process; those older than a day are removed.
    """
    others = [p for _, p in _copies(cache_dir, name) if p != current]
    doomed = others[: max(len(others) - (keep - 1), 0)]
    cutoff = time.time() - _STALE_TMP_SECONDS
    pattern = re.compile(r"\." + re.escape(name) + r"-\d{4}-\d{2}-\d{2}\.csv\..+\.tmp")
    for path in cache_dir.iterdir():
        try:
            if pattern.fullmatch(path.name) and path.stat().st_mtime < cutoff:
                doomed.append(path)
        except OSError:
            continue
    for path in doomed:
        try:
            path.unlink()
            say(f"removed old copy {path}")
        except OSError as exc:
            say(f"cannot remove old copy {path}: {exc.strerror or exc}")
