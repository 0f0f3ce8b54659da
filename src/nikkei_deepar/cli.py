"""The command line: the only module that imports typer.

Each command is thin: options -> a Context -> one step's run() -> render -> exit code. Heavy imports
(boto3, pandas, torch) happen inside the steps, never here, so `--help` and `--version` stay fast.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import inspect
import os
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar

import typer
from typer.core import TyperGroup

from nikkei_deepar import __version__
from nikkei_deepar import deadline as deadlines
from nikkei_deepar.deadline import DeadlineInterrupt, DefaultDeadline, alarm
from nikkei_deepar.errors import ExitCode, NikkeiError, UsageError, WaitTimeoutError

T = TypeVar("T")

if TYPE_CHECKING:
    from nikkei_deepar.config import Settings
    from nikkei_deepar.context import Context
    from nikkei_deepar.factory import ContextFactory
    from nikkei_deepar.output import Reporter, Result


class _Suggesting(TyperGroup):
    """A group that, for an unknown command, suggests the one meant: by spelling (Typer's own "Did you
    mean 'status'?" for `stauts`), else by meaning, from `synonyms` (`forecast` -> predict), as Click
    suggests options."""

    synonyms: ClassVar[dict[str, str]] = {}

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except Exception as exc:
            message = getattr(exc, "message", None)
            meant = self.synonyms.get(args[0].strip().lower(), "") if args else ""
            exists = bool(meant) and meant.split()[0] in self.commands
            # what it means beats what it looks like (`config lint` is validate, not init)
            if _is_usage_error(exc) and isinstance(message, str) and exists:
                unknown = message.split(" Did you mean ")[0].rstrip(".")
                exc.message = f"{unknown}. Did you mean {meant!r}?"  # type: ignore[attr-defined]
            raise


class _ConfigGroup(_Suggesting):
    synonyms: ClassVar[dict[str, str]] = {
        "check": "validate",
        "lint": "validate",
        "verify": "validate",
        "test": "validate",
        "create": "init",
        "new": "init",
        "write": "init",
        "generate": "init",
        "print": "show",
        "view": "show",
        "get": "show",
        "list": "show",
        "dump": "show",
        "cat": "show",
    }


class _Group(_Suggesting):
    """The root group: a usage error (bad or unknown option, bad value) under --json prints the one
    envelope, like every other error, and exits 2. Click parses options before a command runs, so this
    is the only place that sees them; without --json, Click's own message is unchanged."""

    # What people type for a command that has another name here. Only for names that are not commands.
    synonyms: ClassVar[dict[str, str]] = {
        **{word: "predict" for word in ("forecast", "forecasts", "infer", "inference", "invoke", "run")},
        **{word: "train" for word in ("fit", "learn", "training")},
        **{word: "wait" for word in ("follow", "watch", "logs", "tail")},
        **{word: "deploy" for word in ("serve", "host", "publish", "release", "endpoint")},
        **{
            word: "teardown"
            for word in ("destroy", "delete", "down", "remove", "rm", "cleanup", "clean", "uninstall")
        },
        **{word: "provision" for word in ("setup", "set-up", "bootstrap", "create", "up", "apply")},
        **{word: "doctor" for word in ("check", "checks", "preflight", "diagnose", "verify", "health")},
        **{word: "status" for word in ("ls", "list", "info", "show", "drift", "describe")},
        **{word: "prepare" for word in ("upload", "ingest", "load", "data", "fetch", "download")},
        **{word: "backtest" for word in ("evaluate", "eval", "benchmark", "compare")},
        **{word: "retrain" for word in ("refresh", "update", "cron", "pipeline")},
        **{word: "config init" for word in ("init", "configure", "new")},
        "validate": "config validate",
    }

    def invoke(self, ctx: Any) -> Any:
        tokens = [*getattr(ctx, "_protected_args", []), *ctx.args]  # the group clears them when it runs
        json_out = "--json" in tokens[: tokens.index("--") if "--" in tokens else None]
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if not json_out or not _is_usage_error(exc):
                raise
            raise typer.Exit(_render_usage_error(exc, ctx)) from None

    def make_context(self, info_name: Any, args: Any, parent: Any = None, **extra: Any) -> Any:
        # Options before any command (`nikkei-deepar --bogus --json`) fail here, before `invoke`.
        tokens = list(args)
        json_out = "--json" in tokens[: tokens.index("--") if "--" in tokens else None]
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except Exception as exc:
            if not json_out or not _is_usage_error(exc) or getattr(exc, "ctx", None) is None:
                raise
            raise typer.Exit(_render_usage_error(exc, getattr(exc, "ctx", None))) from None


def _is_usage_error(exc: Exception) -> bool:
    # By name: recent Typer vendors its own copy of Click (typer._click), older ones use click itself.
    return any(cls.__name__ == "UsageError" for cls in type(exc).__mro__)


def _render_usage_error(exc: Any, root: Any) -> int:
    from nikkei_deepar.errors import UsageError
    from nikkei_deepar.output import Reporter

    where = exc.ctx if getattr(exc, "ctx", None) is not None else root
    name = str(where.command_path).removeprefix(str(root.command_path)).strip() or str(root.info_name or "")
    error = UsageError(str(exc.format_message()), hint=f"see `{where.command_path} --help`", code="usage")
    reporter = Reporter.for_environment(quiet=False, verbose=False, json_mode=True)
    return _render_error(name, error, reporter, json_out=True, debug=False)


app = typer.Typer(
    cls=_Group,
    name="nikkei-deepar",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals can hold credentials
    rich_markup_mode=None,  # help texts mention [data] and the like: no markup
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
config_app = typer.Typer(
    cls=_ConfigGroup, help="Show, check or create the configuration.", no_args_is_help=True
)
app.add_typer(config_app, name="config")
state_app = typer.Typer(
    help="The workspace's state: show it, move it (migrate, push, pull), forget an entry, clear a lease.",
    no_args_is_help=True,
)
app.add_typer(state_app, name="state")


# -- options every command shares ------------------------------------------------------------------
_COMMON: list[inspect.Parameter] = []


def _common(name: str, annotation: Any, default: Any) -> None:
    _COMMON.append(
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
    )


_common(
    "config",
    Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Config file (else $NIKKEI_DEEPAR_CONFIG, else ./nikkei-deepar.toml).",
            show_default=False,
        ),
    ],
    None,
)
_common("json_out", Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")], False)
_common(
    "quiet", Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr, only errors.")], False
)
_common(
    "verbose",
    Annotated[bool, typer.Option("--verbose", "-v", help="More detail: AWS request ids and timings.")],
    False,
)
_common(
    "debug", Annotated[bool, typer.Option("--debug", help="Show tracebacks for unexpected errors.")], False
)
_common(
    "region",
    Annotated[
        str | None,
        typer.Option(
            "--region",
            help="AWS region (overrides AWS_REGION and the config).",
            autocompletion=lambda incomplete: _complete_region(incomplete),
        ),
    ],
    None,
)
_common(
    "profile",
    Annotated[
        str | None, typer.Option("--profile", help="AWS profile (overrides AWS_PROFILE and the config).")
    ],
    None,
)
# Shown only on the commands that take the ledger lock (`mutating`): elsewhere it does nothing.
_WAIT_LOCK = inspect.Parameter(
    "wait_lock",
    inspect.Parameter.KEYWORD_ONLY,
    default=0.0,
    annotation=Annotated[
        float,
        typer.Option("--wait-lock", metavar="SECONDS", help="Wait this long for another command's lock."),
    ],
)
# Elsewhere it is accepted but not shown (help, completion): scripts that pass it to every command,
# like examples/daily-forecast.sh, keep working.
_WAIT_LOCK_HIDDEN = _WAIT_LOCK.replace(
    annotation=Annotated[float, typer.Option("--wait-lock", metavar="SECONDS", hidden=True)]
)
_COMMON_DEFAULTS: dict[str, Any] = {p.name: p.default for p in [*_COMMON, _WAIT_LOCK]}


# -- completion of option values (bash/zsh/fish through --install-completion) ------------------------
def _starting_with(values: Iterable[str], incomplete: str) -> list[str]:
    return [v for v in values if v.startswith(incomplete)]


def _complete_region(incomplete: str) -> list[str]:
    """The regions that have a DeepAR image (images.py: a plain table, cheap to import)."""
    from nikkei_deepar.images import REGISTRIES

    return _starting_with(sorted(REGISTRIES), incomplete)


def _complete_format(incomplete: str) -> list[str]:
    return _starting_with(PREDICT_FORMATS, incomplete)


def _complete_backend(incomplete: str) -> list[str]:
    return _starting_with(BACKENDS, incomplete)


def _complete_models(incomplete: str) -> list[str]:
    """`--models deepar,ra` -> `deepar,random-walk`: the last name of the list, not yet listed."""
    done, _, last = incomplete.rpartition(",")
    listed = set(done.split(",")) if done else set()
    head = f"{done}," if done else ""
    return [head + m for m in BACKTEST_MODELS if m.startswith(last) and m not in listed]


# The fixed sets of values, spelled here so completion imports nothing heavy; tests/cli/test_completion.py
# checks each against the module that validates it (predict.FORMATS, config.Settings, backtest.MODELS).
PREDICT_FORMATS = ("table", "csv", "json")
BACKENDS = ("sagemaker", "local")
BACKTEST_MODELS = ("deepar", "random-walk", "seasonal-naive")

# Typer hands every command its invocation context (never an option): where a given factory is found.
_INVOCATION = "_invocation"
_INVOCATION_PARAM = inspect.Parameter(
    _INVOCATION, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
)


def command(
    name: str,
    *,
    mutating: bool,
    parent: typer.Typer | None = None,
    reads_config: bool = True,
    deadline: DefaultDeadline = deadlines.CHANGES,
) -> Callable[[Callable[..., Result]], Callable[..., None]]:
    """Register `fn(ctx, **options) -> Result` as a command with the shared options appended.

    `mutating` commands hold the ledger lock while they run (and only they take --wait-lock). A command
    that does not read the config (`config init`, which writes the file --config names) runs on the
    defaults and gets the --config value as its own `config` argument.

    Every command is bounded in time: it gets `--timeout SECONDS` and, without it, its `deadline`, a
    `DefaultDeadline` from deadline.py, where every command's default is: `READ_ONLY` (60 s) for a few
    reads, `CHANGES` (300 s, what a command gets unless it says) for a few creations or deletions, the
    long waits (`TRAINING`, `ENDPOINT`, ...); `fixed(seconds)`, `by_option(...)` and `total(...)` make
    others. A new command: pick one (or add one to deadline.py), list it in the "Deadlines" table of
    docs/guide.md and docs/guide.ja.md, run scripts/gen_reference.py (tests/cli/test_deadlines.py
    checks all three). A command that needs the value itself (to bound one wait inside it) takes a
    plain `timeout: float | None` parameter: it gets --timeout, None when not given. The deadline
    covers the whole command, AWS calls included (aws/session.py fits each request into what is left);
    time at a question to the user does not count (`_asking`).
    """
    label = {id(config_app): f"config {name}", id(state_app): f"state {name}"}.get(id(parent), name)

    def deco(fn: Callable[..., Result]) -> Callable[..., None]:
        sig = inspect.signature(fn)
        wants_timeout = "timeout" in sig.parameters
        # Annotations are strings (PEP 563); Typer needs the real Annotated objects, so evaluate them
        # here (everything but `ctx`, whose type is only imported for type checking).
        own = [
            p.replace(
                annotation=eval(p.annotation, fn.__globals__)
                if isinstance(p.annotation, str)
                else p.annotation
            )
            for p in sig.parameters.values()
            if p.name not in {"ctx", "timeout"}
            and (reads_config or p.name != "config")  # --config is the shared one
        ]

        shared = [_timeout_param(deadline), *_COMMON, _WAIT_LOCK if mutating else _WAIT_LOCK_HIDDEN]
        # Typer hands one parameter the invocation context: the command's own, else one added here.
        given = next((p.name for p in own if p.annotation is typer.Context), None)

        @functools.wraps(fn)
        def wrapper(**kwargs: Any) -> None:
            invocation: typer.Context = kwargs[given] if given else kwargs.pop(_INVOCATION)
            common = {k: kwargs.pop(k, default) for k, default in _COMMON_DEFAULTS.items()}
            if not reads_config:
                kwargs["config"] = common["config"]
            common["timeout"] = kwargs.pop("timeout", None)  # bounds the whole command
            if wants_timeout:
                kwargs["timeout"] = common["timeout"]
            options = dict(kwargs)
            exit_code = run_command(
                label,
                common,
                lambda ctx: fn(ctx, **kwargs),
                mutating=mutating,
                reads_config=reads_config,
                factory=_factory(invocation),
                default_timeout=lambda settings: deadline.seconds(settings, options),
            )
            raise typer.Exit(int(exit_code))

        params = [*([] if given else [_INVOCATION_PARAM]), *own, *shared]
        wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {**{p.name: p.annotation for p in params}, "return": None}
        help_text, example = _split_example(inspect.getdoc(fn) or "")
        (parent or app).command(name, help=help_text, epilog=example)(wrapper)
        DEADLINES[label] = deadline
        return wrapper

    return deco


DEADLINES: dict[str, DefaultDeadline] = {}  # every command's default deadline, by name (docs, tests)


def _timeout_param(deadline: DefaultDeadline) -> inspect.Parameter:
    """`--timeout SECONDS`, spelled the same on every command, its help naming the command's default."""
    return inspect.Parameter(
        "timeout",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[
            float | None,
            typer.Option(
                "--timeout",
                metavar="SECONDS",
                help="Give up after this many seconds in all (exit 8; a SageMaker job or endpoint "
                f"carries on). Default: {deadline.text}.",
                show_default=False,
                callback=_check_timeout,
            ),
        ],
    )


def _check_timeout(value: float | None) -> float | None:
    try:
        return deadlines.check_seconds(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _split_example(doc: str) -> tuple[str, str | None]:
    """Take the `Example: ...` line out of a docstring so --help shows it on a line of its own."""
    import re

    found = re.search(r"(?:^|\s)(Example: .+?)\s*$", doc, flags=re.S)
    if not found:
        return doc, None
    example = " ".join(found.group(1).split())
    return doc[: found.start(1)].rstrip(), example


def _factory(invocation: typer.Context) -> ContextFactory:
    """The factory this invocation was given (`app(obj=factory)`, as tests do), else the default one."""
    from nikkei_deepar.factory import ContextFactory

    given = invocation.find_object(ContextFactory)
    return given if given is not None else ContextFactory()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_command(
    name: str,
    common: dict[str, Any],
    body: Callable[[Context], Result],
    *,
    mutating: bool,
    reads_config: bool = True,
    factory: ContextFactory | None = None,
    default_timeout: Callable[[Settings], float] | None = None,
) -> int:
    """Build the context (through `factory`), run the step, render the result or the error; return the
    exit code. The command's deadline is `common["timeout"]`, else `default_timeout(settings)`."""
    from nikkei_deepar.output import Reporter

    json_out: bool = common["json_out"]
    reporter = Reporter.for_environment(quiet=common["quiet"], verbose=common["verbose"], json_mode=json_out)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    deadline = None
    try:
        if factory is None:
            from nikkei_deepar.factory import ContextFactory

            factory = ContextFactory()
        ctx = factory.create(common, reporter, reads_config=reads_config, default_timeout=default_timeout)
        _started()
        deadline = ctx.deadline  # starts the clock
        # the alarm is real time: not under a test's fake clock
        seconds = deadline.seconds if deadline is not None and ctx.clock is time.monotonic else None
        with alarm(seconds), contextlib.ExitStack() as held:
            if mutating:  # waiting for the lock (--wait-lock bounds it) is not the command's time
                with deadline.paused() if deadline is not None else contextlib.nullcontext():
                    lock = ctx.state.lock(
                        command=name, wait_seconds=common["wait_lock"], on_takeover=reporter.warn
                    )
                    held.enter_context(lock)
            result = body(ctx)
        reporter.close()
        _render_ok(name, result, reporter, json_out=json_out)
        return int(getattr(result, "exit_code", ExitCode.OK))
    except NikkeiError as exc:
        reporter.close()
        return _render_error(name, exc, reporter, json_out=json_out, debug=common["debug"])
    except DeadlineInterrupt:
        reporter.close()
        ran_out = deadline.ran_out if deadline is not None else "its deadline"
        late = WaitTimeoutError(
            f"{name}: not finished when {ran_out} ran out; the ledger is consistent",
            hint="something (AWS or the network) answered too slowly: run it again, or "
            + (deadline.raise_hint if deadline is not None else "raise --timeout"),
        )
        return _render_error(name, late, reporter, json_out=json_out, debug=common["debug"])
    except KeyboardInterrupt:
        reporter.close()
        from nikkei_deepar.errors import InterruptedError_

        exc2 = InterruptedError_(
            f"{name}: interrupted; the ledger is consistent",
            hint=f"run `nikkei-deepar {name}` again (it starts from what the ledger recorded)",
        )
        return _render_error(name, exc2, reporter, json_out=json_out, debug=common["debug"])
    except Exception as exc:  # a bug: one line unless --debug
        reporter.close()
        bug = NikkeiError(
            f"internal error: {type(exc).__name__}: {exc}",
            hint="rerun with --debug for the traceback and report it",
            code="internal",
        )
        if common["debug"]:  # the traceback, redacted like any other output (not Typer's own printer)
            from nikkei_deepar.output import print_traceback

            print_traceback(exc)
        return _render_error(name, bug, reporter, json_out=json_out, debug=False)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _render_ok(name: str, result: Result, reporter: Reporter, *, json_out: bool) -> None:
    from nikkei_deepar.output import envelope, print_human, print_json

    code = int(getattr(result, "exit_code", ExitCode.OK))
    if json_out:
        errors = getattr(result, "errors", None)
        print_json(
            envelope(name, exit_code=code, data=result.to_data(), errors=errors, warnings=reporter.warnings)
        )
    else:
        print_human(result, color=reporter.color)


def _render_error(name: str, exc: NikkeiError, reporter: Reporter, *, json_out: bool, debug: bool) -> int:
    from nikkei_deepar.output import envelope, error_entry, print_json

    if debug:
        from nikkei_deepar.output import print_traceback

        print_traceback(exc)
    reporter.error(exc.message)
    for problem in getattr(exc, "problems", []) or []:
        reporter.error(f"  {problem}")
    if exc.hint:
        reporter.info(f"hint: {exc.hint}")  # silent under --quiet, like all progress
    if json_out:
        data = getattr(exc, "data", None)
        print_json(
            envelope(
                name,
                exit_code=exc.exit_code,
                data=data,
                errors=[error_entry(exc)],
                warnings=reporter.warnings,
            )
        )
    return int(exc.exit_code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nikkei-deepar {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Forecast the Nikkei 225 with Amazon SageMaker DeepAR, end to end, from a shell.

    Exit codes: 0 ok, 1 internal error, 2 usage/config, 3 bad data, 4 AWS/auth, 5 not found,
    6 job failed, 7 job stopped, 8 timeout, 9 lock held, 10 state changed under a write,
    11 state written by a newer version, 12 drift (status --exit-code), 130 interrupted.
    """


# -- commands --------------------------------------------------------------------------------------
@command("prepare", mutating=True, deadline=deadlines.PREPARE)
def prepare(
    ctx: Context,
    input_file: Annotated[
        str | None,  # not Path: Path("http://host/x.csv") is "http:/host/x.csv", a URL no longer told apart
        typer.Option(
            "--input",
            "-i",
            metavar="<path>",
            help="Price file to read (overrides [data] source).",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write the channels locally; upload nothing.")
    ] = False,
    allow_stale: Annotated[
        bool,
        typer.Option("--allow-stale", help="If a download fails, go on with the previous copy (warns)."),
    ] = False,
    accept_outliers: Annotated[
        bool,
        typer.Option(
            "--accept-outliers",
            help="Go on past a >20% day move or a >14-day gap between closes (warns).",
        ),
    ] = False,
) -> Result:
    """Read a price file, build the series and upload DeepAR train/test channels.

    Refuses (exit 3, naming the line) closes that are not positive, dates outside 1949-05-16 ..
    tomorrow in Tokyo, and outliers unless --accept-outliers. -v lists every skipped line.
    Example: nikkei-deepar prepare --input data/nikkei_stock_average_daily_jp.csv
    """
    from nikkei_deepar.steps import prepare as step

    return step.run(
        ctx, input_file=input_file, dry_run=dry_run, allow_stale=allow_stale, accept_outliers=accept_outliers
    )


@command("provision", mutating=True, deadline=deadlines.CHANGES_OR_DRY_RUN)
def provision(
    ctx: Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan (created / fixed / left alone); change nothing.")
    ] = False,
) -> Result:
    """Create, or check, the S3 bucket and the SageMaker execution role. Safe to run again.

    An existing bucket or role named in the config is used as it is and never modified.

    Example: nikkei-deepar provision --dry-run --json
    """
    from nikkei_deepar.steps import provision as step

    return step.run(ctx, dry_run=dry_run)


@command("teardown", mutating=True, deadline=deadlines.CHANGES_OR_DRY_RUN)
def teardown(
    ctx: Context,
    all_: Annotated[
        bool, typer.Option("--all", help="Also delete the role and the bucket, if the tool created them.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Delete without asking (needed without a terminal).")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; delete nothing.")] = False,
) -> Result:
    """Delete what the tool created: endpoints, endpoint configs and models (with --all, the role and bucket).

    Only resources in the ledger whose tags say they are this config's (managed-by=nikkei-deepar,
    this project and stage) are deleted.

    Example: nikkei-deepar teardown --all --yes
    """
    from nikkei_deepar.steps import teardown as step

    return step.run(ctx, include_all=all_, yes=yes, dry_run=dry_run, confirm=_asking(ctx, _confirm))


def _asking(ctx: Context, ask: Callable[..., T]) -> Callable[..., T]:
    """`ask`, with the command's deadline paused while the user reads and answers."""

    def asked(*args: Any) -> T:
        if ctx.deadline is None:
            return ask(*args)
        with ctx.deadline.paused():
            return ask(*args)

    return asked


def _confirm(question: str) -> bool:
    """Ask on the terminal (stderr, so --json output stays clean); only cli.py talks to the user."""
    from nikkei_deepar.redact import clean

    return bool(typer.confirm(clean(question), default=False, err=True))


def _job_option(help: str) -> Any:
    """`--job NAME`: a training job other than the ledger's last one."""
    return typer.Option("--job", metavar="NAME", help=help, show_default=False)


@command("train", mutating=True, deadline=deadlines.TRAIN)
def train(
    ctx: Context,
    wait: Annotated[bool, typer.Option("--wait", "-w", help="Then follow the job, as `wait` does.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Start even if a job on the same data and settings is running.")
    ] = False,
    timeout: float | None = None,
    logs: Annotated[
        bool, typer.Option("--logs", help="With --wait: stream the job's log to stderr.")
    ] = False,
) -> Result:
    """Start a DeepAR training job on the last prepared data; prints the job name.

    Exit codes with --wait: 0 Completed, 6 Failed, 7 Stopped, 8 --timeout, 130 interrupted (a SageMaker
    job keeps running: `wait` follows it; a local job runs inside this command, so Ctrl-C stops it).
    Example: nikkei-deepar train --wait --logs
    """
    from nikkei_deepar.steps import train as step

    return step.run(ctx, force=force, wait=wait, timeout=timeout, logs=logs)


@command("wait", mutating=True, deadline=deadlines.TRAINING)
def wait(
    ctx: Context,
    job: Annotated[str | None, _job_option("Job to follow (default: the last one).")] = None,
    timeout: float | None = None,
    logs: Annotated[bool, typer.Option("--logs", help="Stream the job's CloudWatch log to stderr.")] = False,
) -> Result:
    """Follow the last training job to its end; print its metrics, billable time and model path.

    Exit codes: 0 Completed, 6 Failed (with the reason), 7 Stopped, 8 --timeout reached,
    130 interrupted (the job keeps running; run wait again to resume).
    Example: nikkei-deepar wait --logs --timeout 3600
    """
    from nikkei_deepar.steps import wait as step

    return step.run(ctx, job=job, timeout=timeout, logs=logs)


@command("deploy", mutating=True, deadline=deadlines.ENDPOINT)
def deploy(
    ctx: Context,
    job: Annotated[str | None, _job_option("Completed job to deploy (default: the last).")] = None,
    timeout: float | None = None,  # also each wait for the endpoint (else [endpoint] wait_timeout_seconds)
    expires_in: Annotated[
        str | None,
        typer.Option(
            "--expires-in",
            metavar="DURATION",
            help="Delete the endpoint this long from now, e.g. 2h, 90m, 7d, or off "
            "(default: [endpoint] expires_after).",
            show_default=False,
        ),
    ] = None,
    redeploy: Annotated[
        bool,
        typer.Option(
            "--redeploy",
            help="Deploy the job of this endpoint's last deployment again (brings back an expired or "
            "torn-down endpoint); not with --job.",
        ),
    ] = False,
) -> Result:
    """Create a model and endpoint config from a completed job; create or update the endpoint.

    An existing endpoint is updated in place (blue/green) and checked to really serve the new config.
    Before the endpoint exists, its deletion is scheduled (EventBridge Scheduler, run by AWS) for
    [endpoint] expires_after or --expires-in from now; every deploy moves it. Refused when the projected
    daily cost is above [costs] max_usd_per_day. Exit codes: 0 InService, 2 job not Completed or over the
    daily cost limit, 5 no scheduler role (run provision), 6 endpoint Failed or update rolled back,
    8 timeout.
    Example: nikkei-deepar deploy --expires-in 2h
    """
    from nikkei_deepar.steps import deploy as step

    return step.run(ctx, job=job, timeout=timeout, expires_in=expires_in, redeploy=redeploy)


@command("predict", mutating=False, deadline=deadlines.PREDICT)
def predict(
    ctx: Context,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            metavar="table|csv|json",
            help="How to print the forecast; json: the forecast document alone (--json wraps the same "
            "document in the result envelope, as data).",
            autocompletion=_complete_format,
        ),
    ] = "table",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the forecast to FILE (csv or json) instead of stdout.",
            show_default=False,
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="FILE.png",
            help="Draw the history and the forecast fan (needs the 'plot' extra).",
            show_default=False,
        ),
    ] = None,
    batch: Annotated[
        bool, typer.Option("--batch", help="Use a batch transform job instead of the endpoint.")
    ] = False,
    timeout: float | None = None,
) -> Result:
    """Forecast the next [forecast] horizon_trading_days sessions from the latest prepared series.

    Dates are real Tokyo Stock Exchange trading days, one row each, over holidays too. Two JSON shapes,
    one document: --format json (and --output FILE.json) prints the forecast document; --json prints
    the result envelope whose data is that same document plus "output" and "plot" (this run's files);
    with both, --json wins. Exit codes: 0 ok, 4 the endpoint answered with an error or something
    unreadable, 5 no endpoint / no prepared data, 6 batch job failed, 8 timeout.
    Example: nikkei-deepar predict --format csv --output forecast.csv
    """
    from nikkei_deepar.steps import predict as step

    return step.run(ctx, fmt=fmt, output=output, plot=plot, batch=batch, timeout=timeout)


