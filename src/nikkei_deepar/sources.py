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
- `timeout` bounds the connection and each read; `deadline` bounds the whole download, retries and
  their waits included (`[data] download_timeout_seconds`). A server that drips a byte every few
  seconds, or stalls mid-header, is cut off at the deadline: each read waits at most what is left, and
  a watchdog shuts the socket down when the time is up, whatever http.client is doing with it.
- Where a download may connect: http and https only, on every hop (a redirect to file:, ftp: or
  anything else is refused, never followed; at most 5 redirects). The name of every hop is resolved
  here and the connection made to the checked address itself (no second lookup that could answer
  differently): a link-local address (169.254.0.0/16, fe80::/10, where cloud metadata services
  answer), an unspecified, multicast or reserved one is always refused; loopback and private addresses
  too unless `allow_private` (`[data] allow_private_network`). Through a proxy (http_proxy /
  https_proxy), the target's own name is checked and the proxy is trusted as configured.
- A URL's `user:password@` is sent as HTTP Basic authentication to that host only (never forwarded on
  a redirect) and never printed: messages carry the URL, and the output boundary redacts it.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import http.client
import ipaddress
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

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
    # stooq's full ^NKX history reaches back before the index's first session (1949-05-16), which
    # `prepare` refuses as impossible dates: ask only from that session on (d1 = first day, YYYYMMDD).
    "stooq": "https://stooq.com/q/d/l/?s=^nkx&i=d&d1=19490516",
}
USER_AGENT = f"nikkei-deepar/{__version__} (Python urllib; a daily Nikkei 225 price download)"
MAX_BYTES = 64 * 1024 * 1024
DEFAULT_KEEP = 10
DEFAULT_DEADLINE = 300.0  # seconds for the whole download, retries included
MAX_REDIRECTS = 5
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
    named: Mapping[str, str] | None = None,
    max_bytes: int = MAX_BYTES,
    keep: int = DEFAULT_KEEP,
    allow_stale: bool = False,
    notify: Notify | None = None,
    deadline: float = DEFAULT_DEADLINE,
    allow_private: bool = False,
    proxies: Mapping[str, str] | None = None,
) -> FetchResult:
    """Download `source`, validate it, keep it as today's copy in `cache_dir`; see the module docstring.

    `validate(raw, url)` must raise `DataError` for bytes that are not a usable price file (any other
    exception is a bug and propagates). `notify` receives one line per retry and per pruned copy.
    `proxies` None: the environment's (http_proxy, https_proxy, no_proxy); ``{}``: none.
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

    budget = _Budget(deadline, per_read=timeout)
    try:
        raw, made = _download(
            url,
            attempts=attempts,
            backoff=backoff,
            sleep=sleep,
            opener=_opener(budget, allow_private=allow_private, proxies=proxies),
            budget=budget,
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
    attempts: int,
    backoff: float,
    sleep: Sleep,
    opener: urllib.request.OpenerDirector,
    budget: _Budget,
    max_bytes: int,
    say: Notify,
) -> tuple[bytes, int]:
    request = _request(url)
    for attempt in range(1, attempts + 1):
        try:
            return _get(opener, request, budget=budget, max_bytes=max_bytes), attempt
        except _Attempt as exc:
            if not exc.retry:
                raise _Failed(exc.reason, attempt) from None
            if attempt == attempts:
                tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
                raise _Failed(f"{exc.reason} (after {tries})", attempt) from None
            wait = exc.wait if exc.wait is not None else backoff * 2 ** (attempt - 1)
            if wait >= budget.remaining():
                reason = f"{exc.reason}; no time left for another attempt ({budget.said()})"
                raise _Failed(reason, attempt) from None
            say(f"download attempt {attempt}/{attempts} of {url} failed: {exc.reason}; retrying in {wait:g}s")
            sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _request(url: str) -> urllib.request.Request:
    """The GET request; a `user:password@` in the URL becomes Basic authentication for this host only."""
    parts = urllib.parse.urlsplit(url)
    headers = {"User-Agent": USER_AGENT, "Accept": "text/csv, */*"}
    if "@" not in parts.netloc:
        return urllib.request.Request(url, headers=headers)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    request = urllib.request.Request(parts._replace(netloc=hostport).geturl(), headers=headers)
    user, _, password = userinfo.partition(":")
    pair = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}".encode()
    request.add_unredirected_header("Authorization", "Basic " + base64.b64encode(pair).decode("ascii"))
    return request


def _get(
    opener: urllib.request.OpenerDirector,
    request: urllib.request.Request,
    *,
    budget: _Budget,
    max_bytes: int,
) -> bytes:
    if budget.remaining() <= 0:
        raise _Attempt(f"no complete answer within {budget.said()}", retry=False)
    budget.start_watch()
    try:
        return _read(opener, request, budget=budget, max_bytes=max_bytes)
    except _Attempt as exc:
        if exc.retry and budget.remaining() <= 0:  # the watchdog cut it short: say so
            raise _Attempt(f"no complete answer within {budget.said()}", retry=False) from None
        raise
    except _Refused as exc:
        raise _Attempt(exc.reason, retry=False) from None
    except Exception as exc:
        if budget.remaining() <= 0:
            raise _Attempt(f"no complete answer within {budget.said()}", retry=False) from None
        raise _reason(exc, budget.per_read) from None
    finally:
        budget.stop_watch()


def _read(
    opener: urllib.request.OpenerDirector,
    request: urllib.request.Request,
    *,
    budget: _Budget,
    max_bytes: int,
) -> bytes:
    with opener.open(request, timeout=budget.timeout()) as response:
        declared = _content_length(response.headers.get("Content-Length"))
        if declared is not None and declared > max_bytes:
            raise _Attempt(f"response too large: {declared} bytes (limit {max_bytes})", retry=False)
        body = bytearray()
        while True:
            budget.arm()
            # read1: one recv at most, so a server that drips bytes cannot hold one read open
            chunk = response.read1(_CHUNK)
            if not chunk:
                break
            body += chunk
            if len(body) > max_bytes:
                raise _Attempt(f"response too large: over {max_bytes} bytes", retry=False)
    if declared is not None and len(body) < declared:
        raise _Attempt(f"connection dropped: got {len(body)} of {declared} bytes", retry=True)
    return bytes(body)


def _reason(exc: Exception, timeout: float) -> _Attempt:
    """One failed request, worded, and whether another attempt may succeed."""
    if isinstance(exc, urllib.error.HTTPError):
        status = f"HTTP {exc.code} {exc.reason}".rstrip()
        exc.close()
        if exc.code == 429 or exc.code >= 500:
            return _Attempt(status, retry=True, wait=_retry_after(exc.headers.get("Retry-After")))
        return _Attempt(status, retry=False)
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return _Attempt(f"timed out after {timeout:g}s", retry=True)
        return _Attempt(f"cannot connect: {_os_reason(reason)}", retry=True)
    if isinstance(exc, TimeoutError):
        return _Attempt(f"timed out after {timeout:g}s", retry=True)
    if isinstance(exc, http.client.HTTPException | ConnectionError):
        return _Attempt(f"connection dropped: {type(exc).__name__} {exc}".rstrip(), retry=True)
    if isinstance(exc, OSError):
        return _Attempt(f"network error: {_os_reason(exc)}", retry=True)
    raise exc


# -- the network rules: a total deadline, and where a download may connect --------------------------
class _Refused(Exception):
    """A hop the rules forbid (scheme, address): never retried. Not an OSError, so that urllib does not
    wrap it as a connection failure."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Budget:
    """The whole download's deadline, and the sockets that must end by it."""

    seconds: float
    per_read: float
    clock: Callable[[], float] = time.monotonic
    at: float = 0.0
    _sockets: list[socket.socket] = field(default_factory=list)
    _watch: threading.Timer | None = None

    def __post_init__(self) -> None:
        self.at = self.clock() + self.seconds

    def remaining(self) -> float:
        return self.at - self.clock()

    def said(self) -> str:
        return f"{self.seconds:g} s, [data] download_timeout_seconds"

    def timeout(self) -> float:
        """The timeout of the next connect or read: the per-read timeout, or what is left if less."""
        left = self.remaining()
        if left <= 0:
            raise TimeoutError("deadline reached")
        return min(self.per_read, left)

    def track(self, sock: socket.socket) -> None:
        self._sockets.append(sock)

    def arm(self) -> None:
        """Before a read: TimeoutError once the deadline has passed, else every live socket waits at
        most what is left (a TLS socket is tracked too: wrapping detaches the plain one)."""
        timeout = self.timeout()
        for sock in self._sockets:
            if sock.fileno() >= 0:
                sock.settimeout(timeout)

    def start_watch(self) -> None:
        """At the deadline, shut every socket down: a blocked read returns at once, whatever reads it."""
        self._watch = threading.Timer(max(0.0, self.remaining()), self._cut)
        self._watch.daemon = True
        self._watch.start()

    def stop_watch(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        self._sockets.clear()

    def _cut(self) -> None:
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def forbidden_address(address: str, *, allow_private: bool) -> str | None:
    """Why a download may not connect to `address` (an IP), or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    setting = "set [data] allow_private_network = true to allow it"
    if ip.is_link_local:
        return "a link-local address (where cloud metadata services answer), never allowed"
    if ip.is_unspecified or ip.is_multicast:
        return "not an address a price server has, never allowed"
    if ip.is_loopback:
        return None if allow_private else f"a loopback address; {setting}"
    if ip.is_reserved:
        return "a reserved address, never allowed"
    if not ip.is_global:
        return None if allow_private else f"a private address; {setting}"
    return None


def _checked_addresses(host: str, port: int, *, allow_private: bool) -> list[tuple[Any, ...]]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc.strerror or exc}") from None
    for *_, sockaddr in infos:
        why = forbidden_address(str(sockaddr[0]), allow_private=allow_private)
        if why is not None:
            raise _Refused(f"refused to connect to {host} ({sockaddr[0]}): {why}")
    return infos


Connect = Callable[..., socket.socket]


def _guarded_connect(budget: _Budget, *, allow_private: bool) -> Connect:
    """A `socket.create_connection` that connects only to checked addresses, within the budget."""

    def connect(address: tuple[str, int], *_: Any, **__: Any) -> socket.socket:
        host, port = address
        last: OSError | None = None
        for family, kind, proto, _, sockaddr in _checked_addresses(host, port, allow_private=allow_private):
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(budget.timeout())
                budget.track(sock)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                last = exc
        raise last or OSError(f"cannot connect to {host}")

    return connect


def _proxy_connect(budget: _Budget) -> Connect:
    def connect(address: tuple[str, int], *_: Any, **__: Any) -> socket.socket:
        sock = socket.create_connection(address, budget.timeout())
        budget.track(sock)
        return sock

    return connect


def _connection(
    cls: type[http.client.HTTPConnection], connect: Connect, budget: _Budget, *args: Any, **kwargs: Any
) -> http.client.HTTPConnection:
    conn = cls(*args, **kwargs)
    conn._create_connection = connect  # type: ignore[attr-defined]  # http.client's own seam
    plain_connect = conn.connect

    def connect_and_track() -> None:
        plain_connect()
        budget.track(conn.sock)  # for https, the TLS socket that wraps the one `connect` made

    conn.connect = connect_and_track  # type: ignore[method-assign]
    return conn


class _Guard:
    """What the http and https handlers share: check the target, connect only to checked addresses."""

    budget: _Budget
    allow_private: bool

    def _connect_for(self, req: urllib.request.Request) -> Connect:
        if getattr(req, "_tunnel_host", None) or req.has_proxy():
            # through a proxy: check the target's own address; the proxy is the user's to trust
            parts = urllib.parse.urlsplit(req.full_url)
            default = 443 if parts.scheme == "https" else 80
            _checked_addresses(parts.hostname or "", parts.port or default, allow_private=self.allow_private)
            return _proxy_connect(self.budget)
        return _guarded_connect(self.budget, allow_private=self.allow_private)


class _HTTP(urllib.request.HTTPHandler, _Guard):
    def http_open(self, req: urllib.request.Request) -> Any:
        factory = functools.partial(
            _connection, http.client.HTTPConnection, self._connect_for(req), self.budget
        )
        return self.do_open(factory, req)


class _HTTPS(urllib.request.HTTPSHandler, _Guard):
    def https_open(self, req: urllib.request.Request) -> Any:
        factory = functools.partial(
            _connection, http.client.HTTPSConnection, self._connect_for(req), self.budget
        )
        return self.do_open(factory, req, context=self._context)  # type: ignore[attr-defined]


class _Redirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if scheme not in ("http", "https"):
            raise _Refused(f"redirected to a {scheme or 'schemeless'} URL; only http and https are followed")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(
    budget: _Budget, *, allow_private: bool, proxies: Mapping[str, str] | None
) -> urllib.request.OpenerDirector:
    """An opener with only what a download needs (no file:, ftp: or data: handler), every hop guarded."""
    guarded: list[urllib.request.BaseHandler] = []
    for cls in (_HTTP, _HTTPS):
        handler = cls()
        handler.budget, handler.allow_private = budget, allow_private
        guarded.append(handler)
    opener = urllib.request.OpenerDirector()
    for each in (
        urllib.request.ProxyHandler(None if proxies is None else dict(proxies)),
        urllib.request.UnknownHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        _Redirects(),
        urllib.request.HTTPErrorProcessor(),
        *guarded,
    ):
        opener.add_handler(each)
    return opener


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
