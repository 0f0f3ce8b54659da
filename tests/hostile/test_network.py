"""`[data] source` downloads against servers on 127.0.0.1 that misbehave: dripping a byte at a time,
stalling before or inside the headers, redirecting to other schemes, to link-local or loopback
addresses, in loops; and URLs that carry credentials.

Each download ends by its deadline (`download_timeout_seconds`, here a second or two) with a DataError
(exit 3) saying why, nothing in the cache, and no credential in any message.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from hostile.kit import assert_one_clean_error, http_server, stalled_server
from nikkei_deepar.errors import DataError
from nikkei_deepar.sources import fetch_source, forbidden_address

FRED = b"observation_date,NIKKEI225\n2025-01-06,39307.05\n2025-01-07,40083.30\n2025-01-08,39981.06\n"


def accept(raw: bytes, source: str) -> None:
    """Any bytes will do: these tests are about the network, not the format."""


def fetch(url: str, cache: Path, **options: Any) -> Any:
    settings: dict[str, Any] = {
        "cache_dir": cache,
        "validate": accept,
        "proxies": {},
        "allow_private": True,  # the servers are on 127.0.0.1
        "sleep": lambda _s: None,
        "attempts": 3,
    }
    settings.update(options)
    return fetch_source(url, **settings)


def failure(url: str, cache: Path, **options: Any) -> str:
    with pytest.raises(DataError) as caught:
        fetch(url, cache, **options)
    assert not cache.exists() or not any(cache.iterdir())  # nothing kept, no temp file left
    return caught.value.message


def drip_body(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    for _ in range(100000):
        handler.wfile.write(b"1")
        handler.wfile.flush()
        time.sleep(0.2)


def drip_headers(handler: BaseHTTPRequestHandler) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    for byte in b"X-Slow: " + b"a" * 10000:
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        time.sleep(0.2)


def redirect(to: str) -> Callable[[BaseHTTPRequestHandler], None]:
    def go(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", to)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return go


def serve(body: bytes, *, need_auth: str | None = None) -> Callable[[BaseHTTPRequestHandler], None]:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        if need_auth is not None and handler.headers.get("Authorization") != need_auth:
            handler.send_error(401)
            return
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def test_a_server_that_drips_a_byte_at_a_time_is_cut_off_at_the_deadline(tmp_path: Path) -> None:
    with http_server({"/drip": drip_body}) as base:
        message = failure(f"{base}/drip", tmp_path, deadline=1.5, timeout=30)
    assert "no complete answer within 1.5 s" in message and "download_timeout_seconds" in message


def test_a_server_that_drips_its_headers_is_cut_off_too(tmp_path: Path) -> None:
    with http_server({"/slow": drip_headers}) as base:
        message = failure(f"{base}/slow", tmp_path, deadline=1.0, timeout=30)
    assert "within 1 s" in message


def test_a_server_that_accepts_and_never_answers(tmp_path: Path) -> None:
    with stalled_server() as (base, accepted):
        message = failure(f"{base}/x.csv", tmp_path, deadline=1.0, timeout=30)
    assert "within 1 s" in message
    assert len(accepted) == 1  # no retry begins after the deadline


def test_no_retry_is_begun_when_its_wait_would_pass_the_deadline(tmp_path: Path) -> None:
    waits: list[float] = []

    def unavailable(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(503)
        handler.send_header("Retry-After", "30")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    with http_server({"/busy": unavailable}) as base:
        message = failure(f"{base}/busy", tmp_path, deadline=5, sleep=waits.append)
    assert waits == [] and "HTTP 503" in message and "no time left for another attempt" in message


@pytest.mark.parametrize(
    ("target", "said"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254): a link-local address"),
        ("http://[fe80::1]/x", "a link-local address"),
        ("http://[::ffff:169.254.169.254]/x", "a link-local address"),
        ("http://0.0.0.0/x", "never allowed"),
        ("ftp://example.com/nikkei.csv", "redirected to a ftp URL; only http and https are followed"),
        ("file:///etc/passwd", "Redirection to url 'file:///etc/passwd' is not allowed"),  # urllib's own
        ("gopher://example.com/", "is not allowed"),
    ],
)
def test_redirects_stay_on_http_and_off_link_local(tmp_path: Path, target: str, said: str) -> None:
    with http_server({"/go": redirect(target)}) as base:
        message = failure(f"{base}/go", tmp_path, deadline=10)
    assert said in message


def test_loopback_and_private_addresses_need_the_setting(tmp_path: Path) -> None:
    with http_server({"/fred.csv": serve(FRED)}) as base:
        message = failure(f"{base}/fred.csv", tmp_path, allow_private=False)
        assert "(127.0.0.1): a loopback address; set [data] allow_private_network = true" in message
        result = fetch(f"{base}/fred.csv", tmp_path, allow_private=True)
    assert result.fresh and result.path.read_bytes() == FRED


def test_a_name_is_resolved_and_its_address_checked(tmp_path: Path) -> None:
    """`localhost` is a name, not an address: what it resolves to is what is checked (and then used)."""
    with http_server({"/fred.csv": serve(FRED)}) as base:
        port = base.rsplit(":", 1)[1]
        message = failure(f"http://localhost:{port}/fred.csv", tmp_path, allow_private=False)
    assert "refused to connect to localhost (" in message and "a loopback address" in message


def test_every_hop_is_checked_not_only_the_first(tmp_path: Path) -> None:
    """The configured URL (127.0.0.1, allowed here) redirects to a name that resolves to link-local."""
    with http_server({"/fred.csv": serve(FRED)}) as inner:
        port = inner.rsplit(":", 1)[1]
        with http_server({"/go": redirect(f"http://localhost:{port}/fred.csv")}) as outer:
            assert fetch(f"{outer}/go", tmp_path).fresh  # two loopback hops, both allowed
        with http_server({"/go": redirect("http://169.254.169.254:80/latest/api/token")}) as outer:
            message = failure(f"{outer}/go", tmp_path / "other")
    assert "refused to connect to 169.254.169.254" in message


def test_a_redirect_loop_ends(tmp_path: Path) -> None:
    with http_server({"/a": redirect("/b"), "/b": redirect("/a")}) as base:
        message = failure(f"{base}/a", tmp_path)
    assert "HTTP 302" in message


@pytest.mark.parametrize(
    ("address", "private_ok", "refused"),
    [
        ("169.254.169.254", True, "link-local"),
        ("fe80::1%eth0", True, "link-local"),
        ("::ffff:169.254.169.254", True, "link-local"),
        ("224.0.0.1", True, "never allowed"),
        ("::", True, "never allowed"),
        ("127.0.0.1", False, "loopback"),
        ("::1", False, "loopback"),
        ("10.0.0.8", False, "private"),
        ("192.168.1.1", False, "private"),
        ("172.16.0.1", False, "private"),
        ("100.64.0.1", False, "private"),  # carrier-grade NAT: not global
        ("fd00::1", False, "private"),
        ("127.0.0.1", True, None),
        ("10.0.0.8", True, None),
        ("93.184.215.14", False, None),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", False, None),
    ],
)
def test_forbidden_addresses(address: str, private_ok: bool, refused: str | None) -> None:
    why = forbidden_address(address, allow_private=private_ok)
    assert (why is None) if refused is None else (why is not None and refused in why)


def test_url_credentials_are_sent_to_that_host_only_and_never_printed(
    project: Path, hermetic_env: Path, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    prices = (Path(__file__).parents[1] / "fixtures" / "prices" / "long" / "fred_new.csv").read_bytes()
    auth = "Basic " + base64.b64encode(b"alice:s3cr3t-pa55").decode()
    seen: list[str | None] = []

    def record(handler: BaseHTTPRequestHandler) -> None:
        seen.append(handler.headers.get("Authorization"))
        serve(prices)(handler)

    with http_server({"/fred.csv": serve(prices, need_auth=auth), "/elsewhere.csv": record}) as base:
        port = base.rsplit(":", 1)[1]
        url = f"http://alice:s3cr3t-pa55@127.0.0.1:{port}/fred.csv?token=tok-123456789&id=NIKKEI225"
        config = f'backend = "local"\n[data]\nsource = "{url}"\nallow_private_network = true\n'
        (project / "nikkei-deepar.toml").write_text(config, encoding="utf-8")
        ok = run_cli("prepare", "--dry-run", "--json")
        # a redirect to another host (localhost, not 127.0.0.1) gets no Authorization header
        moved = f"http://bob:hunter2-xyz@127.0.0.1:{port}/go?token=tok-987654321"
        with http_server({"/go": redirect(f"http://localhost:{port}/elsewhere.csv")}) as hop:
            moved = moved.replace(f"127.0.0.1:{port}", hop.removeprefix("http://"))
            (project / "nikkei-deepar.toml").write_text(config.replace(url, moved), encoding="utf-8")
            forwarded = run_cli("prepare", "--dry-run", "--verbose")
        (project / "nikkei-deepar.toml").write_text(
            config.replace("/fred.csv", "/gone.csv"), encoding="utf-8"
        )
        gone = run_cli("prepare", "--dry-run", "--json", "--verbose")
    assert ok.exit_code == 0, ok.stderr
    assert forwarded.exit_code == 0, forwarded.stderr
    assert seen == [None]
    assert_one_clean_error(gone, 3, "HTTP 404", "token=***", "http://***@127.0.0.1")
    assert gone.json()["errors"][0]["message"].count("***") >= 2
    for run in (ok, forwarded, gone):
        for secret in ("s3cr3t-pa55", "alice", "tok-123456789", "hunter2-xyz", "bob:", "tok-987654321"):
            assert secret not in run.stdout + run.stderr, (secret, run.stdout, run.stderr)
    assert "id=NIKKEI225" in ok.stderr  # what is not a secret stays readable
