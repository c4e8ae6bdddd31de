"""Finding the server binaries the harness runs, the way the dev/install-*.sh scripts do."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = ["resolve_binary"]


def resolve_binary(script: Path, env_var: str, error: type[Exception], *, timeout: float) -> str:
    """`$env_var` when set, else the path `script` prints (it may install or build the binary first)."""
    env_bin = os.environ.get(env_var)
    if env_bin:
        if not os.access(env_bin, os.X_OK):
            raise error(f"{env_var}={env_bin} is not executable")
        return env_bin
    try:
        proc = subprocess.run(
            [str(script)], capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise error(f"{script} failed: {exc}") from exc
    path = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    if proc.returncode != 0 or not path or not os.access(path, os.X_OK):
        raise error(f"{script} exited {proc.returncode} without an executable path:\n{proc.stdout}{proc.stderr}")
    return path
