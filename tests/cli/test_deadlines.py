"""Every command is bounded in time: it has `--timeout SECONDS` and a default deadline, declared once where
it is registered (cli.command(..., deadline=...)), shown in its --help and listed in the guide's
"Deadlines" table in both languages. A command registered without one gets `--timeout` and the 300 s
default all the same, so a new command is bounded without anyone remembering to.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from nikkei_deepar.cli import DEADLINES, command
from nikkei_deepar.config import Settings
from nikkei_deepar.deadline import CHANGES, SCALE_ENV, TRAINING
from nikkei_deepar.lifecycle.polling import POLL_SCALE_ENV

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import gen_reference  # noqa: E402

# The default's variants the guide's table states, with the options that select them.
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "provision": [{"dry_run": True}],
    "teardown": [{"dry_run": True}],
    "train": [{"wait": True}],
    "predict": [{"batch": True}],
}


def commands() -> list[str]:
    return [" ".join(words) for words in gen_reference.command_names()]


def test_every_command_has_a_default_deadline_and_says_so_in_its_help(run_cli: Callable[..., Any]) -> None:
    assert sorted(DEADLINES) == sorted(commands())
    for name in commands():
        text = " ".join(run_cli(*name.split(), "--help").stdout.split())
        assert "--timeout SECONDS" in text, name
        assert f"Default: {DEADLINES[name].text}." in text, name


@pytest.mark.parametrize("page", ["docs/guide.md", "docs/guide.ja.md"])
def test_the_guide_lists_every_commands_deadline(page: str) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    heading = "### Deadlines" if page.endswith("guide.md") else "### 期限"
    table = text.split(heading, 1)[1].split("\n\n", 2)[2]  # the table after the paragraph
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    shipped = Settings()
    for name in commands():
        [row] = [r for r in rows if f"`{name}`" in r.split("|")[1]]  # the command column
        for options in [{}, *VARIANTS.get(name, [])]:
            seconds = DEADLINES[name].seconds(shipped, options)
            assert f"{seconds:g} s" in row, (page, name, options, seconds)


# -- the mechanism ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Seen:
    seconds: float | None
    given: bool | None

    def to_data(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "given": self.given}

    def to_lines(self) -> list[str]:
        return [f"deadline {self.seconds} given {self.given}"]


@pytest.fixture
def groups() -> Iterator[Callable[[], typer.Typer]]:
    """Throwaway one-command groups to register commands in; the registry is restored afterwards."""
    before = dict(DEADLINES)
    yield typer.Typer
    DEADLINES.clear()
    DEADLINES.update(before)


def _run(group: typer.Typer, *args: str, env: dict[str, str] | None = None) -> Any:
    result = CliRunner().invoke(group, ["--json", *args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["data"]


def test_a_new_command_gets_timeout_and_the_default_without_asking(
    groups: Callable[[], typer.Typer], project_dir: Path
) -> None:
    group = groups()

    @command("fresh", mutating=False, parent=group)
    def fresh(ctx: Any) -> Seen:
        """A command a developer adds without thinking of deadlines."""
        return Seen(ctx.deadline.seconds, ctx.deadline.given)

    assert DEADLINES["fresh"] is CHANGES
    assert _run(group) == {"seconds": 300.0, "given": False}
    assert _run(group, "--timeout", "7") == {"seconds": 7.0, "given": True}
    assert _run(group, env={SCALE_ENV: "0.5"}) == {"seconds": 150.0, "given": False}
    assert _run(group, "--timeout", "7", env={SCALE_ENV: "0.5"}) == {"seconds": 7.0, "given": True}


@dataclass(frozen=True)
class Looks:
    poll_scale: float

    def to_data(self) -> dict[str, Any]:
        return {"poll_scale": self.poll_scale}

    def to_lines(self) -> list[str]:
        return [f"poll scale {self.poll_scale}"]


def test_every_command_polls_at_the_scale_the_environment_gives(
    groups: Callable[[], typer.Typer], project_dir: Path
) -> None:
    group = groups()

    @command("looks", mutating=False, parent=group)
    def looks(ctx: Any) -> Looks:
        """A command that waits for something."""
        return Looks(ctx.poll_scale)

    assert _run(group) == {"poll_scale": 1.0}
    assert _run(group, env={POLL_SCALE_ENV: "0.05"}) == {"poll_scale": 0.05}
    assert _run(group, env={POLL_SCALE_ENV: " "}) == {"poll_scale": 1.0}  # empty: as if unset


@pytest.mark.parametrize("name", [SCALE_ENV, POLL_SCALE_ENV])
@pytest.mark.parametrize("raw", ["0", "-1", "nan", "inf", "fast", "1e9"])
def test_a_scale_that_is_no_number_above_0_is_a_usage_error_naming_it(
    name: str, raw: str, groups: Callable[[], typer.Typer], project_dir: Path
) -> None:
    group = groups()

    @command("fresh", mutating=False, parent=group)
    def fresh(ctx: Any) -> Seen:
        """Any command."""
        return Seen(ctx.deadline.seconds, ctx.deadline.given)

    result = CliRunner().invoke(group, ["--json"], env={name: raw}, catch_exceptions=False)
    assert result.exit_code == 2, result.output
    [error] = json.loads(result.stdout)["errors"]
    assert error["message"] == f"{name}={raw!r}: not a number from above 0 to 1000"
    assert error["hint"].startswith("unset it, or set it to e.g.")


def test_the_default_comes_from_the_config(groups: Callable[[], typer.Typer], project_dir: Path) -> None:
    group = groups()

    @command("long", mutating=True, parent=group, deadline=TRAINING)
    def long(ctx: Any) -> Seen:
        """The config's job limit + 30 min (the lock wait is not counted, so not added)."""
        return Seen(ctx.deadline.seconds, ctx.deadline.given)

    (project_dir / "nikkei-deepar.toml").write_text(
        'backend = "local"\n[training]\nmax_runtime_seconds = 120\n', encoding="utf-8"
    )
    assert _run(group) == {"seconds": 120 + 1800.0, "given": False}
    assert _run(group, "--wait-lock", "30") == {"seconds": 120 + 1800.0, "given": False}


