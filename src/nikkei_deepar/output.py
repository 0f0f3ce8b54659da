"""How results and progress reach the user. A leaf (imports only `errors` and `redact`).

stdout carries the result only: a human rendering, or with --json one versioned envelope
    {"schema": "nikkei-deepar/result/v1", "command", "status", "exit_code", "data", "errors", "warnings"}
so `nikkei-deepar X --json | jq` always works. Everything else (progress, logs, warnings) goes to
stderr: on a terminal with colour and a live status line; otherwise (not a terminal, NO_COLOR, --quiet,
--json) as plain timestamped lines with no colour or spinner, fit for a cron log.

This is the output boundary: every line written here (progress, warnings, errors, hints, the result,
the --json document, a --debug traceback) passes through `redact` (no access key, secret, token,
signature or URL credential) and, outside JSON, has its control characters escaped (one message is one
line, and cannot drive the terminal). Nothing else in the package writes to stdout or stderr.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from nikkei_deepar.errors import ExitCode, NikkeiError
from nikkei_deepar.redact import clean, redact, redact_tree

ENVELOPE_SCHEMA = "nikkei-deepar/result/v1"
ENVELOPE_KEYS = ("schema", "command", "status", "exit_code", "data", "errors", "warnings")


@dataclass(frozen=True)
class Table:
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    title: str | None = None


class Result(Protocol):
    """What every step returns: data for --json, lines (and optionally a table) for people."""

    def to_data(self) -> dict[str, Any]: ...

    def to_lines(self) -> list[str]: ...


@dataclass
class Reporter:
    """Progress and logs on stderr. `live()` updates one line on a terminal, prints plain lines elsewhere."""

    interactive: bool
    color: bool
    quiet: bool = False
    verbose: bool = False
    stream: IO[str] = field(default_factory=lambda: sys.stderr)
    warnings: list[str] = field(default_factory=list)
    _live_len: int = 0

    @classmethod
    def for_environment(
        cls, *, quiet: bool, verbose: bool, json_mode: bool, stream: IO[str] | None = None
    ) -> Reporter:
        stream = stream or sys.stderr
        tty = bool(getattr(stream, "isatty", lambda: False)())
        no_color = "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb"
        interactive = tty and not quiet and not json_mode and os.environ.get("TERM") != "dumb"
        return cls(
            interactive=interactive,
            color=interactive and not no_color,
            quiet=quiet,
            verbose=verbose,
            stream=stream,
        )

    def _stamp(self) -> str:
        return dt.datetime.now().astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")

    def _emit(self, text: str, *, style: str | None = None) -> None:
        self._clear_live()
        text = clean(text)
        if self.interactive:
            if self.color and style:
                text = f"\x1b[{style}m{text}\x1b[0m"
            print(text, file=self.stream, flush=True)
        else:
            print(f"{self._stamp()} {text}", file=self.stream, flush=True)

    def info(self, message: str) -> None:
        if not self.quiet:
            self._emit(message)

    def debug(self, message: str) -> None:
        if self.verbose:
            self._emit(message, style="2")

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self._emit(f"warning: {message}", style="33")

    def error(self, message: str) -> None:
        self._emit(f"error: {message}", style="31")

    def live(self, message: str) -> None:
        """A status that changes in place on a terminal; a plain timestamped line otherwise."""
        if self.quiet:
            return
        if not self.interactive:
            self._emit(message)
            return
        message = clean(message)
        pad = max(0, self._live_len - len(message))
        self.stream.write("\r" + message + " " * pad)
        self.stream.flush()
        self._live_len = len(message)

    def _clear_live(self) -> None:
        if self._live_len and self.interactive:
            self.stream.write("\r" + " " * self._live_len + "\r")
            self.stream.flush()
        self._live_len = 0

    def clear(self) -> None:
        """Remove the live line without a trace (what it said is in the result that follows)."""
        self._clear_live()

    def close(self) -> None:
        if self._live_len and self.interactive:
            self.stream.write("\n")
            self.stream.flush()
        self._live_len = 0


def envelope(
    command: str,
    *,
    exit_code: int,
    data: dict[str, Any] | None,
    errors: list[dict[str, Any]] | None = None,
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "schema": ENVELOPE_SCHEMA,
        "command": command,
        "status": "ok" if exit_code == ExitCode.OK else "error",
        "exit_code": int(exit_code),
        "data": data,
        "errors": errors or [],
        "warnings": warnings or [],
    }


def error_entry(exc: NikkeiError) -> dict[str, Any]:
    entry: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.hint:
        entry["hint"] = exc.hint
    problems = getattr(exc, "problems", None)
    if problems:
        entry["problems"] = list(problems)
    return entry


def print_json(document: dict[str, Any], stream: IO[str] | None = None) -> None:
    out = stream or sys.stdout
    # default=str first, so that values JSON cannot hold (paths, dates) are redacted too
    plain = json.loads(json.dumps(document, ensure_ascii=False, default=str))
    out.write(json.dumps(redact_tree(plain), indent=2, ensure_ascii=False) + "\n")
    out.flush()


def print_human(result: Result, *, stream: IO[str] | None = None, color: bool = False) -> None:
    """Lines, then a table if the result has one (rendered with rich on a terminal, plain otherwise)."""
    out = stream or sys.stdout
    for line in result.to_lines():
        out.write(clean(line) + "\n")
    table: Table | None = getattr(result, "to_table", lambda: None)()
    if table is not None:
        _print_table(table, out, color=color)
    out.flush()


def _print_table(table: Table, out: IO[str], *, color: bool) -> None:
    if color and getattr(out, "isatty", lambda: False)():
        from rich.console import Console
        from rich.table import Table as RichTable

        rt = RichTable(title=table.title)
        for col in table.columns:
            rt.add_column(col, justify="right" if col != table.columns[0] else "left")
        for row in table.rows:
            rt.add_row(*(clean(_fmt(v)) for v in row))
        Console(file=out).print(rt)
        return
    cells = [[clean(str(c)) for c in table.columns]] + [[clean(_fmt(v)) for v in row] for row in table.rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(table.columns))]
    if table.title:
        out.write(table.title + "\n")
    for n, row in enumerate(cells):
        out.write(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        out.write("\n")
        if n == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")


def print_traceback(exc: BaseException, stream: IO[str] | None = None) -> None:
    """A --debug traceback, redacted like every other line (exception messages can quote a request)."""
    import traceback

    out = stream or sys.stderr
    text = redact("".join(traceback.format_exception(exc)))
    for line in text.splitlines():
        out.write(clean(line) + "\n")
    out.flush()


def number(value: float, *, digits: int = 4) -> str:
    """The one way a number is printed for people: prices and other values >= 100 with thousands
    separators and 2 decimals (`50,750.39`); smaller ones with `digits` significant digits, trailing
    zeros kept, so a column never mixes `3.08` with `3.845` (`3.080`, `3.845`, `0.02130`)."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if abs(value) >= 100:
        return f"{value:,.2f}"
    if value == 0:
        return "0"
    return f"{value:#.{digits}g}"


