"""`doctor`'s vocabulary: one preflight check's outcome, and small constructors every backend uses.

A check is a read that reports ok / problem / warning / skipped, with how to fix a problem; its exit code
is the kind of the problem. Imports nothing backend-specific.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from nikkei_deepar.errors import ExitCode, NikkeiError

Status = Literal["ok", "problem", "warning", "skipped"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None
    exit_code: int = int(ExitCode.OK)
    code: str | None = None

    def to_data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix,
            "exit_code": self.exit_code,
            "code": self.code,
        }


def ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def problem(name: str, detail: str, *, fix: str | None, exit_code: ExitCode | int, code: str) -> Check:
    return Check(name, "problem", detail, fix, int(exit_code), code)


def from_error(name: str, exc: NikkeiError, *, fix: str | None = None) -> Check:
    return problem(name, exc.message, fix=fix or exc.hint, exit_code=exc.exit_code, code=exc.code)


def skipped(*names: str, why: str) -> list[Check]:
    return [Check(name, "skipped", f"not checked: {why}") for name in names]