@command("show", mutating=False, parent=config_app, deadline=deadlines.READ_ONLY)
def config_show(ctx: Context) -> Result:
    """Print the resolved configuration (file + environment + options).

    Example: nikkei-deepar config show --json
    """
    from nikkei_deepar.steps import configure

    return configure.show(ctx)


@command("validate", mutating=False, parent=config_app, deadline=deadlines.READ_ONLY)
def config_validate(ctx: Context) -> Result:
    """Check the configuration file; exit 2 with one line per problem.

    Example: nikkei-deepar config validate --config nikkei-deepar.toml
    """
    from nikkei_deepar.steps import configure

    return configure.validate(ctx)


@command("init", mutating=False, parent=config_app, reads_config=False, deadline=deadlines.READ_ONLY)
def config_init(
    ctx: Context,
    cli: typer.Context,
    config: Path | None,
    path: Annotated[
        Path | None, typer.Option("--path", hidden=True, help="Deprecated: use --config.")
    ] = None,
    bucket: Annotated[
        str | None,
        typer.Option(
            "--bucket", help="S3 bucket (needed for sagemaker without a terminal).", show_default=False
        ),
    ] = None,
    endpoint_name: Annotated[
        str | None,
        typer.Option("--endpoint-name", help="Endpoint name (default: {project}-{stage})."),
    ] = None,
    backend: Annotated[
        str,
        typer.Option(
            "--backend",
            metavar="sagemaker|local",
            help="Where DeepAR runs.",
            autocompletion=_complete_backend,
        ),
    ] = "sagemaker",
    role_name: Annotated[
        str | None,
        typer.Option(
            "--role-name",
            help="SageMaker execution role, used as it is (default: {project}-{stage}-sagemaker, made by "
            "provision).",
        ),
    ] = None,
    data_source: Annotated[
        str | None,
        typer.Option(
            "--data-source", metavar="FILE", help="Price file, URL, fred or stooq.", show_default=False
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Never ask; take values from options.")
    ] = False,
) -> Result:
    """Write a commented config file from config.example.toml; never replaces one without --force.

    The file is the one every other command reads: --config FILE, else $NIKKEI_DEEPAR_CONFIG, else
    ./nikkei-deepar.toml. On a terminal it asks for the region, the bucket (suggesting one named after
    your AWS account) and the endpoint name; otherwise, or with --no-input, they come from the options,
    and the sagemaker backend needs --bucket and --region (or AWS_REGION).
    Example: nikkei-deepar config init --no-input --bucket my-nikkei-bucket
    """
    from nikkei_deepar.config import CONFIG_ENV, DEFAULT_CONFIG_NAME
    from nikkei_deepar.steps import configure

    if path is not None:
        if config is not None:
            raise UsageError("config init: --path and --config both name the file: give only --config")
        ctx.reporter.warn("config init: --path is deprecated and will be removed: use --config FILE")
    target = path or config or Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_NAME)
    return configure.init(
        ctx,
        path=target,
        region=cli.params.get("region"),  # the --region option itself, not the current config's region
        profile=cli.params.get("profile"),
        bucket=bucket,
        endpoint_name=endpoint_name,
        backend=backend,
        role_name=role_name,
        data_source=data_source,
        force=force,
        ask=_asking(ctx, _ask) if ctx.interactive_stdin and not no_input else None,
    )


