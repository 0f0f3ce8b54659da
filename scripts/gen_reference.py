"""Generate the command and config references in docs/reference.md and docs/reference.ja.md from the code.

    .venv/bin/python scripts/gen_reference.py          # rewrite the generated blocks
    .venv/bin/python scripts/gen_reference.py --check  # exit 1 if a reference is out of date (tests run this)

The command reference is each command's `--help`; the config reference is the pydantic model tree
(keys, defaults, allowed values and ranges). Both sit between `<!-- generated:NAME:start -->` and
`<!-- generated:NAME:end -->` markers, so the references cannot drift from the tool.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import typing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = [ROOT / "docs" / "reference.md", ROOT / "docs" / "reference.ja.md"]


def command_names() -> list[list[str]]:
    import typer.main

    from nikkei_deepar.cli import app

    root = typer.main.get_command(app)
    names: list[list[str]] = []
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        sub = getattr(cmd, "commands", None)
        if sub:
            names.extend([name, s] for s in sub)
        else:
            names.append([name])
    return names


def command_reference() -> str:
    from typer.testing import CliRunner

    from nikkei_deepar.cli import app

    runner = CliRunner()
    parts = []
    for words in command_names():
        result = runner.invoke(
            app, [*words, "--help"], env={"COLUMNS": "100", "TERM": "dumb"}, terminal_width=100
        )
        text = "\n".join(line.rstrip() for line in result.stdout.strip().splitlines())
        parts.append(f"#### `nikkei-deepar {' '.join(words)}`\n\n```text\n{text}\n```")
    return "\n\n".join(parts)


def _describe(annotation: Any, metadata: list[Any]) -> str:
    bits = []
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        bits.append(" / ".join(f"`{a}`" for a in args))
    elif origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _describe(inner[0], metadata)
    elif annotation in (int, float, str, bool):
        bits.append(annotation.__name__)
    elif origin in (list, dict):
        bits.append(origin.__name__)
    for m in metadata:
        for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            value = getattr(m, attr, None)
            if value is not None:
                bits.append(f"{sign} {value}")
    return ", ".join(bits)


def config_rows(model: Any = None, prefix: str = "") -> list[tuple[str, str, str, str]]:
    from pydantic import BaseModel

    from nikkei_deepar.config import Settings

    model = model or Settings
    rows: list[tuple[str, str, str, str]] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(config_rows(annotation, f"{key}."))
            continue
        default = field.get_default(call_default_factory=True)
        shown = "(unset)" if default is None else f"`{_toml(default)}`"
        rows.append((key, shown, _describe(annotation, list(field.metadata)), field.description or ""))
    return rows


def _toml(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def example_comments() -> dict[str, str]:
    """`dotted.key -> inline comment` from config.example.toml, the one place keys are explained."""
    comments: dict[str, str] = {}
    section = ""
    for raw in (ROOT / "config.example.toml").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        header = re.match(r"^#?\s*\[([\w.]+)\]\s*(?:#\s*(.*))?$", line)
        if header:
            section = header.group(1) + "."
            if header.group(2):
                comments[header.group(1)] = header.group(2).strip()
            continue
        entry = re.match(r"^#?\s*\"?([\w.-]+)\"?\s*=\s*.*?(?:\s#\s*(.*))?$", line)
        if entry and entry.group(2):
            comments.setdefault(section + entry.group(1), entry.group(2).strip())
    return comments


def config_reference() -> str:
    comments = example_comments()
    lines = ["| key | default | allowed | meaning |", "|---|---|---|---|"]
    for key, default, allowed, meaning in config_rows():
        text = comments.get(key) or meaning
        lines.append(f"| `{key}` | {default} | {allowed} | {text.replace('|', '/')} |")
    return "\n".join(lines)


BLOCKS = {"commands": command_reference, "config": config_reference}


def render(text: str) -> str:
    for name, make in BLOCKS.items():
        pattern = re.compile(
            rf"(<!-- generated:{name}:start -->).*?(<!-- generated:{name}:end -->)", flags=re.S
        )
        if pattern.search(text):
            body = make()
            text = pattern.sub(lambda m, body=body: f"{m.group(1)}\n{body}\n{m.group(2)}", text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("COLUMNS", "100")
    stale = []
    for path in REFERENCES:
        if not path.exists():
            continue
        old = path.read_text(encoding="utf-8")
        new = render(old)
        if new != old:
            stale.append(path.name)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    if args.check and stale:
        print(f"out of date: {', '.join(stale)}; run scripts/gen_reference.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
