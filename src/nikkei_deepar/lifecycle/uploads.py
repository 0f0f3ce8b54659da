"""The prepared data's files in the backend's store: `prepare` stores them, `train` uploads what `prepare`
could only keep locally. Content-addressed: the same data always lands under the same key.
"""

from __future__ import annotations

from nikkei_deepar.context import Context
from nikkei_deepar.errors import NotFoundError

JSONL = "application/jsonlines"
CHANNEL_FILES = {"train": "train/train.json", "test": "test/test.json"}
SERIES_FILE = "series.json"


def data_key(sha256: str, name: str) -> str:
    """Relative to the backend's store (the SageMaker backend adds `[aws] prefix`). `train/` and `test/`
    are separate prefixes because a DeepAR channel is an S3 prefix."""
    return f"data/{sha256[:16]}/{name}"


def store_files(
    ctx: Context, sha256: str, files: dict[str, bytes]
) -> tuple[dict[str, str], list[str], list[str]]:
    """Store the data files through the backend under their content-addressed keys.

    Returns (uris, uploaded, already there). A file already stored with identical bytes is not sent
    again: the channels are named by their content, and series.json (which also holds the real
    trading dates) is compared too, so it stays current.
    """
    backend = ctx.backend
    uris: dict[str, str] = {}
    uploaded: list[str] = []
    already: list[str] = []
    for name, body in files.items():
        key = data_key(sha256, name)
        uri = backend.artifact_uri(key)
        uris[name] = uri
        try:
            same = backend.get_artifact(uri) == body
        except NotFoundError:
            same = False
        if same:
            already.append(uri)
            continue
        ctype = "application/json" if name == SERIES_FILE else JSONL
        backend.put_artifact(key, body, content_type=ctype)
        uploaded.append(uri)
        ctx.reporter.info(f"{backend.words.stored} {uri}")
    return uris, uploaded, already