def _ask(question: str, default: str) -> str:
    """Prompt on the terminal (on stderr, so --json output stays clean)."""
    return str(typer.prompt(question, default=default, err=True))


@command("backtest", mutating=False, deadline=deadlines.BACKTEST)
def backtest(
    ctx: Context,
    windows: Annotated[
        int, typer.Option("--windows", "-n", min=1, help="How many windows of N trading days, at the end.")
    ] = 10,
    retrain: Annotated[
        bool,
        typer.Option(
            "--retrain/--no-retrain",
            help="Retrain DeepAR at every window's origin (slow), or train it once before the first window.",
        ),
    ] = False,
    models: Annotated[
        str,
        typer.Option(
            "--models",
            metavar="LIST",
            help="Comma-separated, from deepar, random-walk, "
            "seasonal-naive (random-walk,seasonal-naive: fast, needs no extra).",
            autocompletion=_complete_models,
        ),
    ] = "deepar,random-walk,seasonal-naive",
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="FILE.png",
            help="Draw the scores as bar charts (needs the 'plot' extra).",
            show_default=False,
        ),
    ] = None,
) -> Result:
    """Score DeepAR against the random walk and a seasonal naive on the last windows of the series.

    Rolling origin over the last N non-overlapping windows of [forecast] horizon_trading_days sessions
    of the latest prepared series: mean weighted quantile loss (SageMaker's definition), MASE, RMSE
    and 80% interval coverage per model. DeepAR always runs with the local engine (the [local] extra),
    whatever `backend` says: a SageMaker training job per window would cost money. Exit codes: 0 ok,
    2 missing extra, 3 series too short for the windows, 5 no prepared data.
    Example: nikkei-deepar backtest --windows 10 --plot backtest.png
    """
    from nikkei_deepar.steps import backtest as step

    return step.run(ctx, windows=windows, retrain=retrain, models=models, plot=plot)