def _hold_lock(folder: str, ready: Any, release: Any) -> None:
    """Another command: holds the workspace's ledger lock until `release` is set."""
    from nikkei_deepar.state.local import LocalStateStore

    with LocalStateStore(Path(folder)).lock():
        ready.set()
        release.wait(30)


def test_the_wait_for_the_lock_does_not_count_against_the_timeout(
    groups: Callable[[], typer.Typer], project_dir: Path, hermetic_env: Path
) -> None:
    """`--wait-lock 10 --timeout 1`: another command holds the lock for 1.5 s, more than the whole
    --timeout; the command waits for it, then still has its second for its own work."""
    import multiprocessing
    import threading
    import time

    group = groups()

    @command("locked", mutating=True, parent=group)
    def locked(ctx: Any) -> Seen:
        """A command that takes the ledger lock."""
        return Seen(ctx.deadline.remaining(), ctx.deadline.given)

    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(str(hermetic_env), ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        threading.Timer(1.5, release.set).start()
        started = time.monotonic()
        seen = _run(group, "--wait-lock", "10", "--timeout", "1")
        assert time.monotonic() - started >= 1.4  # it did wait for the holder
        assert seen["given"] is True and 0.5 < seen["seconds"] <= 1.0  # and its second is still its own
    finally:
        release.set()
        holder.join(10)


def test_a_command_that_needs_the_value_gets_its_timeout(
    groups: Callable[[], typer.Typer], project_dir: Path
) -> None:
    group = groups()

    @command("bounded", mutating=False, parent=group, deadline=TRAINING)
    def bounded(ctx: Any, timeout: float | None) -> Seen:
        """A command that bounds one wait inside it by --timeout: None when it was not given."""
        return Seen(timeout, ctx.deadline.given)

    assert _run(group, "--timeout", "9") == {"seconds": 9.0, "given": True}
    assert _run(group) == {"seconds": None, "given": False}


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    (tmp_path / "nikkei-deepar.toml").write_text('backend = "local"\n', encoding="utf-8")
    return tmp_path
