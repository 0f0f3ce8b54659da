"""Fixtures of the hostile-input corpus (helpers live in kit.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local-backend project: nothing may reach AWS (an unroutable endpoint fails loudly)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nikkei-deepar.toml").write_text('backend = "local"\n', encoding="utf-8")
    return tmp_path
