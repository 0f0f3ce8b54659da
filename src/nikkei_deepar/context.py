"""The only wiring: resolved settings + the state store + the forecast history + typed AWS gateways + the
backend, for one command.

Everything is created lazily, on first use, so a command builds only the clients it needs, once.
Polling code takes `sleep` and `clock` from here so tests never really wait; whatever asks what day it
is (stale data, when a forecast was issued) asks `now`, which tests fix.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from nikkei_deepar.config import LoadedConfig, Settings
from nikkei_deepar.history import HistoryStore
from nikkei_deepar.output import Reporter
from nikkei_deepar.state import StateStore
from nikkei_deepar.workspace import Workspace

if TYPE_CHECKING:
    from nikkei_deepar.aws.services import AwsServices
    from nikkei_deepar.backends.base import Backend
    from nikkei_deepar.deadline import Deadline


@dataclass
class Context:
    loaded: LoadedConfig
    state: StateStore  # where the workspace's ledger is kept (state.local, or remote)
    history: HistoryStore  # where every forecast predict issues is kept (the workspace's state location)
    home: Path  # the tool's home: caches, downloads
    reporter: Reporter
    workspace_dir: Path  # this workspace's folder on this machine: its local state, the local backend
    interactive_stdin: bool = False
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    poll_scale: float = 1.0  # $NIKKEI_DEEPAR_POLL_SCALE: the pauses between two looks, times this
    timeout: float | None = None  # a wall-clock bound on all of the command: --timeout, or its default
    timeout_given: bool = True  # False: `timeout` is the command's default deadline, not --timeout
    now: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))  # wall clock, UTC

    @property
    def settings(self) -> Settings:
        return self.loaded.settings

    @property
    def workspace(self) -> Workspace:
        return self.settings.workspace

    @cached_property
    def zone(self) -> dt.tzinfo | None:
        """The zone times are shown to people in (`[output] timezone`, else $TZ, else None: this
        machine's); --json stays UTC."""
        from nikkei_deepar.timezones import display_zone

        return display_zone(self.settings.output.timezone)

    @cached_property
    def deadline(self) -> Deadline | None:
        """The command's deadline, started on first use (the CLI asks right after building this)."""
        from nikkei_deepar.deadline import Deadline

        if self.timeout is None:
            return None
        return Deadline.start(self.timeout, clock=self.clock, given=self.timeout_given)

    @cached_property
    def aws(self) -> AwsServices:
        """The typed AWS gateways (`ctx.aws.s3`, `.iam`, `.sts`, `.sagemaker`, `.runtime`, `.logs`,
        `.scheduler`, `.pricing`)."""
        from nikkei_deepar.aws.services import connect

        aws = self.settings.aws
        return connect(
            region=aws.region,
            profile=aws.profile,
            retry_mode=aws.retry_mode,
            max_attempts=aws.max_attempts,
            on_call=self.reporter.debug if self.reporter.verbose else None,
            deadline=self.deadline,
        )

    @cached_property
    def backend(self) -> Backend:
        """Where DeepAR runs (`settings.backend`); the steps talk only to this interface."""
        return self.backend_named(self.settings.backend)

    def backend_named(self, name: str) -> Backend:
        """The backend `name` (for ledger entries another backend made); UnknownBackendError if none."""
        from nikkei_deepar.backends import create_backend

        if name == self.settings.backend and "backend" in self.__dict__:
            return self.backend
        return create_backend(
            self.settings,
            home=self.home,
            workspace_dir=self.workspace_dir,
            reporter=self.reporter,
            aws=lambda: self.aws,
            name=name,
        )
