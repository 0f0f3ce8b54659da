"""What a command runs with: `ContextFactory` builds the Context (config, ledger, reporter's home, time).

The CLI holds one factory (chalice's CLIFactory): `cli.main` uses the default, which reads the real
environment; tests hand the Typer app another one (`CliRunner().invoke(app, args, obj=factory)`) that
sleeps on a fake clock, instead of patching module attributes.

Importing this module is cheap (the config, the ledger and pydantic load inside `create`), so `--help`
stays fast.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nikkei_deepar.config import Settings
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
    ) -> None:
        self.env = env  # None: os.environ at the time a command runs
        self.cwd = cwd  # None: the working directory at the time a command runs
        self.interactive_stdin = interactive_stdin  # None: whether stdin is a terminal
        self.sleep = sleep
        self.clock = clock

    def create(
        self,
        common: dict[str, Any],
        reporter: Reporter,
        *,
        reads_config: bool = True,
        default_timeout: Callable[[Settings], float] | None = None,
    ) -> Context:
        """The context for one command: its config (with --config/--region/--profile), ledger, reporter,
        and its deadline: --timeout (`common["timeout"]`), else `default_timeout(settings)` times
        $NIKKEI_DEEPAR_DEFAULT_TIMEOUT_SCALE, plus --wait-lock for a command that may wait for the lock.

        A command that does not read the config (`config init`, which writes the file --config names)
        runs on the defaults.
        """
        from nikkei_deepar.config import LoadedConfig, Settings, load_config
        from nikkei_deepar.context import Context
        from nikkei_deepar.state.local import LocalStateStore, default_home

        overrides = {"aws.region": common["region"], "aws.profile": common["profile"]}
        if reads_config:
            loaded = load_config(common["config"], env=self.env, cwd=self.cwd, overrides=overrides)
        else:
            loaded = LoadedConfig(settings=Settings(), path=None, origin="defaults")
        env = os.environ if self.env is None else dict(self.env)
        home = default_home(loaded.path, env=env, cwd=self.cwd or Path.cwd())
        interactive = sys.stdin.isatty() if self.interactive_stdin is None else self.interactive_stdin
        timeout: float | None = common.get("timeout")
        given = timeout is not None
        if timeout is None and default_timeout is not None:
            from nikkei_deepar.deadline import MAX_SECONDS, default_scale

            scaled = default_timeout(loaded.settings) * default_scale(env)
            timeout = min(MAX_SECONDS, scaled + float(common.get("wait_lock") or 0.0))
        return Context(
            loaded=loaded,
            state=LocalStateStore(home, sleep=self.sleep, clock=self.clock),
            home=home,
            reporter=reporter,
            interactive_stdin=interactive,
            sleep=self.sleep,
            clock=self.clock,
            timeout=timeout,  # bounds all of the command
            timeout_given=given,
        )
