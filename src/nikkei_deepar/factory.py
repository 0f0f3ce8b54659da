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
        now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.env = env  # None: os.environ at the time a command runs
        self.cwd = cwd  # None: the working directory at the time a command runs
        self.interactive_stdin = interactive_stdin  # None: whether stdin is a terminal
        self.sleep = sleep
        self.clock = clock
        self.now = now  # None: the real wall clock

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
        $NIKKEI_DEEPAR_DEFAULT_TIMEOUT_SCALE (the wait for the lock is not counted: the CLI pauses it).

        A command that does not read the config (`config init`, which writes the file --config names)
        runs on the defaults.
        """
        from nikkei_deepar.config import LoadedConfig, Settings, load_config
        from nikkei_deepar.context import Context
        from nikkei_deepar.history import HISTORY_FILE, LocalHistory
        from nikkei_deepar.state.local import LocalStateStore, default_home, legacy_ledger

        overrides = {"aws.region": common["region"], "aws.profile": common["profile"]}
        if reads_config:
            loaded = load_config(common["config"], env=self.env, cwd=self.cwd, overrides=overrides)
        else:
            loaded = LoadedConfig(settings=Settings(), path=None, origin="defaults")
        env = os.environ if self.env is None else dict(self.env)
        home = default_home(env=env)
        workspace = loaded.settings.workspace
        folder = workspace.folder(home)
        state = LocalStateStore(folder, sleep=self.sleep, clock=self.clock)
        if reads_config and loaded.settings.state.url is None and not state.exists():
            old = legacy_ledger(home=home, config_path=loaded.path, cwd=self.cwd or Path.cwd())
            if old is not None:
                reporter.warn(
                    f"{old} is a ledger from before workspaces; this config's workspace {workspace.label} "
                    f"keeps its state in {folder}: `nikkei-deepar state migrate` moves the old ledger there"
                )
        interactive = sys.stdin.isatty() if self.interactive_stdin is None else self.interactive_stdin
        timeout: float | None = common.get("timeout")
        given = timeout is not None
        if timeout is None and default_timeout is not None:
            from nikkei_deepar.deadline import MAX_SECONDS, default_scale

            scaled = default_timeout(loaded.settings) * default_scale(env)
            timeout = min(MAX_SECONDS, scaled)  # the lock wait is not counted (cli pauses it)
        clock = {} if self.now is None else {"now": self.now}
        from nikkei_deepar.lifecycle.polling import poll_scale

        ctx = Context(
            loaded=loaded,
            state=state,
            history=LocalHistory(folder / HISTORY_FILE),  # one per workspace, beside its local state
            home=home,
            workspace_dir=folder,
            reporter=reporter,
            interactive_stdin=interactive,
            sleep=self.sleep,
            clock=self.clock,
            poll_scale=poll_scale(env),
            timeout=timeout,  # bounds all of the command
            timeout_given=given,
            **clock,
        )
        remote = loaded.settings.state
        if remote.url is not None:  # one state for every host of the workspace, on S3
            from nikkei_deepar.state.remote import S3History, S3StateStore

            ctx.history = S3History(
                lambda: ctx.aws.s3, bucket=remote.bucket or "", key_root=workspace.key_root(remote.prefix)
            )
            ctx.state = S3StateStore(
                lambda: ctx.aws.s3,
                bucket=remote.bucket or "",
                key_root=workspace.key_root(remote.prefix),
                lease_seconds=float(remote.lease_seconds),
                sleep=self.sleep,
                clock=self.clock,
            )
        return ctx