def metric_lines(metrics: Mapping[str, float], *, indent: str, prefix: str = "") -> list[str]:
    """Metrics (those starting with `prefix`) one per line, names aligned, values by `number`; the
    per-quantile losses `test:wQuantileLoss[q]` share one line, so 11 metrics take 4 lines."""
    quantiles = re.compile(r"^(test:wQuantileLoss)\[(.+)\]$")
    rows: list[tuple[str, str]] = []
    per_quantile: list[str] = []
    for name, value in sorted(metrics.items()):
        found = quantiles.match(name)
        if found and name.startswith(prefix):
            per_quantile.append(f"{found.group(2)}: {number(value)}")
        elif name.startswith(prefix):
            rows.append((name, number(value)))
    if per_quantile:
        rows.append(("test:wQuantileLoss", "  ".join(per_quantile)))
    width = max((len(name) for name, _ in rows), default=0)
    return [f"{indent}{name.ljust(width)}  {value}" for name, value in rows]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return number(value)
    return str(value)


def aligned(rows: list[tuple[str, ...]], indent: str = "  ") -> list[str]:
    """Left-aligned columns; the last column is free text and is not padded."""
    if not rows:
        return []
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]) - 1)]
    return [
        indent + "  ".join([*(v.ljust(w) for v, w in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]
