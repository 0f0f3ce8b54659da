"""`config show` and `config validate`: report the resolved settings (validation happens while loading)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nikkei_deepar.config import redacted
from nikkei_deepar.context import Context


@dataclass(frozen=True)
class ConfigResult:
    path: str | None
    origin: str
    settings: dict[str, Any]
    show_settings: bool

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "origin": self.origin, "valid": True}
        if self.show_settings:
            data["settings"] = self.settings
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
        if value and all(not isinstance(v, dict) for v in value.values()) or not value:
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
    path = str(ctx.loaded.path) if ctx.loaded.path else None
    return ConfigResult(path, ctx.loaded.origin, redacted(ctx.settings), show_settings=False)