@command("score", mutating=False, deadline=deadlines.READ_ONLY)
def score(
    ctx: Context,
    input_file: Annotated[
        Path | None,
        typer.Option(
            "--input",
            "-i",
            help="Score against this price file's closes (default: the latest prepared data).",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="Only forecasts whose origin is DATE or later.",
            show_default=False,
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="FILE.png",
            help="Draw each forecast's band against the closes that came, and the rolling 80% coverage "
            "(needs the 'plot' extra).",
            show_default=False,
        ),
    ] = None,
) -> Result:
    """Score the kept forecasts against the closes that have come since; read-only.

    Every forecast `predict` made is kept (as printed, with the random walk issued beside it). Per
    horizon step: how many were scored, wQL (GluonTS's mean_wQuantileLoss over the printed quantiles),
    80% coverage with a Wilson 95% interval, MASE, the same for the random walk, and wQL/RW (below 1:
    better than the random walk). Forecasts whose closes have not come are counted, not guessed.
    Exit codes: 0 (nothing to score included), 3 unreadable --input, 5 no prepared data,
    11 history written by a newer version.
    Example: nikkei-deepar score --since 2026-01-01 --plot score.png
    """
    from nikkei_deepar.steps import score as step

    return step.run(ctx, input_file=input_file, since=since, plot=plot)


