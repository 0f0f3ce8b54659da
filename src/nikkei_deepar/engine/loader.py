"""Loading the engine, and what runs around a training: the checks and settings that must not import it.

`load_engine` checks that the [local] extra is installed with `find_spec` (no import: gluonts and torch
take 5-10 s to import, and only the functions that train or predict through GluonTS import them). Used
by the local backend's jobs, by `backtest`, which always trains with this engine, and by
`engine.serving` for an archive that only GluonTS can serve.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import threading
from collections.abc import Iterator, Mapping
from types import ModuleType

from nikkei_deepar.errors import UsageError

BATCHES_ENV = "NIKKEI_DEEPAR_LOCAL_BATCHES"
"""Batches per epoch of a local training (GluonTS's default 50). Not a SageMaker hyperparameter:
SageMaker sizes an epoch itself. Meant for tests and quick trials (`NIKKEI_DEEPAR_LOCAL_BATCHES=2`)."""
DEFAULT_BATCHES = 50
_EXTRA_MODULES = ("gluonts", "torch", "lightning")


def batches_per_epoch(env: Mapping[str, str] | None = None) -> int:
    """`NIKKEI_DEEPAR_LOCAL_BATCHES` as a positive integer (default 50); UsageError when malformed."""
    raw = (os.environ if env is None else env).get(BATCHES_ENV, "").strip()
    if not raw:
        return DEFAULT_BATCHES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(
            f"{BATCHES_ENV}={raw!r} is not a positive whole number",
            hint=f"unset it (default {DEFAULT_BATCHES} batches per epoch) or set e.g. {BATCHES_ENV}=10",
        )
    return value


def load_engine() -> ModuleType:
    """The local engine, once the [local] extra is known to be installed (UsageError with the pip hint).

    Checks with `find_spec` (no import): the engine imports gluonts only when it trains or predicts.
    """
    from nikkei_deepar.engine import gluon as engine

    if any(importlib.util.find_spec(name) is None for name in _EXTRA_MODULES):
        raise UsageError(engine.EXTRA_MESSAGE, hint=engine.EXTRA_HINT)
    return engine


@contextlib.contextmanager
def interrupts_kept() -> Iterator[None]:
    """Around a Lightning training: Ctrl-C (and the CLI's SIGTERM) stay a KeyboardInterrupt.

    Lightning catches KeyboardInterrupt in its training loop, sets SIGINT to be ignored and calls
    sys.exit(1): the CLI would exit 1 instead of 130, and a second Ctrl-C would do nothing. Here the
    SystemExit becomes a KeyboardInterrupt again and the SIGINT handler is put back.
    """
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main else None
    try:
        yield
    except SystemExit as exc:
        raise KeyboardInterrupt from exc
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
