"""Run the installed `nikkei-deepar` as a shell script would, against the moto server.

`project_shell(moto_server, tmp_path, config)` writes `config` into a fresh project folder and returns
`run("train", "--json", expect=0)`: no terminal, the moto server as AWS_ENDPOINT_URL, fake credentials,
no AWS config files, the tool's home in the project folder. One copy for the end-to-end tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

EXE = Path(sys.executable).parent / "nikkei-deepar"
Run = Callable[..., subprocess.CompletedProcess[str]]


def moto_env(moto_server: str, tmp_path: Path, *, region: str, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment of an executable run against the moto server: this one without any AWS_ or
    NIKKEI_DEEPAR_ variable (nor those starting with `drop`), fake keys, no AWS config files, 2 attempts."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NIKKEI_DEEPAR_", *drop))},
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "2",
    }


def project_shell(moto_server: str, tmp_path: Path, config: str, *, region: str) -> Run:
    project = tmp_path / "project"
    project.mkdir()
    (project / "nikkei-deepar.toml").write_text(config, encoding="utf-8")
    env = {
        **moto_env(moto_server, tmp_path, region=region),
        "NIKKEI_DEEPAR_HOME": str(project / ".nikkei-deepar"),
    }

    def run(*args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(EXE), *args], cwd=project, env=env, capture_output=True, text=True, timeout=180, check=False
        )
        assert done.returncode == expect, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    return run
