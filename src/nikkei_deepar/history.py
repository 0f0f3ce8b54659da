"""The forecast history: every forecast `predict` issued, kept as it was printed, for `score` to judge.

A leaf (imports only `errors`). The history lives outside the ledger (which is capped and rewritten
whole): it only grows, one record per forecast, never rewritten. A second forecast for the same origin
and job is a second record, kept beside the first.

- `ForecastRecord`: one forecast as issued (versioned by `format_version`): its origin (the last
  close's date), the dated steps with the mean and quantiles as printed (after the random-walk blend),
  the random walk's forecast from the same origin at the same quantile levels, and where it came from
  (job, data set, backend, workspace, mode, when).
- `HistoryStore`: where records are kept. `append` never overwrites and says where the record went;
  `entries` reads them all back with one line per entry it could not read (a corrupt or truncated
  entry is reported and skipped, never rewritten). An entry written by a newer version of the tool is
  refused by version (`VersionError`, exit 11): this version cannot know what it would leave out.
- `LocalHistory`: one JSON Lines file per workspace (`history.jsonl` beside the ledger), mode 0600 like
  the ledger. Each record is one `write` on a descriptor opened with O_APPEND, then fsync: two
  processes appending at once never interleave a line (the kernel appends a regular file's write
  whole), and no lock is needed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from pathlib import Path
from typing import Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from nikkei_deepar.errors import DataError, VersionError

# 1: the first format. A build that reads only 1 refuses a 2 by version rather than call it corrupt.
FORMAT_VERSION = 1
HISTORY_FILE = "history.jsonl"
HISTORY_MODE = 0o600  # forecasts name the account's jobs and workspaces: the owner's only, like the ledger

Mode = Literal["endpoint", "batch", "local"]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ForecastPoint(_Model):
    """One forecast step: the `step`-th Tokyo session after the origin, its date, mean and quantiles
    (keyed by the level as printed, e.g. "0.1")."""

    step: int = Field(ge=1)
    date: dt.date
    mean: float
    quantiles: dict[str, float]


class Workspace(_Model):
    """Whose forecast it is: the project and stage of `[aws.tags]`."""

    project: str | None = None
    stage: str | None = None

    def label(self) -> str:
        return "/".join(part or "-" for part in (self.project, self.stage))


class ForecastRecord(_Model):
    """One forecast as `predict` issued it."""

    format_version: int = FORMAT_VERSION
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    issued_at: AwareDatetime = Field(default_factory=_utc_now)  # UTC
    origin: dt.date  # the last close the forecast saw
    last_close: float
    calendar: str  # the series' calendar policy ("calendar_days" | "trading_days")
    quantiles: list[str]  # the levels printed, in order
    forecast: list[ForecastPoint]  # as printed: after the random-walk blend
    random_walk: list[ForecastPoint]  # the random walk from the same origin, same dates and levels
    random_walk_weight: float
    # MASE's scale for this forecast: the mean absolute one-session change of the closes up to the
    # origin (as `backtest` scales each window by its own history), kept so a score never depends on
    # what data is prepared later
    mase_scale: float | None
    job: str | None
    data_sha256: str
    backend: str
    workspace: Workspace
    mode: Mode
    source: str  # the endpoint, or the transform job

    @field_validator("issued_at")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        return value.astimezone(dt.UTC)

    def to_line(self) -> bytes:
        """The record as one JSON Lines line (UTF-8, newline-terminated)."""
        return (self.model_dump_json() + "\n").encode("utf-8")


class HistoryStore(Protocol):
    """Where the forecast history of one workspace is kept."""

    @property
    def where(self) -> str:
        """Where the history is, for people (a path or an s3:// URL)."""
        ...

    def append(self, record: ForecastRecord) -> str:
        """Keep `record` beside every earlier one (never over one); return where it went."""
        ...

    def entries(self) -> tuple[list[ForecastRecord], list[str]]:
        """Every record that can be read, oldest first, and one line per entry that cannot (naming its
        file, and line): skipped, never rewritten. VersionError when an entry is of a newer format."""
        ...


def parse_entry(text: str | bytes, *, where: str) -> ForecastRecord:
    """One history entry; VersionError for a newer format, DataError (naming `where`) for anything
    this version cannot read."""
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise DataError(f"{where}: a corrupt or truncated history entry (not JSON: {detail})") from None
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise VersionError(
            f"{where}: a forecast history entry written by a newer version of nikkei-deepar (format "
            f"{version}; this version reads up to {FORMAT_VERSION})",
            hint="upgrade nikkei-deepar (pip install -U nikkei-deepar) and run the command again",
            code="history-version",
        )
    if version != FORMAT_VERSION:
        raise DataError(f"{where}: not a forecast history entry (format_version {version!r})")
    try:
        return ForecastRecord.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        at = ".".join(str(p) for p in first["loc"])
        raise DataError(f"{where}: a corrupt history entry ({at}: {first['msg']})") from None


class LocalHistory:
    """The history as a JSON Lines file at `path` (one record a line, appended, never rewritten)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def where(self) -> str:
        return str(self.path)

    def append(self, record: ForecastRecord) -> str:
        try:
            self._append(record.to_line())
        except OSError as exc:
            raise DataError(
                f"{self.path}: cannot keep the forecast in the history: {exc.strerror or exc}",
                hint="check the folder's permissions and free space",
                code="history-unwritable",
            ) from None
        return str(self.path)

    def _append(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(self.path, flags, HISTORY_MODE)
        try:
            os.fchmod(fd, HISTORY_MODE)  # exactly this, whatever the umask took away (as the ledger)
            size = os.fstat(fd).st_size
            # An entry cut short (a full disk, a crash) has no newline: start on a line of our own, so
            # the broken entry stays one skipped line and this one stays readable.
            if size and _last_byte(self.path, size) != b"\n":
                line = b"\n" + line
            written = os.write(fd, line)  # one write: appended whole, never interleaved with another
            if written != len(line):
                raise DataError(
                    f"{self.path}: only {written} of {len(line)} bytes of the forecast were written",
                    hint="check the free space; `score` skips the cut entry and says so",
                )
            os.fsync(fd)
        finally:
            os.close(fd)

    def entries(self) -> tuple[list[ForecastRecord], list[str]]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return [], []
        except OSError as exc:
            raise DataError(f"{self.path}: cannot read the forecast history: {exc.strerror}") from None
        records: list[ForecastRecord] = []
        problems: list[str] = []
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append(parse_entry(line, where=f"{self.path}:{number}"))
            except VersionError:
                raise
            except DataError as exc:
                problems.append(f"{exc.message}: skipped")
        return records, problems


def _last_byte(path: Path, size: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(size - 1)
        return fh.read(1)
