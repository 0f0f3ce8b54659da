"""`config show`, `config validate` and `config init`.

`show` and `validate` report the resolved settings (validation happens while loading). `init` writes a
new commented config generated from config.example.toml's text, so the comments live in one place: the
chosen values replace the example's region, bucket, role, source, backend and endpoint-name lines. It
never prompts itself: the CLI passes an `ask(question, default)` callback on a terminal, None otherwise.
Its only network use is one optional STS call, on a terminal, to suggest a bucket named after the account.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from nikkei_deepar.config import (
    CONFIG_ENV,
    DEFAULT_CONFIG_NAME,
    DEFAULT_TAGS,
    Settings,
    default_endpoint_name,
    format_validation_error,
    load_config,
    redacted,
)
from nikkei_deepar.context import Context
from nikkei_deepar.errors import ConfigError, NikkeiError, UsageError
from nikkei_deepar.files import default_mode


@dataclass(frozen=True)
class ConfigResult:
    path: str | None
    origin: str
    settings: dict[str, Any]
    show_settings: bool
    warnings: tuple[str, ...] = ()

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "origin": self.origin, "valid": True}
        if self.show_settings:
            data["settings"] = self.settings
        else:
            data["warnings"] = list(self.warnings)
        return data

    def to_lines(self) -> list[str]:
        where = self.path or "no config file found: built-in defaults"
        lines = [f"# config: {where} (from {self.origin})"]
        if not self.show_settings:
            return [f"{where}: valid"]
        return lines + _toml_lines(self.settings)


def _toml_lines(tree: dict[str, Any], prefix: str = "") -> list[str]:
    import json

    scalars = [(k, v) for k, v in tree.items() if not isinstance(v, dict)]
    tables = [(k, v) for k, v in tree.items() if isinstance(v, dict)]
    lines = []
    if prefix and scalars:
        lines.append(f"\n[{prefix}]")
    for key, value in scalars:
        if value is None:
            lines.append(f"# {key} = (unset)")
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    for key, value in tables:
        sub = f"{prefix}.{key}" if prefix else key
        if (value and all(not isinstance(v, dict) for v in value.values())) or not value:
            lines.append(f"\n[{sub}]")
            for k, v in value.items():
                lines.append(f"{k} = {json.dumps(v)}" if v is not None else f"# {k} = (unset)")
        else:
            lines.extend(_toml_lines(value, sub))
    return lines


def show(ctx: Context) -> ConfigResult:
    path = str(ctx.loaded.path) if ctx.loaded.path else None
    return ConfigResult(path, ctx.loaded.origin, redacted(ctx.settings), show_settings=True)


def validate(ctx: Context) -> ConfigResult:
    """The file loads (pydantic), and every request the backend would send for it passes the service's
    model (SageMaker: botocore's, offline: nothing is sent). Warnings are valid but worth a look."""
    settings = ctx.settings
    path = str(ctx.loaded.path) if ctx.loaded.path else None
    warnings = settings.warnings()
    errors, more = ctx.backend.request_problems()
    warnings += more
    for line in warnings:
        ctx.reporter.warn(line)
    if errors:
        raise ConfigError(
            f"{path or 'configuration'}: {len(errors)} value{'s' if len(errors) != 1 else ''} AWS would "
            "refuse (checked offline against botocore's service model)",
            problems=errors,
            hint="fix the keys listed above; config.example.toml documents every key",
            code="request-shape",
        )
    return ConfigResult(
        path, ctx.loaded.origin, redacted(settings), show_settings=False, warnings=tuple(warnings)
    )


# -- config init ------------------------------------------------------------------------------------

EXAMPLE_NAME = "config.example.toml"
DEFAULT_REGION = "ap-northeast-1"
DEFAULT_ENDPOINT = default_endpoint_name(DEFAULT_TAGS)  # left commented out in the file when chosen
ASK_TRIES = 3

Ask = Callable[[str, str], str]
"""`ask(question, default) -> answer`: the CLI's terminal prompt."""
AccountLookup = Callable[[str, str | None], str]
"""`lookup(region, profile) -> account id`; raises NikkeiError when the credentials do not work."""

# The config keys `init` writes, and the option that sets each one.
FLAGS: dict[str, str] = {
    "backend": "--backend",
    "aws.region": "--region",
    "aws.profile": "--profile",
    "aws.bucket": "--bucket",
    "aws.role_name": "--role-name",
    "data.source": "--data-source",
    "endpoint.name": "--endpoint-name",
}


@dataclass(frozen=True)
class InitResult:
    path: str
    replaced: bool
    values: dict[str, str | None]  # dotted key -> the value in the written file (None: left unset)
    next_command: str

    def to_data(self) -> dict[str, Any]:
        return {"path": self.path, "replaced": self.replaced, "values": dict(self.values)}

    def to_lines(self) -> list[str]:
        width = max(len(key) for key in self.values)
        lines = [f"{'replaced' if self.replaced else 'wrote'} {self.path}"]
        for key, value in self.values.items():
            lines.append(f"  {key:<{width}} = {value if value is not None else '(unset)'}")
        lines.append(f"next: {self.next_command}")
        return lines


def init(
    ctx: Context,
    *,
    path: Path,
    region: str | None = None,
    bucket: str | None = None,
    endpoint_name: str | None = None,
    backend: str = "sagemaker",
    role_name: str | None = None,
    data_source: str | None = None,
    profile: str | None = None,
    force: bool = False,
    ask: Ask | None = None,
    env: Mapping[str, str] | None = None,
    account_id: AccountLookup | None = None,
) -> InitResult:
    """Write a commented config at `path` (validated before it lands; atomically; never over an existing
    file unless `force`). Values come from the arguments; those left None are asked through `ask`
    (region, bucket, endpoint name) or, without `ask`, defaulted or reported missing."""
    env = os.environ if env is None else env
    path = Path(path).expanduser().absolute()
    existed = _exists(path)
    if existed and not force:
        raise _exists_error(path)
    given = {
        "backend": backend,
        "aws.region": region,
        "aws.profile": profile,
        "aws.bucket": bucket,
        "aws.role_name": role_name,
        "endpoint.name": endpoint_name,
    }
    for dotted, value in given.items():  # bad options fail before any question is asked
        problem = None if value is None else _problem(dotted, value)
        if problem:
            raise UsageError(f"{FLAGS[dotted]} {value!r}: {problem}")

    values: dict[str, str | None] = {"backend": backend}
    if ask is None:
        values.update(_from_options(given, env))
    else:
        lookup = account_id or (lambda region, profile: _sts_account_id(ctx, region, profile))
        values.update(_by_asking(ctx, given, env, ask, lookup))
    values["aws.profile"] = profile
    values["aws.role_name"] = role_name
    values["data.source"] = _source_for(ctx, data_source, config_dir=path.parent)
    # Options not given keep the example's line (and its default); unset region/bucket are commented out.
    substitutions = {
        key: value
        for key, value in values.items()
        if value is not None or key in ("aws.region", "aws.bucket")
    }
    text = render_config(example_text(), substitutions)
    settings = _install(path, text, replace=force)
    written = {key: _get(settings, key) for key in FLAGS}
    return InitResult(
        path=str(path),
        replaced=existed,
        values=written,
        next_command=_next_command(path, ctx.backend_named(settings.backend).first_step, env=env),
    )


def _from_options(given: Mapping[str, str | None], env: Mapping[str, str]) -> dict[str, str | None]:
    """No terminal: options and the environment only; what the sagemaker backend needs must be there."""
    region = given["aws.region"] or _env_region(env)
    if given["backend"] == "sagemaker":
        missing = [FLAGS["aws.bucket"]] if not given["aws.bucket"] else []
        if not region:
            missing.append(FLAGS["aws.region"] + " (or AWS_REGION)")
        if missing:
            raise UsageError(
                f"missing {' and '.join(missing)}: the sagemaker backend needs "
                f"{'them' if len(missing) > 1 else 'it'} and there is no terminal to ask on",
                hint="pass the options (see `nikkei-deepar config init --help`), or --backend local",
            )
    return {
        "aws.region": region,
        "aws.bucket": given["aws.bucket"],
        "endpoint.name": given["endpoint.name"],  # None: the stage-aware default applies
    }


def _by_asking(
    ctx: Context,
    given: Mapping[str, str | None],
    env: Mapping[str, str],
    ask: Ask,
    account_id: AccountLookup,
) -> dict[str, str | None]:
    """On a terminal: ask for what no option gave. The local backend needs no region or bucket."""
    region = given["aws.region"]
    bucket = given["aws.bucket"]
    if given["backend"] == "sagemaker":
        if region is None:
            region = _ask_valid(ctx, ask, "aws.region", "AWS region", _env_region(env) or DEFAULT_REGION)
        if bucket is None:
            suggestion = _suggest_bucket(ctx, region, given["aws.profile"], account_id)
            question = "S3 bucket for data and models (provision creates it if missing)"
            bucket = _ask_valid(ctx, ask, "aws.bucket", question, suggestion)
    else:
        region = region or _env_region(env)
    endpoint = given["endpoint.name"] or _ask_valid(
        ctx, ask, "endpoint.name", "SageMaker endpoint name", DEFAULT_ENDPOINT
    )
    # the default stays a default: commented out, it follows the stage tag if that is changed later
    return {
        "aws.region": region,
        "aws.bucket": bucket,
        "endpoint.name": None if endpoint == DEFAULT_ENDPOINT else endpoint,
    }


def _ask_valid(ctx: Context, ask: Ask, dotted: str, question: str, default: str) -> str:
    for _ in range(ASK_TRIES):
        answer = ask(question, default).strip()
        problem = _problem(dotted, answer)
        if problem is None:
            return answer
        ctx.reporter.error(f"{answer!r}: {problem}")
    raise UsageError(
        f"no valid answer for {question!r} after {ASK_TRIES} tries", hint=f"pass {FLAGS[dotted]} instead"
    )


def _suggest_bucket(ctx: Context, region: str, profile: str | None, account_id: AccountLookup) -> str:
    """`nikkei-deepar-<account>-<region>`: bucket names are global, the account id makes it ours."""
    try:
        account = account_id(region, profile)
    except NikkeiError as exc:
        ctx.reporter.warn(
            f"suggesting a bucket name without the account id: could not read it ({exc.message}); "
            "bucket names are global, so pick one that is yours"
        )
        return f"nikkei-deepar-{region}"
    return f"nikkei-deepar-{account}-{region}"


def _sts_account_id(ctx: Context, region: str, profile: str | None) -> str:
    from nikkei_deepar.aws.services import connect

    # Two attempts only: this is a suggestion, not worth a long wait on a bad network.
    return connect(region=region, profile=profile, max_attempts=2, deadline=ctx.deadline).sts.account_id()


def _env_region(env: Mapping[str, str]) -> str | None:
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None


def _source_for(ctx: Context, source: str | None, *, config_dir: Path) -> str | None:
    """A local path as the config wants it: relative to the config's folder when inside it."""
    from nikkei_deepar.sources import is_remote

    if source is None or is_remote(source):
        return source
    where = Path(source).expanduser().absolute()
    if not where.is_file():
        ctx.reporter.warn(f"{source}: no such file yet; `prepare` needs it (or its --input option)")
    if where.is_relative_to(config_dir):
        return where.relative_to(config_dir).as_posix()
    return str(where)


def _problem(dotted: str, value: str) -> str | None:
    """What the config model says about one value, or None when it is fine."""
    tree: dict[str, Any] = {}
    node = tree
    *parents, leaf = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    try:
        Settings.model_validate(tree)
    except ValidationError as exc:
        return "; ".join(line.split(": ", 1)[-1] for line in format_validation_error(exc))
    return None


def _get(settings: Settings, dotted: str) -> str | None:
    node: Any = settings
    for key in dotted.split("."):
        node = getattr(node, key)
    return None if node is None else str(node)


def _next_command(path: Path, first: str, *, env: Mapping[str, str]) -> str:
    """The next step (`first`, the new backend's); with --config unless the file is where the tool looks."""
    import shlex

    found = Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else Path(DEFAULT_CONFIG_NAME)
    if found.expanduser().absolute() == path:
        return f"nikkei-deepar {first}"
    return f"nikkei-deepar {first} --config {shlex.quote(str(path))}"


# -- the template -------------------------------------------------------------------------------------

_TABLE = re.compile(r"^\[(?P<name>[^\]]+)\]")
_KEY = re.compile(
    r'^(?P<off>#\s*)?(?P<key>[A-Za-z_][\w-]*)(?P<eq>\s*=\s*)(?P<value>"(?:[^"\\]|\\.)*")(?P<rest>.*)$'
)


def example_text() -> str:
    """config.example.toml: packaged beside the code, or at the top of a source checkout."""
    from importlib import resources

    packaged = resources.files("nikkei_deepar").joinpath(EXAMPLE_NAME)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[3] / EXAMPLE_NAME
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8")
    raise NikkeiError(
        f"{EXAMPLE_NAME} is missing from this installation, so there is nothing to start the config from",
        hint=f"reinstall nikkei-deepar, or copy {EXAMPLE_NAME} from the project by hand",
        code="internal",
    )


def render_config(template: str, values: Mapping[str, str | None]) -> str:
    """The template with each `values` key's line (`table.key`, first match, commented or not) set to the
    value, or commented out for None; trailing comments stay in their column where they fit."""
    pending = dict(values)
    table = ""
    out = []
    for line in template.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        header = _TABLE.match(body)
        if header:
            table = header["name"].strip()
        found = _KEY.match(body)
        dotted = "" if found is None else f"{table}.{found['key']}" if table else found["key"]
        if found is not None and dotted in pending:
            value = pending.pop(dotted)
            literal = found["value"] if value is None else _toml_string(value)
            setting = ("# " if value is None else "") + f"{found['key']}{found['eq']}{literal}"
            rest = found["rest"]
            comment = rest.lstrip()
            if comment:
                column = found.start("rest") + len(rest) - len(comment)
                setting += " " * max(1, column - len(setting)) + comment
            line = setting + line[len(body) :]
        out.append(line)
    if pending:
        raise NikkeiError(
            f"{EXAMPLE_NAME} has no line for {', '.join(sorted(pending))}: cannot write the config",
            hint="a bug: report it",
            code="internal",
        )
    return "".join(out)


def _toml_string(value: str) -> str:
    import json

    # JSON's escapes are TOML's; DEL is the one control character JSON leaves raw.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


# -- writing ------------------------------------------------------------------------------------------


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _exists_error(path: Path) -> UsageError:
    return UsageError(
        f"{path}: already exists; not overwritten",
        hint="pass --force to replace it, or --path to write somewhere else",
        code="exists",
    )


def _install(path: Path, text: str, *, replace: bool) -> Settings:
    """Write `text` to a temporary file beside `path`, load it as the tool will, then move it into place:
    nothing invalid or half-written ever lands at `path`. Without `replace`, a file that appeared in the
    meantime is still not overwritten (a hard link, unlike a rename, refuses an existing target)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the config: {exc.strerror or exc}") from None
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        tmp.chmod(default_mode())  # mkstemp makes it 0600; a config is a file like any other: the umask
        settings = _validated(tmp, path)
        if replace:
            tmp.replace(path)
        else:
            _link_new(tmp, path)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the config: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return settings


def _link_new(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise _exists_error(path) from None
    except OSError:  # no hard links on this file system: check, then rename
        if _exists(path):
            raise _exists_error(path) from None
        tmp.replace(path)


def _validated(tmp: Path, path: Path) -> Settings:
    try:
        return load_config(tmp, env={}, cwd=tmp.parent).settings
    except ConfigError as exc:
        flagged = [_with_flag(problem) for problem in exc.problems]
        raise ConfigError(
            f"{path}: not written: the values given do not make a valid config",
            problems=flagged or [exc.message],
            hint="fix the options named above",
        ) from None


def _with_flag(problem: str) -> str:
    key, _, message = problem.partition(": ")
    return f"{key} ({FLAGS[key]}): {message}" if key in FLAGS else problem
