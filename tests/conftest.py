"""Hermetic test environment: fake credentials, no real AWS reachable, the tool's home in a temp dir.

Fixtures:
- `aws`: an in-process moto (`mock_aws`) for the test's duration.
- `moto_server`: one ThreadedMotoServer on 127.0.0.1 per session, reset before each test that uses it;
  yields its URL (set `AWS_ENDPOINT_URL` to it for a subprocess).
- `run_cli`: invoke the CLI in-process through Typer's runner (stdout and stderr separate); pass
  `factory=` to give the app another ContextFactory.
- `clock`: a FakeClock (sleeping advances it); `cli`: run_cli on that clock, with moto, the lifecycle
  config in the working directory and the ledger seeded as `prepare` leaves it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# helpers whose asserts stand for a test's own: pytest explains their failures as it does a test's
pytest.register_assert_rewrite("status_picture")

REGION = "ap-northeast-1"


def _one_model_loader_per_process() -> None:
    """Every botocore session in a test process shares one data loader, so each service's JSON model
    and endpoint rules are read and parsed once per process rather than once per client (~0.1 s each;
    the tests build thousands). The tool builds one session per command and is not touched: this only
    changes how often the tests re-read the same files, never what a client does."""
    import functools

    import botocore.session

    botocore.session.create_loader = functools.cache(botocore.session.create_loader)  # type: ignore[assignment]


_one_model_loader_per_process()


def _one_click_command_per_app() -> None:
    """Typer rebuilds the whole click command tree from the app on every call (`app(...)` and
    CliRunner.invoke: ~40 ms, every option's signature and annotations read again; the tests invoke the
    CLI in-process over a thousand times). The tool's app does not change once imported, so each app's
    tree is built once per process, and again only if commands were added to it since (tests/cli's
    throwaway groups). The executable builds it once per run anyway: nothing a command does changes."""
    import weakref

    import typer.main
    import typer.testing

    get_command = typer.main.get_command
    built: weakref.WeakKeyDictionary[typer.Typer, tuple[Any, Any]] = weakref.WeakKeyDictionary()

    def build(app: typer.Typer) -> Any:
        shape = (len(app.registered_commands), len(app.registered_groups), app.registered_callback)
        hit = built.get(app)
        if hit is None or hit[0] != shape:
            hit = built[app] = (shape, get_command(app))
        return hit[1]

    typer.main.get_command = build  # Typer.__call__ looks it up here (e2e_shell.run_app)
    assert typer.testing._get_command is get_command  # CliRunner.invoke's: fails loudly if typer renames it
    typer.testing._get_command = build


_one_click_command_per_app()


@pytest.fixture(autouse=True)
def hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Never touch a real account or the user's home: fake keys, no config files, tool home in tmp.

    Returns the default workspace's folder (project nikkei-deepar, stage dev) in that home: where a command
    with the default tags keeps its state and the local backend its files; `tool_home` is the home."""
    for var in list(os.environ):
        if var.startswith(("AWS_", "NIKKEI_DEEPAR_")) or var == "NO_COLOR":
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # Keep botocore's retries short: moto answers unimplemented calls with 500s in server mode.
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    # times people read are shown in $TZ (unless [output] timezone says otherwise): the same on every machine
    monkeypatch.setenv("TZ", "UTC")
    home = tmp_path / "home"
    monkeypatch.setenv("NIKKEI_DEEPAR_HOME", str(home))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    return home / "workspaces" / "nikkei-deepar" / "dev"


@pytest.fixture
def tool_home(hermetic_env: Path) -> Path:
    """The tool's home ($NIKKEI_DEEPAR_HOME): caches and downloads; workspaces live under it."""
    return hermetic_env.parents[2]