@command("status", mutating=False, deadline=deadlines.READ_ONLY)
def status(
    ctx: Context,
    exit_code: Annotated[
        bool,
        typer.Option(
            "--exit-code",
            help="Exit 12 when there is drift, 0 when there is none (for cron, like terraform plan "
            "-detailed-exitcode).",
        ),
    ] = False,
) -> Result:
    """The ledger next to what AWS (or the local store) says now; read-only, takes no lock.

    Shows the last data version, the last job with its live status and metrics, the endpoint with its
    instance type and what it costs per hour and month (approximate on-demand prices, dated; [costs]
    overrides them), every resource the tool owns, and drift: in the ledger but gone, or tagged as
    the tool's but not in the ledger. Exit codes: 0 (drift included, unless --exit-code), 4 AWS could
    not be asked, 12 drift with --exit-code.
    Example: nikkei-deepar status --exit-code --quiet || echo "drift or error: $?"
    """
    from nikkei_deepar.steps import status as step

    return step.run(ctx, exit_code=exit_code)


@command("doctor", mutating=False, deadline=deadlines.READ_ONLY)
def doctor(ctx: Context) -> Result:
    """A preflight that spends nothing: credentials, region, config, bucket, role, PassRole, ledger.

    Each check prints ok / problem / warning and how to fix a problem. Exit code: 0 all ok, else the
    first problem's: 2 config, 3 unreadable ledger, 4 AWS/auth, 5 not created yet, 9 ledger locked.
    Example: nikkei-deepar doctor --json
    """
    from nikkei_deepar.steps import doctor as step

    return step.run(ctx)


