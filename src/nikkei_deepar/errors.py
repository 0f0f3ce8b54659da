"""Exit codes and the one exception family that carries them.

A leaf: imports nothing from the package. Every failure a user can cause or meet is raised as a
`NikkeiError` subclass with a one-line message (what, where) and a hint (what to do); the CLI turns it
into that line on stderr and the exit code below, never a traceback (unless --debug).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The documented exit codes; the same meaning in every command."""

    OK = 0
    INTERNAL = 1  # a bug: unexpected exception (rerun with --debug and report it)
    USAGE = 2  # bad option or config file, missing confirmation, missing optional extra
    DATA = 3  # a price file or prepared data that cannot be used
    AWS = 4  # credentials, permissions, throttling or a service error that outlasted retries
    NOT_FOUND = 5  # a resource, job or ledger entry that the command needs does not exist
    JOB_FAILED = 6  # training job / endpoint / transform ended Failed
    JOB_STOPPED = 7  # training job ended Stopped (never a success)
    TIMEOUT = 8  # --timeout reached while waiting
    LOCKED = 9  # the ledger lock (or the remote state's lease) is held by another process
    CONFLICT = 10  # the remote state kept changing under this command's writes: nothing was written
    VERSION = 11  # the ledger (local or remote) was written by a newer version of the tool
    DRIFT = 12  # `status --exit-code`: the ledger and what exists differ (2 is taken by usage errors)
    INTERRUPTED = 130  # Ctrl-C / SIGTERM (128 + SIGINT, as shells report it)


class NikkeiError(Exception):
    """Base of every expected failure. `code` is a stable machine-readable slug for --json."""

    exit_code: ExitCode = ExitCode.INTERNAL
    code: str = "error"

    def __init__(self, message: str, *, hint: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class UsageError(NikkeiError):
    exit_code = ExitCode.USAGE
    code = "usage"


class ConfigError(NikkeiError):
    """A config file that cannot be used. `problems` holds one `field: message` line each."""

    exit_code = ExitCode.USAGE
    code = "config"

    def __init__(
        self,
        message: str,
        *,
        problems: list[str] | None = None,
        hint: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, code=code)
        self.problems = problems or []


class DataError(NikkeiError):
    exit_code = ExitCode.DATA
    code = "data"


class ModelFileError(DataError):
    """A model archive whose torch-free weights cannot be served (missing, truncated, of another shape):
    the local endpoint answers as a model that failed to load, not as a bad request."""

    code = "model-weights"


class AwsError(NikkeiError):
    exit_code = ExitCode.AWS
    code = "aws"


class AccessDeniedError(AwsError):
    """AWS refused this caller (IAM): the resource may well exist; it cannot be read or changed by it."""

    code = "aws-access-denied"


class ProfileNotFoundError(AwsError):
    """The AWS profile named by --profile, AWS_PROFILE or [aws] profile is in no AWS config file."""

    code = "aws-profile"


class BucketForbiddenError(AwsError):
    """An S3 bucket that exists but answers 403: another account's, or this caller may not reach it."""

    code = "bucket-forbidden"


class NotFoundError(NikkeiError):
    exit_code = ExitCode.NOT_FOUND
    code = "not-found"


class JobRunningError(UsageError):
    """A training job on the same data and settings is still running (train refuses a twin)."""

    code = "job-running"


class JobFailedError(NikkeiError):
    exit_code = ExitCode.JOB_FAILED
    code = "job-failed"


class JobStoppedError(NikkeiError):
    exit_code = ExitCode.JOB_STOPPED
    code = "job-stopped"


class WaitTimeoutError(NikkeiError):
    exit_code = ExitCode.TIMEOUT
    code = "timeout"


class LockHeldError(NikkeiError):
    exit_code = ExitCode.LOCKED
    code = "locked"


class StateConflictError(NikkeiError):
    exit_code = ExitCode.CONFLICT
    code = "state-conflict"


class VersionError(NikkeiError):
    """A ledger (or a state object, or a history entry) written by a newer version of the tool."""

    exit_code = ExitCode.VERSION
    code = "ledger-version"


class InterruptedError_(NikkeiError):
    """Ctrl-C or SIGTERM; named with a trailing underscore to avoid the builtin InterruptedError."""

    exit_code = ExitCode.INTERRUPTED
    code = "interrupted"
