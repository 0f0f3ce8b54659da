"""`prepare`: price file -> series -> DeepAR JSON Lines channels -> content-addressed storage -> ledger.

Nothing is uploaded until the whole file has been read and validated (including the plausibility
checks of `nikkei_deepar.data.plausible`: dates, closes, outliers); the same data always lands
under the same key (the channels' sha256), so a retrain never overwrites what a running job reads and
an unchanged file is not uploaded again.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nikkei_deepar.context import Context
from nikkei_deepar.errors import DataError, NotFoundError, UsageError
from nikkei_deepar.files import write_atomic
from nikkei_deepar.ledger import DataVersion
from nikkei_deepar.lifecycle.uploads import store_files

if TYPE_CHECKING:
    from nikkei_deepar.data.plausible import Outlier
    from nikkei_deepar.data.prices import PriceTable


@dataclass(frozen=True)
class PrepareResult:
    summary: dict[str, Any]
    sha256: str
    calendar: str
    observations: int
    train_length: int
    test_series: int
    local_dir: str
    uris: dict[str, str]
    uploaded: list[str] = field(default_factory=list)
    already_there: list[str] = field(default_factory=list)
    dry_run: bool = False
    pending: bool = False  # not uploaded yet (no bucket): train uploads it
    outliers: list[dict[str, Any]] = field(default_factory=list)  # accepted with --accept-outliers
    stored_word: str = "uploaded"  # the backend's word for it (Words.stored): people read it, not --json
    last_close: str | None = None  # the date of the series' last close (trailing rows without one trimmed)

    def to_data(self) -> dict[str, Any]:
        return {
            "read": self.summary,
            "sha256": self.sha256,
            "calendar": self.calendar,
            "observations": self.observations,
            "train_length": self.train_length,
            "test_series": self.test_series,
            "local_dir": self.local_dir,
            "uris": self.uris,
            "uploaded": self.uploaded,
            "already_there": self.already_there,
            "dry_run": self.dry_run,
            "pending_upload": self.pending,
            "outliers_accepted": self.outliers,
            "last_close": self.last_close,
        }

    def to_lines(self) -> list[str]:
        s = self.summary
        lines = [
            f"read {s['source']}: {s['rows']} rows, {s['first']} .. {s['last']}, column {s['column']!r}, "
            f"{s['missing']} missing, {skipped_text(s['skipped_reasons'])}",
            f"series: {self.calendar}, {self.observations} observations; train {self.train_length} points, "
            f"test {self.test_series} series",
            f"data version {self.sha256[:16]}",
        ]
        if self.dry_run:
            lines.append(f"dry run: channels written to {self.local_dir}; nothing {self.stored_word}")
        elif self.pending:
            lines.append(f"channels kept in {self.local_dir}; `train` uploads them once the bucket exists")
        else:
            for name, uri in self.uris.items():
                state = self.stored_word if uri in self.uploaded else "already there"
                lines.append(f"{name}: {uri} ({state})")
        return lines


def skipped_text(reasons: dict[str, int]) -> str:
    """``"3 lines skipped: 2 wrong separator ';', 1 blank"``, from `PriceTable.skipped_reasons`."""
    total = sum(reasons.values())
    text = f"{total} line{'' if total == 1 else 's'} skipped"
    return text + (": " + ", ".join(f"{n} {reason}" for reason, n in reasons.items()) if total else "")


def wall_clock() -> datetime.datetime:
    """Now, timezone-aware: where "tomorrow in Tokyo" comes from (tests replace it)."""
    return datetime.datetime.now(datetime.UTC)


def run(
    ctx: Context,
    *,
    input_file: Path | str | None,
    dry_run: bool,
    allow_stale: bool = False,
    accept_outliers: bool = False,
    now: Callable[[], datetime.datetime] | None = None,
) -> PrepareResult:
    """`accept_outliers` (or `[data] accept_outliers`) lets outliers through with a warning; `now`
    (default `wall_clock`) fixes "tomorrow in Tokyo", the last date a close may have."""
    from nikkei_deepar.data.channels import make_channels
    from nikkei_deepar.data.plausible import tomorrow_in_tokyo
    from nikkei_deepar.data.prices import read_prices
    from nikkei_deepar.data.series import build_series
    from nikkei_deepar.data.series_io import dump_series

    settings = ctx.settings
    latest = tomorrow_in_tokyo((now or wall_clock)())
    if input_file is not None:
        path = _input_path(input_file)
    else:
        path = _resolve_source(ctx, allow_stale=allow_stale, latest=latest)
    table = read_prices(
        path,
        close_column=settings.data.close_column,
        date_order=settings.data.date_order,
        latest=latest,
        max_bytes=settings.data.max_input_bytes,
    )
    summary = table.summary()
    header = f"header on line {table.header_line}" if table.header_line else "no header line"
    ctx.reporter.debug(f"read {path} as {table.encoding}, {header}")
    outliers = _check(ctx, table, accept=accept_outliers or settings.data.accept_outliers)
    from nikkei_deepar.data.horizon import prediction_length_of

    hp = settings.training.hyperparameters
    prediction_length = prediction_length_of(settings)
    try:
        series = build_series(table.closes, policy=settings.data.calendar)
        channels = make_channels(
            series,
            prediction_length=prediction_length,
            context_length=hp.context_length,
            test_windows=settings.data.test_windows,
            calendar_features=settings.data.calendar_features,
            target=settings.data.target,
        )
    except DataError as exc:
        raise DataError(f"{path}: {exc.message}", hint=exc.hint, code=exc.code) from None
    files = {
        "train/train.json": channels.train,
        "test/test.json": channels.test,
        "series.json": dump_series(series),
    }
    local_dir = ctx.workspace_dir / "data" / channels.sha256[:16]
    for name, body in files.items():
        write_atomic(local_dir / name, body)

    backend = settings.backend
    pending = False
    uploaded: list[str] = []
    already: list[str] = []
    if dry_run:
        uris = {name: str(local_dir / name) for name in files}
    else:
        try:
            uris, uploaded, already = store_files(ctx, channels.sha256, files)
        except NotFoundError as exc:
            # prepare may run before provision: keep the channels here, `train` uploads them.
            pending = True
            uris = {name: str(local_dir / name) for name in files}
            ctx.reporter.warn(
                f"{exc.message}: channels kept in {local_dir}; `nikkei-deepar provision` creates the "
                "bucket and `train` uploads them"
            )

    result = PrepareResult(
        summary=summary,
        sha256=channels.sha256,
        calendar=series.policy,
        observations=channels.observations,
        train_length=channels.train_length,
        test_series=channels.test_series,
        local_dir=str(local_dir),
        uris=uris,
        uploaded=uploaded,
        already_there=already,
        dry_run=dry_run,
        pending=pending,
        outliers=[outlier.to_data() for outlier in outliers],
        stored_word=ctx.backend.words.stored,
        last_close=series.last_date.isoformat(),
    )
    if not dry_run:
        version = DataVersion(
            sha256=channels.sha256,
            source=str(path),
            rows=summary["rows"],
            first=str(summary["first"]),
            last=str(summary["last"]),
            column=summary["column"],
            calendar=series.policy,
            prediction_length=prediction_length,
            context_length=hp.context_length,
            observations=channels.observations,
            backend=backend,
            train_uri=uris["train/train.json"].rsplit("/", 1)[0] + "/",
            test_uri=uris["test/test.json"].rsplit("/", 1)[0] + "/",
            series_uri=uris["series.json"],
            local_dir=str(local_dir),
            uploaded=not pending,
            calendar_features=settings.data.calendar_features,
            target=settings.data.target,
        )
        ctx.state.update(lambda ledger: ledger.record_data(version))
    return result


def _check(ctx: Context, table: PriceTable, *, accept: bool) -> list[Outlier]:
    """Report what the reader skipped and how it found the close; refuse implausible data (exit 3).
    Returns the outliers the user accepted."""
    from nikkei_deepar.data.plausible import check_closes, find_outliers, outliers_error, outliers_warning

    for skipped in table.skipped:
        ctx.reporter.debug(f"{table.source}:{skipped.line}: skipped: {skipped.reason}")
    if table.note is not None:
        ctx.reporter.info(f"{table.source}: {table.note}")
    if table.dropped is not None:
        ctx.reporter.warn(table.dropped.describe(table.source))
    if lost := [s.line for s in table.skipped if s.reason.startswith("wrong separator")]:
        shown = ", ".join(map(str, lost[:5])) + (", ..." if len(lost) > 5 else "")
        what = "1 dated line" if len(lost) == 1 else f"{len(lost)} dated lines"
        whose = "its close is" if len(lost) == 1 else "their closes are"
        ctx.reporter.warn(
            f"{table.source}: {what} skipped for a wrong separator, {whose} not used "
            f"(line{'s' if len(lost) > 1 else ''} {shown}): separate the cells with commas"
        )
    check_closes(table)
    outliers = find_outliers(table)
    if outliers and not accept:
        raise outliers_error(table.source, outliers)
    if outliers:
        ctx.reporter.warn(outliers_warning(table.source, outliers))
    return outliers


_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+)://")


def _input_path(given: Path | str) -> Path:
    """`--input` as a path; a URL is a usage error (exit 2) saying where URLs go, not "no such file"."""
    text = str(given)
    if isinstance(given, str) and (url := _URL.match(text.strip())) is not None:
        scheme = url.group("scheme").lower()
        if scheme in ("http", "https"):
            raise UsageError(
                f"--input {text!r} is a URL: --input reads a file on this machine; URLs go in [data] source",
                hint='set [data] source = "<the URL>" in the config (prepare downloads it, with retries and '
                "a cached copy), or download the file and pass its path to --input",
                code="input-is-url",
            )
        raise UsageError(
            f"--input {text!r} is a URL ({scheme}://): --input reads a file on this machine",
            hint="download the file and pass its path; [data] source takes http(s) URLs, fred and stooq",
            code="input-is-url",
        )
    return Path(given)


def _resolve_source(ctx: Context, *, allow_stale: bool, latest: datetime.date) -> Path:
    """`[data] source`: a local path (relative to the config file), an http(s) URL, or fred/stooq."""
    from nikkei_deepar.sources import fetch_source, is_remote

    data = ctx.settings.data
    source = data.source
    if not source:
        raise UsageError(
            "no price file given",
            hint="pass --input FILE or set [data] source in the config (see data/README.md)",
        )
    if is_remote(source):
        from nikkei_deepar.data.prices import parse_prices
        from nikkei_deepar.files import check_lines

        def validate(raw: bytes, where: str) -> object:
            check_lines(raw, where)
            return parse_prices(
                raw, source=where, close_column=data.close_column, date_order=data.date_order, latest=latest
            )

        fetched = fetch_source(
            source,
            cache_dir=ctx.home / "sources",
            validate=validate,
            allow_stale=allow_stale,
            notify=ctx.reporter.info,
            sleep=ctx.sleep,
            max_bytes=data.max_input_bytes,
            deadline=data.download_timeout_seconds,
            allow_private=data.allow_private_network,
        )
        if not fetched.fresh:
            ctx.reporter.warn(f"{fetched.error}; using the previous copy {fetched.path}")
        else:
            ctx.reporter.info(f"downloaded {fetched.url} -> {fetched.path}")
        return fetched.path
    path = Path(source).expanduser()
    if not path.is_absolute() and ctx.loaded.path is not None:
        path = ctx.loaded.path.parent / path  # relative to the config file, not the working directory
    return path