@command("retrain", mutating=True, deadline=deadlines.RETRAIN)
def retrain(
    ctx: Context,
    input_file: Annotated[
        str | None,  # not Path: see prepare
        typer.Option(
            "--input",
            "-i",
            metavar="<path>",
            help="Price file to read (overrides [data] source).",
            show_default=False,
        ),
    ] = None,
    allow_stale: Annotated[
        bool,
        typer.Option("--allow-stale", help="If a download fails, go on with the previous copy (warns)."),
    ] = False,
    force_deploy: Annotated[
        bool, typer.Option("--force-deploy", help="Deploy the new model even if it scores worse.")
    ] = False,
    timeout: float | None = None,
    logs: Annotated[bool, typer.Option("--logs", help="Stream the training job's log to stderr.")] = False,
) -> Result:
    """Prepare, train, wait and deploy in one go, for cron; re-running resumes after a failure.

    The new model is deployed only if its test:mean_wQuantileLoss is no worse than the deployed
    model's ([retrain] max_wql_regression allows a margin; --force-deploy skips the check). A job on
    the same data and settings is reused, not paid for twice. Exit codes: the failing stage's (2, 3,
    4, 5, 6 failed, 7 stopped, 8 timeout, 9 locked, 130); 0 also when the gate keeps the current
    model (status "kept-current-model" in the --json summary).
    Example: nikkei-deepar retrain --json > retrain.json 2>> retrain.log
    """
    from nikkei_deepar.steps import retrain as step

    return step.run(
        ctx,
        input_file=input_file,
        allow_stale=allow_stale,
        force_deploy=force_deploy,
        timeout=timeout,
        logs=logs,
    )


