"""What a command runs with: `ContextFactory` builds the Context (config, ledger, history, home, time).

The CLI holds one factory (chalice's CLIFactory): `cli.main` uses the default, which reads the real
environment; tests hand the Typer app another one (`CliRunner().invoke(app, args, obj=factory)`) that
sleeps on a fake clock, instead of patching module attributes.

Importing this module is cheap (the config, the ledger and pydantic load inside `create`), so `--help`
stays fast.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nikkei_deepar.context import Context
    from nikkei_deepar.output import Reporter


class ContextFactory:
    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        interactive_stdin: bool | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.env = env  # None: os.environ at the time a command runs
        self.cwd = cwd  # None: the working directory at the time a command runs
        self.interactive_stdin = interactive_stdin  # None: whether stdin is a terminal
        self.sleep = sleep
        self.clock = clock
        self.now = now  # None: the real wall clock

    def create(self, common: dict[str, Any], reporter: Reporter, *, reads_config: bool = True) -> Context:
        """The context for one command: its config (with --config/--region/--profile), ledger, reporter.

        A command that does not read the config (`config init`, which writes the file --config names)
        runs on the defaults.
        """
        from nikkei_deepar.config import LoadedConfig, Settings, load_config
        from nikkei_deepar.context import Context
        from nikkei_deepar.history import HISTORY_FILE, LocalHistory
        from nikkei_deepar.state.local import LocalStateStore, default_home

        overrides = {"aws.region": common["region"], "aws.profile": common["profile"]}
        if reads_config:
            loaded = load_config(common["config"], env=self.env, cwd=self.cwd, overrides=overrides)
        else:
            loaded = LoadedConfig(settings=Settings(), path=None, origin="defaults")
        env = os.environ if self.env is None else dict(self.env)
        home = default_home(loaded.path, env=env, cwd=self.cwd or Path.cwd())
        interactive = sys.stdin.isatty() if self.interactive_stdin is None else self.interactive_stdin
        state = LocalStateStore(home, sleep=self.sleep, clock=self.clock)
        clock = {} if self.now is None else {"now": self.now}
        return Context(
            loaded=loaded,
            state=state,
            history=LocalHistory(state.folder / HISTORY_FILE),  # one per workspace, beside its ledger
            home=home,
            reporter=reporter,
            interactive_stdin=interactive,
            sleep=self.sleep,
            clock=self.clock,
            timeout=common.get("timeout"),  # a command's --timeout bounds all of it
            **clock,
        )
