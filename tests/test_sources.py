"""`sources.fetch_source` against a local HTTP server on 127.0.0.1: nothing here reaches the internet.

The server (one per module, port 0) serves a FRED and a stooq CSV and every failure a download meets:
5xx that recovers and that does not, 429 with Retry-After, 404, a response slower than the timeout, a
garbage body, a body cut short of its Content-Length, a body over the size cap. Retried paths count
requests per path; tests put a fresh key in such paths so no test sees another's count. `sleep` is a
recorder, so no test really waits for a backoff.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from nikkei_deepar.data.dates import FIRST_SESSION
from nikkei_deepar.errors import DataError, ExitCode
from nikkei_deepar.sources import (
    NAMED_SOURCES,
    USER_AGENT,
    FetchResult,
    cache_name,
    fetch_source,
    is_remote,
    resolve_url,
)

TODAY = date(2025, 1, 10)
YESTERDAY = "2025-01-09"

# FRED's current format: `observation_date,NIKKEI225`, holidays kept as rows with an empty value.
FRED_CSV = (
    b"observation_date,NIKKEI225\n"
    b"2024-12-30,39894.54\n"
    b"2024-12-31,\n"
    b"2025-01-01,\n"
    b"2025-01-02,\n"
    b"2025-01-03,\n"
    b"2025-01-06,39307.05\n"
    b"2025-01-07,40083.30\n"
    b"2025-01-08,39981.06\n"
    b"2025-01-09,39605.09\n"
)
# stooq `^nkx_d.csv`: CRLF, mixed precision, a row with 5 fields where the volume is missing.
STOOQ_CSV = (
    b"Date,Open,High,Low,Close,Volume\r\n"
    b"2024-12-27,39672.15,40398.23,39669.11,40281.16,1.2e+09\r\n"
    b"2024-12-30,40325.8,40325.8,39864.89,39894.54\r\n"
    b"2025-01-06,39742.54,39937.17,39212.8,39307.05,1531000000\r\n"
    b"2025-01-07,39390.07,40288.8,39354.87,40083.3,1510000000\r\n"
)
GARBAGE = b"<html><body>Exceeded the daily hits limit</body></html>\n"
KNOWN_HEADERS = (b"observation_date,NIKKEI225", b"DATE,NIKKEI225", b"Date,Open,High,Low,Close,Volume")


# --- the local server ------------------------------------------------------------------------------


@dataclass
class Site:
    url: str
    hits: Counter[str] = field(default_factory=Counter)
    agents: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def at(self, path: str) -> str:
        return self.url + path

    def keyed(self, route: str) -> tuple[str, str]:
        """A URL and its path under `route` that no other test uses (for per-path request counts)."""
        path = f"/{route}/{uuid.uuid4().hex}"
        return self.url + path, path


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep pytest's output clean
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            with site.lock:
                site.hits[path] += 1
                hit = site.hits[path]
                site.agents.append(self.headers.get("User-Agent", ""))
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
                self._route(path, hit)

        def _route(self, path: str, hit: int) -> None:
            route = path.split("/")[1]
            if route in ("fred.csv", "fred"):
                self._send(200, FRED_CSV)
            elif route == "stooq.csv":
                self._send(200, STOOQ_CSV)
            elif route == "flaky":  # 500 twice, then the file
                self._send(500, b"oops") if hit <= 2 else self._send(200, FRED_CSV)
            elif route == "busy":  # 429 with Retry-After once, then the file
                if hit == 1:
                    self._send(429, b"slow down", headers={"Retry-After": "7"})
                else:
                    self._send(200, FRED_CSV)
            elif route == "always503":
                self._send(503, b"down")
            elif route == "missing":
                self._send(404, b"no such series")
            elif route == "slow":
                time.sleep(1.0)
                self._send(200, FRED_CSV)
            elif route == "garbage":
                self._send(200, GARBAGE)
            elif route == "truncated":  # promises 5000 bytes, sends 100, closes
                self._send(200, FRED_CSV[:100], headers={"Content-Length": "5000"})
            elif route == "drops-once":
                if hit == 1:
                    self._send(200, FRED_CSV[:50], headers={"Content-Length": str(len(FRED_CSV))})
                else:
                    self._send(200, FRED_CSV)
            elif route == "unsized":  # no Content-Length: the body ends when the connection closes
                self._send(200, FRED_CSV * 20, headers={"Content-Length": None})
            else:
                self._send(404, b"unknown route")

        def _send(self, status: int, body: bytes, headers: dict[str, str | None] | None = None) -> None:
            headers = {"Content-Type": "text/csv", "Content-Length": str(len(body)), **(headers or {})}
            self.send_response(status)
            for key, value in headers.items():
                if value is not None:
                    self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

    return Handler


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    site = Site(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    server.daemon_threads = True
    server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


# --- helpers ---------------------------------------------------------------------------------------


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def header_check(raw: bytes, source: str) -> None:
    """A stand-in for the price reader: a known header on the first line, or DataError."""
    first = raw.split(b"\n", 1)[0].strip().lstrip(b"\xef\xbb\xbf")
    if first not in KNOWN_HEADERS:
        raise DataError(f"{source}:1: no date and close header", hint="Is this a price file?")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "sources"


@pytest.fixture
def fetch(cache: Path) -> Callable[..., FetchResult]:
    def run(source: str, **kwargs: Any) -> FetchResult:
        options: dict[str, Any] = {
            "cache_dir": cache,
            "validate": header_check,
            "today": TODAY,
            "proxies": {},  # the system's proxy settings must not route 127.0.0.1 anywhere
            "allow_private": True,  # the test server is on 127.0.0.1
            "sleep": Sleeps(),
        }
        options.update(kwargs)
        return fetch_source(source, **options)

    return run


def seed(cache: Path, name: str = "fred", day: str = YESTERDAY, body: bytes = FRED_CSV) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{name}-{day}.csv"
    path.write_bytes(body)
    return path


def listing(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def no_temp_files(cache: Path) -> bool:
    return not [name for name in listing(cache) if name.startswith(".") or name.endswith(".tmp")]


def failing(fetch: Callable[..., FetchResult], source: str, **kwargs: Any) -> tuple[DataError, Sleeps]:
    sleeps = Sleeps()
    with pytest.raises(DataError) as caught:
        fetch(source, sleep=sleeps, **kwargs)
    return caught.value, sleeps


# --- names -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "remote"),
    [
        ("fred", True),
        ("FRED", True),
        (" Stooq ", True),
        ("https://example.com/nikkei.csv", True),
        ("HTTP://example.com/x?id=1", True),
        ("data/nikkei.csv", False),
        ("./fred", False),
        ("/abs/path/fred.csv", False),
        ("file:///tmp/nikkei.csv", False),
        ("https:///no-host", False),
        ("ftp://example.com/nikkei.csv", False),
        ("fred:NIKKEI225", False),
    ],
)
def test_is_remote(source: str, remote: bool) -> None:
    assert is_remote(source) is remote


def test_named_sources_and_cache_names() -> None:
    assert NAMED_SOURCES == {
        "fred": "https://fred.stlouisfed.org/graph/fredgraph.csv?id=NIKKEI225",
        "stooq": "https://stooq.com/q/d/l/?s=^nkx&i=d&d1=19490516",
    }
    # prepare refuses dates before the index's first session: the named source never asks for them
    assert NAMED_SOURCES["stooq"].endswith("d1=" + FIRST_SESSION.strftime("%Y%m%d"))
    assert resolve_url("Fred") == NAMED_SOURCES["fred"]
    assert resolve_url("https://example.com/a.csv") == "https://example.com/a.csv"
    with pytest.raises(ValueError, match="not a URL or a named source"):
        resolve_url("data/nikkei.csv")
    assert cache_name("STOOQ") == "stooq"
    a = cache_name("https://example.com/q/d/l/?s=^nkx&i=d")
    b = cache_name("https://example.com/q/d/l/?s=^spx&i=d")
    assert a.startswith("example.com-l-") and a != b
    assert "/" not in a and "?" not in a and "^" not in a


# --- success ---------------------------------------------------------------------------------------


def test_fred_download_writes_todays_dated_copy(fetch: Callable[..., FetchResult], site: Site) -> None:
    url = site.at("/fred.csv")
    result = fetch(url)
    assert result.fresh and result.error is None and result.kept_previous is None
    assert result.url == url and result.source == url and result.attempts == 1
    assert result.path.name == f"{cache_name(url)}-2025-01-10.csv"
    assert result.path.read_bytes() == FRED_CSV and result.size == len(FRED_CSV)
    assert no_temp_files(result.path.parent)
    assert USER_AGENT in site.agents


def test_stooq_download_is_kept_byte_for_byte(fetch: Callable[..., FetchResult], site: Site) -> None:
    result = fetch(site.at("/stooq.csv"))
    assert result.path.read_bytes() == STOOQ_CSV  # CRLF and the short row untouched


def test_named_source_uses_the_override_map(
    fetch: Callable[..., FetchResult], site: Site, cache: Path
) -> None:
    previous = seed(cache)
    result = fetch("FRED", named={"fred": site.at("/fred")})
    assert result.path == cache / "fred-2025-01-10.csv"
    assert result.url == site.at("/fred") and result.source == "FRED"
    assert result.kept_previous == previous and previous.read_bytes() == FRED_CSV
    assert listing(cache) == ["fred-2025-01-09.csv", "fred-2025-01-10.csv"]


def test_default_opener_and_default_date(cache: Path, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    result = fetch_source(
        "fred", cache_dir=cache, validate=header_check, named={"fred": site.at("/fred")}, allow_private=True
    )
    assert result.path.name == f"fred-{date.today().isoformat()}.csv"


def test_retries_500_with_exponential_backoff(fetch: Callable[..., FetchResult], site: Site) -> None:
    url, path = site.keyed("flaky")
    sleeps, notes = Sleeps(), list[str]()
    result = fetch(url, sleep=sleeps, notify=notes.append)
    assert result.fresh and result.attempts == 3 and site.hits[path] == 3
    assert sleeps == [1.0, 2.0]
    assert len(notes) == 2 and "attempt 1/3" in notes[0] and "HTTP 500" in notes[0]


def test_429_waits_for_retry_after(fetch: Callable[..., FetchResult], site: Site) -> None:
    url, path = site.keyed("busy")
    sleeps = Sleeps()
    assert fetch(url, sleep=sleeps).fresh
    assert sleeps == [7.0] and site.hits[path] == 2


def test_connection_dropped_once_is_retried(fetch: Callable[..., FetchResult], site: Site) -> None:
    url, path = site.keyed("drops-once")
    result = fetch(url)
    assert result.path.read_bytes() == FRED_CSV and site.hits[path] == 2


def test_same_day_fetch_replaces_that_days_copy(
    fetch: Callable[..., FetchResult], site: Site, cache: Path
) -> None:
    earlier = seed(cache, day="2025-01-08")
    today = seed(cache, day="2025-01-10", body=b"observation_date,NIKKEI225\n2025-01-06,1.0\n")
    result = fetch("fred", named={"fred": site.at("/fred")})
    assert result.path == today and today.read_bytes() == FRED_CSV
    assert result.kept_previous == earlier
    assert listing(cache) == ["fred-2025-01-08.csv", "fred-2025-01-10.csv"]


# --- failures: the previous copy is kept and the error says why ----------------------------------


def assert_kept(error: DataError, previous: Path, body: bytes = FRED_CSV) -> None:
    assert error.exit_code == ExitCode.DATA
    assert f"kept the previous copy {previous} from {previous.stem[-10:]}" in error.message
    assert "\n" not in error.message
    assert previous.read_bytes() == body
    assert no_temp_files(previous.parent)
    assert error.hint is not None and str(previous) in error.hint


def test_5xx_that_outlasts_retries_keeps_the_previous_copy(
    fetch: Callable[..., FetchResult], site: Site, cache: Path
) -> None:
    previous = seed(cache, name="fred")
    url, path = site.keyed("always503")
    error, sleeps = failing(fetch, "fred", named={"fred": url})
    assert_kept(error, previous)
    assert error.code == "download-failed"
    assert error.message.startswith(f"download of fred failed: {url}: HTTP 503")
    assert "(after 3 attempts)" in error.message
    assert site.hits[path] == 3 and sleeps == [1.0, 2.0]
    assert listing(cache) == ["fred-2025-01-09.csv"]


def test_404_is_not_retried(fetch: Callable[..., FetchResult], site: Site, cache: Path) -> None:
    previous = seed(cache)
    url, path = site.keyed("missing")
    error, sleeps = failing(fetch, "fred", named={"fred": url})
    assert_kept(error, previous)
    assert "HTTP 404 Not Found" in error.message and "attempts" not in error.message
    assert site.hits[path] == 1 and sleeps == []


def test_slow_response_times_out(fetch: Callable[..., FetchResult], site: Site, cache: Path) -> None:
    previous = seed(cache)
    url, path = site.keyed("slow")
    error, sleeps = failing(fetch, "fred", named={"fred": url}, timeout=0.2, attempts=2)
    assert_kept(error, previous)
    assert "timed out after 0.2s (after 2 attempts)" in error.message
    assert site.hits[path] == 2 and sleeps == [1.0]


def test_garbage_body_fails_validation_without_retry(
    fetch: Callable[..., FetchResult], site: Site, cache: Path
) -> None:
    previous = seed(cache)
    url, path = site.keyed("garbage")
    error, sleeps = failing(fetch, "fred", named={"fred": url})
    assert_kept(error, previous)
    assert error.code == "download-invalid"
    assert f"not a usable price file: {url}:1: no date and close header" in error.message
    assert error.hint is not None and error.hint.startswith("Is this a price file?")
    assert site.hits[path] == 1 and sleeps == []
    assert listing(cache) == ["fred-2025-01-09.csv"]


def test_truncated_body_never_reaches_the_cache(
    fetch: Callable[..., FetchResult], site: Site, cache: Path
) -> None:
    previous = seed(cache)
    url, path = site.keyed("truncated")
    error, _ = failing(fetch, "fred", named={"fred": url})
    assert_kept(error, previous)
    assert "connection dropped: got 100 of 5000 bytes (after 3 attempts)" in error.message
    assert site.hits[path] == 3
    assert listing(cache) == ["fred-2025-01-09.csv"]


def test_connection_refused(fetch: Callable[..., FetchResult], cache: Path) -> None:
    previous = seed(cache)
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error, sleeps = failing(fetch, "fred", named={"fred": f"http://127.0.0.1:{port}/x.csv"})
    assert_kept(error, previous)
    assert "cannot connect:" in error.message and sleeps == [1.0, 2.0]


@pytest.mark.parametrize("route", ["fred.csv", "unsized"])
def test_size_cap_declared_or_counted(
    fetch: Callable[..., FetchResult], site: Site, cache: Path, route: str
) -> None:
    previous = seed(cache)
    url, path = site.keyed(route)
    error, sleeps = failing(fetch, "fred", named={"fred": url}, max_bytes=100)
    assert_kept(error, previous)
    expected = "over 100 bytes" if route == "unsized" else f"{len(FRED_CSV)} bytes (limit 100)"
    assert f"response too large: {expected}" in error.message
    assert site.hits[path] == 1 and sleeps == []


def test_failure_without_previous_copy(fetch: Callable[..., FetchResult], site: Site, cache: Path) -> None:
    url, _ = site.keyed("always503")
    error, _ = failing(fetch, url, attempts=1)
    assert error.code == "download-failed" and error.exit_code == ExitCode.DATA
    assert error.message == (
        f"download of {url} failed: {url}: HTTP 503 Service Unavailable (after 1 attempt); "
        f"no previous copy in {cache}"
    )
    assert listing(cache) == []


def test_other_sources_copies_are_not_a_previous_copy(
    fetch: Callable[..., FetchResult], site: Site, cache: Path
) -> None:
    seed(cache, name="stooq")
    error, _ = failing(fetch, "fred", named={"fred": site.at("/garbage")})
    assert "no previous copy" in error.message


def test_same_day_failure_keeps_todays_copy(
    fetch: Callable[..., FetchResult], site: Site, cache: Path
) -> None:
    seed(cache, day="2025-01-08")
    today = seed(cache, day="2025-01-10")
    error, _ = failing(fetch, "fred", named={"fred": site.at("/garbage")})
    assert_kept(error, today)


def test_allow_stale_returns_the_previous_copy(
    fetch: Callable[..., FetchResult], site: Site, cache: Path
) -> None:
    previous = seed(cache)
    url, _ = site.keyed("always503")
    result = fetch("fred", named={"fred": url}, allow_stale=True, attempts=2)
    assert not result.fresh and result.path == previous and result.kept_previous == previous
    assert result.error is not None and "\n" not in result.error
    assert "HTTP 503" in result.error and f"kept the previous copy {previous}" in result.error
    assert result.attempts == 2 and result.size == 0
    assert previous.read_bytes() == FRED_CSV


def test_allow_stale_without_previous_copy_still_raises(
    fetch: Callable[..., FetchResult], site: Site
) -> None:
    error, _ = failing(fetch, "fred", named={"fred": site.at("/garbage")}, allow_stale=True)
    assert "no previous copy" in error.message


def test_failed_save_leaves_no_temp_file(fetch: Callable[..., FetchResult], site: Site, cache: Path) -> None:
    previous = seed(cache)
    (cache / "fred-2025-01-10.csv").mkdir()  # os.replace onto a directory fails
    error, _ = failing(fetch, "fred", named={"fred": site.at("/fred")})
    assert_kept(error, previous)
    assert "cannot save the download as" in error.message
    assert listing(cache) == ["fred-2025-01-09.csv", "fred-2025-01-10.csv"]


# --- pruning ---------------------------------------------------------------------------------------


def test_keeps_the_newest_ten_copies_of_this_source_only(
    fetch: Callable[..., FetchResult], site: Site, cache: Path
) -> None:
    olds = [seed(cache, day=f"2024-12-{d:02d}") for d in range(1, 13)]  # 12 earlier copies
    stooq = [seed(cache, name="stooq", day=f"2024-11-{d:02d}", body=STOOQ_CSV) for d in range(1, 13)]
    (cache / "notes.txt").write_text("mine")
    stale_tmp = cache / ".fred-2024-12-01.csv.abc123.tmp"
    stale_tmp.write_bytes(b"half")
    os.utime(stale_tmp, (time.time() - 3 * 86400,) * 2)
    fresh_tmp = cache / ".fred-2025-01-10.csv.def456.tmp"  # perhaps another process's write
    fresh_tmp.write_bytes(b"half")
    notes: list[str] = []

    result = fetch("fred", named={"fred": site.at("/fred")}, notify=notes.append)

    fred = sorted(p for p in cache.iterdir() if p.name.startswith("fred-"))
    assert len(fred) == 10 and fred[-1] == result.path
    assert fred[:-1] == olds[-9:]
    assert all(p.exists() for p in stooq) and (cache / "notes.txt").exists()
    assert not stale_tmp.exists() and fresh_tmp.exists()
    assert result.kept_previous == olds[-1]
    assert sum("removed old copy" in n for n in notes) == 4  # 3 copies and the stale temp file


def test_keep_one_leaves_only_todays_copy(fetch: Callable[..., FetchResult], site: Site, cache: Path) -> None:
    seed(cache)
    result = fetch("fred", named={"fred": site.at("/fred")}, keep=1)
    assert listing(cache) == ["fred-2025-01-10.csv"] and result.kept_previous is None


# --- with the real price reader --------------------------------------------------------------------


def test_real_reader_accepts_fred_and_stooq_and_rejects_garbage(
    fetch: Callable[..., FetchResult], site: Site, cache: Path
) -> None:
    prices = pytest.importorskip("nikkei_deepar.data.prices")

    def validate(raw: bytes, source: str) -> object:
        return prices.parse_prices(raw, source=source)

    fred = fetch("fred", named={"fred": site.at("/fred")}, validate=validate)
    table = prices.read_prices(fred.path)
    assert table.rows == 9 and table.missing == 4
    stooq = fetch("stooq", named={"stooq": site.at("/stooq.csv")}, validate=validate)
    assert prices.read_prices(stooq.path).column == "Close"

    error, _ = failing(fetch, "fred", named={"fred": site.at("/garbage")}, validate=validate)
    assert error.code == "download-invalid"
    assert_kept(error, fred.path)