@command("import", mutating=True)
def import_(
    ctx: Context,
    kind: Annotated[
        str,
        typer.Argument(
            metavar="KIND",
            help="bucket, role, endpoint, endpoint-config, model or schedule.",
            show_default=False,
        ),
    ],
    name: Annotated[str, typer.Argument(metavar="NAME", help="The resource's name.", show_default=False)],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Take over a resource of another workspace (it loses it).")
    ] = False,
) -> Result:
    """Take over an existing resource on purpose: tag it as this workspace's and record it in its state.

    From then on teardown may delete it (a bucket or role with --all). Nothing else about it changes.
    A resource of another nikkei-deepar workspace needs --yes. Exit codes: 0 imported (or already this
    workspace's), 2 another workspace's without --yes or a schedule that is not this endpoint's expiry,
    5 not found.
    Example: nikkei-deepar import role nikkei-deepar-sagemaker --yes
    """
    from nikkei_deepar.steps import import_resource as step

    return step.run(ctx, kind=kind, name=name, yes=yes)


@command("migrate", mutating=True, parent=state_app)
def state_migrate(
    ctx: Context,
    source: Annotated[
        Path | None,
        typer.Option(
            "--from",
            metavar="PATH",
            help="The old state.json (default: found beside the config).",
            show_default=False,
        ),
    ] = None,
) -> Result:
    """Move a ledger from before workspaces into this config's workspace state.

    Looks for .nikkei-deepar/state.json beside the config and $NIKKEI_DEEPAR_HOME/state.json; the local
    backend's folder moves with it. The old file is kept as state.json.migrated. Exit codes: 0 moved,
    2 the workspace already has a state, 3 the old ledger cannot be read, 5 none found.
    Example: nikkei-deepar state migrate --config prod.toml
    """
    from nikkei_deepar.steps import state as step

    return step.migrate(ctx, source=source)