@pytest.fixture
def aws() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture(scope="session")
def _moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_server(_moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The server's URL, freshly reset; AWS_ENDPOINT_URL points at it for this test, and commands run
    against it poll fast (e2e_shell.FAST_POLLS)."""
    import urllib.request

    from e2e_shell import FAST_POLLS

    urllib.request.urlopen(urllib.request.Request(f"{_moto_server}/moto-api/reset", method="POST")).read()
    monkeypatch.setenv("AWS_ENDPOINT_URL", _moto_server)
    for name, value in FAST_POLLS.items():
        monkeypatch.setenv(name, value)
    return _moto_server


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def run_cli() -> Callable[..., CliResult]:
    from typer.testing import CliRunner

    from nikkei_deepar.cli import app

    def invoke(*args: str, input: str | None = None, factory: Any = None) -> CliResult:
        runner = CliRunner()
        result = runner.invoke(app, list(args), input=input, catch_exceptions=False, obj=factory)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return invoke


@pytest.fixture
def clock() -> Any:
    """A FakeClock: `ctx.clock` and `ctx.sleep` in one; sleeping advances it (see sagemaker_script)."""
    from sagemaker_script import FakeClock

    return FakeClock()


@pytest.fixture
def cli(
    aws: None, hermetic_env: Path, clock: Any, run_cli: Callable[..., CliResult]
) -> Callable[..., CliResult]:
    """run_cli whose contexts sleep on `clock`, with the lifecycle config in the working directory and
    the ledger seeded as `prepare` leaves it."""
    from sagemaker_script import LIFECYCLE_CONFIG, clocked_factory, evening_after, make_context, seed_prepared

    Path("nikkei-deepar.toml").write_text(LIFECYCLE_CONFIG, encoding="utf-8")
    seeded = seed_prepared(make_context(hermetic_env))
    # the evening of the seeded data's last close: fresh data, as a daily run sees it
    factory = clocked_factory(clock, now=evening_after(dt.date.fromisoformat(seeded.last)))

    def invoke(*args: str, input: str | None = None) -> CliResult:
        return run_cli(*args, input=input, factory=factory)

    return invoke


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def sm_script(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A scripted SageMaker on moto's classes (status sequences, UpdateEndpoint, canned errors);
    see tests/sagemaker_script.py. Works with `aws` and with `moto_server` (same process)."""
    from sagemaker_script import install

    return install(monkeypatch)


@pytest.fixture
def step_context(hermetic_env: Path, tool_home: Path) -> Callable[..., Any]:
    """Build a Context for step tests: `step_context(aws={...}, interactive_stdin=False)`; settings from
    keyword sections, the ledger in its workspace's folder of the test's home (as the CLI keeps it: the
    default tags' is `hermetic_env`), progress captured in `ctx.reporter.stream`."""
    import io

    from nikkei_deepar.config import LoadedConfig, Settings
    from nikkei_deepar.context import Context
    from nikkei_deepar.history import HISTORY_FILE, LocalHistory
    from nikkei_deepar.output import Reporter
    from nikkei_deepar.state.local import LocalStateStore

    def build(*, interactive_stdin: bool = False, **sections: Any) -> Context:
        settings = Settings.model_validate(sections)
        reporter = Reporter(interactive=False, color=False, stream=io.StringIO())
        folder = settings.workspace.folder(tool_home)
        return Context(
            loaded=LoadedConfig(settings=settings, path=None, origin="test"),
            state=LocalStateStore(folder),
            history=LocalHistory(folder / HISTORY_FILE),
            home=tool_home,
            workspace_dir=folder,
            reporter=reporter,
            interactive_stdin=interactive_stdin,
        )

    return build


@pytest.fixture(autouse=True)
def _moto_treats_requests_as_tls(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Test requests count as TLS for moto's bucket-policy checks (see tests/moto_tls.py). Only for tests
    that use moto (`aws` / `moto_server`)."""
    if not {"aws", "moto_server"} & set(request.fixturenames):
        return
    from moto.s3.models import FakeBucket

    from moto_tls import tls_aware

    monkeypatch.setattr(FakeBucket, "get_permission", tls_aware(FakeBucket.get_permission))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long modules first: under pytest-xdist (scripts/test.sh: two workers, --dist loadscope, a module
    at a time in collection order) a long module started last keeps one worker busy while the other has
    nothing left, so the longest (the benchmarks' smoke runs) goes first, then those that train a model
    (`local`), the executable's (`e2e`), tests/hostile, and the rest; the order within a module is kept."""

    def rank(module: str, its: list[pytest.Item]) -> int:
        if module == "tests/test_bench_smoke.py":
            return -1
        if any(i.get_closest_marker("local") for i in its):
            return 0
        if any(i.get_closest_marker("e2e") for i in its):
            return 1
        return 2 if module.startswith("tests/hostile/") else 3

    by_module: dict[str, list[pytest.Item]] = {}
    for item in items:
        by_module.setdefault(item.nodeid.split("::")[0], []).append(item)
    ranks = {module: rank(module, its) for module, its in by_module.items()}  # once per module, not per item
    items.sort(key=lambda item: ranks[item.nodeid.split("::")[0]])
