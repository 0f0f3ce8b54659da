"""The local engine's `model.tar.gz`: writing it, and reading back only archives this tool wrote.

Owns the archive's layout (flat, regular files only, fixed timestamps, replaced atomically), its
marker `nikkei-deepar.json` (format, version, a SHA-256 per file, plus what the engine records:
hyperparameters, seed, lags, the engine that trained it (`engine`), and which one serves it
(`inference`: "numpy" when the torch-free weights of `engine.numpy_deepar` are in it, else
"gluonts", with `inference_why`; archives from before have neither)) and the checks made before
anything in it is loaded: marker format and version, digests, a size cap, and only gluonts/builtin
classes named in predictor.json and gluonts-config.json, because loading a predictor instantiates
the classes it names.

Must not import gluonts, torch or lightning, nor interpret the files beyond those class names: it
hands checked files (`read_archive`) or a checked folder (`extract_archive`) to the engine. Local
files only, no network.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from nikkei_deepar.errors import UsageError
from nikkei_deepar.files import default_mode

FORMAT = "nikkei-deepar/gluonts-deepar"
FORMAT_VERSION = 1
MARKER = "nikkei-deepar.json"
ARCHIVE = "model.tar.gz"

ARCHIVE_HINT = "train a model with the local backend: it loads only archives that it wrote itself"

_MAX_ARCHIVE_BYTES = 64 * 1024 * 1024  # a serialized predictor is ~100 KB
_SAFE_CLASSES = (
    "builtins.int",
    "builtins.float",
    "builtins.str",
    "builtins.bool",
    "numpy.float32",
    "numpy.float64",
    "numpy.int32",
    "numpy.int64",
)


def write_archive(model_dir: Path, out_dir: Path, *, metadata: Mapping[str, Any]) -> Path:
    """Add the marker to `model_dir`, then tar+gzip it atomically into `<out_dir>/model.tar.gz`.

    The marker is `metadata` plus the format, its version and each file's SHA-256 (the marker's own
    excepted). The archive is flat, with fixed timestamps: the same files give the same bytes.
    """
    marker = {
        **metadata,
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "files": {p.name: _sha256(p.read_bytes()) for p in sorted(model_dir.iterdir())},
    }
    (model_dir / MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")
    out_dir.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for path in sorted(model_dir.iterdir()):
            data = path.read_bytes()
            info = tarfile.TarInfo(path.name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    target = out_dir / ARCHIVE
    fd, tmp_name = tempfile.mkstemp(dir=out_dir, prefix=f".{ARCHIVE}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(buffer.getvalue())
        Path(tmp_name).chmod(default_mode())  # mkstemp creates 0600; the umask decides, as for any file
        Path(tmp_name).replace(target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def extract_archive(model_tar: Path, dest: Path) -> dict[str, Any]:
    """Unpack a flat archive of regular files into `dest`, check our marker; return the marker."""
    marker, files = read_archive(model_tar)
    for name, data in files.items():
        (dest / name).write_bytes(data)
    return marker


def read_archive(model_tar: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The marker and every file (name -> bytes, the marker's included) of an archive this tool wrote,
    checked as the module's docstring says; read into memory, nothing written."""

    def refuse(why: str) -> UsageError:
        return UsageError(
            f"{model_tar} is not a model archive this tool can load: {why}",
            hint=ARCHIVE_HINT,
            code="model-archive",
        )

    files: dict[str, bytes] = {}
    try:
        with tarfile.open(model_tar, mode="r:gz") as tar:
            total = 0
            for member in tar:
                name = member.name[2:] if member.name.startswith("./") else member.name
                if member.isdir() and name in ("", "."):
                    continue
                if not member.isfile() or not name or "/" in name or "\\" in name or name in (".", ".."):
                    raise refuse(f"unexpected member {member.name!r}")
                total += member.size
                if total > _MAX_ARCHIVE_BYTES:
                    raise refuse("it is too large")
                handle = tar.extractfile(member)
                assert handle is not None
                files[name] = handle.read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise refuse(f"unreadable ({exc})") from None
    if MARKER not in files:
        raise refuse(f"no {MARKER}")
    try:
        marker = json.loads(files[MARKER])
    except ValueError:
        raise refuse(f"{MARKER} is not JSON") from None
    if not isinstance(marker, dict) or marker.get("format") != FORMAT:
        raise refuse(f"{MARKER} does not name the format {FORMAT}")
    if marker.get("format_version") != FORMAT_VERSION:
        raise refuse(f"format version {marker.get('format_version')!r}, this tool reads {FORMAT_VERSION}")
    digests = marker.get("files")
    if not isinstance(digests, dict) or set(digests) != set(files) - {MARKER}:
        raise refuse("its files do not match the marker's list")
    for name, digest in digests.items():
        if _sha256(files[name]) != digest:
            raise refuse(f"{name} does not match its digest (modified or corrupted)")
    for name in ("gluonts-config.json", "predictor.json"):
        if name not in files:
            raise refuse(f"no {name}")
        try:
            classes = set(_class_names(json.loads(files[name])))
        except ValueError:
            raise refuse(f"{name} is not JSON") from None
        foreign = sorted(c for c in classes if not c.startswith("gluonts.") and c not in _SAFE_CLASSES)
        if foreign:
            raise refuse(f"{name} names classes outside gluonts: {', '.join(foreign)}")
    if not isinstance(marker.get("hyperparameters"), dict):
        raise refuse(f"{MARKER} has no hyperparameters")
    return marker, files


def _class_names(node: Any) -> Iterator[str]:
    """Every class a GluonTS serde document would locate: `class` values and gluonts-config's `type`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("class", "type") and isinstance(value, str):
                yield value
            else:
                yield from _class_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from _class_names(item)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