@command("forget", mutating=True, parent=state_app)
def state_forget(
    ctx: Context,
    kind: Annotated[str, typer.Argument(metavar="KIND", help="The entry's kind (bucket, role, model, ...).")],
    name: Annotated[str, typer.Argument(metavar="NAME", help="The entry's name.")],
) -> Result:
    """Stop listing a resource in the state; nothing in AWS is touched (like terraform state rm).

    For an entry AWS says is not this workspace's (teardown and provision refuse it with exit 2).
    Exit codes: 0 forgotten, 5 the state lists no such live entry.
    Example: nikkei-deepar state forget bucket my-shared-bucket
    """
    from nikkei_deepar.steps import state as step

    return step.forget(ctx, kind=kind, name=name)


@command("show", mutating=False, parent=state_app, deadline=deadlines.READ_ONLY)
def state_show(ctx: Context) -> Result:
    """Where this workspace's state is, what it holds, and who holds its lock.

    Example: nikkei-deepar state show --json | jq .data.lock
    """
    from nikkei_deepar.steps import state as step

    return step.show(ctx)


@command("push", mutating=True, parent=state_app)
def state_push(
    ctx: Context,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a remote state that is already there.")
    ] = False,
) -> Result:
    """Move this workspace's local state file to [state] url, for every host to share.

    The local file is kept as state.json.pushed. Exit codes: 0 pushed, 2 no [state] url, 5 no local
    state, 10 a remote state is already there (--force replaces it).
    Example: nikkei-deepar state push --config prod.toml
    """
    from nikkei_deepar.steps import state as step

    return step.push(ctx, force=force)


@command("pull", mutating=True, parent=state_app)
def state_pull(
    ctx: Context,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a local state file that is already there.")
    ] = False,
) -> Result:
    """Copy the remote state ([state] url) into this workspace's local state file.

    To go back to a local state: pull, then remove [state] url from the config. Exit codes: 0 copied,
    2 no [state] url, 5 no remote state, 10 a local state is already there (--force replaces it).
    Example: nikkei-deepar state pull
    """
    from nikkei_deepar.steps import state as step

    return step.pull(ctx, force=force)


@command("unlock", mutating=False, parent=state_app, deadline=deadlines.READ_ONLY)
def state_unlock(
    ctx: Context,
    force: Annotated[bool, typer.Option("--force", help="Clear it without asking (scripts).")] = False,
) -> Result:
    """Clear the remote state's lease left by a host that died, after saying whose it is.

    A lease also expires by itself ([state] lease_seconds after its holder last renewed it). On a terminal
    it asks first; without one it needs --force. Exit codes: 0 cleared (or not locked), 2 no [state] url
    or not confirmed.
    Example: nikkei-deepar state unlock --force
    """
    from nikkei_deepar.steps import state as step

    return step.unlock(ctx, force=force, confirm=_confirm)


def main() -> None:
    """The console script. The cyclic garbage collector is paused while the command starts up (pydantic,
    the config's models, the ledger, the step's modules: objects that live as long as the process) and
    those objects are then frozen out of its sight (`_started`), as aws/session.py does for botocore's
    models: each collection meanwhile walked all of them again, about a tenth of a short command's CPU
    time. From the step's own work on it collects as usual, so a long command's memory is unaffected."""
    if gc.isenabled():
        gc.disable()
        _STARTING.append(True)
    app()


_STARTING: list[bool] = []


def _started() -> None:
    """Start-up is over (the context is built): freeze what it made and let the collector run again."""
    if _STARTING:
        _STARTING.clear()
        gc.freeze()
        gc.enable()


if __name__ == "__main__":  # pragma: no cover
    main()
